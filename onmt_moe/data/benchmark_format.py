"""Per-section text of the benchmark source line, computed for a whole chunk at once.

Every function takes pyarrow arrays (one chunk, one column) and returns a
:class:`SectionText`: one string per row (the section's tokens joined by single
spaces, header included), a status per row and a reason for each bad row.
The rules are those of the official ``benchmark/generate_input.py`` of
rxn4chemistry/multimodal-spectroscopic-dataset (see docs/benchmark-format.md),
re-implemented over whole columns:

* numbers are formatted with exactly the Python/numpy operations the official
  code applies to each value (``{:.2f}``, ``str(round(x, 1))``, numpy round then
  ``{:.1f}``), so the bytes are identical;
* the IR interpolation reproduces scipy ``interp1d`` (float32 spectra) or
  ``np.interp`` (float64 spectra) operation by operation as one matrix op.

Status per row: OK, EMPTY (empty peak list / string: the benchmark format still
emits the header), NULL (value is null: the official script would crash) or BAD
(malformed content; ``reasons[row]`` says why) or PARTIAL (MS/MS only: some
collision energies null, others present; the text treats the null ones as empty).
"""
from __future__ import annotations

import math
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
import pyarrow as pa

OK, EMPTY, NULL, BAD, PARTIAL = 0, 1, 2, 3, 4

FORMULA_TOKEN_RE = re.compile(r"[A-Z][a-z]?|\d+|.")
# A well-formed (Hill) formula, optionally charged: used by the tagged format only.
FORMULA_VALID_RE = re.compile(r"(?:[A-Z][a-z]?\d*)+(?:[+-]\d*)?")
SMILES_TOKENIZER_PATTERN = (
    r"(\%\([0-9]{3}\)|\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\||\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>>?|\*|\$|\%[0-9]{2}|[0-9])"
)
SMILES_RE = re.compile(SMILES_TOKENIZER_PATTERN)


class SectionText:
    """Texts, statuses and reasons of one section for the rows of one chunk."""

    __slots__ = ("texts", "status", "reasons")

    def __init__(self, n: int):
        self.texts: List[Optional[str]] = [None] * n
        self.status = np.zeros(n, dtype=np.int8)
        self.reasons: Dict[int, str] = {}

    def bad(self, row: int, reason: str) -> None:
        if self.status[row] != BAD:
            self.status[row] = BAD
            self.reasons[row] = reason
            self.texts[row] = None


# ---------------------------------------------------------------- helpers
def _nulls(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.zeros(len(arr), dtype=bool)
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _offsets(arr: pa.Array) -> np.ndarray:
    """Absolute offsets of a (large) list array into ``arr.values``."""
    return np.asarray(arr.offsets.to_numpy(), dtype=np.int64)


def _floats(arr: pa.Array) -> np.ndarray:
    """Values as float64 (nulls -> NaN)."""
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    raise TypeError(f"expected numbers, got {arr.type}")


def _struct_fields(struct: pa.StructArray) -> Dict[str, pa.Array]:
    flat = struct.flatten()
    return {struct.type.field(i).name: flat[i] for i in range(struct.type.num_fields)}


def _is_list(arr: pa.Array) -> bool:
    return pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_fixed_size_list(arr.type)


def _as_list_array(arr: pa.Array, column: str) -> pa.Array:
    if pa.types.is_fixed_size_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    if not _is_list(arr):
        raise TypeError(f"column '{column}' has type {arr.type}, expected a list")
    return arr


# ---------------------------------------------------------------- formula
def format_formula(arr: pa.Array, strict: bool = False) -> SectionText:
    """``C11H15FN2O2`` -> ``C 11 H 15 F N 2 O 2`` (regex ``[A-Z][a-z]?|\\d+|.``).

    ``strict`` (tagged format) marks formulas that are not Hill-like as BAD.
    """
    vals = arr.to_pylist()
    out = SectionText(len(vals))
    findall = FORMULA_TOKEN_RE.findall
    for i, f in enumerate(vals):
        if f is None:
            out.status[i] = NULL
            continue
        if not isinstance(f, str):
            out.bad(i, f"molecular_formula is not a string: {f!r}")
            continue
        if f == "":
            out.status[i] = EMPTY
            out.texts[i] = ""
            continue
        if strict and not FORMULA_VALID_RE.fullmatch(f):
            out.bad(i, f"unparseable molecular_formula {f!r}")
            continue
        out.texts[i] = " ".join(findall(f))
    return out


# ---------------------------------------------------------------- 1H NMR
def _fmt_nh(v) -> Optional[str]:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float) and math.isfinite(v) and v == int(v):
        return str(int(v))
    return None


def format_hnmr(arr: pa.Array) -> SectionText:
    """``1HNMR {rangeMax:.2f} {rangeMin:.2f} {category} {nH}H [J j1 j2 …] | …``."""
    arr = _as_list_array(arr, "h_nmr_peaks")
    n = len(arr)
    out = SectionText(n)
    nulls = _nulls(arr)
    off = _offsets(arr)
    lo, hi = int(off[0]), int(off[-1])
    peaks = arr.values.slice(lo, hi - lo)
    f = _struct_fields(peaks)
    for key in ("rangeMax", "rangeMin", "category", "nH"):
        if key not in f:
            raise TypeError(f"h_nmr_peaks has no field '{key}'")
    rmax = _floats(f["rangeMax"]).tolist()
    rmin = _floats(f["rangeMin"]).tolist()
    cats = f["category"].to_pylist()
    nhs = f["nH"].to_pylist()
    js = f["j_values"].to_pylist() if "j_values" in f else [None] * len(cats)
    peak_null = _nulls(peaks)

    peak_str: List[Optional[str]] = []
    peak_err: List[Optional[str]] = []
    isfinite = math.isfinite
    for k in range(len(cats)):
        a, b, c, h, j = rmax[k], rmin[k], cats[k], nhs[k], js[k]
        if peak_null[k]:
            peak_str.append(None)
            peak_err.append("null peak in h_nmr_peaks")
            continue
        if not (isfinite(a) and isfinite(b)):
            peak_str.append(None)
            peak_err.append("h_nmr peak with null/non-finite rangeMax/rangeMin")
            continue
        if c is None:
            peak_str.append(None)
            peak_err.append("h_nmr peak with null category")
            continue
        hs = _fmt_nh(h)
        if hs is None:
            peak_str.append(None)
            peak_err.append(f"h_nmr peak with bad nH {h!r}")
            continue
        s = f"{a:.2f} {b:.2f} {c} {hs}H"
        if j is not None and str(j) != "None":
            parts = [p for p in str(j).split("_") if p]
            if parts:
                try:
                    s += " J " + " ".join(["{:.2f}".format(float(p)) for p in parts])
                except ValueError:
                    peak_str.append(None)
                    peak_err.append(f"malformed j_values {j!r}")
                    continue
        peak_str.append(s)
        peak_err.append(None)

    for i in range(n):
        if nulls[i]:
            out.status[i] = NULL
            continue
        a, b = int(off[i]) - lo, int(off[i + 1]) - lo
        if a == b:
            out.status[i] = EMPTY
            out.texts[i] = "1HNMR"
            continue
        chunk = peak_str[a:b]
        if None in chunk:
            out.bad(i, next(e for e in peak_err[a:b] if e is not None))
            continue
        out.texts[i] = "1HNMR " + " | ".join(chunk)
    return out


# ---------------------------------------------------------------- 13C NMR
def format_cnmr(arr: pa.Array) -> SectionText:
    """``13CNMR`` then ``str(round(delta, 1))`` per peak, in stored order."""
    arr = _as_list_array(arr, "c_nmr_peaks")
    n = len(arr)
    out = SectionText(n)
    nulls = _nulls(arr)
    off = _offsets(arr)
    lo, hi = int(off[0]), int(off[-1])
    peaks = arr.values.slice(lo, hi - lo)
    if pa.types.is_struct(peaks.type):
        f = _struct_fields(peaks)
        if "delta (ppm)" not in f:
            raise TypeError("c_nmr_peaks has no field 'delta (ppm)'")
        d = _floats(f["delta (ppm)"])
    else:  # a plain list of shifts
        d = _floats(peaks)
    finite = np.isfinite(d)
    toks = [str(round(v, 1)) for v in d.tolist()]
    for i in range(n):
        if nulls[i]:
            out.status[i] = NULL
            continue
        a, b = int(off[i]) - lo, int(off[i + 1]) - lo
        if a == b:
            out.status[i] = EMPTY
            out.texts[i] = "13CNMR"
            continue
        if not finite[a:b].all():
            out.bad(i, "c_nmr peak with null/non-finite 'delta (ppm)'")
            continue
        out.texts[i] = "13CNMR " + " ".join(toks[a:b])
    return out


# ---------------------------------------------------------------- IR
_INTERP_CACHE: Dict[tuple, tuple] = {}


def _interp_plan(n_in: int, n_out: int):
    key = (n_in, n_out)
    if key not in _INTERP_CACHE:
        x = np.linspace(400, 4000, n_in)
        xn = np.linspace(400, 4000, n_out)
        # scipy interp1d(kind='linear')._call_linear
        idx = np.clip(np.searchsorted(x, xn), 1, n_in - 1).astype(np.intp)
        s_lo, s_hi = idx - 1, idx
        s_dx = x[s_hi] - x[s_lo]
        s_off = xn - x[s_lo]
        # numpy interp: j with x[j] <= xn < x[j+1]; exact hits take fp[j]
        j = np.clip(np.searchsorted(x, xn, side="right") - 1, 0, n_in - 1).astype(np.intp)
        exact = (x[j] == xn) | (j == n_in - 1)
        j1 = np.minimum(j + 1, n_in - 1)
        n_dx = x[j1] - x[j]
        n_dx[exact] = 1.0
        n_off = xn - x[j]
        _INTERP_CACHE[key] = (s_lo, s_hi, s_dx, s_off, j, j1, n_dx, n_off, exact)
    return _INTERP_CACHE[key]


def interpolate_rows(y: np.ndarray, n_out: int) -> np.ndarray:
    """Linear interpolation of each row of ``y`` (sampled on linspace(400, 4000, n_in))
    at linspace(400, 4000, n_out), bit-identical to what the official script gets:
    scipy ``interp1d`` for float32 rows (its own op order, float32 differences),
    ``np.interp`` for float64 rows (scipy delegates float64 to it)."""
    n_in = y.shape[1]
    s_lo, s_hi, s_dx, s_off, j, j1, n_dx, n_off, exact = _interp_plan(n_in, n_out)
    if y.dtype == np.float64:
        fj = y[:, j]
        slope = (y[:, j1] - fj) / n_dx
        res = slope * n_off + fj
        res[:, exact] = fj[:, exact]
        return res
    y_lo = y[:, s_lo]
    slope = (y[:, s_hi] - y_lo) / s_dx
    return slope * s_off + y_lo


IR_LUT = [str(v) for v in range(101)]


def ir_integers(y: np.ndarray, n_out: int = 400) -> np.ndarray:
    """Interpolate, shift to min 0, scale to max 100, round half-even -> int64."""
    v = interpolate_rows(y, n_out)
    mn = v.min(axis=1)
    # The official ``v + abs(min)``; for min <= 0 this equals ``v - min`` bit for bit,
    # and for min > 0 it is the documented bug we do not reproduce.
    v = v - mn[:, None]
    mx = v.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (v / mx[:, None]) * 100
    return np.round(v, decimals=0)


def format_ir(arr: pa.Array, n_points: int = 400, n_in: int = 1800) -> SectionText:
    """``IR`` followed by ``n_points`` integers 0..100."""
    arr = _as_list_array(arr, "ir_spectra")
    n = len(arr)
    out = SectionText(n)
    nulls = _nulls(arr)
    off = _offsets(arr)
    lens = np.diff(off)
    vals_arr = arr.values
    if not (pa.types.is_floating(vals_arr.type) or pa.types.is_integer(vals_arr.type)):
        raise TypeError(f"ir_spectra values have type {vals_arr.type}, expected numbers")
    vals = vals_arr.to_numpy(zero_copy_only=False)
    if vals.dtype not in (np.float32, np.float64):
        vals = vals.astype(np.float64)
    good = []
    for i in range(n):
        if nulls[i]:
            out.status[i] = NULL
        elif lens[i] == 0:
            out.status[i] = EMPTY
        elif lens[i] != n_in:
            out.bad(i, f"ir_spectra has {int(lens[i])} points, expected {n_in}")
        else:
            good.append(i)
    if not good:
        return out
    good = np.asarray(good, dtype=np.intp)
    y = vals[off[good][:, None] + np.arange(n_in)]
    finite = np.isfinite(y).all(axis=1)
    ints = ir_integers(y, n_points)
    flat = ~np.isfinite(ints).all(axis=1)
    ints_l = ints.astype(np.int64).tolist()
    lut = IR_LUT
    for r, i in enumerate(good.tolist()):
        if not finite[r]:
            out.bad(i, "ir_spectra contains null/non-finite values")
        elif flat[r]:
            out.bad(i, "ir_spectra is flat (max == min)")
        else:
            out.texts[i] = "IR " + " ".join([lut[v] for v in ints_l[r]])
    return out


# ---------------------------------------------------------------- MS/MS
_MS_LUT_SIZE = 40000
_MS_LUT = ["{:.1f}".format(k / 10) for k in range(_MS_LUT_SIZE)]


def _fmt_round1(x: np.ndarray) -> List[str]:
    """``"{:.1f}".format(round(v, 1))`` for numpy float64 ``v`` (numpy round:
    multiply by 10, rint, divide), for every element of ``x``."""
    k = np.rint(x * 10)
    r = k / 10
    lut_ok = (k >= 0) & (k < _MS_LUT_SIZE) & ~((k == 0) & np.signbit(k))
    ki = np.where(lut_ok, k, 0).astype(np.int64).tolist()
    ok = lut_ok.tolist()
    rl = r.tolist()
    lut = _MS_LUT
    return [lut[a] if o else "{:.1f}".format(v) for a, o, v in zip(ki, ok, rl)]


def _msms_peaks(arr: pa.Array, column: str):
    """Flatten one MS/MS column: per-row peak offsets, m/z, intensity, per-peak error."""
    arr = _as_list_array(arr, column)
    nulls = _nulls(arr)
    off = _offsets(arr)
    lo, hi = int(off[0]), int(off[-1])
    inner = arr.values.slice(lo, hi - lo)
    inner = _as_list_array(inner, column)
    inner_null = _nulls(inner)
    ioff = _offsets(inner)
    ilen = np.diff(ioff)
    vals = _floats(inner.values)
    short = ilen < 2
    start = np.where(short, 0, ioff[:-1])
    if len(vals) == 0:
        vals = np.zeros(2)
        start = np.zeros_like(start)
    mz = vals[start]
    it = vals[np.minimum(start + 1, len(vals) - 1)]
    bad_peak = inner_null | short | ~np.isfinite(mz) | ~np.isfinite(it)
    return nulls, off - lo, mz, it, bad_peak


def _top_k(offsets: np.ndarray, mz: np.ndarray, it: np.ndarray, k: int):
    """Keep the k most intense peaks of each list (stable), re-sorted by m/z."""
    n_lists = len(offsets) - 1
    lens = np.diff(offsets)
    list_id = np.repeat(np.arange(n_lists), lens)
    order = np.lexsort((-it, list_id))
    rank = np.arange(len(order)) - np.repeat(offsets[:-1], lens)
    keep = order[rank < k]
    keep = keep[np.lexsort((mz[keep], list_id[keep]))]
    new_lens = np.minimum(lens, k)
    new_off = np.concatenate([[0], np.cumsum(new_lens)])
    return new_off, keep


def format_msms(arrs: Sequence[pa.Array], headers: Sequence[str], columns: Sequence[str],
                top_k: Optional[int] = None) -> SectionText:
    """``E0Pos mz int … E1Pos … E2Pos …`` with ``{:.1f}`` of numpy-rounded values."""
    n = len(arrs[0])
    out = SectionText(n)
    blocks = []
    any_null = np.zeros(n, dtype=bool)
    all_empty = np.ones(n, dtype=bool)
    for arr, col in zip(arrs, columns):
        nulls, off, mz, it, bad_peak = _msms_peaks(arr, col)
        lens = np.diff(off)
        any_null |= nulls
        all_empty &= nulls | (lens == 0)
        peak_bad_cum = np.concatenate([[0], np.cumsum(bad_peak)])
        row_bad = (peak_bad_cum[off[1:]] - peak_bad_cum[off[:-1]]) > 0
        sel = None
        if top_k is not None:
            off, sel = _top_k(off, mz, it, top_k)
            mz, it = mz[sel], it[sel]
        mzs = _fmt_round1(mz)
        its = _fmt_round1(it)
        peaks = [a + " " + b for a, b in zip(mzs, its)]
        blocks.append((col, nulls, off.tolist(), peaks, row_bad))
    for i in range(n):
        parts = []
        reason = None
        for (col, nulls, off, peaks, row_bad), head in zip(blocks, headers):
            if row_bad[i]:
                reason = f"{col}: malformed peak (not [m/z, intensity] or non-finite)"
                break
            parts.append(head)
            if not nulls[i] and off[i + 1] > off[i]:
                parts.append(" ".join(peaks[off[i]:off[i + 1]]))
        if reason is not None:
            out.bad(i, reason)
            continue
        out.texts[i] = " ".join(parts)
        if all_empty[i] and any_null[i]:
            out.status[i] = NULL
        elif any_null[i]:
            # some energies null, others hold peaks: the official script would crash
            out.status[i] = PARTIAL
            out.reasons[i] = "null MS/MS list for one collision energy"
        elif all_empty[i]:
            out.status[i] = EMPTY
    return out


# ---------------------------------------------------------------- SMILES
def tokenize_smiles(smiles: str) -> str:
    """Molecular Transformer tokenisation; ValueError if the tokens do not
    reproduce the SMILES (same check as rxn-chemutils)."""
    tokens = SMILES_RE.findall(smiles)
    if "".join(tokens) != smiles:
        raise ValueError(f"SMILES tokens do not reproduce {smiles!r}")
    return " ".join(tokens)


def format_smiles(arr: pa.Array, rdkit_check: bool = False) -> SectionText:
    vals = arr.to_pylist()
    out = SectionText(len(vals))
    findall = SMILES_RE.findall
    chem = None
    if rdkit_check:
        from rdkit import Chem, RDLogger  # noqa: WPS433

        RDLogger.DisableLog("rdApp.*")
        chem = Chem
    for i, s in enumerate(vals):
        if s is None:
            out.status[i] = NULL
            out.reasons[i] = "smiles is null"
            continue
        if not isinstance(s, str) or s == "":
            out.bad(i, "smiles is empty")
            continue
        toks = findall(s)
        if "".join(toks) != s:
            out.bad(i, "SMILES not reproduced by the tokenizer regex")
            continue
        if chem is not None and chem.MolFromSmiles(s) is None:
            out.bad(i, "SMILES not parseable by RDKit")
            continue
        out.texts[i] = " ".join(toks)
    return out
