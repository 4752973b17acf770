"""Readers for a chemist's own files, built on the field's libraries.

* IR and NMR spectra as JCAMP-DX (``.jdx``/``.dx``, AFFN and the compressed ASDF forms):
  parsed by ``jcamp`` (nzhagen/jcamp); axis and ordinate units are checked here.
* MS/MS spectra as MGF, MSP or mzML: parsed by ``matchms`` (precursor m/z, ion mode and
  collision energy come from its harmonised metadata).
* NMR peak lists as CSV / text or inline: every 13C shift of a list (``"198.1, 137.1, …"``, one
  line or one per line), every 1H peak of a literature list (an unreadable peak is an error,
  never skipped); IR JCAMP-DX in absorbance, transmittance or NIST's quantitative units, with
  mislabelled transmittance refused; 1D NMR spectra peak-picked with scipy (see
  :func:`h_peaks_from_spectrum`, :func:`c_peaks_from_spectrum`).
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
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from onmt_moe.predict import InputError

IR_AXIS = (400.0, 4000.0)  # cm-1; the benchmark's IR axis (400-4000 cm-1, see docs/usage.md)
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
    notes: list[str] = field(default_factory=list)


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
    if len(d.get("x", [])) == 0 and d.get("children"):  # jcamp gives a compound file an empty x
        with_data = [c for c in d["children"] if len(c.get("x", [])) > 0]
        # a LINK block of peak assignments + spectrum (e.g. jcamp's ethanol_nmr.jdx): the spectrum
        spectra = [
            c for c in with_data if not re.search(r"PEAK|ASSIGN", _units(c, "data class") + _units(c, "data type"))
        ]
        with_data = spectra or with_data
        if not with_data:
            raise InputError(f"{path}: JCAMP-DX compound file without a data block")
        d = with_data[0]
    x, y = np.asarray(d.get("x", []), float), np.asarray(d.get("y", []), float)
    if x.size < 2 or x.size != y.size:
        raise InputError(f"{path}: JCAMP-DX file has no XY data{_no_xy_hint(path)}")
    keep = np.isfinite(x) & np.isfinite(y)
    d["x"], d["y"] = x[keep], y[keep]
    return d


def _no_xy_hint(path: str) -> str:
    """Why a JCAMP-DX file has no XY block this reader can use, from its labelled-data lines."""
    try:
        head = open(path, encoding="latin-1").read(200_000).upper()
    except OSError:
        return ""
    labels = " ".join(re.findall(r"^##\s*(?:DATA\s*TYPE|DATATYPE|DATA\s*CLASS|NTUPLES)\s*=\s*([^\r\n$]*)", head, re.M))
    if "FID" in labels:
        return (
            " (an NMR FID, time domain: Fourier-transform and phase it in the NMR software and export "
            "the spectrum as JCAMP-DX XYDATA, or give a peak list)"
        )
    if "NTUPLES" in labels:
        return " (NTUPLES blocks are not read: export the real spectrum as XYDATA, or give a peak list)"
    if "PEAK" in labels or "ASSIGNMENT" in labels:
        return " (a peak table or assignments only: give the peaks as a list instead)"
    return ""


def _jcamp_notes(d: dict) -> list[str]:
    n = d.get("_xcheck_failures", 0)
    return [f"jcamp reported {n} X-check mismatch(es) in the compressed data; values used as decoded"] if n else []


def _units(d: dict, key: str) -> str:
    return " ".join(str(d.get(key, "")).split()).upper()


@dataclass
class IRSpectrum:
    absorbance: np.ndarray  # IR_POINTS_IN values on linspace(400, 4000, 1800)
    source: str
    notes: list[str] = field(default_factory=list)
    measured_cm1: tuple[float, float] | None = None  # the part of the axis the file covers (the rest is filled)


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


# NIST's quantitative gas-phase IR (the "NIST Quantitative Infrared Database", half of the NIST IR
# files in jcamp's test data): the ordinate is the decadic absorption coefficient per unit mole
# fraction and path length, i.e. absorbance / (concentration x path). It is an absorbance scale.
_ABSORPTION_COEFFICIENT = re.compile(r"^\(\s*(MICRO|U|µ)?MOL\s*/\s*MOL\s*\)\s*-1\s*M\s*-1(\s*\(BASE 10\))?$")
# A genuine absorbance spectrum stays below ~5 (no spectrometer measures 10^-5 of the light) and
# lies mostly near its baseline (its minimum) with bands going up; transmittance lies mostly near
# its top with bands going down. Measured on jcamp's 70 IR test files: the median sits at 0-20 %
# of the range for every absorbance file and at 70-97 % for every transmittance file.
MAX_PLAUSIBLE_ABSORBANCE = 5.0
TRANSMITTANCE_LIKE_MEDIAN = 0.6


def _looks_like_transmittance(y: np.ndarray) -> str | None:
    """Why absorbance values ``y`` look like transmittance, or None."""
    top = float(np.max(y))
    if top > MAX_PLAUSIBLE_ABSORBANCE:
        return f"values up to {top:.4g} are not absorbances (above {MAX_PLAUSIBLE_ABSORBANCE:g})"
    span = float(np.ptp(y))
    if span > 0:
        frac = (float(np.median(y)) - float(np.min(y))) / span
        if frac > TRANSMITTANCE_LIKE_MEDIAN:
            return f"most points lie near the top of the trace (median at {frac:.0%} of the range) with bands pointing down"
    return None


def _absorbance(d: dict, path: str):
    """The ordinate as absorbance and a note, or one line why not.

    ABSORBANCE is checked, not trusted: values above 5, or a trace lying mostly near its top
    (bands pointing down), are transmittance mislabelled, and the file is **refused** (turning it
    over silently could be wrong either way: the user says which by fixing ``##YUNITS``)."""
    u = _units(d, "yunits")
    y = d["y"]
    if u in ("ABSORBANCE", "A", "ABS"):
        why = _looks_like_transmittance(y)
        if why:
            raise InputError(
                f"{path}: YUNITS is {d.get('yunits')!r} but the values look like transmittance ({why}); "
                "if so, write ##YUNITS=TRANSMITTANCE (or %T) in the file and run again"
            )
        return y, None
    if _ABSORPTION_COEFFICIENT.match(u):
        why = _looks_like_transmittance(y * (1.0 / max(float(np.max(np.abs(y))), 1e-30)))
        if why:
            raise InputError(f"{path}: YUNITS {d.get('yunits')!r} (absorption coefficient) but {why}")
        top = float(np.max(y))
        if top <= 0:
            raise InputError(f"{path}: absorption coefficients are all <= 0")
        return y / top, (
            f"YUNITS {d.get('yunits')!r} (NIST quantitative IR: absorption coefficient, base 10) "
            "read as absorbance, scaled to a maximum of 1"
        )
    if u in ("TRANSMITTANCE", "T", "%T", "% TRANSMITTANCE", "TRANSMITTANCE (%)"):
        # A = -log10(T) (jcamp.calc_xsec does this too, but it also needs a path length and
        # returns cross-sections; the model wants absorbance shape only). Percent T if > 1.5.
        t = y / 100.0 if (u.startswith("%") or np.nanmax(y) > 1.5) else y
        t = np.clip(t, 1e-4, 1.0)  # T <= 0 or > 1 is noise: clip before the log
        return -np.log10(t), "transmittance converted to absorbance (A = -log10 T)"
    raise InputError(
        f"{path}: YUNITS {d.get('yunits', '(none)')!r} is not an IR ordinate "
        "(expected ABSORBANCE, TRANSMITTANCE or NIST's (micromol/mol)-1m-1 (base 10))"
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
    measured = (float(max(wn[0], lo)), float(min(wn[-1], hi)))
    return IRSpectrum(out.astype(np.float32), path, notes, measured)


# --------------------------------------------------------------------------- NMR
@dataclass
class HPeaks:
    peaks: list[dict]  # benchmark h_nmr_peaks fields: rangeMax, rangeMin, category, nH, j_values
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass
class CPeaks:
    shifts: list[float]
    source: str
    notes: list[str] = field(default_factory=list)


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


def _noise(y: np.ndarray):
    """(baseline, noise sigma) of a spectrum: median and 1.4826 x median absolute deviation (most
    points of an NMR spectrum are baseline, so both are robust to the peaks)."""
    base = float(np.median(y))
    return base, 1.4826 * float(np.median(np.abs(y - base)))


# 13C: a peak must stand C_NOISE_SIGMAS noise sigmas and C_MIN_REL of the tallest line above the
# baseline, in height and in prominence (quaternary carbons are weak: a few % of the tallest line;
# the noise floor only matters in spectra noisier than C_MIN_REL / C_NOISE_SIGMAS).
C_NOISE_SIGMAS = 3.0
C_MIN_REL = 0.02
# 1H: signal regions stand H_NOISE_SIGMAS noise sigmas and H_MIN_REL of the tallest line above the
# baseline
H_NOISE_SIGMAS = 8.0
# residual solvent signals (13C, ppm; Fulmer et al., Organometallics 2010, 29, 2176), dropped only
# when the file names its solvent (##.SOLVENT NAME); the window covers the solvent's multiplet
_C_SOLVENT = {
    "CDCL3": (77.16,),
    "CHLOROFORM-D": (77.16,),
    "DMSO-D6": (39.52,),
    "DMSO": (39.52,),
    "CD3OD": (49.00,),
    "METHANOL-D4": (49.00,),
    "ACETONE-D6": (29.84, 206.26),
    "C6D6": (128.06,),
    "BENZENE-D6": (128.06,),
    "CD2CL2": (53.84,),
    "CD3CN": (1.32, 118.26),
}
_H_SOLVENT = {
    "CDCL3": (7.26,),
    "CHLOROFORM-D": (7.26,),
    "DMSO-D6": (2.50, 3.33),
    "DMSO": (2.50, 3.33),
    "CD3OD": (3.31, 4.87),
    "METHANOL-D4": (3.31, 4.87),
    "ACETONE-D6": (2.05,),
    "C6D6": (7.16,),
    "BENZENE-D6": (7.16,),
    "CD2CL2": (5.32,),
    "CD3CN": (1.94,),
    "D2O": (4.79,),
}


def _solvent(d: dict, table: dict):
    name = " ".join(str(d.get(".solvent name", d.get("solvent name", ""))).split()).upper()
    return name, table.get(name, ())


def c_peaks_from_spectrum(path: str, formula_c: int | None = None) -> CPeaks:
    """13C shifts picked from a processed 1D spectrum (JCAMP-DX XYDATA, ppm or Hz axis) with
    scipy ``find_peaks``: lines C_NOISE_SIGMAS noise sigmas and C_MIN_REL of the tallest line
    above the baseline; the named solvent's lines removed (see ``_C_SOLVENT``)."""
    from scipy.signal import find_peaks

    d, ppm, y = _nmr_spectrum(path, "13C")
    base, sigma = _noise(y)
    y = y - base
    top = float(np.max(y))
    if top <= 0:
        raise InputError(f"{path}: no peaks found in the 13C spectrum")
    floor = max(C_NOISE_SIGMAS * sigma, C_MIN_REL * top)
    idx, _ = find_peaks(y, height=floor, prominence=floor)
    if not len(idx):
        raise InputError(f"{path}: no peaks found in the 13C spectrum")
    shifts = [float(ppm[i]) for i in idx]
    notes = [
        f"{len(shifts)} peaks picked from the spectrum (above {C_NOISE_SIGMAS:g} noise sigmas and "
        f"{C_MIN_REL:.0%} of the largest)"
    ]
    name, lines = _solvent(d, _C_SOLVENT)
    if lines:
        keep = [v for v in shifts if all(abs(v - s0) > 0.6 for s0 in lines)]
        notes.append(f"{len(shifts) - len(keep)} {name} solvent peak(s) near {', '.join(map(str, lines))} ppm removed")
        shifts = keep
    else:
        notes.append("solvent peaks are not removed (the file names no known solvent)")
    if not shifts:
        raise InputError(f"{path}: no peaks besides the solvent's found in the 13C spectrum")
    _check_range(shifts, path, -20.0, 240.0, "13C")
    return _c_peaks(shifts, path, notes + _jcamp_notes(d), formula_c)


def read_c_nmr(value: str, formula_c: int | None = None) -> CPeaks:
    """13C shifts, every one of them (never only the first):

    * inline or in a text file: numbers separated by commas, semicolons or spaces, on one line
      (``"198.1, 137.1, 133.1"``) or one per line; a literature line
      (``"13C NMR (101 MHz, CDCl3) δ 198.1, 137.1, …"``) is read from its ``δ`` on;
    * a CSV/TSV table with a header line: the column named shift/delta/ppm (else the first),
      other columns (intensity, width, …) ignored, as before;
    * a JCAMP-DX spectrum: peaks picked with scipy ``find_peaks`` above the noise.

    A headerless file whose every line holds the same two or more numbers is ambiguous (a table
    of shift and intensity, or a wrapped list?) and is refused with a one-line explanation.

    Repeated values are kept as given. The benchmark's 13C lists (``c_nmr_peaks``) hold one
    value per symmetry-unique carbon (a phenyl ring gives 4 shifts, not 6; checked on
    example_data_1: 56 of the 57 symmetric molecules without F/P), and two values only when
    two different carbons coincide: a note says how many values repeat, and, with
    ``formula_c``, when there are more shifts than the formula has carbons."""
    if not _is_file_arg(value):
        shifts = _numbers(value, "--c_nmr")
        return _c_peaks(shifts, "--c_nmr (inline)", [f"{len(shifts)} shifts"], formula_c)
    if not os.path.isfile(value):
        raise InputError(f"{value}: no such file")
    if re.search(r"\.(jdx|dx|jcamp)$", value, re.I):
        return c_peaks_from_spectrum(value, formula_c)
    shifts, notes = _c_from_file(value)
    return _c_peaks(shifts, value, notes, formula_c)


def _c_peaks(shifts: list[float], source: str, notes: list[str], formula_c: int | None) -> CPeaks:
    shifts = sorted(shifts, reverse=True)
    rep = Counter(round(v, 1) for v in shifts)
    dups = {v: n for v, n in rep.items() if n > 1}
    if dups:
        v, n = max(dups.items(), key=lambda kv: kv[1])
        notes.append(
            f"{sum(dups.values()) - len(dups)} repeated shift(s) kept as given (e.g. {v:g} x{n}); "
            "the benchmark lists symmetry-equivalent carbons once"
        )
    if formula_c is not None and len(shifts) > formula_c:
        notes.append(
            f"{len(shifts)} shifts for {formula_c} carbons in the formula "
            "(repeated symmetric carbons, C-F splitting or impurity/solvent peaks?)"
        )
    return CPeaks(shifts, source, notes)


def _after_delta(text: str) -> str:
    """``13C NMR (101 MHz, CDCl3) δ 198.1, …`` -> ``198.1, …`` (a trailing full stop dropped too)."""
    m = re.search(r"(?:δ|\bdelta\b)\s*(?:\(ppm\))?\s*[:=]?", text, re.I)
    if m:
        text = text[m.end() :]
    return re.sub(r"\.\s*$", "", text.strip())


_C_SHIFT_COLS = ("shift", "delta", "ppm", "δ", "delta_(ppm)", "shift_(ppm)", "shift_ppm", "delta_ppm", "13c", "c")


def _content_lines(path: str) -> list[str]:
    """The non-blank, non-comment lines of a text file; an unreadable or empty file is one InputError."""
    try:
        text = open(path, encoding="utf-8-sig").read()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({e})") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: empty file")
    return lines


def _c_from_file(path: str):
    lines = _content_lines(path)
    if re.search(r"δ|\bdelta\b", lines[0], re.I) and re.search(r"\d\.\d", lines[0]):
        shifts = _numbers(_after_delta(" ".join(lines)), path)
        return shifts, [f"{len(shifts)} shifts (literature list)"]
    cells = [[c for c in re.split(r"[,;\s]+", ln.strip()) if c] for ln in lines]

    def numeric(c):
        try:
            float(c)
            return True
        except ValueError:
            return False

    if not any(numeric(c) for c in cells[0]):  # a header line (no number in it): a table, as before
        rows = _table(path)
        names = [h.strip().lower().replace(" ", "_") for h in rows[0]]
        col = next((names.index(a) for a in _C_SHIFT_COLS if a in names), 0)
        shifts = []
        for k, row in enumerate(rows[1:], start=2):
            try:
                shifts.append(float(row[col]))
            except (ValueError, IndexError):
                raise InputError(f"{path}: line {k}: {row!r} has no shift in ppm in column {rows[0][col]!r}") from None
        if not shifts:
            raise InputError(f"{path}: no 13C shifts below the header line")
        _check_range(shifts, path, -20.0, 240.0, "13C")
        other = [h for i, h in enumerate(rows[0]) if i != col]
        return shifts, [
            f"{len(shifts)} shifts from column {rows[0][col]!r}" + (f" ({', '.join(other)} ignored)" if other else "")
        ]
    for k, row in enumerate(cells, start=1):
        bad = next((c for c in row if not numeric(c)), None)
        if bad is not None:
            raise InputError(f"{path}: line {k}: {bad!r} is not a shift in ppm")
    counts = {len(r) for r in cells}
    continued = any(re.search(r"[,;]\s*$", ln) for ln in lines[:-1])
    if len(cells) > 1 and len(counts) == 1 and counts.pop() > 1 and not continued:
        raise InputError(
            f"{path}: every line holds {len(cells[0])} numbers: for a table (shift, intensity, …) add a header "
            "line naming the columns (e.g. 'shift,intensity'); for a list put the shifts one per line or all on one line"
        )
    shifts = [float(c) for r in cells for c in r]
    _check_range(shifts, path, -20.0, 240.0, "13C")
    return shifts, [f"{len(shifts)} shifts"]


def _numbers(text: str, where: str) -> list[float]:
    text = _after_delta(text)
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


def _table(path: str) -> list[list[str]]:
    lines = _content_lines(path)
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


def _col(header: list[str], key: str) -> int | None:
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


def _h_peak(where: str, category: str, nh, js: list[float], shift=None, rmax=None, rmin=None, mhz: float = 400.0):
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


def _floats(text: str, where: str) -> list[float]:
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

        def get(key, row=row):
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


# parts of a peak's parenthesis "(dd, J = 8.0, 1.5 Hz, 2H)", split at commas
_NH_PART = re.compile(r"(\d+(?:\.\d+)?)\s*H", re.I)
_J_PART = re.compile(
    r"(?:\d?\s*J(?:\s*\([^)]*\)|\s*[A-Za-z0-9-]*)?\s*[=:]\s*)?"
    r"(?P<v>\d+(?:\.\d+)?(?:\s*(?:and|&|/)\s*\d+(?:\.\d+)?)*)\s*(?:Hz)?",
    re.I,
)
_LIT_EXAMPLE = "expected e.g. '7.55 (t, J = 7.4 Hz, 1H)' or '7.26 (5H)'"
# A peak given with its proton count but no multiplicity ("7.26 (5H)"): the benchmark's code for
# a signal whose splitting is not resolved is 'm' (its most frequent code, 27 % of example_data_1's
# peaks; j_values null as for every m). Guessing 's' would assert a splitting nobody measured.
UNKNOWN_MULTIPLICITY = "m"


def _lit_peak(m, where: str, mhz: float, labels: list[str]):
    peak = f"{where}: peak {m.group(0)!r}"
    parts = [b.strip() for b in m.group("body").split(",") if b.strip()]
    if not parts:
        raise InputError(f"{peak}: empty parentheses ({_LIT_EXAMPLE})")
    cat = None
    if not _NH_PART.fullmatch(parts[0]):
        cat, parts = parts[0], parts[1:]
        if not re.fullmatch(r"(?:br\.?\s*)?[A-Za-z]*", cat):
            raise InputError(f"{peak}: multiplicity {cat!r} is not a code like s, d, dd, t, m ({_LIT_EXAMPLE})")
    nh, js = None, []
    for b in parts:
        n = _NH_PART.fullmatch(b)
        j = _J_PART.fullmatch(b)
        if n:
            if nh is not None:
                raise InputError(f"{peak}: two proton counts ({nh}H and {b})")
            nh = n.group(1)
        elif j:
            js += [float(v) for v in re.findall(r"\d+(?:\.\d+)?", j.group("v"))]
        else:  # an assignment such as "OCH3" or "H-2'": not data the model reads, said in the notes
            labels.append(b)
    a, b = float(m.group("a")), m.group("b")
    rng = (a, float(b)) if b is not None else (None, None)
    return _h_peak(peak, cat if cat is not None else UNKNOWN_MULTIPLICITY, nh, js, a, rng[0], rng[1], mhz), cat is None


def _h_from_literature(text: str, where: str, mhz: float):
    """Every peak of a literature list, or one line naming the first piece that is not a peak:
    nothing between, before or after the peaks is skipped silently."""
    out, labels, n_nomult = [], [], 0
    matches = list(_LIT_RE.finditer(text))
    if not matches:
        if re.fullmatch(r"[\s,;]*(?:-?\d+(?:\.\d+)?[\s,;]+)*-?\d+(?:\.\d+)?[\s,;.]*", _after_delta(text) or "x"):
            raise InputError(
                f"{where}: 1H shifts without proton counts; the model reads nH for every peak: "
                "write them as '7.26 (5H), 3.91 (3H)' (or with multiplicities, '3.91 (s, 3H)')"
            )
        raise InputError(f"{where}: no 1H peaks like '7.95 (d, J = 7.5 Hz, 2H)' found")
    # before the first peak: a heading such as "1H NMR (400 MHz, CDCl3) δ" but no shift
    head = re.sub(r"\([^)]*\)", "", text[: matches[0].start()])
    stray = re.search(r"-?\d+\.\d+[^,;]*", head)
    if stray:
        raise InputError(f"{where}: cannot read the 1H peak {stray.group(0).strip()!r} ({_LIT_EXAMPLE})")
    for k, m in enumerate(matches):
        if k:
            gap = text[matches[k - 1].end() : m.start()]
            if not re.fullmatch(r"[\s,;]*(?:and)?[\s,;]*", gap):
                raise InputError(f"{where}: cannot read the 1H peak {gap.strip(' ,;')!r} ({_LIT_EXAMPLE})")
        (peak, est), nomult = _lit_peak(m, where, mhz, labels)
        out.append((peak, est))
        n_nomult += nomult
    tail = text[matches[-1].end() :]
    if re.search(r"\d", tail):
        raise InputError(f"{where}: cannot read the 1H peak {tail.strip(' ,;.')[:60]!r} ({_LIT_EXAMPLE})")
    notes = []
    if n_nomult:
        notes.append(
            f"{n_nomult} peak(s) without a multiplicity read as '{UNKNOWN_MULTIPLICITY}' "
            "(the benchmark's code for an unresolved multiplet)"
        )
    if labels:
        notes.append(f"assignment label(s) ignored: {', '.join(labels[:5])}" + (" …" if len(labels) > 5 else ""))
    return out, notes


def read_h_nmr(value: str, mhz: float = 400.0, formula_h: int | None = None) -> HPeaks:
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
        if _LIT_RE.search(text) or not re.search(r"[A-Za-z]", text.splitlines()[0] if text.strip() else "x"):
            parsed, extra = _h_from_literature(text, value, mhz)  # a bare list too: its one-line refusal
        else:
            parsed, extra = _h_from_table(value, mhz), []
        source = value
    else:
        parsed, extra = _h_from_literature(value, "--h_nmr", mhz)
        source = "--h_nmr (inline)"
    peaks = [p for p, _ in parsed]
    n_est = sum(e for _, e in parsed)
    peaks.sort(key=lambda p: -p["rangeMax"])
    notes = [f"{len(peaks)} peaks, {sum(p['nH'] for p in peaks)} H"]
    if n_est:
        notes.append(f"{n_est} peak range(s) estimated from the centroid, multiplicity and J at {mhz:g} MHz")
    return HPeaks(peaks, source, notes + extra)


# 1H from a spectrum: lines closer than H_MERGE_HZ (and at least 0.02 ppm) belong to one multiplet (most 2J/3J <= 16 Hz)
H_MIN_REL = 0.01
H_MERGE_HZ = 16.0


def _classify(hz: np.ndarray, heights: np.ndarray):
    """(category, J values in Hz) of a multiplet from its line positions (Hz, ascending) and
    heights: s, d, t (1:2:1), q (1:3:3:1), dd (4 equal lines, spacings a b a), else m."""
    n = len(hz)
    if n == 1:
        return "s", []
    gaps = np.diff(hz)
    even = n > 1 and float(np.ptp(gaps)) <= 0.15 * float(np.mean(gaps))
    h = heights / float(np.max(heights))
    r = lambda v: round(float(v), 2)  # noqa: E731
    if n == 2:
        return "d", [r(gaps[0])]
    if n == 3 and even and 1.4 <= h[1] / ((h[0] + h[2]) / 2) <= 2.8:
        return "t", [r(np.mean(gaps))]
    if n == 4 and even and 2.0 <= ((h[1] + h[2]) / 2) / ((h[0] + h[3]) / 2) <= 4.5:
        return "q", [r(np.mean(gaps))]
    if n == 4 and float(np.min(h)) >= 0.6 and abs(gaps[0] - gaps[2]) <= 0.15 * max(gaps[0], gaps[2]):
        small, large = sorted((float(gaps[0]), float(gaps[0] + gaps[1])))
        return "dd", [r(large), r(small)]
    return "m", []


def h_peaks_from_spectrum(path: str, formula_h: int | None = None) -> HPeaks:
    """Multiplets from a processed 1D 1H spectrum (JCAMP-DX XYDATA, ppm or Hz axis; scipy only,
    no nmrglue): signal regions above the noise (see H_MIN_REL), merged when closer than
    H_MERGE_HZ; lines picked in each with ``find_peaks`` and the multiplet named s, d, t, q, dd
    (J from the line spacings) or m; nH from the integrals, scaled to the formula's H count when
    given (else the smallest multiplet = 1 H). A TMS line at 0.00 ppm and the named solvent's
    residual line are dropped. Not done: roofing / second-order patterns, dt/td/ddd, overlapping
    multiplets, exchange-broadened OH/NH (read as s or m): a measured peak list is more faithful."""
    d, ppm, y = _nmr_spectrum(path, "1H")
    base, sigma = _noise(y)
    y = y - base
    top = float(np.max(y))
    if top <= 0:
        raise InputError(f"{path}: no signal found in the 1H spectrum")
    idx = np.flatnonzero(y > max(H_MIN_REL * top, H_NOISE_SIGMAS * sigma))
    if not idx.size:
        raise InputError(f"{path}: no signal found in the 1H spectrum")
    try:
        mhz = float(d.get(".observe frequency", 400.0) or 400.0)
    except (TypeError, ValueError):
        mhz = 400.0
    merge = max(0.02, H_MERGE_HZ / mhz)
    regions = []
    start = prev = idx[0]
    for i in idx[1:]:
        if ppm[i] - ppm[prev] > merge:
            regions.append((start, prev))
            start = i
        prev = i
    regions.append((start, prev))
    notes = []
    name, solvent = _solvent(d, _H_SOLVENT)
    dropped = []
    kept = []
    for a, b in regions:
        centre = float((ppm[a] + ppm[b]) / 2)
        if abs(centre) < 0.02 and ppm[b] - ppm[a] < 0.02:
            dropped.append("TMS 0.00")
        elif any(abs(centre - s0) < 0.02 for s0 in solvent):
            dropped.append(f"{name} {centre:.2f}")
        else:
            kept.append((a, b))
    if dropped:
        notes.append(f"reference/solvent line(s) dropped: {', '.join(dropped)} ppm")
    if not kept:
        raise InputError(f"{path}: no signal besides the reference/solvent found in the 1H spectrum")
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    integ = [float(trapezoid(y[a : b + 1], ppm[a : b + 1])) if b > a else float(y[a]) for a, b in kept]
    positive = [i for i in integ if i > 0]
    unit = (sum(positive) / formula_h) if formula_h else (min(positive) if positive else 0.0)
    from scipy.signal import find_peaks

    peaks = []
    for (a, b), area in zip(kept, integ):
        seg = y[a : b + 1]
        if b - a > 2:
            lines, _ = find_peaks(seg, height=0.05 * float(seg.max()), prominence=0.05 * float(seg.max()))
        else:
            lines = np.array([int(np.argmax(seg))])
        if not len(lines):
            lines = np.array([int(np.argmax(seg))])
        cat, js = _classify(ppm[a + lines] * mhz, seg[lines])
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
    peaks.sort(key=lambda p: -p["rangeMax"])
    total = sum(p["nH"] for p in peaks)
    notes.insert(
        0,
        f"{len(peaks)} multiplets picked from the spectrum (approximate: s/d/t/q/dd/m, nH from integrals"
        + (f" scaled to the formula's {formula_h} H" if formula_h else ", smallest = 1 H")
        + "); a peak list is more faithful",
    )
    if formula_h and total != formula_h:
        notes.append(f"the rounded integrals add up to {total} H, the formula has {formula_h} (exchangeable H?)")
    return HPeaks(peaks, path, notes + _jcamp_notes(d))


# --------------------------------------------------------------------------- MS/MS
@dataclass
class MSMSSpectrum:
    mz: np.ndarray
    intensity: np.ndarray  # relative, base peak 100 (as the benchmark's CFM-ID spectra)
    precursor_mz: float | None
    ionmode: str  # 'positive' | 'negative'
    energy_ev: float  # the slot used: 10, 20 or 40
    source: str
    notes: list[str] = field(default_factory=list)
    charge: int | None = None  # as recorded (matchms 'charge'), None if not


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


def parse_energy(value) -> float | None:
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


def _ionmode(spec, path: str, override: str | None) -> str:
    if override:
        return override
    mode = str(spec.get("ionmode") or "").lower()
    if mode in ("positive", "negative"):
        return mode
    raise InputError(
        f"{path}: the spectrum's ion mode is not recorded ({mode or 'none'}); give --msms_mode positive|negative"
    )


def select_spectra(path: str, select: str | None) -> list[int]:
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
    path: str, select: str | None = None, mode: str | None = None, energy: float | None = None
) -> list[MSMSSpectrum]:
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
