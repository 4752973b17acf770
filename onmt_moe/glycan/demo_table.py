"""The table of ``make demo-glycan`` (issue 33): every task of a finished multi-task run, the model's
score beside a baseline that needs no model and beside chance. Plain Python + the glycan scorers.

The run folder (``runs/glycan_demo``) gives the model's scores (``scores.json``, ``{"tasks": …}``;
``retrieval.json``) and, through ``run.json``'s ``data_dir``, the corpus it was trained on:
``<data_dir>/<task>/{src,tgt}-{train,test}.txt`` and ``tasks.json`` beside ``data_dir`` (each task's
scorer kind and ``target_prefix``, the task token that starts every *training* target and is dropped
here). Baselines are fitted on the **train** split and scored on the **test** split with the scorer
the run used (:func:`onmt_moe.evaluation.scoring.score_files`, same kind, same source file); their
predictions and scores are kept in ``<run>/baselines/<task>/<name>.{txt,scores.json}``.

* ``most_frequent`` (structure; also alignment): every test row gets the most frequent training
  target (for top-k the k most frequent; ties: first in the training file).
* ``most_frequent_description`` (text): the same for the text task.
* ``mean_spectrum`` (spectrum): one spectrum for every structure — the most frequent training
  precursor tokens, then the M m/z bins found in most training spectra (M = the median peak count of a
  training spectrum; ties: lower m/z), each with its mean intensity bin, rounded.
* ``nearest_structure`` (spectrum, text, alignment: every task with a ``<WURCS>`` segment in its
  source): the training target of the nearest training structure — the same WURCS tokens when a
  training row has them, else the highest multiset Jaccard similarity of the WURCS tokens (shared
  tokens / tokens of either; ties: first in the training file).
* ``nearest_spectrum`` (structure: a ``<MS>`` source, a WURCS target): the training target of the
  training spectrum most like the test one — among the training rows with the same precursor tokens
  (all rows if none has them), the highest cosine of the peak intensities (:func:`.spectrum_score.compare`;
  ties: first in the training file). Under the library split (new spectra of trained structures) it is
  the closed-set look-up a model has to beat; de novo it can never be exact.
* retrieval and log-likelihood identification (``retrieval.json``): ``random`` — a random ranking
  of the library; its expected R@10 is min(10, L) / L (top-1 1 / candidates).

``baseline`` is the strongest baseline of a row (every metric is higher-is-better), ``baseline_name``
names it; each baseline's own value is in its ``baseline_<name>`` column of the CSV (with ``machine``
and ``run_dir``). ``chance`` is
1 / D for top-1 (D distinct training targets; min(k, D) / D for top-k; nominal where test
structures are not among the training ones) and the random ranking's value for retrieval; empty
where no chance level applies (BLEU, chrF, F1, cosine, field accuracy).
"""

from __future__ import annotations

import csv
import json
import os
import statistics
from collections import Counter
from collections.abc import Sequence

from onmt_moe.modality.tags import split_segments

from .spectrum_score import compare, read_spectrum

BASELINES = (
    "most_frequent",
    "most_frequent_description",
    "mean_spectrum",
    "nearest_structure",
    "nearest_spectrum",
    "random",
)
COLUMNS = (
    "task",
    "metric",
    "ours",
    "baseline",
    "baseline_name",
    "chance",
    "n",
    *(f"baseline_{b}" for b in BASELINES),
    "machine",
    "run_dir",
)
POINTS = frozenset({"bleu", "chrf"})  # 0-100; every other metric is a fraction
RETRIEVAL_K = 10


class DemoTableError(ValueError):
    """A run folder the table cannot be built from, in one line."""


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError:
        raise DemoTableError(f"{path}: not found") from None
    except ValueError as exc:
        raise DemoTableError(f"{path}: not valid JSON ({exc})") from None


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except OSError:
        raise DemoTableError(f"{path}: not found") from None


def strip_prefix(line: str, prefix: str) -> str:
    """A training target without its leading task token ``prefix`` (single-spaced)."""
    toks = line.split()
    return " ".join(toks[1:] if prefix and toks[:1] == [prefix] else toks)


def most_frequent(lines: Sequence[str], k: int = 1) -> list[str]:
    """The ``k`` most frequent lines (ties: first seen); repeats the last when there are fewer."""
    top = [s for s, _ in Counter(lines).most_common(k)]
    return top + top[-1:] * (k - len(top)) if top else [""] * k


def wurcs_tokens(source: str) -> list[str]:
    """The tokens inside the ``<WURCS>`` segment of a source line ([] when it has none)."""
    return next((toks for name, toks in split_segments(source.split()) if name == "WURCS"), [])


def jaccard(a: Counter, b: Counter) -> float:
    """Multiset Jaccard similarity: shared tokens / tokens of either (counts included)."""
    if len(a) > len(b):
        a, b = b, a
    shared = sum(min(n, b[t]) for t, n in a.items() if t in b)
    union = a.total() + b.total() - shared
    return shared / union if union else 0.0


def nearest_targets(train_src: Sequence[str], train_tgt: Sequence[str], test_src: Sequence[str]) -> list[str]:
    """Per test source, the training target of the nearest training structure (see the module doc)."""
    keys = [wurcs_tokens(s) for s in train_src]
    exact: dict[str, int] = {}
    for i, toks in enumerate(keys):
        exact.setdefault(" ".join(toks), i)
    bags = [Counter(toks) for toks in keys]
    out = []
    for src in test_src:
        toks = wurcs_tokens(src)
        i = exact.get(" ".join(toks))
        if i is None:
            bag = Counter(toks)
            i = max(range(len(bags)), key=lambda j: (jaccard(bag, bags[j]), -j))
        out.append(train_tgt[i])
    return out


def ms_spectrum(source: str) -> tuple[str | None, dict[int, int]] | None:
    """(precursor, peaks) of the ``<MS>`` segment of a source line, None when it has none."""
    toks = next((toks for name, toks in split_segments(source.split()) if name == "MS"), None)
    return read_spectrum(" ".join(toks)) if toks else None


def nearest_spectrum_targets(train_src: Sequence[str], train_tgt: Sequence[str], test_src: Sequence[str]) -> list[str]:
    """Per test source, the training target of the most similar training spectrum (see the module doc)."""
    train = [ms_spectrum(s) for s in train_src]
    by_prec: dict[str | None, list[int]] = {}
    for i, sp in enumerate(train):
        if sp is not None:
            by_prec.setdefault(sp[0], []).append(i)
    every = [i for i, sp in enumerate(train) if sp is not None]
    out = []
    for src in test_src:
        sp = ms_spectrum(src)
        if sp is None or not every:
            out.append(train_tgt[0] if train_tgt else "")
            continue
        pool = by_prec.get(sp[0]) or every  # the precursor first: every tool filters by mass
        out.append(train_tgt[max(pool, key=lambda j: (compare(train[j][1], sp[1])["cosine"], -j))])
    return out


def mean_spectrum(train_tgt: Sequence[str]) -> str:
    """The one spectrum predicted for every structure by ``mean_spectrum`` (see the module doc)."""
    spectra = [read_spectrum(t) for t in train_tgt]
    prec = Counter(p for p, _ in spectra if p).most_common(1)
    peaks = [pk for _, pk in spectra]
    m = round(statistics.median(len(pk) for pk in peaks)) if peaks else 0
    seen = Counter(mz for pk in peaks for mz in pk)
    bins = sorted(sorted(seen, key=lambda mz: (-seen[mz], mz))[:m])
    toks = prec[0][0].split() if prec else []
    for mz in bins:
        ints = [pk[mz] for pk in peaks if mz in pk]
        toks += [f"MZ_{mz}", f"INT_{round(sum(ints) / len(ints))}"]
    return " ".join(toks)


def baseline_predictions(task: str, kind: str, train: tuple, test_src: Sequence[str], k: int) -> dict:
    """``{name: prediction lines}`` (``k`` lines per test row for ``most_frequent``, else one) of the
    baselines of one task; ``train`` = (training sources, training targets without the task token)."""
    train_src, train_tgt = train
    n = len(test_src)
    out = {}
    if kind == "spectrum":
        out["mean_spectrum"] = [mean_spectrum(train_tgt)] * n
    else:
        name = "most_frequent_description" if task == "text" else "most_frequent"
        out[name] = most_frequent(train_tgt, k if kind == "wurcs" else 1) * n  # the same lines for every row
    if any(wurcs_tokens(s) for s in train_src) and any(wurcs_tokens(s) for s in test_src):
        out["nearest_structure"] = nearest_targets(train_src, train_tgt, test_src)
    elif kind == "wurcs" and any(ms_spectrum(s) for s in test_src):
        out["nearest_spectrum"] = nearest_spectrum_targets(train_src, train_tgt, test_src)
    return out


def _field_accuracy(s: dict) -> float | None:
    """The share of (row, field) pairs right: the per-field accuracies weighted by their rows
    (equal weights where the scores give no ``field_rows``); None when no field was scored."""
    acc = {f: v for f, v in (s.get("field_accuracy") or {}).items() if v is not None}
    rows = s.get("field_rows") or {}
    w = {f: rows.get(f, 1) if rows else 1 for f in acc}
    total = sum(w.values())
    return round(sum(acc[f] * w[f] for f in acc) / total, 4) if total else None


def metrics(kind: str, s: dict, k: int = 1) -> dict:
    """``{metric: value}`` of one task's scores (the run's or a baseline's) for the table."""
    if kind == "wurcs":
        top = s.get("topk") or {}
        out = {"top1": top.get("1")}
        if k > 1:
            out[f"top{k}"] = top.get(str(k))
        out["composition_top1"] = (s.get("composition_topk") or {}).get("1")
        return out
    if kind == "spectrum":
        t1 = s.get("top1") or {}
        return {"f1": t1.get("f1"), "cosine": t1.get("cosine")}
    out = {"bleu": s.get("bleu"), "chrf": s.get("chrf")}
    fa = _field_accuracy(s)
    if fa is not None:
        out["field_accuracy"] = fa
    out["top1"] = (s.get("topk") or {}).get("1")
    return out


def chance(metric: str, train_tgt: Sequence[str]) -> float | None:
    """1 / D for top-1, min(k, D) / D for top-k (D distinct training targets); None otherwise."""
    d = len(set(train_tgt))
    if not d or not (metric.startswith("top") and metric[3:].isdigit()):
        return None
    return min(int(metric[3:]), d) / d


def corpus_tasks(data_dir: str) -> dict:
    """``{task: (scorer kind, target prefix)}`` from the ``tasks.json`` beside ``data_dir``."""
    manifest = _read_json(os.path.join(os.path.dirname(os.path.abspath(data_dir)), "tasks.json"))
    return {t: (v.get("score", ""), str(v.get("target_prefix") or "")) for t, v in manifest.items()}


def _n_best(s: dict) -> int:
    return int(s.get("n_best") or max((int(k) for k in s.get("topk") or {}), default=1))


def _score_baselines(run_dir: str, task: str, kind: str, files: dict, preds: dict) -> dict:
    """``{name: scores}``: each baseline's predictions written and scored like the run's own."""
    from onmt_moe.evaluation.scoring import ScoringError, score_files  # the run's scorers (glypy, sacrebleu)

    where = os.path.join(run_dir, "baselines", task)
    os.makedirs(where, exist_ok=True)
    out = {}
    for name, lines in preds.items():
        path = os.path.join(where, f"{name}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(ln + "\n" for ln in lines))
        n_best = len(lines) // max(1, len(files["src_test"]))
        try:
            out[name] = score_files(
                path,
                files["tgt_test_path"],
                n_best,
                src_path=files["src_test_path"],
                out_json=os.path.join(where, f"{name}.scores.json"),
                kind=kind,
            )
        except ScoringError as exc:
            raise DemoTableError(f"task {task}, baseline {name}: {exc}") from None
    return out


def _task_files(data_dir: str, task: str, prefix: str) -> dict:
    d = os.path.join(data_dir, task)
    return {
        "src_train": _lines(os.path.join(d, "src-train.txt")),
        "tgt_train": [strip_prefix(t, prefix) for t in _lines(os.path.join(d, "tgt-train.txt"))],
        "src_test": _lines(os.path.join(d, "src-test.txt")),
        "src_test_path": os.path.join(d, "src-test.txt"),
        "tgt_test_path": os.path.join(d, "tgt-test.txt"),
    }


def _row(task: str, metric: str, ours, base: dict, chance_value, n) -> dict:
    """One table row; ``base`` = ``{baseline name: value}``, the strongest is ``baseline``."""
    known = {b: v for b, v in base.items() if v is not None}
    best = max(known, key=lambda b: known[b]) if known else ""
    row = {"task": task, "metric": metric, "ours": ours, "baseline": known.get(best), "baseline_name": best}
    row.update(chance=chance_value, n=n, **{f"baseline_{b}": v for b, v in base.items()})
    return row


def task_rows(run_dir: str, data_dir: str, task: str, kind_prefix: tuple, ours: dict) -> list[dict]:
    """The rows of one task: each metric of the run's scores, every baseline, chance."""
    kind, prefix = kind_prefix
    files = _task_files(data_dir, task, prefix)
    if not files["tgt_train"] or not files["src_test"]:
        raise DemoTableError(f"{data_dir}/{task}: no training or test rows")
    k = _n_best(ours) if kind == "wurcs" else 1
    preds = baseline_predictions(task, kind, (files["src_train"], files["tgt_train"]), files["src_test"], k)
    scored = {name: metrics(kind, s, k) for name, s in _score_baselines(run_dir, task, kind, files, preds).items()}
    rows = []
    for metric, value in metrics(kind, ours, k).items():
        base = {name: m.get(metric) for name, m in scored.items()}
        rows.append(_row(task, metric, value, base, chance(metric, files["tgt_train"]), ours.get("n")))
    return rows


def retrieval_rows(retrieval: dict) -> list[dict]:
    """R@10 of each embedding direction and top-1 of identification among all test structures,
    each beside a random ranking (its expected value is both baseline and chance)."""
    rows = []
    for direction, m in (retrieval.get("embedding") or {}).items():
        lib = m.get("library")
        if m.get("n") == 0 or not lib:
            continue
        rnd = min(RETRIEVAL_K, lib) / lib
        rows.append(_row(f"retrieval {direction}", "r10", m.get(f"recall@{RETRIEVAL_K}"), {"random": rnd}, rnd, lib))
    m = (retrieval.get("likelihood") or {}).get("all") or {}
    if m.get("n") and m.get("mean_candidates"):
        rnd = 1 / m["mean_candidates"]  # every query ranks the same number of candidates
        rows.append(_row("identify all", "top1", m.get("recall@1"), {"random": rnd}, rnd, m["n"]))
    return rows


def build_rows(run_dir: str, data_dir: str | None = None) -> list[dict]:
    """Every row of the table of a finished multi-task run (``data_dir``: default run.json's)."""
    data_dir = data_dir or _read_json(os.path.join(run_dir, "run.json")).get("data_dir")
    if not data_dir:
        raise DemoTableError(f"{run_dir}/run.json: no data_dir (the corpus the run was trained on)")
    scores = _read_json(os.path.join(run_dir, "scores.json")).get("tasks") or {}
    manifest = corpus_tasks(data_dir)
    rows = []
    for task, ours in scores.items():
        if task in manifest:
            rows += task_rows(run_dir, data_dir, task, manifest[task], ours)
    ret = os.path.join(run_dir, "retrieval.json")
    if os.path.exists(ret):
        rows += retrieval_rows(_read_json(ret))
    return rows


def _cell(metric: str, x) -> str:
    if x is None or x == "":
        return "-"
    return f"{x:.1f}" if metric in POINTS else f"{100 * x:.1f} %"


def markdown(rows: Sequence[dict], machine: str, run_dir: str = "") -> str:
    """The table in markdown (fractions in %, BLEU and chrF in points) and the machine line."""
    lines = [
        "# Glycan demo: every task against a baseline (make demo-glycan)",
        "",
        "| task | metric | ours | baseline | baseline name | chance | n |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["metric"]
        cells = [r["task"], m, _cell(m, r["ours"]), _cell(m, r["baseline"]), r["baseline_name"] or "-"]
        lines.append("| " + " | ".join([*cells, _cell(m, r["chance"]), str(r.get("n") or "-")]) + " |")
    run = f"Run `{run_dir}`; " if run_dir else ""
    lines += ["", f"{run}machine: {machine}.", "Baselines: onmt_moe/glycan/demo_table.py (docs/glycan.md)."]
    return "\n".join(lines)


def _csv_value(x):
    if x is None:
        return ""
    return round(x, 4) if isinstance(x, float) else x


def write_table(rows: Sequence[dict], csv_path: str, machine: str, run_dir: str = "") -> str:
    """``csv_path`` (:data:`COLUMNS`, None as an empty field; ``machine`` and ``run_dir`` on every line,
    as docs/results.md reads them) and the markdown beside it (same name, ``.md``); returns the markdown."""
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: _csv_value(r.get(c)) for c in COLUMNS} | {"machine": machine, "run_dir": run_dir})
    md = markdown(rows, machine, run_dir)
    with open(os.path.splitext(csv_path)[0] + ".md", "w", encoding="utf-8") as f:
        f.write(md + "\n")
    return md


__all__ = [
    "BASELINES",
    "COLUMNS",
    "DemoTableError",
    "baseline_predictions",
    "build_rows",
    "chance",
    "markdown",
    "mean_spectrum",
    "metrics",
    "most_frequent",
    "nearest_targets",
    "retrieval_rows",
    "write_table",
]
