#!/usr/bin/env python
"""`make docs`: write docs/results.md from the tables in benchmark/results/ (onmt_moe.runs.results_doc).

python scripts/make_results_doc.py [--results benchmark/results] [--out docs/results.md] [--check]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package

from onmt_moe.runs import results_doc  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=results_doc.RESULTS_DIR, help="folder of the result CSV files")
    ap.add_argument("--out", default=results_doc.DOC_PATH, help="the page to write")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the page is out of date")
    a = ap.parse_args(argv)
    if a.check:
        if results_doc.is_current(a.results, a.out):
            return 0
        print(f"{a.out} is out of date with {a.results}: run `make docs`", file=sys.stderr)
        return 1
    changed = results_doc.write(a.results, a.out)
    print(f"{'wrote' if changed else 'unchanged'} {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
