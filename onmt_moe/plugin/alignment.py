"""Cross-modal contrastive alignment of ``moe_transformer``'s encoder states (an aux loss).

InfoNCE (+ an optional triplet margin) between the mean-pooled states of two modality segments of the
same example, against the other examples of the batch (the loss itself: :mod:`onmt_moe.plugin.contrastive`).
Off at ``moe_contrastive_coef`` 0 (the default); the coefficient may be a schedule, and the loss is not
even computed at a step where it is 0. Modality names are resolved to ids against the model's modality
vocabulary by :class:`ContrastiveAlignment` (``start_training --dry_run`` checks them against the corpus,
:mod:`onmt_moe.runs.corpus_checks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from onmt_moe.modality.vocab import ModalityVocab
from onmt_moe.moe import Schedule
from onmt_moe.plugin import contrastive
from onmt_moe.plugin.option_fields import option, to_float, to_str, to_strs


@dataclass(frozen=True)
class AlignmentArgs:
    coef: str = option("moe_contrastive_coef", to_str)  # a number or a schedule
    temperature: float = option("moe_contrastive_temperature", to_float)
    margin: float = option("moe_contrastive_margin", to_float)
    pair: tuple[str, ...] = option("moe_contrastive_pair", to_strs)
    pairs: str = option("moe_contrastive_pairs", to_str)  # "A:B,C:D"; empty = [pair]
    hard_key: str = option("moe_contrastive_hard_key", to_str)

    def schedule(self) -> Schedule:
        try:
            return Schedule(self.coef if self.coef.strip() else 0.0)
        except ValueError as e:
            raise ValueError(f"moe_contrastive_coef: {e}") from None

    def pair_names(self) -> list[tuple[str, str]]:
        """The aligned pairs of modality names: ``moe_contrastive_pairs``, else ``moe_contrastive_pair``."""
        return contrastive.parse_pairs(self.pairs) or [tuple(self.pair)]

    def problems(self) -> list[str]:
        out = []
        try:
            if self.schedule().min_value() < 0:
                out.append(f"moe_contrastive_coef: {self.coef!r} must not be negative")
        except ValueError as e:
            out.append(str(e))
        if not self.temperature > 0:
            out.append(f"moe_contrastive_temperature: must be > 0, got {self.temperature}")
        if not self.margin >= 0:
            out.append(f"moe_contrastive_margin: must be >= 0, got {self.margin}")
        if len(self.pair) != 2 or self.pair[0] == self.pair[1]:
            out.append(f"moe_contrastive_pair: needs two different modality names, got {list(self.pair)}")
        try:
            contrastive.parse_pairs(self.pairs)  # its message names moe_contrastive_pairs
        except ValueError as e:
            out.append(str(e))
        return out


class ContrastiveAlignment:
    """The alignment loss of one encoder, with the modality names resolved to ids (no parameters)."""

    def __init__(self, args: AlignmentArgs, vocab: ModalityVocab):
        self.coef = args.schedule()
        self.temperature = args.temperature
        self.margin = args.margin
        pairs = args.pair_names()
        wanted = [n for p in pairs for n in p] + ([args.hard_key] if args.hard_key else [])
        missing = [n for n in wanted if vocab.id_of(n) < 1]
        if not self.coef.is_zero() and missing:
            raise ValueError(
                f"moe_contrastive_pair(s)/hard_key {missing}: must be modality tags of the source "
                f"vocabulary (found: {list(vocab.names)})"
            )
        self.ids = [(vocab.id_of(a), vocab.id_of(b)) for a, b in pairs]
        self.key = vocab.id_of(args.hard_key) if args.hard_key else -1

    def active(self, step: int, training: bool) -> bool:
        """Whether the loss is computed: in training, where the coefficient is not 0."""
        return training and self.coef(step) > 0

    def loss(
        self, states: torch.Tensor, modality_bs: torch.Tensor, keep: torch.Tensor, src_ids: torch.Tensor
    ) -> torch.Tensor | None:
        """The loss on ``states`` ``(B, S, D)``; ``keep`` ``(B, S)`` True at real tokens."""
        return contrastive.alignment_loss(
            states, modality_bs.masked_fill(~keep, -1), src_ids, self.ids, self.temperature, self.margin, self.key
        )


__all__ = ["AlignmentArgs", "ContrastiveAlignment"]
