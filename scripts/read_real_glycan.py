#!/usr/bin/env python
"""Real glycan MS/MS (CandyCrunch-style .xlsx, or raw .mzML / .mzXML) -> glycan parquet rows.

    python scripts/read_real_glycan.py --spectra JC_141128PGMa.xlsx --out data/real/GPST000017 \\
        --reducing_end reduced --glycan_class O

Writes ``<out>/glycan.parquet`` (the glycan schema + rt, precursor_intensity, reducing_end,
source_file, charge_source, charge_candidates), ``<out>/rejects.tsv`` (file, row, reason, detail)
and ``<out>/summary.json``.  Charge: the file's when recorded, else inferred from candidate
compositions over z = 1-3 (onmt_moe/glycan/real/charge.py).  Exit 2 with one line on bad input.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.real import masses  # noqa: E402
from onmt_moe.glycan.real.spectra_io import SpectraFileError, read_spectra, write  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spectra", required=True, help=".xlsx (reducing_mass, peak_d, RT[, intensity]), .mzML or .mzXML")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument(
        "--reducing_end",
        default="reduced",
        choices=sorted(masses.REDUCING_END_FORMULA),
        help="reducing-end state of the measured glycans (a mass tag; default reduced)",
    )
    ap.add_argument(
        "--glycan_class",
        default="none",
        choices=("N", "O", "free", "lipid", "none"),
        help="rank compositions seen in glycowork's glycans of this class first (default none)",
    )
    ap.add_argument(
        "--precursor_tol",
        type=float,
        default=masses.ION_TRAP_PRECURSOR_TOL,
        help="m/z tolerance of the composition search (default %(default)s, ion trap)",
    )
    ap.add_argument("--max_residues", type=int, default=14, help="largest composition searched (default 14)")
    a = ap.parse_args(argv)
    if a.precursor_tol <= 0 or a.max_residues < 1:
        sys.exit("error: --precursor_tol must be > 0 and --max_residues >= 1")
    cls = None if a.glycan_class == "none" else a.glycan_class
    known = None
    if cls:
        from onmt_moe.glycan.real import classlist

        known = classlist.load(cls).known
    try:
        res = read_spectra(a.spectra, a.reducing_end, a.precursor_tol, a.max_residues, cls, known)
    except SpectraFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary = write(
        res,
        a.out,
        {
            "spectra": os.path.abspath(a.spectra),
            "reducing_end": a.reducing_end,
            "glycan_class": cls,
            "precursor_tol": a.precursor_tol,
            "max_residues": a.max_residues,
        },
    )
    print(
        f"{a.spectra}: {summary['rows']} spectra -> {a.out}/glycan.parquet; {summary['rejected']} rejected "
        f"{summary['reject_reasons'] or ''} (rejects.tsv); charges {summary['charge']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
