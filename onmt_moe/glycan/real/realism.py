"""How much do simulated spectra look like real ones?  Paired statistics on annotated glycans.

For each annotated real spectrum whose structure converts strictly to WURCS (dataset.iupac_to_wurcs),
the simulator (fragments.simulate_spectrum) makes a spectrum of the same structure and both are
described by ``peak_stats``: peaks at >= 5 % of the base peak, the base peak's m/z, and the
histogram of relative intensities (bins HIST_EDGES, % of base).  ``paired`` reports medians,
how often the base peaks coincide (within ``tol`` m/z) and the mean histograms.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

HIST_EDGES = (0.0, 5.0, 10.0, 25.0, 50.0, 100.01)


def peak_stats(peaks: Sequence[Sequence[float]]) -> Dict:
    base = max(float(p[1]) for p in peaks)
    rel = [100.0 * float(p[1]) / base for p in peaks]
    hist = [sum(1 for r in rel if lo <= r < hi) / len(rel) for lo, hi in zip(HIST_EDGES, HIST_EDGES[1:])]
    return {
        "n5": sum(1 for r in rel if r >= 5.0),
        "n": len(rel),
        "base_mz": float(max(peaks, key=lambda p: float(p[1]))[0]),
        "hist": hist,
    }


def paired(real: List[Sequence], sim: List[Sequence], tol: float = 0.5) -> Dict:
    import numpy as np

    r = [peak_stats(p) for p in real]
    s = [peak_stats(p) for p in sim]
    return {
        "pairs": len(r),
        "peaks_ge5pct_median": {
            "real": float(np.median([x["n5"] for x in r])),
            "sim": float(np.median([x["n5"] for x in s])),
        },
        "peaks_median": {"real": float(np.median([x["n"] for x in r])), "sim": float(np.median([x["n"] for x in s]))},
        "base_peak_same": float(np.mean([abs(a["base_mz"] - b["base_mz"]) <= tol for a, b in zip(r, s)])),
        "intensity_hist_edges_pct": list(HIST_EDGES),
        "intensity_hist": {
            "real": [round(float(v), 3) for v in np.mean([x["hist"] for x in r], axis=0)],
            "sim": [round(float(v), 3) for v in np.mean([x["hist"] for x in s], axis=0)],
        },
    }
