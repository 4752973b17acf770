"""PNG plots of one or more run folders (``runs/<run>/``).

``plot_runs(run_dirs, out_dir=None)`` writes, for whatever CSVs exist:

* ``loss.png``          train/valid cross-entropy, perplexity (log scale) and accuracy,
                        all runs overlaid (solid = train, dashed + dots = valid)
* ``lr.png``            learning rate per step
* ``throughput.png``    source/target tokens per second
* ``valid_topk.png``    validation top-1/5/10 (only when ``valid_summary.csv`` has them)
* ``aux_losses.png``    one panel per MoE aux-loss component (raw value; coefficient in
                        the title), runs overlaid
* ``moe_occupancy.png`` per run: one panel per MoE layer, expert x step heatmap of
                        ``load_frac`` (modality ``all``)
* ``moe_modality.png``  per run: one panel per layer, modality x expert heatmap of the
                        per-modality ``load_frac`` averaged over the last ``window`` logs
* ``moe_balance.png``   per run: cv, max/mean, normalised routing entropy and overflow
                        per layer over time
* ``grad_norms.png``    per run: per-module gradient norms (log scale)

With several runs the per-run files get a ``_<run>`` suffix.  The default output
folder is ``<first run>/plots/``.  Figures are built with ``matplotlib.figure.Figure``
(no pyplot state, any backend) and saved atomically.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from onmt_moe.modality.vocab import OTHER
from onmt_moe.runfolder.csvlog import CsvLogError, atomic_write_bytes, read_csv
from onmt_moe.runfolder.layout import GRAD_NORMS, MOE_AUX, MOE_STEPS, STEP_LOGS, TRAIN_STEPS, VALID_SUMMARY

__all__ = ["plot_runs", "PlotError", "read_logs", "modality_expert_table"]

RUN_FILES = STEP_LOGS
_TEXT = {"modality", "component", "module"}
_MODALITY_ORDER = ["FORMULA", "NMR", "IR", "MS", OTHER]  # display order; other names follow, sorted


class PlotError(ValueError):
    """Bad input for plotting (one-line message naming the file/folder)."""


def _figure(nrows=1, ncols=1, w=5.2, h=3.6, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write_bytes(path, buf.getvalue())


def read_logs(run_dir, warnings: list | None = None) -> dict[str, object]:
    """Read a run folder's CSV logs (``runfolder.layout.STEP_LOGS``) into numeric DataFrames, keyed by
    file name (missing files are left out; unreadable ones are reported in ``warnings`` and left out)."""
    import pandas as pd

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PlotError(f"{run_dir}: run folder not found")
    data = {}
    for name in RUN_FILES:
        path = run_dir / name
        if not path.exists():
            continue
        try:
            df = read_csv(path, required_columns=["step"])
        except CsvLogError as exc:
            if warnings is not None:
                warnings.append(f"{exc} -- skipped")
            continue
        for c in df.columns:
            if c in _TEXT:
                df[c] = df[c].astype(str).str.strip()
            else:
                df[c] = pd.to_numeric(df[c], errors="coerce")
        df = df[df["step"].notna()].sort_values("step", kind="stable").reset_index(drop=True)
        if len(df):
            data[name] = df
    return data


def _labels(run_dirs: Sequence[Path]) -> list[str]:
    names = [p.resolve().name or str(p) for p in run_dirs]
    if len(set(names)) < len(names):
        names = [f"{p.resolve().parent.name}/{p.resolve().name}" for p in run_dirs]
    if len(set(names)) < len(names):
        names = [f"{n} #{i}" for i, n in enumerate(names)]
    return names


def _colors(n):
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _legend(ax, **kw):
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, **kw)


def _has(df, *cols):
    return df is not None and all(c in df.columns and df[c].notna().any() for c in cols)


# --------------------------------------------------------------------------- #
# overlaid run plots
# --------------------------------------------------------------------------- #
def _plot_loss(runs, labels, colors, path):
    if not any(
        _has(r.get(TRAIN_STEPS), "xent") or _has(r.get(VALID_SUMMARY), "xent") or _has(r.get(VALID_SUMMARY), "ppl")
        for r in runs
    ):
        return None
    fig, axes = _figure(1, 3, w=4.6)
    ax_x, ax_p, ax_a = axes[0]
    for r, lab, col in zip(runs, labels, colors):
        tr, va = r.get(TRAIN_STEPS), r.get(VALID_SUMMARY)
        for df, kind, style in ((tr, "train", dict(lw=1.2)), (va, "valid", dict(ls="--", marker="o", ms=3.5, lw=1.2))):
            if df is None:
                continue
            for ax, col_name in ((ax_x, "xent"), (ax_p, "ppl"), (ax_a, "accuracy")):
                if _has(df, col_name):
                    ax.plot(df["step"], df[col_name], color=col, label=f"{lab} ({kind})", **style)
    # mark logged steps whose training loss is NaN/Inf
    for r in runs:
        tr = r.get(TRAIN_STEPS)
        if tr is not None and "xent" in tr.columns:
            bad = tr.loc[~np.isfinite(tr["xent"].to_numpy(dtype=float)), "step"]
            for k, st in enumerate(bad):
                ax_x.axvline(
                    st, color="red", alpha=0.35, lw=1.0, ls=":", label="NaN/Inf train loss" if k == 0 else None
                )
    ax_x.set(title="Cross-entropy", xlabel="training step", ylabel="xent (nats / token)")
    ax_p.set(title="Perplexity (log scale)", xlabel="training step", ylabel="perplexity")
    ax_a.set(title="Token accuracy", xlabel="training step", ylabel="accuracy (%)")
    if ax_p.lines and all(np.nanmin(np.asarray(line.get_ydata(), float)) > 0 for line in ax_p.lines):
        from matplotlib.ticker import FuncFormatter

        ax_p.set_yscale("log")
        plain = FuncFormatter(lambda v, _: f"{v:g}")
        ax_p.yaxis.set_major_formatter(plain)
        ax_p.yaxis.set_minor_formatter(plain)
        ax_p.tick_params(axis="y", which="minor", labelsize=7)
    for ax in (ax_x, ax_p, ax_a):
        ax.grid(alpha=0.3)
    _legend(ax_p)
    if any(line.get_label() == "NaN/Inf train loss" for line in ax_x.lines):
        ax_x.legend(handles=[line for line in ax_x.lines if line.get_label() == "NaN/Inf train loss"][:1], fontsize=8)
    fig.suptitle("Training and validation loss")
    return _save(fig, path)


def _plot_simple(runs, labels, colors, path, fname, cols, title, ylabel, log=False):
    if not any(_has(r.get(fname), c) for r in runs for c in cols):
        return None
    fig, axes = _figure(1, 1, w=7.5, h=4.0)
    ax = axes[0, 0]
    styles = ["-", "--", ":"]
    for r, lab, color in zip(runs, labels, colors):
        df = r.get(fname)
        for c, ls in zip(cols, styles):
            if _has(df, c):
                suffix = f" {c}" if len(cols) > 1 else ""
                sparse = df[c].notna().sum() <= 30
                ax.plot(
                    df["step"],
                    df[c],
                    ls=ls,
                    color=color,
                    lw=1.2,
                    label=f"{lab}{suffix}",
                    marker="o" if sparse and fname == VALID_SUMMARY else None,
                    ms=3,
                )
    ax.set(title=title, xlabel="training step", ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.ticklabel_format(axis="x", style="plain") if not log else None
    _legend(ax)
    return _save(fig, path)


def _plot_aux(runs, labels, colors, path):
    comps = []
    for r in runs:
        df = r.get(MOE_AUX)
        if _has(df, "component", "raw"):
            comps += [c for c in df["component"].unique() if c not in comps]
    if not comps:
        return None
    ncols = min(3, len(comps))
    nrows = math.ceil(len(comps) / ncols)
    fig, axes = _figure(nrows, ncols, w=4.4, h=3.2)
    for i, comp in enumerate(comps):
        ax = axes[i // ncols, i % ncols]
        coefs = set()
        for r, lab, color in zip(runs, labels, colors):
            df = r.get(MOE_AUX)
            if df is None:
                continue
            d = df[df["component"] == comp]
            if d.empty:
                continue
            ax.plot(d["step"], d["raw"], color=color, lw=1.2, label=lab)
            if "coef" in d.columns:
                coefs |= {float(c) for c in d["coef"].dropna().unique()}
        if len(coefs) == 1:
            c0 = coefs.pop()
            coef = f" (coef {c0:g})" if c0 != 0 else " (coef 0: monitored only)"
        else:
            coef = " (coef varies)" if coefs else ""
        ax.set(title=f"{comp}{coef}", xlabel="training step", ylabel="raw value (mean over MoE layers)")
        ax.grid(alpha=0.3)
        if i == 0 and len(runs) > 1:
            _legend(ax)
    for j in range(len(comps), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    fig.suptitle("MoE auxiliary losses (weighted = raw x coef)")
    return _save(fig, path)


# --------------------------------------------------------------------------- #
# per-run MoE / gradient plots
# --------------------------------------------------------------------------- #
def _totals(moe):
    if "modality" in moe.columns:
        return moe[moe["modality"].str.lower() == "all"]
    return moe


def _edges(values):
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _plot_occupancy(moe, label, path):
    tot = _totals(moe)
    if not _has(tot, "layer", "expert", "load_frac"):
        return None
    layers = sorted(tot["layer"].dropna().unique())
    n_exp = int(tot["expert"].nunique())
    panel_h = max(1.4, 0.18 * n_exp + 0.7)
    fig, axes = _figure(len(layers), 1, w=9.0, h=panel_h if len(layers) > 1 else max(2.6, panel_h), sharex=True)
    # colour scale: 0 .. 3x the uniform share, so ordinary imbalance stays visible;
    # hotter cells saturate (the colorbar shows an arrow)
    observed = float(np.nanmax(tot["load_frac"])) if tot["load_frac"].notna().any() else 1.0
    cap = 3.0 / max(1, n_exp)
    vmax = min(observed, cap) if observed > 0 else 1.0
    extend = "max" if observed > cap else "neither"
    mesh = None
    for ax, layer in zip(axes[:, 0], layers):
        piv = tot[tot["layer"] == layer].pivot_table(index="expert", columns="step", values="load_frac", aggfunc="mean")
        experts = piv.index.to_numpy(dtype=float)
        mesh = ax.pcolormesh(
            _edges(piv.columns.to_numpy()),
            _edges(experts),
            piv.to_numpy(),
            cmap="viridis",
            vmin=0.0,
            vmax=max(vmax, 1e-9),
            shading="flat",
        )
        ticks = experts if len(experts) <= 8 else experts[:: max(1, int(math.ceil(len(experts) / 8)))]
        ax.set_yticks(ticks, [str(int(e)) for e in ticks])
        ax.set_ylabel(f"layer {int(layer)}\nexpert", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("training step")
    cb = fig.colorbar(
        mesh, ax=axes[:, 0].tolist(), shrink=min(0.9, 3.0 / len(layers) + 0.3), pad=0.01, extend=extend, aspect=25
    )
    cb.set_label(f"load_frac (uniform = {1 / n_exp:.3g})")
    fig.suptitle(f"Expert occupancy over training (modality all): {label}")
    return _save(fig, path)


def modality_expert_table(moe, window: int = 5):
    """Per layer, a modality x expert DataFrame of ``load_frac`` averaged over the
    last ``window`` logged steps (rows of modality ``all`` excluded).

    Returns ``(tables, last_steps)`` with ``tables`` a dict ``{layer: DataFrame}``
    (rows ordered FORMULA, NMR, IR, MS, OTHER, then others alphabetically)."""
    if not _has(moe, "modality", "layer", "expert", "load_frac"):
        return {}, np.array([])
    mod = moe[moe["modality"].str.lower() != "all"]
    if mod.empty:
        return {}, np.array([])
    steps = np.sort(mod["step"].unique())
    last = steps[-max(1, int(window)) :]
    mod = mod[mod["step"].isin(last)]
    present = list(mod["modality"].unique())
    order = [m for m in _MODALITY_ORDER if m in present] + sorted(m for m in present if m not in _MODALITY_ORDER)
    tables = {}
    for layer in sorted(mod["layer"].dropna().unique()):
        piv = mod[mod["layer"] == layer].pivot_table(
            index="modality", columns="expert", values="load_frac", aggfunc="mean"
        )
        piv = piv.reindex([m for m in order if m in piv.index])
        piv.columns = [int(c) for c in piv.columns]
        tables[int(layer)] = piv
    return tables, last


def _plot_modality(moe, label, path, window):
    tables, last = modality_expert_table(moe, window)
    if not tables:
        return None
    layers = list(tables)
    order = max((list(t.index) for t in tables.values()), key=len)
    mod = moe[moe["modality"].str.lower() != "all"]
    n_exp = int(mod["expert"].nunique())
    ncols = min(3, len(layers))
    nrows = math.ceil(len(layers) / ncols)
    panel_w = max(3.4, 0.55 * n_exp + 1.8)
    fig, axes = _figure(nrows, ncols, w=max(panel_w, 7.0 / ncols), h=max(2.9, 0.45 * len(order) + 1.9))
    vmax = max(float(np.nanmax(t.to_numpy(dtype=float))) for t in tables.values())
    vmax = vmax if math.isfinite(vmax) else 1.0
    im = None
    for i, layer in enumerate(layers):
        ax = axes[i // ncols, i % ncols]
        piv = tables[layer]
        arr = piv.to_numpy(dtype=float)
        im = ax.imshow(arr, cmap="magma", vmin=0.0, vmax=max(vmax, 1e-9), aspect="auto")
        ax.set_xticks(range(arr.shape[1]), [str(int(e)) for e in piv.columns])
        ax.set_yticks(range(arr.shape[0]), list(piv.index))
        ax.set(title=f"layer {int(layer)}", xlabel="expert")
        if arr.size <= 160:
            for (y, x), v in np.ndenumerate(arr):
                if np.isfinite(v):
                    ax.text(
                        x,
                        y,
                        f"{v:.2f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if v < 0.6 * vmax else "black",
                    )
    for j in range(len(layers), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9)
    cb.set_label("load_frac within the modality")
    span = f"steps {int(last[0])}-{int(last[-1])}" if len(last) > 1 else f"step {int(last[0])}"
    fig.suptitle(f"Modality -> expert routing: {label}\nmean over the last {len(last)} logs ({span})")
    return _save(fig, path)


def _plot_balance(moe, label, path):
    tot = _totals(moe)
    metrics = [
        (c, t)
        for c, t in (
            ("cv", "load CV (std/mean)"),
            ("max_over_mean", "max / mean load"),
            ("entropy_norm", "routing entropy / ln E"),
            ("overflow_frac", "overflow (dropped) fraction"),
        )
        if _has(tot, c)
    ]
    if not metrics or not _has(tot, "layer"):
        return None
    lay = tot.groupby(["layer", "step"], sort=True)[[c for c, _ in metrics]].mean().reset_index()
    layers = sorted(lay["layer"].unique())
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    fig, axes = _figure(1, len(metrics), w=4.0, h=3.3)
    for ax, (c, title) in zip(axes[0], metrics):
        for k, layer in enumerate(layers):
            d = lay[lay["layer"] == layer]
            ax.plot(d["step"], d[c], lw=1.1, color=cmap(k / max(1, len(layers) - 1) * 0.9), label=f"layer {int(layer)}")
        ax.set(title=title, xlabel="training step", ylabel=c)
        ax.grid(alpha=0.3)
    _legend(axes[0, 0])
    fig.suptitle(f"MoE load balance per layer: {label}")
    return _save(fig, path)


def _plot_grads(gn, label, path):
    if not _has(gn, "module", "grad_norm"):
        return None
    piv = gn.pivot_table(index="step", columns="module", values="grad_norm", aggfunc="mean")
    piv = piv.where(piv > 0)
    if not np.isfinite(piv.to_numpy(dtype=float)).any():
        return None
    fig, axes = _figure(1, 1, w=9.0, h=4.5)
    ax = axes[0, 0]
    modules = [m for m in piv.columns if m != "total"]
    many = len(modules) > 12
    group_colors = {
        "encoder": "tab:blue",
        "encoder experts": "tab:purple",
        "decoder": "tab:orange",
        "generator": "tab:green",
    }
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    seen = set()
    for k, m in enumerate(modules):
        if many:
            grp = m.split(".")[0]
            if ".experts." in m and ".shared." not in m:
                grp = f"{grp} experts"
            color = group_colors.get(grp, "tab:gray")
            lab = grp if grp not in seen else None
            seen.add(grp)
            ax.plot(piv.index, piv[m], lw=0.7, alpha=0.6, color=color, label=lab)
        else:
            ax.plot(piv.index, piv[m], lw=1.0, color=cmap(k % 20), label=m)
    if "total" in piv.columns:
        ax.plot(piv.index, piv["total"], lw=2.0, color="black", label="total")
    ax.set_yscale("log")
    ax.set(title=f"Gradient norms per module: {label}", xlabel="training step", ylabel="L2 grad norm")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #
def plot_runs(run_dirs, out_dir=None, window: int = 5, warnings: list | None = None) -> list[Path]:
    """Plot one or more run folders; returns the written PNG paths.

    Args:
        run_dirs: a run folder or a list of them (overlaid in the shared plots).
        out_dir: output folder (default ``<first run>/plots``).
        window: number of last logged steps averaged in the modality heatmap.
        warnings: list that collects one-line messages about skipped files
            (printed to stderr when None).

    Raises :class:`PlotError` when a folder is missing or nothing can be plotted.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = [Path(p) for p in run_dirs]
    if not run_dirs:
        raise PlotError("no run folder given")
    own_warnings = warnings is None
    warnings = [] if warnings is None else warnings
    runs = [read_logs(p, warnings) for p in run_dirs]
    if own_warnings:
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
    out_dir = Path(out_dir) if out_dir is not None else run_dirs[0] / "plots"
    labels = _labels(run_dirs)
    colors = _colors(len(runs))
    written: list[Path | None] = [
        _plot_loss(runs, labels, colors, out_dir / "loss.png"),
        _plot_simple(runs, labels, colors, out_dir / "lr.png", TRAIN_STEPS, ["lr"], "Learning rate", "learning rate"),
        _plot_simple(
            runs,
            labels,
            colors,
            out_dir / "throughput.png",
            TRAIN_STEPS,
            ["src_tok_per_s", "tgt_tok_per_s"],
            "Throughput (solid = source, dashed = target)",
            "tokens / s",
        ),
        _plot_simple(
            runs,
            labels,
            colors,
            out_dir / "valid_topk.png",
            VALID_SUMMARY,
            ["top1", "top5", "top10"],
            "Validation top-k accuracy (solid top-1, dashed top-5, dotted top-10)",
            "top-k accuracy",
        ),
        _plot_aux(runs, labels, colors, out_dir / "aux_losses.png"),
    ]
    for r, lab in zip(runs, labels):
        sfx = "" if len(runs) == 1 else "_" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in lab)
        moe = r.get(MOE_STEPS)
        if moe is not None:
            written.append(_plot_occupancy(moe, lab, out_dir / f"moe_occupancy{sfx}.png"))
            written.append(_plot_modality(moe, lab, out_dir / f"moe_modality{sfx}.png", max(1, window)))
            written.append(_plot_balance(moe, lab, out_dir / f"moe_balance{sfx}.png"))
        if r.get(GRAD_NORMS) is not None:
            written.append(_plot_grads(r[GRAD_NORMS], lab, out_dir / f"grad_norms{sfx}.png"))
    out = [p for p in written if p is not None]
    if not out:
        raise PlotError(f"nothing to plot in {', '.join(str(p) for p in run_dirs)} (expected {', '.join(RUN_FILES)})")
    return out


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Plot training curves and MoE routing of run folders.")
    p.add_argument("run_dirs", nargs="+", help="run folder(s), e.g. runs/<run>")
    p.add_argument("--out", default=None, help="output folder (default <first run>/plots)")
    p.add_argument(
        "--window", type=int, default=5, help="last N logged steps averaged in the modality heatmap (default 5)"
    )
    args = p.parse_args(argv)
    try:
        paths = plot_runs(args.run_dirs, args.out, window=args.window)
    except (PlotError, CsvLogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write plots: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
