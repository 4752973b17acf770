#!/usr/bin/env python
"""`make bench-glycan-real`: train on simulated library spectra, score on the three real sets.

Thin CLI over onmt_moe.runs.glycan_real (see its docstring for the protocol). Resumable: every stage
whose output exists is skipped. Needs the glycan extras (glycowork, glypy, pyteomics).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.glycan_real import Plan, run  # noqa: E402


def main(argv=None) -> int:
    d = Plan()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=d.data, help="library dataset folder (built when missing)")
    ap.add_argument("--run", default=d.run, help="run folder (trained when it has no scores.json)")
    ap.add_argument("--real", default=d.real, help="folder of the real sets (default: the committed data/real_glycan)")
    ap.add_argument("--results", default=d.results, help="table path without extension (.csv and .md)")
    ap.add_argument("--config", default=d.config)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--spectra_per_structure", type=int, default=d.spectra_per_structure)
    ap.add_argument("--max_residues", type=int, default=d.max_residues)
    ap.add_argument("--workers", type=int, default=d.workers)
    ap.add_argument("--twin", action="store_true", help="also the real-subset vs simulated-twin table")
    ap.add_argument("--twin_dir", default=d.twin, help="where the real subsets and twins are written")
    ap.add_argument("--twin_results", default=d.twin_results, help="twin table path without extension")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more start_training --set")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.real):
        print(f"error: {a.real}: no real glycan sets there (pass --real)", file=sys.stderr)
        return 2
    plan = Plan(
        data=a.data,
        run=a.run,
        real=a.real,
        results=a.results,
        config=a.config,
        steps=a.steps,
        spectra_per_structure=a.spectra_per_structure,
        max_residues=a.max_residues,
        workers=a.workers,
        sets=a.set,
        twin=a.twin_dir,
        twin_results=a.twin_results,
    )
    return run(plan, log=lambda m: print(m, flush=True), twin=a.twin)


if __name__ == "__main__":
    sys.exit(main())
