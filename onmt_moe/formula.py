"""Molecular formulas as text (``C11H15FN2O2``, ``C8H8O2+``): the one parser every layer reads.

A shared leaf: plain Python, imports nothing of ours. Scoring (formula-consistent candidates), the
predictor's ranking and the plugin's formula-guided beam search all parse formulas here.
"""

from __future__ import annotations

import re
from collections import Counter

_FORMULA_RE = re.compile(r"([A-Z][a-z]?)(\d*)|([+-])(\d*)")


def parse_formula(text: str) -> Counter | None:
    """``'C11H15FN2O2'`` -> Counter of element counts (charge under key ``'charge'``).

    Returns None for an empty string or one that is not a formula.
    """
    text = text.strip()
    if not text:
        return None
    out: Counter = Counter()
    pos = 0
    for m in _FORMULA_RE.finditer(text):
        if m.start() != pos:
            return None
        pos = m.end()
        if m.group(1):
            out[m.group(1)] += int(m.group(2) or 1)
        else:
            out["charge"] += (1 if m.group(3) == "+" else -1) * int(m.group(4) or 1)
    if pos != len(text):
        return None
    out = Counter({k: v for k, v in out.items() if v != 0})
    return out if out else None
