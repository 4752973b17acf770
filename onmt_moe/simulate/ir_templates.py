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
benchmark row is held out.  This module only *predicts* from the shipped weights; fitting
them lives in ``ir_fit`` (which imports this module, never the other way).  Refit with

    python -m onmt_moe.simulate.ir_fit fit --data <v2 parquet files> --out <file.npz>

and choose the ridge by cross-validation on the fitting rows (``cv --ridge 3 10 30 100``).
``python -m onmt_moe.simulate.ir_templates fit|cv ...`` still works (it hands over to ir_fit).
"""

from __future__ import annotations

import os
from collections import Counter
from functools import lru_cache

import numpy as np
from rdkit import Chem

from .groups import carbonyl_class

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


def design_matrix(feature_counts: list[Counter], keys: list[str]) -> np.ndarray:
    """Regressors, one row per molecule: count**COUNT_POWER for each key, then the intercept (1)."""
    x = np.array([[fc.get(k, 0) for k in keys] for fc in feature_counts], dtype=float) ** COUNT_POWER
    return np.hstack([x, np.ones((len(feature_counts), 1))])


@lru_cache(maxsize=4)
def load(path: str = DEFAULT_PATH):
    """(keys, weights, set of SMILES the weights were fitted on)."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path}: IR template weights missing (refit: python -m onmt_moe.simulate.ir_fit fit --data ... --out ...)"
        )
    z = np.load(path)
    return [str(k) for k in z["keys"]], z["weights"].astype(float), frozenset(str(s) for s in z["fitted_on"])


def predict(mol: Chem.Mol, path: str = DEFAULT_PATH) -> np.ndarray:
    """Unnormalised, non-negative 1,800-point line spectrum."""
    keys, w, _ = load(path)
    return np.clip(design_matrix([features(mol)], keys)[0] @ w, 0.0, None)


if __name__ == "__main__":  # the old refit command; run as a script, this file is not the module ir_fit imports
    from onmt_moe.simulate.ir_fit import main

    main()
