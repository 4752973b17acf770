"""Crude rule-based ESI-MS/MS spectra ([M+H]+ and [M-H]-, 10/20/40 eV).

Fragments come from breaking one acyclic single bond between heavy atoms, or
two bonds of the same ring (ring opening, e.g. retro-Diels-Alder-like), plus
common neutral losses (H2O, NH3, CO, CO2, HCl, HF, CH3OH) from the precursor
and, at 40 eV, from large fragment ions.

Ion conventions (piece P = the atoms of one side with the H they carried in the
precursor; no H is added to the broken bond):
  positive  P+          m(P) - m_e               (acylium, benzylic/tertiary cation, ...)
            [P+H+H]+    m(P) + m_H + m_p         (H transferred to P, then protonated)
  negative  P-          m(P) + m_e               (phenoxide, carboxylate-like, amide anion, ...)
  precursor [M+H]+ = M + 1.007276, [M-H]- = M - 1.007276

Intensities: a heuristic stability weight per ion (charge site, bond type)
times an energy window over ion size s = m/z / precursor m/z that moves to
smaller ions as the collision energy goes 10 -> 20 -> 40 eV, plus seeded
log-normal noise. Base peak scaled to 100, ascending m/z, m/z rounded to 5
decimals and intensity to 2 (like the CFM-ID columns).  Never empty: the
precursor is always a candidate.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from rdkit import Chem

M_H = 1.00782503223
M_E = 0.00054857990946
M_P = M_H - M_E  # 1.00727646...
ENERGIES = (10, 20, 40)

# energy -> (centre of size window, width, precursor weight, min relative intensity %, max peaks)
ENERGY_MODEL = {
    10: (0.95, 0.18, 3.0, 8.0, 5),
    20: (0.60, 0.25, 0.5, 4.0, 14),
    40: (0.30, 0.22, 0.03, 2.0, 28),
}

NEUTRAL_LOSSES = {
    "H2O": 18.010565, "NH3": 17.026549, "CO": 27.994915, "CO2": 43.989829,
    "HCl": 35.976678, "HF": 20.006229, "CH3OH": 32.026215, "C2H4": 28.031300,
}


def _atom_mass(atom) -> float:
    pt = Chem.GetPeriodicTable()
    return pt.GetMostCommonIsotopeMass(atom.GetSymbol()) + atom.GetTotalNumHs() * M_H


def _components(n, adj, removed):
    comp = [-1] * n
    k = 0
    for s in range(n):
        if comp[s] >= 0:
            continue
        stack = [s]
        comp[s] = k
        while stack:
            u = stack.pop()
            for v in adj[u]:
                if comp[v] < 0 and frozenset((u, v)) not in removed:
                    comp[v] = k
                    stack.append(v)
        k += 1
    return comp, k


def _has_double_o(atom):
    return any(b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(atom).GetSymbol() == "O"
               for b in atom.GetBonds())


def _cation_stability(mol, a) -> float:
    """How well the cut atom a carries a positive charge."""
    s = a.GetSymbol()
    if s != "C":
        return 0.15
    if _has_double_o(a):
        return 1.0  # acylium
    if a.GetIsAromatic():
        return 0.1
    nbs = a.GetNeighbors()
    if any(n.GetIsAromatic() or n.GetHybridization() == Chem.HybridizationType.SP2 for n in nbs):
        return 0.8  # benzylic / allylic
    if any(n.GetSymbol() in ("N", "O", "S") for n in nbs):
        return 0.85  # iminium / oxonium stabilised
    deg = a.GetDegree()  # degree in parent, one bond is now cut
    return {1: 0.1, 2: 0.25, 3: 0.55, 4: 0.7}.get(deg, 0.3)


def _proton_affinity(mol, atoms) -> float:
    """How well a neutral piece keeps a proton: basic N > O > other."""
    best = 0.12
    for i in atoms:
        a = mol.GetAtomWithIdx(i)
        s = a.GetSymbol()
        if s == "N":
            amide = any(n.GetSymbol() == "C" and _has_double_o(n) for n in a.GetNeighbors())
            best = max(best, 0.6 if (amide or a.GetIsAromatic() and a.GetTotalNumHs()) else 1.0)
        elif s == "O" or s == "S":
            best = max(best, 0.5)
        elif a.GetIsAromatic():
            best = max(best, 0.25)
    return best


def _anion_stability(mol, a, atoms) -> float:
    s = a.GetSymbol()
    if s in ("O", "S"):
        return 1.0
    if s == "N":
        return 0.8
    if s == "C" and any(mol.GetAtomWithIdx(i).GetSymbol() in ("O", "N", "S") and mol.GetAtomWithIdx(i).GetTotalNumHs()
                        for i in atoms):
        return 0.45  # deprotonation at an acidic site in the piece
    if s == "C" and (a.GetIsAromatic() or any(n.GetHybridization() != Chem.HybridizationType.SP3 for n in a.GetNeighbors())):
        return 0.2
    return 0.05


def _bond_weight(mol, bond) -> float:
    a, b = bond.GetBeginAtom(), bond.GetEndAtom()
    sy = {a.GetSymbol(), b.GetSymbol()}
    if "C" in sy and sy & {"N", "O", "S"}:
        c = a if a.GetSymbol() == "C" else b
        return 1.0 if _has_double_o(c) else 0.7  # amide/ester bond vs amine/ether C-X
    if sy == {"C"}:
        if _has_double_o(a) or _has_double_o(b):
            return 0.6
        if a.GetIsAromatic() or b.GetIsAromatic():
            return 0.35
        return 0.3
    return 0.4


def candidate_ions(mol: Chem.Mol, mode: str):
    """List of (m/z, weight) for mode 'positive' or 'negative' (precursor first)."""
    n = mol.GetNumAtoms()
    masses = [_atom_mass(a) for a in mol.GetAtoms()]
    M = sum(masses)
    sign = 1 if mode == "positive" else -1
    prec = M + sign * M_P
    ions = [(prec, None)]  # precursor weight is set per energy
    adj = [[nb.GetIdx() for nb in a.GetNeighbors()] for a in mol.GetAtoms()]

    cuts = []
    for b in mol.GetBonds():
        if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing():
            cuts.append(([b], _bond_weight(mol, b)))
    ri = mol.GetRingInfo()
    for ring in ri.BondRings():
        aromatic = all(mol.GetBondWithIdx(i).GetIsAromatic() for i in ring)
        w = 0.08 if aromatic else 0.3
        k = len(ring)
        for x in range(k):
            for y in range(x + 2, k):
                if x == 0 and y == k - 1:
                    continue
                cuts.append(([mol.GetBondWithIdx(ring[x]), mol.GetBondWithIdx(ring[y])], w))

    for bonds, w in cuts:
        removed = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in bonds}
        comp, k = _components(n, adj, removed)
        if k != 2:
            continue
        sides = defaultdict(list)
        for i, c in enumerate(comp):
            sides[c].append(i)
        cut_atoms = {}
        for b in bonds:
            for i in (b.GetBeginAtomIdx(), b.GetEndAtomIdx()):
                cut_atoms.setdefault(comp[i], []).append(i)
        for c, atoms in sides.items():
            mP = sum(masses[i] for i in atoms)
            cut = [mol.GetAtomWithIdx(i) for i in cut_atoms[c]]
            if mode == "positive":
                ions.append((mP - M_E, w * max(_cation_stability(mol, a) for a in cut)))
                ions.append((mP + M_H + M_P, w * _proton_affinity(mol, atoms)))
            else:
                ions.append((mP + M_E, w * max(_anion_stability(mol, a, atoms) for a in cut)))

    # neutral losses from the precursor
    syms = [a.GetSymbol() for a in mol.GetAtoms()]
    has_oh = any(a.GetSymbol() == "O" and a.GetTotalNumHs() for a in mol.GetAtoms())
    has_nh2 = any(a.GetSymbol() == "N" and a.GetTotalNumHs() == 2 for a in mol.GetAtoms())
    has_co = any(a.GetSymbol() == "C" and _has_double_o(a) for a in mol.GetAtoms())
    acid = mol.HasSubstructMatch(Chem.MolFromSmarts("C(=O)[OX2H1]"))
    ome = mol.HasSubstructMatch(Chem.MolFromSmarts("[CH3][OX2]C=O"))
    ethyl = mol.HasSubstructMatch(Chem.MolFromSmarts("[CH3][CH2][!#1]"))
    losses = []
    if has_oh:
        losses.append(("H2O", 0.8))
    if has_nh2:
        losses.append(("NH3", 0.7 if mode == "positive" else 0.2))
    if has_co:
        losses.append(("CO", 0.3))
    if acid:
        losses.append(("CO2", 1.0 if mode == "negative" else 0.2))
    if "Cl" in syms:
        losses.append(("HCl", 0.5))
    if "F" in syms:
        losses.append(("HF", 0.3))
    if ome:
        losses.append(("CH3OH", 0.5))
    if ethyl:
        losses.append(("C2H4", 0.2))
    for name, w in losses:
        ions.append((prec - NEUTRAL_LOSSES[name], w))
    # secondary losses from big fragment ions (only water / CO), weaker
    big = [(mz, w) for mz, w in ions[1:] if w and mz > 0.5 * prec]
    for mz, w in big:
        if has_oh:
            ions.append((mz - NEUTRAL_LOSSES["H2O"], 0.25 * w))
        if has_co:
            ions.append((mz - NEUTRAL_LOSSES["CO"], 0.2 * w))
    return ions


def spectrum(ions, energy: int, rng: np.random.Generator | None = None):
    """[[m/z, intensity]] for one collision energy (ascending m/z, base 100)."""
    mu, sig, w_prec, min_rel, max_peaks = ENERGY_MODEL[energy]
    prec = ions[0][0]
    acc = defaultdict(float)
    for k, (mz, w) in enumerate(ions):
        if mz < 14.5:
            continue
        if k == 0:
            inten = w_prec
        else:
            s = mz / prec
            inten = w * np.exp(-0.5 * ((s - mu) / sig) ** 2)
            if mz < 30.0:  # very small ions (CH3+, OH-) are rarely prominent
                inten *= (mz / 30.0) ** 3
        if rng is not None:
            inten *= float(np.exp(rng.normal(0.0, 0.2)))
        acc[round(mz, 5)] += inten
    items = sorted(acc.items(), key=lambda t: -t[1])
    top = items[0][1]
    kept = [(mz, 100.0 * v / top) for mz, v in items[:max_peaks] if 100.0 * v / top >= min_rel]
    kept.sort()
    return [[float(mz), float(round(v, 2))] for mz, v in kept]


def simulate_msms(mol: Chem.Mol, rng: np.random.Generator | None = None):
    """Dict column-name -> [[m/z, intensity], ...] for the six CFM-ID style columns."""
    out = {}
    for mode in ("positive", "negative"):
        ions = candidate_ions(mol, mode)
        for e in ENERGIES:
            out[f"msms_cfmid_{mode}_{e}ev"] = spectrum(ions, e, rng)
    return out
