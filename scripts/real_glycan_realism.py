#!/usr/bin/env python
"""Paired realism statistics: real annotated spectra vs our simulator on the same structures.

    python scripts/real_glycan_realism.py --spectra JC_141128PGMa.xlsx --annotations df_mz_GPST000017.csv \\
        --glycan_class O [--out realism.json]

Matches annotations to spectra (onmt_moe/glycan/real/annotations.py), converts each annotated
structure strictly to WURCS (ambiguous ones cannot be simulated and are counted), simulates it
(onmt_moe/glycan/fragments.py, default SimParams) and prints onmt_moe/glycan/real/realism.paired.
"""

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.dataset import ConversionError, iupac_to_wurcs  # noqa: E402
from onmt_moe.glycan.fragments import SimParams, simulate_spectrum  # noqa: E402
from onmt_moe.glycan.real import classlist  # noqa: E402
from onmt_moe.glycan.real.annotations import match, read_annotations  # noqa: E402
from onmt_moe.glycan.real.realism import paired  # noqa: E402
from onmt_moe.glycan.real.spectra_io import read_spectra  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spectra", required=True)
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--glycan_class", required=True, choices=("N", "O", "free", "lipid"))
    ap.add_argument("--out")
    ap.add_argument(
        "--reducing_end", default="free", help="simulator: reducing-end tag (default free = the old simulator)"
    )
    ap.add_argument("--mz_sigma", type=float, default=0.0, help="simulator: Gaussian m/z error, Da")
    ap.add_argument("--sharpen", default="1", help="simulator: intensity exponent(s), comma list (one result each)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    anns = read_annotations(a.annotations, a.spectra)
    read = read_spectra(a.spectra, glycan_class=a.glycan_class, known=classlist.load(a.glycan_class).known)
    pairs = match(anns, [(r["precursor_mz"], r["rt"], -r["charge"]) for r in read.rows])
    real, structures, skipped = [], [], {}
    for i, j in pairs:
        g = anns[i].glycan
        if not g:
            continue
        try:
            w, _, glycan = iupac_to_wurcs(g)
        except ConversionError as e:
            skipped[e.reason] = skipped.get(e.reason, 0) + 1
            continue
        real.append(read.rows[j]["peaks"])
        structures.append((glycan, w))
    res = {"spectra": a.spectra, "structures_not_simulated": skipped, "by_sharpen": {}}
    for sharpen in (float(x) for x in a.sharpen.split(",")):
        p = SimParams(reducing_end=a.reducing_end, mz_sigma=a.mz_sigma, sharpen=sharpen)
        sim = [simulate_spectrum(g, w, p)["peaks"] for g, w in structures]
        res["by_sharpen"][str(sharpen)] = {"sim_params": p.to_dict(), **paired(real, sim)}
    print(json.dumps(res, indent=2))
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
