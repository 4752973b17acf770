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

from onmt_moe.glycan.fragments import (  # noqa: E402
    SimParams,
    add_real_spectrum_options,
    real_spectrum_knobs,
    simulate_spectrum,
)
from onmt_moe.glycan.real.realism import (  # noqa: E402
    add_annotated_set_options,
    annotated_charge,
    annotated_pairs,
    charge_agreement,
    paired,
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_annotated_set_options(ap)
    ap.add_argument("--out")
    add_real_spectrum_options(ap, sharpen=False)
    ap.add_argument("--sharpen", default="1", help="simulator: intensity exponent(s), comma list (one result each)")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    pairs, skipped = annotated_pairs(a.spectra, a.annotations, a.glycan_class)
    real = [pr.peaks for pr in pairs]
    charges = [annotated_charge(pr, a.reducing_end) for pr in pairs]
    res = {
        "spectra": a.spectra,
        "structures_not_simulated": skipped,
        # the reader infers z from the precursor alone; the annotation says which z it was
        "charge_inferred_by_reader": charge_agreement(charges, [pr.charge for pr in pairs], "reader"),
        "by_sharpen": {},
    }
    for sharpen in (float(x) for x in a.sharpen.split(",")):
        knobs = {k: v for k, v in real_spectrum_knobs(a).items() if k != "sharpen"}  # --sharpen is a list here
        p = SimParams(**knobs, sharpen=sharpen)
        sim = [simulate_spectrum(pr.glycan, pr.wurcs, p) for pr in pairs]
        res["by_sharpen"][str(sharpen)] = {
            "sim_params": p.to_dict(),
            **paired(real, [x["peaks"] for x in sim]),
            "charge": charge_agreement(charges, [x["charge"] for x in sim]),
        }
    print(json.dumps(res, indent=2))
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
