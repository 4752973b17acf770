#!/usr/bin/env python
"""`make bench-levers`: the demo's recipe levers, one at a time (thin CLI over onmt_moe.runs.levers).

Every lever is the demo model with a few overrides, trained for the same steps on the same corpus,
scored on the VALIDATION split (the selection split; the test split is left to `make demo`) and on
400 training molecules. Resumable: run it again to continue after --max_hours.

    python scripts/bench_levers.py [--data data/demo_small_tagged/data] [--levers baseline,dropout_0.1,...]
        [--steps 2000] [--out runs/levers] [--results benchmark/results/demo_levers.csv] [--max_hours 2.5]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.levers import LEVERS, ROOT, run_levers, write_outputs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "demo_small_tagged", "data"))
    ap.add_argument("--levers", default=",".join(LEVERS), help=f"comma-separated, from: {', '.join(LEVERS)}")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=3245)
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "levers"))
    ap.add_argument("--results", default=os.path.join(ROOT, "benchmark", "results", "demo_levers.csv"))
    ap.add_argument("--max_hours", type=float, default=None)
    a = ap.parse_args(argv)
    if not os.path.exists(os.path.join(a.data, "src-val.txt")):
        print(f"error: no corpus in {a.data} (make demo builds data/demo_small_tagged)", file=sys.stderr)
        return 2
    try:
        rows = run_levers(
            a.data, a.out, [n.strip() for n in a.levers.split(",") if n.strip()], a.steps, a.seed, a.max_hours
        )
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(write_outputs(rows, a.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
