"""Plugin options that name things in the corpus, checked against the corpus before any stage runs.

``moe_task_loss_weights`` names task tokens (``<TASK_STRUCT>``) and ``moe_contrastive_pairs`` /
``moe_contrastive_pair`` / ``moe_contrastive_hard_key`` name modality tags (``<MS>`` … ``</MS>``).
OpenNMT only meets those names once it has built the vocabulary and the model, so a typo used to
surface as a traceback from ``onmt_train``; here the same parsers the plugin uses read the option
and the names are looked up in the training sources, so ``--dry_run`` refuses it in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from onmt_moe.modality.tags import TASK_PREFIX
from onmt_moe.moe.schedule import Schedule
from onmt_moe.plugin.contrastive import parse_pairs
from onmt_moe.plugin.loss import parse_weights
from onmt_moe.plugin.task_metrics import task_weight_vector
from onmt_moe.wurcs_classes import token_weight_vector

_TAG = re.compile(r"<(/?)([A-Za-z0-9_]+)>")


def corpus_names(src_paths: Iterable[str]) -> tuple[set[str], set[str]]:
    """(modality tag names with both ``<X>`` and ``</X>`` present, task names) of the source files."""
    opened, closed, tasks = set(), set(), set()
    for path in src_paths:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                for slash, name in _TAG.findall(line):
                    (closed if slash else opened).add(name)
                first = line.split(" ", 1)[0]
                if first.startswith(TASK_PREFIX) and first.endswith(">"):
                    tasks.add(first[len(TASK_PREFIX) : -1])
    return opened & closed, tasks


def _task_problems(cfg: dict, tasks: set[str]) -> list[str]:
    try:
        weights = parse_weights(cfg.get("moe_task_loss_weights"), "moe_task_loss_weights", "task")
    except ValueError as e:
        return [str(e)]
    if not weights:
        return []
    if not cfg.get("share_vocab"):
        return ["moe_task_loss_weights needs a multi-task corpus (run.multitask: true, a shared vocabulary)"]
    try:  # the loss's own check, against the corpus' task tokens instead of the vocabulary's
        task_weight_vector(sorted(tasks), weights)
    except ValueError as e:
        return [str(e)]
    return []


def _contrastive_problems(cfg: dict, tags: set[str]) -> list[str]:
    try:
        pairs = parse_pairs(cfg.get("moe_contrastive_pairs") or "")
        coef = Schedule(cfg.get("moe_contrastive_coef") or 0.0)
    except ValueError as e:
        return [str(e)]
    if coef.is_zero():  # the encoder looks the names up only when the loss is on (plugin/encoder.py)
        return []
    pair = cfg.get("moe_contrastive_pair") or ["MS", "TEXT"]
    pairs = pairs or [tuple(pair)]
    hard = cfg.get("moe_contrastive_hard_key") or ""
    wanted = [n for p in pairs for n in p] + ([hard] if hard else [])
    missing = [n for n in wanted if n not in tags]
    if missing:
        return [
            f"moe_contrastive_pair(s)/hard_key {missing}: not modality tags of the corpus "
            f"(found: {', '.join(sorted(tags)) or 'none'})"
        ]
    return []


def loss_option_problems(cfg: dict) -> list[str]:
    """The loss and training-hook options that need no corpus, read by the plugin's own parsers:
    ``struct_loss_weights`` (WURCS token classes, finite weights >= 0) and ``moe_grad_norm_every`` (>= 0)."""
    problems = []
    try:
        weights = parse_weights(cfg.get("struct_loss_weights"))
        token_weight_vector([], weights)  # refuses a class name that is not a WURCS token class
        bad = [f"{k}={v}" for k, v in weights.items() if not (0 <= v < float("inf"))]
        if bad:
            problems.append(f"struct_loss_weights: {', '.join(bad)}: a weight must be a finite number >= 0")
    except ValueError as e:
        problems.append(str(e) if "struct_loss_weights" in str(e) else f"struct_loss_weights: {e}")
    every = cfg.get("moe_grad_norm_every")
    if every is not None and int(every) < 0:
        problems.append(f"moe_grad_norm_every: {every}: expected 0 (off) or a number of steps")
    return problems


def name_problems(cfg: dict, src_paths: Iterable[str]) -> list[str]:
    """Every problem with the corpus names the options use; [] when no such option is set."""
    names_used = cfg.get("moe_task_loss_weights") or (cfg.get("moe_contrastive_coef") not in (None, "", 0, 0.0, "0"))
    if not names_used:
        return []
    tags, tasks = corpus_names(src_paths)
    return _task_problems(cfg, tasks) + _contrastive_problems(cfg, tags)
