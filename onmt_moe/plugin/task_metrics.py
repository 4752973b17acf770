"""Per-task loss weights and per-task statistics of a multi-task run (issue 16).

A multi-task source starts with its task token (``<TASK_STRUCT>``, :func:`onmt_moe.modality.tags.task_token`);
with ``share_vocab`` the source and target vocabularies are one, so the first source token of each
example names its task. From it:

* ``moe_task_loss_weights: TASK_STRUCT=1.0,TASK_SPEC=0.5`` scales every target token of an example
  by its task's weight (tasks not named keep 1.0; the reported statistics stay unweighted);
* :class:`TaskMeter` sums cross-entropy, target tokens and correct tokens per task on device; the
  CSV reporter (:mod:`onmt_moe.plugin.reporting`) writes them as ``train_tasks.csv`` at every report and
  ``valid_tasks.csv`` at every validation. The mixed validation set holds every task's validation
  lines, so the ``valid_tasks.csv`` rows of a task are that task's own validation set.

Plain PyTorch, no OpenNMT. The meters of the running process are kept in :data:`METERS`
(``"train"``, ``"valid"``), set by :class:`onmt_moe.plugin.loss.MoELossCompute` when it is built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from onmt_moe.modality.tags import TASK_PREFIX

METERS: dict[str, TaskMeter] = {}


def task_names(itos: Sequence[str]) -> list[str]:
    """The task names (``STRUCT``, …) of the task tokens in a vocabulary, in vocabulary order."""
    return [t[len(TASK_PREFIX) : -1] for t in itos if t.startswith(TASK_PREFIX) and t.endswith(">")]


def task_lookup(itos: Sequence[str]) -> torch.Tensor:
    """``(len(itos),)`` long tensor: the task index of each task token (order of :func:`task_names`), -1 else."""
    lookup = torch.full((len(itos),), -1, dtype=torch.long)
    k = 0
    for i, t in enumerate(itos):
        if t.startswith(TASK_PREFIX) and t.endswith(">"):
            lookup[i] = k
            k += 1
    return lookup


def task_weight_vector(names: Sequence[str], weights: dict[str, float]) -> torch.Tensor:
    """Per-task loss weight (default 1.0). Keys are task tokens without brackets (``TASK_STRUCT``)
    or bare names (``STRUCT``); a name that is not a task of the vocabulary raises ValueError."""
    out = torch.ones(len(names) + 1)  # the last slot: examples without a task token
    known = {n: i for i, n in enumerate(names)}
    for key, value in weights.items():
        name = key.strip().strip("<>")
        name = name[len("TASK_") :] if name.startswith("TASK_") else name
        if name not in known:
            raise ValueError(
                f"moe_task_loss_weights: {key!r} is not a task token of the vocabulary "
                f"(tasks: {', '.join('TASK_' + n for n in names) or 'none'})"
            )
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"moe_task_loss_weights: {key}={value}: the weight must be a finite number >= 0")
        out[known[name]] = float(value)
    return out


def example_tasks(src: torch.Tensor, lookup: torch.Tensor) -> torch.Tensor:
    """``(B, S[, F])`` source ids -> ``(B,)`` task index of each example's first token (-1: none)."""
    first = src[:, 0, 0] if src.dim() == 3 else src[:, 0]
    return lookup.to(first.device)[first]


class TaskMeter:
    """Sums of (cross-entropy, target tokens, correct tokens) per task between two reports."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        self.sums: torch.Tensor | None = None

    def add(self, row_task: torch.Tensor, ce: torch.Tensor, correct: torch.Tensor, real: torch.Tensor) -> None:
        """``row_task`` (N,) task of each target position, ``ce``/``correct``/``real`` (N,) per position."""
        keep = real & (row_task >= 0)
        idx = row_task[keep]
        vals = torch.stack([ce.detach()[keep].double(), real[keep].double(), correct[keep].double()], dim=1)
        sums = torch.zeros(len(self.names), 3, dtype=torch.float64, device=vals.device).index_add_(0, idx, vals)
        self.sums = sums if self.sums is None else self.sums + sums

    def snapshot(self, reset: bool = True) -> list[dict]:
        """One row per task seen since the last reset: task, xent, ppl, accuracy (%), tokens."""
        rows = []
        if self.sums is not None:
            for name, (loss, n, ok) in zip(self.names, self.sums.cpu().tolist()):
                if n > 0:
                    xent = loss / n
                    rows.append(
                        {
                            "task": name,
                            "xent": xent,
                            "ppl": math.exp(min(xent, 100)),
                            "accuracy": 100.0 * ok / n,
                            "tokens": int(n),
                        }
                    )
        if reset:
            self.sums = None
        return rows


__all__ = ["METERS", "TaskMeter", "task_names", "task_lookup", "task_weight_vector", "example_tasks"]
