"""Numeric source tokens: which vocabulary entries are numbers, and the nearest number a vocabulary has.

A shared leaf (imports nothing of ours): the value embedding (:mod:`onmt_moe.plugin.value_embedding`)
reads every token's value from here, and ``onmt_moe_predict`` maps a number the model never saw to
the nearest one it knows with :func:`nearest_known`, so both agree on what a number is.

A number is a plain decimal as the corpus formatter writes it: ``128``, ``7.26``, ``-0.5``, ``.5``.
``2H``, ``1e3``, ``nan`` and ``inf`` are not numbers (``float()`` would read the last three).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence

NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")


def number_value(token: str) -> float | None:
    """The value of a numeric token, or None."""
    return float(token) if NUMBER.match(token) else None


def token_values(itos: Sequence[str]) -> list[float]:
    """Every token's value in vocabulary order; NaN for a non-numeric token."""
    out = []
    for tok in itos:
        v = number_value(tok)
        out.append(math.nan if v is None else v)
    return out


def _decimals(token: str) -> int:
    return len(token.split(".", 1)[1]) if "." in token else 0


class NearestNumbers:
    """The numeric tokens of a vocabulary, sorted by value, for :meth:`nearest`."""

    def __init__(self, vocab: Iterable[str]):
        pairs = sorted((v, t) for t in vocab if (v := number_value(t)) is not None)
        self.values = [v for v, _ in pairs]
        self.tokens = [t for _, t in pairs]

    def nearest(self, token: str) -> str | None:
        """The known numeric token closest in value to ``token`` (ties: the one written with as many
        decimals as ``token``, then the smaller); None when ``token`` is not a number or none is known."""
        v = number_value(token)
        if v is None or not self.values:
            return None
        i = bisect.bisect_left(self.values, v)
        near = [j for j in (i - 1, i) if 0 <= j < len(self.values)]
        best = min(near, key=lambda j: (abs(self.values[j] - v), _decimals(self.tokens[j]) != _decimals(token), j))
        return self.tokens[best]


def nearest_known(tokens: Sequence[str], vocab: set[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``tokens`` with every number absent from ``vocab`` replaced by the nearest known number, and the
    ``(from, to)`` pairs replaced. Unknown non-numeric tokens are left as they are."""
    table: NearestNumbers | None = None
    out, changed = [], []
    for tok in tokens:
        if tok not in vocab and number_value(tok) is not None:
            table = table or NearestNumbers(vocab)
            near = table.nearest(tok)
            if near is not None:
                changed.append((tok, near))
                tok = near
        out.append(tok)
    return out, changed


__all__ = ["NUMBER", "NearestNumbers", "nearest_known", "number_value", "token_values"]
