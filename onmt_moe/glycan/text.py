"""Short text description of a glycan from glycowork metadata (optional TEXT modality).

Only metadata that does not spell out the structure is used: glycan type (N/O/free/lipid/repeat),
the most frequent kingdom, up to two species of that kingdom (Homo sapiens first when present,
then alphabetical) and up to two tissues.  Example::

    n-linked glycan ; kingdom animalia ; species homo sapiens , mus musculus ; tissue serum
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

TYPE_WORDS = {
    "N": "n-linked glycan",
    "O": "o-linked glycan",
    "free": "free glycan",
    "lipid": "glycolipid glycan",
    "repeat": "repeating unit glycan",
}
_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9\-]*|[;,]")


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    try:
        return [str(x) for x in list(v) if x is not None and str(x) not in ("", "nan")]
    except TypeError:
        return []


def _first_unique(values: Sequence[str], n: int) -> list[str]:
    out: list[str] = []
    for v in values:
        v = v.replace("_", " ").strip()
        if v and v not in out:
            out.append(v)
        if len(out) == n:
            break
    return out


def describe(glycan_type=None, kingdom=None, species=None, tissue=None) -> str:
    parts = []
    if isinstance(glycan_type, str) and glycan_type in TYPE_WORDS:
        parts.append(TYPE_WORDS[glycan_type])
    kingdoms = _as_list(kingdom)
    species = _as_list(species)
    top = None
    if kingdoms:
        top = Counter(kingdoms).most_common(1)[0][0]
        parts.append("kingdom " + top)
        if len(kingdoms) == len(species):  # df_glycan lists are aligned
            species = [s for s, k in zip(species, kingdoms) if k == top]
    species = sorted(set(species), key=lambda s: (s != "Homo_sapiens", s))
    sp = _first_unique(species, 2)
    if sp:
        parts.append("species " + " , ".join(sp))
    ti = _first_unique(_as_list(tissue), 2)
    if ti:
        parts.append("tissue " + " , ".join(ti))
    return " ; ".join(parts).lower()


def text_tokens(text: str | None) -> list[str]:
    if not text:
        return []
    return _TOKEN_RE.findall(str(text).lower())


FIELDS = ("type", "kingdom", "species", "tissue")


def fields(text: str) -> dict:
    """The metadata fields of a :func:`describe` text: ``{"type": "n-linked glycan", "kingdom": …}``.

    The text is `` ; ``-separated parts; a part starting with ``kingdom``/``species``/``tissue`` is
    that field, the glycan type is the part ending in ``glycan``. Unrecognised parts are ignored.
    """
    out = {}
    for part in (p.strip() for p in str(text).split(";")):
        head, _, rest = part.partition(" ")
        if head in ("kingdom", "species", "tissue") and rest:
            out[head] = rest.strip()
        elif part.endswith("glycan"):
            out["type"] = part
    return out
