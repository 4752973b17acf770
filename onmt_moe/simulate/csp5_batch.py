"""Precompute csp5 shifts on another machine (e.g. one with more cores / a GPU).

  # run (per nucleus) where csp5 is installed:
  python -m onmt_moe.simulate.csp5_batch run --smiles mols.smi --nucleus 13C --out c13.parquet --workers 16
  # merge back into the --csp5-cache used by scripts/simulate_dataset.py:
  python -m onmt_moe.simulate.csp5_batch merge --smiles mols.smi --c13 c13.parquet --h1 h1.parquet --cache cache.pkl

mols.smi holds one canonical SMILES per line (``simulate_dataset.py --dump-smiles``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time


def _read(path):
    with open(path) as fh:
        return [line.strip() for line in fh if line.strip()]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--smiles", required=True)
    r.add_argument("--nucleus", choices=["13C", "1H"], required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--batch-size", type=int, default=256)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto")
    m = sub.add_parser("merge")
    m.add_argument("--smiles", required=True)
    m.add_argument("--c13", required=True)
    m.add_argument("--h1", required=True)
    m.add_argument("--cache", required=True)
    a = p.parse_args(argv)

    import pandas as pd

    from onmt_moe.simulate import nmr

    smiles = _read(a.smiles)
    if a.cmd == "run":
        t0 = time.time()
        df = nmr.csp5_raw(smiles, a.nucleus, a.batch_size, a.workers, a.seed, a.device)
        df.to_parquet(a.out)
        print(
            f"{a.nucleus}: {df.molecule_id.nunique()}/{len(smiles)} molecules, {time.time() - t0:.0f} s",
            file=sys.stderr,
        )
        return 0
    res = nmr.collect_csp5(smiles, pd.read_parquet(a.c13), pd.read_parquet(a.h1))
    cache = {}
    if os.path.exists(a.cache):
        with open(a.cache, "rb") as fh:
            cache = pickle.load(fh)
    for s, x in zip(smiles, res):
        cache[s] = x
    with open(a.cache, "wb") as fh:
        pickle.dump(cache, fh)
    print(f"merged {sum(x is not None for x in res)}/{len(smiles)} into {a.cache}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
