#!/usr/bin/env python
"""The decoding levers of finished SMILES runs, one at a time, on the validation split (thin CLI over
onmt_moe.runs.decode_levers): beam size, the formula-guided beam, and the beam / formula-first /
forward-simulation orders of each n-best.

    python scripts/decode_levers.py --run runs/bench_paper_values/NMR_moe_values_s1 [--run ...] \
        [--n 600] [--results benchmark/results/decode_levers.csv]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.decode_levers import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
