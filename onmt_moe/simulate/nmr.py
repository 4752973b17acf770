"""1H / 13C NMR peak lists.

Shifts come either from csp5 (``predict_csp5``: graph neural network trained on
experimental shifts, ships its weights inside the wheel) or from the crude
additive-increment estimate in :mod:`onmt_moe.simulate.nmr_fast`.

Both give per-heavy-atom shifts: ``c_shift[i]`` for carbon i and ``h_shift[i]``
for the (mean) proton shift of the hydrogens attached to heavy atom i.  The
peak builders below turn those into benchmark-style peak lists:

* symmetry-equivalent atoms are grouped with
  ``Chem.CanonicalRankAtoms(mol, breakTies=False)``, split where the predicted
  shifts differ (``shift_groups``);
* 1H multiplicity is first order: vicinal (H-X-Y-H) couplings to the groups of
  neighbouring protons, plus aromatic meta couplings; J values come from a small
  table keyed on the bond environment, equal J values are merged, so a CH2
  between CH3 and CH2 becomes a sextet ('h');
* exchangeable O-H protons, and N-H on aromatic N, are broad singlets;
  amine/amide N-H couple to neighbouring C-H;
* spectrometer frequency 400 MHz (1H) / 100 MHz (13C).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from math import comb

import numpy as np
from rdkit import Chem

H_FREQ_MHZ = 400.0
C_FREQ_MHZ = 100.6
LINE_WIDTH_HZ = 12.0  # full range added to the coupling span (like the real peak lists)
BROAD_WIDTH_HZ = 40.0  # exchangeable protons
MULTIPLET_NAMES = {1: "d", 2: "t", 3: "q", 4: "p", 5: "h", 6: "hept"}
J_MERGE_TOL_HZ = 1.0
MAX_PARTNER_PROTONS = 7  # more coupled protons than this -> "m"
MAX_LETTERS = 4  # dddd is allowed, more distinct couplings -> 'm'


# ----------------------------------------------------------------- helpers ---


def equivalence_classes(mol: Chem.Mol) -> list[int]:
    """Symmetry class per atom (topological, ties not broken)."""
    return list(Chem.CanonicalRankAtoms(mol, breakTies=False))


H_GROUP_TOL_PPM = 0.03  # graph-equivalent atoms predicted further apart than this stay apart
#                          (csp5 uses one 3D conformer, so truly equivalent atoms differ by ~0.01)
C_GROUP_TOL_PPM = 0.3


def shift_groups(mol: Chem.Mol, atoms, shift: dict[int, float], tol: float) -> list[list[int]]:
    """Peaks as lists of atom indices: graph-symmetry classes, split where the predicted
    shifts of members differ by more than tol (csp5 or the estimator sees them apart,
    e.g. the two N-methyls of DMAc)."""
    cls = equivalence_classes(mol)
    by_class = defaultdict(list)
    for i in atoms:
        if i in shift:
            by_class[cls[i]].append(i)
    groups = []
    for members in by_class.values():
        members = sorted(members, key=lambda i: (shift[i], i))
        cur = [members[0]]
        for i in members[1:]:
            if shift[i] - shift[cur[-1]] > tol:
                groups.append(cur)
                cur = []
            cur.append(i)
        groups.append(cur)
    return sorted(groups, key=lambda g: g[0])


def _bond_j(mol: Chem.Mol, a: Chem.Atom, b: Chem.Atom) -> float | None:
    """Vicinal 3J(H-a-b-H) in Hz for H on neighbouring heavy atoms a and b."""
    bond = mol.GetBondBetweenAtoms(a.GetIdx(), b.GetIdx())
    sa, sb = a.GetSymbol(), b.GetSymbol()
    if sa != "C" or sb != "C":
        # N-H / C-H coupling through N (amides, amines): ~5.5 Hz; not for O-H, S-H
        if {sa, sb} == {"C", "N"}:
            n = a if sa == "N" else b
            c = b if n is a else a
            if n.GetIsAromatic():
                return None
            # amide / sulfonamide N-H couples (slow exchange); amine N-H exchanges fast -> no coupling
            acyl = any(
                x.GetIdx() != c.GetIdx()
                and any(
                    bd.GetBondType() == Chem.BondType.DOUBLE and bd.GetOtherAtom(x).GetSymbol() in ("O", "S")
                    for bd in x.GetBonds()
                )
                for x in n.GetNeighbors()
            )
            return 5.0 if acyl else None
        return None
    if bond.GetIsAromatic():
        return _aromatic_vicinal_j(mol, a, b, bond)
    if bond.GetBondType() == Chem.BondType.DOUBLE:
        # no stereo analysis: cis ~10, trans ~16; use the E/Z flag if present
        st = bond.GetStereo()
        if st in (Chem.BondStereo.STEREOE, Chem.BondStereo.STEREOTRANS):
            return 15.8
        if st in (Chem.BondStereo.STEREOZ, Chem.BondStereo.STEREOCIS):
            return 10.5
        return 12.5 if not bond.IsInRing() else 10.0
    # single bond: sp3-sp3 ~7, vinyl/aldehyde neighbour
    if a.GetHybridization() == Chem.HybridizationType.SP2 or b.GetHybridization() == Chem.HybridizationType.SP2:
        # aldehyde CHO-CH: small (~2 Hz); allylic CH=C-CH: ~6.5 Hz
        for x in (a, b):
            for nb in x.GetNeighbors():
                bd = mol.GetBondBetweenAtoms(x.GetIdx(), nb.GetIdx())
                if nb.GetSymbol() == "O" and bd.GetBondType() == Chem.BondType.DOUBLE:
                    return 2.2
        if a.GetIsAromatic() or b.GetIsAromatic():
            return None
        return 6.6
    if a.GetHybridization() == Chem.HybridizationType.SP or b.GetHybridization() == Chem.HybridizationType.SP:
        return None
    if bond.IsInRing():
        return 6.2 if not bond.IsInRingSize(3) else 5.0
    return 7.1


def _ring_hetero_neighbours(mol: Chem.Mol, a: Chem.Atom, b: Chem.Atom) -> set[str]:
    """Symbols of aromatic ring heteroatoms bonded to a or b (other than a, b)."""
    out = set()
    for x in (a, b):
        for nb in x.GetNeighbors():
            if nb.GetIsAromatic() and nb.GetSymbol() != "C" and nb.GetIdx() not in (a.GetIdx(), b.GetIdx()):
                out.add(nb.GetSymbol())
    return out


def _aromatic_vicinal_j(mol: Chem.Mol, a: Chem.Atom, b: Chem.Atom, bond: Chem.Bond) -> float:
    """3J(H,H) across an aromatic C-C bond: benzene 7.6; next to a ring N (pyridine
    H2-H3) 4.9; five rings by heteroatom (furan 1.8 / thiophene 5.0 / pyrrole 2.6 at the
    2,3 bond, 3.4 at the 3,4 bond)."""
    het = _ring_hetero_neighbours(mol, a, b)
    if bond.IsInRingSize(5):
        if "O" in het:
            return 1.8
        if "S" in het:
            return 5.0
        if "N" in het:
            return 2.6
        return 3.4
    return 4.9 if "N" in het else 7.6


def _aromatic_meta_pairs(mol: Chem.Mol):
    """Pairs of aromatic CH atoms in the same six-ring at 1,3 positions (4J ~ 1.8 Hz)."""
    ri = mol.GetRingInfo()
    pairs = []
    for ring in ri.AtomRings():
        if len(ring) != 6 or not all(mol.GetAtomWithIdx(i).GetIsAromatic() for i in ring):
            continue
        for k in range(6):
            pairs.append((ring[k], ring[(k + 2) % 6]))
    return pairs


def _vary_j(J: float, bond: Chem.Bond, a: Chem.Atom, b: Chem.Atom, rng: np.random.Generator) -> float:
    """Seeded spread of a vicinal J like real molecules show: sp3-sp3 in rings spans
    ~2-12 Hz (axial/equatorial, ring pucker), chains ~6-8 Hz, aromatic/vinyl +-0.4 Hz.
    A plain table value +- 0.25 Hz would tell ring from chain from aromatic on its own."""
    sp3 = a.GetHybridization() == Chem.HybridizationType.SP3 and b.GetHybridization() == Chem.HybridizationType.SP3
    if sp3 and bond.IsInRing():
        return float(rng.uniform(2.5, 11.5))
    if sp3:
        return float(max(0.5, J + rng.normal(0.0, 0.6)))
    return float(max(0.5, J + rng.normal(0.0, 0.4)))


def _coupling_partners(mol: Chem.Mol, nh: list[int], rng: np.random.Generator | None):
    """For each heavy atom with H: list of (partner_atom_idx, J)."""
    partners = defaultdict(list)
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtom(), bond.GetEndAtom()
        i, j = a.GetIdx(), b.GetIdx()
        if not nh[i] or not nh[j]:
            continue
        if a.GetSymbol() == "O" or b.GetSymbol() == "O" or a.GetSymbol() == "S" or b.GetSymbol() == "S":
            continue
        J = _bond_j(mol, a, b)
        if J is None:
            continue
        if rng is not None:
            J = _vary_j(J, bond, a, b, rng)
        partners[i].append((j, J))
        partners[j].append((i, J))
    for i, j in _aromatic_meta_pairs(mol):
        if nh[i] and nh[j] and mol.GetAtomWithIdx(i).GetSymbol() == "C" and mol.GetAtomWithIdx(j).GetSymbol() == "C":
            J = 1.8 if rng is None else float(1.8 + rng.normal(0.0, 0.15))
            partners[i].append((j, J))
            partners[j].append((i, J))
    # geminal =CH2 coupling (2J ~ 1.5 Hz) is ignored: both H are on one atom.
    return partners


def _merge_js(couplings: list[tuple[float, int]]):
    """couplings: (J, n protons). Merge J values within tolerance, n adds up."""
    couplings = sorted(couplings, key=lambda t: -t[0])
    merged: list[list[float]] = []
    for J, n in couplings:
        if merged and abs(merged[-1][0] - J) <= J_MERGE_TOL_HZ:
            tot = merged[-1][1] + n
            merged[-1][0] = (merged[-1][0] * merged[-1][1] + J * n) / tot
            merged[-1][1] = tot
        else:
            merged.append([J, n])
    return [(float(J), int(n)) for J, n in merged]


def multiplet(couplings: list[tuple[float, int]]):
    """Category code and J string for first-order couplings [(J_Hz, n_protons)].

    Returns (category, j_values or None, span_hz).
    """
    if not couplings:
        return "s", None, 0.0
    merged = _merge_js(couplings)
    total = sum(n for _, n in merged)
    span = sum(J * n for J, n in merged)
    if total > MAX_PARTNER_PROTONS or len(merged) > MAX_LETTERS or any(n > 6 for _, n in merged):
        return "m", None, span
    cat = "".join(MULTIPLET_NAMES[n] for _, n in merged)  # largest J first
    js = "".join(f"{J:.2f}_" for J, _ in sorted(merged))  # ascending, trailing '_'
    return cat, js, span


# -------------------------------------------------------------- peak lists ---

# nJ(H,F) in Hz: geminal CHF 47, vicinal H-C-C-F 20 (aliphatic) / 8.8 (aromatic ortho),
# aromatic meta 5.5; longer ones (< 2 Hz) are not resolved
J_HF_GEMINAL = 47.0
J_HF_VICINAL = {"aromatic": 8.8, "aliphatic": 20.0}
J_HF_AROMATIC_META = 5.5
# Auto-analysis of a (simulated) spectrum integrates each multiplet with some error: the real
# benchmark peak lists add up to the formula's H count in only ~52 % of rows (mostly 1-2 H
# short).  Reported nH = max(1, round(nH * exp(N(INTEGRAL_BIAS, INTEGRAL_SD)))).
INTEGRAL_BIAS = -0.06
INTEGRAL_SD = 0.12


def _hf_couplings(mol: Chem.Mol, dm) -> dict[int, list[float]]:
    """Per H-bearing carbon: the resolved J(H,F) values, one per fluorine."""
    fs = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "F"]
    out = defaultdict(list)
    for f in fs:
        for a in mol.GetAtoms():
            if a.GetSymbol() != "C" or not a.GetTotalNumHs():
                continue
            d = int(dm[a.GetIdx(), f])
            if d == 1:
                out[a.GetIdx()].append(J_HF_GEMINAL)
            elif d == 2:
                out[a.GetIdx()].append(J_HF_VICINAL["aromatic" if a.GetIsAromatic() else "aliphatic"])
            elif d == 3 and a.GetIsAromatic() and mol.GetAtomWithIdx(f).GetNeighbors()[0].GetIsAromatic():
                out[a.GetIdx()].append(J_HF_AROMATIC_META)
    return out


def integrate(peaks: list[dict], rng: np.random.Generator | None) -> list[dict]:
    """Reported integrals (nH) with auto-analysis error (see INTEGRAL_BIAS / INTEGRAL_SD)."""
    if rng is None:
        return peaks
    for p in peaks:
        p["nH"] = max(1, int(round(p["nH"] * float(np.exp(rng.normal(INTEGRAL_BIAS, INTEGRAL_SD))))))
    return peaks


def build_h_peaks(
    mol: Chem.Mol,
    h_shift: dict[int, float],
    rng: np.random.Generator | None = None,
    merge_overlaps: bool = True,
    integration_error: bool = True,
):
    """Benchmark-style 1H peak list (dicts), descending rangeMax.

    mol: heavy-atom molecule (implicit H). h_shift: heavy atom idx -> ppm.
    With an rng and ``integration_error`` the reported nH carry integration error
    (``integrate``); without, every H appears exactly once.
    """
    nh = [a.GetTotalNumHs() for a in mol.GetAtoms()]
    partners = _coupling_partners(mol, nh, rng)
    hf = _hf_couplings(mol, Chem.GetDistanceMatrix(mol))
    groups = shift_groups(mol, [i for i in range(mol.GetNumAtoms()) if nh[i]], h_shift, H_GROUP_TOL_PPM)
    group_of = {i: g for g, members in enumerate(groups) for i in members}
    diastereotopic = _diastereotopic_ch2(mol)
    peaks = []
    for c, members in enumerate(groups):
        rep = members[0]
        atom = mol.GetAtomWithIdx(rep)
        delta = float(np.mean([h_shift[i] for i in members]))
        n_h = int(sum(nh[i] for i in members))
        broad = atom.GetSymbol() == "O" or atom.GetSymbol() == "S" or (atom.GetSymbol() == "N" and atom.GetIsAromatic())
        if broad or atom.GetSymbol() == "N" and not partners.get(rep):
            width = BROAD_WIDTH_HZ if atom.GetSymbol() != "S" else LINE_WIDTH_HZ
            peaks.append(_peak("s", None, 0.0, width, delta, n_h, rng))
            continue
        # couplings from the representative atom to other classes
        by_j = []
        for j, J in partners.get(rep, []):
            if group_of.get(j) == c:
                continue  # equivalent protons do not split each other (first order)
            by_j.append((J, nh[j]))
        by_j += [(J if rng is None else float(J + rng.normal(0.0, 0.5)), 1) for J in hf.get(rep, [])]
        if rep in diastereotopic:
            peaks += _diastereotopic_pair(delta, len(members), by_j, rng)
        else:
            cat, js, span = multiplet(by_j)
            peaks.append(_peak(cat, js, span, LINE_WIDTH_HZ, delta, n_h, rng))
    peaks.sort(key=lambda p: -p["rangeMax"])
    peaks = _merge_overlaps(peaks) if merge_overlaps else peaks
    return integrate(peaks, rng) if integration_error else peaks


J_GEMINAL_RANGE_HZ = (11.5, 14.5)  # 2J(H,H) of an sp3 CH2 (magnitude)
DIASTEREOTOPIC_SPLIT_PPM = (0.15, 0.1)  # mean, sd of |delta(Ha) - delta(Hb)|


def _peak(cat, js, span, width, delta, n_h, rng):
    half = (span + width) / 2.0 / H_FREQ_MHZ
    jitter = 0.0 if rng is None else float(rng.normal(0.0, 0.0008))
    return {
        "category": cat,
        "centroid": delta + jitter,
        "delta": delta,
        "j_values": js,
        "nH": n_h,
        "rangeMax": delta + half,
        "rangeMin": delta - half,
    }


def _diastereotopic_ch2(mol: Chem.Mol) -> set[int]:
    """sp3 CH2 carbons whose two H are diastereotopic: within 3 bonds of a (possible)
    stereocentre, so the two faces differ and the H have different shifts."""
    centres = [i for i, _ in Chem.FindMolChiralCenters(mol, includeUnassigned=True, useLegacyImplementation=False)]
    if not centres:
        return set()
    dm = Chem.GetDistanceMatrix(mol)
    return {
        a.GetIdx()
        for a in mol.GetAtoms()
        if a.GetSymbol() == "C"
        and a.GetTotalNumHs() == 2
        and a.GetHybridization() == Chem.HybridizationType.SP3
        and min(dm[a.GetIdx(), c] for c in centres) <= 3
    }


def _diastereotopic_pair(delta, n_each, by_j, rng):
    """Two peaks (Ha, Hb) of a diastereotopic CH2: split by a seeded shift difference,
    each coupled to the other (geminal 2J) and, with its own J values, to the neighbours."""
    mean, sd = DIASTEREOTOPIC_SPLIT_PPM
    split = mean if rng is None else float(np.clip(abs(rng.normal(mean, sd)), 0.02, 0.5))
    j_gem = float(np.mean(J_GEMINAL_RANGE_HZ)) if rng is None else float(rng.uniform(*J_GEMINAL_RANGE_HZ))
    out = []
    for sign in (1, -1):
        own = [(J if rng is None else float(max(0.5, J + rng.normal(0.0, 1.5))), n) for J, n in by_j]
        cat, js, span = multiplet(own + [(j_gem, 1)])
        out.append(_peak(cat, js, span, LINE_WIDTH_HZ, delta + sign * split / 2, n_each, rng))
    return out


def _merge_overlaps(peaks):
    """Peaks whose ranges overlap merge into one 'm' (as a peak picker would report them)."""
    if len(peaks) < 2:
        return peaks
    out = [dict(peaks[0])]
    for p in peaks[1:]:
        q = out[-1]
        if p["rangeMax"] > q["rangeMin"]:
            n = q["nH"] + p["nH"]
            q["delta"] = (q["delta"] * q["nH"] + p["delta"] * p["nH"]) / n
            q["centroid"] = (q["centroid"] * q["nH"] + p["centroid"] * p["nH"]) / n
            q["nH"] = n
            q["rangeMin"] = min(q["rangeMin"], p["rangeMin"])
            q["rangeMax"] = max(q["rangeMax"], p["rangeMax"])
            q["category"], q["j_values"] = "m", None
        else:
            out.append(dict(p))
    return out


# nJ(C,F) in Hz (textbook ranges: 1J 245-285, 2J 20-35, 3J 5-10, 4J 1-3)
J_CF_ONE_BOND = {1: 245.0, 2: 250.0, 3: 272.0}  # by the number of F on the carbon (Ar-F / CF2 / CF3)
J_CF_ONE_BOND_ALIPHATIC_CHF = 165.0  # sp3 CH2F / CHF: smaller (~160-170 Hz)
J_CF_LONG = {2: 25.0, 3: 7.0, 4: 2.0}
MAX_C_LINES_PER_CARBON = 12  # the smallest couplings are left unresolved beyond this
C_LINE_MERGE_PPM = 0.005  # lines closer than this (0.5 Hz) are one line


def _cf_couplings(mol: Chem.Mol, dm) -> dict[int, list[tuple[float, int]]]:
    """Per carbon: [(nJ(C,F) Hz, number of F with that coupling)], largest J first.

    F atoms at the same bond distance share one J, so n equivalent-J fluorines give a
    binomial (n+1)-line multiplet (CF3: 1:3:3:1 quartet) instead of 2**n doublet splits.
    """
    fs = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "F"]
    out = {}
    for a in mol.GetAtoms():
        if a.GetSymbol() != "C" or not fs:
            continue
        by_dist = Counter(int(dm[a.GetIdx(), f]) for f in fs)
        js = []
        for d, n in sorted(by_dist.items()):
            if d == 1:
                aliphatic_h = a.GetHybridization() == Chem.HybridizationType.SP3 and a.GetTotalNumHs() > 0
                js.append((J_CF_ONE_BOND_ALIPHATIC_CHF if aliphatic_h else J_CF_ONE_BOND.get(n, 272.0), n))
            elif d in J_CF_LONG:
                js.append((J_CF_LONG[d], n))
        if js:
            out[a.GetIdx()] = js
    return out


def cf_multiplet(delta: float, couplings: list[tuple[float, int]]) -> list[tuple[float, float]]:
    """(shift ppm, relative weight summing to 1) lines of one carbon coupled to fluorines.

    Binomial multiplet per J, combined first order; coincident lines merge; when the
    pattern would exceed MAX_C_LINES_PER_CARBON the smallest couplings are dropped
    (unresolved, as in a real spectrum they only broaden the lines).
    """
    kept, n_lines = [], 1
    for J, n in sorted(couplings, key=lambda t: -t[0]):
        if n_lines * (n + 1) > MAX_C_LINES_PER_CARBON:
            break
        kept.append((J, n))
        n_lines *= n + 1
    lines = {0.0: 1.0}
    for J, n in kept:
        step = J / C_FREQ_MHZ
        nxt = defaultdict(float)
        for off, w in lines.items():
            for k in range(n + 1):
                pos = off + (k - n / 2.0) * step
                nxt[round(pos / C_LINE_MERGE_PPM) * C_LINE_MERGE_PPM] += w * comb(n, k) / 2.0**n
        lines = nxt
    return [(delta + off, w) for off, w in sorted(lines.items())]


def build_c_peaks(mol: Chem.Mol, c_shift: dict[int, float], rng: np.random.Generator | None = None):
    """Benchmark-style 13C peak list, descending 'delta (ppm)'.

    Intensity grows with the number of equivalent carbons and (NOE) with the
    number of attached H; quaternary carbons are weak. C-F couplings give binomial
    multiplets (see ``cf_multiplet``).
    """
    carbons = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "C"]
    groups = shift_groups(mol, carbons, c_shift, C_GROUP_TOL_PPM)
    dm = Chem.GetDistanceMatrix(mol)
    cf = _cf_couplings(mol, dm)
    lines = []
    for members in groups:
        rep = members[0]
        delta = float(np.mean([c_shift[i] for i in members]))
        nh = mol.GetAtomWithIdx(rep).GetTotalNumHs()
        inten = 0.05 * len(members) * (1.0 + 0.35 * min(nh, 3)) / 1.7
        if rng is not None:
            inten *= float(np.exp(rng.normal(0.0, 0.05)))
        for s, frac in cf_multiplet(delta, cf.get(rep, [])):
            w = inten * frac
            width = 0.0119 if rng is None else float(0.0119 * np.exp(rng.normal(0.0, 0.03)))
            lines.append(
                {"delta (ppm)": float(s), "integral": float(w * 0.0188), "intensity": float(w), "width (ppm)": width}
            )
    lines.sort(key=lambda p: -p["delta (ppm)"])
    return lines


# ------------------------------------------------------------------- csp5 ----


def csp5_raw(
    smiles: list[str], nucleus: str, batch_size: int = 64, num_workers: int = 1, seed: int = 0, device: str = "auto"
):
    """Run csp5 for one nucleus; returns a DataFrame (molecule_id, atom_index, shift_ppm, parent_index).

    ``parent_index`` is the heavy atom an H is bonded to (1H), or the atom itself
    (13C); -1 where the csp5 atom order does not start with the heavy atoms of
    ``Chem.MolFromSmiles(smiles)`` (treated as a failure later).
    """
    import csp5
    import pandas as pd

    res = csp5.predict_smiles(
        list(smiles), nucleus=nucleus, batch_size=batch_size, num_workers=num_workers, random_seed=seed, device=device
    )
    # csp5 numbers only the molecules it processed, so map back to the input through the SMILES
    recs = {r.molecule_id: r for r in res.molecule_records}
    index_of = {s: k for k, s in enumerate(smiles)}
    df = res.predictions
    rows = []
    for cid, sub in df.groupby("molecule_id", sort=False):
        rec = recs.get(cid)
        mid = index_of.get(str(sub.smiles.iloc[0]))
        if mid is None and rec is not None:
            mid = index_of.get(rec.smiles)
        if mid is None:
            continue
        ref = Chem.MolFromSmiles(smiles[mid])
        ok = rec is not None and ref is not None and rec.mol is not None
        if ok:
            rm, n = rec.mol, ref.GetNumAtoms()
            ok = rm.GetNumAtoms() >= n and all(
                rm.GetAtomWithIdx(i).GetSymbol() == ref.GetAtomWithIdx(i).GetSymbol() for i in range(n)
            )
        for i, sh in zip(sub.atom_index, sub.shift_ppm):
            parent = -1
            if ok:
                at = rm.GetAtomWithIdx(int(i))
                if at.GetSymbol() == "H":
                    nbs = [x.GetIdx() for x in at.GetNeighbors()]
                    parent = nbs[0] if nbs and nbs[0] < n else -1
                elif int(i) < n:
                    parent = int(i)
            rows.append((int(mid), int(i), float(sh), parent))
    return pd.DataFrame(rows, columns=["molecule_id", "atom_index", "shift_ppm", "parent_index"])


def collect_csp5(smiles: list[str], raw_c, raw_h):
    """Combine the two csp5_raw frames into [(c_shift, h_shift) or None] per molecule."""
    c = defaultdict(dict)
    for mid, par, sh in zip(raw_c.molecule_id, raw_c.parent_index, raw_c.shift_ppm):
        if par >= 0:
            c[int(mid)][int(par)] = float(sh)
    acc = defaultdict(lambda: defaultdict(list))
    for mid, par, sh in zip(raw_h.molecule_id, raw_h.parent_index, raw_h.shift_ppm):
        if par >= 0:
            acc[int(mid)][int(par)].append(float(sh))
    results = []
    for k, smi in enumerate(smiles):
        ref = Chem.MolFromSmiles(smi)
        n_c = sum(a.GetSymbol() == "C" for a in ref.GetAtoms())
        n_hat = sum(1 for a in ref.GetAtoms() if a.GetTotalNumHs() > 0)
        cs = c.get(k, {})
        hs = {i: float(np.mean(v)) for i, v in acc.get(k, {}).items()}
        # require every carbon, and every H-bearing heavy atom, to have a shift
        results.append((cs, hs) if len(cs) >= n_c and len(hs) >= n_hat else None)
    return results


def predict_csp5(smiles: list[str], batch_size: int = 64, num_workers: int = 1, seed: int = 0):
    """csp5 shifts for canonical SMILES.

    Returns a list (one per input) of (c_shift, h_shift) dicts keyed on the
    heavy-atom index of ``Chem.MolFromSmiles(smiles)``, or None on failure.
    """
    raw_c = csp5_raw(smiles, "13C", batch_size, num_workers, seed)
    raw_h = csp5_raw(smiles, "1H", batch_size, num_workers, seed)
    return collect_csp5(smiles, raw_c, raw_h)
