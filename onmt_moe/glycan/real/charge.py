"""Charge and composition of a real precursor: candidate compositions over z = 1-3.

The file gives the precursor m/z only.  For each charge z the neutral glycan mass is
z·(m/z + H+) (negative mode, [M-zH]z-) minus the reducing-end tag (masses.tag_mass); the
GlycoMod-style search of composition.py lists the compositions within z·tol of it.  Charges are
then ranked by evidence a real tool has:
  0. with ``known`` (the compositions of glycowork's glycans of the class, ``classlist.py``),
     a composition seen in that class before one that is not (a database search first, de novo
     compositions only after it);
  1. a fragment above the precursor m/z (≥ ``above_rel`` % of base, beyond the tolerance and the
     1- precursor's own isotope peaks at +1 and +2 m/z, which the isolation window lets through)
     is impossible for a 1- precursor, so it rules z = 1 out;
  2. the best composition's cost (composition.py: modifications and uncommon residues first),
  3. the lower charge (a wider neutral window at high z finds a chance composition more often),
  4. fewer residues, smaller mass error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...masses import C13_SPACING, PROTON
from ..composition import COMMON, index
from .masses import ISOTOPE_PEAKS_ABOVE, tag_mass


@dataclass
class Candidate:
    z: int
    composition: dict[str, int]
    mz_error: float  # (theoretical - observed) m/z
    glycan_mass: float  # neutral mass of the free glycan implied by the observed m/z and z
    cost: int  # uncommon residues + modifications (composition.py's ranking)

    @property
    def n_residues(self) -> int:
        return sum(v for k, v in self.composition.items() if k not in ("S", "P", "Me", "Ac"))


def neutral_glycan_mass(precursor_mz: float, z: int, reducing_end: str) -> float:
    """Neutral mass of the free glycan behind an [M-zH]z- ion of the derivatised one."""
    return z * (precursor_mz + PROTON) - tag_mass(reducing_end)


def composition_key(comp: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """Hashable form of a composition dict (glycowork names)."""
    return tuple(sorted((k, int(v)) for k, v in comp.items() if v))


def _cost(comp: dict[str, int]) -> int:
    return sum(v for k, v in comp.items() if k not in COMMON)


def infer(
    precursor_mz: float,
    peaks: Sequence[Sequence[float]],
    reducing_end: str,
    tol_mz: float,
    max_residues: int = 16,
    charges: Sequence[int] = (1, 2, 3),
    max_mods: int = 2,
    above_rel: float = 10.0,
    limit: int = 200,
    known: frozenset[tuple[tuple[str, int], ...]] | None = None,
) -> list[Candidate]:
    """All candidate (charge, composition) pairs, best first (module doc).  ``peaks``: base = 100."""
    idx = index(max_residues, max_mods)
    # a 1- precursor's M+1 / M+2 isotope peaks are not fragments above it (6 of 39 CHO spectra had one)
    isotopes_end = precursor_mz + ISOTOPE_PEAKS_ABOVE * C13_SPACING + tol_mz
    above = any(mz > isotopes_end and it >= above_rel for mz, it in peaks)
    out: list[Candidate] = []
    for z in charges:
        if z == 1 and above and len(charges) > 1:
            continue
        m = neutral_glycan_mass(precursor_mz, z, reducing_end)
        for comp, err in idx.candidates(m, tol_mz * z, limit=limit):
            out.append(Candidate(z=z, composition=comp, mz_error=err / z, glycan_mass=m, cost=_cost(comp)))
    known = known or frozenset()
    out.sort(key=lambda c: (composition_key(c.composition) not in known, c.cost, c.z, c.n_residues, abs(c.mz_error)))
    return out


def precursor_consistent(
    glycan: str | None, precursor_mz: float, reducing_end: str, tol_mz: float, charges: Sequence[int] = (1, 2, 3)
) -> bool:
    """Could ``glycan`` (IUPAC) be this precursor? Its [M-zH]z- with the reducing-end tag within
    ``tol_mz`` of the observed m/z at one of ``charges`` -- the check a user makes before trusting a
    candidate. The mass comes from glycowork's composition (the field's residue masses)."""
    if not glycan:
        return False
    from glycowork.motif.tokenization import composition_to_mass, glycan_to_composition

    try:
        free = float(composition_to_mass(glycan_to_composition(glycan)))
    except Exception:  # noqa: BLE001 -- glycowork raises many types on a string it cannot read
        return False
    return any(abs(neutral_glycan_mass(precursor_mz, z, reducing_end) - free) <= tol_mz * z for z in charges)


def mass_reranked(cands: Sequence[str | None], precursor_mz: float, reducing_end: str, tol_mz: float) -> list:
    """The n-best with precursor-consistent candidates first, beam order kept within each group."""
    ok = [precursor_consistent(c, precursor_mz, reducing_end, tol_mz) for c in cands]
    return [c for c, k in zip(cands, ok) if k] + [c for c, k in zip(cands, ok) if not k]
