#!/usr/bin/env python
"""Parameter table (with MoE active parameters per token) and optional per-module
timing of an OpenNMT checkpoint.

    python scripts/analyze_model.py <checkpoint.pt> [--profile] [--csv params.csv]
                                    [--profile_csv timing.csv] [--depth 3] [--trust_checkpoint]

``import onmt_moe`` registers the plugin (encoder ``moe_transformer``, safe
globals) before the checkpoint is read (onmt_moe.runfolder.load_checkpoint: refused globals are an
error unless --trust_checkpoint).  See onmt_moe/diagnostics/analysis.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import onmt_moe  # noqa: F401,E402  (registers the plugin as soon as OpenNMT is imported)
from onmt_moe.diagnostics.analysis import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
