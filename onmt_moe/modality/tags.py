"""Modality tags of the tagged corpora: the one place that knows their spelling.

A tagged source line is a sequence of segments, each wrapped in an opening and a
closing tag, for example::

    <FORMULA> C 8 H 8 O </FORMULA> <NMR> 1HNMR 7.95 ... 13CNMR 198.1 ... </NMR> <IR> IR 3 4 ... </IR>

A tag is ``<NAME>`` / ``</NAME>`` where NAME is upper-case letters, digits or ``_``.
A segment whose modality is absent holds the single token ``<MISSING>``.
Everything here is plain Python so that the data scripts, the transforms and the
encoder agree without importing torch or OpenNMT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MISSING = "<MISSING>"

_OPEN_RE = re.compile(r"^<([A-Z][A-Z0-9_]*)>$")
_CLOSE_RE = re.compile(r"^</([A-Z][A-Z0-9_]*)>$")


def open_tag(name: str) -> str:
    return f"<{name}>"


def close_tag(name: str) -> str:
    return f"</{name}>"


TASK_PREFIX = "<TASK_"  # multi-task sources start with one task token, e.g. <TASK_STRUCT> (not a tag)


def task_token(name: str) -> str:
    """The task token of a multi-task source line, e.g. ``task_token("STRUCT") == "<TASK_STRUCT>"``."""
    return f"{TASK_PREFIX}{name}>"


def tag_name(token: str) -> tuple[str, bool] | None:
    """Return (NAME, is_open) for a tag token, None for any other token (task tokens included)."""
    m = _OPEN_RE.match(token)
    if m and token != MISSING and not token.startswith(TASK_PREFIX):
        return m.group(1), True
    m = _CLOSE_RE.match(token)
    if m:
        return m.group(1), False
    return None


def tags_in_vocab(tokens: Iterable[str]) -> list[str]:
    """Names that appear both as ``<NAME>`` and ``</NAME>`` in ``tokens``, sorted."""
    opens, closes = set(), set()
    for tok in tokens:
        t = tag_name(tok)
        if t is None:
            continue
        (opens if t[1] else closes).add(t[0])
    return sorted(opens & closes)


def wrap(name: str, tokens: Sequence[str]) -> list[str]:
    """One segment: ``<NAME> tokens… </NAME>`` (``<MISSING>`` if ``tokens`` is empty)."""
    body = list(tokens) if len(tokens) else [MISSING]
    return [open_tag(name), *body, close_tag(name)]


def split_segments(tokens: Sequence[str]) -> list[tuple[str | None, list[str]]]:
    """Split a tagged token list into ``(name, inner_tokens)`` pieces, in order.

    Tokens outside any segment come back as ``(None, [tokens…])`` pieces so that
    ``join_segments(split_segments(x)) == x`` for every well-formed line.
    Raises ValueError on a nested, unclosed or mismatched tag.
    """
    out: list[tuple[str | None, list[str]]] = []
    cur_name: str | None = None
    cur: list[str] = []
    for i, tok in enumerate(tokens):
        t = tag_name(tok)
        if t is None:
            cur.append(tok)
            continue
        name, is_open = t
        if is_open:
            if cur_name is not None:
                raise ValueError(f"tag <{name}> opened inside <{cur_name}> at token {i}")
            if cur:
                out.append((None, cur))
            cur_name, cur = name, []
        else:
            if cur_name != name:
                raise ValueError(f"closing tag </{name}> at token {i} does not match <{cur_name}>")
            out.append((name, cur))
            cur_name, cur = None, []
    if cur_name is not None:
        raise ValueError(f"tag <{cur_name}> is never closed")
    if cur:
        out.append((None, cur))
    return out


def join_segments(segments: Sequence[tuple[str | None, Sequence[str]]]) -> list[str]:
    out: list[str] = []
    for name, toks in segments:
        out.extend(toks if name is None else [open_tag(name), *toks, close_tag(name)])
    return out


def has_data(inner_tokens: Sequence[str]) -> bool:
    """Whether a segment's inner tokens hold real data (neither empty nor the single ``<MISSING>``)."""
    return len(inner_tokens) > 0 and list(inner_tokens) != [MISSING]


def present_modalities(tokens: Sequence[str]) -> list[str]:
    """Names of segments that hold real data (see :func:`has_data`)."""
    return [n for n, toks in split_segments(tokens) if n is not None and has_data(toks)]


def parse_name_values(spec, option: str, key: str = "NAME", value: str = "VALUE") -> dict[str, str]:
    """The one reader of ``NAME=VALUE,…`` options (segment groups, per-modality probabilities, loss
    weights): ``"IR=0.3, MS=0.2"`` (or a list of such strings) -> ``{"IR": "0.3", "MS": "0.2"}`` in order,
    empty items skipped. The caller converts and checks the values; an item without ``=`` or without a
    name is a one-line ValueError naming ``option``, e.g. ``"--groups: expected section=NAME, got 'x'"``."""
    chunks = spec if isinstance(spec, (list, tuple)) else [spec or ""]
    out: dict[str, str] = {}
    for item in (part.strip() for chunk in chunks for part in str(chunk).split(",")):
        if not item:
            continue
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{option}: expected {key}={value}, got {item!r}")
        out[name.strip()] = val.strip()
    return out


# Default grouping of the benchmark's spectra sections into routing modalities.
# Keys are generate_input section names; values are segment (tag) names.
DEFAULT_GROUPS: dict[str, str] = {
    "formula": "FORMULA",
    "h_nmr": "NMR",
    "c_nmr": "NMR",
    "ir": "IR",
    "pos_msms": "MS",
    "neg_msms": "MS",
}
# One modality per spectrum type.
FINE_GROUPS: dict[str, str] = {
    "formula": "FORMULA",
    "h_nmr": "HNMR",
    "c_nmr": "CNMR",
    "ir": "IR",
    "pos_msms": "MSPOS",
    "neg_msms": "MSNEG",
}
