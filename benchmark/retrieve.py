#!/usr/bin/env python
"""Cross-modal retrieval with a trained multi-task glycan model (thin CLI over onmt_moe.runs.retrieval):
recall@1/5/10 and MRR for spectrum->structure, structure->spectrum and text->structure (cosine of
mean-pooled single-segment encodings), and closed-set identification by the model's own
log-likelihood (all test structures; same-composition candidates as the hard case).

    python benchmark/retrieve.py --model runs/<run>/model_step_N.pt --data data/glycan_mt_corpus/data \
        [--out retrieval.json] [--max_candidates 50] [--no_likelihood]
    python benchmark/retrieve.py --run runs/<run>   # newest checkpoint; data_dir from run.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    """Thin CLI over onmt_moe.runs.retrieval.main (imported on the call: it loads torch); a bad input exits
    with one line."""
    from onmt_moe.runs.retrieval import main as retrieve_main

    return retrieve_main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
