"""The spectrum simulator against *measured* spectra of the same molecules (``make realism``).

Three parts, each skipped with a printed line when its input is absent (its rows in an existing
table are then kept as they were):

* **IR**: NIST gas-phase reference spectra (the JCAMP-DX files in the test data of the ``jcamp``
  project, not redistributed here: ``data/real_ir/README.md``), structures from the hand-written
  ``data/real_ir/nist_ir_structures.tsv``; a structure whose formula differs from the file's
  ``##MOLFORM`` is refused. Each spectrum is read by the predictor's reader (absorbance on the
  400–4000 cm⁻¹ grid of the corpus) and compared with both simulator styles. Metric: the cosine of
  the two absorbance vectors (``compare.ir_cosine``; it does not depend on their scale, so each can
  be taken as scaled to a maximum of 1) over the grid points the measured file covers. Two rows per
  style: every compound with a structure (water, CO2, SF6, … included), and only the molecules in
  the simulator's domain (below).
* **MS/MS**: MassBank spectra in MGF (``data/real_msms/``), [M+H]+ and [M−H]− only (the simulator's
  two precursors). Metric: matched-peak cosine (matchms ``CosineGreedy``, the definition
  ``compare.matched_cosine`` also implements) at ``MZ_TOL`` Da, against the simulated spectrum at the
  collision energy nearest the recorded one on a log scale (the predictor's ``energy_slot``; a ramp
  counts as its midpoint, a normalised energy in % as that number of eV).
* **NMR**: the literature ¹H/¹³C set (``data/real_nmr/literature.tsv``) against the fast increment
  estimate and, where csp5 is installed (``make install-extras``), csp5's shifts (rows ``csp5``);
  metric: ``compare.shift_mae``, the 1-D Wasserstein distance of the shift lists (ppm).

Every simulated spectrum is noiseless (no random draws): the simulator's expected spectrum. The
simulator's domain is the elements, charge and minimum size of its molecule filter
(``molecules.TIERS['small']``: at least 3 heavy atoms and 2 carbons), with no upper size; MS/MS and
NMR compare only molecules inside it. Every spectrum left out goes to ``<out>.rejects.tsv``
(``source, id, reason``) and is counted in the ``n_skipped`` column of its rows.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
from rdkit import Chem

from onmt_moe.predict import InputError
from onmt_moe.predict import readers as rd
from onmt_moe.simulate import compare, ir, molecules, msms, nmr, nmr_fast

COLUMNS = ["modality", "variant", "reference", "n", "n_skipped", "median", "q25", "q75", "metric", "machine"]
REJECT_COLUMNS = ["source", "id", "reason"]
MZ_TOL = 0.01  # Da: high-resolution ESI (QTOF / Orbitrap, a few ppm at m/z < 1000)
PRECURSOR_TOL = 0.5  # Da: the recorded precursor m/z against the structure's [M+H]+ / [M-H]-
IR_STYLES = ("experiment", "benchmark")
ADDUCT_MODE = {"[M+H]+": "positive", "[M-H]-": "negative"}
# the simulator's domain: its molecule filter's elements, charge and minimum size, without an upper size
DOMAIN = replace(molecules.TIERS["small"], max_heavy_atoms=10**6, max_smiles_len=10**6)
IR_REFERENCE = "NIST gas-phase IR (jcamp test data), every compound"
IR_REFERENCE_DOMAIN = "NIST gas-phase IR (jcamp test data), simulator domain"
MSMS_REFERENCE = "MassBank LC-MS/MS"
NMR_REFERENCE = "literature NMR (data/real_nmr)"
IR_METRIC = "cosine of absorbance over the measured range"
MSMS_METRIC = f"matched-peak cosine, {MZ_TOL:g} Da, nearest collision energy"
NMR_METRIC = "shift MAE (ppm, Wasserstein)"
GET_IR = (
    "git clone https://github.com/nzhagen/jcamp and pass --ir_dir jcamp/data/infrared_spectra "
    "(see data/real_ir/README.md)"
)


@dataclass
class Rejects:
    """Everything left out: (source, id, reason); ``source`` names the rows it counts in: a modality
    ('IR', 'MS/MS', 'NMR' for both nuclei), a modality and variant ('MS/MS negative') or 'IR domain'."""

    items: list[tuple[str, str, str]]

    def add(self, source: str, ident: str, reason: str) -> None:
        self.items.append((source, ident, reason))

    def count(self, *sources: str) -> int:
        return sum(s in sources for s, _, _ in self.items)


def domain_reason(mol: Chem.Mol | None) -> str | None:
    """Why a molecule is outside the simulator's domain, or None."""
    why = molecules.filter_reason(mol, DOMAIN)
    return None if why is None else f"outside the simulator's molecule domain ({why})"


def summary_row(modality: str, variant: str, reference: str, values, skipped: int, metric: str) -> dict:
    v = np.asarray(values, float)
    q25, med, q75 = np.percentile(v, [25, 50, 75]) if v.size else (math.nan,) * 3
    return {
        "modality": modality,
        "variant": variant,
        "reference": reference,
        "n": int(v.size),
        "n_skipped": skipped,
        "median": round(float(med), 4),
        "q25": round(float(q25), 4),
        "q75": round(float(q75), 4),
        "metric": metric,
    }


# ------------------------------------------------------------------------------------------------------- IR

_MOLFORM_TOKEN = re.compile(r"\(|\)\s*\d*|[A-Z][a-z]?\s*\d*")


def molform_counts(text: str) -> Counter:
    """Element counts of a NIST ``##MOLFORM`` ('C H3 C O C H3', '1,2-( C H3)2 C6 H4', 'C 4 H 8')."""
    text = re.sub(r"^\s*\d+(?:,\d+)*-", "", text).replace(":", " ")  # a locant prefix; ':' marks a double bond
    stack = [Counter()]
    for tok in _MOLFORM_TOKEN.findall(text):
        if tok == "(":
            stack.append(Counter())
        elif tok.startswith(")"):  # a closed group, times the number after it
            inner, times = stack.pop(), int(tok[1:].strip() or 1)
            stack[-1].update({k: v * times for k, v in inner.items()})
        else:
            m = re.match(r"([A-Z][a-z]?)\s*(\d*)", tok)  # 'C 4' (Sadtler) is C4
            stack[-1][m.group(1)] += int(m.group(2) or 1)
    return stack[0]


def smiles_counts(mol: Chem.Mol) -> Counter:
    return Counter(a.GetSymbol() for a in Chem.AddHs(mol).GetAtoms())


def jcamp_header(path: str) -> dict[str, str]:
    """The ``##KEY=value`` lines before the data (keys upper case, first occurrence)."""
    out: dict[str, str] = {}
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            m = re.match(r"##\s*([^=]+?)\s*=\s*(.*?)\s*$", line)
            if not m:
                continue
            key = m.group(1).upper()
            if key in ("XYDATA", "PEAK TABLE", "XYPOINTS"):
                break
            out.setdefault(key, m.group(2))
    return out


def read_structures(path: str) -> list[dict]:
    """The rows of the structures table (lines starting with '#' are comments)."""
    with open(path, encoding="utf-8") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@dataclass
class IrRef:
    id: str  # the file name
    smiles: str
    absorbance: np.ndarray  # on ir.IR_GRID
    mask: np.ndarray  # grid points inside the measured range


def ir_reference(path: str, row: dict) -> IrRef:
    """One measured IR spectrum with its structure; InputError (one line) when it cannot be used."""
    mol = Chem.MolFromSmiles(row["smiles"])
    if mol is None:
        raise InputError(f"SMILES {row['smiles']!r} does not parse")
    molform = jcamp_header(path).get("MOLFORM")
    if not molform:
        raise InputError("no ##MOLFORM in the file to check the structure against")
    if molform_counts(molform) != smiles_counts(mol):
        raise InputError(f"the SMILES does not match ##MOLFORM {molform!r}")
    spec = rd.read_ir(path)
    lo, hi = spec.measured_cm1
    return IrRef(row["file"], row["smiles"], spec.absorbance, (ir.IR_GRID >= lo) & (ir.IR_GRID <= hi))


def ir_references(ir_dir: str, table: str, rejects: Rejects) -> tuple[list[IrRef], int]:
    """The usable spectra of ``ir_dir`` named in ``table`` and the number of files and rows looked at;
    each other file or row goes to ``rejects``."""
    rows = read_structures(table)
    listed = {r["file"] for r in rows}
    unlisted = [f for f in sorted(os.listdir(ir_dir)) if f.lower().endswith((".jdx", ".dx")) and f not in listed]
    for f in unlisted:
        rejects.add("IR", f, "not in the structures table (no NIST reference of a known compound)")
    refs = []
    for row in rows:
        path = os.path.join(ir_dir, row["file"])
        if not os.path.isfile(path):
            rejects.add("IR", row["file"], f"listed in the table but not in {ir_dir}")
            continue
        try:
            refs.append(ir_reference(path, row))
        except InputError as e:
            rejects.add("IR", row["file"], str(e).replace(path + ": ", ""))
    return refs, len(rows) + len(unlisted)


def ir_score(ref: IrRef, simulated) -> float:
    m = ref.mask
    return compare.ir_cosine(ref.absorbance[m], np.asarray(simulated, float)[m])


def simulate_ir(smiles: str, style: str) -> np.ndarray:
    return ir.simulate_ir(Chem.MolFromSmiles(smiles), None, style=style)


def ir_style_scores(refs: list[IrRef], style: str, rejects: Rejects) -> dict[str, float]:
    """File -> cosine of the measured spectrum and the simulated one in ``style``."""
    out = {}
    for ref in refs:
        try:
            out[ref.id] = ir_score(ref, simulate_ir(ref.smiles, style))
        except Exception as e:  # noqa: BLE001 - a simulator failure is a reject with its reason
            rejects.add(f"IR {style}", ref.id, f"simulation failed: {type(e).__name__}: {e}")
    return out


def ir_rows(ir_dir: str, table: str, rejects: Rejects) -> list[dict]:
    """Per style: every compound with a structure, then only those in the simulator's domain."""
    refs, n_inputs = ir_references(ir_dir, table, rejects)
    outside = set()
    for ref in refs:
        if why := domain_reason(Chem.MolFromSmiles(ref.smiles)):
            rejects.add("IR domain", ref.id, why)
            outside.add(ref.id)
    out = []
    for style in IR_STYLES:
        scores = ir_style_scores(refs, style, rejects)
        for reference, left_out in ((IR_REFERENCE, set()), (IR_REFERENCE_DOMAIN, outside)):
            vals = [v for k, v in scores.items() if k not in left_out]
            out.append(summary_row("IR", style, reference, vals, n_inputs - len(vals), IR_METRIC))
    return out


# --------------------------------------------------------------------------------------------------- MS/MS


def collision_energy(value) -> float | None:
    """eV of a recorded collision energy: 'Ramp 5-60 V' -> the midpoint 32.5, else its first number."""
    m = re.search(r"ramp\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)", str(value or ""), re.I)
    return (float(m.group(1)) + float(m.group(2))) / 2 if m else rd.parse_energy(value)


@dataclass
class MsmsRef:
    id: str
    smiles: str
    mode: str  # positive | negative
    energy: int  # the simulator energy used (msms.ENERGIES)
    peaks: np.ndarray  # (n, 2) m/z, intensity


def msms_reference(spec) -> MsmsRef:
    """One measured spectrum (a matchms Spectrum) with its structure; InputError when unusable."""
    adduct = str(spec.get("adduct") or "")
    if adduct not in ADDUCT_MODE:
        raise InputError(f"precursor type {adduct or 'not recorded'} (the simulator makes [M+H]+ and [M-H]-)")
    mode = ADDUCT_MODE[adduct]
    mol = Chem.MolFromSmiles(str(spec.get("smiles") or ""))
    if mol is None:
        raise InputError("no usable SMILES")
    if why := domain_reason(mol):
        raise InputError(why)
    pmz = spec.get("precursor_mz")
    # a check of structure and adduct, not of mass accuracy: some records give a nominal precursor (405.0)
    if pmz is None or abs(float(pmz) - compare.precursor_mz(mol, mode)) > PRECURSOR_TOL:
        raise InputError(f"precursor m/z {pmz} does not fit the structure's {adduct}")
    ev = collision_energy(spec.get("collision_energy"))
    if ev is None:
        raise InputError("collision energy not recorded")
    peaks = np.column_stack([spec.peaks.mz, spec.peaks.intensities]).astype(float)
    return MsmsRef(_spectrum_id(spec), str(spec.get("smiles")), mode, int(rd.energy_slot(ev)), peaks)


def _spectrum_id(spec) -> str:
    title = str(spec.get("title") or spec.get("compound_name") or "").split()
    return title[0] if title else "(untitled)"


def _mode_source(spec) -> str:
    mode = str(spec.get("ionmode") or "").lower()
    return f"MS/MS {mode}" if mode in ("positive", "negative") else "MS/MS"


def msms_references(path: str, rejects: Rejects) -> list[MsmsRef]:
    refs = []
    for spec in rd.load_spectra(path):
        try:
            refs.append(msms_reference(spec))
        except InputError as e:
            rejects.add(_mode_source(spec), _spectrum_id(spec), str(e))
    return refs


def simulate_msms(ref: MsmsRef) -> np.ndarray:
    """The simulator's noiseless spectrum of ``ref``'s molecule, mode and energy as (n, 2)."""
    ions = msms.candidate_ions(Chem.MolFromSmiles(ref.smiles), ref.mode)
    return compare.peak_array(msms.spectrum(ions, ref.energy, None, ref.mode))


def msms_cosine(a: np.ndarray, b: np.ndarray, tol: float = MZ_TOL) -> float:
    """matchms CosineGreedy (intensity power 1, m/z power 0) of two (n, 2) peak arrays."""
    from matchms import Spectrum
    from matchms.similarity import CosineGreedy

    def spectrum(p):
        p = p[np.argsort(p[:, 0])]  # matchms wants ascending m/z
        return Spectrum(mz=p[:, 0].copy(), intensities=p[:, 1].copy(), metadata={}, metadata_harmonization=False)

    return float(CosineGreedy(tolerance=tol).pair(spectrum(a), spectrum(b))["score"])


def msms_rows(path: str, rejects: Rejects) -> list[dict]:
    refs = msms_references(path, rejects)
    out = []
    for mode in ("positive", "negative"):
        scores = []
        for ref in (r for r in refs if r.mode == mode):
            try:
                scores.append(msms_cosine(ref.peaks, simulate_msms(ref)))
            except Exception as e:  # noqa: BLE001 - a simulator failure is a reject with its reason
                rejects.add(f"MS/MS {mode}", ref.id, f"simulation failed: {type(e).__name__}: {e}")
        out.append(
            summary_row("MS/MS", mode, MSMS_REFERENCE, scores, rejects.count("MS/MS", f"MS/MS {mode}"), MSMS_METRIC)
        )
    return out


# ----------------------------------------------------------------------------------------------------- NMR


def nmr_errors(row, rejects: Rejects, predict=None, variant: str = "fast") -> tuple[float | None, float | None]:
    """(13C, 1H) shift MAE of one literature row; None where that nucleus is left out (in ``rejects``).
    ``predict(row, mol) -> (c_shift, h_shift)`` (default: the fast estimate); the reject sources of a
    variant other than ``fast`` end in `` (variant)``; the domain check is counted once, under ``fast``."""
    mol = Chem.MolFromSmiles(row.smiles)
    if why := domain_reason(mol):
        if variant == "fast":
            rejects.add("NMR", row.id, why)
        return None, None
    tag = "" if variant == "fast" else f" ({variant})"
    try:
        c_shift, h_shift = predict(row, mol) if predict else nmr_fast.predict_fast(mol)
        sim_c, sim_h = nmr.build_c_peaks(mol, c_shift), nmr.build_h_peaks(mol, h_shift, integration_error=False)
    except Exception as e:  # noqa: BLE001 - the estimator has no answer for some atoms: a reject
        rejects.add("NMR" + tag, row.id, f"simulation failed: {type(e).__name__}: {e}")
        return None, None
    c = _mae_or_reject("13C NMR" + tag, row.id, rejects, lambda: _c_mae(row.c_text, sim_c))
    h = _mae_or_reject("1H NMR" + tag, row.id, rejects, lambda: _h_mae(row.h_text, sim_h))
    return c, h


def csp5_predictor(rows):
    """``predict(row, mol)`` from one batched csp5 call over every row's SMILES, or None without csp5."""
    try:
        import csp5  # noqa: F401  (make install-extras)
    except ImportError:
        return None
    smiles = sorted({r.smiles for r in rows if Chem.MolFromSmiles(r.smiles) is not None})
    shifts = dict(zip(smiles, nmr.predict_csp5(smiles), strict=True))  # keyed on the atoms of MolFromSmiles(smiles)

    def predict(row, mol):
        if shifts.get(row.smiles) is None:
            raise ValueError("csp5 gave no shift for some atom")
        return shifts[row.smiles]

    return predict


def _mae_or_reject(source: str, ident: str, rejects: Rejects, fn: Callable[[], float]) -> float | None:
    try:
        return fn()
    except InputError as e:  # the reader names its option ('--c_nmr: ...'): not needed here
        rejects.add(source, ident, re.sub(r"^--\w+: ", "", str(e)))
        return None


def _c_mae(text: str, sim_peaks) -> float:
    real = [{"delta (ppm)": s} for s in rd.read_c_nmr(text).shifts]
    return compare.shift_mae(real, sim_peaks, "delta (ppm)")


def _h_mae(text: str, sim_peaks) -> float:
    if not text:
        raise InputError("no measured 1H")
    peaks = rd.read_h_nmr(text).peaks  # a literature centroid is the middle of the range the reader gives
    real = [{"centroid": (p["rangeMax"] + p["rangeMin"]) / 2, "nH": p["nH"]} for p in peaks]
    return compare.shift_mae(real, sim_peaks, "centroid", "nH")


def nmr_rows(path: str, rejects: Rejects) -> list[dict]:
    from onmt_moe.runs.real_spectra import read_rows

    bad: list[tuple[str, str]] = []
    rows = read_rows(path, bad)
    for ident, reason in bad:
        rejects.add("NMR", ident, reason)
    variants = [("fast", None)]
    if (csp5 := csp5_predictor(rows)) is not None:
        variants.append(("csp5", csp5))
    out = []
    for variant, predict in variants:
        c_err, h_err = [], []
        for row in rows:
            c, h = nmr_errors(row, rejects, predict, variant)
            c_err += [] if c is None else [c]
            h_err += [] if h is None else [h]
        for nucleus, err in (("13C NMR", c_err), ("1H NMR", h_err)):
            # every row not scored is in the rejects file (unread rows and the domain once, each variant's failures)
            skipped = len(bad) + len(rows) - len(err)
            out.append(summary_row(nucleus, variant, NMR_REFERENCE, err, skipped, NMR_METRIC))
    return out


# ---------------------------------------------------------------------------------------------- the table

PARTS = ("IR", "MS/MS", "NMR")


def part_of(source: str) -> str:
    """The part a row's modality or a reject's source belongs to ('13C NMR' -> 'NMR')."""
    return next(p for p in PARTS if p in source.split())


def read_previous(csv_path: str) -> tuple[list[dict], list[tuple[str, str, str]]]:
    """The rows and rejects of an earlier run (empty when there is none)."""
    rows, rejects = [], []
    if os.path.isfile(csv_path):
        with open(csv_path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    rej = rejects_path(csv_path)
    if os.path.isfile(rej):
        with open(rej, newline="", encoding="utf-8") as fh:
            rejects = [(r["source"], r["id"], r["reason"]) for r in csv.DictReader(fh, delimiter="\t")]
    return rows, rejects


def rejects_path(csv_path: str) -> str:
    return os.path.splitext(csv_path)[0] + ".rejects.tsv"


def run(
    msms_path: str | None,
    ir_dir: str | None,
    ir_table: str | None,
    nmr_path: str | None,
    out: str,
    log=print,
    machine: str | None = None,
) -> tuple[list[dict], Rejects]:
    """Every part whose input exists; the rows and rejects of the others are kept from ``out``."""
    old_rows, old_rejects = read_previous(out)
    rows, rejects, skipped = [], Rejects([]), []
    inputs = {
        "IR": (ir_dir, ir_table, lambda: ir_rows(ir_dir, ir_table, rejects)),
        "MS/MS": (msms_path, msms_path, lambda: msms_rows(msms_path, rejects)),
        "NMR": (nmr_path, nmr_path, lambda: nmr_rows(nmr_path, rejects)),
    }
    for part, (first, second, fn) in inputs.items():
        if first and second and os.path.exists(first) and os.path.exists(second):
            machine = machine or _this_machine()
            rows += [dict(r, machine=machine) for r in fn()]
        else:
            skipped.append(part)
            log(_skip_line(part, first, second))
    rows += [r for r in old_rows if part_of(r["modality"]) in skipped]
    rejects.items += [r for r in old_rejects if part_of(r[0]) in skipped]
    rows.sort(key=lambda r: PARTS.index(part_of(r["modality"])))  # stable: a partial rerun writes the same file
    rejects.items.sort(key=lambda r: PARTS.index(part_of(r[0])))
    write(rows, rejects, out)
    return rows, rejects


def _this_machine() -> str:
    from onmt_moe.runs.runner import machine_line  # imports torch: only when a part runs

    return machine_line()


def _skip_line(part: str, first: str | None, second: str | None) -> str:
    missing = [p for p in (first, second) if p and not os.path.exists(p)]
    if part == "IR" and not first:
        why = f"no --ir_dir given; to get the NIST files: {GET_IR}"
    else:
        why = f"{', '.join(missing) or 'no input given'} not found"
    return f"{part}: skipped ({why}); its rows in the existing table, if any, are kept"


def write(rows: Iterable[dict], rejects: Rejects, out: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with open(rejects_path(out), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(REJECT_COLUMNS)
        w.writerows(rejects.items)


__all__ = [
    "COLUMNS",
    "MZ_TOL",
    "Rejects",
    "collision_energy",
    "ir_references",
    "ir_score",
    "molform_counts",
    "msms_cosine",
    "msms_references",
    "run",
    "simulate_ir",
    "simulate_msms",
]
