#!/usr/bin/env python
"""The spectrum simulator against measured spectra of the same molecules (thin CLI over
onmt_moe.runs.simulator_realism): IR (both styles) against NIST gas-phase spectra, MS/MS against
MassBank, the fast NMR estimate against literature shifts. A part whose input is absent is skipped
with a line (its rows in an existing table are kept).

    python scripts/simulator_realism.py --ir_dir jcamp/data/infrared_spectra \
        [--msms data/real_msms/real_msms.mgf] [--nmr data/real_nmr/literature.tsv] \
        [--out benchmark/results/simulator_realism.csv]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.predict import InputError  # noqa: E402
from onmt_moe.runs.simulator_realism import rejects_path, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--msms", default=os.path.join(ROOT, "data", "real_msms", "real_msms.mgf"))
    ap.add_argument("--ir_dir", default="", help="jcamp's data/infrared_spectra folder (see data/real_ir/README.md)")
    ap.add_argument("--ir_structures", default=os.path.join(ROOT, "data", "real_ir", "nist_ir_structures.tsv"))
    ap.add_argument("--nmr", default=os.path.join(ROOT, "data", "real_nmr", "literature.tsv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmark", "results", "simulator_realism.csv"))
    a = ap.parse_args(argv)
    try:
        rows, rejects = run(a.msms, a.ir_dir, a.ir_structures, a.nmr, a.out)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in rows:
        print(
            f"{r['modality']:>8} {r['variant']:<10} n {r['n']:>4} (skipped {r['n_skipped']:>3})  "
            f"median {float(r['median']):.3f}  [{float(r['q25']):.3f}, {float(r['q75']):.3f}]  vs {r['reference']}"
        )
    print(f"{len(rows)} rows -> {a.out}; {len(rejects.items)} left out -> {rejects_path(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
