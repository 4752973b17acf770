#!/usr/bin/env python
"""Score a trained SMILES model on measured NMR spectra (``make bench-real``).

    python benchmark/evaluate_real.py --model runs/model_real --data data/real_nmr/literature.tsv \\
        --out benchmark/results --name sim_only

Every row goes through ``onmt_moe_predict --batch`` as typed in the file; see
``onmt_moe/runs/real_spectra.py`` for the splits, decodings and the table it writes.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from onmt_moe.runs import real_spectra  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a run folder or model_step_N.pt")
    ap.add_argument("--data", default="data/real_nmr/literature.tsv", help="TSV of measured spectra")
    ap.add_argument("--out", default="benchmark/results", help="folder for real_spectra.{csv,md}")
    ap.add_argument("--name", default=None, help="the model's name in the table (default: its folder)")
    ap.add_argument("--n_best", type=int, default=10)
    ap.add_argument("--beam_size", type=int, default=10)
    ap.add_argument("--limit", type=int, default=None, help="score only the first N usable rows")
    ap.add_argument(
        "--formula_beam",
        action="store_true",
        help="decode with the formula-guided beam (onmt_moe_predict --formula_beam); rows 'formula_beam+…'",
    )
    ap.add_argument(
        "--work", default=None, help="the predictor's batch and ranked files (default runs/bench_real/NAME)"
    )
    a = ap.parse_args(argv)
    name = a.name or os.path.basename(os.path.normpath(a.model if os.path.isdir(a.model) else os.path.dirname(a.model)))
    try:
        work = a.work or os.path.join("runs", "bench_real", name)
        res = real_spectra.run(a.model, a.data, a.out, name, a.n_best, a.beam_size, a.limit, work, a.formula_beam)
    except real_spectra.RealDataError as e:
        print(f"evaluate_real: error: {e}", file=sys.stderr)
        return 2
    print(open(os.path.join(a.out, "real_spectra.md"), encoding="utf-8").read())
    print(f"{res['rows']} rows scored, {res['rejects']} rejected (listed in {a.out}/real_spectra.rejects.tsv)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
