"""How much do simulated spectra look like real ones?  Paired statistics on annotated glycans.

For each annotated real spectrum whose structure converts strictly to WURCS (dataset.iupac_to_wurcs),
the simulator (fragments.simulate_spectrum) makes a spectrum of the same structure and both are
described by ``peak_stats``: peaks at >= 5 % of the base peak, the base peak's m/z, and the
histogram of relative intensities (bins HIST_EDGES, % of base).  ``paired`` reports medians,
how often the base peaks coincide (within ``tol`` m/z), the mean histograms and the per-structure
matched-peak cosine of real vs simulated (``matched_cosine``, 0.3 m/z).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HIST_EDGES = (0.0, 5.0, 10.0, 25.0, 50.0, 100.01)


@dataclass
class AnnotatedPair:
    peaks: list[list[float]]  # the real spectrum
    precursor_mz: float
    charge: int  # negative, as read
    glycan: object  # glypy structure of the annotation
    wurcs: str
    iupac: str = ""  # the annotation as written
    rt: float = 0.0  # minutes
    precursor_intensity: float = 0.0


def add_annotated_set_options(ap) -> None:
    """``--spectra``, ``--annotations``, ``--glycan_class``: one annotated real set, as every script names it."""
    from .classlist import CLASSES

    ap.add_argument("--spectra", required=True, help=".xlsx (CandyCrunch layout), .mzML or .mzXML")
    ap.add_argument("--annotations", required=True, help="df_mz csv: Mass, RT, glycan")
    ap.add_argument("--glycan_class", required=True, choices=CLASSES)


def annotated_pairs(spectra: str, annotations: str, glycan_class: str) -> tuple[list[AnnotatedPair], dict[str, int]]:
    """Real spectra whose annotation converts strictly to WURCS, with that structure; and the count of
    annotations that cannot be simulated, by reason (ambiguous linkages and the like)."""
    import warnings

    from onmt_moe.glycan.dataset import ConversionError, iupac_to_wurcs

    from . import classlist
    from .annotations import match, read_annotations
    from .spectra_io import read_spectra

    anns = read_annotations(annotations, spectra)
    read = read_spectra(spectra, glycan_class=glycan_class, known=classlist.load(glycan_class).known)
    out, skipped = [], {}
    for i, j in match(anns, [(r["precursor_mz"], r["rt"], -r["charge"]) for r in read.rows]):
        if not anns[i].glycan:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # glypy stereocode chatter
                w, _, glycan = iupac_to_wurcs(anns[i].glycan)
        except ConversionError as e:
            skipped[e.reason] = skipped.get(e.reason, 0) + 1
            continue
        row = read.rows[j]
        out.append(
            AnnotatedPair(
                row["peaks"],
                float(row["precursor_mz"]),
                int(row["charge"]),
                glycan,
                w,
                anns[i].glycan,
                float(row["rt"]),
                float(row.get("precursor_intensity") or 0.0),
            )
        )
    return out, skipped


def write_twin(pairs: Sequence[AnnotatedPair], params, xlsx: str, annotations_csv: str) -> int:
    """The annotated structures of a real set, simulated (``params``: SimParams), written as a
    CandyCrunch-layout spectra file (``reducing_mass``, ``peak_d``, ``RT``, ``intensity``; the real
    spectrum's RT) and its ``df_mz`` annotation csv (precursor m/z, RT, IUPAC): any tool that reads the
    real set (CandyCrunch, evaluate_real_glycan.py) can then be run on its simulated twin. With
    ``params=None`` the matched *real* spectra are written the same way: the control on the same
    annotations."""
    import os

    import pandas as pd

    from onmt_moe.glycan.fragments import simulate_spectrum

    stem = os.path.splitext(os.path.basename(xlsx))[0]
    spectra, anns = [], []
    for pair in pairs:
        if params is None:
            prec, peaks = pair.precursor_mz, pair.peaks
        else:
            sim = simulate_spectrum(pair.glycan, pair.wurcs, params)
            prec, peaks = sim["precursor_mz"], sim["peaks"]
        # a peak that rounds to intensity 0 is no peak (and CandyCrunch's weighted means fail on all-zero groups)
        peak_d = "{" + ", ".join(f"{float(mz)!r}: {float(it)!r}" for mz, it in peaks if it > 0) + "}"
        spectra.append({"reducing_mass": prec, "peak_d": peak_d, "RT": pair.rt, "intensity": pair.precursor_intensity})
        anns.append({"Mass": round(prec, 2), "RT": round(pair.rt, 2), "glycan": pair.iupac, stem: 1})
    pd.DataFrame(spectra).to_excel(xlsx, index=False)
    pd.DataFrame(anns).to_csv(annotations_csv, index=False)
    return len(spectra)


def peak_stats(peaks: Sequence[Sequence[float]]) -> dict:
    base = max(float(p[1]) for p in peaks)
    rel = [100.0 * float(p[1]) / base for p in peaks]
    hist = [sum(1 for r in rel if lo <= r < hi) / len(rel) for lo, hi in zip(HIST_EDGES, HIST_EDGES[1:])]
    return {
        "n5": sum(1 for r in rel if r >= 5.0),
        "n": len(rel),
        "base_mz": float(max(peaks, key=lambda p: float(p[1]))[0]),
        "hist": hist,
    }


def matched_cosine(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], tol: float) -> float:
    """Cosine of two peak lists over one-to-one peak matches within ``tol`` m/z (the matching of
    ``evaluation.spectrum_scoring.match_peaks``, matchms' CosineHungarian rule; intensities as given)."""
    import math

    from onmt_moe.evaluation.spectrum_scoring import match_peaks

    norm = math.sqrt(sum(float(i) ** 2 for _, i in a) * sum(float(i) ** 2 for _, i in b))
    pa, pb = [(float(m), float(i)) for m, i in a], [(float(m), float(i)) for m, i in b]
    return sum(match_peaks(pa, pb, tol)) / norm if norm else 0.0


def annotated_charge(pair: AnnotatedPair, reducing_end: str, charges: Sequence[int] = (1, 2, 3)) -> int:
    """The charge state the annotation implies: the z whose [M - zH]^z- of the annotated structure (with its
    reducing-end tag) lies nearest the measured precursor m/z. The reader's own charge is an inference
    from the precursor alone (``charge.py``) and can pick another z."""
    from .charge import neutral_glycan_mass

    mass = float(pair.glycan.mass())
    # the m/z error at charge z is the neutral-mass error divided by z
    return min(charges, key=lambda z: abs(neutral_glycan_mass(pair.precursor_mz, z, reducing_end) - mass) / z)


def charge_agreement(true_charges: Sequence[int], other_charges: Sequence[int], name: str = "simulated") -> dict:
    """How often ``other_charges`` (the simulator's, or the reader's inference) match the annotation's
    charge states, and the disagreements as ``"annotated zA, <name> zB": count``."""
    pairs = [(abs(int(r)), abs(int(s))) for r, s in zip(true_charges, other_charges)]
    wrong: dict[str, int] = {}
    for r, s in pairs:
        if r != s:
            key = f"annotated z{r}, {name} z{s}"
            wrong[key] = wrong.get(key, 0) + 1
    agree = sum(r == s for r, s in pairs)
    return {"agree": agree, "of": len(pairs), "fraction": agree / len(pairs) if pairs else None, "disagree": wrong}


def paired(real: list[Sequence], sim: list[Sequence], tol: float = 0.5) -> dict:
    import numpy as np

    from .masses import ION_TRAP_FRAGMENT_TOL

    r = [peak_stats(p) for p in real]
    s = [peak_stats(p) for p in sim]
    cosine = [matched_cosine(a, b, ION_TRAP_FRAGMENT_TOL) for a, b in zip(real, sim)]
    return {
        "pairs": len(r),
        # the same molecule, real vs simulated: greedy matched-peak cosine at the ion-trap tolerance
        "cosine": {"median": float(np.median(cosine)), "mean": float(np.mean(cosine))},
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
