"""Beam search with OpenNMT's own inference engine (``onmt.inference_engine.InferenceEnginePY``,
what ``onmt_translate`` runs), the plugin loaded, the model kept in memory between samples."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from onmt_moe.inference import ModelError


def checkpoint_path(model: str) -> str:
    """A checkpoint file, or a run folder (its newest ``model_step_N.pt``)."""
    if os.path.isdir(model):
        from onmt_moe.runfolder import checkpoints

        found = checkpoints(model)
        if not found:
            raise ModelError(f"{model}: no model_step_*.pt checkpoint in the run folder")
        return found[-1]
    if not os.path.isfile(model):
        raise ModelError(f"{model}: no such checkpoint")
    return model


def checkpoint_info(path: str, trust: bool = False) -> tuple[list[str], str | None, str]:
    """(source vocabulary tokens, training source file, the corpus formatting record
    ``moe_corpus_formatting``: '' when the checkpoint has none) read from the checkpoint, through the one
    safe loader (``trust``: ``--trust_checkpoint``, a full unpickle of a file the user vouched for)."""
    from onmt_moe.runfolder import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(path, trust=trust)
    except CheckpointError as e:
        raise ModelError(str(e)) from None
    if not isinstance(ckpt, dict) or "vocab" not in ckpt or "opt" not in ckpt:
        raise ModelError(f"{path}: not an OpenNMT checkpoint (no vocab/opt inside)")
    vocab = ckpt.get("vocab", {}).get("src", [])
    opt = ckpt.get("opt")
    data = getattr(opt, "data", None) or {}
    src = (data.get("corpus_1") or {}).get("path_src") if isinstance(data, dict) else None
    return list(vocab), src, str(getattr(opt, "moe_corpus_formatting", "") or "")


def _quiet_onmt(record: logging.LogRecord) -> bool:
    """Filter for the 'onmt' logger: its INFO lines (checkpoint loading, PRED SCORE) are noise here.
    A filter, because InferenceEnginePY re-initialises the logger's level and handlers."""
    return record.levelno >= logging.WARNING


class Decoder:
    """``decode(lines) -> [[(tokens, score), …n_best], …]``; score = OpenNMT's beam score, the
    mean log-probability per token (``length_penalty avg``, what ``onmt_translate -with_score``
    writes)."""

    def __init__(
        self,
        checkpoint: str,
        n_best: int,
        beam_size: int,
        max_length: int = 250,
        min_length: int = 0,
        gpu: int = -1,
        batch_size: int = 16,
        trust: bool = False,
        formula_beam: bool = False,
    ):
        import pickle

        from onmt.inference_engine import InferenceEnginePY
        from onmt.opts import translate_opts
        from onmt.utils.parse import ArgumentParser

        import onmt_moe  # noqa: F401  (registers the plugin with OpenNMT)
        from onmt_moe.runfolder import load_checkpoint, trusting_checkpoints

        log = logging.getLogger("onmt")
        if _quiet_onmt not in log.filters:
            log.addFilter(_quiet_onmt)
        parser = ArgumentParser(description="onmt_moe_predict")
        translate_opts(parser)
        args = [
            "-model",
            checkpoint,
            "-src",
            "-",
            "-output",
            os.devnull,
            "-n_best",
            str(n_best),
            "-beam_size",
            str(max(beam_size, n_best)),
            "-max_length",
            str(max_length),
            "-min_length",
            str(min_length),
            "-batch_size",
            str(batch_size),
            "-gpu",
            str(gpu),
        ] + (["-moe_formula_beam"] if formula_beam else [])
        opt = parser.parse_args(args)
        ArgumentParser.validate_translate_opts(opt)
        ArgumentParser._get_all_transform_translate(opt)
        ArgumentParser._validate_transforms_opts(opt)
        ArgumentParser.validate_translate_opts_dynamic(opt)
        # OpenNMT loads the checkpoint itself (torch's weights_only default with the plugin's allowlist)
        with trusting_checkpoints(trust):
            try:
                self.engine = InferenceEnginePY(opt)
            except pickle.UnpicklingError:
                load_checkpoint(checkpoint, trust=trust)  # raises the one-line CheckpointError naming it
                raise
        self.n_best = n_best

    def decode(self, lines: Sequence[str]) -> list[list[tuple[str, float]]]:
        """With ``formula_beam``, a sample may get fewer than n_best: the formula-guided beam's empty
        ``-inf`` places (no further formula-matching hypothesis within max_length) are left out."""
        scores, preds = self.engine.infer_list(list(lines))
        return [
            [(p, float(s)) for p, s in zip(ps, ss) if p or float(s) != float("-inf")] for ps, ss in zip(preds, scores)
        ]

    def close(self) -> None:
        self.engine.terminate()
