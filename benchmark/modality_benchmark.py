#!/usr/bin/env python
"""Partial-modality benchmark of one run folder (see onmt_moe/runs/modality_benchmark.py).

    python benchmark/modality_benchmark.py --run runs/<run> [--subsets NMR+IR,IR+MS]
        [--mode drop|token] [--keep FORMULA] [--train_each --config configs/x.yaml [--set k=v ...]]

Writes runs/<run>/modality/{modality_table.csv, modality_table.md, modality_heatmap.png,
modality.json, subsets/<NMR-IR>/...}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onmt_moe.runs.modality_benchmark import BenchmarkError, run_benchmark, start_training  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run folder (with run.json, translate.yaml)")
    ap.add_argument("--subsets", help="comma-separated subsets, e.g. NMR+IR,IR+MS (default: all)")
    ap.add_argument(
        "--mode", choices=["drop", "token"], help="how absent modalities are shown (default: the run's missing_mode)"
    )
    ap.add_argument("--keep", default="", help="modalities always given and not enumerated, e.g. FORMULA")
    ap.add_argument("--train_each", action="store_true", help="also train one model per subset")
    ap.add_argument("--config", help="config template for --train_each")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra start_training.py override for --train_each (repeatable)",
    )
    ap.add_argument("--runs_dir", help="where --train_each runs go (default: the run's parent folder)")
    a = ap.parse_args(argv)
    if a.train_each and not a.config:
        ap.error("--train_each needs --config")
    keep = tuple(k.strip() for k in a.keep.split(",") if k.strip())
    train_fn = None
    if a.train_each:
        runs_dir = a.runs_dir or str(Path(a.run).resolve().parent)
        train_fn = start_training(a.config, runs_dir, a.set)
    try:
        res = run_benchmark(a.run, subsets=a.subsets, mode=a.mode, keep=keep, train_fn=train_fn)
    except (BenchmarkError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(Path(res["md"]).read_text())
    print(f"wrote {res['csv']}, {res['md']}" + (f", {res['png']}" if res["png"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
