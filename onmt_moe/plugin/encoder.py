"""``encoder_type: moe_transformer`` — OpenNMT's pre-norm transformer encoder with MoE feed-forward blocks.

Attention, masks, embeddings, the final LayerNorm and ``update_dropout`` are OpenNMT's own
(we subclass :class:`onmt.encoders.transformer.TransformerEncoder`). Every layer is an
:class:`MoEEncoderLayer` (OpenNMT's layer, same parameter names); in the layers listed by
``moe_layers`` its dense ``PositionwiseFeedForward`` is replaced by :class:`MoEFeedForward`:
LayerNorm → route the *non-pad* tokens through :class:`onmt_moe.moe.MoE` → dropout → residual.
Each token's modality comes from the tag tokens (:mod:`onmt_moe.modality.lookup`).

Optional, all off by default (then the forward is exactly the plain one): within-modality attention
(block mask per segment), ``fusion_layers`` cross-modal attention layers after the encoder layers,
a modality type embedding added to the token embeddings, and positions restarting per segment
(:mod:`onmt_moe.modality.segments`).
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch
import torch.nn as nn
from onmt.encoders.transformer import TransformerEncoder, TransformerEncoderLayer
from onmt.utils.misc import sequence_mask

from onmt_moe.modality import segments
from onmt_moe.modality.lookup import ModalityLookup
from onmt_moe.modality.vocab import ModalityVocab
from onmt_moe.moe import MoE, MoEArgs, Schedule
from onmt_moe.plugin import contrastive
from onmt_moe.plugin.loss import AuxMeter


class MoEFeedForward(nn.Module):
    """Pre-norm residual block around an MoE: ``x + dropout(MoE(LN(x)))`` on non-pad tokens only."""

    def __init__(self, moe: MoE, d_model: int, dropout: float, layer_norm: nn.Module):
        super().__init__()
        self.layer_norm = layer_norm
        self.moe = moe
        self.dropout = nn.Dropout(dropout)
        self.last_aux: Dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor, token_index: torch.Tensor, modality: torch.Tensor) -> torch.Tensor:
        B, S, D = x.shape
        flat = self.layer_norm(x).reshape(B * S, D)
        y, self.last_aux = self.moe(flat.index_select(0, token_index), modality)
        out = flat.new_zeros(B * S, D).index_copy(0, token_index, y.to(flat.dtype))
        return x + self.dropout(out.view(B, S, D))

    def update_dropout(self, dropout: float) -> None:
        self.dropout.p = dropout
        self.moe.update_dropout(dropout)


class MoEEncoderLayer(TransformerEncoderLayer):
    """One pre-norm encoder layer: OpenNMT's self-attention block, then a dense or an MoE feed-forward block.

    Built from OpenNMT's own layer (:meth:`from_layer`) by taking over its sub-modules under the same
    names, so the parameter names — and every checkpoint's state-dict keys — are those of the stock layer
    (``self_attn.*``, ``layer_norm.*``, ``feed_forward.*``). Every layer of ``moe_transformer`` is one, so
    the encoder calls all of them alike: ``layer(x, mask, token_index, modality)``.
    """

    @classmethod
    def from_layer(cls, layer: TransformerEncoderLayer, feed_forward: nn.Module | None = None) -> "MoEEncoderLayer":
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
        """``(B, S, D)`` -> ``(B, S, D)``; ``token_index`` / ``modality``: the non-pad tokens (flat indices)
        and their modality ids, used by an MoE feed-forward block only."""
        norm_layer_in = self.layer_norm(layer_in)
        context, _ = self.self_attn(norm_layer_in, norm_layer_in, norm_layer_in, mask=mask)
        if self.dropout_p > 0:
            context = self.dropout(context)
        if isinstance(self.feed_forward, MoEFeedForward):
            return self.feed_forward(context + layer_in, token_index, modality)
        return self.feed_forward(context + layer_in)  # upstream's dense path (parallel_residual is refused)


def _layer_norm(opt, d_model):
    if opt.layer_norm == "standard":
        return nn.LayerNorm(d_model, eps=opt.norm_eps)
    from onmt.encoders.transformer import RMSNorm

    return RMSNorm(d_model, eps=opt.norm_eps)


class MoETransformerEncoder(TransformerEncoder):
    """Transformer encoder whose chosen layers use modality-aware MoE feed-forward blocks."""

    @staticmethod
    def unsupported_options(opt) -> List[str]:
        """OpenNMT options this encoder cannot honour (also checked by start_training's dry run)."""
        unsupported = []
        if getattr(opt, "parallel_residual", False):
            unsupported.append("parallel_residual")
        if getattr(opt, "parallel_mode", "data_parallel") == "tensor_parallel" and opt.world_size > 1:
            unsupported.append("parallel_mode: tensor_parallel")
        if "ffn" in (getattr(opt, "use_ckpting", []) or []):
            unsupported.append("use_ckpting: [ffn] (checkpoint only 'mha' or 'lora', or none)")
        if getattr(opt, "segment_positions", False) and (
            not getattr(opt, "position_encoding", False) or getattr(opt, "max_relative_positions", 0) != 0
        ):
            unsupported.append("segment_positions without sinusoidal position_encoding (max_relative_positions 0)")
        n_fusion = int(getattr(opt, "fusion_layers", 0) or 0)
        heads = int(getattr(opt, "fusion_heads", 0) or 0) or int(opt.heads)
        d_model = int(getattr(opt, "enc_hid_size", -1) or -1)
        d_model = d_model if d_model > 0 else int(opt.hidden_size)  # a config not yet through update_model_opts
        if n_fusion < 0:
            unsupported.append(f"fusion_layers {n_fusion} (must be >= 0)")
        elif n_fusion and d_model % heads:
            unsupported.append(f"fusion_heads {heads} (must divide the hidden size {d_model})")
        return unsupported

    @classmethod
    def from_opt(cls, opt, embeddings):
        unsupported = cls.unsupported_options(opt)
        if unsupported:
            raise ValueError(f"encoder_type moe_transformer does not support: {', '.join(unsupported)}")
        enc = super().from_opt(opt, embeddings)
        enc._setup_moe(opt)
        enc._setup_segments(opt)
        return enc

    def _setup_segments(self, opt) -> None:
        """The optional cross-modal attention and embeddings; creates no module when they are off."""
        self.within_modality_attention = bool(getattr(opt, "within_modality_attention", False))
        self.segment_positions = bool(getattr(opt, "segment_positions", False))
        self.modality_embedding = None
        if getattr(opt, "modality_type_embedding", False):
            self.modality_embedding = nn.Embedding(self.modality_vocab.num_modalities, opt.enc_hid_size)
        self.fusion = nn.ModuleList([self._fusion_layer(opt) for _ in range(int(getattr(opt, "fusion_layers", 0)))])

    @staticmethod
    def _fusion_layer(opt) -> TransformerEncoderLayer:
        """A stock pre-norm OpenNMT encoder layer (dense FFN); the cross-segment mask makes it cross-modal."""

        def first(x):
            return x[0] if isinstance(x, list) else x

        return TransformerEncoderLayer(
            opt.enc_hid_size,
            int(getattr(opt, "fusion_heads", 0) or 0) or opt.heads,
            opt.transformer_ff,
            first(opt.dropout),
            first(opt.attention_dropout),
            max_relative_positions=opt.max_relative_positions,
            relative_positions_buckets=opt.relative_positions_buckets,
            pos_ffn_activation_fn=opt.pos_ffn_activation_fn,
            add_qkvbias=opt.add_qkvbias,
            num_kv=opt.num_kv,
            add_ffnbias=opt.add_ffnbias,
            layer_norm=opt.layer_norm,
            norm_eps=opt.norm_eps,
            use_ckpting=opt.use_ckpting,
            rotary_interleave=opt.rotary_interleave,
            rotary_theta=opt.rotary_theta,
            rotary_dim=opt.rotary_dim,
        )

    def update_dropout(self, dropout, attention_dropout):
        super().update_dropout(dropout, attention_dropout)
        for layer in self.fusion:
            layer.update_dropout(dropout, attention_dropout)

    def _setup_moe(self, opt) -> None:
        self.modality_vocab = ModalityVocab.from_opt(opt)
        self.modality_names = self.modality_vocab.all_names
        self.modality_lookup = ModalityLookup(self.modality_vocab.tag_ids)
        n_layers = len(self.transformer)
        layers = list(getattr(opt, "moe_layers", None) or [])
        layers = list(range(n_layers)) if not layers or layers == [-1] else layers
        bad = [i for i in layers if not 0 <= i < n_layers]
        if bad:
            raise ValueError(f"moe_layers {bad} out of range: the encoder has {n_layers} layers (0..{n_layers - 1})")
        self.moe_layer_ids = sorted(set(layers))
        dropout = opt.dropout[0] if isinstance(opt.dropout, list) else opt.dropout
        args = MoEArgs.from_opt(
            opt,
            d_model=opt.enc_hid_size,
            d_ff=opt.transformer_ff,
            activation=opt.pos_ffn_activation_fn,
            add_ffnbias=opt.add_ffnbias,
            dropout=dropout,
            num_modalities=self.modality_vocab.num_modalities,
        )
        args.validate()
        self.moe_args = args
        self.step = 0
        trained_step = getattr(opt, "moe_trained_step", None)
        trained_step = -1 if trained_step is None else int(trained_step)
        self.aux_meter = AuxMeter()
        spec = getattr(opt, "moe_contrastive_coef", None)
        try:  # a number (older checkpoints store a float) or a schedule string
            self.contrastive_coef = Schedule(0.0 if spec in (None, "") else spec)
        except ValueError as e:
            raise ValueError(f"moe_contrastive_coef: {e}") from None
        if self.contrastive_coef.min_value() < 0:
            raise ValueError(f"moe_contrastive_coef {spec!r}: must not be negative")
        self.contrastive_temperature = float(getattr(opt, "moe_contrastive_temperature", 0.1))
        self.contrastive_margin = float(getattr(opt, "moe_contrastive_margin", 0.0) or 0.0)
        pairs = contrastive.parse_pairs(getattr(opt, "moe_contrastive_pairs", "") or "")
        pairs = pairs or [tuple(getattr(opt, "moe_contrastive_pair", None) or ["MS", "TEXT"])]
        hard_key = getattr(opt, "moe_contrastive_hard_key", "") or ""
        wanted = [n for p in pairs for n in p] + ([hard_key] if hard_key else [])
        missing = [n for n in wanted if self.modality_vocab.id_of(n) < 1]
        if not self.contrastive_coef.is_zero() and missing:
            raise ValueError(
                f"moe_contrastive_pair(s)/hard_key {missing}: must be modality tags of the source "
                f"vocabulary (found: {self.modality_names[1:]})"
            )
        self.contrastive_ids = [(self.modality_vocab.id_of(a), self.modality_vocab.id_of(b)) for a, b in pairs]
        self.contrastive_key = self.modality_vocab.id_of(hard_key) if hard_key else -1
        self.last_contrastive = None
        self.keep_align_states = False  # onmt_moe.runs.retrieval sets it to read last_align_states
        self.last_align_states = None
        for i in range(n_layers):
            moe_ff = (
                MoEFeedForward(MoE(args), opt.enc_hid_size, dropout, _layer_norm(opt, opt.enc_hid_size))
                if i in self.moe_layer_ids
                else None
            )
            self.transformer[i] = MoEEncoderLayer.from_layer(self.transformer[i], moe_ff)
        if trained_step >= 0:  # a loaded checkpoint routes with the schedules' values at its step
            self.set_step(trained_step)

    # -- the MoE blocks, for the loss, the logs and the analysis tools
    def moe_blocks(self) -> List[MoEFeedForward]:
        return [self.transformer[i].feed_forward for i in self.moe_layer_ids]

    def reset_router_parameters(self) -> None:
        for b in self.moe_blocks():
            b.moe.reset_router_parameters()

    def set_step(self, step: int) -> None:
        self.step = int(step)
        for b in self.moe_blocks():
            b.moe.set_step(step)

    def aux_losses(self) -> Dict[str, torch.Tensor]:
        """Unweighted aux losses of the last forward, averaged over the MoE layers (+ ``contrastive``)."""
        blocks = [b for b in self.moe_blocks() if b.last_aux]
        out = {}
        if blocks:
            keys = blocks[0].last_aux.keys()
            out = {k: torch.stack([b.last_aux[k].float().reshape(()) for b in blocks]).mean() for k in keys}
        if self.last_contrastive is not None:
            out["contrastive"] = self.last_contrastive
        return out

    def aux_coefficients(self, step: int) -> Dict[str, float]:
        coef = dict(self.moe_args.aux_coefficients(step))
        if not self.contrastive_coef.is_zero():
            coef["contrastive"] = self.contrastive_coef(step)
        return coef

    def _embed(self, src: torch.Tensor, modality_bs: torch.Tensor) -> torch.Tensor:
        """OpenNMT's Embeddings, with segment positions and/or the modality type embedding when asked for."""
        emb = self.embeddings
        if not self.segment_positions and self.modality_embedding is None:
            return emb(src)
        steps = list(emb.make_embedding._modules.values())
        pe = steps.pop() if emb.position_encoding else None
        x = src
        for module in steps:  # the look-up tables (and the feature MLP where there is one)
            x = module(x)
        if pe is not None and self.segment_positions:
            pos = segments.segment_positions(modality_bs)
            x = x * math.sqrt(pe.dim) + pe.pe[:, 0, :].index_select(0, pos.reshape(-1)).view_as(x)
        elif pe is not None:
            x = pe(x)
        if self.modality_embedding is not None:
            x = x + self.modality_embedding(modality_bs)
        return emb.dropout(x) if emb.dropout_p > 0 else x

    def forward(self, src, src_len=None):
        modality_bs = self.modality_lookup(src[:, :, 0])
        enc_out = self._embed(src, modality_bs)
        pad = sequence_mask(src_len).unsqueeze(1)  # (B, 1, S) True at pad
        mask = pad.unsqueeze(1).expand(-1, -1, pad.size(2), -1)  # (B, 1, S, S)
        keep = ~pad.squeeze(1)  # (B, S) True at real tokens
        token_index = keep.reshape(-1).nonzero().squeeze(1)
        modality = modality_bs.reshape(-1).index_select(0, token_index)
        segment = segments.segment_index(modality_bs) if self.within_modality_attention or len(self.fusion) else None
        if self.within_modality_attention:  # tokens outside any segment (task tokens) stay visible to all
            mask = segments.within_segment_mask(segment, keep, global_keys=(modality_bs == 0) & keep)
        for layer in self.transformer:
            enc_out = layer(enc_out, mask, token_index, modality)
        align_on = self.training and self.contrastive_coef(self.step) > 0  # skipped where the schedule is at 0
        pre_fusion = enc_out
        if len(self.fusion):
            cross = segments.cross_segment_mask(segment, keep)
            for layer in self.fusion:
                enc_out = layer(enc_out, cross)
        enc_out = self.layer_norm(enc_out)
        # the states that are aligned (and pooled by onmt_moe.runs.retrieval): before the cross-modal fusion
        # layers, so that with within_modality_attention a segment's states never see another modality
        if align_on or self.keep_align_states:
            self.last_align_states = self.layer_norm(pre_fusion) if len(self.fusion) else enc_out
        self.last_contrastive = None
        if align_on:
            self.last_contrastive = contrastive.alignment_loss(
                self.last_align_states,
                modality_bs.masked_fill(~keep, -1),
                src[:, :, 0],
                self.contrastive_ids,
                self.contrastive_temperature,
                self.contrastive_margin,
                self.contrastive_key,
            )
        return enc_out, None, src_len
