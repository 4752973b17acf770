"""Vectorised token text: numbers and strings as byte matrices, joined per row.

A batch of tokens is a ``(T, W)`` uint8 matrix (token bytes left-aligned, padded
with spaces) plus a length per token. :func:`join_rows` turns a token batch in
output order plus a token count per row into one space-joined ``str`` per row
with a single numpy compaction and one ``decode`` per row, which avoids creating
a Python object per token.

Number formatting reproduces Python exactly:

* :func:`fixed_tokens` ``(x, d)`` == ``"{:.{d}f}".format(float(x))`` (correct
  rounding of the binary value; values whose scaled fraction lies within 1e-6 of
  .5, or that are huge, are formatted by Python itself);
* :func:`int_tokens` formats integers (sign included) with optional decimals
  inserted, i.e. ``k`` -> ``k / 10**d`` written with ``d`` decimals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SPACE = 32
_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _pad_to(chars: np.ndarray, width: int) -> np.ndarray:
    if chars.shape[1] >= width:
        return chars
    out = np.full((chars.shape[0], width), SPACE, np.uint8)
    out[:, : chars.shape[1]] = chars
    return out


def str_tokens(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Python strings -> (chars, lens) (UTF-8 bytes)."""
    if len(strings) == 0:
        return np.zeros((0, 1), np.uint8), np.zeros(0, np.int64)
    enc = [s.encode("utf-8") for s in strings]
    arr = np.array(enc, dtype="S")
    w = max(arr.dtype.itemsize, 1)
    chars = arr.view(np.uint8).reshape(len(enc), w).copy()
    lens = np.fromiter((len(b) for b in enc), dtype=np.int64, count=len(enc))
    chars[np.arange(w)[None, :] >= lens[:, None]] = SPACE
    return chars, lens


_LUT_MAX = 1 << 17
_LUTS: dict = {}


def int_tokens(k: np.ndarray, neg: np.ndarray, decimals: int = 0, suffix: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
    """Non-negative ints ``k`` (with a '-' where ``neg``) written as ``k / 10**decimals``
    with exactly ``decimals`` decimals, plus an optional ASCII suffix."""
    k = np.asarray(k, dtype=np.int64)
    n = len(k)
    if n == 0:
        return np.zeros((0, 1), np.uint8), np.zeros(0, np.int64)
    neg = np.asarray(neg, dtype=bool)
    kmax = int(k.max())
    if n > 2000 and not suffix and kmax < _LUT_MAX and not neg.any():
        # table of all values below a power of two, grown on demand (cached per process)
        size = max(4096, 1 << kmax.bit_length())
        if decimals not in _LUTS or len(_LUTS[decimals][1]) < size:
            _LUTS[decimals] = _int_tokens(np.arange(size), np.zeros(size, bool), decimals, b"")
        chars, lens = _LUTS[decimals]
        lens_k = lens[k]
        w = int(lens_k.max())
        return chars[k, :w], lens_k
    return _int_tokens(k, neg, decimals, suffix)


def _int_tokens(k: np.ndarray, neg: np.ndarray, decimals: int, suffix: bytes):
    n = len(k)
    p = _POW10[decimals]
    ip = k // p
    fp = k % p
    nd = np.ones(n, np.int64)
    for j in range(1, 19):
        m = ip >= _POW10[j]
        if not m.any():
            break
        nd += m
    s = neg.astype(np.int64)
    body = nd + (decimals + 1 if decimals else 0)
    lens = s + body + len(suffix)
    w = int(lens.max())
    rel = np.arange(w)[None, :] - s[:, None]
    out = np.full((n, w), SPACE, np.uint8)
    e = nd[:, None] - 1 - rel
    m = (rel >= 0) & (e >= 0)
    out[m] = (48 + (ip[:, None] // _POW10[np.clip(e, 0, 18)]) % 10)[m]
    if decimals:
        out[rel == nd[:, None]] = 46
        fe = nd[:, None] + decimals - rel
        m = (rel > nd[:, None]) & (fe >= 0)
        out[m] = (48 + (fp[:, None] // _POW10[np.clip(fe, 0, 18)]) % 10)[m]
    if neg.any():
        out[neg, 0] = 45
    for t, byte in enumerate(suffix):
        out[np.arange(n), s + body + t] = byte
    return out, lens


def merge_tokens(
    base: tuple[np.ndarray, np.ndarray], idx: np.ndarray, strings: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Replace tokens ``idx`` of ``base`` by Python strings."""
    if len(idx) == 0:
        return base
    chars, lens = base
    c2, l2 = str_tokens(strings)
    w = max(chars.shape[1], c2.shape[1])
    chars = _pad_to(chars, w)
    chars[idx] = _pad_to(c2, w)
    lens = lens.copy()
    lens[idx] = l2
    return chars, lens


def fixed_tokens(
    x: np.ndarray, decimals: int, pyfmt: Callable[[float], str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``pyfmt(v)`` for every float ``v`` of ``x``, default ``"{:.{d}f}".format(v)``.

    ``pyfmt`` must agree with ``{:.{d}f}`` on ordinary values (e.g.
    ``str(round(v, 1))``); it is only called for the near-tie / huge / non-finite ones.
    """
    x = np.asarray(x, dtype=np.float64)
    if pyfmt is None:
        pyfmt = f"{{:.{decimals}f}}".format
    y = x * float(_POW10[decimals])
    with np.errstate(invalid="ignore"):
        frac = np.abs(y - np.trunc(y))
        odd = ~np.isfinite(y) | (np.abs(y) > 1e8) | (np.abs(frac - 0.5) < 1e-6)
    k = np.abs(np.rint(np.where(odd, 0.0, y))).astype(np.int64)
    toks = int_tokens(k, np.signbit(x) & ~odd, decimals)
    idx = np.flatnonzero(odd)
    return merge_tokens(toks, idx, [pyfmt(v) for v in x[idx].tolist()])


def np_round1_tokens(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``"{:.1f}".format(round(v, 1))`` for numpy float64 ``v`` (numpy's round:
    ``rint(v * 10) / 10``)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.rint(x * 10)
    with np.errstate(invalid="ignore"):
        odd = ~np.isfinite(k) | (np.abs(k) > 1e15)
    ki = np.abs(np.where(odd, 0.0, k)).astype(np.int64)
    toks = int_tokens(ki, np.signbit(k) & ~odd, 1)
    idx = np.flatnonzero(odd)
    return merge_tokens(toks, idx, [f"{v:.1f}" for v in (k[idx] / 10).tolist()])


def const_tokens(token: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    b = np.frombuffer(token.encode("utf-8"), dtype=np.uint8)
    return np.tile(b, (n, 1)), np.full(n, len(b), np.int64)


class TokenBatch:
    """Tokens scattered into their output positions, then joined per row."""

    def __init__(self, n_tokens: int, width: int = 8):
        self.chars = np.full((n_tokens, width), SPACE, np.uint8)
        self.lens = np.zeros(n_tokens, np.int64)

    def put(self, pos: np.ndarray, toks: tuple[np.ndarray, np.ndarray]) -> None:
        chars, lens = toks
        if len(pos) == 0:
            return
        if chars.shape[1] >= self.chars.shape[1]:  # keep one spare column of spaces
            self.chars = _pad_to(self.chars, chars.shape[1] + 1)
        self.chars[pos, : chars.shape[1]] = chars
        self.lens[pos] = lens

    def join(self, counts: np.ndarray) -> list[str]:
        return join_rows(self.chars, self.lens, counts)


def join_rows(chars: np.ndarray, lens: np.ndarray, counts: np.ndarray) -> list[str]:
    """One space-joined string per row; ``counts[r]`` tokens for row r, in order."""
    t, w = chars.shape
    if t and int(lens.max()) < w:  # there is a spare column: every token has a space after it
        buf = chars
    else:
        buf = np.full((t, w + 1), SPACE, np.uint8)
        buf[:, :w] = chars
    mask = np.arange(buf.shape[1])[None, :] <= lens[:, None]
    flat = buf[mask].tobytes()
    counts = np.asarray(counts, dtype=np.int64)
    first_tok = np.concatenate([[0], np.cumsum(counts)[:-1]])
    nonempty = counts > 0
    row_bytes = np.zeros(len(counts), np.int64)
    if t:
        idx = np.minimum(first_tok[nonempty], t - 1)
        row_bytes[nonempty] = np.add.reduceat(lens + 1, idx)
    ends = np.cumsum(row_bytes)
    starts = (ends - row_bytes).tolist()
    ends = ends.tolist()
    if flat.isascii():  # byte offsets are character offsets: decode once, slice the str
        text = flat.decode("ascii")
        return [text[a : b - 1] if b > a else "" for a, b in zip(starts, ends)]
    return [flat[a : b - 1].decode("utf-8") if b > a else "" for a, b in zip(starts, ends)]


def positions(offsets: np.ndarray, base: np.ndarray, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """For list items grouped by ``offsets`` (len n+1, relative), the output position
    ``base[row] + stride * i`` of item i of each row, and each item's row."""
    lens = np.diff(offsets)
    row = np.repeat(np.arange(len(lens)), lens)
    i = np.arange(int(offsets[-1] - offsets[0])) - np.repeat(offsets[:-1] - offsets[0], lens)
    return base[row] + stride * i, row
