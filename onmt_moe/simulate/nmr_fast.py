"""--fast NMR: a crude additive-increment estimate of 13C and 1H shifts.

No learned model, no 3D.  Every shift is a base value for the atom type plus
textbook substituent increments (values rounded from standard tables, e.g.
Pretsch / Silverstein style):

13C  sp3:      -2.3 + sum(alpha increment per substituent) + 9.4 * n_beta - 2.5 * n_gamma
               (Grant-Paul-like; heteroatom alpha increments calibrated on small molecules)
     aromatic: 128.5 (six ring) / 108 (five ring) + ring-heteroatom effects
               + ipso/ortho/meta/para increments of every substituent on the ring system
     C=O, C=N, C#N, C=S: base value by group class, minus a conjugation shift
     C=C:      123.3 + alpha/beta increments; C#C: 72 + alpha/beta increments
1H   sp3 CHn:  0.9 / 1.3 / 1.5 + Shoolery-like alpha increments (damped after the
               first) + 0.25 per beta heteroatom
     aromatic: 7.27 (six ring) / 6.3 (five ring) + ring-heteroatom effects
               + ortho/meta/para increments
     vinyl:    5.25 + geminal and (cis/trans averaged) increments
     CHO, formyl, alkyne, O-H, N-H, S-H: fixed values by class

Typical error against experiment is several ppm for 13C and 0.2-0.5 ppm for
1H; it gets the chemically obvious ordering right (CH3 < CH2-N < CH2-O < vinyl
< aromatic < CHO; alkyl < C-O < aromatic < C=O), not the fine detail.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from .groups import carbonyl_class

SP3 = Chem.HybridizationType.SP3
SP2 = Chem.HybridizationType.SP2
SP = Chem.HybridizationType.SP
DOUBLE = Chem.BondType.DOUBLE
TRIPLE = Chem.BondType.TRIPLE


def _double_partner(atom, symbols=("O", "S", "N", "C")):
    for b in atom.GetBonds():
        if b.GetBondType() == DOUBLE and not b.GetIsAromatic():
            o = b.GetOtherAtom(atom)
            if o.GetSymbol() in symbols:
                return o
    return None


def _is_carbonyl_c(atom):
    return atom.GetSymbol() == "C" and _double_partner(atom, ("O",)) is not None


def sub_type(mol, x, y) -> str:  # noqa: C901 - a decision table over substituent atom types
    """Type of substituent atom y as seen from atom x."""
    s = y.GetSymbol()
    if s == "C":
        if y.GetIsAromatic():
            return "aryl"
        if _is_carbonyl_c(y):
            cls = carbonyl_class(mol, y)
            return "acyl" if cls in ("ketone", "aldehyde") else "carboxyl"
        if y.GetHybridization() == SP:
            if any(b.GetBondType() == TRIPLE and b.GetOtherAtom(y).GetSymbol() == "N" for b in y.GetBonds()):
                return "nitrile"
            return "alkynyl"
        if y.GetHybridization() == SP2:
            p = _double_partner(y)
            if p is not None and p.GetSymbol() in ("N", "S"):
                return "imine"
            return "vinyl"
        return "alkyl"
    if s == "O":
        if y.GetTotalNumHs():
            return "OH"
        for n in y.GetNeighbors():
            if n.GetIdx() != x.GetIdx() and _is_carbonyl_c(n):
                return "OC=O"
        return "OR"
    if s == "N":
        if y.GetFormalCharge() == 1 and sum(n.GetSymbol() == "O" for n in y.GetNeighbors()) >= 2:
            return "NO2"
        if y.GetIsAromatic():
            return "N_ar"
        for n in y.GetNeighbors():
            if n.GetIdx() != x.GetIdx() and (
                _is_carbonyl_c(n) or (n.GetSymbol() == "S" and _double_partner(n, ("O",)))
            ):
                return "Namide"
        return "N"
    if s == "S":
        return "SO2" if _double_partner(y, ("O",)) is not None else "S"
    if s in ("F", "Cl"):
        return s
    return "other"


# ------------------------------------------------------------------ 13C -------
C_SP3_ALPHA = {
    "alkyl": 9.1,
    "aryl": 5.0,
    "vinyl": 12.0,
    "alkynyl": -3.0,
    "nitrile": -5.0,
    "acyl": 14.0,
    "carboxyl": 6.5,
    "imine": 8.0,
    "OH": 49.0,
    "OR": 49.0,
    "OC=O": 49.0,
    "N": 26.0,
    "Namide": 22.0,
    "N_ar": 30.0,
    "NO2": 45.0,
    "F": 70.0,
    "Cl": 31.0,
    "S": 11.0,
    "SO2": 18.0,
    "other": 10.0,
}
C_AR = {  # ipso, ortho, meta, para
    "alkyl": (9.3, 0.7, -0.1, -2.9),
    "aryl": (13.1, -1.1, 0.5, -1.1),
    "vinyl": (9.1, -2.4, 0.2, -0.5),
    "alkynyl": (-6.2, 3.6, -0.4, -0.3),
    "nitrile": (-16.0, 3.6, 0.6, 4.3),
    "acyl": (8.6, 0.0, 0.0, 4.4),
    "carboxyl": (2.0, 1.2, -0.1, 4.3),
    "imine": (7.0, -0.5, 0.0, 2.0),
    "OH": (26.9, -12.7, 1.4, -7.3),
    "OR": (31.4, -14.4, 1.0, -7.7),
    "OC=O": (22.4, -7.1, -0.4, -3.2),
    "N": (18.2, -13.4, 0.8, -10.0),
    "Namide": (9.7, -8.1, 0.2, -4.4),
    "N_ar": (12.0, -8.0, 1.0, -4.0),
    "NO2": (19.9, -4.9, 0.9, 6.1),
    "F": (34.8, -13.0, 1.6, -4.4),
    "Cl": (6.4, 0.2, 1.0, -2.0),
    "S": (10.0, -1.9, 0.2, -3.6),
    "SO2": (15.0, -1.5, 0.8, 5.0),
    "other": (0.0, 0.0, 0.0, 0.0),
}
C_ENE = {  # alpha (on this carbon), beta (on the partner carbon)
    "alkyl": (10.6, -7.9),
    "aryl": (12.5, -11.0),
    "vinyl": (13.6, -7.0),
    "alkynyl": (-6.0, 4.0),
    "nitrile": (-15.1, 14.2),
    "acyl": (13.8, 4.7),
    "carboxyl": (5.0, 9.8),
    "imine": (10.0, 3.0),
    "OH": (29.0, -39.0),
    "OR": (29.0, -39.0),
    "OC=O": (18.4, -26.7),
    "N": (28.0, -32.0),
    "Namide": (6.5, -29.2),
    "N_ar": (10.0, -20.0),
    "NO2": (22.3, -0.9),
    "F": (24.9, -34.3),
    "Cl": (2.8, -6.1),
    "S": (9.0, -13.0),
    "SO2": (14.0, 6.0),
    "other": (0.0, 0.0),
}
C_CARBONYL = {
    "ketone": 207.0,
    "aldehyde": 201.0,
    "acid": 178.0,
    "ester": 171.0,
    "lactone": 175.0,
    "amide": 171.0,
    "urea": 157.0,
    "carbamate": 156.0,
    "carbonate": 155.0,
    "anhydride": 168.0,
    "acyl_chloride": 170.0,
    "thioester": 196.0,
}
C_CONJ = {"ketone": -10.0, "aldehyde": -9.0, "acid": -7.0, "ester": -5.0, "lactone": -5.0, "amide": -3.0}

# ------------------------------------------------------------------- 1H -------
H_SP3_ALPHA = {
    "alkyl": 0.0,
    "aryl": 1.45,
    "vinyl": 0.8,
    "alkynyl": 0.9,
    "nitrile": 1.1,
    "acyl": 1.2,
    "carboxyl": 1.05,
    "imine": 1.0,
    "OH": 2.45,
    "OR": 2.4,
    "OC=O": 2.8,
    "N": 1.4,
    "Namide": 1.9,
    "N_ar": 2.7,
    "NO2": 3.4,
    "F": 3.3,
    "Cl": 2.2,
    "S": 1.2,
    "SO2": 1.9,
    "other": 1.0,
}
H_AR = {  # ortho, meta, para
    "alkyl": (-0.14, -0.06, -0.17),
    "aryl": (0.37, 0.20, 0.10),
    "vinyl": (0.06, -0.03, -0.10),
    "alkynyl": (0.15, -0.02, -0.01),
    "nitrile": (0.36, 0.18, 0.28),
    "acyl": (0.62, 0.14, 0.21),
    "carboxyl": (0.71, 0.11, 0.21),
    "imine": (0.5, 0.1, 0.1),
    "OH": (-0.56, -0.12, -0.45),
    "OR": (-0.48, -0.09, -0.44),
    "OC=O": (-0.25, 0.03, -0.13),
    "N": (-0.75, -0.25, -0.65),
    "Namide": (0.12, -0.07, -0.28),
    "N_ar": (0.1, 0.0, 0.0),
    "NO2": (0.95, 0.26, 0.38),
    "F": (-0.26, 0.00, -0.20),
    "Cl": (0.03, -0.02, -0.09),
    "S": (-0.08, -0.10, -0.24),
    "SO2": (0.60, 0.20, 0.30),
    "other": (0.0, 0.0, 0.0),
}
H_ENE = {  # geminal, cis/trans averaged
    "alkyl": (0.45, -0.25),
    "aryl": (1.38, 0.15),
    "vinyl": (1.0, 0.0),
    "alkynyl": (0.47, 0.3),
    "nitrile": (0.27, 0.65),
    "acyl": (1.1, 0.95),
    "carboxyl": (0.8, 0.85),
    "imine": (0.9, 0.5),
    "OH": (1.2, -1.1),
    "OR": (1.22, -1.1),
    "OC=O": (2.11, -0.5),
    "N": (0.8, -1.2),
    "Namide": (2.08, -0.6),
    "N_ar": (1.6, -0.5),
    "NO2": (1.87, 1.0),
    "F": (1.54, -0.6),
    "Cl": (1.08, 0.15),
    "S": (1.11, -0.2),
    "SO2": (1.3, 0.9),
    "other": (0.5, 0.0),
}


def _ring_het_effects(mol, atom, dm, for_h: bool) -> float:
    """Effect of heteroatoms inside the aromatic ring(s) containing atom."""
    ri = mol.GetRingInfo()
    idx = atom.GetIdx()
    rings = [r for r in ri.AtomRings() if idx in r and all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in r)]
    if not rings:
        return 0.0
    ring = min(rings, key=len)
    shift = 0.0
    if len(ring) == 6:
        n_alpha = 0
        for i in ring:
            a = mol.GetAtomWithIdx(i)
            if a.GetSymbol() == "C" or i == idx:
                continue
            d = int(dm[idx, i])
            if for_h:
                shift += {1: 1.3, 2: 0.0, 3: 0.4}.get(d, 0.0)
            else:
                if d == 1:
                    shift += 21.5 if n_alpha == 0 else 12.0
                    n_alpha += 1
                else:
                    shift += {2: -4.5, 3: 7.5}.get(d, 0.0)
        return shift
    base5 = {"O": (35.0, 2.0, 1.1, 0.1), "S": (17.0, 19.0, 0.9, 0.7)}
    for i in ring:
        a = mol.GetAtomWithIdx(i)
        if i == idx or a.GetSymbol() == "C":
            continue
        d = int(dm[idx, i])
        s = a.GetSymbol()
        if s == "N":
            pyrrole_type = a.GetTotalNumHs() > 0 or a.GetDegree() == 3
            vals = (10.0, 0.0, 0.4, 0.0) if pyrrole_type else (27.0, 5.0, 1.3, 0.6)
        else:
            vals = base5.get(s, (10.0, 0.0, 0.5, 0.0))
        if d == 1:
            shift += vals[2] if for_h else vals[0]
        elif d == 2:
            shift += vals[3] if for_h else vals[1]
    return shift


def _aromatic_substituent_sum(mol, atom, dm, table, for_h: bool) -> float:
    """Sum of o/m/p (and ipso for 13C) increments from exocyclic substituents of the ring system."""
    total = 0.0
    idx = atom.GetIdx()
    ri = mol.GetRingInfo()
    near = [mol.GetAtomWithIdx(int(i)) for i in np.nonzero(dm[idx] <= 3)[0]]  # only these can contribute
    for a in near:
        if not a.GetIsAromatic():
            continue
        d = int(dm[idx, a.GetIdx()])
        for nb in a.GetNeighbors():
            bond = mol.GetBondBetweenAtoms(a.GetIdx(), nb.GetIdx())
            if bond.GetIsAromatic() or (nb.GetIsAromatic() and ri.NumBondRings(bond.GetIdx()) > 0):
                continue
            if bond.GetBondType() != Chem.BondType.SINGLE:
                continue
            inc = table[sub_type(mol, a, nb)]
            if for_h:
                if 1 <= d <= 3:
                    total += inc[d - 1]
            else:
                total += inc[d]
    # ring fusion: junction atoms (3 aromatic ring bonds)
    for a in near:
        if a.GetIsAromatic() and sum(1 for b in a.GetBonds() if b.GetIsAromatic()) == 3:
            d = int(dm[idx, a.GetIdx()])
            if for_h:
                total += {1: 0.5, 2: 0.2}.get(d, 0.0)
            elif d == 0:
                total += 5.0
    return total


def carbon_shift(mol, atom, dm) -> float:
    hyb = atom.GetHybridization()
    if atom.GetIsAromatic():
        return _c_aromatic(mol, atom, dm)
    if hyb == SP3:
        return _c_sp3(mol, atom, dm)
    partner = _double_partner(atom)
    if hyb == SP2 and partner is not None:
        return _c_sp2(mol, atom, partner)
    if hyb == SP:
        return _c_sp(mol, atom)
    return 130.0


def _c_aromatic(mol, atom, dm) -> float:
    exo = _double_partner(atom, ("O", "S", "N"))
    if exo is not None:  # pyridone / pyrimidinone type C=O in an aromatic ring
        return 162.0 if exo.GetSymbol() == "O" else 175.0
    ring5 = atom.IsInRingSize(5) and not atom.IsInRingSize(6)
    base = 108.0 if ring5 else 128.5
    return base + _ring_het_effects(mol, atom, dm, False) + _aromatic_substituent_sum(mol, atom, dm, C_AR, False)


def _c_sp3(mol, atom, dm) -> float:
    d = dm[atom.GetIdx()]
    heavy = [a.GetIdx() for a in mol.GetAtoms()]
    n_beta = sum(1 for j in heavy if d[j] == 2)
    n_gamma = sum(1 for j in heavy if d[j] == 3)
    shift = -2.3 + 9.4 * n_beta - 2.5 * n_gamma
    for nb in atom.GetNeighbors():
        shift += C_SP3_ALPHA[sub_type(mol, atom, nb)]
    if atom.IsInRingSize(3):
        shift -= 15.0
    elif atom.IsInRingSize(5):
        shift -= 7.5  # no gamma carbons in a five ring
    # branching corrections (Grant-Paul style, lumped by degree)
    shift += {2: -2.5, 3: -11.0, 4: -4.0}.get(atom.GetDegree(), 0.0)
    return float(np.clip(shift, -5.0, 100.0))


def _c_sp2(mol, atom, partner) -> float:
    """sp2 carbon with an exocyclic (non-aromatic) double bond to ``partner`` (O, S, N or C)."""
    sym = partner.GetSymbol()
    if sym == "O":
        cls = carbonyl_class(mol, atom)
        conj = any(
            n.GetIsAromatic() or (n.GetSymbol() == "C" and n.GetHybridization() == SP2 and not _is_carbonyl_c(n))
            for n in atom.GetNeighbors()
        )
        return C_CARBONYL[cls] + C_CONJ.get(cls, 0.0) if conj else C_CARBONYL[cls]
    if sym == "S":
        return 185.0
    if sym == "N":
        n_het = sum(1 for n in atom.GetNeighbors() if n.GetSymbol() in ("N", "O", "S"))
        if any(n.GetSymbol() == "O" for n in partner.GetNeighbors()):
            return 152.0  # oxime
        if any(n.GetSymbol() == "N" for n in partner.GetNeighbors()) and n_het == 1:
            return 142.0  # hydrazone
        return 157.0 if n_het >= 2 else 160.0
    return float(np.clip(_across_double_bond(mol, atom, partner, C_ENE, 123.3), 80.0, 170.0))


def _across_double_bond(mol, atom, partner, table, shift: float) -> float:
    """``shift`` plus table[type][0] over atom's other substituents and table[type][1] over partner's."""
    for nb in atom.GetNeighbors():
        if nb.GetIdx() != partner.GetIdx():
            shift += table[sub_type(mol, atom, nb)][0]
    for nb in partner.GetNeighbors():
        if nb.GetIdx() != atom.GetIdx():
            shift += table[sub_type(mol, partner, nb)][1]
    return shift


_C_ALKYNE_ALPHA = {"alkyl": 6.9, "aryl": 11.6, "vinyl": 10.0, "acyl": 2.0, "carboxyl": 2.0}
_C_ALKYNE_BETA = {"alkyl": -5.7, "aryl": 5.2, "vinyl": 4.0, "acyl": 2.0, "carboxyl": 2.0}


def _c_sp(mol, atom) -> float:
    trip = [b.GetOtherAtom(atom) for b in atom.GetBonds() if b.GetBondType() == TRIPLE]
    if not trip:
        return 125.0  # cumulated (isocyanate, ketene imine, ...)
    other = trip[0]
    if other.GetSymbol() == "N":
        return 118.5
    shift = 72.0
    for nb in atom.GetNeighbors():
        if nb.GetIdx() != other.GetIdx():
            shift += _C_ALKYNE_ALPHA.get(sub_type(mol, atom, nb), 5.0)
    for nb in other.GetNeighbors():
        if nb.GetIdx() != atom.GetIdx():
            shift += _C_ALKYNE_BETA.get(sub_type(mol, other, nb), -3.0)
    return shift


def hydrogen_shift(mol, atom, dm) -> float:
    s = atom.GetSymbol()
    if s == "O":
        return _h_hydroxyl(atom)
    if s == "S":
        return 3.4 if any(n.GetIsAromatic() for n in atom.GetNeighbors()) else 1.6
    if s == "N":
        return _h_aromatic_nh(atom) if atom.GetIsAromatic() else _h_nh(mol, atom)
    if s != "C":
        return 2.0
    if atom.GetIsAromatic():
        ring5 = atom.IsInRingSize(5) and not atom.IsInRingSize(6)
        base = 6.3 if ring5 else 7.27
        return base + _ring_het_effects(mol, atom, dm, True) + _aromatic_substituent_sum(mol, atom, dm, H_AR, True)
    hyb = atom.GetHybridization()
    if hyb == SP3:
        return _h_sp3(mol, atom, dm)
    partner = _double_partner(atom)
    if hyb == SP2 and partner is not None:
        return _h_sp2(mol, atom, partner)
    if hyb == SP:
        types = [sub_type(mol, atom, n) for n in atom.GetNeighbors()]
        if "aryl" in types or "vinyl" in types:
            return 3.05
        return 2.9 if "acyl" in types or "carboxyl" in types else 2.0
    return 5.0


def _h_hydroxyl(atom) -> float:
    nbs = list(atom.GetNeighbors())
    nb = nbs[0] if nbs else None
    if nb is not None and _is_carbonyl_c(nb):
        return 11.5
    if nb is not None and (nb.GetIsAromatic() or nb.GetHybridization() == SP2):
        return 5.6
    return 2.0


def _h_aromatic_nh(atom) -> float:
    nbs = list(atom.GetNeighbors())
    if any(_double_partner(n, ("O", "S")) is not None for n in nbs):
        return 11.5
    n_ring_n = sum(
        1
        for n in nbs
        for m in n.GetNeighbors()
        if m.GetSymbol() == "N" and m.GetIdx() != atom.GetIdx() and m.GetIsAromatic()
    )
    return 11.0 if n_ring_n else 8.1


def _h_nh(mol, atom) -> float:
    nbs = list(atom.GetNeighbors())
    types = [sub_type(mol, atom, n) for n in nbs]
    n_on_c = [n for n in nbs if _is_carbonyl_c(n)]
    if n_on_c:
        aryl = "aryl" in types
        cls = carbonyl_class(mol, n_on_c[0])
        if cls == "urea":
            return 6.0 if aryl else 5.0
        if cls == "carbamate":
            return 6.6 if aryl else 4.8
        return 7.6 if aryl else (5.8 if atom.GetTotalNumHs() == 2 else 6.0)
    if "SO2" in types:
        return 4.8
    if "aryl" in types or "vinyl" in types:
        return 3.7
    if any(t in ("N", "Namide") for t in types):
        return 3.6
    return 1.3


def _h_sp3_alpha(mol, atom, nb) -> float:
    """Shoolery-like increment of neighbour ``nb`` on the H of sp3 ``atom``."""
    t = sub_type(mol, atom, nb)
    inc = H_SP3_ALPHA[t]
    if t == "acyl" and any(x.GetIsAromatic() for x in nb.GetNeighbors()):
        inc += 0.45  # aryl ketone
    if t == "OR" and any(x.GetIsAromatic() for x in nb.GetNeighbors()):
        inc += 0.45  # aryl ether
    if t == "N" and any(x.GetIsAromatic() for x in nb.GetNeighbors() if x.GetIdx() != atom.GetIdx()):
        inc += 0.5  # N-alkyl aniline
    return inc


def _h_sp3(mol, atom, dm) -> float:
    nbs = list(atom.GetNeighbors())
    base = {3: 0.9, 2: 1.3, 1: 1.5}.get(atom.GetTotalNumHs(), 1.3)
    if atom.IsInRing():
        base += 0.1
    if atom.IsInRingSize(3):
        base -= 1.0
    incs = sorted((_h_sp3_alpha(mol, atom, nb) for nb in nbs), reverse=True)
    shift = base + sum(v * (1.0 if k == 0 else 0.7) for k, v in enumerate(incs))
    d = dm[atom.GetIdx()]
    # beta heteroatoms, except the O/S of an alpha C=O (already in the acyl increment)
    skip = {p.GetIdx() for nb in nbs for p in [_double_partner(nb, ("O", "S"))] if p is not None}
    for a in mol.GetAtoms():
        if d[a.GetIdx()] == 2 and a.GetIdx() not in skip:
            if a.GetSymbol() in ("O", "N", "F", "Cl", "S"):
                shift += 0.25
            elif a.GetIsAromatic():
                shift += 0.05
    return float(np.clip(shift, 0.0, 6.0))


def _h_sp2(mol, atom, partner) -> float:
    """H on an sp2 carbon double-bonded to ``partner``: formyl, imine / thione C-H, vinyl."""
    nbs = list(atom.GetNeighbors())
    if partner.GetSymbol() == "O":
        cls = carbonyl_class(mol, atom)
        if cls == "aldehyde":
            conj = any(n.GetIsAromatic() or n.GetHybridization() == SP2 for n in nbs)
            return 9.95 if conj else 9.7
        return {"amide": 8.1, "ester": 8.05, "acid": 8.1}.get(cls, 8.1)
    if partner.GetSymbol() in ("N", "S"):
        return 8.3 if any(n.GetIsAromatic() for n in nbs) else 7.8
    return float(np.clip(_across_double_bond(mol, atom, partner, H_ENE, 5.25), 3.5, 8.5))


# Tertiary amides rotate slowly about C(O)-N: the N-alkyl carbon syn to O and the one anti
# to it differ (DMF 31.4 / 36.5, DMAc 35.0 / 38.0 ppm; 1H 2.94 / 3.02).  In 2D the two
# are graph-equivalent, so the estimate splits such pairs by this much (+/- half).
AMIDE_ROTAMER_SPLIT_C = 3.5
AMIDE_ROTAMER_SPLIT_H = 0.08
_TERTIARY_AMIDE_N = Chem.MolFromSmarts("[CX3](=[OX1])[NX3;H0;!$(N-[!#6])]([CX4])[CX4]")


def _amide_rotamer_offsets(mol):
    """(c_offset, h_offset) dicts for graph-equivalent N-alkyl pairs of tertiary amides."""
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    c_off, h_off = {}, {}
    for match in mol.GetSubstructMatches(_TERTIARY_AMIDE_N):
        a, b = match[3], match[4]
        if ranks[a] != ranks[b]:
            continue  # different groups already get different shifts
        for sign, i in ((1, max(a, b)), (-1, min(a, b))):
            c_off[i] = c_off.get(i, 0.0) + sign * AMIDE_ROTAMER_SPLIT_C / 2
            h_off[i] = h_off.get(i, 0.0) + sign * AMIDE_ROTAMER_SPLIT_H / 2
    return c_off, h_off


def predict_fast(mol: Chem.Mol):
    """(c_shift, h_shift) dicts keyed on heavy-atom index, like nmr.predict_csp5."""
    dm = Chem.GetDistanceMatrix(mol)
    c_off, h_off = _amide_rotamer_offsets(mol)
    c_shift, h_shift = {}, {}
    for a in mol.GetAtoms():
        i = a.GetIdx()
        if a.GetSymbol() == "C":
            c_shift[i] = float(carbon_shift(mol, a, dm)) + c_off.get(i, 0.0)
        if a.GetTotalNumHs():
            h_shift[i] = float(hydrogen_shift(mol, a, dm)) + h_off.get(i, 0.0)
    return c_shift, h_shift
