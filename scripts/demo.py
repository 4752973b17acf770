#!/usr/bin/env python
"""`make demo`: spectra in, SMILES out, routing plots — on the bundled demo data, on CPU.

1. data/demo (simulated spectra, benchmark v2 schema) → tagged corpora (benchmark/generate_input.py;
   by default formula + 1H + 13C NMR, which a small model learns fastest on CPU);
2. train a small modality-aware MoE model, decode the test split with beam search + n-best, score
   top-1/5/10, write the routing CSVs, the anomaly report and the plots (benchmark/start_training.py);
3. print a short summary pointing at them.

    python scripts/demo.py [--data data/demo] [--config configs/demo_moe.yaml] [--run_name demo]
                           [--set key=value ...] [--modalities h_nmr,c_nmr,ir,pos_msms,neg_msms,formula]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "demo"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "demo_tagged"))
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "demo_moe.yaml"))
    ap.add_argument("--runs_dir", default=os.path.join(ROOT, "runs"))
    ap.add_argument("--run_name", default="demo")
    ap.add_argument("--modalities", default="formula,h_nmr,c_nmr",
                    help="generate_input sections; the default (formula + 1H + 13C NMR) learns fastest on CPU; "
                         "formula,h_nmr,c_nmr,ir,pos_msms,neg_msms gives every modality")
    ap.add_argument("--ir_points", type=int, default=100,
                    help="IR tokens per spectrum (the benchmark uses 400; 100 keeps the CPU demo fast)")
    ap.add_argument("--msms_top_k", type=int, default=12, help="most intense MS/MS peaks kept per spectrum")
    ap.add_argument("--max_src_tokens", type=int, default=1000,
                    help="rows with longer sources are rejected to rejects.tsv (and counted), never truncated")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--fresh", action="store_true", help="delete an existing run folder of the same name first")
    a = ap.parse_args(argv)

    t0 = time.time()
    if not os.path.isdir(a.data) or not any(f.endswith(".parquet") for f in os.listdir(a.data)):
        print(f"error: no demo parquet files in {a.data} (see data/demo/README.md)", file=sys.stderr)
        return 2
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(os.cpu_count() or 1)))
    flags = [f"--{m.strip()}" for m in a.modalities.split(",") if m.strip()]
    if not os.path.exists(os.path.join(a.corpus, "data", "src-test.txt")):
        print(f"==> building tagged corpora from {a.data}", flush=True)
        cmd = [py, os.path.join(ROOT, "benchmark", "generate_input.py"), "--input", a.data, "--out_dir", a.corpus,
               "--format", "tagged", "--missing", "token", "--ir_points", str(a.ir_points),
               "--msms_top_k", str(a.msms_top_k), "--max_src_tokens", str(a.max_src_tokens), "--no_progress", *flags]
        if subprocess.run(cmd, env=env).returncode != 0:
            return 1
    run_dir = os.path.join(a.runs_dir, a.run_name)
    if a.fresh and os.path.isdir(run_dir):
        import shutil

        shutil.rmtree(run_dir)
    cmd = [py, os.path.join(ROOT, "benchmark", "start_training.py"), "--config", a.config, "--runs_dir", a.runs_dir,
           "--run_name", a.run_name, "--set", f"run.data_dir={os.path.join(a.corpus, 'data')}", "--quiet"]
    if os.path.isdir(run_dir) and any(f.startswith("model_step_") for f in os.listdir(run_dir)):
        cmd.append("--resume")
        print(f"==> {run_dir} exists: resuming (use --fresh to start over)")
    for s in a.set:
        cmd += ["--set", s]
    print("==> training, decoding and scoring (logs: %s)" % os.path.join(run_dir, "train.log"), flush=True)
    if subprocess.run(cmd, env=env).returncode != 0:
        return 1

    info = json.load(open(os.path.join(run_dir, "run.json")))
    summary = json.load(open(os.path.join(a.corpus, "data", "summary.json")))
    print("\n" + "=" * 72)
    print(f"onmt_moe demo finished in {time.time() - t0:.0f} s")
    print(f"  data        {a.data} -> {a.corpus}/data "
          f"(rows written: {(summary.get('rows') or {}).get('written', '?')})")
    print(f"  model       {info.get('params_total', 0) / 1e6:.2f} M parameters, "
          f"{info.get('params_active', 0) / 1e6:.2f} M active per token")
    topk = (info.get("scores") or {}).get("topk") or {}
    for k in ("1", "5", "10"):
        if k in topk:
            print(f"  top-{k:<3}      {topk[k]:.4f}")
    if "invalid_rate" in (info.get("scores") or {}):
        print(f"  invalid     {info['scores']['invalid_rate']:.4f} of all candidates")
    print(f"  run folder  {run_dir}")
    for name in ("scores.json", "ranks.csv", "pred/test.txt", "train_steps.csv", "valid_summary.csv",
                 "moe_steps.csv", "moe_aux.csv", "grad_norms.csv", "anomaly_report.txt", "plots/"):
        p = os.path.join(run_dir, name)
        if os.path.exists(p):
            print(f"    {name}")
    rep = os.path.join(run_dir, "anomaly_report.txt")
    if os.path.exists(rep):
        print("\n" + open(rep).read().strip()[:1500])
    return 0


if __name__ == "__main__":
    sys.exit(main())
