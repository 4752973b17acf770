"""Benchmark-like IR: an additive group-contribution model fitted to benchmark example rows.

The benchmark's IR spectra are themselves simulated (narrow lines, FWHM about 3 cm-1, at
positions that depend on the atom and bond types), so the same atom/bond environment gives
lines at nearly the same place in every molecule.  This model writes a spectrum as

    y(nu) = max(0, b(nu) + sum_f sqrt(count_f(mol)) * W_f(nu))

over simple graph features f (atom type by element/aromaticity/hybridisation/H count, X-H
count by hybridisation, carbonyl class, bond type by element pair and order), with W and b
fitted by ridge regression (one closed-form solve) on the 1,800-point spectra of real rows.
No learned model beyond that, no 3D.  Features seen in fewer than MIN_SUPPORT training
molecules are dropped, so a molecule with unseen groups gets only the generic part.

The shipped weights (data/ir_templates_benchmark.npz) are fitted on the 100 rows of
tests/fixtures/benchmark_examples/example_data_1_slim.parquet (CDLA-Sharing-1.0; the
weights are a derivative of those rows and carry the same licence), so every other
benchmark row is held out.  Refit with

    python -m onmt_moe.simulate.ir_templates fit --data <v2 parquet files> --out <file.npz>

and choose the ridge by cross-validation on the fitting rows (``cv --ridge 3 10 30 100``).
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from functools import lru_cache

import numpy as np
from rdkit import Chem

from .ir import IR_GRID, carbonyl_class

MIN_SUPPORT = 3
RIDGE = 10.0
COUNT_POWER = 0.5
DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "ir_templates_benchmark.npz")


def features(mol: Chem.Mol) -> Counter:
    """Counts of simple atom / bond environments (the regressors)."""
    f = Counter()
    for a in mol.GetAtoms():
        sym, nh = a.GetSymbol(), a.GetTotalNumHs()
        arom = "ar" if a.GetIsAromatic() else ""
        f[f"A:{sym}{arom}{a.GetHybridization()}H{nh}"] += 1
        if nh:
            f[f"XH:{sym}{arom or a.GetHybridization()}"] += nh
        if sym == "C" and any(
            b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(a).GetSymbol() == "O" for b in a.GetBonds()
        ):
            f["CO:" + carbonyl_class(mol, a)] += 1
    for b in mol.GetBonds():
        s1, s2 = sorted((b.GetBeginAtom().GetSymbol(), b.GetEndAtom().GetSymbol()))
        f[f"B:{s1}{str(b.GetBondType())[:3]}{s2}"] += 1
    return f


def _design(feature_counts: list[Counter], keys: list[str]) -> np.ndarray:
    x = np.array([[fc.get(k, 0) for k in keys] for fc in feature_counts], dtype=float) ** COUNT_POWER
    return np.hstack([x, np.ones((len(feature_counts), 1))])


def fit(smiles: list[str], spectra: np.ndarray, ridge: float = RIDGE, min_support: int = MIN_SUPPORT):
    """(keys, weights (len(keys)+1, 1800)) by ridge regression; the last row is the intercept."""
    fcs = [features(Chem.MolFromSmiles(s)) for s in smiles]
    support = Counter(k for fc in fcs for k in fc)
    keys = sorted(k for k, v in support.items() if v >= min_support)
    x = _design(fcs, keys)
    reg = ridge * np.eye(x.shape[1])
    reg[-1, -1] = 0.0  # the intercept is not shrunk
    w = np.linalg.solve(x.T @ x + reg, x.T @ np.asarray(spectra, dtype=float))
    return keys, w


def cross_validate(
    smiles: list[str],
    spectra: np.ndarray,
    ridge: float = RIDGE,
    min_support: int = MIN_SUPPORT,
    k: int = 5,
    seed: int = 0,
) -> float:
    """Median IR cosine of k-fold cross-validation on the fitting rows (each fold predicted by
    weights fitted on the others, finished like a simulated spectrum) -- how to choose ``ridge`` and
    ``min_support`` without touching held-out rows."""
    from .compare import ir_cosine
    from .ir import render_lines

    spectra = np.asarray(spectra, dtype=float)
    folds = np.array_split(np.random.default_rng(seed).permutation(len(smiles)), k)
    cos = []
    for j, test in enumerate(folds):
        train = np.concatenate([f for i, f in enumerate(folds) if i != j])
        keys, w = fit([smiles[i] for i in train], spectra[train], ridge, min_support)
        for i in test:
            pred = np.clip(_design([features(Chem.MolFromSmiles(smiles[i]))], keys)[0] @ w, 0.0, None)
            cos.append(ir_cosine(spectra[i], render_lines(pred)))
    return float(np.median(cos))


def save(path: str, keys: list[str], w: np.ndarray, smiles: list[str]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, keys=np.array(keys), weights=w.astype(np.float32), fitted_on=np.array(sorted(smiles)))


@lru_cache(maxsize=4)
def load(path: str = DEFAULT_PATH):
    """(keys, weights, set of SMILES the weights were fitted on)."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path}: IR template weights missing (refit: python -m "
            "onmt_moe.simulate.ir_templates fit --data ... --out ...)"
        )
    z = np.load(path)
    return [str(k) for k in z["keys"]], z["weights"].astype(float), frozenset(str(s) for s in z["fitted_on"])


def predict(mol: Chem.Mol, path: str = DEFAULT_PATH) -> np.ndarray:
    """Unnormalised, non-negative 1,800-point line spectrum."""
    keys, w, _ = load(path)
    return np.clip(_design([features(mol)], keys)[0] @ w, 0.0, None)


def main(argv=None):
    from .compare import load_real_rows

    p = argparse.ArgumentParser(description="fit the benchmark-like IR group-contribution weights")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit")
    f.add_argument("--data", nargs="+", required=True)
    f.add_argument("--out", default=DEFAULT_PATH)
    cv = sub.add_parser("cv", help="k-fold cross-validated median IR cosine on the fitting rows")
    cv.add_argument("--data", nargs="+", required=True)
    cv.add_argument("--ridge", type=float, nargs="+", default=[RIDGE])
    cv.add_argument("--min_support", type=int, default=MIN_SUPPORT)
    args = p.parse_args(argv)
    rows = load_real_rows(args.data)
    smiles = [r["smiles"] for r in rows]
    spectra = np.array([np.asarray(r["ir_spectra"], float) for r in rows])
    if args.cmd == "cv":
        for ridge in args.ridge:
            cos = cross_validate(smiles, spectra, ridge, args.min_support)
            print(f"ridge {ridge:g}, min_support {args.min_support}: 5-fold median IR cosine {cos:.3f}")
        return
    keys, w = fit(smiles, spectra)
    save(args.out, keys, w, smiles)
    print(f"fitted {len(keys)} features on {len(rows)} rows -> {args.out} ({IR_GRID.size} points)")


if __name__ == "__main__":
    main()
