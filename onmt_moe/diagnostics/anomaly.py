"""Anomaly report for a run folder (``runs/<run>/``).

``analyze_run(run_dir, **thresholds)`` reads the run CSVs (see
``onmt_moe.runfolder.csvlog`` and the CSV contract below), applies a set of simple,
explainable checks and returns a dict with a list of findings::

    {"severity": "error"|"warning"|"info", "kind": str, "message": str,
     "step_range": [first_step, last_step] | None,
     "layer": int | None, "expert": int | None, "module": str | None}

Files read (all optional except that a run without ``train_steps.csv`` is
reported with a warning):

* ``train_steps.csv``  step,xent,ppl,accuracy,lr,src_tok_per_s,tgt_tok_per_s,elapsed_s,aux_total
* ``valid_summary.csv`` step,xent,ppl,accuracy[,top1,top5,top10]
* ``moe_steps.csv``     step,layer,expert,modality,load,load_frac,... (long format)
* ``moe_aux.csv``       step,component,raw,coef,weighted
* ``grad_norms.csv``    step,module,grad_norm

"Window" and "sustained" are counted in *logged points* (rows of a CSV for
one step), not in training steps.  A condition is reported when it holds for
at least ``window`` consecutive logged points; shorter blips are summarised
as ``info`` (throughput, gradient spikes) or ignored.

Checks (kind -> severity):

* ``non_finite``           NaN/Inf in a loss, lr, aux loss, MoE statistic or grad norm -> error
* ``throughput_drop``      src+tgt tokens/s below ``throughput_drop_frac`` x running
                           median of the previous ``throughput_median_window`` points,
                           sustained -> warning; isolated dips -> one info finding
* ``expert_collapse``      an expert's ``load_frac`` below ``collapse_load_ratio`` / E
                           (E experts in the layer), sustained -> error
* ``routing_entropy_collapse`` layer ``entropy_norm`` below ``collapse_entropy``,
                           sustained -> warning
* ``load_imbalance``       layer ``cv`` > ``cv_max`` or ``max_over_mean`` >
                           ``max_over_mean_max``, sustained -> warning
* ``capacity_overflow``    ``overflow_frac`` > ``overflow_max``, sustained -> warning
* ``stalled_validation``   no relative valid-ppl improvement of
                           ``stall_min_rel_improvement`` over the last
                           ``stall_patience`` validations -> warning; earlier
                           plateaus that recovered -> info
* ``vanishing_gradients`` / ``exploding_gradients`` per-module grad norm below
                           ``grad_min`` / above ``grad_max``, sustained -> warning
* ``gradient_spike``       total grad norm > ``grad_spike_factor`` x its running median -> info
* ``loss_divergence``      rolling train xent > ``divergence_factor`` x its best
                           rolling value, sustained -> warning
* ``aux_loss_dominates``   train ``aux_total`` > ``aux_ratio_max`` x train xent, sustained -> warning
* ``duplicate_steps``      repeated rows or steps going backwards in a CSV -> warning
* ``missing_file`` / ``unreadable_file`` optional CSV absent -> info;
                           ``train_steps.csv`` absent -> warning; unreadable/corrupt -> error
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from onmt_moe.runfolder.csvlog import CsvLogError, atomic_write_json, atomic_write_text, read_csv
from onmt_moe.runfolder.layout import (
    ANOMALY_REPORT_JSON,
    ANOMALY_REPORT_TXT,
    GRAD_NORMS,
    MOE_AUX,
    MOE_STEPS,
    TRAIN_STEPS,
    VALID_SUMMARY,
)

SEVERITIES = ("error", "warning", "info")
_SEV_RANK = {"error": 0, "warning": 1, "info": 2}

FILES = {
    TRAIN_STEPS: ["step"],
    VALID_SUMMARY: ["step"],
    MOE_STEPS: ["step", "layer", "expert", "modality"],
    MOE_AUX: ["step", "component"],
    GRAD_NORMS: ["step", "module", "grad_norm"],
}
_TEXT_COLUMNS = {"modality", "component", "module"}


class RunDataError(ValueError):
    """The run folder itself is unusable (one-line message naming it)."""


@dataclass
class Thresholds:
    window: int = 5
    throughput_drop_frac: float = 0.5
    throughput_median_window: int = 20
    collapse_load_ratio: float = 0.05
    collapse_entropy: float = 0.05
    cv_max: float = 1.0
    max_over_mean_max: float = 3.0
    overflow_max: float = 0.25
    stall_patience: int = 5
    stall_min_rel_improvement: float = 0.001
    grad_min: float = 1e-7
    grad_max: float = 1e3
    grad_spike_factor: float = 10.0
    divergence_factor: float = 1.5
    aux_ratio_max: float = 0.5

    @classmethod
    def from_kwargs(cls, **kwargs) -> Thresholds:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unknown threshold(s): {', '.join(unknown)}")
        th = cls(**{k: v for k, v in kwargs.items() if v is not None})
        if th.window < 1:
            raise ValueError("window must be >= 1")
        return th


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _finding(severity, kind, message, step_range=None, layer=None, expert=None, module=None):
    if step_range is not None:
        step_range = [int(step_range[0]), int(step_range[1])]
    return {
        "severity": severity,
        "kind": kind,
        "message": message,
        "step_range": step_range,
        "layer": None if layer is None else int(layer),
        "expert": None if expert is None else int(expert),
        "module": module,
    }


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j] (inclusive) of consecutive True values."""
    mask = np.asarray(mask, dtype=bool)
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        elif not m and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(mask) - 1))
    return out


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    x = float(x)
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 1e6 or ax < 1e-3:
        return f"{x:.2e}"
    if ax >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def _steps_text(a, b) -> str:
    return f"step {int(a)}" if int(a) == int(b) else f"steps {int(a)}-{int(b)}"


def _load(run_dir: Path, name: str, report: dict, findings: list):
    """Read one CSV as (numeric frame, blank mask) or None; record its status."""
    import pandas as pd

    path = run_dir / name
    if not path.exists():
        report["files"][name] = {"status": "missing"}
        return None
    try:
        raw = read_csv(path, required_columns=FILES[name], dtype=str, keep_default_na=False)
    except CsvLogError as exc:
        report["files"][name] = {"status": "unreadable", "error": str(exc)}
        findings.append(_finding("error", "unreadable_file", str(exc)))
        return None
    blank = pd.DataFrame({c: raw[c].str.strip() == "" for c in raw.columns})
    df = pd.DataFrame(index=raw.index)
    for c in raw.columns:
        df[c] = raw[c].str.strip() if c in _TEXT_COLUMNS else pd.to_numeric(raw[c], errors="coerce")
    bad_step = df["step"].isna()
    if bad_step.any():
        findings.append(
            _finding(
                "warning",
                "unreadable_file",
                f"{path}: {int(bad_step.sum())} row(s) with an unparsable step were ignored",
            )
        )
        df, blank = df[~bad_step], blank[~bad_step]
    df = df.reset_index(drop=True)
    blank = blank.reset_index(drop=True)
    info = {"status": "ok", "rows": int(len(df))}
    if len(df):
        info["steps"] = [int(df["step"].min()), int(df["step"].max())]
    report["files"][name] = info
    return df, blank


# --------------------------------------------------------------------------- #
# checks
# --------------------------------------------------------------------------- #
def _check_non_finite(name, df, blank, columns, findings, group_col=None):
    """One error finding per file: which columns hold NaN/Inf, how often, from when.

    Blank cells (a value the writer did not log) are not counted."""
    cols = [c for c in columns if c in df.columns]
    if not cols or df.empty:
        return
    bad_cols, any_bad = [], np.zeros(len(df), dtype=bool)
    for col in cols:
        bad = ~np.isfinite(df[col].to_numpy(dtype=float)) & ~blank[col].to_numpy()
        if bad.any():
            bad_cols.append(col)
            any_bad |= bad
    if not bad_cols:
        return
    steps = df["step"].to_numpy()[any_bad]
    where, module = "", None
    if group_col is not None:
        groups = sorted(set(df[group_col][any_bad].astype(str)))
        shown = ", ".join(groups[:5]) + (f" (+{len(groups) - 5} more)" if len(groups) > 5 else "")
        where = f" for {shown}"
        if group_col == "module" and len(groups) == 1:
            module = groups[0]
    n_steps = len(np.unique(steps))
    findings.append(
        _finding(
            "error",
            "non_finite",
            f"{name}: NaN/Inf in {', '.join(repr(c) for c in bad_cols)}{where} at {n_steps} logged "
            f"step(s), first at step {int(steps.min())}",
            (steps.min(), steps.max()),
            module=module,
        )
    )


_KEYS = {
    TRAIN_STEPS: ["step"],
    VALID_SUMMARY: ["step"],
    MOE_STEPS: ["step", "layer", "expert", "modality"],
    MOE_AUX: ["step", "component"],
    GRAD_NORMS: ["step", "module"],
}


def _check_duplicates(name, df, findings):
    """Repeated keys or steps going backwards: typically a resumed run whose
    logs were not truncated to the checkpoint step."""
    keys = [k for k in _KEYS[name] if k in df.columns]
    dup = df.duplicated(subset=keys, keep="first").to_numpy()
    steps = df["step"].to_numpy(dtype=float)
    back = np.zeros(len(steps), dtype=bool)
    if len(steps) > 1:
        back[1:] = steps[1:] < np.maximum.accumulate(steps)[:-1]
    bad = dup | back
    if bad.any():
        bs = df["step"].to_numpy()[bad]
        findings.append(
            _finding(
                "warning",
                "duplicate_steps",
                f"{name}: {int(dup.sum())} duplicated row(s) and {int(back.sum())} row(s) with a step lower "
                f"than an earlier one (resumed without truncating the logs?), first at step {int(bs[0])}",
                (bs.min(), bs.max()),
            )
        )


def _check_throughput(df, th: Thresholds, findings):
    cols = [c for c in ("src_tok_per_s", "tgt_tok_per_s") if c in df.columns]
    if not cols:
        return
    d = df.sort_values("step")
    tok = d[cols].sum(axis=1, min_count=len(cols)).to_numpy(dtype=float)
    steps = d["step"].to_numpy()
    ok = np.isfinite(tok)
    tok, steps = tok[ok], steps[ok]
    if len(tok) <= th.window:
        return

    # baseline: median of the previous `throughput_median_window` points that were
    # not themselves flagged, so a lasting drop does not become the new normal
    med = np.full(len(tok), np.nan)
    drop = np.zeros(len(tok), dtype=bool)
    base: list[float] = []
    for i, v in enumerate(tok):
        if len(base) >= th.window:
            med[i] = float(np.median(base[-th.throughput_median_window :]))
            drop[i] = v < th.throughput_drop_frac * med[i]
        if not drop[i]:
            base.append(float(v))
    blips = []
    for i, j in _runs(drop):
        if j - i + 1 >= th.window:
            ratio = float(np.mean(tok[i : j + 1] / med[i : j + 1]))
            ongoing = " (ongoing at the last logged step)" if j == len(tok) - 1 else ""
            findings.append(
                _finding(
                    "warning",
                    "throughput_drop",
                    f"tokens/s fell to {ratio:.0%} of the running median "
                    f"({_fmt(float(np.median(med[i : j + 1])))} tok/s) for {j - i + 1} logged points, "
                    f"{_steps_text(steps[i], steps[j])}{ongoing}",
                    (steps[i], steps[j]),
                )
            )
        else:
            blips.append((i, j))
    if blips:
        where = ", ".join(_steps_text(steps[i], steps[j]) for i, j in blips[:6])
        more = f" (+{len(blips) - 6} more)" if len(blips) > 6 else ""
        findings.append(
            _finding(
                "info",
                "throughput_drop",
                f"{len(blips)} short throughput dip(s) below {th.throughput_drop_frac:.0%} of the "
                f"running median: {where}{more}",
                (steps[blips[0][0]], steps[blips[-1][1]]),
            )
        )


def _check_divergence(df, th: Thresholds, findings):
    if "xent" not in df.columns:
        return
    d = df.sort_values("step")
    x = d["xent"].to_numpy(dtype=float)
    steps = d["step"].to_numpy()
    ok = np.isfinite(x)
    x, steps = x[ok], steps[ok]
    if len(x) < 2 * th.window:
        return
    import pandas as pd

    roll = pd.Series(x).rolling(th.window).mean().to_numpy()
    best = np.fmin.accumulate(np.where(np.isfinite(roll), roll, np.inf))
    bad = np.isfinite(roll) & (best > 0) & (roll > th.divergence_factor * best)
    for i, j in _runs(bad):
        if j - i + 1 >= th.window:
            findings.append(
                _finding(
                    "warning",
                    "loss_divergence",
                    f"train xent (rolling mean over {th.window}) rose to "
                    f"{_fmt(float(roll[i : j + 1].max()))}, {float(roll[i : j + 1].max() / best[j]):.1f}x its best "
                    f"({_fmt(float(best[j]))}), {_steps_text(steps[i], steps[j])}",
                    (steps[i], steps[j]),
                )
            )


def _check_aux_share(df, th: Thresholds, findings):
    if not {"aux_total", "xent"} <= set(df.columns):
        return
    d = df.sort_values("step")
    aux = d["aux_total"].to_numpy(dtype=float)
    x = d["xent"].to_numpy(dtype=float)
    ratio = np.where(np.isfinite(aux) & np.isfinite(x) & (x > 0), aux / np.where(x > 0, x, 1.0), np.nan)
    findings.extend(
        _sustained_findings(
            d["step"].to_numpy(),
            ratio,
            np.isfinite(ratio) & (ratio > th.aux_ratio_max),
            th,
            "warning",
            "aux_loss_dominates",
            lambda w: (
                f"weighted MoE aux loss reaches {float(np.nanmax(w)):.0%} of the train xent "
                f"(limit {th.aux_ratio_max:.0%}); check the aux coefficients"
            ),
        )
    )


def _check_validation(df, th: Thresholds, findings):
    if "ppl" not in df.columns:
        return
    d = df.sort_values("step")
    d = d[np.isfinite(d["ppl"].to_numpy(dtype=float))]
    ppl = d["ppl"].to_numpy(dtype=float)
    steps = d["step"].to_numpy()
    if len(ppl) == 0:
        return
    best, best_i = ppl[0], 0
    plateaus = []  # (best index, last index without improvement)
    since = 0
    for i in range(1, len(ppl)):
        if ppl[i] < best * (1.0 - th.stall_min_rel_improvement):
            if since >= th.stall_patience:
                plateaus.append((best_i, i - 1))
            best, best_i, since = ppl[i], i, 0
        else:
            since += 1
    for bi, li in plateaus:
        findings.append(
            _finding(
                "info",
                "stalled_validation",
                f"validation ppl plateaued at {_fmt(ppl[bi])} for {li - bi} validations "
                f"({_steps_text(steps[bi], steps[li])}) before improving again",
                (steps[bi], steps[li]),
            )
        )
    if since >= th.stall_patience:
        worse = ppl[-1] / best
        extra = f"; last ppl {_fmt(ppl[-1])} is {worse:.2f}x the best (over-fitting?)" if worse > 1.1 else ""
        findings.append(
            _finding(
                "warning",
                "stalled_validation",
                f"validation ppl has not improved for {since} validations: best {_fmt(best)} at step "
                f"{int(steps[best_i])}, last at step {int(steps[-1])}{extra}",
                (steps[best_i], steps[-1]),
            )
        )


def _sustained_findings(steps, values, mask, th, severity, kind, describe, layer=None, expert=None, module=None):
    out = []
    for i, j in _runs(mask):
        if j - i + 1 >= th.window:
            ongoing = " (ongoing at the last logged step)" if j == len(mask) - 1 else ""
            out.append(
                _finding(
                    severity,
                    kind,
                    describe(values[i : j + 1]) + f", {_steps_text(steps[i], steps[j])}{ongoing}",
                    (steps[i], steps[j]),
                    layer=layer,
                    expert=expert,
                    module=module,
                )
            )
    return out


def _check_moe(df, th: Thresholds, findings):
    if "modality" in df.columns:
        tot = df[df["modality"].astype(str).str.lower() == "all"]
    else:
        tot = df
    if tot.empty:
        return
    tot = tot.sort_values(["layer", "step", "expert"])
    for layer, g in tot.groupby("layer", sort=True):
        n_exp = int(g["expert"].nunique())
        if "load_frac" in g.columns and n_exp > 1:
            limit = th.collapse_load_ratio / n_exp
            piv = g.pivot_table(index="step", columns="expert", values="load_frac", aggfunc="mean")
            steps = piv.index.to_numpy()
            for expert in piv.columns:
                v = piv[expert].to_numpy(dtype=float)
                findings.extend(
                    _sustained_findings(
                        steps,
                        v,
                        np.isfinite(v) & (v < limit),
                        th,
                        "error",
                        "expert_collapse",
                        lambda w, e=expert, L=layer, lim=limit, n=n_exp: (
                            f"layer {int(L)} expert {int(e)} is starved: load_frac "
                            f"{_fmt(float(np.nanmax(w)))} max (< {_fmt(lim)} = "
                            f"{th.collapse_load_ratio:g}/{n} experts)"
                        ),
                        layer=layer,
                        expert=expert,
                    )
                )
        lay = g.groupby("step", sort=True).first()
        steps = lay.index.to_numpy()
        if "entropy_norm" in lay.columns:
            v = lay["entropy_norm"].to_numpy(dtype=float)
            findings.extend(
                _sustained_findings(
                    steps,
                    v,
                    np.isfinite(v) & (v < th.collapse_entropy),
                    th,
                    "warning",
                    "routing_entropy_collapse",
                    lambda w, L=layer: (
                        f"layer {int(L)} routing entropy collapsed "
                        f"(entropy_norm {_fmt(float(np.nanmax(w)))} max "
                        f"< {th.collapse_entropy:g})"
                    ),
                    layer=layer,
                )
            )
        cv = lay["cv"].to_numpy(dtype=float) if "cv" in lay.columns else np.full(len(lay), np.nan)
        mom = (
            lay["max_over_mean"].to_numpy(dtype=float) if "max_over_mean" in lay.columns else np.full(len(lay), np.nan)
        )
        imb = (np.isfinite(cv) & (cv > th.cv_max)) | (np.isfinite(mom) & (mom > th.max_over_mean_max))
        both = np.stack([cv, mom], axis=1)
        findings.extend(
            _sustained_findings(
                steps,
                both,
                imb,
                th,
                "warning",
                "load_imbalance",
                lambda w, L=layer: (
                    f"layer {int(L)} load imbalance: cv up to {_fmt(float(np.nanmax(w[:, 0])))} "
                    f"(limit {th.cv_max:g}), max/mean up to {_fmt(float(np.nanmax(w[:, 1])))} "
                    f"(limit {th.max_over_mean_max:g})"
                ),
                layer=layer,
            )
        )
        if "overflow_frac" in lay.columns:
            v = lay["overflow_frac"].to_numpy(dtype=float)
            findings.extend(
                _sustained_findings(
                    steps,
                    v,
                    np.isfinite(v) & (v > th.overflow_max),
                    th,
                    "warning",
                    "capacity_overflow",
                    lambda w, L=layer: (
                        f"layer {int(L)} drops tokens: overflow_frac up to "
                        f"{_fmt(float(np.nanmax(w)))} (limit {th.overflow_max:g})"
                    ),
                    layer=layer,
                )
            )


def _check_grads(df, th: Thresholds, findings):
    import pandas as pd

    if df.empty:
        return
    piv = df.pivot_table(index="step", columns="module", values="grad_norm", aggfunc="mean", dropna=False)
    steps = piv.index.to_numpy()
    for module in piv.columns:
        v = piv[module].to_numpy(dtype=float)
        fin = np.isfinite(v)
        findings.extend(
            _sustained_findings(
                steps,
                v,
                fin & (v < th.grad_min),
                th,
                "warning",
                "vanishing_gradients",
                lambda w, m=module: f"grad norm of {m} vanished ({_fmt(float(np.nanmax(w)))} max < {th.grad_min:g})",
                module=str(module),
            )
        )
        findings.extend(
            _sustained_findings(
                steps,
                v,
                fin & (v > th.grad_max),
                th,
                "warning",
                "exploding_gradients",
                lambda w, m=module: f"grad norm of {m} exploded ({_fmt(float(np.nanmin(w)))} min > {th.grad_max:g})",
                module=str(module),
            )
        )
    if "total" in piv.columns:
        v = piv["total"].to_numpy(dtype=float)
        med = pd.Series(v).rolling(max(20, th.window), min_periods=th.window).median().shift(1).to_numpy()
        spike = np.isfinite(v) & np.isfinite(med) & (med > 0) & (v > th.grad_spike_factor * med)
        onset = spike & ~np.concatenate([[False], spike[:-1]])  # count each spike episode once
        idx = np.flatnonzero(onset)
        if len(idx):
            shown = ", ".join(f"{int(steps[i])} ({v[i] / med[i]:.0f}x)" for i in idx[:6])
            more = f" (+{len(idx) - 6} more)" if len(idx) > 6 else ""
            findings.append(
                _finding(
                    "info",
                    "gradient_spike",
                    f"{len(idx)} total grad-norm spike episode(s) above {th.grad_spike_factor:g}x the running "
                    f"median at step {shown}{more}",
                    (steps[idx[0]], steps[idx[-1]]),
                    module="total",
                )
            )


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def analyze_run(run_dir, **thresholds) -> dict[str, Any]:
    """Analyse ``run_dir`` and return the report dict (nothing is written).

    Keyword arguments override fields of :class:`Thresholds`.  Raises
    :class:`RunDataError` when the folder does not exist.
    """
    th = Thresholds.from_kwargs(**thresholds)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDataError(f"{run_dir}: run folder not found")
    report: dict[str, Any] = {
        "run_dir": str(run_dir),
        "thresholds": dataclasses.asdict(th),
        "files": {},
        "findings": [],
    }
    findings: list[dict] = []
    data = {name: _load(run_dir, name, report, findings) for name in FILES}

    for name, st in report["files"].items():
        if st["status"] != "missing":
            continue
        if name == TRAIN_STEPS:
            findings.append(
                _finding("warning", "missing_file", f"{run_dir / name}: not found (no training log to check)")
            )
        else:
            why = {
                VALID_SUMMARY: "no validation logged yet",
                MOE_STEPS: "dense run or MoE routing stats not logged",
                MOE_AUX: "dense run or aux losses not logged",
                GRAD_NORMS: "gradient norms not logged",
            }[name]
            findings.append(_finding("info", "missing_file", f"{name} not found ({why}); its checks skipped"))

    for name in FILES:
        if data[name] is not None and len(data[name][0]):
            _check_duplicates(name, data[name][0], findings)
    if data[TRAIN_STEPS] is not None:
        df, blank = data[TRAIN_STEPS]
        _check_non_finite(TRAIN_STEPS, df, blank, ["xent", "ppl", "accuracy", "lr", "aux_total"], findings)
        _check_throughput(df, th, findings)
        _check_divergence(df, th, findings)
        _check_aux_share(df, th, findings)
    if data[VALID_SUMMARY] is not None:
        df, blank = data[VALID_SUMMARY]
        _check_non_finite(VALID_SUMMARY, df, blank, ["xent", "ppl", "accuracy"], findings)
        _check_validation(df, th, findings)
    if data[MOE_STEPS] is not None:
        df, blank = data[MOE_STEPS]
        _check_non_finite(
            MOE_STEPS,
            df,
            blank,
            [
                "load",
                "load_frac",
                "importance",
                "importance_frac",
                "entropy_norm",
                "cv",
                "max_over_mean",
                "router_confidence",
                "overflow_frac",
            ],
            findings,
        )
        _check_moe(df, th, findings)
    if data[MOE_AUX] is not None:
        df, blank = data[MOE_AUX]
        _check_non_finite(MOE_AUX, df, blank, ["raw", "weighted"], findings, group_col="component")
    if data[GRAD_NORMS] is not None:
        df, blank = data[GRAD_NORMS]
        _check_non_finite(GRAD_NORMS, df, blank, ["grad_norm"], findings, group_col="module")
        _check_grads(df, th, findings)

    findings.sort(key=lambda f: (_SEV_RANK[f["severity"]], f["step_range"][0] if f["step_range"] else -1, f["kind"]))
    report["findings"] = findings
    counts = {s: sum(f["severity"] == s for f in findings) for s in SEVERITIES}
    report["counts"] = counts
    report["status"] = "error" if counts["error"] else ("warning" if counts["warning"] else "ok")
    return report


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text for a report from :func:`analyze_run`."""
    lines = [f"Anomaly report: {report['run_dir']}"]
    c = report["counts"]
    lines.append(
        f"Status: {report['status'].upper()}  ({c['error']} error(s), {c['warning']} warning(s), {c['info']} info)"
    )
    lines.append("Files:")
    for name, st in report["files"].items():
        if st["status"] == "ok":
            span = f", steps {st['steps'][0]}..{st['steps'][1]}" if "steps" in st else ""
            lines.append(f"  {name:<18} {st['rows']} rows{span}")
        else:
            lines.append(f"  {name:<18} {st['status']}")
    lines.append("Findings:" if report["findings"] else "Findings: none")
    for f in report["findings"]:
        where = []
        if f.get("layer") is not None:
            where.append(f"layer {f['layer']}")
        if f.get("expert") is not None:
            where.append(f"expert {f['expert']}")
        tag = f" [{', '.join(where)}]" if where else ""
        lines.append(f"  {f['severity'].upper():<7} {f['kind']}{tag}: {f['message']}")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], run_dir=None, json_path=None) -> list[Path]:
    """Write ``anomaly_report.txt``/``.json`` into the run folder (atomically)
    and, if given, the JSON also to ``json_path``.  Returns written paths."""
    run_dir = Path(run_dir if run_dir is not None else report["run_dir"])
    out = [
        atomic_write_text(run_dir / ANOMALY_REPORT_TXT, format_report(report)),
        atomic_write_json(run_dir / ANOMALY_REPORT_JSON, report),
    ]
    if json_path is not None:
        out.append(atomic_write_json(json_path, report))
    return out


def should_fail(report: dict[str, Any], fail_on: str) -> bool:
    """True when ``report`` has a finding at ``fail_on`` severity or worse."""
    if fail_on == "none":
        return False
    limit = _SEV_RANK[fail_on]
    return any(_SEV_RANK[f["severity"]] <= limit for f in report["findings"])


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Check a run folder's CSV logs for anomalies (NaNs, throughput drops, "
        "expert collapse, load imbalance, stalled validation, bad gradients)."
    )
    p.add_argument("run_dir", help="run folder, e.g. runs/<run>")
    p.add_argument("--json", dest="json_path", default=None, help="also write the JSON report to this path")
    p.add_argument(
        "--fail_on",
        choices=["error", "warning", "none"],
        default="none",
        help="exit with status 1 when findings of this severity (or worse) exist (default: none)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print the report")
    defaults = Thresholds()
    for f in fields(Thresholds):
        p.add_argument(
            f"--{f.name}",
            type=type(getattr(defaults, f.name)),
            default=None,
            help=f"threshold (default {getattr(defaults, f.name)})",
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    th = {f.name: getattr(args, f.name) for f in fields(Thresholds)}
    try:
        report = analyze_run(args.run_dir, **th)
        write_report(report, args.run_dir, args.json_path)
    except (RunDataError, CsvLogError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write report for {args.run_dir}: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        sys.stdout.write(format_report(report))
    return 1 if should_fail(report, args.fail_on) else 0
