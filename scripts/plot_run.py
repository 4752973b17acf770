#!/usr/bin/env python
"""Plot one or more run folders.

    python scripts/plot_run.py runs/<run> [runs/<other> ...] [--out DIR] [--window N]

Writes PNGs (loss/ppl, lr, throughput, aux losses, MoE occupancy and modality
heatmaps, balance metrics, grad norms) to DIR (default runs/<run>/plots/) and
prints their paths.  See onmt_moe/diagnostics/plots.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# this tool only reads CSVs: skip registering the plugin with OpenNMT (faster, no torch import)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from onmt_moe.diagnostics.plots import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
