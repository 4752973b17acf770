"""The token embeddings of ``moe_transformer``: OpenNMT's, with positions restarting per modality
segment and/or a learned modality type embedding added.

``segment_positions``: the sinusoidal position of a token is its position inside its segment
(:func:`onmt_moe.modality.segments.segment_positions`), so every modality starts at 0; it needs
OpenNMT's sinusoidal ``position_encoding`` (not relative or rotary positions).
``modality_type_embedding``: one learned vector per modality id (OTHER included) added to the token
embeddings; without it the modality reaches only the router. Both off (the defaults): OpenNMT's
``Embeddings`` as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from onmt_moe.modality import segments
from onmt_moe.plugin.option_fields import option, to_bool


@dataclass(frozen=True)
class EmbeddingArgs:
    segment_positions: bool = option("segment_positions", to_bool)
    modality_type_embedding: bool = option("modality_type_embedding", to_bool)

    @property
    def is_plain(self) -> bool:
        return not self.segment_positions and not self.modality_type_embedding

    def problems(self, position_encoding: bool, max_relative_positions: int) -> list[str]:
        if self.segment_positions and (not position_encoding or max_relative_positions != 0):
            return [
                "segment_positions: needs sinusoidal position_encoding (true) and max_relative_positions 0, "
                f"got position_encoding {position_encoding}, max_relative_positions {max_relative_positions}"
            ]
        return []


def type_embedding(args: EmbeddingArgs, num_modalities: int, d_model: int) -> nn.Embedding | None:
    """The modality type embedding, or None when it is off (then the encoder has no such parameter)."""
    return nn.Embedding(num_modalities, d_model) if args.modality_type_embedding else None


def embed(
    embeddings: nn.Module,
    src: torch.Tensor,
    modality_bs: torch.Tensor,
    args: EmbeddingArgs,
    modality_embedding: nn.Module | None,
    value_embedding: nn.Module | None = None,
) -> torch.Tensor:
    """OpenNMT's ``Embeddings`` forward (look-up, positions, dropout) with the options applied; the
    value vectors (:mod:`onmt_moe.plugin.value_embedding`) join the looked-up word vectors before the
    positions, so they are scaled as word vectors are."""
    if args.is_plain and value_embedding is None:
        return embeddings(src)
    steps = list(embeddings.make_embedding._modules.values())
    pe = steps.pop() if embeddings.position_encoding else None
    x = src
    for module in steps:  # the look-up tables (and the feature MLP where there is one)
        x = module(x)
    if value_embedding is not None:
        x = value_embedding(x, src[:, :, 0], embeddings.word_lut, modality_bs)
    if pe is not None and args.segment_positions:
        pos = segments.segment_positions(modality_bs)
        x = x * math.sqrt(pe.dim) + pe.pe[:, 0, :].index_select(0, pos.reshape(-1)).view_as(x)
    elif pe is not None:
        x = pe(x)
    if modality_embedding is not None:
        x = x + modality_embedding(modality_bs)
    return embeddings.dropout(x) if embeddings.dropout_p > 0 else x


__all__ = ["EmbeddingArgs", "type_embedding", "embed"]
