#!/usr/bin/env python
"""Re-rank a run folder's test n-best by simulated NMR, with weights fitted on the validation split.

    python scripts/rerank_run.py --run runs/NAME [--max_valid 500] [--valid_nbest FILE] [--verbose]

Writes forward_rank.json (the weights; onmt_moe_predict --rerank auto reads it) and scores_rerank.json
(top-1/5/10 for beam, formula and simulate) into the run folder. See onmt_moe/runs/rerank.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.rerank import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
