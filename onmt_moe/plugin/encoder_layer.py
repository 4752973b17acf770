"""One layer of ``moe_transformer``: OpenNMT's pre-norm encoder layer with a dense or an MoE feed-forward block.

:class:`MoEFeedForward`: LayerNorm → route the *non-pad* tokens through :class:`onmt_moe.moe.MoE` →
dropout → residual; it returns the MoE's aux losses with its output (no state kept between calls).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from onmt.encoders.transformer import TransformerEncoderLayer

from onmt_moe.moe import MoE

NO_AUX: dict[str, torch.Tensor] = {}  # what a dense layer returns as its aux losses (never written to)


class MoEFeedForward(nn.Module):
    """Pre-norm residual block around an MoE: ``x + dropout(MoE(LN(x)))`` on non-pad tokens only."""

    def __init__(self, moe: MoE, d_model: int, dropout: float, layer_norm: nn.Module):
        super().__init__()
        self.layer_norm = layer_norm
        self.moe = moe
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, token_index: torch.Tensor, modality: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(B, S, D)`` -> ``((B, S, D), aux losses of the MoE)``."""
        B, S, D = x.shape
        flat = self.layer_norm(x).reshape(B * S, D)
        y, aux = self.moe(flat.index_select(0, token_index), modality)
        out = flat.new_zeros(B * S, D).index_copy(0, token_index, y.to(flat.dtype))
        return x + self.dropout(out.view(B, S, D)), aux

    def update_dropout(self, dropout: float) -> None:
        self.dropout.p = dropout
        self.moe.update_dropout(dropout)


def layer_norm(kind: str, d_model: int, eps: float) -> nn.Module:
    """OpenNMT's ``layer_norm`` option: ``standard`` (nn.LayerNorm) or ``rms``."""
    if kind == "standard":
        return nn.LayerNorm(d_model, eps=eps)
    from onmt.encoders.transformer import RMSNorm

    return RMSNorm(d_model, eps=eps)


class MoEEncoderLayer(TransformerEncoderLayer):
    """One pre-norm encoder layer: OpenNMT's self-attention block, then a dense or an MoE feed-forward block.

    Built from OpenNMT's own layer (:meth:`from_layer`) by taking over its sub-modules under the same
    names, so the parameter names — and every checkpoint's state-dict keys — are those of the stock layer
    (``self_attn.*``, ``layer_norm.*``, ``feed_forward.*``). Every layer of ``moe_transformer`` is one, so
    the encoder calls all of them alike: ``out, aux = layer(x, mask, token_index, modality)``.
    """

    @classmethod
    def from_layer(cls, layer: TransformerEncoderLayer, feed_forward: nn.Module | None = None) -> MoEEncoderLayer:
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        for name, value in vars(layer).items():  # plain attributes (dropout_p, parallel_residual, …)
            if not name.startswith("_"):
                setattr(new, name, value)
        for name, child in layer.named_children():
            setattr(new, name, child)
        if feed_forward is not None:
            new.feed_forward = feed_forward
        return new

    def forward(self, layer_in, mask, token_index=None, modality=None):
        """``(B, S, D)`` -> ``((B, S, D), aux losses)`` (:data:`NO_AUX` for a dense block);
        ``token_index`` / ``modality``: the non-pad tokens (flat indices) and their modality ids, used
        by an MoE feed-forward block only."""
        norm_layer_in = self.layer_norm(layer_in)
        context, _ = self.self_attn(norm_layer_in, norm_layer_in, norm_layer_in, mask=mask)
        if self.dropout_p > 0:
            context = self.dropout(context)
        if isinstance(self.feed_forward, MoEFeedForward):
            return self.feed_forward(context + layer_in, token_index, modality)
        return self.feed_forward(context + layer_in), NO_AUX  # upstream's dense path (parallel_residual is refused)


__all__ = ["MoEFeedForward", "MoEEncoderLayer", "layer_norm"]
