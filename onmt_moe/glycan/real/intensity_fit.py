"""Fit the simulator's intensity rules on real annotated spectra (issue 17, part 3).

For every annotated real spectrum (``realism.annotated_pairs``) the simulator's own theoretical
fragments of the annotated structure (``fragments.theoretical_fragments``, reducing-end tag included)
are looked up in the real spectrum: a fragment's *observed intensity* at charge k is the strongest
real peak within ``tol`` m/z of its [M − kH]^k− ion, in % of the base peak (0 when there is none).
Fragments are pooled by ``fragments.fragment_class`` and charge; the table holds each class's mean
observed intensity (the expected intensity of a fragment of that class — the zeros count), classes
seen fewer than ``min_count`` times are pooled into ``other``, and the precursor's own mean.
Charge k is counted only for precursors of charge >= k.

The table says, in numbers, what the field knows qualitatively for negative-mode CID of reduced
glycans: ions that keep the reducing end (Y, Z, 0,4X / 2,4X) dominate, the sialic acid B ion (m/z 290)
and losses of sialic acid or fucose are strong, and B / C / A ions of the non-reducing side are weak.

Plain Python + numpy (no torch); glypy through fragments.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from onmt_moe.glycan.fragments import SimParams, fragment_class, reducing_end_tag, theoretical_fragments
from onmt_moe.masses import PROTON

from .realism import AnnotatedPair


def observed(peaks: np.ndarray, rel: np.ndarray, mz: float, tol: float) -> float:
    """Strongest relative intensity (% of base) of the real peaks within ``tol`` of ``mz`` (0 if none)."""
    hit = np.abs(peaks[:, 0] - mz) <= tol
    return float(rel[hit].max()) if hit.any() else 0.0


def fit(
    pairs: Sequence[AnnotatedPair], reducing_end: str, tol: float = 0.3, min_count: int = 5, source: str = ""
) -> dict:
    """The ``intensity_rules`` table (see the module doc) from annotated real spectra."""
    params = SimParams(reducing_end=reducing_end)
    tag = reducing_end_tag(params)
    seen, precursor = defaultdict(list), defaultdict(list)
    for pair in pairs:
        peaks = np.asarray(pair.peaks, dtype=float)
        rel = 100.0 * peaks[:, 1] / peaks[:, 1].max()
        z = abs(pair.charge)
        precursor[f"z{z}"].append(observed(peaks, rel, pair.precursor_mz, tol))
        root = pair.glycan.root.id
        for frag in theoretical_fragments(pair.glycan, params):
            mass = float(frag.mass) + (tag if root in frag.included_nodes else 0.0)
            cls = fragment_class(pair.glycan, frag)
            for k in range(1, z + 1):
                seen[f"{cls}:z{k}"].append(observed(peaks, rel, (mass - k * PROTON) / k, tol))
    classes, other = {}, defaultdict(list)
    for key, values in sorted(seen.items()):
        if len(values) >= min_count:
            classes[key] = {"mean": round(float(np.mean(values)), 3), "n": len(values)}
        else:
            other[key.rsplit(":", 1)[1]] += values
    return {
        "fitted_on": source,
        "spectra": len(pairs),
        "reducing_end": reducing_end,
        "tolerance": tol,
        "min_count": min_count,
        "units": "mean relative intensity, % of the base peak, at the m/z of the class's ions",
        "classes": classes,
        "other": {z: round(float(np.mean(v)), 3) for z, v in sorted(other.items())},
        "precursor": {z: round(float(np.mean(v)), 3) for z, v in sorted(precursor.items())},
    }
