"""The MM-Spectrum paper's missing-modality table: one all-modality model, scored with each modality
removed at test time (the paper: without NMR, dense 18.65 % top-1, MoE 39.24 %).

For every finished run folder given (e.g. ``runs/bench_paper/NMR+IR+MS_moe_s1``) and every modality
segment of its test sources, the segment's content is replaced by ``<MISSING>`` (what the corpus builder
writes for an absent modality with ``missing_mode: token``), the variant is decoded with the run's own
``translate.yaml`` (its last checkpoint, beam and n-best) and scored as the run's score stage scores.
The first ``n`` test sources are used (the test split is drawn by a hash of the molecule, so they are
an unbiased sample); a decoded variant is kept under ``<run>/missing/`` and read back on a rerun.

    python scripts/missing_modality.py --runs runs/bench_paper/NMR+IR+MS_dense_s1 runs/bench_paper/NMR+IR+MS_moe_s1 \
        --n 1000 --out benchmark/results/missing_modality.csv
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import yaml

from onmt_moe.modality import tags
from onmt_moe.runfolder.layout import TRANSLATE_YAML, read_run_json
from onmt_moe.runs import runner

COLUMNS = [
    "run",
    "model",
    "representation",
    "removed",
    "n",
    "top1",
    "top5",
    "top10",
    "formula_top1",
    "invalid",
    "machine",
]
NONE = "none"  # the row with every modality present


def without(line: str, name: str) -> str:
    """``line`` with the inner tokens of segment ``name`` replaced by ``<MISSING>`` (unchanged without it)."""
    segs = tags.split_segments(line.split())
    return " ".join(tags.join_segments([(n, [tags.MISSING] if n == name else t) for n, t in segs]))


def segments_of(lines: Sequence[str]) -> list[str]:
    """The modality segments that hold data in any of ``lines``, in first-seen order."""
    seen: list[str] = []
    for line in lines:
        for name in tags.present_modalities(line.split()):
            if name not in seen:
                seen.append(name)
    return seen


def test_files(run_dir: str) -> tuple[str, str]:
    """The run's test sources and targets (from its ``run.json``)."""
    data = read_run_json(run_dir).get("data_dir") or ""
    src, tgt = os.path.join(data, "src-test.txt"), os.path.join(data, "tgt-test.txt")
    for p in (src, tgt):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{run_dir}: its test file {p} is missing (run.json data_dir)")
    if not os.path.exists(os.path.join(run_dir, TRANSLATE_YAML)):
        raise FileNotFoundError(f"{run_dir}: no {TRANSLATE_YAML}; run its translate stage first")
    return src, tgt


def _head(path: str, n: int | None) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    return lines if n is None else lines[:n]


def score_variant(run_dir: str, removed: str, src_lines: list[str], tgt_lines: list[str], log) -> dict:
    """Decode (unless already decoded) and score one variant; the scorer's report."""
    from onmt_moe.evaluation.scoring import score_files

    work = os.path.join(run_dir, "missing", removed)
    os.makedirs(work, exist_ok=True)
    src, tgt, pred = (os.path.join(work, f) for f in ("src.txt", "tgt.txt", "pred.txt"))
    lines = src_lines if removed == NONE else [without(x, removed) for x in src_lines]
    for path, body in ((src, lines), (tgt, tgt_lines)):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(body) + "\n")
    with open(os.path.join(run_dir, TRANSLATE_YAML), encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh) or {}
    n_best = int(cfg.get("n_best", 1))
    done = os.path.exists(pred) and sum(1 for _ in open(pred, encoding="utf-8")) == len(lines) * n_best
    if not done:
        log(f"==> {os.path.basename(run_dir)}: decoding {len(lines)} sources without {removed}")
        cmd = runner.onmt_command("onmt_translate") + ["-config", os.path.join(run_dir, TRANSLATE_YAML)]
        runner.run_logged(cmd + ["-src", src, "-output", pred], os.path.join(work, "translate.log"), echo=False)
    return score_files(pred, tgt, n_best, src_path=src)


def label_of(run_dir: str) -> dict:
    """``model`` and ``representation`` of a paper-table cell folder ``<input>_<model>[_<repr>]_s<seed>``
    (model names hold underscores, ``moe_paper``: the longest known model name that fits wins)."""
    from onmt_moe.runs.paper_table import MODELS

    name = os.path.basename(os.path.normpath(run_dir))
    inp, _, rest = name.partition("_")
    body, _, seed = rest.rpartition("_")
    if inp and body and seed.startswith("s"):
        for model in sorted(MODELS, key=len, reverse=True):
            if body == model or body.startswith(model + "_"):
                return {"model": model, "representation": body[len(model) + 1 :] or "words"}
    return {"model": name, "representation": ""}


def run_rows(run_dir: str, n: int | None, log=print) -> list[dict]:
    """One row per variant of one run: every modality present, then each one removed."""
    label = label_of(run_dir)
    machine = read_run_json(run_dir).get("machine")
    label["machine"] = runner.machine_line(machine) if machine else None  # where the run was trained
    src, tgt = test_files(run_dir)
    src_lines, tgt_lines = _head(src, n), _head(tgt, n)
    rows = []
    for removed in [NONE, *segments_of(src_lines)]:
        rep = score_variant(run_dir, removed, src_lines, tgt_lines, log)
        topk = rep["topk"]
        rows.append(
            {
                **label,
                "run": run_dir,
                "removed": removed,
                "n": len(src_lines),
                "top1": topk.get("1"),
                "top5": topk.get("5"),
                "top10": topk.get("10"),
                "formula_top1": rep.get("formula_consistent_topk", {}).get("1"),
                "invalid": rep.get("invalid_rate_top1"),
            }
        )
    return rows


def write_outputs(rows: Sequence[dict], csv_path: str) -> None:
    """The CSV and a markdown table beside it (top-1 per model and removed modality)."""
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in COLUMNS})
    cols = ["model", "representation", "removed", "n", "top1", "top5", "top10", "formula_top1", "invalid"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    with open(os.path.splitext(csv_path)[0] + ".md", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


__all__ = ["COLUMNS", "NONE", "label_of", "run_rows", "segments_of", "without", "write_outputs"]
