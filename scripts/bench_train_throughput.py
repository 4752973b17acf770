#!/usr/bin/env python
"""Training throughput of the real OpenNMT pipeline: dense vs MoE encoders, same recipe, one run.

Trains each variant for ``--steps`` updates with stock ``onmt_train`` (through start_training,
stages vocab+train) on the same corpus and prints source+target tokens/s (mean over the report
windows after the first, which holds warm-up) and the ratio to dense.

    python scripts/bench_train_throughput.py --data_dir data/demo_tagged/data \
        [--config configs/benchmark_moe.yaml] [--steps 200] [--gpu] [--set key=value ...]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "dense": ["encoder_type=transformer"],
    "moe_top1_E8": ["moe_num_experts=8", "moe_top_k=1"],
    "moe_top2_E8": ["moe_num_experts=8", "moe_top_k=2"],
    "moe_top2_E8_half": ["moe_num_experts=8", "moe_top_k=2", "HALF_FF"],
}


def tps(path):
    rows = list(csv.DictReader(open(path)))[1:]
    if not rows:
        return float("nan")
    return sum(float(r["src_tok_per_s"]) + float(r["tgt_tok_per_s"]) for r in rows) / len(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--config", default=os.path.join(ROOT, "configs", "benchmark_moe.yaml"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument(
        "--bucket_size",
        type=int,
        default=2048,
        help="OpenNMT's default (262144) makes a small corpus cycle for minutes before step 1",
    )
    ap.add_argument("--runs_dir", default=None)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args(argv)
    import yaml

    ff = int(yaml.safe_load(open(a.config)).get("transformer_ff", 2048))
    runs = a.runs_dir or tempfile.mkdtemp(prefix="bench_tps_")
    common = [
        f"run.data_dir={a.data_dir}",
        f"train_steps={a.steps}",
        f"save_checkpoint_steps={a.steps}",
        f"valid_steps={a.steps * 10}",
        f"report_every={max(a.steps // 10, 1)}",
        "accum_count=[1]",
        "moe_grad_norm_every=0",
        f"bucket_size={a.bucket_size}",
    ]
    if a.gpu:
        common += ["world_size=1", "gpu_ranks=[0]"]
    out = {}
    for name, sets in VARIANTS.items():
        sets = [s if s != "HALF_FF" else f"moe_expert_d_ff={[ff // 2] * 8}" for s in sets]
        cmd = [
            sys.executable,
            os.path.join(ROOT, "benchmark", "start_training.py"),
            "--config",
            a.config,
            "--runs_dir",
            runs,
            "--run_name",
            name,
            "--stages",
            "vocab,train",
            "--quiet",
        ]
        for s in common + sets + a.set:
            cmd += ["--set", s]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout[-2000:], r.stderr[-2000:], file=sys.stderr)
            return 1
        out[name] = tps(os.path.join(runs, name, "train_steps.csv"))
        print(f"{name:<18} {out[name]:12.0f} tok/s  ({out[name] / out['dense']:.3f}x dense)", flush=True)
    print(f"runs in {runs}")
    print("ratios " + " ".join(f"{k}={v / out['dense']:.3f}" for k, v in out.items() if k != "dense"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
