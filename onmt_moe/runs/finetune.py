"""Fine-tuning: ``start_training --init_from CHECKPOINT`` continues a pretrained model on another
corpus (a user's own measured spectra). OpenNMT-py 3.5.1 moves the weights; this module checks the
start and writes the vocabulary.

* **Checks, before any work** (:func:`attach`). The checkpoint is read with the one safe loader.
  OpenNMT builds the model from the *checkpoint's* options, so a model option the config sets
  (``hidden_size``, ``layers``, ``heads``, ``encoder_type``, ``moe_num_experts`` …) must equal the
  checkpoint's, else the run is refused naming each mismatch (the value would be ignored in silence);
  one the config leaves out is filled in from the checkpoint, so ``config.yaml`` shows the model that
  is trained (and the noam schedule sees the real ``hidden_size``). The new corpus' formatting record
  (``summary.json``, :mod:`onmt_moe.data.formatting`) must equal the checkpoint's
  ``moe_corpus_formatting``: the fine-tuned checkpoint keeps the pretrained model's record, and a
  corpus binned differently would be read with the wrong tokens.
* **Vocabulary** (:func:`merge_vocab`, after ``onmt_build_vocab`` built the new corpus' files). The
  run's ``vocab.src`` / ``vocab.tgt`` become the union: the checkpoint's tokens in its order first
  (OpenNMT's default specials, which it prepends itself in the same order, and its padding fillers
  ``averyunlikelytoken<N>`` left out), then the new corpus' tokens the checkpoint lacks, most frequent
  first, in OpenNMT's ``token<TAB>count`` format. A pretrained token keeps its count in the new corpus,
  raised to ``*_words_min_frequency`` so that OpenNMT's frequency filter keeps it. So every pretrained
  token keeps its id, and the new ones get the ids after them.
* **Training**: ``onmt_train -train_from CHECKPOINT -update_vocab -reset_optim all``. OpenNMT builds
  the model for the union vocabulary, initialises it as for a new model, copies the checkpoint's
  embedding rows (encoder and decoder) and generator rows of every token both vocabularies hold
  (``model_builder.use_embeddings_from_checkpoint``: the mapping is by token, not by id) and loads every
  other weight as it is; a new token's rows keep their fresh initialisation. ``reset_optim all`` builds
  a new optimizer from this config (learning rate, schedule) with its step counter at 1: the
  checkpoints are named by fine-tuning step and ``train_steps`` counts fine-tuning steps; a warm-up
  schedule starts again (docs/usage.md has the learning-rate advice). The MoE schedules follow the
  same step.
* **Resume**: ``--resume`` continues the fine-tuning run from its own newest checkpoint
  (``-train_from`` it with ``-reset_optim keep_states``: its vocabulary, weights, optimizer state and
  step, with this config's optimizer options; OpenNMT saves in each checkpoint the options of the model
  it started from, here the pretrained run's learning rate and schedule, and a plain resume would
  restore those); the pretrained checkpoint is used again only when the run has no checkpoint yet. ``run.json`` and ``vocab.sources.json`` record the
  pretrained file (path and sha256); a resume without ``--init_from`` takes it from there, one with
  another file is refused.
"""

from __future__ import annotations

import os
import re

from onmt_moe.runfolder.checkpoints import CheckpointError, checkpoints, load_checkpoint
from onmt_moe.runfolder.csvlog import atomic_write_text
from onmt_moe.runfolder.layout import RunFolderError, read_run_json

# OpenNMT's padding to a multiple of vocab_size_multiple (onmt.constants.DefaultTokens.VOCAB_PAD + N)
_VOCAB_PAD = re.compile(r"^averyunlikelytoken\d+$")
# model options OpenNMT (or the plugin) reads from the training options, not from the checkpoint's
NOT_FROM_CHECKPOINT = {
    "update_vocab",  # copied from the training options (onmt.train_single._get_model_opts)
    "freeze_encoder",
    "freeze_decoder",
    "model_dtype",  # the numerics: the optimizer and trainer read the training options
    "apex_opt_level",
    "loss_scale",
    "lambda_coverage",  # loss weights: the loss is built from the training options
    "lambda_align",
    "copy_loss_by_seqlength",
    "zero_out_prompt_loss",
    "lm_prior_model",
    "lm_prior_lambda",
    "lm_prior_tau",
    "moe_modality_vocab",  # recomputed from the vocabulary when the model is built
}


def _error(msg: str):
    from onmt_moe.runs.runner import ConfigError

    return ConfigError(msg)


def model_option_actions() -> dict[str, object]:
    """dest -> argparse action of every model option whose value OpenNMT takes from the checkpoint."""
    from onmt.opts import model_opts
    from onmt.utils.parse import ArgumentParser

    import onmt_moe  # noqa: F401  (the plugin's model options)
    from onmt_moe.plugin.encoder_config import NOT_ENCODER_OPTIONS
    from onmt_moe.runs.runner import MANAGED_KEYS

    parser = ArgumentParser()
    model_opts(parser)
    skip = NOT_FROM_CHECKPOINT | set(NOT_ENCODER_OPTIONS) | MANAGED_KEYS | {"help"}
    return {a.dest: a for a in parser._actions if a.dest not in skip}


def _normal(value, action):
    """``value`` as argparse would store it, lists element by element (for comparing)."""
    from onmt_moe.runs.runner import _convert

    if isinstance(value, (list, tuple)):
        return [_convert(v, action) for v in value]
    if action.nargs in ("+", "*") and value is not None:
        return [_convert(value, action)]
    return _convert(value, action) if value is not None else None


def model_mismatches(train_config: dict, ckpt_opt) -> tuple[list[str], dict]:
    """(``"KEY config vs checkpoint"`` for every model option the config sets otherwise than the
    checkpoint, {KEY: checkpoint value} for those it leaves out that differ from OpenNMT's default)."""
    problems, fill = [], {}
    for key, action in sorted(model_option_actions().items()):
        ck = getattr(ckpt_opt, key, action.default)
        if key in train_config:
            try:
                mine, theirs = _normal(train_config[key], action), _normal(ck, action)
            except (TypeError, ValueError):
                mine, theirs = train_config[key], ck
            if mine != theirs:
                problems.append(f"{key} {train_config[key]!r} vs {ck!r}")
        elif ck != action.default and ck is not None:
            fill[key] = list(ck) if isinstance(ck, tuple) else ck
    return problems, fill


def formatting_problem(ckpt_record: str, corpus_record: str, data_dir: str) -> str | None:
    """Why the new corpus' formatting record differs from the checkpoint's, or None."""
    from onmt_moe.data.columns import DataError
    from onmt_moe.data.formatting import Formatting

    ckpt_record, corpus_record = ckpt_record or "", corpus_record or ""
    if ckpt_record == corpus_record:
        return None
    if not ckpt_record:
        return (
            f"the checkpoint records no corpus formatting, while {data_dir} has one: the model's input "
            "format cannot be checked (fine-tune a model trained by this version of start_training)"
        )
    try:
        theirs = Formatting.from_json(ckpt_record, "the checkpoint's moe_corpus_formatting")
    except DataError as exc:
        return str(exc)
    if not corpus_record:
        return (
            f"{data_dir} records no formatting (no generate_input summary.json next to it); build the "
            f"fine-tuning corpus with benchmark/generate_input.py and the checkpoint's settings "
            f"{theirs.to_json()}"
        )
    try:
        mine = Formatting.from_json(corpus_record, f"{data_dir} formatting")
    except DataError as exc:
        return str(exc)
    diffs = theirs.differences(mine)
    if not diffs:
        return None
    return (
        f"the new corpus is formatted differently from the checkpoint's ({'; '.join(diffs)}, "
        f"checkpoint vs {data_dir}): rebuild the fine-tuning corpus with the checkpoint's settings"
    )


def check_init_from(plan: dict, path: str) -> dict:
    """Check that ``path`` can start a fine-tuning run of ``plan`` (see the module doc); fill the model
    options the config leaves out from it. Returns its record ``{"path", "sha256", "step"}``."""
    from onmt.utils.parse import ArgumentParser

    from onmt_moe.runs.runner import _file_record

    where = f"--init_from {path}"
    if not os.path.isfile(path):
        raise _error(f"{where}: no such checkpoint file")
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as exc:
        raise _error(f"{where}: {exc}") from None
    if not isinstance(ckpt, dict) or not {"opt", "vocab", "model"} <= set(ckpt):
        raise _error(f"{where}: not an OpenNMT checkpoint with its model, vocabulary and options")
    opt = ArgumentParser.ckpt_model_opts(ckpt["opt"])
    tc = plan["train_config"]
    problems, fill = model_mismatches(tc, opt)
    if problems:
        raise _error(
            f"{where}: the config's model options contradict the checkpoint's (config vs checkpoint: "
            f"{', '.join(problems)}); OpenNMT builds the model from the checkpoint: remove them or set them as there"
        )
    why = formatting_problem(
        getattr(opt, "moe_corpus_formatting", ""), tc.get("moe_corpus_formatting"), plan["data_dir"]
    )
    if why:
        raise _error(f"{where}: {why}")
    tc.update(fill)
    step = getattr(opt, "moe_trained_step", -1)
    return {"path": os.path.abspath(path), "sha256": _file_record(path)["sha256"], "step": int(step)}


def attach(plan: dict, init_from: str | None) -> None:
    """Set ``plan["init_from"]`` (the record, or None): from ``init_from``, or on ``--resume`` from the
    run's own run.json (a resumed fine-tuning run needs no ``--init_from``)."""
    run_dir = plan["run_dir"]
    recorded, own = None, False
    if plan.get("resume"):
        try:
            recorded = read_run_json(run_dir, missing_ok=True).get("init_from")
        except RunFolderError as exc:
            raise _error(str(exc)) from None
        own = os.path.isdir(run_dir) and bool(checkpoints(run_dir))
    plan["init_from"] = None
    if not init_from and not recorded:
        return
    if own and not recorded:
        raise _error(
            f"--init_from {init_from}: run folder {run_dir} already holds checkpoints of a run not started "
            "from it; use another --run_name"
        )
    if not init_from and own:  # resuming a fine-tuning run: its own checkpoints carry everything
        plan["init_from"] = dict(recorded)
        return
    rec = check_init_from(plan, init_from or recorded["path"])
    if recorded and recorded.get("sha256") != rec["sha256"]:
        raise _error(
            f"--init_from {rec['path']}: run folder {run_dir} was fine-tuned from another file "
            f"({recorded.get('path')}, sha256 {str(recorded.get('sha256'))[:12]}…); use another --run_name"
        )
    plan["init_from"] = rec


# ----------------------------------------------------------------------------- vocabulary
def read_counts(path: str) -> dict[str, int]:
    """``token<TAB>count`` lines (onmt_build_vocab's format), in file order."""
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if line:
                tok, _, count = line.partition("\t")
                out[tok] = int(count) if count.strip().isdigit() else 0
    return out


def union_lines(pretrained: list[str], counts: dict[str, int], skip: set, min_count: int) -> tuple[list[str], int]:
    """The vocab file lines of the union (see the module doc), and how many new tokens it adds."""
    old = [t for t in dict.fromkeys(pretrained) if t not in skip and not _VOCAB_PAD.match(t)]
    known = set(old) | set(pretrained)
    new = [t for t in counts if t not in known]
    lines = [f"{t}\t{max(counts.get(t, 0), min_count)}" for t in old] + [f"{t}\t{counts[t]}" for t in new]
    return lines, sum(1 for t in new if counts[t] >= min_count)


def merge_vocab(plan: dict) -> dict:
    """Rewrite the run's vocab files (built from the new corpus) as the union with the checkpoint's
    vocabulary; returns ``{"src": (pretrained, new), "tgt": …}`` token counts."""
    from onmt_moe.runs.runner import known_options

    tc, rec = plan["train_config"], plan["init_from"]
    try:
        ckpt = load_checkpoint(rec["path"])
    except CheckpointError as exc:
        raise _error(f"--init_from: {exc}") from None
    vocab = ckpt["vocab"]
    opts = known_options()

    def opt(key):
        return tc[key] if tc.get(key) is not None else opts[key].default

    skip = set(opt("default_specials"))
    sides = {"src": (tc["src_vocab"], list(vocab["src"]))}
    if tc["tgt_vocab"] == tc["src_vocab"]:  # share_vocab: one file, both sides' tokens
        sides["src"][1].extend(vocab["tgt"])
    else:
        sides["tgt"] = (tc["tgt_vocab"], list(vocab["tgt"]))
    out = {}
    for side, (path, pretrained) in sides.items():
        lines, n_new = union_lines(pretrained, read_counts(path), skip, int(opt(f"{side}_words_min_frequency") or 0))
        limit = int(opt(f"{side}_vocab_size") or 0)
        if limit and len(lines) + len(skip) > limit:
            raise _error(
                f"--init_from: the {side} vocabulary (pretrained + new tokens) has {len(lines) + len(skip)} "
                f"entries, more than {side}_vocab_size {limit}: raise {side}_vocab_size"
            )
        atomic_write_text(path, "".join(ln + "\n" for ln in lines))
        out[side] = (len(lines) - n_new, n_new)
        print(f"[vocab] {side}: {len(lines) - n_new} tokens of the pretrained model, then {n_new} new from this corpus")
    return out


def train_arguments(plan: dict) -> list[str]:
    """The onmt_train arguments that start the fine-tuning from the pretrained checkpoint."""
    rec = plan["init_from"]
    if not os.path.isfile(rec["path"]):
        raise _error(f"--init_from {rec['path']}: no such checkpoint file")
    print(
        f"[train] fine-tuning from {rec['path']} (trained {rec.get('step', -1)} steps): vocabulary updated, "
        "new optimizer, steps count from 0",
        flush=True,
    )
    return ["-train_from", rec["path"], "-update_vocab", "-reset_optim", "all"]
