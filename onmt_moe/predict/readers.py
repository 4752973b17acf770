"""Readers for a chemist's own files, built on the field's libraries.

* IR and NMR spectra as JCAMP-DX (``.jdx``/``.dx``, AFFN and the compressed ASDF forms):
  parsed by ``jcamp`` (nzhagen/jcamp); axis and ordinate units are checked here.
* MS/MS spectra as MGF, MSP or mzML: parsed by ``matchms`` (precursor m/z, ion mode and
  collision energy come from its harmonised metadata).
* NMR peak lists as CSV / text (one peak per line) or inline (``"198.1, 137.1, …"``).
* A molecular formula, checked element by element against RDKit's periodic table.

Every problem is an :class:`~onmt_moe.predict.InputError` naming the file and what is wrong.
Each reader also returns ``notes``: what it did to the data (unit conversions, resampling,
estimates), which the command prints.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from onmt_moe.predict import InputError

IR_AXIS = (400.0, 4000.0)  # cm-1; the benchmark's IR axis (docs/benchmark-format.md §2)
IR_POINTS_IN = 1800  # points per benchmark IR spectrum (linspace(400, 4000, 1800))
MIN_IR_COVERAGE = 0.5  # a spectrum must cover at least half of 400-4000 cm-1
MSMS_SLOTS = (10.0, 20.0, 40.0)  # eV of the E0/E1/E2 blocks (CFM-ID energies of the benchmark)
DEFAULT_ENERGY = 20.0
# 1H peak given as a centroid only: the range the benchmark data would hold is estimated as
# SINGLET_WIDTH + (total splitting in Hz) / field, MULTIPLET_WIDTH for an 'm' without J. Both are
# the median widths of s / m peaks in the benchmark's example_data_1 (0.034 / 0.078 ppm).
SINGLET_WIDTH = 0.034
MULTIPLET_WIDTH = 0.078
# lines - 1 per coupling letter of a multiplicity code (h = sextet, hept = septet)
_SPLIT_COUNT = {"s": 0, "d": 1, "t": 2, "q": 3, "p": 4, "h": 5, "hept": 6}


_INSTALL_HINT = {
    "jcamp": "pip install jcamp==1.3.2 (it is in requirements.txt)",
    "matchms": "make install-predict (matchms goes in with --no-deps: see requirements-predict.txt)",
}


def _need(module: str, pip_name: str):
    """Import a reader library on first use; a one-line install hint if it is missing."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"reading this file needs the '{pip_name}' package: {_INSTALL_HINT[pip_name]}") from None


# --------------------------------------------------------------------------- formula
@dataclass
class Formula:
    text: str  # Hill order, e.g. C8H8O (what the benchmark's RDKit formulas look like)
    counts: Counter
    notes: List[str] = field(default_factory=list)


def hill_formula(counts: Counter) -> str:
    """Hill order (C, H, then alphabetical; alphabetical without C), as RDKit's CalcMolFormula."""
    els = sorted(k for k in counts if k != "charge")
    if "C" in counts:
        els = ["C"] + (["H"] if "H" in counts else []) + [e for e in els if e not in ("C", "H")]
    body = "".join(e + (str(counts[e]) if counts[e] != 1 else "") for e in els)
    q = counts.get("charge", 0)
    return body + ("" if not q else ("+" if q > 0 else "-") + (str(abs(q)) if abs(q) != 1 else ""))


def read_formula(text: str) -> Formula:
    from rdkit import Chem

    from onmt_moe.evaluation.scoring import parse_formula

    raw = "".join(str(text).split())
    counts = parse_formula(raw)
    if counts is None:
        raise InputError(f"--formula {text!r}: not a molecular formula (expected e.g. C8H8O)")
    table = Chem.GetPeriodicTable()
    for el in counts:
        if el == "charge":
            continue
        try:
            table.GetAtomicNumber(el)
        except RuntimeError:
            raise InputError(f"--formula {text!r}: RDKit does not know the element {el!r}") from None
    hill = hill_formula(counts)
    notes = [] if hill == raw else [f"written in Hill order as {hill}"]
    return Formula(hill, counts, notes)


# --------------------------------------------------------------------------- JCAMP-DX
def read_jcamp(path: str) -> dict:
    """``jcamp.jcamp_readfile`` with the file named in every error; the first data block of a
    compound file."""
    jcamp = _need("jcamp", "jcamp")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # jcamp prints its X-check messages
            d = jcamp.readfile(path)
    except Exception as e:  # noqa: BLE001 - jcamp raises many kinds of errors on bad files
        raise InputError(f"{path}: not a readable JCAMP-DX file ({type(e).__name__}: {str(e)[:80]})") from None
    d["_xcheck_failures"] = printed.getvalue().count("X-Check failed")
    if "x" not in d and d.get("children"):
        with_data = [c for c in d["children"] if len(c.get("x", [])) > 0]
        if not with_data:
            raise InputError(f"{path}: JCAMP-DX compound file without a data block")
        d = with_data[0]
    x, y = np.asarray(d.get("x", []), float), np.asarray(d.get("y", []), float)
    if x.size < 2 or x.size != y.size:
        raise InputError(f"{path}: JCAMP-DX file has no XY data")
    keep = np.isfinite(x) & np.isfinite(y)
    d["x"], d["y"] = x[keep], y[keep]
    return d


def _jcamp_notes(d: dict) -> List[str]:
    n = d.get("_xcheck_failures", 0)
    return [f"jcamp reported {n} X-check mismatch(es) in the compressed data; values used as decoded"] if n else []


def _units(d: dict, key: str) -> str:
    return " ".join(str(d.get(key, "")).split()).upper()


@dataclass
class IRSpectrum:
    absorbance: np.ndarray  # IR_POINTS_IN values on linspace(400, 4000, 1800)
    source: str
    notes: List[str] = field(default_factory=list)


def _wavenumbers(d: dict, path: str):
    u = _units(d, "xunits")
    x = d["x"]
    if u in ("1/CM", "CM-1", "CM^-1", "WAVENUMBERS", "WAVENUMBER (CM-1)"):
        return x, None
    if u in ("MICROMETERS", "UM", "MICRONS", "WAVELENGTH (UM)"):
        return 1e4 / x, "wavelength in µm converted to wavenumbers (10^4 / λ)"
    if u in ("NANOMETERS", "NM", "WAVELENGTH (NM)"):
        return 1e7 / x, "wavelength in nm converted to wavenumbers (10^7 / λ)"
    raise InputError(
        f"{path}: XUNITS {d.get('xunits', '(none)')!r} is not an IR axis (expected 1/CM, MICROMETERS or NANOMETERS)"
    )


def _absorbance(d: dict, path: str):
    u = _units(d, "yunits")
    y = d["y"]
    if u in ("ABSORBANCE", "A", "ABS"):
        return y, None
    if u in ("TRANSMITTANCE", "T", "%T", "% TRANSMITTANCE", "TRANSMITTANCE (%)"):
        # A = -log10(T) (jcamp.calc_xsec does this too, but it also needs a path length and
        # returns cross-sections; the model wants absorbance shape only). Percent T if > 1.5.
        t = y / 100.0 if (u.startswith("%") or np.nanmax(y) > 1.5) else y
        t = np.clip(t, 1e-4, 1.0)  # T <= 0 or > 1 is noise: clip before the log
        return -np.log10(t), "transmittance converted to absorbance (A = -log10 T)"
    raise InputError(
        f"{path}: YUNITS {d.get('yunits', '(none)')!r} is not an IR ordinate (expected ABSORBANCE or TRANSMITTANCE)"
    )


def read_ir(path: str) -> IRSpectrum:
    """An IR JCAMP-DX file -> absorbance on the benchmark's 1,800-point 400-4000 cm-1 axis."""
    d = read_jcamp(path)
    wn, note_x = _wavenumbers(d, path)
    a, note_y = _absorbance(d, path)
    notes = [n for n in (note_x, note_y) if n] + _jcamp_notes(d)
    order = np.argsort(wn)
    wn, a = wn[order], a[order]
    lo, hi = IR_AXIS
    covered = (min(wn[-1], hi) - max(wn[0], lo)) / (hi - lo)
    if covered < MIN_IR_COVERAGE:
        raise InputError(
            f"{path}: the spectrum covers {wn[0]:.0f}-{wn[-1]:.0f} cm-1, less than "
            f"{MIN_IR_COVERAGE:.0%} of the model's {lo:.0f}-{hi:.0f} cm-1 axis"
        )
    grid = np.linspace(lo, hi, IR_POINTS_IN)
    baseline = float(np.min(a))
    # outside the measured range: the spectrum's own minimum (no band), said in the notes
    out = np.interp(grid, wn, a, left=baseline, right=baseline)
    notes.append(
        f"{wn.size} points {wn[0]:.0f}-{wn[-1]:.0f} cm-1 resampled to {IR_POINTS_IN} points {lo:.0f}-{hi:.0f} cm-1"
    )
    step = (hi - lo) / (IR_POINTS_IN - 1)
    if wn[0] > lo + step or wn[-1] < hi - step:
        notes.append(f"outside {max(wn[0], lo):.0f}-{min(wn[-1], hi):.0f} cm-1 filled with the baseline")
    if np.ptp(out) <= 0:
        raise InputError(f"{path}: the IR spectrum is flat between {lo:.0f} and {hi:.0f} cm-1")
    return IRSpectrum(out.astype(np.float32), path, notes)


# --------------------------------------------------------------------------- NMR
@dataclass
class HPeaks:
    peaks: List[dict]  # benchmark h_nmr_peaks fields: rangeMax, rangeMin, category, nH, j_values
    source: str
    notes: List[str] = field(default_factory=list)


@dataclass
class CPeaks:
    shifts: List[float]
    source: str
    notes: List[str] = field(default_factory=list)


def _is_file_arg(value: str) -> bool:
    return os.path.exists(value) or bool(re.search(r"\.(csv|tsv|txt|jdx|dx|jcamp)$", value, re.I))


def _nmr_ppm(d: dict, path: str, nucleus: str):
    u = _units(d, "xunits")
    if u == "PPM":
        return d["x"]
    if u == "HZ":
        mhz = d.get(".observe frequency")
        try:
            mhz = float(mhz)
        except (TypeError, ValueError):
            raise InputError(f"{path}: XUNITS HZ without ##.OBSERVE FREQUENCY: cannot convert to ppm") from None
        return d["x"] / mhz
    raise InputError(f"{path}: XUNITS {d.get('xunits', '(none)')!r} is not an NMR axis (expected PPM or HZ)")


def _check_nucleus(d: dict, path: str, nucleus: str) -> None:
    nuc = str(d.get(".observe nucleus", "")).replace("^", "").strip().upper()
    dtype = _units(d, "data type")
    if dtype and "NMR" not in dtype:
        raise InputError(f"{path}: DATA TYPE {d.get('data type')!r} is not an NMR spectrum")
    if nuc and nuc != nucleus.upper():
        raise InputError(f"{path}: an {nuc} spectrum given for the {nucleus} NMR input")


def _nmr_spectrum(path: str, nucleus: str):
    d = read_jcamp(path)
    _check_nucleus(d, path, nucleus)
    ppm = _nmr_ppm(d, path, nucleus)
    order = np.argsort(ppm)
    return d, ppm[order], d["y"][order]


def _pick(ppm, y, rel_height: float):
    from scipy.signal import find_peaks

    idx, _ = find_peaks(y, height=rel_height * float(np.max(y)), prominence=rel_height * float(np.ptp(y)))
    return idx


def read_c_nmr(value: str) -> CPeaks:
    """13C shifts: inline ``"198.1, 137.1"``, a text/CSV file (first numeric column), or a
    JCAMP-DX spectrum (peaks picked with scipy ``find_peaks``)."""
    if not _is_file_arg(value):
        shifts = _numbers(value, "--c_nmr")
        return CPeaks(sorted(shifts, reverse=True), "--c_nmr (inline)", [f"{len(shifts)} shifts"])
    if not os.path.isfile(value):
        raise InputError(f"{value}: no such file")
    if re.search(r"\.(jdx|dx|jcamp)$", value, re.I):
        d, ppm, y = _nmr_spectrum(value, "13C")
        idx = _pick(ppm, y, 0.02)
        if not len(idx):
            raise InputError(f"{value}: no peaks found in the 13C spectrum")
        shifts = sorted((float(ppm[i]) for i in idx), reverse=True)
        return CPeaks(
            shifts,
            value,
            [
                f"{len(shifts)} peaks picked from the spectrum (height > 2 % of the "
                "largest); solvent peaks are not removed"
            ]
            + _jcamp_notes(d),
        )
    rows = _table(value)
    shifts = []
    for k, row in enumerate(rows):
        try:
            shifts.append(float(row[0]))
        except (ValueError, IndexError):
            if k == 0:
                continue  # a header line
            raise InputError(f"{value}: line {k + 1}: {row!r} has no shift in ppm") from None
    if not shifts:
        raise InputError(f"{value}: no 13C shifts found")
    _check_range(shifts, value, -20.0, 240.0, "13C")
    return CPeaks(sorted(shifts, reverse=True), value, [f"{len(shifts)} shifts"])


def _numbers(text: str, where: str) -> List[float]:
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(
            f"{where} {text[:60]!r}: expected numbers (ppm) separated by commas or spaces; a file name must exist"
        ) from None
    if not vals:
        raise InputError(f"{where}: no shifts given")
    _check_range(vals, where, -20.0, 240.0, "13C")
    return vals


def _check_range(vals: Sequence[float], where: str, lo: float, hi: float, what: str) -> None:
    bad = [v for v in vals if not (lo <= v <= hi)]
    if bad:
        raise InputError(f"{where}: {what} shift {bad[0]} ppm is outside {lo:g}..{hi:g} ppm (wrong units?)")


def _table(path: str) -> List[List[str]]:
    try:
        text = open(path, encoding="utf-8-sig").read()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: empty file")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
        return [[c.strip() for c in r] for r in csv.reader(lines, dialect)]
    except csv.Error:
        return [ln.split() for ln in lines]


# 1H ------------------------------------------------------------------------
_H_ALIASES = {
    "shift": ("shift", "delta", "ppm", "centroid", "δ", "shift_ppm", "delta_ppm"),
    "range_max": ("range_max", "rangemax", "max", "from", "start"),
    "range_min": ("range_min", "rangemin", "min", "to", "end"),
    "multiplicity": ("multiplicity", "mult", "category", "m"),
    "j": ("j", "j_hz", "j_values", "coupling", "couplings"),
    "nh": ("nh", "h", "integral", "n_h", "protons", "nh_count"),
}
# one peak of a literature-style list: "7.95 (d, J = 7.5 Hz, 2H)" or "3.59-3.52 (m, 2H)"
_LIT_RE = re.compile(r"(?P<a>-?\d+(?:\.\d+)?)\s*(?:[-–]\s*(?P<b>-?\d+(?:\.\d+)?))?\s*\((?P<body>[^)]*)\)")


def _col(header: List[str], key: str) -> Optional[int]:
    names = [h.strip().lower().replace(" ", "_") for h in header]
    for alias in _H_ALIASES[key]:
        if alias in names:
            return names.index(alias)
    return None


def estimated_range(shift: float, category: str, js: Sequence[float], mhz: float):
    """(rangeMax, rangeMin) of a multiplet given by its centroid only (see SINGLET_WIDTH)."""
    letters = re.findall(r"hept|[sdtqph]", category)
    if category == "m" and not js:
        width = MULTIPLET_WIDTH
    else:
        counts = [_SPLIT_COUNT[c] for c in letters if c != "s"]
        span = sum(n * j for n, j in zip(counts, js)) if counts else sum(js)
        width = SINGLET_WIDTH + span / mhz
    return shift + width / 2, shift - width / 2


def _h_peak(where: str, category: str, nh, js: List[float], shift=None, rmax=None, rmin=None, mhz: float = 400.0):
    # "br s" / "brs": the benchmark's codes have no broadening mark, the multiplicity stays
    category = re.sub(r"^br\.?\s*", "", (category or "m").strip().lower()) or "m"
    if not re.fullmatch(r"[a-z]+", category):
        raise InputError(f"{where}: multiplicity {category!r} is not a code like s, d, dd, t, m")
    if nh is None:
        raise InputError(f"{where}: no number of protons (e.g. 2H)")
    try:
        nh_i = int(round(float(nh)))
    except (TypeError, ValueError):
        raise InputError(f"{where}: number of H {nh!r} is not a number") from None
    estimated = rmax is None
    if estimated:
        rmax, rmin = estimated_range(shift, category, js, mhz)
    rmax, rmin = max(rmax, rmin), min(rmax, rmin)
    _check_range([rmax, rmin], where, -2.0, 16.0, "1H")
    jv = "".join(f"{j}_" for j in js) if js else None  # the benchmark's own j_values spelling
    return {
        "rangeMax": float(rmax),
        "rangeMin": float(rmin),
        "category": category,
        "nH": nh_i,
        "j_values": jv,
    }, estimated


def _floats(text: str, where: str) -> List[float]:
    try:
        return [float(v) for v in re.split(r"[,;_\s]+", text.strip()) if v]
    except ValueError:
        raise InputError(f"{where}: J values {text!r} are not numbers (Hz)") from None


def _h_from_table(path: str, mhz: float):
    rows = _table(path)
    header, body = rows[0], rows[1:]
    cols = {k: _col(header, k) for k in _H_ALIASES}
    if cols["shift"] is None and (cols["range_max"] is None or cols["range_min"] is None):
        raise InputError(
            f"{path}: 1H peak table needs a 'shift' column or 'range_max' and 'range_min' (header: {', '.join(header)})"
        )
    if cols["nh"] is None:
        raise InputError(f"{path}: 1H peak table needs an 'nH' column (protons per peak)")
    out = []
    for k, row in enumerate(body, start=2):
        where = f"{path}: line {k}"

        def get(key):
            i = cols[key]
            return row[i] if i is not None and i < len(row) and row[i] != "" else None

        try:
            shift = float(get("shift")) if get("shift") is not None else None
            rmax = float(get("range_max")) if get("range_max") is not None else None
            rmin = float(get("range_min")) if get("range_min") is not None else None
        except ValueError:
            raise InputError(f"{where}: shift/range {row!r} is not a number (ppm)") from None
        if rmax is None or rmin is None:
            rmax = rmin = None
            if shift is None:
                raise InputError(f"{where}: no shift")
        js = _floats(get("j"), where) if get("j") else []
        out.append(_h_peak(where, get("multiplicity"), get("nh"), js, shift, rmax, rmin, mhz))
    return out


def _h_from_literature(text: str, where: str, mhz: float):
    out = []
    for m in _LIT_RE.finditer(text):
        body = [b.strip() for b in m.group("body").split(",")]
        cat = body[0] if body else "m"
        nh_part = next((b for b in body if re.fullmatch(r"\d+(\.\d+)?\s*H", b)), None)
        nh = nh_part[:-1] if nh_part else None
        # every number outside the multiplicity and nH parts is a J value: "J = 8.0", "1.5 Hz"
        js = [float(v) for b in body[1:] if b != nh_part for v in re.findall(r"\d+(?:\.\d+)?", b)]
        a, b = float(m.group("a")), m.group("b")
        rng = (float(a), float(b)) if b is not None else (None, None)
        out.append(_h_peak(f"{where}: peak {m.group(0)!r}", cat, nh, js, a, rng[0], rng[1], mhz))
    if not out:
        raise InputError(f"{where}: no 1H peaks like '7.95 (d, J = 7.5 Hz, 2H)' found")
    return out


def read_h_nmr(value: str, mhz: float = 400.0, formula_h: Optional[int] = None) -> HPeaks:
    """1H peaks: a CSV/TSV table (columns shift or range_max+range_min, multiplicity, J, nH), a
    literature-style list (inline or in a .txt file), or a JCAMP-DX spectrum (see
    :func:`h_peaks_from_spectrum`). Peaks are put in the benchmark's order (descending shift)."""
    if _is_file_arg(value) and not os.path.isfile(value):
        raise InputError(f"{value}: no such file")
    if os.path.isfile(value) and re.search(r"\.(jdx|dx|jcamp)$", value, re.I):
        return h_peaks_from_spectrum(value, formula_h)
    if os.path.isfile(value):
        text = open(value, encoding="utf-8-sig", errors="replace").read()
        # "7.95 (d, J = 7.5 Hz, 2H), …" has parentheses; a peak table does not
        parsed = _h_from_literature(text, value, mhz) if _LIT_RE.search(text) else _h_from_table(value, mhz)
        source = value
    else:
        parsed = _h_from_literature(value, "--h_nmr", mhz)
        source = "--h_nmr (inline)"
    peaks = [p for p, _ in parsed]
    n_est = sum(e for _, e in parsed)
    peaks.sort(key=lambda p: -p["rangeMax"])
    notes = [f"{len(peaks)} peaks, {sum(p['nH'] for p in peaks)} H"]
    if n_est:
        notes.append(f"{n_est} peak range(s) estimated from the centroid, multiplicity and J at {mhz:g} MHz")
    return HPeaks(peaks, source, notes)


def h_peaks_from_spectrum(path: str, formula_h: Optional[int] = None) -> HPeaks:
    """Approximate multiplets from a 1H JCAMP-DX spectrum: regions above 1 % of the tallest line,
    merged when closer than 0.02 ppm; category s (1 line), d (2 lines, J from their spacing) or
    m; nH from the integrals (scaled to the formula's H count when given, else smallest = 1 H).
    A measured peak list is better: this reads no coupling pattern beyond doublets."""
    d, ppm, y = _nmr_spectrum(path, "1H")
    y = y - np.median(y)
    mask = y > 0.01 * float(np.max(y))
    regions = []
    idx = np.flatnonzero(mask)
    if not idx.size:
        raise InputError(f"{path}: no signal found in the 1H spectrum")
    start = prev = idx[0]
    for i in idx[1:]:
        if ppm[i] - ppm[prev] > 0.02:
            regions.append((start, prev))
            start = i
        prev = i
    regions.append((start, prev))
    mhz = float(d.get(".observe frequency", 400.0) or 400.0)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    integ = [float(trapezoid(y[a : b + 1], ppm[a : b + 1])) if b > a else float(y[a]) for a, b in regions]
    unit = (sum(integ) / formula_h) if formula_h else min(i for i in integ if i > 0)
    peaks = []
    for (a, b), area in zip(regions, integ):
        lines = _pick(ppm[a : b + 1], y[a : b + 1], 0.05) if b - a > 2 else np.array([0])
        cat = {1: "s", 2: "d"}.get(len(lines), "m")
        js = [round(abs(float(ppm[a + lines[1]] - ppm[a + lines[0]])) * mhz, 2)] if cat == "d" else []
        nh = max(1, int(round(area / unit))) if unit > 0 else 1
        peaks.append(
            {
                "rangeMax": float(ppm[b]),
                "rangeMin": float(ppm[a]),
                "category": cat,
                "nH": nh,
                "j_values": "".join(f"{j}_" for j in js) or None,
            }
        )
    peaks = [p for p in peaks if p["nH"] > 0]
    peaks.sort(key=lambda p: -p["rangeMax"])
    return HPeaks(
        peaks,
        path,
        [
            f"{len(peaks)} multiplets picked from the spectrum (approximate: "
            "s/d/m only, nH from integrals); a peak list is more faithful"
        ]
        + _jcamp_notes(d),
    )


# --------------------------------------------------------------------------- MS/MS
@dataclass
class MSMSSpectrum:
    mz: np.ndarray
    intensity: np.ndarray  # relative, base peak 100 (as the benchmark's CFM-ID spectra)
    precursor_mz: Optional[float]
    ionmode: str  # 'positive' | 'negative'
    energy_ev: float  # the slot used: 10, 20 or 40
    source: str
    notes: List[str] = field(default_factory=list)
    charge: Optional[int] = None  # as recorded (matchms 'charge'), None if not


_LOADERS = {".mgf": "load_from_mgf", ".msp": "load_from_msp", ".mzml": "load_from_mzml"}


def load_spectra(path: str):
    """All spectra of an MGF / MSP / mzML file (matchms Spectrum objects)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in _LOADERS:
        raise InputError(f"{path}: unknown MS/MS file type {ext!r} (expected .mgf, .msp or .mzml)")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    importing = _need("matchms.importing", "matchms")
    import logging

    logging.getLogger("matchms").setLevel(logging.ERROR)
    try:
        loader = getattr(importing, _LOADERS[ext])
        spectra = [s for s in loader(path) if s is not None]
    except Exception as e:  # noqa: BLE001 - matchms / pyteomics raise many kinds of errors
        raise InputError(f"{path}: not a readable {ext[1:].upper()} file ({type(e).__name__}: {str(e)[:80]})") from None
    if not spectra:
        raise InputError(f"{path}: no spectra in the file")
    return spectra


def parse_energy(value) -> Optional[float]:
    """``40`` / ``'35 eV'`` / ``'HCD 30'`` / ``'60 % (nominal)'`` -> the first number, or None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    m = re.search(r"\d+(?:\.\d+)?", str(value))
    return float(m.group(0)) if m else None


def energy_slot(ev: float) -> float:
    """The benchmark energy (10, 20, 40 eV) closest to ``ev`` on a log scale."""
    return min(MSMS_SLOTS, key=lambda s: abs(math.log(max(ev, 1e-3) / s)))


def _ionmode(spec, path: str, override: Optional[str]) -> str:
    if override:
        return override
    mode = str(spec.get("ionmode") or "").lower()
    if mode in ("positive", "negative"):
        return mode
    raise InputError(
        f"{path}: the spectrum's ion mode is not recorded ({mode or 'none'}); give --msms_mode positive|negative"
    )


def select_spectra(path: str, select: Optional[str]) -> List[int]:
    spectra = load_spectra(path)
    if select is None:
        if len(spectra) > 1:
            raise InputError(
                f"{path}: {len(spectra)} spectra in the file; choose with --msms_index "
                f"(0..{len(spectra) - 1}, several as 0,2)"
            )
        return [0]
    try:
        picks = [int(s) for s in str(select).split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--msms_index {select!r}: expected spectrum numbers like 0 or 0,2") from None
    bad = [p for p in picks if not 0 <= p < len(spectra)]
    if bad or not picks:
        raise InputError(f"{path}: --msms_index {select}: the file has spectra 0..{len(spectra) - 1}")
    return picks


def read_msms(
    path: str, select: Optional[str] = None, mode: Optional[str] = None, energy: Optional[float] = None
) -> List[MSMSSpectrum]:
    """The selected spectra of an MGF/MSP/mzML file, each assigned to a benchmark energy slot."""
    spectra = load_spectra(path)
    picks = select_spectra(path, select) if (select is not None or len(spectra) > 1) else [0]
    out = []
    for k in picks:
        s = spectra[k]
        mz, it = np.asarray(s.peaks.mz, float), np.asarray(s.peaks.intensities, float)
        where = f"{path}: spectrum {k}"
        if mz.size == 0 or not np.isfinite(mz).all() or not np.isfinite(it).all() or it.max() <= 0:
            raise InputError(f"{where}: no usable peaks")
        notes = [
            f"spectrum {k}"
            + (f" ({s.get('compound_name')})" if s.get("compound_name") else "")
            + f": {mz.size} peaks, intensities scaled to base peak 100"
        ]
        raw_ce = s.get("collision_energy")
        ev = energy if energy is not None else parse_energy(raw_ce)
        if ev is None:
            ev = DEFAULT_ENERGY
            notes.append(f"collision energy not recorded: used as {DEFAULT_ENERGY:g} eV (set --msms_energy)")
        elif energy is None and "%" in str(raw_ce):
            notes.append(f"collision energy {raw_ce!r} is normalised (%), taken as {ev:g} eV")
        slot = energy_slot(ev)
        notes.append(f"collision energy {ev:g} eV -> the model's {slot:g} eV block")
        pmz = s.get("precursor_mz")
        charge = s.get("charge")
        out.append(
            MSMSSpectrum(
                mz,
                100.0 * it / it.max(),
                float(pmz) if pmz else None,
                _ionmode(s, path, mode),
                slot,
                f"{path}#{k}",
                notes,
                int(charge) if charge not in (None, "") else None,
            )
        )
    return out


def text_input(value: str) -> str:
    """Inline text, or the content of a text file."""
    if os.path.isfile(value):
        return open(value, encoding="utf-8", errors="replace").read().strip()
    return value.strip()


__all__ = [
    "Formula",
    "IRSpectrum",
    "HPeaks",
    "CPeaks",
    "MSMSSpectrum",
    "read_formula",
    "read_ir",
    "read_h_nmr",
    "read_c_nmr",
    "read_msms",
    "load_spectra",
    "text_input",
    "hill_formula",
    "energy_slot",
    "parse_energy",
]
