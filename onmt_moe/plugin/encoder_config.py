"""The configuration of ``encoder_type: moe_transformer``: every option the encoder reads, read once.

:meth:`EncoderConfig.from_opt` reads an OpenNMT option namespace — a training ``opt``, a checkpoint's
model options, or the namespace ``start_training --dry_run`` builds from a YAML config — and
:meth:`EncoderConfig.problems` lists everything wrong with it, each message starting with the option
it is about. :class:`~onmt_moe.plugin.encoder.MoETransformerEncoder` is built from the config and the
dry run (:func:`onmt_moe.runs.runner._model_problems`) checks the same config, so a value is refused
by the same code in both places.

The plugin's options are declared once, in :mod:`onmt_moe.plugin.opts` (the MoE knobs in
:mod:`onmt_moe.moe.arguments`). An option missing from ``opt`` — a checkpoint older than the option,
a bare namespace — takes the default declared there (:func:`declared_defaults`), the same value
OpenNMT's ``ckpt_model_opts`` fills in; there is no second table of defaults. Each field that holds an
option names it in its metadata (:func:`option_fields`), so a test can compare every field's default
with the declaration. OpenNMT's own options are read as plain attributes, as OpenNMT's
``TransformerEncoder.from_opt`` reads them.

The parts, one per job of the encoder, each with its own arguments: :class:`MoEArgs` (the MoE blocks,
:mod:`onmt_moe.moe`), :class:`~onmt_moe.plugin.fusion.FusionArgs` (within-modality attention and the
cross-modal fusion layers), :class:`~onmt_moe.plugin.segment_positions.EmbeddingArgs` (segment
positions, the modality type embedding), :class:`~onmt_moe.plugin.alignment.AlignmentArgs` (the
cross-modal contrastive alignment), :class:`~onmt_moe.plugin.value_embedding.ValueArgs` (value-aware
embeddings of numeric tokens) and :class:`~onmt_moe.plugin.patches.PatchArgs` (spectra as patches).
"""

from __future__ import annotations

import argparse
import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onmt_moe.modality.vocab import OTHER, ModalityVocab
from onmt_moe.moe import MoEArgs
from onmt_moe.plugin.alignment import AlignmentArgs
from onmt_moe.plugin.fusion import FusionArgs
from onmt_moe.plugin.option_fields import build, option, option_fields, to_int, to_ints, to_strs
from onmt_moe.plugin.patches import PatchArgs
from onmt_moe.plugin.segment_positions import EmbeddingArgs
from onmt_moe.plugin.value_embedding import ValueArgs

# declared plugin options the encoder does not read (training, logging, loss, data); every declared
# option is either read by EncoderConfig or listed here (tests/test_encoder_config.py checks it)
NOT_ENCODER_OPTIONS = (
    "moe_log_dir",
    "moe_cpu_distributed",
    "moe_grad_norm_every",
    "moe_corpus_formatting",
    "struct_loss_weights",
    "moe_task_loss_weights",
)


@functools.lru_cache(maxsize=1)
def _declared() -> dict[str, Any]:
    import configargparse

    from onmt_moe.plugin.opts import add_plugin_options

    parser = configargparse.ArgumentParser(add_help=False)
    add_plugin_options(parser)
    return {a.dest: a.default for a in parser._actions}


def declared_defaults() -> dict[str, Any]:
    """``dest -> default`` of every option :func:`onmt_moe.plugin.opts.add_plugin_options` declares."""
    return copy.deepcopy(_declared())


def plugin_values(opt) -> dict[str, Any]:
    """Every declared plugin option: its value in ``opt``, or its declared default where ``opt`` lacks it
    (or holds None, as a YAML ``null`` does)."""
    given = vars(opt)
    return {name: default if given.get(name) is None else given[name] for name, default in declared_defaults().items()}


def _first(value):
    """OpenNMT's ``dropout`` / ``attention_dropout`` are lists (one value per ``dropout_steps`` stage)."""
    return value[0] if isinstance(value, list) else value


@dataclass(frozen=True)
class OnmtSettings:
    """The OpenNMT options the plugin's parts depend on, resolved as ``update_model_opts`` resolves them
    (``hidden_size`` / ``layers`` > 0 win over ``enc_hid_size`` / ``enc_layers``)."""

    d_model: int
    num_layers: int
    heads: int
    d_ff: int
    dropout: float
    attention_dropout: float
    activation: str
    add_ffnbias: bool
    layer_norm: str
    norm_eps: float
    position_encoding: bool
    max_relative_positions: int
    # keyword arguments of a stock onmt TransformerEncoderLayer (the fusion layers)
    layer_kwargs: Mapping[str, Any]
    # OpenNMT settings this encoder cannot honour
    unsupported: tuple[str, ...]

    @classmethod
    def from_opt(cls, opt) -> OnmtSettings:
        unsupported = []
        if opt.parallel_residual:
            unsupported.append("parallel_residual")
        if opt.parallel_mode == "tensor_parallel" and opt.world_size > 1:
            unsupported.append("parallel_mode: tensor_parallel")
        if "ffn" in (opt.use_ckpting or []):
            unsupported.append("use_ckpting: [ffn] (checkpoint only 'mha' or 'lora', or none)")
        return cls(
            d_model=int(opt.hidden_size if opt.hidden_size > 0 else opt.enc_hid_size),
            num_layers=int(opt.layers if opt.layers > 0 else opt.enc_layers),
            heads=int(opt.heads),
            d_ff=int(opt.transformer_ff),
            dropout=float(_first(opt.dropout)),
            attention_dropout=float(_first(opt.attention_dropout)),
            activation=opt.pos_ffn_activation_fn,
            add_ffnbias=bool(opt.add_ffnbias),
            layer_norm=opt.layer_norm,
            norm_eps=float(opt.norm_eps),
            position_encoding=bool(opt.position_encoding),
            max_relative_positions=int(opt.max_relative_positions),
            layer_kwargs=dict(
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
            ),
            unsupported=tuple(unsupported),
        )


@dataclass(frozen=True)
class EncoderConfig:
    """Everything ``moe_transformer`` is built from; see the module docstring."""

    onmt: OnmtSettings
    moe: MoEArgs
    modality_vocab: ModalityVocab
    fusion: FusionArgs
    embedding: EmbeddingArgs
    alignment: AlignmentArgs
    value: ValueArgs
    patch: PatchArgs
    moe_layers: tuple[int, ...] = option("moe_layers", to_ints)  # empty (or [-1]) = every layer
    modalities: tuple[str, ...] = option("moe_modalities", to_strs)  # read by the vocabulary patch
    trained_step: int = option("moe_trained_step", to_int)  # -1 = not recorded

    @classmethod
    def from_opt(cls, opt) -> EncoderConfig:
        """Read ``opt`` (see the module docstring); a value of the wrong type raises ValueError naming
        its option, every other check is :meth:`problems`."""
        values = plugin_values(opt)
        onmt = OnmtSettings.from_opt(opt)
        vocab = ModalityVocab.from_opt(opt)
        moe = MoEArgs.from_opt(
            argparse.Namespace(**values),
            d_model=onmt.d_model,
            d_ff=onmt.d_ff,
            activation=onmt.activation,
            add_ffnbias=onmt.add_ffnbias,
            dropout=onmt.dropout,
            num_modalities=vocab.num_modalities,
        )
        parts = dict(
            onmt=onmt,
            moe=moe,
            modality_vocab=vocab,
            fusion=build(FusionArgs, values),
            embedding=build(EmbeddingArgs, values),
            alignment=build(AlignmentArgs, values),
            value=build(ValueArgs, values),
            patch=build(PatchArgs, values),
        )
        return build(cls, values, **parts)

    # ------------------------------------------------------------------ derived
    @property
    def moe_layer_ids(self) -> list[int]:
        """The encoder layers with an MoE feed-forward block, sorted."""
        n = self.onmt.num_layers
        layers = list(self.moe_layers)
        return sorted(set(range(n) if not layers or layers == [-1] else layers))

    # ------------------------------------------------------------------ checks
    def problems(self) -> list[str]:
        """Every problem of the configuration, one line each, naming its option; [] when it is valid."""
        out = [f"encoder_type moe_transformer does not support {u}" for u in self.onmt.unsupported]
        try:
            self.moe.validate()
        except ValueError as exc:
            out.append(str(exc))
        n = self.onmt.num_layers
        bad = [] if list(self.moe_layers) == [-1] else [i for i in self.moe_layers if not 0 <= i < n]
        if bad:
            out.append(f"moe_layers: {bad} out of range: the encoder has {n} layers (0..{n - 1})")
        if OTHER in self.modalities:
            out.append(f"moe_modalities: {OTHER!r} is modality id 0 (tokens outside any segment), not a tag name")
        repeated = sorted({m for m in self.modalities if self.modalities.count(m) > 1})
        if repeated:
            out.append(f"moe_modalities: {repeated} named more than once")
        if self.trained_step < -1:
            out.append(f"moe_trained_step: must be >= -1, got {self.trained_step}")
        out += self.fusion.problems(self.onmt.d_model, self.onmt.heads)
        out += self.embedding.problems(self.onmt.position_encoding, self.onmt.max_relative_positions)
        out += self.alignment.problems()
        out += self.value.problems(self.modality_vocab.names or self.modalities)
        contrastive = self.alignment.coef.strip() not in ("", "0", "0.0")
        out += self.patch.problems(self.modality_vocab.names or self.modalities, contrastive)
        return out

    def validate(self) -> EncoderConfig:
        problems = self.problems()
        if problems:
            raise ValueError("encoder_type moe_transformer: " + "; ".join(problems))
        return self


__all__ = [
    "EncoderConfig",
    "OnmtSettings",
    "NOT_ENCODER_OPTIONS",
    "declared_defaults",
    "plugin_values",
    "option_fields",
]
