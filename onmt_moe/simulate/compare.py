"""Side-by-side statistics of real benchmark rows and our simulation of the same molecules.

``compare_rows(real_rows, sim_rows)`` returns a flat dict of statistics (real and simulated)
and per-molecule similarities; ``format_report`` prints them as a table.
Everything here reads only the spectra as a spectroscopist would (peak lists, m/z values,
the molecular formula), never our own internal fragment labels, so the same code measures
the real rows and ours.

Definitions (one place for each):
* IR line: a local maximum of the 1,800-point spectrum with prominence >= IR_PROMINENCE;
  its FWHM comes from ``scipy.signal.peak_widths`` at half prominence.
* IR baseline: the median of the spectrum (real rows: about 0). O-H max: the largest value
  in 3100-3800 cm-1 over molecules with an O-H group.
* MS/MS odd-electron peak: every elemental formula within MZ_TOL of its m/z that is a
  sub-formula of the precursor ion has an odd electron count (peaks with no candidate are
  not counted).  CH2 loss: a peak at precursor - 14.01565.  Complementary pair: two fragment
  peaks whose m/z add up to precursor + proton (positive) / precursor - proton (negative).
* Matched-peak cosine: greedy one-to-one matching of peaks within MZ_TOL by the product of
  intensities, as matchms ``CosineGreedy`` does (matchms itself is not a dependency: it pulls
  numba; this is 20 lines).
* Shift MAE: the 1-D Wasserstein distance between the real and simulated shift lists of a
  molecule (13C: one entry per peak; 1H: weighted by nH), i.e. the mean absolute shift error
  under the best monotone assignment, which needs no atom mapping.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors
from scipy.signal import find_peaks, peak_widths
from scipy.stats import wasserstein_distance

from . import ir, ir_templates, nmr, nmr_fast
from .ir import IR_GRID
from .msms import ENERGIES, M_E, M_P
from .rows import simulate_row

IR_PROMINENCE = 0.05
IR_STEP = float(IR_GRID[1] - IR_GRID[0])
MZ_TOL = 0.005
CH2 = 14.01565
MODES = ("positive", "negative")
_OH = Chem.MolFromSmarts("[OX2H]")


# ------------------------------------------------------------------ IR ------


def ir_lines(y) -> tuple[np.ndarray, np.ndarray]:
    """(positions cm-1, FWHM cm-1) of the lines of one spectrum."""
    y = np.asarray(y, dtype=float)
    idx, _ = find_peaks(y, prominence=IR_PROMINENCE)
    widths = peak_widths(y, idx, rel_height=0.5)[0] * IR_STEP if len(idx) else np.zeros(0)
    return IR_GRID[idx], widths


def ir_cosine(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    den = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / den) if den > 0 else 0.0


def ir_stats(spectra, has_oh) -> dict:
    counts, widths, low, base, oh = [], [], [], [], []
    for y, oh_flag in zip(spectra, has_oh):
        pos, w = ir_lines(y)
        counts.append(len(pos))
        widths.extend(w.tolist())
        low.append(int((pos < 1500).sum()))
        y = np.asarray(y, float)
        base.append(float(np.median(y)))
        if oh_flag:
            oh.append(float(y[(IR_GRID >= 3100) & (IR_GRID <= 3800)].max()))
    return {
        "ir_lines_median": float(np.median(counts)),
        "ir_fwhm_median_cm1": float(np.median(widths or [0])),
        "ir_lines_below_1500_median": float(np.median(low)),
        "ir_baseline_median": float(np.median(base)),
        "ir_oh_max_median": float(np.median(oh)) if oh else float("nan"),
    }


# ------------------------------------------------------------------ 1H ------


def _j_list(peaks):
    out = []
    for p in peaks:
        if p["j_values"]:
            out += [float(x) for x in p["j_values"].split("_") if x]
    return out


def formula_h_count(formula: str) -> int:
    import re

    m = re.search(r"H(\d*)(?![a-z])", formula)
    return 0 if m is None else int(m.group(1) or 1)


def h_stats(rows) -> dict:
    js, codes, match = [], Counter(), []
    for r in rows:
        peaks = list(r["h_nmr_peaks"])
        js += _j_list(peaks)
        codes.update(p["category"] for p in peaks)
        match.append(sum(int(p["nH"]) for p in peaks) == formula_h_count(r["molecular_formula"]))
    js = np.asarray(js) if js else np.zeros(1)
    q10, q50, q90 = np.percentile(js, [10, 50, 90])
    # share of J values within 0.3 Hz of a table value (reveals ring / chain / aromatic)
    return {
        "j_p10": float(q10),
        "j_p50": float(q50),
        "j_p90": float(q90),
        "j_distinct_0.1Hz_per_100": float(len(np.unique(np.round(js, 1))) / len(js) * 100),
        "h_multiplet_codes": len(codes),
        "h_share_m": codes["m"] / max(1, sum(codes.values())),
        "h_nH_matches_formula": float(np.mean(match)) if match else float("nan"),
    }


def shift_mae(real_peaks, sim_peaks, key: str, weight: str | None = None) -> float:
    rv = [float(p[key]) for p in real_peaks]
    sv = [float(p[key]) for p in sim_peaks]
    if not rv or not sv:
        return float("nan")
    rw = [float(p[weight]) for p in real_peaks] if weight else None
    sw = [float(p[weight]) for p in sim_peaks] if weight else None
    return float(wasserstein_distance(rv, sv, rw, sw))


# --------------------------------------------------------------- MS/MS ------

_ELECTRONS = {"C": 6, "H": 1, "N": 7, "O": 8, "S": 16, "F": 9, "Cl": 17, "Br": 35, "I": 53, "P": 15, "Si": 14, "B": 5}


class SubFormulaIndex:
    """All sub-formulas of a precursor ion, for telling even- from odd-electron fragment ions."""

    def __init__(self, mol: Chem.Mol, mode: str):
        counts = Counter()
        for a in Chem.AddHs(mol).GetAtoms():
            counts[a.GetSymbol()] += 1
        counts["H"] += 1 if mode == "positive" else -1
        pt = Chem.GetPeriodicTable()
        elems = sorted(counts)
        charge = 1 if mode == "positive" else -1
        masses, electrons = np.zeros(1), np.zeros(1, dtype=np.int64)
        for e in elems:  # outer sum over element counts 0..n (vectorised)
            k = np.arange(counts[e] + 1)
            masses = (masses[:, None] + k[None, :] * pt.GetMostCommonIsotopeMass(e)).ravel()
            electrons = (electrons[:, None] + k[None, :] * _ELECTRONS.get(e, pt.GetAtomicNumber(e))).ravel()
        masses = masses - charge * M_E
        electrons = electrons - charge
        order = np.argsort(masses)
        self.masses, self.odd = masses[order], (electrons[order] % 2 == 1)

    def odd_electron(self, mz: float) -> bool | None:
        lo, hi = np.searchsorted(self.masses, [mz - MZ_TOL, mz + MZ_TOL])
        if hi <= lo:
            return None
        return bool(self.odd[lo:hi].all())


def peak_array(peaks) -> np.ndarray:
    """[[m/z, intensity], ...] (lists or pandas' object arrays) as an (n, 2) float array."""
    return np.array([[float(p[0]), float(p[1])] for p in peaks], dtype=float).reshape(-1, 2)


def precursor_mz(mol: Chem.Mol, mode: str) -> float:
    return Descriptors.ExactMolWt(mol) + (M_P if mode == "positive" else -M_P)


def matched_cosine(a, b, tol: float = MZ_TOL) -> float:
    """Greedy matched-peak cosine of two [[m/z, intensity]] lists (matchms CosineGreedy, powers 0/1)."""
    a, b = peak_array(a), peak_array(b)
    if not len(a) or not len(b):
        return 0.0
    pairs = [
        (a[i, 1] * b[j, 1], i, j)
        for i, j in itertools.product(range(len(a)), range(len(b)))
        if abs(a[i, 0] - b[j, 0]) <= tol
    ]
    used_a, used_b, score = set(), set(), 0.0
    for s, i, j in sorted(pairs, reverse=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            score += s
    return float(score / (np.linalg.norm(a[:, 1]) * np.linalg.norm(b[:, 1])))


def msms_stats(rows, mols) -> dict:
    out = {}
    low, total, odd, known, comp, frag = 0, 0, 0, 0, 0, 0
    base = {e: [] for e in ENERGIES}
    ch2 = []
    counts = {(m, e): [] for m in MODES for e in ENERGIES}
    for r, mol in zip(rows, mols):
        for mode in MODES:
            prec = precursor_mz(mol, mode)
            index = SubFormulaIndex(mol, mode)
            partner_sum = prec + (M_P if mode == "positive" else -M_P)
            for e in ENERGIES:
                peaks = peak_array(r[f"msms_cfmid_{mode}_{e}ev"])
                counts[(mode, e)].append(len(peaks))
                if not len(peaks):
                    continue
                total += len(peaks)
                low += int((peaks[:, 1] < 5.0).sum())
                base[e].append(abs(peaks[np.argmax(peaks[:, 1]), 0] - prec) < MZ_TOL)
                fr = peaks[np.abs(peaks[:, 0] - prec) > MZ_TOL, 0]
                frag += len(fr)
                comp += sum(bool(np.any(np.abs(fr + x - partner_sum) < MZ_TOL)) for x in fr)
                for mz in fr:
                    flag = index.odd_electron(mz)
                    if flag is not None:
                        known += 1
                        odd += flag
                if e == 20:
                    ch2.append(bool(np.any(np.abs(peaks[:, 0] - (prec - CH2)) < MZ_TOL)))
    for (mode, e), c in counts.items():
        out[f"ms_peaks_median_{mode[:3]}_{e}eV"] = float(np.median(c))
    out["ms_share_intensity_below_5pct"] = low / max(1, total)
    for e in ENERGIES:
        out[f"ms_precursor_base_peak_{e}eV"] = float(np.mean(base[e])) if base[e] else float("nan")
    out["ms_complementary_pair_rate"] = comp / max(1, frag)
    out["ms_odd_electron_rate"] = odd / max(1, known)
    out["ms_ch2_loss_rate_20eV"] = float(np.mean(ch2)) if ch2 else float("nan")
    return out


# ------------------------------------------------------------ overall -------


def statistics(rows) -> dict:
    mols = [Chem.MolFromSmiles(r["smiles"]) for r in rows]
    stats = ir_stats([r["ir_spectra"] for r in rows], [m.HasSubstructMatch(_OH) for m in mols])
    stats.update(h_stats(rows))
    stats["c_peaks_mean"] = float(np.mean([len(r["c_nmr_peaks"]) for r in rows]))
    stats["c_peaks_max"] = float(max(len(r["c_nmr_peaks"]) for r in rows))
    stats.update(msms_stats(rows, mols))
    return stats


def _ir_fit_set() -> frozenset:
    """SMILES the benchmark-style IR weights were fitted on (empty if the file is missing)."""
    try:
        return ir_templates.load()[2]
    except FileNotFoundError:
        return frozenset()


def similarity(real_rows, sim_rows) -> dict:
    """Median per-molecule similarity of rows of the same molecules (paired by position).

    The IR cosine is also split into molecules the benchmark-style IR weights were fitted
    on and held-out ones (the honest number); the MS/MS energy model was tuned on the same
    fixture rows (example_data_1)."""
    fitted = _ir_fit_set()
    acc = {"ir_cosine": [], "ir_cosine_held_out": [], "ir_cosine_fit_rows": []}
    for mode in MODES:
        for e in ENERGIES:
            acc[f"ms_cosine_{mode[:3]}_{e}eV"] = []
    acc["c13_shift_mae_ppm"], acc["h1_shift_mae_ppm"] = [], []
    for r, s in zip(real_rows, sim_rows):
        if s is None:
            continue
        cos = ir_cosine(r["ir_spectra"], s["ir_spectra"])
        acc["ir_cosine"].append(cos)
        acc["ir_cosine_fit_rows" if r["smiles"] in fitted else "ir_cosine_held_out"].append(cos)
        for mode in MODES:
            for e in ENERGIES:
                col = f"msms_cfmid_{mode}_{e}ev"
                acc[f"ms_cosine_{mode[:3]}_{e}eV"].append(matched_cosine(r[col], s[col]))
        acc["c13_shift_mae_ppm"].append(shift_mae(r["c_nmr_peaks"], s["c_nmr_peaks"], "delta (ppm)"))
        acc["h1_shift_mae_ppm"].append(shift_mae(r["h_nmr_peaks"], s["h_nmr_peaks"], "centroid", "nH"))
    return {k: float(np.nanmedian(v)) if v else float("nan") for k, v in acc.items()}


def compare_rows(real_rows, sim_rows) -> dict:
    """{'real': stats, 'sim': stats, 'similarity': medians, 'n': ..., 'n_failed': ...}.

    sim_rows[i] is the simulation of real_rows[i]'s molecule, or None when it failed;
    the statistics use only the molecules both sides have.
    """
    pairs = [(r, s) for r, s in zip(real_rows, sim_rows) if s is not None]
    real_ok, sim_ok = [p[0] for p in pairs], [p[1] for p in pairs]
    fitted = _ir_fit_set()
    n_fit = sum(r["smiles"] in fitted for r in real_ok)
    return {
        "n": len(pairs),
        "n_failed": len(real_rows) - len(pairs),
        "n_ir_fit_rows": n_fit,
        "n_ir_held_out": len(real_ok) - n_fit,
        "real": statistics(real_ok),
        "sim": statistics(sim_ok),
        "similarity": similarity(real_ok, sim_ok),
    }


def format_report(res: dict) -> str:
    lines = [
        f"molecules compared: {res['n']} (simulation failed: {res['n_failed']})",
        "",
        f"{'statistic':40s} {'real':>10s} {'simulated':>10s}",
    ]
    for k, v in res["real"].items():
        lines.append(f"{k:40s} {v:10.3f} {res['sim'][k]:10.3f}")
    lines += ["", f"{'per-molecule similarity (median)':40s} {'value':>10s}"]
    for k, v in res["similarity"].items():
        lines.append(f"{k:40s} {v:10.3f}")
    lines.append(f"{'(IR rows: held out / fitted on)':40s} {res['n_ir_held_out']:>5d} / {res['n_ir_fit_rows']}")
    return "\n".join(lines)


def load_real_rows(paths) -> list[dict]:
    import pandas as pd

    cols = ["smiles", "molecular_formula", "h_nmr_peaks", "c_nmr_peaks", "ir_spectra"] + [
        f"msms_cfmid_{m}_{e}ev" for m in MODES for e in ENERGIES
    ]
    frames = []
    for p in paths:
        try:
            frames.append(pd.read_parquet(p, columns=cols))
        except Exception as exc:  # one clear line naming the file
            raise SystemExit(f"{p}: cannot read benchmark columns ({exc})") from None
    return pd.concat(frames, ignore_index=True).to_dict("records")


def formula_of(smiles: str) -> str:
    return rdMolDescriptors.CalcMolFormula(Chem.MolFromSmiles(smiles))


def simulate_like(real_rows, fast: bool = True, seed: int = 0, ir_style: str | None = None):
    """Our simulation of each real row's molecule (None where it fails), with the reasons."""
    smiles = [r["smiles"] for r in real_rows]
    if fast:
        shifts = [nmr_fast.predict_fast(Chem.MolFromSmiles(s)) for s in smiles]
    else:
        shifts = nmr.predict_csp5(smiles)
    out, failures = [], []
    for k, (smi, sh) in enumerate(zip(smiles, shifts)):
        try:
            out.append(simulate_row(k, smi, sh, seed, ir_style=ir_style or ir.DEFAULT_STYLE))
        except Exception as exc:  # counted and reported, never silently dropped
            out.append(None)
            failures.append((smi, f"{type(exc).__name__}: {exc}"))
    return out, failures
