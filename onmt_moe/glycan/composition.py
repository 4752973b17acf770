"""Monosaccharide compositions that explain a precursor mass (a GlycoMod-style mass search).

A glycomics analyst's first step with an MS/MS spectrum: list the compositions whose mass
(residues + modifications + H2O of the free reducing end) matches the precursor's neutral mass.
``composition_tokens`` turns the best few into source tokens (``CMP_Hex_5 CMP_HexNAc_4``,
candidates joined by ``CMP_OR``, ``CMP_NONE`` when nothing fits), so the model sees a
composition it can generalise over instead of a bare precursor bin.  It uses the precursor
m/z and charge only — nothing from the answer.

Search: every residue composition with at most ``max_residues`` residues is enumerated once
(sorted masses, numpy), and for every modification combination (sulfate, phosphate, methyl,
acetyl, each at most ``max_mods``) the matching residue masses are binary-searched.  Ranking of
the hits: fewest modifications and uncommon residues first, then fewest residues, then closest
mass.  Names follow glycowork's composition keys.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

H2O = 18.010565
RESIDUES: dict[str, float] = {  # monoisotopic residue (dehydrated) masses
    "Hex": 162.052824,
    "HexNAc": 203.079373,
    "dHex": 146.057909,
    "Neu5Ac": 291.095417,
    "Neu5Gc": 307.090331,
    "HexA": 176.032088,
    "Pen": 132.042259,
    "HexN": 161.068808,
    "Kdn": 250.068868,
}
MODIFICATIONS: dict[str, float] = {"S": 79.956815, "P": 79.966331, "Me": 14.01565, "Ac": 42.010565}
COMMON = ("Hex", "HexNAc", "dHex", "Neu5Ac")  # everything else costs one point in the ranking
ORDER = tuple(RESIDUES) + tuple(MODIFICATIONS)


class CompositionIndex:
    """All compositions up to ``max_residues`` residues and ``max_mods`` of each modification."""

    def __init__(self, max_residues: int = 12, max_mods: int = 3):
        if max_residues < 1 or max_mods < 0:
            raise ValueError("max_residues must be >= 1 and max_mods >= 0")
        names = list(RESIDUES)
        combos = [
            c for n in range(1, max_residues + 1) for c in itertools.combinations_with_replacement(range(len(names)), n)
        ]
        counts = np.zeros((len(combos), len(names)), dtype=np.int16)
        for i, c in enumerate(combos):
            for j in c:
                counts[i, j] += 1
        masses = counts @ np.array([RESIDUES[n] for n in names]) + H2O
        order = np.argsort(masses, kind="stable")
        self.res_counts, self.res_masses = counts[order], masses[order]
        mods = list(itertools.product(range(max_mods + 1), repeat=len(MODIFICATIONS)))
        self.mod_counts = np.array(mods, dtype=np.int16)
        self.mod_masses = self.mod_counts @ np.array(list(MODIFICATIONS.values()))
        rare = np.array([0 if n in COMMON else 1 for n in names])
        self.res_cost = self.res_counts @ rare
        self.max_residues, self.max_mods = max_residues, max_mods

    def candidates(
        self, neutral_mass: float, tol: float, limit: int | None = None
    ) -> list[tuple[dict[str, int], float]]:
        """[(composition, mass error)] within ``tol`` Da, best first (see module doc); the first
        ``limit`` only when given (the ranking is vectorised, so a wide ion-trap window is cheap)."""
        want = neutral_mass - self.mod_masses
        lo = np.searchsorted(self.res_masses, want - tol, side="left")
        hi = np.searchsorted(self.res_masses, want + tol, side="right")
        ms = np.nonzero(hi > lo)[0]
        if not len(ms):
            return []
        r = np.concatenate([np.arange(lo[m], hi[m]) for m in ms])
        m = np.repeat(ms, hi[ms] - lo[ms])
        err = self.res_masses[r] + self.mod_masses[m] - neutral_mass
        cost = self.res_cost[r] + self.mod_counts[m].sum(axis=1)
        n_res = self.res_counts[r].sum(axis=1)
        order = np.lexsort((m, r, np.abs(err), n_res, cost))[:limit]
        out = []
        for k in order:
            comp = {n: int(c) for n, c in zip(RESIDUES, self.res_counts[r[k]]) if c}
            comp.update({n: int(c) for n, c in zip(MODIFICATIONS, self.mod_counts[m[k]]) if c})
            out.append((comp, float(err[k])))
        return out


@lru_cache(maxsize=4)
def index(max_residues: int = 12, max_mods: int = 3) -> CompositionIndex:
    return CompositionIndex(max_residues, max_mods)


def composition_tokens(
    neutral_mass: float, tol: float = 0.01, max_candidates: int = 2, max_residues: int = 12, max_mods: int = 3
) -> list[str]:
    """``CMP_<name>_<n>`` tokens of the best ``max_candidates`` compositions, ``CMP_OR`` between."""
    cands = index(max_residues, max_mods).candidates(neutral_mass, tol, limit=max_candidates)
    if not cands:
        return ["CMP_NONE"]
    toks: list[str] = []
    for i, (comp, _) in enumerate(cands):
        if i:
            toks.append("CMP_OR")
        toks += [f"CMP_{n}_{comp[n]}" for n in ORDER if n in comp]
    return toks
