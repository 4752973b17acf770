"""The analysis tools on a run folder in one command: ``scripts/analyze_model.py --run RUN_DIR``
(``make analyze RUN=RUN_DIR [PROFILE=1]``).

It picks the run's last checkpoint (:func:`onmt_moe.runfolder.checkpoints`, loaded by the one safe
loader) and writes into ``RUN_DIR/analysis/``:

* ``params.csv``, ``params.txt``: the parameter table, MoE active parameters per token included
  (:func:`onmt_moe.diagnostics.analysis.parameter_table`);
* ``gradients.csv``, ``gradients.txt``: one row per module group of ``grad_norms.csv`` (logged while
  training with ``moe_grad_norm_every: N``): steps logged, min / median / max over the finite norms,
  the last norm, and how many were non-finite or above ``grad_max`` (exploding; the anomaly report's
  threshold by default); ``gradient_flags.csv``: each of those (step, module) rows. A run that logged
  no norms gets only ``gradients.txt``, saying so and naming the option;
* ``profile.csv``, ``profile.txt`` with ``--profile``: per-module forward/backward time on a random
  batch of the checkpoint's vocabularies (:func:`onmt_moe.diagnostics.analysis.profile_onmt_model`);
* ``summary.txt``: the short summary it prints.

A missing run folder, a folder without checkpoint, an unreadable checkpoint or CSV are a
:class:`RunAnalysisError`: one line naming the path (``run_main`` prints it and returns 2).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from onmt_moe.diagnostics.analysis import (
    PROFILE_COLUMNS,
    ModelLoadError,
    ProfileOptions,
    exception_line,
    format_table,
    load_onmt_model,
    parameter_table,
    profile_onmt_model,
    profile_options,
    table_columns,
)
from onmt_moe.diagnostics.anomaly import Thresholds
from onmt_moe.runfolder.checkpoints import checkpoint_step, checkpoints
from onmt_moe.runfolder.csvlog import CsvLogError, atomic_write_text, read_csv
from onmt_moe.runfolder.layout import ANALYSIS_DIR, GRAD_COLUMNS, GRAD_NORMS

GRAD_OPTION = "moe_grad_norm_every"
# one row per module group of grad_norms.csv; min/median/max over the finite norms
SUMMARY_COLUMNS = ["module", "steps", "first_step", "last_step", "min", "median", "max", "last"]
SUMMARY_COLUMNS += ["nonfinite", "exploding"]
# everything it writes into RUN_DIR/analysis/ (what a run does not write again is removed: stale)
ANALYSIS_FILES = ("params.csv", "params.txt", "gradients.csv", "gradients.txt", "gradient_flags.csv")
ANALYSIS_FILES += ("profile.csv", "profile.txt", "summary.txt")


class RunAnalysisError(ValueError):
    """The run folder cannot be analysed: one line naming the path."""


# ----------------------------------------------------------------------------- inputs
def last_checkpoint(run_dir: str) -> str:
    """The newest ``model_step_N.pt`` of ``run_dir``."""
    if not os.path.isdir(run_dir):
        raise RunAnalysisError(f"{run_dir}: no such run folder")
    found = checkpoints(run_dir)
    if not found:
        raise RunAnalysisError(f"{run_dir}: no checkpoint (model_step_N.pt) in this run folder")
    return found[-1]


def read_grad_norms(run_dir: str):
    """``grad_norms.csv`` as a DataFrame, or None when the run logged none."""
    path = os.path.join(run_dir, GRAD_NORMS)
    if not os.path.exists(path):
        return None
    try:
        df = read_csv(path, required_columns=GRAD_COLUMNS)
    except CsvLogError as exc:
        raise RunAnalysisError(str(exc)) from None
    norms = df["grad_norm"]
    if norms.dtype == object:  # pandas reads nan/inf as floats: anything left as text is not a number
        bad = norms[~norms.map(_is_number)]
        if len(bad):
            row = int(bad.index[0]) + 2  # + header, 1-based
            raise RunAnalysisError(f"{path}:{row}: grad_norm is not a number ({bad.iloc[0]!r})")
    return df.astype({"grad_norm": float, "module": str})


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------- the gradient summary
def gradient_summary(df, grad_max: float):
    """``(summary, flags)`` of a ``grad_norms.csv`` frame: one row per module group (columns
    :data:`SUMMARY_COLUMNS`, ``total`` first) and one per flagged row (``step, module, grad_norm, why``)."""
    import pandas as pd

    v = df["grad_norm"].to_numpy(dtype=float)
    finite = np.isfinite(v)
    df = df.assign(nonfinite=~finite, exploding=finite & (v > grad_max))
    rows = [_module_row(name, g) for name, g in df.groupby("module", sort=False)]
    rows.sort(key=lambda r: r["module"] != "total")  # stable: the rest in the order logged
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    flags = df[df["nonfinite"] | df["exploding"]].sort_values(["step", "module"], kind="stable")
    why = np.where(flags["nonfinite"], "non-finite", f"above {grad_max:g}")
    flags = flags.assign(why=why)[["step", "module", "grad_norm", "why"]].reset_index(drop=True)
    return summary, flags


def _module_row(name: str, g) -> dict:
    g = g.sort_values("step", kind="stable")
    fin = g.loc[~g["nonfinite"], "grad_norm"]
    nan = float("nan")  # min/median/max of a group whose norms are all non-finite
    return {
        "module": name,
        "steps": len(g),
        "first_step": int(g["step"].iloc[0]),
        "last_step": int(g["step"].iloc[-1]),
        "min": float(fin.min()) if len(fin) else nan,
        "median": float(fin.median()) if len(fin) else nan,
        "max": float(fin.max()) if len(fin) else nan,
        "last": float(g["grad_norm"].iloc[-1]),
        "nonfinite": int(g["nonfinite"].sum()),
        "exploding": int(g["exploding"].sum()),
    }


def _g(v) -> str:
    return f"{v:.4g}"


def _flag_line(flags, why_prefix: str, label: str) -> str:
    sel = flags[flags["why"].str.startswith(why_prefix)]
    if not len(sel):
        return f"{label}: none"
    steps = [f"{int(s)} ({', '.join(g['module'])})" for s, g in sel.groupby("step", sort=True)]
    more = f" (+{len(steps) - 8} more steps)" if len(steps) > 8 else ""
    return f"{label} at step {'; '.join(steps[:8])}{more}"


def gradient_lines(summary, flags, grad_max: float, n_steps: int) -> list[str]:
    """The short account of the gradient summary (printed and at the top of ``gradients.txt``);
    ``n_steps``: the number of distinct steps logged."""
    first, last = int(summary["first_step"].min()), int(summary["last_step"].max())
    out = [f"gradients: {len(summary)} module groups, {n_steps} logged steps ({first}..{last})"]
    total = summary[summary["module"] == "total"]
    if len(total):
        t = total.iloc[0]
        out.append(
            f"  total norm: min {_g(t['min'])}  median {_g(t['median'])}  max {_g(t['max'])}  last {_g(t['last'])}"
        )
    out.append("  " + _flag_line(flags, "non-finite", "non-finite"))
    out.append("  " + _flag_line(flags, "above", f"exploding (> {grad_max:g})"))
    return out


def no_gradient_lines(empty: bool) -> list[str]:
    what = f"{GRAD_NORMS} has no rows yet" if empty else f"no {GRAD_NORMS}: the run logged no gradient norms"
    return [
        f"gradients: {what}; set {GRAD_OPTION}: N to log them every N steps (start_training --set {GRAD_OPTION}=50)"
    ]


def _grad_table_text(summary) -> str:
    shown = summary.copy()
    for c in ("min", "median", "max", "last"):
        shown[c] = shown[c].map(lambda v: "-" if np.isnan(v) else _g(v))  # keep small norms readable
    return format_table(shown, SUMMARY_COLUMNS, max_rows=10_000)


# ----------------------------------------------------------------------------- writing
def _write(out_dir: str, name: str, text: str, written: list[str]) -> None:
    atomic_write_text(os.path.join(out_dir, name), text)
    written.append(name)


def _gradients(df, out_dir: str, grad_max: float, written: list[str]) -> list[str]:
    if df is None or df.empty:
        lines = no_gradient_lines(empty=df is not None)
        _write(out_dir, "gradients.txt", "\n".join(lines) + "\n", written)
        return lines
    summary, flags = gradient_summary(df, grad_max)
    lines = gradient_lines(summary, flags, grad_max, df["step"].nunique())
    _write(out_dir, "gradients.csv", summary.to_csv(index=False), written)
    _write(out_dir, "gradient_flags.csv", flags.to_csv(index=False), written)
    _write(out_dir, "gradients.txt", "\n".join(lines) + "\n\n" + _grad_table_text(summary) + "\n", written)
    return lines


def _parameters(model, depth: int, out_dir: str, written: list[str]) -> list[str]:
    table = parameter_table(model, depth=depth)
    _write(out_dir, "params.csv", table.to_csv(index=False), written)
    _write(out_dir, "params.txt", format_table(table, table_columns(table), max_rows=10_000) + "\n", written)
    summ = table[table["kind"] == "summary"].set_index("name")
    moe = table[table["kind"] == "moe"]
    line = (
        f"parameters: total {int(summ.loc['total', 'params']):,}, "
        f"active per token {int(round(summ.loc['active_per_token', 'active_params'])):,}"
    )
    if len(moe):
        blocks = f"{len(moe)} MoE block" + ("s" if len(moe) > 1 else "")
        line += f" ({blocks}, top-{int(moe['top_k'].iloc[0])} of {int(moe['num_experts'].iloc[0])})"
    return [line]


def _profile(model, vocabs, opts: ProfileOptions, out_dir: str, written: list[str]) -> list[str]:
    prof = profile_onmt_model(model, vocabs, opts)
    _write(out_dir, "profile.csv", prof.to_csv(index=False), written)
    _write(out_dir, "profile.txt", opts.header() + "\n" + format_table(prof, PROFILE_COLUMNS) + "\n", written)
    root = prof[prof["module"] == "model"].iloc[0]
    line = f"profile: forward {root['forward_ms']:.1f} ms"
    if opts.backward:
        line += f", backward {root['backward_ms']:.1f} ms"
    top = prof[prof["depth"] == 1].sort_values("forward_ms", ascending=False)
    if len(top):
        line += f"; slowest top-level module: {top.iloc[0]['module']} ({top.iloc[0]['forward_ms']:.1f} ms forward)"
    return [line + f" (batch {opts.batch_size} x src {opts.src_len} x tgt {opts.tgt_len})"]


def analyze_run(
    run_dir: str,
    depth: int = 3,
    grad_max: float | None = None,
    profile: ProfileOptions | None = None,
    trust: bool = False,
) -> list[str]:
    """Analyse ``run_dir`` (see the module docstring); returns the summary lines (also ``summary.txt``).
    ``profile``: time the modules with these options (None: no profile); ``trust``: ``--trust_checkpoint``."""
    grad_max = Thresholds().grad_max if grad_max is None else grad_max
    ckpt = last_checkpoint(run_dir)
    grads = read_grad_norms(run_dir)  # an unreadable CSV fails before the (slower) model load
    try:
        model, vocabs, model_opt, _ = load_onmt_model(ckpt, trust=trust)
    except ModelLoadError as exc:
        raise RunAnalysisError(str(exc)) from None
    out_dir = os.path.join(run_dir, ANALYSIS_DIR)
    enc = getattr(model_opt, "encoder_type", "?")
    lines = [f"run: {run_dir}  checkpoint: {os.path.basename(ckpt)} (step {checkpoint_step(ckpt)}, {enc})"]
    written: list[str] = []
    try:
        os.makedirs(out_dir, exist_ok=True)
        lines += _parameters(model, depth, out_dir, written)
        lines += _gradients(grads, out_dir, grad_max, written)
        if profile is not None:
            lines += _profile(model, vocabs, profile, out_dir, written)
        lines.append(f"wrote {out_dir}{os.sep}: {' '.join(written + ['summary.txt'])}")
        _write(out_dir, "summary.txt", "\n".join(lines) + "\n", written)
        _remove_stale(out_dir, written)
    except OSError as exc:
        raise RunAnalysisError(f"{out_dir}: cannot write ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - profiling a foreign model: report in one line
        raise RunAnalysisError(f"{ckpt}: analysis failed ({exception_line(exc)})") from None
    return lines


def _remove_stale(out_dir: str, written: list[str]) -> None:
    """Remove the files of an earlier analysis that this one did not write (a profile of an older
    checkpoint, a gradient summary of a log since removed); other files are left alone."""
    for name in set(ANALYSIS_FILES) - set(written):
        path = os.path.join(out_dir, name)
        if os.path.isfile(path):
            os.remove(path)


def run_main(args) -> int:
    """``analyze_model.py --run RUN_DIR`` with the parsed ``args``: print the summary, 0; or one
    ``error:`` line and 2."""
    profile = profile_options(args) if args.profile else None
    try:
        lines = analyze_run(args.run, args.depth, args.grad_max, profile, args.trust_checkpoint)
    except RunAnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


__all__ = [
    "ANALYSIS_FILES",
    "RunAnalysisError",
    "last_checkpoint",
    "read_grad_norms",
    "gradient_summary",
    "gradient_lines",
    "analyze_run",
    "run_main",
]
