"""How the modalities of ``moe_transformer`` attend to each other: within-modality attention in the
encoder layers, then optional cross-modal fusion layers.

``within_modality_attention``: the encoder layers attend only within each modality segment (a block
mask per segment, :func:`onmt_moe.modality.segments.within_segment_mask`); tokens outside any segment
(a multi-task source's task token) stay visible to every token. ``fusion_layers``: stock pre-norm
OpenNMT encoder layers (dense FFN) after the encoder layers, where each token attends to the tokens of
the *other* segments of its example (:func:`~onmt_moe.modality.segments.cross_segment_mask`).
Both off (the defaults): the plain pad mask and no extra layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from onmt.encoders.transformer import TransformerEncoderLayer

from onmt_moe.modality import segments
from onmt_moe.plugin.option_fields import option, to_bool, to_int


@dataclass(frozen=True)
class FusionArgs:
    within_modality_attention: bool = option("within_modality_attention", to_bool)
    layers: int = option("fusion_layers", to_int)
    heads: int = option("fusion_heads", to_int)  # 0 = the encoder's -heads

    def resolved_heads(self, encoder_heads: int) -> int:
        return self.heads or int(encoder_heads)

    def problems(self, d_model: int, encoder_heads: int) -> list[str]:
        out = []
        if self.layers < 0:
            out.append(f"fusion_layers: must be >= 0, got {self.layers}")
        if self.heads < 0:
            out.append(f"fusion_heads: must be >= 0 (0 = -heads), got {self.heads}")
        elif self.layers > 0 and d_model % self.resolved_heads(encoder_heads):
            out.append(f"fusion_heads: {self.resolved_heads(encoder_heads)} does not divide the hidden size {d_model}")
        return out


class FusionLayers(nn.ModuleList):
    """The cross-modal fusion layers: a ModuleList, so their parameters are ``fusion.<i>.*`` as ever."""

    @classmethod
    def build(cls, args: FusionArgs, d_model, heads, d_ff, dropout, attention_dropout, layer_kwargs: Mapping[str, Any]):
        heads = args.resolved_heads(heads)
        return cls(
            TransformerEncoderLayer(d_model, heads, d_ff, dropout, attention_dropout, **layer_kwargs)
            for _ in range(args.layers)
        )

    def forward(self, x: torch.Tensor, cross_mask: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, cross_mask)
        return x

    def update_dropout(self, dropout: float, attention_dropout: float) -> None:
        for layer in self:
            layer.update_dropout(dropout, attention_dropout)


def attention_masks(
    args: FusionArgs, modality_bs: torch.Tensor, keep: torch.Tensor, pad_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(mask of the encoder layers, mask of the fusion layers or None)``, OpenNMT's convention
    (``(B, 1, S, S)``, True = may not attend). ``pad_mask``: the plain pad mask; ``keep``: ``(B, S)``
    True at real tokens."""
    if not args.within_modality_attention and not args.layers:
        return pad_mask, None
    segment = segments.segment_index(modality_bs)
    mask = pad_mask
    if args.within_modality_attention:  # tokens outside any segment (task tokens) stay visible to all
        mask = segments.within_segment_mask(segment, keep, global_keys=(modality_bs == 0) & keep)
    cross = segments.cross_segment_mask(segment, keep) if args.layers else None
    return mask, cross


__all__ = ["FusionArgs", "FusionLayers", "attention_masks"]
