"""The plugin's own command-line/YAML options (the MoE knobs live in :mod:`onmt_moe.moe.arguments`).

All are added to OpenNMT's ``model_opts`` by :mod:`onmt_moe.plugin.onmt_patches`, so they show in
``onmt_train -h``, are saved in every checkpoint, and get defaults when an older checkpoint is loaded.
"""

from __future__ import annotations

import argparse

from onmt_moe.moe.arguments import Option, add_moe_options, add_options

# the plugin's options outside the MoE layer itself, in ``-h`` order
PLUGIN_OPTIONS = (
    Option(
        "moe_layers",
        type=int,
        nargs="+",
        default=[],
        help="Encoder layers (0-based) whose feed-forward block is an MoE; empty = all layers.",
    ),
    Option(
        "moe_modalities",
        type=str,
        nargs="+",
        default=[],
        help="Modality tag names in the order that fixes their ids (e.g. FORMULA NMR IR MS); "
        "empty = every <X>/</X> pair found in the source vocabulary, sorted. Tokens outside "
        "any segment get modality OTHER.",
    ),
    # hidden: written by the plugin when the model is built (ModalityVocab.to_option), read back from checkpoints
    Option("moe_modality_vocab", type=str, nargs="*", default=[], help=argparse.SUPPRESS),
    # hidden: set by start_training from the corpus' summary.json (onmt_moe.data.formatting.Formatting as
    # JSON), so every checkpoint says how its sources were formatted; onmt_moe_predict reads it back
    Option("moe_corpus_formatting", type=str, default="", help=argparse.SUPPRESS),
    Option(
        "moe_log_dir",
        type=str,
        default="",
        help="Write train_steps.csv, valid_summary.csv, moe_steps.csv, moe_aux.csv, grad_norms.csv "
        "into this directory (start_training sets it to the run folder); empty = no CSV logs. "
        "Rows newer than the step training starts from are dropped first, so runs never mix.",
    ),
    Option(
        "moe_trained_step",
        type=int,
        default=-1,
        help="Set by the plugin in every saved checkpoint (do not set it): the training step whose "
        "schedule values (router temperature, noise) the loaded model uses; -1 = not recorded "
        "(older checkpoints: step 0).",
    ),
    Option(
        "moe_cpu_distributed",
        action="store_true",
        help="Run OpenNMT's multi-process data-parallel training (world_size > 1, one process per "
        "gpu_ranks entry) on CPU over gpu_backend: gloo, e.g. to test it without GPUs. "
        "Off = upstream behaviour (one CUDA device per process).",
    ),
    Option(
        "moe_grad_norm_every",
        type=int,
        default=0,
        help="Log per-module gradient norms to grad_norms.csv every N steps (0 = off).",
    ),
    Option(
        "moe_contrastive_coef",
        type=str,
        default="0",
        help="Cross-modal contrastive alignment (off at 0): InfoNCE between the mean-pooled encoder states "
        "of two modality segments of the same example, against the other examples of the batch. "
        "A number or a schedule like the other aux coefficients, e.g. 'linear:0:0.1:2000:1000' "
        "(off for 1000 steps, then ramps to 0.1 over 2000) or 'step:0.1:0:3000' (only early).",
    ),
    Option(
        "moe_contrastive_pair",
        type=str,
        nargs=2,
        default=["MS", "TEXT"],
        help="The two modality (tag) names whose pooled states are aligned.",
    ),
    Option(
        "moe_contrastive_pairs",
        type=str,
        default="",
        help="Several aligned pairs instead of -moe_contrastive_pair, e.g. 'MS:WURCS,TEXT:WURCS,MS:TEXT' "
        "(the loss is the mean over the pairs; onmt_moe/contrastive.py).",
    ),
    Option(
        "moe_contrastive_margin",
        type=float,
        default=0.0,
        help="Triplet margin on cosine similarity against the hardest negative (0 = off; ~0.2).",
    ),
    Option(
        "moe_contrastive_hard_key",
        type=str,
        default="",
        help="Modality whose first token inside the segment is the hard-negative key: the triplet's "
        "negative is taken among same-key examples of the batch (glycan: MS, whose first token is "
        "the precursor m/z bin, so same-mass/same-composition structures). Empty = any example.",
    ),
    Option("moe_contrastive_temperature", type=float, default=0.1, help="InfoNCE temperature."),
    Option(
        "struct_loss_weights",
        type=str,
        default="",
        help="Structure-aware loss: per-class weights of target tokens, e.g. "
        "'monosaccharide=2,linkage=1.5,modification=2' (WURCS targets; see docs/glycan.md).",
    ),
    Option(
        "moe_task_loss_weights",
        type=str,
        default="",
        help="Multi-task runs: a loss weight per task token, e.g. 'TASK_STRUCT=1.0,TASK_SPEC=0.5' (tasks not "
        "named keep 1.0; 0 = the task's target is not trained, e.g. an alignment-only task). Needs "
        "share_vocab and task tokens in the vocabulary (onmt_moe/task_metrics.py).",
    ),
)


def add_plugin_options(parser) -> None:
    """Declare every option of the plugin: the MoE knobs, these, then the segment options."""
    add_moe_options(parser)
    add_options(parser, "MoE encoder: modalities and logging (onmt_moe)", PLUGIN_OPTIONS)
    add_segment_options(parser)
    add_signal_options(parser)


def add_signal_options(parser) -> None:
    """How numbers and spectra enter ``moe_transformer``: value-aware embeddings, patches (all off = words)."""
    group = parser.add_argument_group("MoE encoder: numbers as values, spectra as patches (onmt_moe)")
    group.add(
        "--value_embedding",
        "-value_embedding",
        default="none",
        choices=["none", "add", "replace"],
        help="Numeric source tokens (128, 7.26) are also embedded from their value: Fourier features of "
        "the value and the field (the last non-numeric token before it: 13CNMR, J, <IR>, E0Pos) through "
        "an MLP. add: the word embedding plus the value vector; replace: the value vector alone. "
        "none: word embeddings only (onmt_moe/plugin/value_embedding.py).",
    )
    group.add(
        "--value_frequencies",
        "-value_frequencies",
        type=int,
        default=32,
        help="-value_embedding: sine/cosine frequency pairs, periods from 2000 down to 1.",
    )
    group.add(
        "--value_modalities",
        "-value_modalities",
        nargs="*",
        default=[],
        help="-value_embedding: only the numbers inside these modality segments (e.g. MS IR) get value "
        "vectors; the others keep their word embedding. Empty = every segment's numbers.",
    )
    group.add(
        "--patch_modalities",
        "-patch_modalities",
        nargs="*",
        default=[],
        help="Modality tags (e.g. IR) whose runs of numbers enter the encoder as patches of -patch_size "
        "points: one token per patch, its first token's embedding plus a projection of the patch's values "
        "scaled by the run's maximum (onmt_moe/plugin/patches.py). Empty = every token its own.",
    )
    group.add(
        "--patch_size",
        "-patch_size",
        type=int,
        default=5,
        help="-patch_modalities: consecutive points per patch.",
    )


def add_translate_options(parser) -> None:
    """The plugin's ``onmt_translate`` options (added to ``onmt.opts.translate_opts`` by patch 16)."""
    group = parser.add_argument_group("Formula-guided beam search (onmt_moe)")
    group.add(
        "--moe_formula_beam",
        "-moe_formula_beam",
        action="store_true",
        help="Decode under the molecular formula of the source's <FORMULA> segment (benchmark format: "
        "its formula section): no hypothesis goes past the formula's heavy-atom counts, a hypothesis "
        "finishes only when they match and every ring-closure label and branch is closed (no ')' "
        "without its '('), candidates with the wrong hydrogen count go last; sources "
        "without a formula are decoded as usual. Beam search only (onmt_moe/plugin/formula_beam.py).",
    )


def add_segment_options(parser) -> None:
    """Cross-modal attention and embeddings of ``moe_transformer`` (all off = the plain encoder)."""
    group = parser.add_argument_group("MoE encoder: modality segments, cross-modal attention (onmt_moe)")
    group.add(
        "--within_modality_attention",
        "-within_modality_attention",
        action="store_true",
        help="The encoder layers attend only within each modality segment (block mask per segment: a "
        "maximal run of tokens of one modality, tags included); tokens outside any segment (a multi-task "
        "source's task token) stay visible to every token. Mix the modalities with -fusion_layers.",
    )
    group.add(
        "--fusion_layers",
        "-fusion_layers",
        type=int,
        default=0,
        help="Cross-modal attention layers after the encoder layers: each token attends to the tokens "
        "of the other segments of its example (all tokens if it has no other segment), then a "
        "dense feed-forward block. 0 = none.",
    )
    group.add(
        "--fusion_heads", "-fusion_heads", type=int, default=0, help="Attention heads of the fusion layers; 0 = -heads."
    )
    group.add(
        "--modality_type_embedding",
        "-modality_type_embedding",
        action="store_true",
        help="Add a learned modality type embedding (one vector per modality id, OTHER included) to the "
        "token embeddings; without it the modality reaches only the router.",
    )
    group.add(
        "--segment_positions",
        "-segment_positions",
        action="store_true",
        help="Sinusoidal positions restart at 0 at the start of every segment (needs "
        "-position_encoding; not with relative or rotary positions).",
    )
