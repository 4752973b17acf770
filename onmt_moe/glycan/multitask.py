"""Multi-task glycan corpora: one vocabulary, a task token at the start of every source.

Plain Python (no torch, no OpenNMT). Tasks, their source / target and the scorer their test set
needs (``score``: the ``run.kind`` of :mod:`onmt_moe.runs.runner`, ``text`` = sacrebleu BLEU/chrF + field and exact match)::

    struct  <TASK_STRUCT> <MS> … </MS> [<TEXT> … </TEXT>]  ->  WURCS tokens       (score wurcs)
    spec    <TASK_SPEC> <WURCS> … </WURCS>                  ->  MS tokens          (score spectrum)
    text    <TASK_TEXT> <WURCS> … </WURCS> <MS> … </MS>     ->  description words  (score text)
    align   <TASK_ALIGN> <MS> … </MS> <WURCS> … </WURCS> [<TEXT> … </TEXT>]  ->  composition words
            (``Hex 5 HexNAc 4``; score text): the examples the contrastive alignment
            (``moe_contrastive_pairs: MS:WURCS,TEXT:WURCS,MS:TEXT``) sees with every modality; its
            cross-entropy can be switched off with ``moe_task_loss_weights: TASK_ALIGN=0``.

Structure (WURCS) is an input segment only in tasks whose target is not the structure (spec, text,
align); the ``struct`` source never holds it (tests/test_glycan_multitask.py checks every line).

With ``--target_task_token`` the training and validation *targets* start with the task token too, a
per-task decoder start like the target-language token of multilingual NMT: the decoder then knows the
task from its first step instead of having to read it from the source through cross-attention (at
600 CPU steps it had not learned that: every task's decode began with the alignment target's first
word, docs/glycan.md). Test targets stay the plain references; ``tasks.json`` records the token as
the task's ``target_prefix``, which the runner forces at decoding and strips before scoring.

A row serves every task with the split it already has (splits are by structure), so a test
structure never appears in any training source or target. A row without a description serves
``struct`` (with ``<TEXT> <MISSING> </TEXT>`` when TEXT is on) but not ``text`` (reason
``missing_text``). The weights are OpenNMT corpus weights: one corpus per task in ``data:``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

from onmt_moe.modality.tags import parse_name_values, task_token, wrap

from .spectra_tokens import SpecTokConfig, source_tokens, spectrum_tokens


@dataclass(frozen=True)
class Task:
    token: str  # the task token that starts every source line of this task
    score: str  # the scorer kind of its test set


TASKS: dict[str, Task] = {
    "struct": Task(task_token("STRUCT"), "wurcs"),
    "spec": Task(task_token("SPEC"), "spectrum"),
    "text": Task(task_token("TEXT"), "text"),
    "align": Task(task_token("ALIGN"), "text"),
}


def parse_tasks(spec: str) -> list[str]:
    """``"struct,spec"`` -> ``["struct", "spec"]``; unknown or repeated names raise ValueError."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    bad = [n for n in names if n not in TASKS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"tasks {spec!r}: give distinct names from {', '.join(TASKS)}")
    return names


def parse_weights(spec: str, tasks: Sequence[str]) -> dict[str, int]:
    """``"struct=2,text=1"`` -> a positive integer OpenNMT corpus weight per task (default 1)."""
    weights = {t: 1 for t in tasks}
    for name, value in parse_name_values(spec, "--task_weights", "task", "weight").items():
        item = f"{name}={value}"
        if name not in weights:
            raise ValueError(f"task weight {item!r}: {name!r} is not one of the tasks {', '.join(tasks)}")
        try:
            weights[name] = int(value)
        except ValueError:
            raise ValueError(f"task weight {item!r}: the weight must be a whole number") from None
        if weights[name] < 1:
            raise ValueError(f"task weight {item!r}: the weight must be >= 1")
    return weights


def task_pair(
    task: str,
    wurcs_tokens: Sequence[str],
    precursor_mz: float,
    charge: int,
    peaks,
    text: Sequence[str],
    cfg: SpecTokConfig,
    with_text: bool,
    composition: str = "",
) -> tuple[list[str], list[str]] | str:
    """(source, target) tokens of one row for one task, or the reason the row cannot serve it."""
    head = [TASKS[task].token]
    if task == "struct":
        return head + source_tokens(precursor_mz, charge, peaks, text, cfg, with_text=with_text), list(wurcs_tokens)
    structure = wrap("WURCS", list(wurcs_tokens))
    if task == "spec":
        return head + structure, spectrum_tokens(precursor_mz, charge, peaks, cfg.as_target())
    if task == "align":
        words = composition_words(composition)
        if not words:
            return "missing_composition"
        tail = wrap("TEXT", list(text)) if with_text and text else []
        return head + wrap("MS", spectrum_tokens(precursor_mz, charge, peaks, cfg)) + structure + tail, words
    if not text:
        return "missing_text"
    return head + structure + wrap("MS", spectrum_tokens(precursor_mz, charge, peaks, cfg)), list(text)


def target_tokens(task: str, target: Sequence[str], split: str, task_token_first: bool) -> list[str]:
    """The target line of one task pair: with ``task_token_first``, train / val targets start with the
    task token (the decoder start of that task); a test target is always the plain reference."""
    if task_token_first and split != "test":
        return [TASKS[task].token, *target]
    return list(target)


def composition_words(composition) -> list[str]:
    """The glycowork ``Composition`` (a dict or its JSON) as words, ``["Hex", "5", "HexNAc", "4"]``
    (residue names sorted); [] when it is missing, empty or not a mapping of counts."""
    if isinstance(composition, str):
        try:
            composition = json.loads(composition) if composition.strip() else {}
        except ValueError:
            return []
    if not isinstance(composition, dict):
        return []
    try:
        return [
            w
            for name in sorted(composition)
            if int(composition[name]) > 0
            for w in (str(name), str(int(composition[name])))
        ]
    except (TypeError, ValueError):
        return []


def data_section(data_dir: str, tasks: Sequence[str], weights: dict[str, int]) -> dict:
    """The OpenNMT ``data:`` section: one weighted corpus per task, the mixed validation set."""
    data = {
        task: {
            "path_src": os.path.join(data_dir, task, "src-train.txt"),
            "path_tgt": os.path.join(data_dir, task, "tgt-train.txt"),
            "weight": weights[task],
        }
        for task in tasks
    }
    data["valid"] = {
        "path_src": os.path.join(data_dir, "src-val.txt"),
        "path_tgt": os.path.join(data_dir, "tgt-val.txt"),
    }
    return data
