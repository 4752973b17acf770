"""Fitting the benchmark-like IR group-contribution weights that ``ir_templates`` predicts from.

Ridge regression (one closed-form solve) of the 1,800-point spectra of real benchmark rows on
the sqrt counts of ``ir_templates.features``; k-fold cross-validation on the fitting rows to
choose the ridge; writing the weights file.  A development tool: nothing in the simulators
imports this module (it imports them: ``ir_templates``, ``ir``, ``compare``).

    python -m onmt_moe.simulate.ir_fit fit --data <v2 parquet files> --out <file.npz>
    python -m onmt_moe.simulate.ir_fit cv --data <v2 parquet files> --ridge 3 10 30 100
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

import numpy as np
from rdkit import Chem

from .compare import ir_cosine, load_real_rows
from .ir import IR_GRID, render_lines
from .ir_templates import DEFAULT_PATH, MIN_SUPPORT, RIDGE, design_matrix, features


def fit(smiles: list[str], spectra: np.ndarray, ridge: float = RIDGE, min_support: int = MIN_SUPPORT):
    """(keys, weights (len(keys)+1, 1800)) by ridge regression; the last row is the intercept."""
    fcs = [features(Chem.MolFromSmiles(s)) for s in smiles]
    support = Counter(k for fc in fcs for k in fc)
    keys = sorted(k for k, v in support.items() if v >= min_support)
    x = design_matrix(fcs, keys)
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
    spectra = np.asarray(spectra, dtype=float)
    folds = np.array_split(np.random.default_rng(seed).permutation(len(smiles)), k)
    cos = []
    for j, test in enumerate(folds):
        train = np.concatenate([f for i, f in enumerate(folds) if i != j])
        keys, w = fit([smiles[i] for i in train], spectra[train], ridge, min_support)
        for i in test:
            pred = np.clip(design_matrix([features(Chem.MolFromSmiles(smiles[i]))], keys)[0] @ w, 0.0, None)
            cos.append(ir_cosine(spectra[i], render_lines(pred)))
    return float(np.median(cos))


def save(path: str, keys: list[str], w: np.ndarray, smiles: list[str]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, keys=np.array(keys), weights=w.astype(np.float32), fitted_on=np.array(sorted(smiles)))


def main(argv=None):
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
