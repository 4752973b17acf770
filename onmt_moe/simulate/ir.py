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

The numbers live in one table, ``IR_BANDS`` (functional group -> its bands); which groups a
molecule has, in which order and how many times, is ``functional_groups`` (per atom, per bond,
C-H counts, aromatic six rings); ``band_list`` joins the two.

What it captures: presence and rough position/intensity of O-H, N-H, C-H
(sp/sp2/sp3/aldehyde), C#N, C#C, C=O (by carbonyl class and conjugation),
C=C, C=N, NO2, C-O, C-N, C-F, C-Cl, S=O and aromatic out-of-plane bends by the
number of adjacent ring H.  What it does not: coupling between modes, exact
fingerprint region, overtones, band shapes from H-bonding, anything 3D.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from rdkit import Chem

from . import ir_templates
from .groups import carbonyl_class, has_double_bond_to, is_conjugated_carbonyl

IR_GRID = np.linspace(400.0, 4000.0, 1800)
_SP2, _SP3, _SP = (Chem.HybridizationType.SP2, Chem.HybridizationType.SP3, Chem.HybridizationType.SP)


@dataclass(frozen=True)
class Band:
    """One textbook band: centre and full width at half maximum in cm-1, relative peak absorbance."""

    centre: float
    fwhm: float
    intensity: float


CARBONYL_BANDS = {  # C=O stretch by carbonyl class: (position, fwhm, intensity), conjugation shift
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


def _carbonyl_stretches() -> dict[str, tuple[Band, ...]]:
    """'C=O <class>' and 'C=O <class> conj' rows of IR_BANDS, from CARBONYL_BANDS."""
    rows = {}
    for cls, (pos, fwhm, inten, conj_shift) in CARBONYL_BANDS.items():
        for suffix, centre in (("", pos), (" conj", pos + conj_shift)):
            bands = (Band(centre, fwhm, inten),)
            if cls == "anhydride":  # the second (symmetric / antisymmetric) C=O stretch
                bands += (Band(centre - 55, fwhm, inten * 0.7),)
            rows[f"C=O {cls}{suffix}"] = bands
    return rows


# Aromatic C-H out-of-plane bends by the number of adjacent H on a six ring: (position, intensity).
OOP_BENDS = {
    6: ((675, 0.9),),
    5: ((750, 0.7), (695, 0.6)),
    4: ((750, 0.7),),
    3: ((780, 0.6), (700, 0.3)),
    2: ((830, 0.6),),
    1: ((880, 0.4),),
}
# C-O stretch of an alcohol by the number of heavy neighbours of the carbinol atom (else 1075).
ALCOHOL_CO = {1: 1050, 2: 1050, 3: 1100, 4: 1150}

# Functional group -> its bands, in the order they are emitted.  Which groups a molecule has (and
# how often) is decided by ``functional_groups``; a band's intensity is scaled by count**0.7.
IR_BANDS: dict[str, tuple[Band, ...]] = {
    **_carbonyl_stretches(),
    "C-O ester": (Band(1220, 45, 0.75), Band(1100, 40, 0.45)),  # ester, lactone, carbonate C-O-C
    "C-O ester conj": (Band(1275, 45, 0.75), Band(1100, 40, 0.45)),
    "acid C-O / O-H bend": (Band(1290, 45, 0.5), Band(930, 60, 0.25)),
    "aldehyde C-H": (Band(2820, 30, 0.2), Band(2720, 30, 0.2)),  # Fermi doublet
    "amide II": (Band(1545, 40, 0.55),),
    "C-H sp": (Band(3300, 30, 0.55),),
    "O-H acid": (Band(3000, 500, 0.45),),
    "O-H phenol": (Band(3330, 260, 0.55), Band(1220, 40, 0.5)),
    "O-H alcohol": (Band(3350, 260, 0.6),),
    **{f"C-O alcohol deg{d}": (Band(pos, 40, 0.6),) for d, pos in ALCOHOL_CO.items()},
    "C-O alcohol other": (Band(1075, 40, 0.6),),
    "NH2": (Band(3430, 60, 0.3), Band(3340, 60, 0.3), Band(1620, 40, 0.35)),
    "N-H aromatic": (Band(3400, 120, 0.35),),
    "N-H amide": (Band(3300, 90, 0.45),),
    "N-H amine": (Band(3300, 70, 0.25),),
    "NO2": (Band(1530, 35, 0.9), Band(1350, 35, 0.75)),
    "C-N aryl": (Band(1310, 40, 0.25),),
    "C-N": (Band(1130, 40, 0.25),),
    "C-F": (Band(1180, 60, 0.9),),
    "C-Cl": (Band(750, 40, 0.5),),
    "C-Cl aryl": (Band(1090, 40, 0.5),),
    "S=O": (Band(1050, 40, 0.7),),
    "SO2": (Band(1330, 40, 0.8), Band(1150, 35, 0.8)),
    "C-S": (Band(700, 40, 0.15),),
    "C#N": (Band(2230, 22, 0.45),),
    "C#C": (Band(2120, 22, 0.15),),
    "C=C": (Band(1645, 25, 0.3),),
    "C=N": (Band(1650, 25, 0.35),),
    "C-O ether aryl": (Band(1250, 40, 0.55),),
    "C-O ether": (Band(1110, 40, 0.55),),
    "C-H aromatic": (Band(3050, 40, 0.12),),  # count: aromatic H / 2
    "aromatic ring": (Band(1600, 20, 0.3), Band(1495, 20, 0.35), Band(1450, 20, 0.3)),
    "C-H vinyl": (Band(3080, 35, 0.12),),  # count: vinyl H
    "vinyl C-H wag": (Band(960, 25, 0.35),),
    "CH3": (Band(2960, 35, 0.3), Band(2872, 30, 0.18), Band(1375, 20, 0.25)),  # count: CH3 groups
    "CH2": (Band(2926, 35, 0.3), Band(2853, 30, 0.2), Band(1460, 20, 0.25)),  # count: CH2 groups
    "CH": (Band(2890, 35, 0.12),),  # count: sp3 CH groups
    **{f"C-H oop {n} adjacent": tuple(Band(p, 25, i) for p, i in bends) for n, bends in OOP_BENDS.items()},
}


def band_list(mol: Chem.Mol):
    """List of (position, fwhm, intensity) bands for a heavy-atom molecule."""
    return [
        (float(b.centre), float(b.fwhm), float(b.intensity) * (n**0.7))
        for group, n in functional_groups(mol)
        for b in IR_BANDS[group]
    ]


def functional_groups(mol: Chem.Mol) -> Iterator[tuple[str, float]]:
    """(IR_BANDS key, count) pairs: per atom, per bond, C-H counts, aromatic six rings (this order)."""
    for a in mol.GetAtoms():
        for group in _atom_groups(mol, a):
            yield group, 1
    for b in mol.GetBonds():
        group = _bond_group(b)
        if group is not None:
            yield group, 1
    yield from _ch_groups(mol)
    for run in _ring_h_runs(mol):
        yield f"C-H oop {run} adjacent", 1


def _atom_groups(mol, a) -> Iterator[str]:
    s = a.GetSymbol()
    if s != "C" and a.GetDegree() == 0:  # a lone O or halogen (water, HCl, HF): no group of the table
        return
    if s == "C":
        yield from _carbon_groups(mol, a)
    elif s == "O" and a.GetTotalNumHs():
        yield from _hydroxyl_groups(a)
    elif s == "N":
        yield from _nitrogen_groups(mol, a)
    elif s == "F":
        yield "C-F"
    elif s == "Cl":
        yield "C-Cl aryl" if a.GetNeighbors()[0].GetIsAromatic() else "C-Cl"
    elif s == "S":
        n_o = sum(
            1 for b in a.GetBonds() if b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(a).GetSymbol() == "O"
        )
        yield "SO2" if n_o >= 2 else "S=O" if n_o == 1 else "C-S"


def _carbon_groups(mol, a) -> Iterator[str]:
    if a.GetIsAromatic():
        return  # aromatic C-H: counted in _ch_groups
    if a.GetHybridization() == _SP2 and has_double_bond_to(a, "O"):
        yield from _carbonyl_groups(mol, a)
    elif a.GetHybridization() == _SP and a.GetTotalNumHs():
        yield "C-H sp"


def _carbonyl_groups(mol, a) -> Iterator[str]:
    cls = carbonyl_class(mol, a)
    conj = " conj" if is_conjugated_carbonyl(mol, a) else ""
    yield f"C=O {cls}{conj}"
    if cls in ("ester", "lactone", "carbonate"):
        yield f"C-O ester{conj}"
    elif cls == "acid":
        yield "acid C-O / O-H bend"
    elif cls == "aldehyde":
        yield "aldehyde C-H"
    elif cls == "amide" and any(n.GetSymbol() == "N" and n.GetTotalNumHs() for n in a.GetNeighbors()):
        yield "amide II"


def _hydroxyl_groups(a) -> Iterator[str]:
    nb = a.GetNeighbors()[0]
    if nb.GetSymbol() == "C" and has_double_bond_to(nb, "O"):
        yield "O-H acid"
    elif nb.GetIsAromatic():
        yield "O-H phenol"
    else:
        yield "O-H alcohol"
        yield f"C-O alcohol deg{nb.GetDegree()}" if nb.GetDegree() in ALCOHOL_CO else "C-O alcohol other"


def _nitrogen_groups(mol, a) -> Iterator[str]:
    nh = a.GetTotalNumHs()
    if nh == 2:
        yield "NH2"
    elif nh == 1:
        amide = any(n.GetSymbol() == "C" and has_double_bond_to(n, "O") for n in a.GetNeighbors())
        yield "N-H aromatic" if a.GetIsAromatic() else "N-H amide" if amide else "N-H amine"
    if a.GetFormalCharge() == 1 and sum(1 for n in a.GetNeighbors() if n.GetSymbol() == "O") == 2:
        yield "NO2"
    for n in a.GetNeighbors():
        bond = mol.GetBondBetweenAtoms(a.GetIdx(), n.GetIdx())
        if n.GetSymbol() == "C" and bond.GetBondType() == Chem.BondType.SINGLE:
            yield "C-N aryl" if n.GetIsAromatic() else "C-N"


def _bond_group(b) -> str | None:
    x, y = b.GetBeginAtom(), b.GetEndAtom()
    sy, bt = {x.GetSymbol(), y.GetSymbol()}, b.GetBondType()
    if bt == Chem.BondType.TRIPLE:
        return {frozenset("CN"): "C#N", frozenset("C"): "C#C"}.get(frozenset(sy))
    if bt == Chem.BondType.DOUBLE and not b.GetIsAromatic():
        return {frozenset("C"): "C=C", frozenset("CN"): "C=N"}.get(frozenset(sy))
    if bt == Chem.BondType.SINGLE and sy == {"C", "O"}:
        o, c = (x, y) if x.GetSymbol() == "O" else (y, x)
        if not o.GetTotalNumHs() and not any(bb.GetBondType() == Chem.BondType.DOUBLE for bb in c.GetBonds()):
            return "C-O ether aryl" if c.GetIsAromatic() else "C-O ether"
    return None


def _ch_groups(mol) -> Iterator[tuple[str, float]]:
    """C-H stretches and bends, with counts: aromatic H / 2, vinyl H, CH3 / CH2 / CH groups."""
    cnt = Counter()
    for a in mol.GetAtoms():
        if a.GetSymbol() != "C":
            continue
        nh = a.GetTotalNumHs()
        if a.GetIsAromatic():
            cnt["CH_ar"] += nh
        elif a.GetHybridization() == _SP3 and nh:
            cnt[f"CH{nh}_sp3"] += 1
        elif a.GetHybridization() == _SP2 and not has_double_bond_to(a, "O"):
            cnt["CH_vinyl"] += nh
    for key, groups, n in (
        ("CH_ar", ("C-H aromatic", "aromatic ring"), (cnt["CH_ar"] / 2, 1)),
        ("CH_vinyl", ("C-H vinyl", "vinyl C-H wag"), (cnt["CH_vinyl"], 1)),
        ("CH3_sp3", ("CH3",), (cnt["CH3_sp3"],)),
        ("CH2_sp3", ("CH2",), (cnt["CH2_sp3"],)),
        ("CH1_sp3", ("CH",), (cnt["CH1_sp3"],)),
    ):
        if cnt[key]:
            yield from zip(groups, n)


def _ring_h_runs(mol) -> Iterator[int]:
    """Lengths of the runs of adjacent ring H on each aromatic six ring (6: no substituent)."""
    for ring in mol.GetRingInfo().AtomRings():
        if len(ring) != 6 or not all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring):
            continue
        has_h = [mol.GetAtomWithIdx(i).GetTotalNumHs() > 0 for i in ring]
        if all(has_h):
            yield 6
            continue
        k0 = has_h.index(False)
        run = 0
        for h in has_h[k0:] + has_h[:k0] + [False]:
            if h:
                run += 1
            elif run:
                yield run
                run = 0


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
        return render_lines(ir_templates.predict(mol), rng)
    raise ValueError(f"unknown IR style {style!r}; known: {STYLES}")
