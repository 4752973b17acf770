"""Partial-modality evaluation: how well does a model do when only some spectra are given?

From a tagged test source (``<FORMULA> … </FORMULA> <NMR> … </NMR> <IR> … </IR> …``)
every subset of the modalities present is built (singles, pairs, …, all) by
dropping the other segments (``drop``) or emptying them to ``<MISSING>``
(``token``). Each subset corpus is translated and scored; the results go to one
table (CSV + Markdown) and a heat map.

Rows whose source holds none of a subset's modalities are skipped and counted
(``n_skipped``); they are never translated as an empty source.

The pieces are separable for testing: :func:`restrict_line` and
:func:`build_subset` need no model, and :func:`evaluate_subsets` takes the
translator (and the trainer for per-subset models) as injectable functions.

Translator contract: ``translate_fn(src_path, out_path, run_info) -> None`` must
write ``n_best`` lines per source line (``onmt_translate -n_best`` format).
Trainer contract (``--train_each``): ``train_fn(run_name, data_dir) -> run_dir``
trains a model on ``data_dir/{src,tgt}-{train,val,test}.txt`` and returns a run
folder holding ``run.json`` (and usually ``scores.json`` on ``src-test.txt``).
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from onmt_moe.evaluation.files import read_lines
from onmt_moe.modality.tags import MISSING, has_data, split_segments
from onmt_moe.runfolder.layout import TRANSLATE_YAML, read_run_json, run_json_path
from onmt_moe.runs import runner

MODES = ("drop", "token")
SPLITS = ("train", "val", "test")
OWN = "own_model"  # column prefix for per-subset models (--train_each)


class BenchmarkError(ValueError):
    """Bad input; the message is one line naming the file (and line)."""


Subset = tuple[str, ...]


# ------------------------------------------------------------------ subsets
def subset_name(subset: Sequence[str]) -> str:
    """``("NMR", "IR")`` -> ``"NMR+IR"`` (table label)."""
    return "+".join(subset)


def subset_slug(subset: Sequence[str]) -> str:
    """File/run-name form: ``NMR-IR`` (tag names never hold ``-``)."""
    return "-".join(subset)


def _segments(tokens: Sequence[str], where: str):
    try:
        return split_segments(tokens)
    except ValueError as exc:
        raise BenchmarkError(f"{where}: malformed tagged line ({exc})") from None


def modalities_in(lines: Iterable[str], path: str = "<source>") -> list[str]:
    """Modalities holding real data somewhere in ``lines``, in order of first appearance."""
    seen: dict[str, None] = {}
    for i, line in enumerate(lines):
        for name, toks in _segments(line.split(), f"{path}:{i + 1}"):
            if name is not None and has_data(toks):
                seen.setdefault(name, None)
    return list(seen)


def all_subsets(modalities: Sequence[str], keep: Sequence[str] = ()) -> list[Subset]:
    """Every non-empty subset of ``modalities`` (minus ``keep``), singles first.

    Modalities in ``keep`` (e.g. FORMULA) are always given and not enumerated.
    """
    mods = [m for m in modalities if m not in keep]
    out: list[Subset] = []
    for r in range(1, len(mods) + 1):
        out.extend(itertools.combinations(mods, r))
    return out


def parse_subsets(spec: str, available: Sequence[str]) -> list[Subset]:
    """``"NMR+IR,IR+MS"`` -> ``[("NMR","IR"), ("IR","MS")]`` in the file's modality order."""
    out: list[Subset] = []
    order = {m: i for i, m in enumerate(available)}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        names = [n.strip() for n in item.split("+") if n.strip()]
        unknown = [n for n in names if n not in order]
        if unknown:
            raise BenchmarkError(
                f"--subsets: {item!r} names {', '.join(unknown)}, not among the modalities "
                f"of the test source ({', '.join(available) or 'none'})"
            )
        sub = tuple(sorted(set(names), key=order.get))
        if sub not in out:
            out.append(sub)
    if not out:
        raise BenchmarkError(f"--subsets: no subset in {spec!r}")
    return out


def restrict_line(
    tokens: Sequence[str], subset: Sequence[str], mode: str = "drop", keep: Sequence[str] = (), where: str = "<line>"
) -> list[str] | None:
    """The source line as the model sees it when only ``subset`` (+ ``keep``) is given.

    Segments outside the subset are removed (``drop``) or emptied to ``<MISSING>``
    (``token``); tokens outside any segment are kept. Returns None when the line
    holds real data for none of the subset's modalities.
    """
    if mode not in MODES:
        raise BenchmarkError(f"unknown mode {mode!r}; choose drop or token")
    allowed = set(subset) | set(keep)
    segs = _segments(tokens, where)
    if not any(name in subset and has_data(toks) for name, toks in segs):
        return None
    out: list[str] = []
    for name, toks in segs:
        if name is None:
            out.extend(toks)
        elif name in allowed:
            out.extend([f"<{name}>", *toks, f"</{name}>"])
        elif mode == "token":
            out.extend([f"<{name}>", MISSING, f"</{name}>"])
    return out


@dataclass
class SubsetData:
    subset: Subset
    src: list[str] = field(default_factory=list)
    tgt: list[str] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)  # 0-based rows of the full file
    n_skipped: int = 0


def build_subset(
    src_lines: Sequence[str],
    tgt_lines: Sequence[str] | None,
    subset: Sequence[str],
    mode: str = "drop",
    keep: Sequence[str] = (),
    path: str = "<source>",
) -> SubsetData:
    """Restrict every line; lines without any of the subset's modalities are skipped."""
    if tgt_lines is not None and len(tgt_lines) != len(src_lines):
        raise BenchmarkError(f"{path}: {len(src_lines)} source lines but {len(tgt_lines)} target lines")
    data = SubsetData(tuple(subset))
    for i, line in enumerate(src_lines):
        new = restrict_line(line.split(), subset, mode, keep, where=f"{path}:{i + 1}")
        if new is None:
            data.n_skipped += 1
            continue
        data.src.append(" ".join(new))
        if tgt_lines is not None:
            data.tgt.append(tgt_lines[i].strip())
        data.indices.append(i)
    return data


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for ln in lines:
            fh.write(ln + "\n")


def write_subset_corpora(data_dir, out_dir, subset: Sequence[str], mode: str, keep: Sequence[str] = ()) -> dict:
    """``data_dir/{src,tgt}-{train,val,test}.txt`` restricted to ``subset`` -> ``out_dir``.

    Returns per-split counts (also written to ``out_dir/subset_info.json``).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    info = {"subset": subset_name(subset), "mode": mode, "keep": list(keep), "source": str(data_dir)}
    for split in SPLITS:
        sp, tp = data_dir / f"src-{split}.txt", data_dir / f"tgt-{split}.txt"
        d = build_subset(read_lines(sp), read_lines(tp), subset, mode, keep, path=str(sp))
        if not d.src:
            raise BenchmarkError(f"{sp}: no line holds any of {subset_name(subset)}")
        _write_lines(out_dir / f"src-{split}.txt", d.src)
        _write_lines(out_dir / f"tgt-{split}.txt", d.tgt)
        info[split] = {"n": len(d.src), "n_skipped": d.n_skipped}
    with open(out_dir / "subset_info.json", "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2)
    return info


# ------------------------------------------------------------- evaluation
def topk_columns(n_best: int) -> list[int]:
    ks = [k for k in (1, 5, 10) if k <= n_best]
    if n_best not in ks and n_best < 10:
        ks.append(n_best)
    return ks


def _scores_to_row(prefix: str, scores: dict | None, ks: Sequence[int]) -> dict[str, object]:
    row: dict[str, object] = {}
    topk = (scores or {}).get("topk") or {}
    for k in ks:
        row[f"{prefix}top-{k}"] = topk.get(str(k))
    row[f"{prefix}invalid_rate"] = (scores or {}).get("invalid_rate")
    return row


def evaluate_subsets(
    src_lines: Sequence[str],
    tgt_lines: Sequence[str],
    subsets: Sequence[Subset],
    out_dir,
    n_best: int,
    translate_fn: Callable[[str, str, dict], None],
    run_info: dict | None = None,
    mode: str = "drop",
    keep: Sequence[str] = (),
    score_fn: Callable[..., dict] | None = None,
    src_path: str = "<source>",
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Build, translate and score every subset; return one table row per subset.

    Files per subset go to ``out_dir/subsets/<NMR-IR>/`` (src.txt, tgt.txt,
    pred.txt, scores.json, ranks.csv).
    """
    if score_fn is None:
        from onmt_moe.evaluation.scoring import score_files as score_fn
    out_dir = Path(out_dir)
    ks = topk_columns(n_best)
    rows = []
    for sub in subsets:
        d = build_subset(src_lines, tgt_lines, sub, mode, keep, path=src_path)
        row: dict[str, object] = {
            "subset": subset_name(sub),
            "n_modalities": len(sub),
            "n": len(d.src),
            "n_skipped": d.n_skipped,
        }
        if not d.src:
            log(f"[modality] {row['subset']}: no test line holds these modalities; skipped")
            row.update(_scores_to_row("", None, ks))
            row["decode_s"] = None
            rows.append(row)
            continue
        sd = out_dir / "subsets" / subset_slug(sub)
        _write_lines(sd / "src.txt", d.src)
        _write_lines(sd / "tgt.txt", d.tgt)
        log(f"[modality] {row['subset']}: translating {len(d.src)} lines ({d.n_skipped} skipped)")
        t0 = time.time()
        translate_fn(str(sd / "src.txt"), str(sd / "pred.txt"), dict(run_info or {}))
        decode_s = round(time.time() - t0, 3)
        scores = score_fn(
            str(sd / "pred.txt"),
            str(sd / "tgt.txt"),
            n_best,
            src_path=str(sd / "src.txt"),
            out_json=str(sd / "scores.json"),
            ranks_csv=str(sd / "ranks.csv"),
        )
        row.update(_scores_to_row("", scores, ks))
        row["decode_s"] = decode_s
        rows.append(row)
    return rows


def add_own_model_columns(
    rows: list[dict],
    subsets: Sequence[Subset],
    data_root,
    n_best: int,
    train_fn: Callable[[str, str], str],
    run_name: str,
    data_dir,
    translate_fn: Callable[[str, str, dict], None],
    mode: str = "drop",
    keep: Sequence[str] = (),
    score_fn=None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """``--train_each``: train one model per subset and add its ``own_model:*`` columns."""
    if score_fn is None:
        from onmt_moe.evaluation.scoring import score_files as score_fn
    ks = topk_columns(n_best)
    by_name = {r["subset"]: r for r in rows}
    for sub in subsets:
        row = by_name[subset_name(sub)]
        sub_dir = Path(data_root) / subset_slug(sub)
        info = write_subset_corpora(data_dir, sub_dir, sub, mode, keep)
        name = f"{run_name}_{subset_slug(sub)}"
        log(f"[modality] training {name} on {sub_dir} (train {info['train']['n']} lines)")
        new_run = Path(train_fn(name, str(sub_dir)))
        scores = None
        sj = new_run / "scores.json"
        if sj.is_file():
            scores = json.loads(sj.read_text())
            if scores.get("n") not in (None, info["test"]["n"]):
                scores = None  # scored on something else: redo below
        if scores is None:
            rinfo = dict(read_run_json(new_run), run_dir=str(new_run))
            src, tgt = sub_dir / "src-test.txt", sub_dir / "tgt-test.txt"
            pred = sub_dir / "pred-test.txt"
            translate_fn(str(src), str(pred), rinfo)
            scores = score_fn(str(pred), str(tgt), n_best, src_path=str(src), out_json=str(sub_dir / "scores.json"))
        row[f"{OWN}:run"] = name
        row[f"{OWN}:n"] = scores.get("n")
        row.update(_scores_to_row(f"{OWN}:", scores, ks))
    return rows


# ------------------------------------------------------------------ output
def _fmt_pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def _csv_cell(col: str, v):
    if v is None:
        return ""
    if ("top-" in col or "invalid" in col) and isinstance(v, (int, float)):
        return f"{float(v):.6f}"
    return v


def table_columns(rows: Sequence[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def write_table(rows: Sequence[dict], out_dir, title: str) -> tuple[Path, Path]:
    """``modality_table.csv`` (fractions) and ``modality_table.md`` (percent)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = table_columns(rows)
    csv_path, md_path = out_dir / "modality_table.csv", out_dir / "modality_table.md"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_csv_cell(c, r.get(c)) for c in cols])
    md = [
        f"# {title}",
        "",
        "Top-k accuracy and invalid rate in %; n = scored test lines, "
        "skipped = lines holding none of the subset's modalities.",
        "",
    ]
    md.append("| " + " | ".join(cols) + " |")
    md.append("|" + "|".join("---" if c in ("subset", f"{OWN}:run") else "---:" for c in cols) + "|")
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if "top-" in c or "invalid" in c:
                cells.append(_fmt_pct(v))
            else:
                cells.append("-" if v is None else str(v))
        md.append("| " + " | ".join(cells) + " |")
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return csv_path, md_path


def plot_heatmap(rows: Sequence[dict], path, title: str) -> Path | None:
    """Subsets (rows) x top-k columns (and own-model columns), annotated, in %."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cols = [c for c in table_columns(rows) if "top-" in c]
    if not rows or not cols:
        return None
    vals = np.array([[np.nan if r.get(c) is None else 100 * r[c] for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 3, 0.45 * len(rows) + 1.8))
    im = ax.imshow(vals, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cols)), [c.replace(f"{OWN}:", "own ") for c in cols], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [f"{r['subset']} (n={r.get('n')})" for r in rows])
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            txt = "-" if np.isnan(vals[i, j]) else f"{vals[i, j]:.1f}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                color="white" if np.isnan(vals[i, j]) or vals[i, j] < 60 else "black",
                fontsize=8,
            )
    ax.set_xlabel("metric")
    ax.set_ylabel("modalities given")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# --------------------------------------------------------------- run folders
def _resolve(p, run_dir: Path) -> Path:
    q = Path(p)
    if q.is_absolute() or q.exists():
        return q
    alt = run_dir / q
    return alt if alt.exists() else q


def onmt_translate(src_path: str, out_path: str, run_info: dict) -> None:
    """Default translator: ``onmt_translate -config <run>/translate.yaml -src … -output …``."""
    run_dir = Path(run_info["run_dir"])
    cfg = run_dir / TRANSLATE_YAML
    if not cfg.is_file():
        raise BenchmarkError(f"{cfg}: no such file (needed to translate)")
    from onmt_moe import _hook
    from onmt_moe.runs.runner import onmt_command

    cmd = onmt_command("onmt_translate") + ["-config", str(cfg), "-src", src_path, "-output", out_path]
    env = dict(os.environ)
    env.setdefault("ONMT_MOE_AUTOLOAD", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    log_path = Path(out_path).with_suffix(".log")
    with open(log_path, "w", encoding="utf-8") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if rc != 0:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        tail = text.strip().splitlines()[-1:] or [""]
        hint = f" — {_hook.PLUGIN_MISSING_HINT}" if _hook.plugin_missing(text) else ""
        raise BenchmarkError(f"onmt_translate exited with {rc} on {src_path} (log {log_path}): {tail[0][:200]}{hint}")


def start_training(config: str, runs_dir: str, extra_sets: Sequence[str] = ()) -> Callable[[str, str], str]:
    """Trainer via :func:`runner.launch` (one run per subset, in this process)."""

    def train(run_name: str, data_dir: str) -> str:
        job = runner.Launch(config, os.path.join(runs_dir, run_name), data_dir, extra_sets, quiet=False)
        if not runner.launch(job):
            raise BenchmarkError(f"training failed for {run_name}")
        return str(Path(runs_dir) / run_name)

    return train


def run_benchmark(
    run_dir,
    subsets: str | None = None,
    mode: str | None = None,
    keep: Sequence[str] = (),
    translate_fn=None,
    score_fn=None,
    train_fn=None,
    log: Callable[[str], None] = print,
) -> dict:
    """The whole ``benchmark/modality_benchmark.py`` job for one run folder.

    ``train_fn`` (not None) switches on the per-subset models. Returns
    ``{"rows": [...], "csv": path, "md": path, "png": path}``.
    """
    run_dir = Path(run_dir)
    info = dict(read_run_json(run_dir), run_dir=str(run_dir))
    for key in ("src_test", "tgt_test"):
        if key not in info:
            raise BenchmarkError(f"{run_json_path(run_dir)}: key {key!r} missing")
    src_path = _resolve(info["src_test"], run_dir)
    tgt_path = _resolve(info["tgt_test"], run_dir)
    n_best = int(info.get("n_best", 10))
    mode = mode or info.get("missing_mode", "drop")
    if mode not in MODES:
        raise BenchmarkError(f"missing mode {mode!r}: choose drop or token")
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise BenchmarkError(f"{src_path}: {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}")
    mods = modalities_in(src_lines, str(src_path))
    if not mods:
        raise BenchmarkError(
            f"{src_path}: no tagged modality segment (<NMR> … </NMR>); "
            "the modality benchmark needs the tagged source format"
        )
    unknown_keep = [k for k in keep if k not in mods]
    if unknown_keep:
        log(f"[modality] note: --keep {', '.join(unknown_keep)} not in the test source")
    subs = parse_subsets(subsets, mods) if subsets else all_subsets(mods, keep)
    if not subs:
        raise BenchmarkError(f"{src_path}: no modality left to enumerate besides --keep {', '.join(keep)}")
    if score_fn is None:  # score like the run itself: SMILES or WURCS (run.json "kind")
        from onmt_moe.evaluation.scoring import score_files

        score_fn = functools.partial(score_files, kind=info.get("kind", "smiles"))
    out_dir = run_dir / "modality"
    rows = evaluate_subsets(
        src_lines,
        tgt_lines,
        subs,
        out_dir,
        n_best,
        translate_fn or onmt_translate,
        run_info=info,
        mode=mode,
        keep=keep,
        score_fn=score_fn,
        src_path=str(src_path),
        log=log,
    )
    if train_fn is not None:
        data_dir = info.get("data_dir") or str(src_path.parent)
        add_own_model_columns(
            rows,
            subs,
            out_dir / "data",
            n_best,
            train_fn,
            info.get("run_name", run_dir.name),
            _resolve(data_dir, run_dir),
            translate_fn or onmt_translate,
            mode=mode,
            keep=keep,
            score_fn=score_fn,
            log=log,
        )
    title = f"{info.get('run_name', run_dir.name)}: top-k by modality subset (missing = {mode})"
    csv_path, md_path = write_table(rows, out_dir, title)
    png = plot_heatmap(rows, out_dir / "modality_heatmap.png", title)
    with open(out_dir / "modality.json", "w", encoding="utf-8") as fh:
        json.dump(
            {"run": str(run_dir), "mode": mode, "keep": list(keep), "n_best": n_best, "modalities": mods, "rows": rows},
            fh,
            indent=2,
        )
    return {"rows": rows, "csv": csv_path, "md": md_path, "png": png}
