#!/usr/bin/env python
"""The molecule list behind `make demo`: BRICS pieces of MOSES molecules, 6-14 heavy atoms.

A faster-learning small-molecule tier (NOT benchmark-like: the benchmark's molecules have ~22 heavy
atoms). Needs the molsets wheel (read as data, never imported: `pip install --no-deps molsets==0.3.1`).
Deterministic for --seed. Writes one canonical SMILES a line (gzip), shuffled.

    python scripts/make_demo_molecules.py --out data/demo/small_tier_molecules.smi.gz [--parents 20000]
"""

import argparse
import gzip
import sys

import numpy as np
from rdkit import Chem, RDLogger

from onmt_moe.simulate import molecules


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--parents", type=int, default=20000, help="MOSES training molecules to cut")
    ap.add_argument("--min_heavy", type=int, default=6)
    ap.add_argument("--max_heavy", type=int, default=14)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    try:
        parents = list(molecules.SOURCES["moses_train"][2]())
    except OSError as exc:  # molsets not installed: say how
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(a.seed)
    pick = rng.choice(len(parents), size=min(a.parents, len(parents)), replace=False)
    kept = set()
    for k, i in enumerate(sorted(pick.tolist())):
        for smi in [parents[i], *molecules.brics_fragments(parents[i], keep_non_leaf=True)]:
            mol = Chem.MolFromSmiles(smi)
            if mol is not None and a.min_heavy <= mol.GetNumHeavyAtoms() <= a.max_heavy:
                kept.add(Chem.MolToSmiles(mol))
        if (k + 1) % 2000 == 0:
            print(f"{k + 1}/{len(pick)} parents, {len(kept)} molecules", flush=True)
    out = sorted(kept)
    order = rng.permutation(len(out))
    with gzip.open(a.out, "wt") as fh:
        fh.write("\n".join(out[j] for j in order) + "\n")
    print(f"wrote {len(out)} molecules to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
