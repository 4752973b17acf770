#!/usr/bin/env python
"""A closed-set glycan structure classifier (binned spectrum -> one of the training structures) beside the
nearest_spectrum look-up, on demo-glycan corpora (thin CLI over onmt_moe.runs.glycan_classifier).

    python scripts/glycan_classifier.py --corpus data/glycan_demo_library3_mt_struct \\
        [--corpus data/glycan_demo_mt_struct] [--results benchmark/results/glycan_classifier.csv]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package
from onmt_moe.runs.glycan_classifier import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
