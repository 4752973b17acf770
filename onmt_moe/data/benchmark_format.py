"""Per-section text of the benchmark source line, computed for a whole chunk at once.

Every function takes pyarrow arrays (one chunk, one column) and returns a
:class:`SectionText`: one string per row (the section's tokens joined by single
spaces, header included), a status per row and a reason for each bad row.
The rules are those of the official ``benchmark/generate_input.py`` of
rxn4chemistry/multimodal-spectroscopic-dataset (see docs/usage.md, "The source format"),
re-implemented over whole columns:

* numbers are formatted with exactly the Python/numpy operations the official
  code applies to each value (``{:.2f}``, ``str(round(x, 1))``, numpy round then
  ``{:.1f}``), so the bytes are identical;
* the IR interpolation reproduces scipy ``interp1d`` (float32 spectra) or
  ``np.interp`` (float64 spectra) operation by operation as one matrix op.

Status per row: OK, EMPTY (empty peak list / string: the benchmark format still
emits the header; an empty IR spectrum has no text), NULL (value is null: the official script would crash) or BAD
(malformed content; ``reasons[row]`` says why) or PARTIAL (MS/MS only: some
collision energies null, others present; the text treats the null ones as empty).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onmt_moe.data import textbuf as tx
from onmt_moe.smiles import SMILES_RE, tokenize_smiles  # noqa: F401  (tokenize_smiles: re-exported)

OK, EMPTY, NULL, BAD, PARTIAL = 0, 1, 2, 3, 4

FORMULA_TOKEN_RE = re.compile(r"[A-Z][a-z]?|\d+|.")
# A well-formed (Hill) formula, optionally charged: used by the tagged format only.
FORMULA_VALID_RE = re.compile(r"(?:[A-Z][a-z]?\d*)+(?:[+-]\d*)?")


class SectionText:
    """Texts, statuses and reasons of one section for the rows of one chunk."""

    __slots__ = ("texts", "status", "reasons", "ntok", "vocab")

    def __init__(self, n: int):
        self.texts: list[str | None] = [None] * n
        self.status = np.zeros(n, dtype=np.int8)
        self.reasons: dict[int, str] = {}
        self.ntok = np.zeros(n, dtype=np.int64)  # tokens of the section text per row
        self.vocab: set = set()  # distinct tokens (estimate, over well-formed rows)

    def bad(self, row: int, reason: str) -> None:
        if self.status[row] != BAD:
            self.status[row] = BAD
            self.reasons[row] = reason
            self.texts[row] = None
            self.ntok[row] = 0


# ---------------------------------------------------------------- helpers
def _nulls(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.zeros(len(arr), dtype=bool)
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _offsets(arr: pa.Array) -> np.ndarray:
    """Absolute offsets of a (large) list array into ``arr.values``."""
    return np.asarray(arr.offsets.to_numpy(), dtype=np.int64)


def _rebased_values(arr: pa.Array):
    """(offsets rebased to 0, the slice of ``arr.values`` those offsets index) of a list array."""
    off = _offsets(arr)
    lo, hi = int(off[0]), int(off[-1])
    return off - lo, arr.values.slice(lo, hi - lo)


def _floats(arr: pa.Array) -> np.ndarray:
    """Values as float64 (nulls -> NaN)."""
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    raise TypeError(f"expected numbers, got {arr.type}")


def _struct_fields(struct: pa.StructArray) -> dict[str, pa.Array]:
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
        toks = findall(f)
        out.texts[i] = " ".join(toks)
        out.ntok[i] = len(toks)
        out.vocab.update(toks)
    return out


# ---------------------------------------------------------------- 1H NMR
def _excl_cumsum(a: np.ndarray) -> np.ndarray:
    out = np.zeros(len(a) + 1, np.int64)
    np.cumsum(a, out=out[1:])
    return out


def format_hnmr(arr: pa.Array, shift_decimals: int = 2, j_decimals: int = 2) -> SectionText:
    """``1HNMR {rangeMax:.2f} {rangeMin:.2f} {category} {nH}H [J j1 j2 …] | …``.

    ``j_values`` is split on ``_`` (empty fields dropped) and each value written
    ``{:.2f}``; null (or the string ``"None"``) or no values -> no ``J``.
    ``shift_decimals`` / ``j_decimals`` change the two precisions (the tagged format's
    binning; the benchmark format always uses 2 and 2).
    """
    arr = _as_list_array(arr, "h_nmr_peaks")
    n = len(arr)
    out = SectionText(n)
    nulls = _nulls(arr)
    off, peaks = _rebased_values(arr)
    n_pk = len(peaks)
    f = _struct_fields(peaks)
    for key in ("rangeMax", "rangeMin", "category", "nH"):
        if key not in f:
            raise TypeError(f"h_nmr_peaks has no field '{key}'")
    rmax = _floats(f["rangeMax"])
    rmin = _floats(f["rangeMin"])
    if shift_decimals != 2:
        rmax, rmin = binned(rmax, shift_decimals), binned(rmin, shift_decimals)
    # the first problem of each bad peak, in this order of checks
    err: dict[int, str] = {}
    nh_i = _hnmr_peak_checks(peaks, rmax, rmin, f["nH"], err)
    cat_dict, cat_tokens = _hnmr_categories(f["category"], err)
    # J values: split on "_", drop empty fields; null or the string "None" -> no J
    nj, j_val = _split_j(f.get("j_values"), n_pk, err)
    if j_decimals != 2:
        j_val = binned(j_val, j_decimals)
    texts, counts = _hnmr_texts(off, rmax, rmin, cat_tokens, nh_i, nj, j_val, shift_decimals, j_decimals)

    peak_bad = np.zeros(n_pk + 1, np.int64)
    if err:
        peak_bad[np.fromiter(err.keys(), np.int64) + 1] = 1
    bad_cum = np.cumsum(peak_bad)
    row_bad = (bad_cum[off[1:]] - bad_cum[off[:-1]]) > 0
    lens = np.diff(off)
    for i in range(n):
        if nulls[i]:
            out.status[i] = NULL
        elif row_bad[i]:
            k = min(e for e in err if off[i] <= e < off[i + 1])
            out.bad(i, err[k])
        else:
            out.texts[i] = texts[i]
            out.ntok[i] = counts[i]
            if lens[i] == 0:
                out.status[i] = EMPTY
    out.vocab.update(["1HNMR", "|", "J"])
    out.vocab.update(cat_dict)
    out.vocab.update(
        _vocab_fixed(rmax, shift_decimals) | _vocab_fixed(rmin, shift_decimals) | _vocab_fixed(j_val, j_decimals)
    )
    out.vocab.update(f"{v}H" for v in np.unique(nh_i).tolist())
    return out


def _hnmr_peak_checks(peaks: pa.Array, rmax: np.ndarray, rmin: np.ndarray, nh_arr: pa.Array, err: dict[int, str]):
    """Record null peaks, non-finite ranges and bad nH in ``err`` (peak -> first problem); return nH
    as int64 (0 where bad)."""
    for k in np.flatnonzero(_nulls(peaks)).tolist():
        err.setdefault(k, "null peak in h_nmr_peaks")
    for k in np.flatnonzero(~(np.isfinite(rmax) & np.isfinite(rmin))).tolist():
        err.setdefault(k, "h_nmr peak with null/non-finite rangeMax/rangeMin")
    # nH: integers (or integral floats) >= 0
    nh = _floats(nh_arr)
    with np.errstate(invalid="ignore"):
        nh_ok = np.isfinite(nh) & (nh >= 0) & (nh == np.floor(nh)) & (nh < 1e15)
    for k in np.flatnonzero(~nh_ok).tolist():
        err.setdefault(k, f"h_nmr peak with bad nH {nh_arr[k].as_py()!r}")
    return np.where(nh_ok, nh, 0).astype(np.int64)


def _hnmr_categories(cat_arr: pa.Array, err: dict[int, str]):
    """(distinct category strings, each peak's category tokens); null categories recorded in ``err``.
    Dictionary-encoded: the few distinct values are formatted once."""
    if not pa.types.is_string(cat_arr.type):
        cat_arr = pc.cast(cat_arr, pa.string())
    for k in np.flatnonzero(_nulls(cat_arr)).tolist():
        err.setdefault(k, "h_nmr peak with null category")
    denc = cat_arr.dictionary_encode()
    codes = np.asarray(pc.fill_null(denc.indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    cat_dict = [str(c) for c in denc.dictionary.to_pylist()] or [""]
    cd_chars, cd_lens = tx.str_tokens(cat_dict)
    return cat_dict, (cd_chars[codes], cd_lens[codes])


def _hnmr_texts(off, rmax, rmin, cat_tokens, nh_i, nj, j_val, shift_decimals: int, j_decimals: int):
    """(text, token count) of every row, bad peaks included (their rows are dropped later).
    Token layout: row header, then per peak ['|'] rmax rmin cat nH ['J' j…]."""
    n, n_pk = len(off) - 1, len(rmax)
    row = np.repeat(np.arange(n), np.diff(off))
    first = np.zeros(n_pk, bool)
    first[off[:-1][np.diff(off) > 0]] = True
    c = (~first).astype(np.int64) + 4 + np.where(nj > 0, 1 + nj, 0)
    pstart = _excl_cumsum(c)[:-1] + row + 1
    s0 = pstart + (~first)
    counts = 1 + np.bincount(row, weights=c, minlength=n).astype(np.int64)
    rstart = _excl_cumsum(counts)[:-1]
    tb = tx.TokenBatch(int(counts.sum()))
    tb.put(rstart, tx.const_tokens("1HNMR", n))
    sep = pstart[~first]
    tb.put(sep, tx.const_tokens("|", len(sep)))
    tb.put(s0, tx.fixed_tokens(rmax, shift_decimals))
    tb.put(s0 + 1, tx.fixed_tokens(rmin, shift_decimals))
    tb.put(s0 + 2, cat_tokens)
    tb.put(s0 + 3, tx.int_tokens(nh_i, np.zeros(n_pk, bool), 0, b"H"))
    hasj = nj > 0
    tb.put(s0[hasj] + 4, tx.const_tokens("J", int(hasj.sum())))
    jpos, _ = tx.positions(_excl_cumsum(nj), s0 + 5)
    tb.put(jpos, tx.fixed_tokens(j_val, j_decimals))
    return tb.join(counts), counts


def _split_j(jarr: pa.Array | None, n_pk: int, err: dict[int, str]):
    """Per-peak number of J values and the flat float values (``float()`` of each field)."""
    nj = np.zeros(n_pk, np.int64)
    if jarr is None or n_pk == 0:
        return nj, np.zeros(0)
    if not pa.types.is_string(jarr.type):
        jarr = pc.cast(jarr, pa.string())
    skip = pc.or_(pc.is_null(jarr), pc.fill_null(pc.equal(jarr, "None"), False))
    clean = pc.if_else(skip, "", jarr)
    parts = pc.split_pattern(clean, "_")
    poff = _offsets(parts)
    vals = parts.values
    keep = np.asarray(pc.greater(pc.binary_length(vals), 0).to_numpy(zero_copy_only=False), dtype=bool)
    kc = np.concatenate([[0], np.cumsum(keep)])
    nj[:] = kc[poff[1:]] - kc[poff[:-1]]
    kept = vals.filter(pa.array(keep))
    try:
        return nj, np.asarray(pc.cast(kept, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # something Arrow cannot parse: Python float() decides, value by value
    strs = kept.to_pylist()
    j_val = np.zeros(len(strs))
    jstart = _excl_cumsum(nj)
    raw = None
    for k in np.flatnonzero(nj).tolist():
        for t in range(jstart[k], jstart[k + 1]):
            try:
                j_val[t] = float(strs[t])
            except ValueError:
                raw = jarr[k].as_py()
                err.setdefault(k, f"malformed j_values {raw!r}")
                break
    return nj, j_val


def _vocab_fixed(x: np.ndarray, decimals: int) -> set:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return set()
    u = np.unique(np.round(x, decimals + 2))  # near-duplicates collapse; exact strings below
    return {f"{v:.{decimals}f}" for v in u.tolist()}


# ---------------------------------------------------------------- 13C NMR
def binned(x: np.ndarray, decimals: int) -> np.ndarray:
    """Values rounded to ``decimals`` (half to even), negative zero folded into zero.

    Used by the tagged format's coarser NMR bins, where ``-0.0`` and ``0.0`` must be one token.
    """
    return np.round(np.asarray(x, dtype=np.float64), decimals) + 0.0  # -0.0 + 0.0 == +0.0


def _py_round1(v: float) -> str:
    return str(round(v, 1))


def format_cnmr(arr: pa.Array, decimals: int = 1) -> SectionText:
    """``13CNMR`` then ``str(round(delta, 1))`` per peak, in stored order.

    ``decimals`` other than 1 (the tagged format's binning) writes ``{:.<decimals>f}``.
    """
    arr = _as_list_array(arr, "c_nmr_peaks")
    n = len(arr)
    out = SectionText(n)
    nulls = _nulls(arr)
    off, peaks = _rebased_values(arr)
    if pa.types.is_struct(peaks.type):
        f = _struct_fields(peaks)
        if "delta (ppm)" not in f:
            raise TypeError("c_nmr_peaks has no field 'delta (ppm)'")
        d = _floats(f["delta (ppm)"])
    else:  # a plain list of shifts
        d = _floats(peaks)
    finite = np.isfinite(d)
    lens = np.diff(off)
    counts = 1 + lens
    rstart = _excl_cumsum(counts)[:-1]
    tb = tx.TokenBatch(int(counts.sum()))
    tb.put(rstart, tx.const_tokens("13CNMR", n))
    pos, _ = tx.positions(off, rstart + 1)
    if decimals == 1:
        tb.put(pos, tx.fixed_tokens(d, 1, _py_round1))
    else:
        d = binned(d, decimals)
        tb.put(pos, tx.fixed_tokens(d, decimals))
    texts = tb.join(counts)
    bad_cum = np.concatenate([[0], np.cumsum(~finite)])
    row_bad = (bad_cum[off[1:]] - bad_cum[off[:-1]]) > 0
    for i in range(n):
        if nulls[i]:
            out.status[i] = NULL
        elif row_bad[i]:
            out.bad(i, "c_nmr peak with null/non-finite 'delta (ppm)'")
        else:
            out.texts[i] = texts[i]
            out.ntok[i] = counts[i]
            if lens[i] == 0:
                out.status[i] = EMPTY
    out.vocab.add("13CNMR")
    out.vocab.update(_vocab_fixed(d, decimals))
    return out


# ---------------------------------------------------------------- IR
_INTERP_CACHE: dict[tuple, tuple] = {}


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


_IR_TOKENS = tx.int_tokens(np.arange(101), np.zeros(101, bool))


def ir_integers(y: np.ndarray, n_out: int = 400) -> np.ndarray:
    """Interpolate, shift to min 0, scale to max 100, round half-even (float result)."""
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
    status = np.where(nulls, NULL, np.where(lens == 0, EMPTY, OK)).astype(np.int8)
    out.status[:] = status
    for i in np.flatnonzero((status == OK) & (lens != n_in)).tolist():
        out.bad(i, f"ir_spectra has {int(lens[i])} points, expected {n_in}")
    good = np.flatnonzero(out.status == OK)
    if len(good) == 0:
        return out
    starts = off[good]
    if len(good) == n and starts[0] + n * n_in == off[-1] and (np.diff(starts) == n_in).all():
        y = vals[starts[0] : starts[0] + n * n_in].reshape(n, n_in)  # contiguous: no copy
    else:
        y = vals[starts[:, None] + np.arange(n_in)]
    finite = np.isfinite(y).all(axis=1)
    ints = ir_integers(y, n_points)
    flat = ~np.isfinite(ints).all(axis=1)
    ok = finite & ~flat
    for r in np.flatnonzero(~ok).tolist():
        out.bad(
            int(good[r]),
            "ir_spectra contains null/non-finite values" if not finite[r] else "ir_spectra is flat (max == min)",
        )
    good = good[ok]
    ints = ints[ok].astype(np.int64)
    m = len(good)
    if m == 0:
        return out
    # tokens "0".."100" padded to 4 bytes (a spare space column) plus the "IR" header
    chars = np.full((m, n_points + 1, 4), tx.SPACE, np.uint8)
    chars[:, 0, :2] = (73, 82)  # "IR"
    lens_t = np.empty((m, n_points + 1), np.int64)
    lens_t[:, 0] = 2
    chars[:, 1:, :3] = _IR_TOKENS[0][ints]
    lens_t[:, 1:] = _IR_TOKENS[1][ints]
    texts = tx.join_rows(chars.reshape(-1, 4), lens_t.reshape(-1), np.full(m, n_points + 1))
    for r, i in enumerate(good.tolist()):
        out.texts[i] = texts[r]
        out.ntok[i] = n_points + 1
    out.vocab.add("IR")
    out.vocab.update(str(v) for v in np.unique(ints).tolist())
    return out


# ---------------------------------------------------------------- MS/MS
# Why a peak is refused (code -> reason); 0 = a good peak. The first bad peak names the row's reason.
MSMS_PEAK_PROBLEMS = {
    1: "malformed peak (not [m/z, intensity])",
    2: "peak with more than two values (only [m/z, intensity] is read)",
    3: "non-finite m/z or intensity",
    4: "negative intensity",
    5: "m/z <= 0",
}


def _msms_peaks(arr: pa.Array, column: str):
    """Flatten one MS/MS column: per-row peak offsets, m/z, intensity, per-peak problem code."""
    arr = _as_list_array(arr, column)
    nulls = _nulls(arr)
    off, inner = _rebased_values(arr)
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
    finite = np.isfinite(mz) & np.isfinite(it)
    # later conditions take precedence only where earlier ones do not hold (np.select order)
    problem = np.select([inner_null | short, ilen > 2, ~finite, it < 0, mz <= 0], [1, 2, 3, 4, 5], 0)
    return nulls, off, mz, it, problem.astype(np.int8)


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


def format_msms(
    arrs: Sequence[pa.Array], headers: Sequence[str], columns: Sequence[str], top_k: int | None = None
) -> SectionText:
    """``E0Pos mz int … E1Pos … E2Pos …`` with ``{:.1f}`` of numpy-rounded values."""
    n = len(arrs[0])
    ne = len(arrs)
    out = SectionText(n)
    any_null = np.zeros(n, dtype=bool)
    all_empty = np.ones(n, dtype=bool)
    row_bad_any = np.zeros(n, dtype=bool)
    bad_col: list[str | None] = [None] * n
    blocks = []
    glens = np.zeros((n, ne), np.int64)
    for e, (arr, col) in enumerate(zip(arrs, columns)):
        nulls, off, mz, it, problem = _msms_peaks(arr, col)
        lens = np.diff(off)
        any_null |= nulls
        all_empty &= nulls | (lens == 0)
        bad_cum = np.concatenate([[0], np.cumsum(problem > 0)])
        row_bad = (bad_cum[off[1:]] - bad_cum[off[:-1]]) > 0
        for i in np.flatnonzero(row_bad & ~row_bad_any).tolist():
            first = off[i] + int(np.flatnonzero(problem[off[i] : off[i + 1]])[0])
            bad_col[i] = f"{col}: peak {first - off[i]}: {MSMS_PEAK_PROBLEMS[int(problem[first])]}"
        row_bad_any |= row_bad
        if top_k is not None:
            off, sel = _top_k(off, mz, it, top_k)
            mz, it = mz[sel], it[sel]
        glens[:, e] = np.diff(off)
        blocks.append((off, mz, it))
    gcounts = 1 + 2 * glens.reshape(-1)
    gstart = _excl_cumsum(gcounts)[:-1].reshape(n, ne)
    counts = gcounts.reshape(n, ne).sum(axis=1)
    tb = tx.TokenBatch(int(counts.sum()))
    for e, (off, mz, it) in enumerate(blocks):
        tb.put(gstart[:, e], tx.const_tokens(headers[e], n))
        pos, _ = tx.positions(off, gstart[:, e] + 1, stride=2)
        tb.put(pos, tx.np_round1_tokens(mz))
        tb.put(pos + 1, tx.np_round1_tokens(it))
    if blocks:
        out.vocab.update(_vocab_round1(np.concatenate([v for b in blocks for v in b[1:]])))
    out.vocab.update(headers)
    texts = tb.join(counts)
    for i in range(n):
        if row_bad_any[i]:
            out.bad(i, bad_col[i])
            continue
        out.texts[i] = texts[i]
        out.ntok[i] = counts[i]
        if all_empty[i] and any_null[i]:
            out.status[i] = NULL
        elif any_null[i]:
            # some energies null, others hold peaks: the official script would crash
            out.status[i] = PARTIAL
            out.reasons[i] = "null MS/MS list for one collision energy"
        elif all_empty[i]:
            out.status[i] = EMPTY
    return out


def _vocab_round1(x: np.ndarray) -> set:
    k = np.rint(x[np.isfinite(x)] * 10)
    return {f"{v:.1f}" for v in (np.unique(k) / 10).tolist()}


# ---------------------------------------------------------------- SMILES
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
        out.ntok[i] = len(toks)
        out.vocab.update(toks)
    return out
