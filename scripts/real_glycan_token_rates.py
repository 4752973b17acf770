#!/usr/bin/env python
"""How often the glycan spectrum tokens fire on real vs simulated spectra, per tolerance.

    python scripts/real_glycan_token_rates.py --real data/real/GPST000017 data/real/GPST000350 \\
        --simulated data/glycan --tols 0.02,0.1,0.3,0.5

For each glycan parquet (a folder or file; real ones from scripts/read_real_glycan.py) and each
tolerance (used as loss_tol and diag_tol): the fraction of spectra with >= 1 NLP_ / NLD_ / DIAG_
token, and the same with every loss / diagnostic mass shifted by 2.5 Da (chance matches; see
onmt_moe/glycan/real/tolerance.py).  Also the m/z error of the peak nearest each diagnostic ion.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.dataset import read_dataset  # noqa: E402
from onmt_moe.glycan.real.tolerance import diagnostic_errors, firing_rate  # noqa: E402
from onmt_moe.glycan.spectra_tokens import SpecTokConfig  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", nargs="*", default=[])
    ap.add_argument("--simulated", nargs="*", default=[])
    ap.add_argument("--tols", default="0.02,0.1,0.3,0.5")
    ap.add_argument("--limit", type=int, default=2000, help="at most this many spectra per file")
    a = ap.parse_args(argv)
    import numpy as np

    out = {}
    for kind, paths in (("real", a.real), ("simulated", a.simulated)):
        for p in paths:
            rows = read_dataset(p).head(a.limit).to_dict("records")
            name = f"{kind}:{os.path.basename(os.path.normpath(p))}"
            res = {"n": len(rows)}
            for tol in (float(t) for t in a.tols.split(",")):
                cfg = SpecTokConfig(loss_tol=tol, diag_tol=tol)
                res[f"tol {tol}"] = {"rate": firing_rate(rows, cfg), "decoy": firing_rate(rows, cfg, decoy=True)}
            err = np.abs(diagnostic_errors(rows))
            if len(err):
                res["diagnostic_abs_error"] = {
                    "n": int(len(err)),
                    "median": round(float(np.median(err)), 3),
                    "p90": round(float(np.percentile(err, 90)), 3),
                }
            out[name] = res
            print(name, json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
