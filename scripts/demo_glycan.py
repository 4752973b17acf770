#!/usr/bin/env python
"""`make demo-glycan`: one multi-task GlycoLLM-style model on CPU — structure, spectrum, text, retrieval.

0. build a small glycan set from glycowork's df_glycan (scripts/build_glycan_dataset.py: verified WURCS,
   SYNTHETIC negative-mode MS/MS, metadata text; skipped when the folder exists);
1. one multi-task corpus, one vocabulary (benchmark/generate_glycan_input.py --multitask
   struct,spec,text,align --text): spectra(+text) -> WURCS, WURCS -> spectrum, WURCS + spectrum -> text,
   spectrum + WURCS (+text) -> composition (the alignment task); every training target starts with
   its task token, which decoding forces (without it the decoder ignored the task at 600 steps);
2. train it with the stock OpenNMT commands (benchmark/start_training.py, configs/glycan_multitask.yaml):
   within-modality attention then one cross-modal fusion layer, modality type embeddings, per-segment
   positions, contrastive alignment MS<->WURCS, TEXT<->WURCS, MS<->TEXT (temperature 0.07, triplet
   margin 0.2, same-precursor-mass hard negatives); per-task rows in train_tasks.csv / valid_tasks.csv;
3. decode and score every task's test set with its own scorer, then benchmark/retrieve.py;
4. print the scores.

    python scripts/demo_glycan.py [--structures 1500] [--steps 600] [--run_name glycan_demo] [--set k=v] [--fresh]

Needs requirements-glycan.txt (glypy, glycowork). The spectra are simulated: the scores measure how
well the model inverts the simulator, not real-instrument accuracy (docs/glycan.md).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from onmt_moe.glycan.demo_summary import summary_lines  # noqa: E402
from onmt_moe.runs import runner  # noqa: E402

# the GlycoLLM-style settings on top of configs/glycan_multitask.yaml (one definition: here)
MODEL_SET = [
    "within_modality_attention=true",
    "fusion_layers=1",
    "modality_type_embedding=true",
    "segment_positions=true",
    "moe_contrastive_coef=0.05",
    "moe_contrastive_pairs=MS:WURCS,TEXT:WURCS,MS:TEXT",
    "moe_contrastive_temperature=0.07",
    "moe_contrastive_margin=0.2",
    "moe_contrastive_hard_key=MS",
]
# the CPU budget: half-size token batches and a shorter warm-up than the config (600 steps ≈ 10 min on 2 busy cores)
BUDGET_SET = ["batch_size=2048", "warmup_steps=200"]


def _run(cmd, env) -> bool:
    print("$ " + " ".join(cmd[1:]), flush=True)
    return subprocess.run(cmd, env=env).returncode == 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "glycan_demo"), help="glycan set folder")
    ap.add_argument("--structures", type=int, default=1500, help="structures to build (seeded, 80/10/10 split)")
    ap.add_argument("--max_residues", type=int, default=10)
    ap.add_argument("--corpus", default=None, help="multi-task corpus folder (default <data>_mt)")
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "glycan_multitask.yaml"))
    ap.add_argument("--runs_dir", default=os.path.join(ROOT, "runs"))
    ap.add_argument("--run_name", default="glycan_demo")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--beam", type=int, default=3)
    ap.add_argument("--max_candidates", type=int, default=30, help="closed-set candidates per query")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more start_training --set")
    ap.add_argument("--fresh", action="store_true", help="delete an existing run folder of the same name first")
    a = ap.parse_args(argv)
    t0 = time.time()
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    corpus = a.corpus or a.data.rstrip("/") + "_mt"
    if not os.path.exists(os.path.join(a.data, "glycan.parquet")):
        if not _run(
            [
                py,
                os.path.join(ROOT, "scripts", "build_glycan_dataset.py"),
                "--out",
                a.data,
                "--limit",
                str(a.structures),
                "--max_residues",
                str(a.max_residues),
                "--workers",
                str(a.workers),
            ],
            env,
        ):
            return 1
    if not os.path.exists(os.path.join(corpus, "tasks.json")):
        if not _run(
            [
                py,
                os.path.join(ROOT, "benchmark", "generate_glycan_input.py"),
                "--input",
                a.data,
                "--out_dir",
                corpus,
                "--text",
                "--multitask",
                "struct,spec,text,align",
                "--target_task_token",
            ],
            env,
        ):
            return 1
    run_dir = os.path.join(a.runs_dir, a.run_name)
    if a.fresh and os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    half = max(1, a.steps // 2)
    sets = [
        f"train_steps={a.steps}",
        f"valid_steps={half}",
        f"save_checkpoint_steps={half}",
        f"run.translate={{beam_size: {a.beam}, n_best: {a.beam}, min_length: 1, max_length: 200, batch_size: 64}}",
        *MODEL_SET,
        *BUDGET_SET,
        *a.set,
    ]
    cmd = runner.start_training_command(
        a.config, run_dir, os.path.join(corpus, "data"), sets, stages="vocab,train,translate,score"
    )
    t_train = time.time()
    if not _run(cmd, env):
        return 1
    t_ret = time.time()
    if not _run(
        [
            py,
            os.path.join(ROOT, "benchmark", "retrieve.py"),
            "--run",
            run_dir,
            "--max_candidates",
            str(a.max_candidates),
        ],
        env,
    ):
        return 1
    with open(os.path.join(run_dir, "scores.json"), encoding="utf-8") as f:
        scores = json.load(f)
    with open(os.path.join(run_dir, "retrieval.json"), encoding="utf-8") as f:
        retrieval = json.load(f)
    with open(os.path.join(run_dir, "run.json"), encoding="utf-8") as f:
        info = json.load(f)
    print("\n" + "=" * 72)
    print(
        f"glycan demo finished in {time.time() - t0:.0f} s (data {t_train - t0:.0f} s, train + decode + score "
        f"{t_ret - t_train:.0f} s, retrieval {time.time() - t_ret:.0f} s); SYNTHETIC spectra"
    )
    print(
        f"  model       {info.get('params_total', 0) / 1e6:.2f} M parameters, {a.steps} steps, one model for "
        f"{len(scores.get('tasks', {}))} tasks; run folder {run_dir}"
    )
    print("\n".join(summary_lines(scores, retrieval)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
