"""IR spectra: a functional-group band table ('experiment' style, broad bands) or the
benchmark-like group-contribution line model (``ir_templates``, 'benchmark' style).

Experiment style:

No offline IR predictor exists, so each functional group contributes textbook
bands (position cm^-1, full width at half maximum cm^-1, relative peak
absorbance) rendered as pseudo-Voigt lines (50 % Gaussian / 50 % Lorentzian)
on ``np.linspace(400, 4000, 1800)``.  Counts saturate (n**0.7).  The result is
normalised so that the maximum is exactly 1.0 (values rounded to 3
decimals, float32), with a small negative baseline
offset (drawn from the seeded RNG) like the real benchmark spectra.

What it captures: presence and rough position/intensity of O-H, N-H, C-H
(sp/sp2/sp3/aldehyde), C#N, C#C, C=O (by carbonyl class and conjugation),
C=C, C=N, NO2, C-O, C-N, C-F, C-Cl, S=O and aromatic out-of-plane bends by the
number of adjacent ring H.  What it does not: coupling between modes, exact
fingerprint region, overtones, band shapes from H-bonding, anything 3D.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from rdkit import Chem

IR_GRID = np.linspace(400.0, 4000.0, 1800)


def _is_conjugated_carbonyl(mol, c):
    for nb in c.GetNeighbors():
        if nb.GetSymbol() == "C" and (nb.GetIsAromatic() or nb.GetHybridization() == Chem.HybridizationType.SP2):
            # neighbour is sp2 carbon that is not itself a carbonyl carbon
            if not any(
                b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(nb).GetSymbol() in "OS"
                for b in nb.GetBonds()
            ):
                return True
    return False


def carbonyl_class(mol, c):
    """Class of a C(=O) carbon: ketone, aldehyde, acid, ester, amide, ..."""
    hetero = []
    for b in c.GetBonds():
        o = b.GetOtherAtom(c)
        if b.GetBondType() == Chem.BondType.SINGLE and o.GetSymbol() in ("O", "N", "Cl", "S"):
            hetero.append(o)
    syms = sorted(a.GetSymbol() for a in hetero)
    if syms == []:
        return "aldehyde" if c.GetTotalNumHs() else "ketone"
    if syms == ["O"]:
        o = hetero[0]
        if o.GetTotalNumHs():
            return "acid"
        # anhydride: O bonded to a second carbonyl carbon
        for nb in o.GetNeighbors():
            if nb.GetIdx() != c.GetIdx() and any(
                bb.GetBondType() == Chem.BondType.DOUBLE and bb.GetOtherAtom(nb).GetSymbol() == "O"
                for bb in nb.GetBonds()
            ):
                return "anhydride"
        return "lactone" if mol.GetBondBetweenAtoms(c.GetIdx(), o.GetIdx()).IsInRing() else "ester"
    if syms == ["N"]:
        return "amide"
    if syms == ["N", "N"]:
        return "urea"
    if syms == ["N", "O"]:
        return "carbamate"
    if syms == ["O", "O"]:
        return "carbonate"
    if "Cl" in syms:
        return "acyl_chloride"
    if "S" in syms:
        return "thioester"
    return "amide"


CARBONYL_BANDS = {  # (position, fwhm, intensity), conjugation shift
    "ketone": (1715, 28, 1.0, -30),
    "aldehyde": (1728, 28, 1.0, -28),
    "acid": (1710, 40, 1.0, -25),
    "ester": (1740, 28, 1.0, -20),
    "lactone": (1765, 30, 1.0, -20),
    "amide": (1665, 35, 1.0, -10),
    "urea": (1645, 35, 0.95, 0),
    "carbamate": (1700, 35, 1.0, -5),
    "carbonate": (1750, 30, 1.0, 0),
    "anhydride": (1815, 25, 0.8, -25),
    "acyl_chloride": (1800, 25, 1.0, -20),
    "thioester": (1690, 30, 0.9, -20),
}


def band_list(mol: Chem.Mol):
    """List of (position, fwhm, intensity) bands for a heavy-atom molecule."""
    bands = []
    cnt = Counter()

    def add(pos, fwhm, inten, n=1):
        bands.append((float(pos), float(fwhm), float(inten) * (n**0.7)))

    for a in mol.GetAtoms():
        s, nh = a.GetSymbol(), a.GetTotalNumHs()
        if s == "C":
            if a.GetIsAromatic():
                cnt["CH_ar"] += nh
            elif a.GetHybridization() == Chem.HybridizationType.SP3:
                cnt[f"CH{nh}_sp3"] += 1 if nh else 0
            elif a.GetHybridization() == Chem.HybridizationType.SP2:
                dbl_o = [
                    b
                    for b in a.GetBonds()
                    if b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(a).GetSymbol() == "O"
                ]
                if dbl_o:
                    cls = carbonyl_class(mol, a)
                    pos, w, inten, conj = CARBONYL_BANDS[cls]
                    if _is_conjugated_carbonyl(mol, a):
                        pos += conj
                    add(pos, w, inten)
                    if cls == "anhydride":
                        add(pos - 55, w, inten * 0.7)
                    if cls in ("ester", "lactone", "carbonate"):
                        add(1220 if not _is_conjugated_carbonyl(mol, a) else 1275, 45, 0.75)
                        add(1100, 40, 0.45)
                    if cls == "acid":
                        add(1290, 45, 0.5)
                        add(930, 60, 0.25)
                    if cls == "aldehyde":
                        add(2820, 30, 0.2)
                        add(2720, 30, 0.2)
                    if cls == "amide" and any(n.GetSymbol() == "N" and n.GetTotalNumHs() for n in a.GetNeighbors()):
                        add(1545, 40, 0.55)  # amide II
                elif nh:
                    cnt["CH_vinyl"] += nh
            elif a.GetHybridization() == Chem.HybridizationType.SP and nh:
                add(3300, 30, 0.55)
        elif s == "O" and nh:
            nb = a.GetNeighbors()[0]
            acid = nb.GetSymbol() == "C" and any(
                b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(nb).GetSymbol() == "O" for b in nb.GetBonds()
            )
            if acid:
                add(3000, 500, 0.45)
            elif nb.GetIsAromatic():
                add(3330, 260, 0.55)
                add(1220, 40, 0.5)
            else:
                add(3350, 260, 0.6)
                deg = nb.GetDegree()
                add({1: 1050, 2: 1050, 3: 1100, 4: 1150}.get(deg, 1075), 40, 0.6)
        elif s == "N":
            if nh == 2:
                add(3430, 60, 0.3)
                add(3340, 60, 0.3)
                add(1620, 40, 0.35)
            elif nh == 1:
                amide = any(
                    n.GetSymbol() == "C"
                    and any(
                        b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(n).GetSymbol() == "O"
                        for b in n.GetBonds()
                    )
                    for n in a.GetNeighbors()
                )
                if a.GetIsAromatic():
                    add(3400, 120, 0.35)
                else:
                    add(3300, 90 if amide else 70, 0.45 if amide else 0.25)
            if a.GetFormalCharge() == 1 and sum(1 for n in a.GetNeighbors() if n.GetSymbol() == "O") == 2:
                add(1530, 35, 0.9)
                add(1350, 35, 0.75)
            for n in a.GetNeighbors():
                if (
                    n.GetSymbol() == "C"
                    and mol.GetBondBetweenAtoms(a.GetIdx(), n.GetIdx()).GetBondType() == Chem.BondType.SINGLE
                ):
                    add(1310 if n.GetIsAromatic() else 1130, 40, 0.25)
        elif s == "F":
            add(1180, 60, 0.9)
        elif s == "Cl":
            add(750 if not a.GetNeighbors()[0].GetIsAromatic() else 1090, 40, 0.5)
        elif s == "S":
            n_o = sum(
                1
                for b in a.GetBonds()
                if b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(a).GetSymbol() == "O"
            )
            if n_o == 1:
                add(1050, 40, 0.7)
            elif n_o >= 2:
                add(1330, 40, 0.8)
                add(1150, 35, 0.8)
            else:
                add(700, 40, 0.15)
    for b in mol.GetBonds():
        x, y = b.GetBeginAtom(), b.GetEndAtom()
        sy = {x.GetSymbol(), y.GetSymbol()}
        bt = b.GetBondType()
        if bt == Chem.BondType.TRIPLE:
            if sy == {"C", "N"}:
                add(2230, 22, 0.45)
            elif sy == {"C"}:
                add(2120, 22, 0.15)
        elif bt == Chem.BondType.DOUBLE and not b.GetIsAromatic():
            if sy == {"C"}:
                add(1645, 25, 0.3)
            elif sy == {"C", "N"}:
                add(1650, 25, 0.35)
        elif (
            bt == Chem.BondType.SINGLE
            and sy == {"C", "O"}
            and not (x.GetTotalNumHs() if x.GetSymbol() == "O" else y.GetTotalNumHs())
        ):
            o = x if x.GetSymbol() == "O" else y
            c = y if o is x else x
            if not any(bb.GetBondType() == Chem.BondType.DOUBLE for bb in c.GetBonds()):
                add(1250 if c.GetIsAromatic() else 1110, 40, 0.55)
    if cnt["CH_ar"]:
        add(3050, 40, 0.12, cnt["CH_ar"] / 2)
        add(1600, 20, 0.3)
        add(1495, 20, 0.35)
        add(1450, 20, 0.3)
    if cnt["CH_vinyl"]:
        add(3080, 35, 0.12, cnt["CH_vinyl"])
        add(960, 25, 0.35)
    if cnt["CH3_sp3"]:
        add(2960, 35, 0.3, cnt["CH3_sp3"])
        add(2872, 30, 0.18, cnt["CH3_sp3"])
        add(1375, 20, 0.25, cnt["CH3_sp3"])
    if cnt["CH2_sp3"]:
        add(2926, 35, 0.3, cnt["CH2_sp3"])
        add(2853, 30, 0.2, cnt["CH2_sp3"])
        add(1460, 20, 0.25, cnt["CH2_sp3"])
    if cnt["CH1_sp3"]:
        add(2890, 35, 0.12, cnt["CH1_sp3"])
    # aromatic C-H out-of-plane bends by number of adjacent ring H (six rings)
    oop = {
        6: [(675, 0.9)],
        5: [(750, 0.7), (695, 0.6)],
        4: [(750, 0.7)],
        3: [(780, 0.6), (700, 0.3)],
        2: [(830, 0.6)],
        1: [(880, 0.4)],
    }
    for ring in mol.GetRingInfo().AtomRings():
        if len(ring) != 6 or not all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring):
            continue
        has_h = [mol.GetAtomWithIdx(i).GetTotalNumHs() > 0 for i in ring]
        if all(has_h):
            runs = [6]
        else:
            k0 = has_h.index(False)
            seq = has_h[k0:] + has_h[:k0]
            runs, r = [], 0
            for h in seq + [False]:
                if h:
                    r += 1
                elif r:
                    runs.append(r)
                    r = 0
        for r in runs:
            for pos, inten in oop.get(r, []):
                add(pos, 25, inten)
    return bands


def render(bands, rng: np.random.Generator | None = None, grid=IR_GRID, decimals: int = 3) -> np.ndarray:
    """Sum pseudo-Voigt bands; normalise to max 1.0 with a small negative baseline."""
    y = np.zeros_like(grid)
    for pos, fwhm, inten in bands:
        if rng is not None:
            pos = pos + rng.normal(0.0, 4.0)
            inten = inten * float(np.exp(rng.normal(0.0, 0.08)))
        x = (grid - pos) / (fwhm / 2.0)
        y += inten * (0.5 * np.exp(-np.log(2.0) * x * x) + 0.5 / (1.0 + x * x))
    y = y - y.min()  # zero at the most transparent point, so the baseline below makes min < 0
    if y.max() <= 0:
        y = y + 1e-3
    y = y / y.max()
    off = 0.02 if rng is None else float(rng.uniform(0.003, 0.06))
    tilt = 0.0 if rng is None else float(rng.uniform(-0.4, 0.4)) * off  # baseline stays negative
    base = -off + tilt * (grid - 2200.0) / 1800.0
    y = y * (1.0 + off) + base
    # no per-point noise and 3 decimals: keeps the parquet small (zstd compresses it ~3x)
    y = np.round(y / y.max(), decimals).astype(np.float32)
    y[int(np.argmax(y))] = 1.0
    return y


def render_lines(y: np.ndarray, rng: np.random.Generator | None = None, decimals: int = 3) -> np.ndarray:
    """Benchmark-like finish of a non-negative line spectrum: max exactly 1.0, a baseline
    just below zero (real rows: min -0.18 to -0.003, median about 0.004), float32."""
    y = np.asarray(y, dtype=float)
    if y.max() <= 0:
        y = np.full_like(y, 1e-3)
    y = y / y.max()
    off = 0.01 if rng is None else float(rng.uniform(0.003, 0.02))
    y = np.round((y - off) / (1.0 - off), decimals).astype(np.float32)
    y[int(np.argmax(y))] = 1.0
    return y


# 'benchmark': narrow lines from the group-contribution model fitted to benchmark rows
#   (ir_templates), like the benchmark's own simulated IR;
# 'experiment': broad pseudo-Voigt bands from the band table above, closer to measured IR.
STYLES = ("benchmark", "experiment")
DEFAULT_STYLE = "benchmark"


def simulate_ir(mol: Chem.Mol, rng: np.random.Generator | None = None, style: str = DEFAULT_STYLE) -> np.ndarray:
    if style == "experiment":
        return render(band_list(mol), rng)
    if style == "benchmark":
        from . import ir_templates

        return render_lines(ir_templates.predict(mol), rng)
    raise ValueError(f"unknown IR style {style!r}; known: {STYLES}")
