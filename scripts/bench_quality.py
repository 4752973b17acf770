#!/usr/bin/env python
"""`make bench-quality`: dense vs modality-aware MoE, NMR only vs all modalities, same step budget.

A small-scale version of the paper's headline comparison, on the bundled demo data, on CPU.
Prints one table (top-1/5/10, training tokens/s, parameters total/active) and writes it to
runs/bench_quality/quality_table.{md,csv}.

    python scripts/bench_quality.py [--steps 1500] [--data data/demo] [--set key=value ...]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUTS = {
    "NMR": ["--h_nmr", "--c_nmr"],
    "all": ["--formula", "--h_nmr", "--c_nmr", "--ir", "--pos_msms", "--neg_msms"],
}
MODELS = {"dense": "configs/demo_dense.yaml", "moe": "configs/demo_moe.yaml"}


def _mean_tps(path):
    rows = list(csv.DictReader(open(path)))
    vals = [float(r["src_tok_per_s"]) + float(r["tgt_tok_per_s"]) for r in rows[1:]] or [float("nan")]
    return sum(vals) / len(vals)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "demo"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "bench_quality"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--ir_points", type=int, default=50)
    ap.add_argument("--msms_top_k", type=int, default=6)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args(argv)
    py = sys.executable
    os.makedirs(a.out, exist_ok=True)
    results = []
    for inp, flags in INPUTS.items():
        corpus = os.path.join(a.out, f"corpus_{inp}")
        if not os.path.exists(os.path.join(corpus, "data", "src-test.txt")):
            cmd = [py, os.path.join(ROOT, "benchmark", "generate_input.py"), "--input", a.data, "--out_dir", corpus,
                   "--format", "tagged", "--missing", "token", "--ir_points", str(a.ir_points),
                   "--msms_top_k", str(a.msms_top_k), "--max_src_tokens", "1000", "--no_progress", "-q", *flags]
            if subprocess.run(cmd).returncode != 0:
                return 1
        for model, cfg in MODELS.items():
            name = f"{model}_{inp}"
            run_dir = os.path.join(a.out, name)
            if not os.path.exists(os.path.join(run_dir, "scores.json")):
                t0 = time.time()
                cmd = [py, os.path.join(ROOT, "benchmark", "start_training.py"), "--config", os.path.join(ROOT, cfg),
                       "--runs_dir", a.out, "--run_name", name, "--quiet",
                       "--stages", "vocab,train,translate,score",
                       "--set", f"run.data_dir={os.path.join(corpus, 'data')}", "--set", f"train_steps={a.steps}",
                       "--set", f"save_checkpoint_steps={a.steps}"]
                cmd += sum((["--set", s] for s in a.set), [])
                if os.path.isdir(run_dir):
                    cmd.append("--resume")
                print(f"==> {name}", flush=True)
                if subprocess.run(cmd).returncode != 0:
                    return 1
                print(f"    {time.time() - t0:.0f} s", flush=True)
            info = json.load(open(os.path.join(run_dir, "run.json")))
            topk = info["scores"]["topk"]
            results.append({"input": inp, "model": model, "top1": topk.get("1"), "top5": topk.get("5"),
                            "top10": topk.get("10"), "invalid": info["scores"].get("invalid_rate"),
                            "train_tok_per_s": _mean_tps(os.path.join(run_dir, "train_steps.csv")),
                            "params_total": info.get("params_total"), "params_active": info.get("params_active"),
                            "steps": a.steps})
    cols = ["input", "model", "top1", "top5", "top10", "invalid", "train_tok_per_s", "params_total", "params_active", "steps"]

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4f}" if v < 10 else f"{v:.0f}"
        return "-" if v is None else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in results]
    table = "\n".join(lines)
    print("\n" + table)
    with open(os.path.join(a.out, "quality_table.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(a.out, "quality_table.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
