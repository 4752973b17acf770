#!/usr/bin/env python
"""Run CandyCrunch (the field's reference tool) on a spectra file; write its predictions as CSV.

Runs in CandyCrunch's own environment, never the project's venv (docs/glycan.md, "CandyCrunch
beside ours", says how /work/cc_venv was made):

    OMP_NUM_THREADS=1 /work/cc_venv/bin/python scripts/run_candycrunch.py \\
        --spectra JC_200217P1N_200218002345.xlsx --glycan_class N --out cc_GPST000350.csv

Output columns: mz, RT, charge, predictions (JSON list of IUPAC, best first, at most 5).
Score them with benchmark/evaluate_real_glycan.py --candycrunch cc_GPST000350.csv.
"""

import argparse
import json
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spectra", required=True)
    ap.add_argument("--glycan_class", required=True, choices=("N", "O", "free", "lipid"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    import csv

    from candycrunch.prediction import wrap_inference  # only in CandyCrunch's environment

    t0 = time.time()
    df = wrap_inference(a.spectra, a.glycan_class).reset_index()
    mz_col = "m/z" if "m/z" in df.columns else df.columns[0]
    with open(a.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["mz", "RT", "charge", "predictions"])
        for r in df.to_dict("records"):
            preds = [p[0] for p in (r.get("predictions") or [])]
            w.writerow([r[mz_col], r["RT"], r["charge"], json.dumps(preds)])
    print(f"{a.spectra}: {len(df)} predicted peaks in {time.time() - t0:.0f} s -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
