#!/usr/bin/env python
"""Simulate the molecules of real benchmark rows and print real vs simulated statistics.

  python scripts/compare_to_benchmark.py [--data a.parquet b.parquet] [--csp5] [--ir-style benchmark|experiment]
                                         [--seed 0] [--json out.json]

Default data: /work/shared/data/benchmark_examples/example_data_{1,2}.parquet (or the
tests/fixtures slice when that is absent).  All logic is in onmt_moe/simulate/compare.py.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

from onmt_moe.simulate import compare, ir  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DEFAULT_DATA = sorted(glob.glob("/work/shared/data/benchmark_examples/example_data_*.parquet")) or sorted(
    glob.glob(os.path.join(ROOT, "tests", "fixtures", "benchmark_examples", "*.parquet"))
)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", nargs="+", default=DEFAULT_DATA, help="benchmark v2 parquet files")
    p.add_argument("--csp5", action="store_true", help="csp5 shifts instead of the --fast estimate")
    p.add_argument("--ir-style", default=ir.DEFAULT_STYLE, choices=ir.STYLES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="only the first N rows")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args(argv)
    if not args.data:
        raise SystemExit("no benchmark parquet files found; pass --data")
    real = compare.load_real_rows(args.data)[: args.limit]
    sim, failures = compare.simulate_like(real, fast=not args.csp5, seed=args.seed, ir_style=args.ir_style)
    for smi, why in failures:
        print(f"simulation failed: {smi}: {why}", file=sys.stderr)
    res = compare.compare_rows(real, sim)
    res["settings"] = {
        "data": args.data,
        "nmr": "csp5" if args.csp5 else "fast",
        "ir_style": args.ir_style,
        "seed": args.seed,
    }
    print(compare.format_report(res))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return res


if __name__ == "__main__":
    main()
