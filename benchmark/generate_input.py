#!/usr/bin/env python
"""Spectra -> SMILES training files (thin CLI over onmt_moe.data.pipeline.generate).

Example::

    python benchmark/generate_input.py --input data/demo --out_dir data/demo_tagged \
        --h_nmr --c_nmr --ir --pos_msms --neg_msms --formula

``--format benchmark`` reproduces the official preprocessing byte for byte;
``--format tagged`` (default) wraps modalities in <NAME> … </NAME> segments.
Run with ``--help`` for all flags.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onmt_moe.data.pipeline import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
