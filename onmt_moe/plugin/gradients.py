"""Per-module gradient norms of a training model, into ``grad_norms.csv`` (``-moe_grad_norm_every``).

``GradientNormLogger(model, csv_path, every=N)`` groups trainable parameters by name prefix
(``depth`` components, default 4, e.g. ``encoder.transformer.0.feed_forward``; ``encoder.embeddings`` /
``decoder.embeddings`` are one group each; with ``expert_detail`` each ``experts.<i>`` gets its own
group) and, on ``maybe_log(step)`` every N steps, appends ``step,module,grad_norm`` rows (plus
``total``) through :class:`onmt_moe.runfolder.csvlog.CsvLog`. Cost: one ``torch._foreach_norm`` over all
gradients, one ``torch.stack``, one ``index_add_`` and a single host transfer. Call it after
``backward()`` (and after unscaling AMP gradients, or pass ``scale=``) and before ``zero_grad``.

Torch only (the plugin's reporting hook imports it during training; no OpenNMT here).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from onmt_moe.runfolder.csvlog import CsvLog
from onmt_moe.runfolder.layout import GRAD_COLUMNS


class GradientNormLogger:
    """Per-module gradient norms into ``grad_norms.csv`` (see module docstring).

    Args:
        model: the model whose ``.grad`` tensors are read.
        csv_path: output CSV (``step,module,grad_norm``); ``None`` disables writing
            (``compute`` still works).
        every: log when ``step % every == 0``.
        depth: number of name components that define a group.
        expert_detail: split ``...experts.<i>`` into one group per expert.
        fsync: passed to :class:`CsvLog`.
    """

    def __init__(
        self,
        model: nn.Module,
        csv_path=None,
        every: int = 100,
        depth: int = 4,
        expert_detail: bool = True,
        fsync: bool = True,
    ):
        if every < 1:
            raise ValueError("every must be >= 1")
        if type(model).__name__ in ("DistributedDataParallel", "DataParallel") and isinstance(
            getattr(model, "module", None), nn.Module
        ):
            model = model.module  # group names without the wrapper's "module." prefix
        self.every = int(every)
        self.depth = int(depth)
        self.expert_detail = expert_detail
        self.params: list[nn.Parameter] = []
        self.groups: list[str] = []
        index: dict[str, int] = {}
        self._param_group: list[int] = []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            g = self.group_name(name)
            if g not in index:
                index[g] = len(self.groups)
                self.groups.append(g)
            self.params.append(p)
            self._param_group.append(index[g])
        self.log = CsvLog(csv_path, GRAD_COLUMNS, fsync=fsync) if csv_path is not None else None
        self.last: dict[str, float] = {}
        self._index_cache: tuple[Any, torch.Tensor | None] = (None, None)

    def group_name(self, param_name: str) -> str:
        parts = param_name.split(".")[:-1] or param_name.split(".")
        n = self.depth
        if "embeddings" in parts[:2]:  # one group per embedding table owner
            return ".".join(parts[: parts.index("embeddings") + 1])
        if self.expert_detail:
            for i in range(len(parts) - 1):
                if parts[i] == "experts" and parts[i + 1].isdigit():
                    n = max(n, i + 2)
                    break
        return ".".join(parts[:n])

    @torch.no_grad()
    def compute(self, scale: float | None = None) -> dict[str, float]:
        """``{group: L2 norm, ..., "total": norm}`` of the current gradients.

        Groups without any gradient report 0.0; returns ``{}`` when no
        parameter has a gradient.  ``scale`` (e.g. an AMP loss scale) divides
        the norms.
        """
        grads, gidx = [], []
        for p, g in zip(self.params, self._param_group):
            if p.grad is not None:
                grads.append(p.grad)
                gidx.append(g)
        if not grads:
            return {}
        device = grads[0].device
        try:
            norms = torch._foreach_norm(grads, 2, dtype=torch.float32)
        except (RuntimeError, TypeError, NotImplementedError):  # sparse grads, old torch
            norms = [(g.coalesce().values() if g.is_sparse else g).float().norm() for g in grads]
        sq = torch.stack([n.to(device) for n in norms]).pow(2)
        per_group = torch.zeros(len(self.groups) + 1, dtype=torch.float32, device=device)
        key = (device, tuple(gidx))
        if self._index_cache[0] != key:  # usually the same parameters have grads every step
            self._index_cache = (key, torch.tensor(gidx, device=device))
        per_group.index_add_(0, self._index_cache[1], sq)
        per_group[-1] = sq.sum()
        values = per_group.sqrt().tolist()  # the one host transfer
        if scale:
            values = [v / float(scale) for v in values]
        out = dict(zip(self.groups + ["total"], values))
        self.last = out
        return out

    def maybe_log(self, step: int, scale: float | None = None, force: bool = False) -> bool:
        """Compute and append the norms when ``step % every == 0`` (or ``force``).

        Returns True when rows were written (or computed, without a CSV)."""
        if not force and int(step) % self.every != 0:
            return False
        norms = self.compute(scale)
        if not norms:
            return False
        if self.log is not None:
            self.log.append([{"step": int(step), "module": m, "grad_norm": v} for m, v in norms.items()])
        return True
