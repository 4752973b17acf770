"""The modality vocabulary: which modality id each tag name has, and the tag tokens' ids.

Modality id 0 is :data:`OTHER` (tokens outside any segment, e.g. untagged benchmark-format input);
id ``i >= 1`` is ``names[i - 1]``. This is the one place that rule is written. Plain Python (no torch,
no OpenNMT): the encoder, the reports and the plots all read it from here.

In a checkpoint the vocabulary travels as the hidden model option ``moe_modality_vocab``: a list of
plain strings ``NAME:OPEN_ID:CLOSE_ID`` (see :meth:`ModalityVocab.to_option`), so a checkpoint never
pickles a class of ours. Checkpoints saved before that option existed carry two undeclared
attributes instead (``moe_modality_names``, ``moe_modality_tag_ids``); :meth:`ModalityVocab.from_opt`
still reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from onmt_moe.modality import tags

OTHER = "OTHER"
OTHER_ID = 0
ABSENT = -1  # the token id of a tag that the source vocabulary does not have


@dataclass(frozen=True)
class ModalityVocab:
    """Tag names in id order (id 1, 2, …) and their ``(open, close)`` token ids in the source vocabulary."""

    names: tuple[str, ...] = ()
    tag_ids: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        if len(self.names) != len(self.tag_ids):
            raise ValueError(f"modality vocabulary: {len(self.names)} names but {len(self.tag_ids)} tag id pairs")
        if OTHER in self.names:
            raise ValueError(f"modality vocabulary: {OTHER!r} is id {OTHER_ID}, not a tag name")

    @classmethod
    def from_tokens(cls, itos: Sequence[str], wanted: Sequence[str] | None = None) -> ModalityVocab:
        """The modalities of a source vocabulary ``itos``. ``wanted`` fixes the order (and so the ids);
        by default every ``<X>``/``</X>`` pair of the vocabulary, sorted by name. A wanted name absent
        from the vocabulary keeps its id with tag ids :data:`ABSENT`, so ids stay stable across vocabularies."""
        index = {tok: i for i, tok in enumerate(itos)}
        names = list(wanted) if wanted else tags.tags_in_vocab(itos)
        pairs = [(index.get(tags.open_tag(n), ABSENT), index.get(tags.close_tag(n), ABSENT)) for n in names]
        return cls(tuple(names), tuple(pairs))

    # -- ids
    @property
    def num_modalities(self) -> int:
        """Number of modality ids, OTHER included."""
        return len(self.names) + 1

    @property
    def all_names(self) -> list[str]:
        """Name of every modality id: ``[OTHER, names…]``."""
        return [OTHER, *self.names]

    def id_of(self, name: str) -> int:
        """The modality id of ``name`` (``OTHER`` included), -1 when it is not in the vocabulary."""
        names = self.all_names
        return names.index(name) if name in names else -1

    def name_of(self, modality_id: int) -> str:
        names = self.all_names
        return names[modality_id] if 0 <= modality_id < len(names) else f"M{modality_id}"

    # -- the model option
    def to_option(self) -> list[str]:
        """The value of ``-moe_modality_vocab``: ``["NAME:OPEN_ID:CLOSE_ID", …]`` in id order."""
        return [f"{n}:{o}:{c}" for n, (o, c) in zip(self.names, self.tag_ids)]

    @classmethod
    def from_option(cls, items: Sequence[str]) -> ModalityVocab:
        names, pairs = [], []
        for item in items:
            parts = str(item).rsplit(":", 2)
            try:
                name, o, c = parts[0], int(parts[1]), int(parts[2])
            except (IndexError, ValueError):
                raise ValueError(f"moe_modality_vocab: bad item {item!r} (want NAME:OPEN_ID:CLOSE_ID)") from None
            names.append(name)
            pairs.append((o, c))
        return cls(tuple(names), tuple(pairs))

    @classmethod
    def from_opt(cls, opt) -> ModalityVocab:
        """The vocabulary a model was built with: ``opt.moe_modality_vocab``, or the two attributes
        older checkpoints carry, or an empty vocabulary (every token OTHER)."""
        items = getattr(opt, "moe_modality_vocab", None)
        if items:
            return cls.from_option(items)
        names = list(getattr(opt, "moe_modality_names", None) or [])
        pairs = [tuple(int(i) for i in p) for p in (getattr(opt, "moe_modality_tag_ids", None) or [])]
        return cls(tuple(names), tuple(pairs))
