"""glycowork's glycans of one class (``df_glycan.glycan_type`` N / O / free / lipid): the class
list a real tool searches.  Used for the composition prior (compositions seen in the class) and
for the random-isomer baselines (structures of one composition)."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from .charge import composition_key

CLASSES = ("N", "O", "free", "lipid")

Key = tuple[tuple[str, int], ...]


class ClassList:
    def __init__(self, glycans: list[str], compositions: list[dict[str, int]], glycan_class: str):
        self.glycan_class = glycan_class
        self.by_composition: dict[Key, list[str]] = defaultdict(list)
        for g, c in zip(glycans, compositions):
            self.by_composition[composition_key(c)].append(g)

    @property
    def known(self) -> frozenset[Key]:
        return frozenset(self.by_composition)

    def isomers(self, composition: dict[str, int]) -> list[str]:
        return self.by_composition.get(composition_key(composition), [])


@lru_cache(maxsize=4)
def load(glycan_class: str) -> ClassList:
    """All df_glycan glycans of the class with a composition (duplicates removed, order kept)."""
    if glycan_class not in CLASSES:
        raise ValueError(f"unknown glycan class {glycan_class!r} (known: {', '.join(CLASSES)})")
    from ..dataset import load_df_glycan

    df = load_df_glycan()
    sub = df[df["glycan_type"] == glycan_class]
    seen, gs, cs = set(), [], []
    for g, c in zip(sub["glycan"], sub["Composition"]):
        if isinstance(g, str) and isinstance(c, dict) and c and g not in seen:
            seen.add(g)
            gs.append(g)
            cs.append(c)
    return ClassList(gs, cs, glycan_class)
