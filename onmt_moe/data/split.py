"""Train/val/test split identical to the official two ``train_test_split`` calls.

scikit-learn's ``train_test_split(x, test_size=t, random_state=s, shuffle=True)``
takes ``n_test = ceil(t * n)`` (float product, as sklearn computes it) and the
first ``n_test`` entries of ``RandomState(s).permutation(n)`` as test, the rest as
train, each in permutation order. The official script applies it twice with the
same seed (0.1 test, then 0.05 of the remainder as val). No sklearn needed.
"""

from __future__ import annotations

import math

import numpy as np

TEST_SIZE = 0.1
VAL_SIZE = 0.05


def _tts(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_train <= 0:
        raise ValueError(f"too few rows to split: {n} row(s) with test_size={test_size} leaves an empty train set")
    perm = np.random.RandomState(seed).permutation(n)
    return perm[n_test:], perm[:n_test]


def split_indices(
    n: int, seed: int = 3245, test_size: float = TEST_SIZE, val_size: float = VAL_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) row indices into the de-duplicated rows, in file line order."""
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    try:
        train_full, test = _tts(n, test_size, seed)
        tr_local, val_local = _tts(len(train_full), val_size, seed)
    except ValueError:
        raise ValueError(
            f"too few rows to split: {n} row(s) leave an empty train set "
            f"(test {test_size:g}, val {val_size:g} of the rest)"
        ) from None
    return train_full[tr_local], train_full[val_local], test
