"""Lossless tokenizer for WURCS 2.0 strings.

Token inventory (see docs/glycan.md):
  header      ``WURCS=2.0``
  section     ``/`` (the four top-level section separators)
  counts      each integer of ``<#uniqueRES>,<#RES>,<#LIN>`` and ``,`` (``+`` if present)
  residues    one token per whole ResidueCode, brackets included: ``[a2122h-1b_1-5_2*NCC/3=O]``
  RES list    residue indices (``1``, ``12``) and ``-`` (and any other single char)
  LIN list    atoms ``<residue letter><position>`` (``a4``, ``c1``, ``b?``), an atom
              ``?`` alone, the separators ``-`` ``_`` ``|`` ``~`` ``%`` ``{`` ``}`` ``,`` ``:``,
              numbers, and bridge MAPs ``*...`` as one token.
Anything else falls back to one token per character, so ``detokenize(tokenize(s)) == s``
holds for every string that the tokenizer accepts (``tokenize`` checks this itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

HEADER = "WURCS=2.0"

_COUNTS_RE = re.compile(r"\d+|.", re.S)
_RES_RE = re.compile(r"\d+|.", re.S)
# LIN: residue atom (letter + digits or ?), a bridge MAP starting with '*' running to the
# next GLIP separator, numbers, or any single char.
_LIN_RE = re.compile(r"[a-zA-Z](?:\d+|\?)|\*[^_|\-~}]*|\d+|.", re.S)


class WurcsTokenizeError(ValueError):
    pass


def _split_sections(s: str):
    """Split a WURCS string into (counts, [residue codes], res_list, lin_list, has_lin_section)."""
    if not s.startswith(HEADER + "/"):
        raise WurcsTokenizeError(f"not a WURCS 2.0 string: {s[:40]!r}")
    rest = s[len(HEADER) + 1 :]
    slash = rest.find("/")
    if slash < 0:
        raise WurcsTokenizeError("missing uniqueRES section")
    counts = rest[:slash]
    rest = rest[slash + 1 :]
    codes = []
    while rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise WurcsTokenizeError("unterminated ResidueCode '['")
        codes.append(rest[: end + 1])
        rest = rest[end + 1 :]
    if not rest.startswith("/"):
        raise WurcsTokenizeError(f"expected '/' after ResidueCodes, got {rest[:10]!r}")
    rest = rest[1:]
    slash = rest.find("/")
    if slash < 0:  # no LIN section (allowed for monosaccharides in some writers)
        return counts, codes, rest, "", False
    return counts, codes, rest[:slash], rest[slash + 1 :], True


def tokenize(s: str) -> list[str]:
    """Tokenize a WURCS 2.0 string; raises WurcsTokenizeError if it is not one."""
    s = s.strip()
    counts, codes, res, lin, has_lin = _split_sections(s)
    toks: list[str] = [HEADER, "/"]
    toks += _COUNTS_RE.findall(counts)
    toks.append("/")
    toks += codes
    toks.append("/")
    toks += _RES_RE.findall(res)
    if has_lin:
        toks.append("/")
        toks += _LIN_RE.findall(lin)
    if "".join(toks) != s:  # should never happen; guards the exactness promise
        raise WurcsTokenizeError(f"tokenization is not lossless for {s[:60]!r}")
    return toks


def detokenize(tokens: Sequence[str] | str) -> str:
    """Inverse of tokenize: concatenation. Accepts a token list or a space-joined string."""
    if isinstance(tokens, str):
        tokens = tokens.split()
    return "".join(tokens)


def tokenize_line(s: str) -> str:
    return " ".join(tokenize(s))
