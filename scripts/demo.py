#!/usr/bin/env python
"""`make demo`: spectra in, SMILES out, routing plots — on simulated small molecules, on CPU.

0. simulate formula + 1H/13C NMR for the bundled small-molecule list (data/demo/small_tier_molecules.smi.gz,
   BRICS pieces of MOSES molecules, 6-14 heavy atoms) into data/demo_small (scripts/simulate_dataset.py
   --fast --modalities nmr; about a minute on 2 cores, skipped when the folder exists);
1. → tagged corpora (benchmark/generate_input.py; formula + 1H + 13C NMR with 0.1 ppm / 1 Hz / 1 ppm bins,
   which a small model learns fastest on CPU). `--data data/demo` uses the bundled 8,231-molecule
   full-modality set instead (every modality; slower to learn);
2. train a small modality-aware MoE model, decode the test split with beam search + n-best, score
   top-1/5/10, write the routing CSVs, the anomaly report and the plots (benchmark/start_training.py);
3. print a short summary pointing at them.

    python scripts/demo.py [--data data/demo_small] [--molecules N] [--config configs/demo_moe.yaml]
                           [--run_name demo] [--set key=value ...] [--modalities formula,h_nmr,c_nmr,...]
                           [--nmr_decimals 1,0,0] [--fresh]
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from onmt_moe.runs import runner  # noqa: E402

DEMO_MOLECULES = 30000


def simulate_small_tier(a, py, env) -> int:
    """Formula + 1H/13C NMR (fast estimate) for the first --molecules of the bundled list."""
    print(f"==> simulating NMR for {a.molecules} molecules of {a.molecule_list} -> {a.data}", flush=True)
    cmd = [
        py,
        os.path.join(ROOT, "scripts", "simulate_dataset.py"),
        "--out",
        a.data,
        "--n",
        str(a.molecules),
        "--seed",
        "0",
        "--fast",
        "--modalities",
        "nmr",
        "--workers",
        "2",
        "--chunk-size",
        "5000",
        "--max-heavy",
        "14",
        "--smiles-file",
        a.molecule_list,
        "--quiet",
    ]
    return subprocess.run(cmd, env=env).returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data",
        default=os.path.join(ROOT, "data", "demo_small"),
        help="parquet chunks; simulated from --molecule_list when the folder has none",
    )
    ap.add_argument("--molecule_list", default=os.path.join(ROOT, "data", "demo", "small_tier_molecules.smi.gz"))
    ap.add_argument("--molecules", type=int, default=DEMO_MOLECULES, help="molecules to simulate from the list")
    ap.add_argument("--corpus", default=None, help="tagged corpus folder (default: <data>_tagged)")
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "demo_moe.yaml"))
    ap.add_argument("--runs_dir", default=os.path.join(ROOT, "runs"))
    ap.add_argument("--run_name", default="demo")
    ap.add_argument(
        "--modalities",
        default="formula,h_nmr,c_nmr",
        help="generate_input sections; the default (formula + 1H + 13C NMR) learns fastest on CPU; "
        "formula,h_nmr,c_nmr,ir,pos_msms,neg_msms gives every modality",
    )
    ap.add_argument(
        "--ir_points",
        type=int,
        default=100,
        help="IR tokens per spectrum (the benchmark uses 400; 100 keeps the CPU demo fast)",
    )
    ap.add_argument("--msms_top_k", type=int, default=12, help="most intense MS/MS peaks kept per spectrum")
    ap.add_argument(
        "--nmr_decimals",
        default="1,0,0",
        help="decimals of 1H shifts, J values, 13C shifts in the tagged source (benchmark: 2,2,1)",
    )
    ap.add_argument(
        "--max_src_tokens",
        type=int,
        default=1000,
        help="rows with longer sources are rejected to rejects.tsv (and counted), never truncated",
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--fresh", action="store_true", help="delete an existing run folder of the same name first")
    ap.add_argument("--data_only", action="store_true", help="build the simulated data and tagged corpus, then stop")
    a = ap.parse_args(argv)

    try:  # a bad --run_name / --runs_dir is refused before any work (and before --fresh deletes anything)
        run_dir = runner.check_run_location(a.runs_dir, a.run_name)
    except runner.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.time()
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1)))
    a.corpus = a.corpus or a.data.rstrip("/") + "_tagged"
    has_parquet = os.path.isdir(a.data) and any(f.endswith(".parquet") for f in os.listdir(a.data))
    if not has_parquet and os.path.exists(a.molecule_list):
        if simulate_small_tier(a, py, env) != 0:
            return 1
    elif not has_parquet:
        print(
            f"error: no parquet files in {a.data} and no molecule list {a.molecule_list} (see data/demo/README.md)",
            file=sys.stderr,
        )
        return 2
    flags = [f"--{m.strip()}" for m in a.modalities.split(",") if m.strip()]
    if not os.path.exists(os.path.join(a.corpus, "data", "src-test.txt")):
        print(f"==> building tagged corpora from {a.data}", flush=True)
        cmd = [
            py,
            os.path.join(ROOT, "benchmark", "generate_input.py"),
            "--input",
            a.data,
            "--out_dir",
            a.corpus,
            "--format",
            "tagged",
            "--missing",
            "token",
            "--ir_points",
            str(a.ir_points),
            "--msms_top_k",
            str(a.msms_top_k),
            "--nmr_decimals",
            a.nmr_decimals,
            "--max_src_tokens",
            str(a.max_src_tokens),
            "--no_progress",
            *flags,
        ]
        if subprocess.run(cmd, env=env).returncode != 0:
            return 1
    if a.data_only:
        print(f"==> corpus ready: {os.path.join(a.corpus, 'data')}")
        return 0
    if a.fresh and os.path.isdir(run_dir):
        import shutil

        try:
            with runner.lock_run_dir(run_dir):  # never delete a folder a running start_training writes
                shutil.rmtree(run_dir)
        except runner.ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    cmd = runner.start_training_command(a.config, run_dir, os.path.join(a.corpus, "data"), a.set)
    if "--resume" in cmd:
        print(f"==> {run_dir} exists: resuming (use --fresh to start over)")
    print(
        "==> training, decoding and scoring (a [train] line every report_every steps; full logs: %s)"
        % os.path.join(run_dir, "train.log"),
        flush=True,
    )
    if subprocess.run(cmd, env=env).returncode != 0:
        return 1

    info = json.load(open(os.path.join(run_dir, "run.json")))
    summary = json.load(open(os.path.join(a.corpus, "data", "summary.json")))
    print("\n" + "=" * 72)
    print(f"onmt_moe demo finished in {time.time() - t0:.0f} s")
    print(
        f"  data        {a.data} -> {a.corpus}/data (rows written: {(summary.get('rows') or {}).get('written', '?')})"
    )
    print(
        f"  model       {info.get('params_total', 0) / 1e6:.2f} M parameters, "
        f"{info.get('params_active', 0) / 1e6:.2f} M active per token"
    )
    scores_path = os.path.join(run_dir, "scores.json")
    scores = json.load(open(scores_path)) if os.path.exists(scores_path) else {}
    topk, reranked = scores.get("topk") or {}, scores.get("formula_consistent_topk") or {}
    print(f"  test        {scores.get('n', '?')} unseen molecules; beam search, n-best {len(topk) or '?'}")
    print("              raw      re-ranked (formula-consistent and valid candidates first)")
    for k in ("1", "5", "10"):
        if k in topk:
            rr = f"{reranked[k]:.4f}" if k in reranked else "-"
            print(f"  top-{k:<3}     {topk[k]:.4f}   {rr}")
    if scores.get("invalid_rate_top1") is not None:
        print(
            f"  invalid     {scores['invalid_rate_top1']:.4f} of first candidates, "
            f"{scores['invalid_rate']:.4f} of all candidates"
        )
    print(f"  run folder  {run_dir}")
    for name in (
        "scores.json",
        "ranks.csv",
        "pred/test.txt",
        "train_steps.csv",
        "valid_summary.csv",
        "moe_steps.csv",
        "moe_aux.csv",
        "grad_norms.csv",
        "anomaly_report.txt",
        "plots/",
    ):
        p = os.path.join(run_dir, name)
        if os.path.exists(p):
            print(f"    {name}")
    rep = os.path.join(run_dir, "anomaly_report.txt")
    if os.path.exists(rep):
        print("\n" + open(rep).read().strip()[:1500])
    return 0


if __name__ == "__main__":
    sys.exit(main())
