#!/usr/bin/env python
"""`make bench-quality`: the quick corner of the paper table — dense vs MoE, NMR vs NMR+IR+MS.

Same machinery as `make bench-paper` (onmt_moe.runs.paper_table); writes runs/bench_quality/quality_table.{csv,md,png}.

    python scripts/bench_quality.py [--steps 2000] [--data data/demo] [--set key=value ...]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_paper  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULTS = [
    "--inputs",
    "NMR,NMR+IR+MS",
    "--models",
    "dense,moe",
    "--out",
    os.path.join(ROOT, "runs", "bench_quality"),
    "--results",
    os.path.join(ROOT, "runs", "bench_quality", "quality_table.csv"),
]

if __name__ == "__main__":
    sys.exit(bench_paper.main(DEFAULTS + sys.argv[1:]))
