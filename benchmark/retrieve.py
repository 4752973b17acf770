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

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a start_training run folder (newest readable checkpoint, its data_dir)")
    ap.add_argument("--model", help="checkpoint (instead of --run)")
    ap.add_argument("--data", help="multi-task corpus data folder (with struct/src-test.txt …)")
    ap.add_argument("--out", help="result JSON (default <run>/retrieval.json with --run)")
    ap.add_argument("--max_candidates", type=int, default=50, help="candidates per query for the likelihood ranking")
    ap.add_argument("--no_likelihood", action="store_true", help="embedding retrieval only")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    from onmt_moe.runfolder.layout import RunFolderError, read_run_json
    from onmt_moe.runs import retrieval
    from onmt_moe.runs.runner import latest_good_checkpoint

    model, data, out = a.model, a.data, a.out
    if a.run:
        try:
            info = read_run_json(a.run)  # a start_training run folder
        except RunFolderError as e:
            sys.exit(f"error: {e}")
        data = data or info.get("data_dir")
        model = model or latest_good_checkpoint(a.run)
        out = out or os.path.join(a.run, "retrieval.json")
    if not model or not data:
        sys.exit("error: give --run, or --model and --data")
    if not os.path.exists(os.path.join(data, "struct", "src-test.txt")):
        sys.exit(f"error: {data}/struct/src-test.txt not found (a generate_glycan_input.py --multitask corpus)")
    try:
        res = retrieval.run(model, data, out or "", a.max_candidates, a.seed, likelihood=not a.no_likelihood)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
