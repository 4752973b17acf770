#!/usr/bin/env python
"""Simulate a benchmark-v2-style dataset (1H/13C peaks, IR, MS/MS) offline.

  python scripts/simulate_dataset.py --out data/demo --n 6000 --seed 0 [--fast] [--workers N]
         [--source rdkit_nci,rdkit_wehi,...] [--max-heavy 20] [--chunk-size 1000]
  # benchmark-scale (MOSES molecules, benchmark-like filter; `make data-large`):
  python scripts/simulate_dataset.py --out data/large --n 200000 --seed 0 --fast --workers 2 \
         --source moses --tier benchmark --chunk-size 3200
  # faster-learning small tier (BRICS fragments of MOSES molecules, <= 13 heavy atoms):
  python scripts/simulate_dataset.py --out data/small --n 20000 --fast --source moses --tier small --brics

Writes <out>/aligned_chunk_{i}.parquet, <out>/rejects.csv (molecules that failed
simulation, with the reason), <out>/filtered_out.csv (inputs the filter dropped,
with the reason) and <out>/summary.json (counts, filter statistics by
reason, timings).  Output is
deterministic for a given molecule input and --seed: all noise comes from
numpy generators seeded with (seed, row index).  Thin CLI over onmt_moe.simulate.dataset.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from onmt_moe.simulate.dataset import main as simulate_main  # noqa: E402


def main(argv=None) -> int:
    """0, or 2 with one line on stderr (no molecule passes the filter, every one fails, a bad option)."""
    return simulate_main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
