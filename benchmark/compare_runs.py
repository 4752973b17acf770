#!/usr/bin/env python
"""Compare run folders in one table (CSV + Markdown, Markdown also printed).

    python benchmark/compare_runs.py runs/a runs/b ... [--k 1,5,10] [--layout long|wide] [--out PREFIX]

Per run it reads (each optional, a missing value is shown as ``-``):
  modality/modality_table.csv  top-k per modality subset (per-subset models as "<subset> [own model]")
  scores.json                  the full test set, as subset "all" (else run.json "scores"), and its
                               secondary top-k families as "all, mass re-ranked", "all, topology",
                               "all, composition", "all, formula-consistent" where present
  run.json                     params_total, params_active, decode_sents_per_s
  train_steps.csv              training throughput: mean src_tok_per_s, tgt_tok_per_s and their sum

``long`` (default): one row per (subset, run), runs side by side within a subset.
``wide``: one row per run, one column per subset and k.
Writes PREFIX.csv and PREFIX.md (default PREFIX: <parent of the first run>/compare_runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onmt_moe.runfolder.layout import (  # noqa: E402
    RUN_JSON,
    SCORES_JSON,
    TRAIN_STEPS,
    RunFolderError,
    read_run_json,
)

OWN = "own_model:"
DASH = "-"


class CompareError(ValueError):
    pass


def _num(text) -> float | None:
    if text is None:
        return None
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _read_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CompareError(f"{path}: cannot read CSV ({exc})") from None
    for i, r in enumerate(rows):
        if None in r:  # more fields than the header
            raise CompareError(f"{path}:{i + 2}: more fields than the header has")
    return rows


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None


def mean_throughput(path: Path) -> dict[str, float | None]:
    """Mean src/tgt tokens per second over the rows of train_steps.csv."""
    out: dict[str, float | None] = {
        "train_src_tok_per_s": None,
        "train_tgt_tok_per_s": None,
        "train_tok_per_s": None,
    }
    if not path.is_file():
        return out
    rows = _read_csv(path)
    src = [v for v in (_num(r.get("src_tok_per_s")) for r in rows) if v is not None]
    tgt = [v for v in (_num(r.get("tgt_tok_per_s")) for r in rows) if v is not None]
    both = [
        a + b
        for a, b in ((_num(r.get("src_tok_per_s")), _num(r.get("tgt_tok_per_s"))) for r in rows)
        if a is not None and b is not None
    ]
    if src:
        out["train_src_tok_per_s"] = sum(src) / len(src)
    if tgt:
        out["train_tgt_tok_per_s"] = sum(tgt) / len(tgt)
    if both:
        out["train_tok_per_s"] = sum(both) / len(both)
    return out


# other top-k families a scores.json may hold, shown as extra rows of the full test set
SECONDARY = {
    "mass_reranked_topk": "all, mass re-ranked",
    "topology_topk": "all, topology",
    "composition_topk": "all, composition",
    "formula_consistent_topk": "all, formula-consistent",
}


def run_summary(run_dir, ks: Sequence[int]) -> dict:
    """``{"run", "subsets": {subset: {k: acc}}, params…, throughput…}`` for one folder."""
    d = Path(run_dir)
    if not d.is_dir():
        raise CompareError(f"{d}: no such run folder")
    try:
        info = read_run_json(d, missing_ok=True)
    except RunFolderError as exc:
        raise CompareError(str(exc)) from None
    subsets: dict[str, dict[int, float | None]] = {}
    table = d / "modality" / "modality_table.csv"
    if table.is_file():
        for i, r in enumerate(_read_csv(table)):
            name = r.get("subset")
            if not name:
                raise CompareError(f"{table}:{i + 2}: no 'subset' value")
            subsets[name] = {k: _num(r.get(f"top-{k}")) for k in ks}
            if any(c.startswith(OWN) for c in r):
                own = {k: _num(r.get(f"{OWN}top-{k}")) for k in ks}
                if any(v is not None for v in own.values()):
                    subsets[f"{name} [own model]"] = own
    if (d / SCORES_JSON).is_file():
        scores = _read_json(d / SCORES_JSON)
        topk = scores.get("topk") or {}
        subsets["all"] = {k: _num(topk.get(str(k))) for k in ks}
        for key, name in SECONDARY.items():  # e.g. the glycan scorer's composition / re-ranked top-k
            if isinstance(scores.get(key), dict):
                subsets[name] = {k: _num(scores[key].get(str(k))) for k in ks}
    elif isinstance(info.get("scores"), dict):
        topk = info["scores"].get("topk") or {}
        subsets["all"] = {k: _num(topk.get(str(k))) for k in ks}
    if not info and not subsets:
        raise CompareError(f"{d}: neither {RUN_JSON}, {SCORES_JSON} nor modality/modality_table.csv")
    res = {
        "run": info.get("run_name") or d.name,
        "path": str(d),
        "subsets": subsets,
        "params_total": _num(info.get("params_total")),
        "params_active": _num(info.get("params_active")),
        "decode_sents_per_s": _num(info.get("decode_sents_per_s")),
    }
    res.update(mean_throughput(d / TRAIN_STEPS))
    return res


META = [
    "params_total",
    "params_active",
    "train_tok_per_s",
    "train_src_tok_per_s",
    "train_tgt_tok_per_s",
    "decode_sents_per_s",
]


def build_table(runs: Sequence[dict], ks: Sequence[int], layout: str = "long") -> list[dict[str, object]]:
    order: list[str] = []
    for r in runs:
        for s in r["subsets"]:
            if s not in order:
                order.append(s)
    rows: list[dict[str, object]] = []
    if layout == "long":
        for s in order or ["all"]:
            for r in runs:
                acc = r["subsets"].get(s, {})
                row: dict[str, object] = {"subset": s, "run": r["run"]}
                row.update({f"top-{k}": acc.get(k) for k in ks})
                row.update({m: r[m] for m in META})
                rows.append(row)
    elif layout == "wide":
        for r in runs:
            row = {"run": r["run"]}
            row.update({m: r[m] for m in META})
            for s in order:
                acc = r["subsets"].get(s, {})
                row.update({f"{s} top-{k}": acc.get(k) for k in ks})
            rows.append(row)
    else:
        raise CompareError(f"unknown layout {layout!r}; choose long or wide")
    return rows


def _human(n: float) -> str:
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.1f}{suf}"
    return f"{n:.0f}"


def _cell(col: str, v, markdown: bool) -> str:
    if v is None:
        return DASH
    if not isinstance(v, (int, float)):
        return str(v)
    if "top-" in col:
        return f"{100 * v:.2f}" if markdown else f"{v:.6f}"
    if col.startswith("params"):
        return _human(v) if markdown else str(int(v))
    if "per_s" in col:
        return f"{v:.1f}" if markdown else f"{v:.3f}"
    return str(v)


def write_outputs(rows: list[dict], prefix: Path) -> str:
    cols: list[str] = []
    for r in rows:
        for c in r:
            if c not in cols:
                cols.append(c)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(str(prefix) + ".csv"), "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(c, r.get(c), False) for c in cols])
    md = [
        "Top-k in %; params: total / active; throughput: training tokens/s (src+tgt), decoding sentences/s.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" if c in ("run", "subset") else "---:" for c in cols) + "|",
    ]
    for r in rows:
        md.append("| " + " | ".join(_cell(c, r.get(c), True) for c in cols) + " |")
    text = "\n".join(md) + "\n"
    Path(str(prefix) + ".md").write_text(text, encoding="utf-8")
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders")
    ap.add_argument("--k", default="1,5,10", help="top-k values to show (default 1,5,10)")
    ap.add_argument("--layout", choices=["long", "wide"], default="long")
    ap.add_argument("--out", help="output prefix (writes PREFIX.csv and PREFIX.md)")
    a = ap.parse_args(argv)
    try:
        try:
            ks = [int(k) for k in a.k.split(",") if k.strip()]
        except ValueError:
            raise CompareError(f"--k {a.k!r}: want comma-separated integers") from None
        runs = [run_summary(r, ks) for r in a.runs]
        rows = build_table(runs, ks, a.layout)
        prefix = Path(a.out) if a.out else Path(a.runs[0]).resolve().parent / "compare_runs"
        text = write_outputs(rows, prefix)
    except (CompareError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text, end="")
    print(f"wrote {prefix}.csv and {prefix}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
