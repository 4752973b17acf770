#!/usr/bin/env python
"""Total and active parameters of training configs, counted on the model OpenNMT builds (no training).

    python scripts/count_params.py configs/presets/*.yaml [--src_vocab 400 3500] [--tgt_vocab 60]

See onmt_moe/runs/param_count.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.param_count import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
