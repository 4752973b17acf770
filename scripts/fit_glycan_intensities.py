#!/usr/bin/env python
"""Fit the glycan simulator's intensity rules on one annotated real set (onmt_moe/glycan/real/intensity_fit.py).

    python scripts/fit_glycan_intensities.py \\
        --spectra data/real_glycan/GPST000017/JC_141128PGMa.xlsx \\
        --annotations data/real_glycan/GPST000017/df_mz_GPST000017.csv --glycan_class O \\
        --out onmt_moe/glycan/data/intensity_rules.json

The packaged table was fitted on GPST000017 only; the other two shared sets judge it
(scripts/real_glycan_realism.py --intensity_rules fitted). Never fit on a set you evaluate on.
"""

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.real.intensity_fit import fit  # noqa: E402
from onmt_moe.glycan.real.masses import ION_TRAP_FRAGMENT_TOL, REDUCING_END_FORMULA  # noqa: E402
from onmt_moe.glycan.real.realism import add_annotated_set_options, annotated_pairs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_annotated_set_options(ap)
    ap.add_argument("--reducing_end", default="reduced", choices=sorted(REDUCING_END_FORMULA))
    ap.add_argument("--tol", type=float, default=ION_TRAP_FRAGMENT_TOL, help="fragment m/z tolerance")
    ap.add_argument("--min_count", type=int, default=5, help="rarer classes are pooled into 'other'")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    pairs, skipped = annotated_pairs(a.spectra, a.annotations, a.glycan_class)
    if not pairs:
        print(f"error: {a.annotations}: no annotation matched a spectrum and converted to WURCS", file=sys.stderr)
        return 2
    table = fit(pairs, a.reducing_end, a.tol, a.min_count, source=os.path.basename(a.spectra))
    table["not_simulated"] = skipped
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=1, sort_keys=True)
    top = sorted(table["classes"].items(), key=lambda kv: -kv[1]["mean"])[:8]
    print(f"{len(pairs)} spectra, {len(table['classes'])} classes -> {a.out}")
    print("strongest: " + ", ".join(f"{k} {v['mean']:.1f} %" for k, v in top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
