"""CSV logs of a training run (the columns are documented in README.md, "Run folder").

``CsvReportMgr`` extends OpenNMT's ``ReportMgr`` (console + tensorboard stay as they are) and appends
to ``train_steps.csv`` (every ``report_every``), ``valid_summary.csv`` (every ``valid_steps``),
``moe_steps.csv`` and ``moe_aux.csv`` (every ``report_every``, MoE encoders only). Routing statistics
are accumulated on device by each MoE layer and read with one host transfer per layer per report.

The logs are opt-in: they are written only when ``-moe_log_dir`` names a folder (start_training sets
it to the run folder), so a stock ``onmt_train`` run writes no CSV. When training starts, rows newer
than the step it starts from are dropped (:func:`begin_training`): a fresh start (step 0) starts the
logs afresh and a resume keeps exactly the rows up to its checkpoint, so runs never mix.

Data-parallel training (``world_size > 1``): rank 0 writes every file, once. At each report the
routing counts and aux-loss sums of all ranks are summed into rank 0 (:func:`reduce_over_ranks`,
called by every rank: the other ranks get a :class:`RankReportMgr` that takes part and writes
nothing), and the fractions are recomputed from the sums, so the rows are those of one process
that saw every rank's batches. OpenNMT already gathers the train statistics and validates on rank 0.
"""

from __future__ import annotations

import math
import os
import time

from onmt.utils.report_manager import ReportMgr

from onmt_moe.plugin.task_metrics import METERS
from onmt_moe.runfolder.csvlog import CsvLog, truncate_file_after_step
from onmt_moe.runfolder.layout import (
    AUX_COLUMNS,
    CSV_FILES,
    GRAD_NORMS,
    MOE_AUX,
    MOE_COLUMNS,
    MOE_STEPS,
    TASK_COLUMNS,
    TRAIN_COLUMNS,
    TRAIN_STEPS,
    VALID_COLUMNS,
    VALID_SUMMARY,
    tasks_csv,
)

_STATE: dict[str, object] = {"model": None, "opt": None, "grad_logger": None, "started": False, "csv_dir": None}


def log_dir(opt) -> str | None:
    """The CSV folder, or None when CSV logging is off (``-moe_log_dir`` not given)."""
    d = getattr(opt, "moe_log_dir", "") or ""
    if not d:
        return None
    os.makedirs(d, exist_ok=True)
    return d


def _distributed_rank() -> int | None:
    """This process's rank in the default process group, or None when training is not distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist.get_rank()
    return None


def attach_model(model, opt) -> None:
    """Called once the training model is built (see onmt_patches, build_model)."""
    _STATE["model"] = model
    _STATE["opt"] = opt
    _STATE["grad_logger"] = None
    _STATE["started"] = False
    _STATE["csv_dir"] = None  # set by the CsvReportMgr of this process (rank 0 only)
    every = int(getattr(opt, "moe_grad_norm_every", 0) or 0)
    d = log_dir(opt)
    if every > 0 and d is not None and (_distributed_rank() or 0) == 0:  # all-reduced gradients: rank 0 logs
        from onmt_moe.plugin.gradients import GradientNormLogger

        _STATE["grad_logger"] = GradientNormLogger(model, os.path.join(d, GRAD_NORMS), every=every)


def begin_training(first_step: int) -> None:
    """Before the first update of this process: drop logged rows with step >= ``first_step`` (a
    previous run's rows past the checkpoint this run starts from — all of them on a fresh start)."""
    if _STATE["started"]:
        return
    _STATE["started"] = True
    d = _STATE["csv_dir"]
    if d is None:  # logging off, or not the process that writes the logs
        return
    for name in CSV_FILES:
        path = os.path.join(d, name)
        if os.path.exists(path):
            truncate_file_after_step(path, int(first_step) - 1)


def before_optimizer_step(step: int) -> None:
    gl = _STATE.get("grad_logger")
    if gl is not None:
        gl.maybe_log(step)


def _moe_encoder():
    model = _STATE.get("model")
    enc = getattr(model, "encoder", None)
    return enc if hasattr(enc, "moe_blocks") else None


def reduce_over_ranks(enc) -> None:
    """Sum every rank's routing counts and aux-loss meters into each rank before a report (a collective:
    every rank calls it at the same report; a no-op on one process)."""
    if enc is None or _distributed_rank() is None:
        return
    device = next(enc.parameters()).device
    enc.aux_meter.all_reduce_(device)
    for block in enc.moe_blocks():
        block.moe.routing_stats.all_reduce_(device)


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def routing_rows(step: int, layer: int, snap: dict, modality_names: list[str]) -> list[dict]:
    """Tidy rows of one layer's routing snapshot (see onmt_moe.moe.routing_stats for the keys)."""
    load = [float(v) for v in snap["load"]]
    imp = [float(v) for v in snap["importance"]]
    E = len(load)
    tot_load, tot_imp = sum(load) or 1.0, sum(imp) or 1.0
    layer_vals = {
        k: _f(snap.get(k)) for k in ("entropy_norm", "cv", "max_over_mean", "router_confidence", "temperature", "k")
    }
    layer_vals["overflow_frac"] = _f(snap.get("overflow_fraction"))
    rows = []
    for e in range(E):
        rows.append(
            dict(
                step=step,
                layer=layer,
                expert=e,
                modality="all",
                load=load[e],
                load_frac=load[e] / tot_load,
                importance=imp[e],
                importance_frac=imp[e] / tot_imp,
                **layer_vals,
            )
        )
    per_mod = snap.get("modality_load")
    imp_mod = snap.get("modality_importance")
    if per_mod is not None:
        for m, row in enumerate(per_mod):
            row = [float(v) for v in row]
            s = sum(row)
            if s <= 0:
                continue
            irow = [float(v) for v in imp_mod[m]] if imp_mod is not None else [float("nan")] * E
            si = sum(irow) if imp_mod is not None else float("nan")
            name = modality_names[m] if m < len(modality_names) else f"M{m}"
            for e in range(E):
                rows.append(
                    dict(
                        step=step,
                        layer=layer,
                        expert=e,
                        modality=name,
                        load=row[e],
                        load_frac=row[e] / s,
                        importance=irow[e],
                        importance_frac=(irow[e] / si) if si and si == si else float("nan"),
                        **layer_vals,
                    )
                )
    return rows


class CsvReportMgr(ReportMgr):
    """OpenNMT's report manager + durable CSV logs in the run folder."""

    def __init__(self, opt, report_every, start_time=-1.0, tensorboard_writer=None):
        super().__init__(report_every, start_time=start_time, tensorboard_writer=tensorboard_writer)
        d = log_dir(opt)
        assert d is not None, "CsvReportMgr needs -moe_log_dir (see build_report_manager in onmt_patches)"
        _STATE["csv_dir"] = d
        self.train_csv = CsvLog(os.path.join(d, TRAIN_STEPS), TRAIN_COLUMNS)
        self.valid_csv = CsvLog(os.path.join(d, VALID_SUMMARY), VALID_COLUMNS)
        self.moe_csv: CsvLog | None = None
        self.aux_csv: CsvLog | None = None
        self._d = d
        self._t0 = time.time()

    def _task_rows(self, which: str, step: int) -> None:
        """Per-task rows of a multi-task run into ``<which>_tasks.csv`` (nothing for other runs)."""
        meter = METERS.get(which)
        rows = meter.snapshot(reset=True) if meter is not None else []
        if rows:
            CsvLog(os.path.join(self._d, tasks_csv(which)), TASK_COLUMNS).append([dict(step=step, **r) for r in rows])

    def _moe_logs(self):
        if self.moe_csv is None:
            self.moe_csv = CsvLog(os.path.join(self._d, MOE_STEPS), MOE_COLUMNS)
            self.aux_csv = CsvLog(os.path.join(self._d, MOE_AUX), AUX_COLUMNS)
        return self.moe_csv, self.aux_csv

    def _report_training(self, step, num_steps, learning_rate, patience, report_stats):
        out = super()._report_training(step, num_steps, learning_rate, patience, report_stats)
        t = max(report_stats.elapsed_time(), 1e-9)
        enc = _moe_encoder()
        aux_total = 0.0
        if enc is not None:
            reduce_over_ranks(enc)
            moe_csv, aux_csv = self._moe_logs()
            aux = enc.aux_meter.snapshot(reset=True)
            aux_total = sum(v["weighted"] for v in aux.values())
            aux_csv.append([dict(step=step, component=k, **v) for k, v in aux.items()])
            rows = []
            for layer_id, block in zip(enc.moe_layer_ids, enc.moe_blocks()):
                snap = block.moe.routing_stats.snapshot(reset=True)
                if snap and _f(snap.get("tokens", 1)) > 0:
                    rows.extend(routing_rows(step, layer_id, snap, enc.modality_names))
            moe_csv.append(rows)
        xent = report_stats.xent() if report_stats.n_words else float("nan")
        self.train_csv.append_row(
            dict(
                step=step,
                xent=xent,
                ppl=math.exp(min(xent, 100)) if xent == xent else float("nan"),
                accuracy=report_stats.accuracy() if report_stats.n_words else float("nan"),
                lr=learning_rate,
                src_tok_per_s=report_stats.n_src_words / t,
                tgt_tok_per_s=report_stats.n_words / t,
                elapsed_s=time.time() - self._t0,
                aux_total=aux_total,
            )
        )
        self._task_rows("train", step)
        return out

    def _report_step(self, lr, patience, step, valid_stats=None, train_stats=None):
        super()._report_step(lr, patience, step, valid_stats=valid_stats, train_stats=train_stats)
        if valid_stats is not None and valid_stats.n_words:
            self.valid_csv.append_row(
                dict(step=step, xent=valid_stats.xent(), ppl=valid_stats.ppl(), accuracy=valid_stats.accuracy())
            )
            self._task_rows("valid", step)


class RankReportMgr(ReportMgr):
    """The report manager of ranks > 0 when rank 0 writes CSV logs: OpenNMT's own reporting, plus this
    rank's share of the reductions of :func:`reduce_over_ranks`; it writes nothing."""

    def _report_training(self, step, num_steps, learning_rate, patience, report_stats):
        out = super()._report_training(step, num_steps, learning_rate, patience, report_stats)
        enc = _moe_encoder()
        if enc is not None:
            reduce_over_ranks(enc)
            enc.aux_meter.reset()
            for block in enc.moe_blocks():
                block.moe.routing_stats.reset()
        return out


__all__ = [
    "CsvReportMgr",
    "RankReportMgr",
    "reduce_over_ranks",
    "attach_model",
    "begin_training",
    "before_optimizer_step",
    "routing_rows",
    "log_dir",
]
