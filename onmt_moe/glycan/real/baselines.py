"""Baselines on real spectra: a random isomer of a composition from the class list.

For an annotation and a pool (the class list's structures of one composition, classlist.py) the
expected scores of a uniform random pick are computed exactly, not sampled:
  top-k = 1 - C(n - a, k) / C(n, k)   (n pool structures, a of them admitted by the annotation,
                                        k distinct picks),
and the expected partial credit (CandyCrunch's similarity) is the mean over the pool — over a
seeded sample of at most ``sim_samples`` non-admitted members when the pool is large (admitted
members score 1).  Two pools: the annotation's own composition (chance given the true
composition) and the composition inferred from the precursor m/z (composition-only: all that
the precursor tells a tool).  An empty pool scores 0.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from math import comb

from .identity import admits, similarity


def chance(
    annotation: str, pool: Sequence[str], ks: Sequence[int] = (1, 5), sim_samples: int = 10, seed: int = 0
) -> dict[str, float]:
    n = len(pool)
    out: dict[str, float] = {"pool": float(n)}
    if not n:
        out.update({f"top{k}": 0.0 for k in ks})
        out["similarity"] = 0.0
        return out
    ok = [admits(annotation, g) for g in pool]
    a = sum(ok)
    for k in ks:
        out[f"top{k}"] = 1.0 - comb(n - a, k) / comb(n, k) if k <= n else float(a > 0)
    others = [g for g, o in zip(pool, ok) if not o]
    if sim_samples and len(others) > sim_samples:
        others = random.Random(f"{seed}|{annotation}").sample(others, sim_samples)
    mean_other = sum(similarity(annotation, g) for g in others) / len(others) if others else 0.0
    out["similarity"] = (a + (n - a) * mean_other) / n
    out["admitted"] = float(a)
    return out
