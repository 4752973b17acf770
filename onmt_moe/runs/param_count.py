"""Total and active parameters of a training config, from the model OpenNMT itself builds.

``config_parameter_counts(cfg, src_vocab=…, tgt_vocab=…)`` parses the config's model options with
``onmt_train``'s own parser, builds the model with :func:`onmt.model_builder.build_base_model` on a
synthetic vocabulary of the given sizes (the modality tags included, so the MoE sees its
modalities) and counts it with :func:`onmt_moe.diagnostics.analysis.parameter_summary`. Nothing is trained;
the weights are allocated on the ``meta`` device, so even a 1 B-parameter config costs no memory.

Command line: ``python scripts/count_params.py configs/presets/*.yaml --src_vocab 3500 --tgt_vocab 60``.
"""

from __future__ import annotations

MODALITY_TAGS = ("FORMULA", "NMR", "IR", "MS", "TEXT")
SPECIALS = ["<unk>", "<blank>", "<s>", "</s>"]


def _vocabs(src_size: int, tgt_size: int):
    from onmt.inputters.inputter import dict_to_vocabs

    from onmt_moe.modality import tags

    src = SPECIALS + [t for n in MODALITY_TAGS for t in (tags.open_tag(n), tags.close_tag(n))]
    src += [f"s{i}" for i in range(max(0, src_size - len(src)))]
    tgt = SPECIALS + [f"t{i}" for i in range(max(0, tgt_size - len(SPECIALS)))]
    return dict_to_vocabs({"src": src, "tgt": tgt, "data_task": "seq2seq", "decoder_start_token": "<s>"})


def _model_opt(cfg: dict):
    from onmt.utils.parse import ArgumentParser

    from onmt_moe.runs.runner import MANAGED_KEYS, _train_parser

    opt = _train_parser().parse_args(["-data", "{}", "-src_vocab", "x", "-save_model", "x"])
    for key, value in cfg.items():
        if key not in MANAGED_KEYS and key != "run" and hasattr(opt, key):
            setattr(opt, key, value)
    ArgumentParser.update_model_opts(opt)
    ArgumentParser.validate_model_opts(opt)
    return opt


def config_parameter_counts(cfg: dict, src_vocab: int = 3500, tgt_vocab: int = 60) -> dict[str, int]:
    """``{total, active_per_token, encoder, decoder, embeddings, generator}`` for a config dict."""
    import torch
    from onmt.model_builder import build_base_model

    from onmt_moe.diagnostics.analysis import parameter_summary

    opt = _model_opt(cfg)
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = build_base_model(opt, _vocabs(src_vocab, tgt_vocab))
    counts = parameter_summary(model)
    keys = ("total", "active_per_token", "encoder", "decoder", "embeddings", "generator")
    return {k: int(round(counts[k])) for k in keys if k in counts}


def _millions(n: int) -> str:
    return f"{n / 1e6:,.1f} M"


def main(argv=None) -> int:
    import argparse
    import sys

    import yaml

    p = argparse.ArgumentParser(description="Total / active parameters of training configs (model built, not trained).")
    p.add_argument("configs", nargs="+", help="YAML training configs")
    p.add_argument(
        "--src_vocab", type=int, nargs="+", default=[3500], help="source vocabulary sizes to count with (default 3500)"
    )
    p.add_argument("--tgt_vocab", type=int, default=60, help="target vocabulary size (default 60, SMILES)")
    args = p.parse_args(argv)
    print("config\tsrc_vocab\ttotal\tactive_per_token\tencoder\tdecoder")
    for path in args.configs:
        try:
            with open(path) as f:
                cfg = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
        for sv in args.src_vocab:
            c = config_parameter_counts(cfg, sv, args.tgt_vocab)
            print(
                "\t".join(
                    [path, str(sv)] + [_millions(c[k]) for k in ("total", "active_per_token", "encoder", "decoder")]
                )
            )
    return 0
