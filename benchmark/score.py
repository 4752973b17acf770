#!/usr/bin/env python
"""Score an n-best prediction file against its targets (thin CLI over onmt_moe.evaluation.scoring):
SMILES by default, WURCS glycans with --kind wurcs, token spectra with --kind spectrum.

    python benchmark/score.py --pred pred.txt --tgt tgt-test.txt --n_best 10 \
        [--src src-test.txt] [--out scores.json] [--ranks ranks.csv] \
        [--ignore_stereo] [--dedup] [--valid_only] [--kind smiles|wurcs|spectrum]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Scoring needs neither torch nor OpenNMT: skip the plugin's registration on import.

from onmt_moe.evaluation.scoring import ScoringError, format_report, score_files  # noqa: E402,F401


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pred", required=True, help="n-best file (N lines per source, optional '\\t<score>')")
    ap.add_argument("--tgt", required=True, help="targets, one space-tokenised SMILES per line")
    ap.add_argument("--n_best", type=int, required=True)
    ap.add_argument("--src", help="sources; enables formula-consistent top-k")
    ap.add_argument("--out", help="write the result JSON here")
    ap.add_argument("--ranks", help="write per-example ranks CSV here")
    ap.add_argument("--ignore_stereo", action="store_true", help="compare without stereo (isomericSmiles=False)")
    ap.add_argument("--dedup", action="store_true", help="view: drop duplicate valid candidates before ranking")
    ap.add_argument("--valid_only", action="store_true", help="view: drop invalid candidates before ranking")
    ap.add_argument(
        "--kind",
        choices=["smiles", "wurcs", "spectrum", "text"],
        default="smiles",
        help="smiles (molecules), wurcs (glycans, graph identity), spectrum (--pred_spectra corpora), "
        "text (glycan descriptions: BLEU, chrF, field accuracy)",
    )
    args = ap.parse_args(argv)
    if args.dedup and args.valid_only:
        view = "dedup_valid_only"
    elif args.dedup:
        view = "dedup"
    elif args.valid_only:
        view = "valid_only"
    else:
        view = "benchmark"
    try:
        res = score_files(
            args.pred,
            args.tgt,
            args.n_best,
            src_path=args.src,
            out_json=args.out,
            ranks_csv=args.ranks,
            ignore_stereo=args.ignore_stereo,
            view=view,
            kind=args.kind,
        )
    except (ScoringError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(format_report(res), flush=True)
    except BrokenPipeError:  # `score.py … | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
