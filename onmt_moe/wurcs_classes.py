"""Token classes of WURCS target tokens, for a structure-aware (weighted) loss.

A shared leaf (plain Python, imports nothing of ours): the glycan track and the plugin's loss
(``struct_loss_weights``) read the one definition.

Classes:
  ``modification``    ResidueCode tokens that carry a MOD (contain ``*``), and LIN bridge MAPs
  ``monosaccharide``  the other ResidueCode tokens ``[...]``
  ``linkage``         LIN atoms (``a4``, ``b?``) and LIN separators ``- _ | ? ~ % { }``.
                      ``-`` also separates RES indices; it is classified as linkage
                      (context-free classification).
  ``other``           everything else (header, counts, ``/``, RES indices, specials).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CLASSES = ("monosaccharide", "linkage", "modification", "other")
_LIN_ATOM = re.compile(r"^[a-zA-Z](?:\d+|\?)$")
_LIN_SEPS = {"-", "_", "|", "?", "~", "%", "{", "}"}


def classify_token(tok: str) -> str:
    if len(tok) >= 2 and tok[0] == "[" and tok[-1] == "]":
        return "modification" if "*" in tok else "monosaccharide"
    if tok.startswith("*"):
        return "modification"
    if tok in _LIN_SEPS or _LIN_ATOM.match(tok):
        # guard: OpenNMT specials such as <s> never match these patterns
        return "linkage"
    return "other"


def token_weight_vector(itos: Sequence[str], weights: dict[str, float]) -> list[float]:
    """``weights[classify_token(tok)]`` for every token of ``itos`` (default 1.0); the loss makes it a tensor.

    ``weights`` keys must be class names (see CLASSES); unknown keys raise ValueError.
    """
    bad = set(weights) - set(CLASSES)
    if bad:
        raise ValueError(f"unknown token class(es) {sorted(bad)}; expected {CLASSES}")
    return [float(weights.get(classify_token(t), 1.0)) for t in itos]
