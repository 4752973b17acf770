#!/usr/bin/env python
"""The paper's missing-modality table (thin CLI over onmt_moe.runs.missing_modality): each finished
all-modality run scored with every modality present, then with each one removed at test time.

    python scripts/missing_modality.py --runs runs/bench_paper/NMR+IR+MS_moe_values_s1 [more runs] \
        [--n 1000] [--out benchmark/results/missing_modality.csv]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runfolder.layout import RunFolderError  # noqa: E402
from onmt_moe.runs.missing_modality import run_rows, write_outputs  # noqa: E402
from onmt_moe.runs.runner import StageError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="+", required=True, help="finished run folders (translate.yaml, run.json)")
    ap.add_argument("--n", type=int, default=None, help="the first N test sources (default: all)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmark", "results", "missing_modality.csv"))
    a = ap.parse_args(argv)
    if a.n is not None and a.n < 1:
        print("error: --n must be >= 1", file=sys.stderr)
        return 2
    rows = []
    for run in a.runs:
        try:
            rows += run_rows(run, a.n)
        except (FileNotFoundError, RunFolderError, StageError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    write_outputs(rows, a.out)
    for r in rows:
        print(f"{r['model']:>10} {r['representation']:>15}  without {r['removed']:<8} top-1 {100 * r['top1']:.1f} %")
    print(f"{len(rows)} rows -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
