"""``encoder_type: moe_transformer`` — OpenNMT's pre-norm transformer encoder with MoE feed-forward blocks.

Attention, masks, embeddings, the final LayerNorm and ``update_dropout`` are OpenNMT's own
(we subclass :class:`onmt.encoders.transformer.TransformerEncoder`). Every layer is an
:class:`~onmt_moe.plugin.encoder_layer.MoEEncoderLayer` (OpenNMT's layer, same parameter names); in the
layers listed by ``moe_layers`` its dense feed-forward block is an
:class:`~onmt_moe.plugin.encoder_layer.MoEFeedForward`. Each token's modality comes from the tag tokens
(:mod:`onmt_moe.modality.lookup`).

The encoder is built from one :class:`~onmt_moe.plugin.encoder_config.EncoderConfig` (every option it
reads, validated once) and composes one part per job, each with its own arguments:

* the MoE blocks (:class:`onmt_moe.moe.MoEArgs`), here;
* within-modality attention and cross-modal fusion layers (:mod:`onmt_moe.plugin.fusion`);
* segment positions and the modality type embedding (:mod:`onmt_moe.plugin.segment_positions`);
* value-aware embeddings of numeric tokens (:mod:`onmt_moe.plugin.value_embedding`) and spectra as
  patches (:mod:`onmt_moe.plugin.patches`: the encoder runs on the shortened sequence and returns its
  states padded back to the source length, with the new lengths);
* the contrastive alignment loss (:mod:`onmt_moe.plugin.alignment`).

All optional parts are off by default, and then the forward is exactly the plain one.
:meth:`MoETransformerEncoder.encode` returns the aux values with the states; how they reach the loss
is described in :mod:`onmt_moe.plugin.encoder_aux`.
"""

from __future__ import annotations

import torch
from onmt.encoders.transformer import TransformerEncoder
from onmt.utils.misc import sequence_mask

from onmt_moe.modality.lookup import ModalityLookup
from onmt_moe.modality.vocab import OTHER_ID
from onmt_moe.moe import MoE, MoEArgs
from onmt_moe.plugin import segment_positions
from onmt_moe.plugin.alignment import ContrastiveAlignment
from onmt_moe.plugin.encoder_aux import AuxLink, EncoderAux
from onmt_moe.plugin.encoder_config import EncoderConfig
from onmt_moe.plugin.encoder_layer import MoEEncoderLayer, MoEFeedForward, layer_norm
from onmt_moe.plugin.fusion import FusionLayers, attention_masks
from onmt_moe.plugin.loss import AuxMeter
from onmt_moe.plugin.patches import Patcher
from onmt_moe.plugin.value_embedding import ValueEmbedding


class MoETransformerEncoder(TransformerEncoder):
    """Transformer encoder whose chosen layers use modality-aware MoE feed-forward blocks."""

    @classmethod
    def from_opt(cls, opt, embeddings):
        """OpenNMT's constructor: reads and validates the options once, then builds."""
        config = EncoderConfig.from_opt(opt).validate()
        enc = super().from_opt(opt, embeddings)
        enc._add_parts(config)
        return enc

    def _add_parts(self, config: EncoderConfig) -> None:
        """Turns OpenNMT's encoder into this one; the parameters are registered in the order of every
        older checkpoint (MoE blocks, modality embedding, fusion layers, value embedding)."""
        o, vocab = config.onmt, config.modality_vocab
        self.config = config
        self.modality_vocab = vocab
        self.modality_names = vocab.all_names
        self.modality_lookup = ModalityLookup(vocab.tag_ids)
        self.moe_layer_ids = config.moe_layer_ids
        self.step = 0
        self.aux_link = AuxLink()
        self.alignment = ContrastiveAlignment(config.alignment, vocab)
        for i in range(len(self.transformer)):
            moe_ff = None
            if i in self.moe_layer_ids:
                norm = layer_norm(o.layer_norm, o.d_model, o.norm_eps)
                moe_ff = MoEFeedForward(MoE(config.moe), o.d_model, o.dropout, norm)
            self.transformer[i] = MoEEncoderLayer.from_layer(self.transformer[i], moe_ff)
        self.modality_embedding = segment_positions.type_embedding(config.embedding, vocab.num_modalities, o.d_model)
        self.fusion = FusionLayers.build(
            config.fusion, o.d_model, o.heads, o.d_ff, o.dropout, o.attention_dropout, o.layer_kwargs
        )
        valued = [vocab.id_of(m) for m in config.value.modalities if m in vocab.names]
        self.value_embedding = ValueEmbedding.build(config.value, o.d_model, valued)  # after every older part
        patched = [vocab.id_of(m) for m in config.patch.modalities if m in vocab.names]
        self.patcher = Patcher.build(config.patch, o.d_model, patched)
        if config.trained_step >= 0:  # a loaded checkpoint routes with the schedules' values at its step
            self.set_step(config.trained_step)

    def update_dropout(self, dropout, attention_dropout):
        super().update_dropout(dropout, attention_dropout)
        self.fusion.update_dropout(dropout, attention_dropout)

    # -- the MoE blocks, for the loss, the logs and the analysis tools
    @property
    def moe_args(self) -> MoEArgs:
        return self.config.moe

    @property
    def aux_meter(self) -> AuxMeter:
        """The aux terms summed between two reports (fed by the loss, read by the CSV reporter)."""
        return self.aux_link.meter

    def moe_blocks(self) -> list[MoEFeedForward]:
        return [self.transformer[i].feed_forward for i in self.moe_layer_ids]

    def reset_router_parameters(self) -> None:
        for b in self.moe_blocks():
            b.moe.reset_router_parameters()

    def set_step(self, step: int) -> None:
        """The training step (noise/temperature/coefficient schedules); OpenNMT's trainer sets it."""
        self.step = int(step)
        for b in self.moe_blocks():
            b.moe.set_step(step)

    def aux_coefficients(self, step: int) -> dict[str, float]:
        coef = dict(self.moe_args.aux_coefficients(step))
        if not self.alignment.coef.is_zero():
            coef["contrastive"] = self.alignment.coef(step)
        return coef

    def aux_losses(self) -> dict[str, torch.Tensor]:
        """The unweighted aux losses of the last :meth:`forward` (see :class:`EncoderAux`)."""
        return dict(self.aux_link.last.losses) if self.aux_link.last is not None else {}

    def attach_source_vocab(self, itos) -> None:
        """The source vocabulary, for the parts that read token values (patch 4 calls this at every build)."""
        for part in (self.value_embedding, self.patcher):
            if part is not None:
                part.attach_vocab(itos)

    # -- forward
    def encode(self, src, src_len, keep_align_states: bool = False) -> tuple[torch.Tensor, EncoderAux, torch.Tensor]:
        """``(enc_out, aux, lengths)``: the encoder states ``(B, S, D)``, the aux values of this forward
        (``aux.align_states`` also when ``keep_align_states``) and the states' lengths (``src_len``, or
        shorter with patches: the states past them are zeros)."""
        ids = src[:, :, 0]
        modality_bs = self.modality_lookup(ids)
        x = segment_positions.embed(
            self.embeddings, src, modality_bs, self.config.embedding, self.modality_embedding, self.value_embedding
        )
        if self.patcher is not None:
            p = self.patcher(ids, x, modality_bs, src_len, self.embeddings.word_padding_idx, OTHER_ID)
            ids, x, modality_bs, src_len = p.ids, p.x, p.modality, p.lengths
        pad = sequence_mask(src_len, ids.size(1)).unsqueeze(1)  # (B, 1, S) True at pad
        keep = ~pad.squeeze(1)  # (B, S) True at real tokens
        token_index = keep.reshape(-1).nonzero().squeeze(1)
        modality = modality_bs.reshape(-1).index_select(0, token_index)
        pad_mask = pad.unsqueeze(1).expand(-1, -1, pad.size(2), -1)  # (B, 1, S, S)
        mask, cross = attention_masks(self.config.fusion, modality_bs, keep, pad_mask)
        layer_aux = []
        for layer in self.transformer:
            x, aux = layer(x, mask, token_index, modality)
            if aux:
                layer_aux.append(aux)
        pre_fusion = x
        if cross is not None:
            x = self.fusion(x, cross)
        enc_out = self.layer_norm(x)
        align_on = self.alignment.active(self.step, self.training)  # not computed where the coefficient is 0
        # the aligned (and, by onmt_moe.runs.retrieval, pooled) states: before the cross-modal fusion
        # layers, so that with within_modality_attention a segment's states never see another modality
        align_states = None
        if align_on or keep_align_states:
            align_states = self.layer_norm(pre_fusion) if len(self.fusion) else enc_out
        losses = _mean_over_layers(layer_aux)
        if align_on:
            losses["contrastive"] = self.alignment.loss(align_states, modality_bs, keep, ids)
        if self.patcher is not None:  # OpenNMT's decoder masks by the source's length: zeros past ours
            enc_out = enc_out.masked_fill(~keep.unsqueeze(-1), 0.0)
            enc_out = torch.nn.functional.pad(enc_out, (0, 0, 0, src.size(1) - enc_out.size(1)))
        return enc_out, EncoderAux(losses, self.aux_coefficients(self.step), align_states), src_len

    def forward(self, src, src_len=None):
        """OpenNMT's interface; the aux values go to ``aux_link`` (see :mod:`onmt_moe.plugin.encoder_aux`)."""
        enc_out, self.aux_link.last, lengths = self.encode(src, src_len)
        return enc_out, None, lengths

    def align_states(self, src, src_len) -> torch.Tensor:
        """``(B, S, D)`` the states the contrastive alignment pools (for :mod:`onmt_moe.runs.retrieval`)."""
        if self.patcher is not None:
            raise ValueError("align_states: not with patch_modalities (the states are per patch, not per token)")
        return self.encode(src, src_len, keep_align_states=True)[1].align_states


def _mean_over_layers(per_layer: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each aux term averaged over the MoE layers."""
    if not per_layer:
        return {}
    return {k: torch.stack([aux[k].float().reshape(()) for aux in per_layer]).mean() for k in per_layer[0]}
