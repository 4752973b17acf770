"""Reducing-end mass tags and the tolerances of an ion trap (defaults measured on the shared sets).

A glycan's neutral mass in composition.py is residues + H2O (free reducing end).  A derivatised
reducing end adds a tag: reduction to the alditol (NaBH4) adds H2; reductive amination with a
label L (2-AB, 2-AA, procainamide) adds L - H2O + H2.  ``tag_mass(name)`` is the one definition
used by the reader, the charge/composition search and the spectrum tokens.
"""

from __future__ import annotations

from functools import cache

# net formula added to the free (reducing-end H2O included) glycan
REDUCING_END_FORMULA: dict[str, str] = {
    "free": "",
    "reduced": "H2",  # alditol
    "2AB": "C7H8N2",  # 2-aminobenzamide C7H8N2O, - H2O + H2
    "2AA": "C7H7NO",  # 2-aminobenzoic acid C7H7NO2, - H2O + H2
    "ProA": "C13H21N3",  # procainamide C13H21N3O, - H2O + H2
}

# Ion-trap defaults, chosen from the three shared sets (docs/glycan.md, "Real spectra"):
#  - precursor m/z error of annotated peaks: median 0.12, p95 0.2-0.6 Da -> composition search
#    within 0.5 m/z (times z on the neutral mass);
#  - fragments: peak nearest each diagnostic ion |error| median 0.10-0.11 Da; at 0.3 the NLP_/DIAG_
#    tokens fire on 29-54 % / 28-69 % of real spectra against 7-13 % / 6-23 % by chance (decoy masses
#    shifted 2.5 Da); at 0.5 DIAG_ is at chance level; at the simulator's 0.02 NLP_ fires on 4-11 %.
ION_TRAP_PRECURSOR_TOL = 0.5
ION_TRAP_FRAGMENT_TOL = 0.3
MATCH_MZ_TOL = 0.5  # annotation <-> spectrum matching (CandyCrunch's tests)
# a 1- precursor's isotope peaks sit at +1.003 and +2.007 m/z (onmt_moe.masses.C13_SPACING), inside an ion trap's
# isolation window, so they show up in its MS/MS spectrum above the precursor m/z without being fragments
ISOTOPE_PEAKS_ABOVE = 2
MATCH_RT_TOL = 1.0  # minutes


@cache
def tag_mass(name: str) -> float:
    """Monoisotopic mass the reducing-end state adds to the free glycan (pyteomics formula mass)."""
    if name not in REDUCING_END_FORMULA:
        raise ValueError(f"unknown reducing end {name!r} (known: {', '.join(REDUCING_END_FORMULA)})")
    formula = REDUCING_END_FORMULA[name]
    if not formula:
        return 0.0
    from pyteomics import mass

    return float(mass.calculate_mass(formula=formula))
