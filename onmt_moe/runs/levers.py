"""What makes the CPU demo learn: one recipe lever at a time, same corpus, same step budget.

Each lever is the demo model (``configs/demo_moe.yaml``) with a few ``--set`` overrides (or another
template), trained by ``start_training`` (stages vocab + train only), then decoded twice with beam
search: the corpus' **validation** split (the selection split: a lever is never chosen on the test
split, which only ``make demo`` decodes) and the first 400 **training** molecules (train ≈ val means
under-fitted, train ≫ val over-fitted). One row per lever in ``demo_levers.csv`` and a markdown table.
Resumable: a lever whose scores exist is read back; a half-trained one resumes from its checkpoint.

    from onmt_moe.runs.levers import run_levers
    run_levers("data/demo_small_tagged/data", "runs/levers", ["baseline", "dropout_0.1"])

This module imports no torch: training and decoding run in OpenNMT subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Dict, List, Optional, Sequence, Tuple

from onmt_moe.runs import runner
from onmt_moe.runs.paper_table import last_validation_accuracy, markdown_table, write_csv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = "configs/demo_moe.yaml"
TRAIN_PROBE = 400  # training molecules re-decoded per lever
# lever name -> (config template, --set overrides). The recipe levers of issue 15; corpus levers
# (binning, tier, data volume) need another corpus and are rows of docs/demo_recipe.md instead.
LEVERS: Dict[str, Tuple[str, List[str]]] = {
    "baseline": (DEMO_CONFIG, []),
    "dropout_0.1": (DEMO_CONFIG, ["dropout=[0.1]", "attention_dropout=[0.1]"]),  # the recipe before session 5
    "label_smoothing_0": (DEMO_CONFIG, ["label_smoothing=0.0"]),
    "warmup_1000": (DEMO_CONFIG, ["warmup_steps=1000"]),
    "learning_rate_1": (DEMO_CONFIG, ["learning_rate=1.0"]),
    "batch_128": (DEMO_CONFIG, ["batch_size=128", "valid_batch_size=128"]),
    "dense": ("configs/demo_dense.yaml", []),
    "depth_3": (DEMO_CONFIG, ["layers=3"]),
}
COLUMNS = [
    "lever",
    "sets",
    "steps",
    "val_top1",
    "val_top5",
    "val_top10",
    "val_reranked_top1",
    "val_invalid_top1",
    "train400_top1",
    "train400_top10",
    "val_acc",
    "train_seconds",
    "run_dir",
]


def _translate_options(template: str) -> dict:
    """The template's run.translate over start_training's defaults (what its translate stage would use)."""
    run = runner.load_template(os.path.join(ROOT, template)).get("run") or {}
    return dict(runner.DEFAULT_TRANSLATE, **(run.get("translate") or {}))


def _first_lines(src: str, dst: str, n: int) -> str:
    if not os.path.exists(dst):
        with open(src, encoding="utf-8") as fh, open(dst + ".tmp", "w", encoding="utf-8") as out:
            for i, line in enumerate(fh):
                if i == n:
                    break
                out.write(line)
        os.replace(dst + ".tmp", dst)
    return dst


def decode_and_score(ckpt: str, src: str, tgt: str, out_dir: str, topts: dict) -> dict:
    """Beam-decode ``src`` with ``onmt_translate`` and score it (SMILES; re-ranked by the formula)."""
    from onmt_moe.evaluation.scoring import score_files

    os.makedirs(out_dir, exist_ok=True)
    pred = os.path.join(out_dir, "pred.txt")
    cmd = runner.onmt_command("onmt_translate") + ["-model", ckpt, "-src", src, "-output", pred]
    for key in ("beam_size", "n_best", "min_length", "max_length", "batch_size"):
        cmd += [f"-{key}", str(topts[key])]
    runner.run_logged(cmd, os.path.join(out_dir, "translate.log"), echo=False)
    return score_files(pred, tgt, topts["n_best"], src_path=src, out_json=os.path.join(out_dir, "scores.json"))


def lever_row(name: str, run_dir: str, steps: int) -> dict:
    """One row of the lever table from a finished lever folder."""
    val = json.load(open(os.path.join(run_dir, "val", "scores.json")))
    train = json.load(open(os.path.join(run_dir, "train400", "scores.json")))
    info = json.load(open(os.path.join(run_dir, "run.json")))
    return {
        "lever": name,
        "sets": " ".join(LEVERS[name][1]),
        "steps": steps,
        "val_top1": val["topk"].get("1"),
        "val_top5": val["topk"].get("5"),
        "val_top10": val["topk"].get("10"),
        "val_reranked_top1": (val.get("formula_consistent_topk") or {}).get("1"),
        "val_invalid_top1": val.get("invalid_rate_top1"),
        "train400_top1": train["topk"].get("1"),
        "train400_top10": train["topk"].get("10"),
        "val_acc": last_validation_accuracy(run_dir),
        "train_seconds": info.get("stages", {}).get("train", {}).get("seconds"),
        "run_dir": run_dir,
    }


def run_lever(data_dir: str, run_dir: str, name: str, steps: int, seed: int) -> None:
    """Train one lever (resuming a half-trained folder), then decode the validation and train probes."""
    template, sets = LEVERS[name]
    cmd = runner.start_training_command(
        os.path.join(ROOT, template), run_dir, data_dir, [f"train_steps={steps}", f"seed={seed}", *sets], "vocab,train"
    )
    if subprocess.run(cmd).returncode != 0:
        raise RuntimeError(f"lever {name} failed; see {run_dir}/train.log")
    ckpt = runner.latest_good_checkpoint(run_dir)
    if not ckpt or runner.checkpoint_step(ckpt) < steps:
        raise RuntimeError(f"lever {name}: no checkpoint at step {steps} in {run_dir}")
    topts = _translate_options(template)
    tgt_probe = _first_lines(
        os.path.join(data_dir, "tgt-train.txt"), os.path.join(run_dir, "tgt-train400.txt"), TRAIN_PROBE
    )
    src_probe = _first_lines(
        os.path.join(data_dir, "src-train.txt"), os.path.join(run_dir, "src-train400.txt"), TRAIN_PROBE
    )
    decode_and_score(ckpt, src_probe, tgt_probe, os.path.join(run_dir, "train400"), topts)
    # the validation split last: its scores.json marks the lever finished
    decode_and_score(
        ckpt,
        os.path.join(data_dir, "src-val.txt"),
        os.path.join(data_dir, "tgt-val.txt"),
        os.path.join(run_dir, "val"),
        topts,
    )


def run_levers(
    data_dir: str,
    out: str,
    names: Sequence[str],
    steps: int = 2000,
    seed: int = 3245,
    max_hours: Optional[float] = None,
    log=print,
) -> List[dict]:
    """Run (or read back) every lever; returns the rows of the finished ones."""
    unknown = [n for n in names if n not in LEVERS]
    if unknown:
        raise ValueError(f"unknown lever(s) {', '.join(unknown)}; known: {', '.join(LEVERS)}")
    t0, rows, secs = time.time(), [], []
    for name in names:
        run_dir = os.path.join(out, name)
        if not os.path.exists(os.path.join(run_dir, "val", "scores.json")):
            if max_hours is not None and time.time() - t0 + (max(secs) if secs else 0.0) > max_hours * 3600:
                log(f"==> stopping before {name}: the time budget ({max_hours} h) is spent; run again to continue")
                break
            log(f"==> lever {name}")
            t_lever = time.time()
            run_lever(data_dir, run_dir, name, steps, seed)
            secs.append(time.time() - t_lever)
        rows.append(lever_row(name, run_dir, steps))
    return rows


def write_outputs(rows: Sequence[dict], csv_path: str) -> str:
    """``demo_levers.csv`` (one row per lever) and the markdown table beside it; returns the markdown."""
    write_csv(rows, csv_path, COLUMNS)
    md = markdown_table(rows, [c for c in COLUMNS if c != "run_dir"])
    with open(os.path.splitext(csv_path)[0] + ".md", "w") as fh:
        fh.write(md + "\n")
    return md
