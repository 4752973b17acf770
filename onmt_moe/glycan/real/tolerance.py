"""Measurements behind the ion-trap defaults (masses.py): token firing rates and fragment errors.

``firing_rate``: the fraction of spectra in which at least one token of a family fires
(``NLP_`` precursor losses, ``NLD_`` peak-pair differences, ``DIAG_`` diagnostic ions) under a
SpecTokConfig.  ``decoy=True`` shifts every loss / diagnostic mass by ``DECOY_SHIFT`` Da, a mass no
residue or diagnostic ion has, so the rate measures chance matches at that tolerance: a
tolerance is useful where the real rate clearly exceeds the decoy rate.
``diagnostic_errors``: observed − theoretical m/z of the nearest peak (≥ ``min_rel`` % of base,
within ``window`` Da) to each diagnostic ion, over a set of spectra.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from .. import spectra_tokens as st

DECOY_SHIFT = 2.5
FAMILIES = ("NLP_", "NLD_", "DIAG_")


@contextmanager
def _shifted_tables(shift: float):
    losses, diag = dict(st.LOSSES), dict(st.DIAGNOSTIC)
    try:
        st.LOSSES.update({k: v + shift for k, v in losses.items()})
        st.DIAGNOSTIC.update({k: v + shift for k, v in diag.items()})
        yield
    finally:
        st.LOSSES.update(losses)
        st.DIAGNOSTIC.update(diag)


def firing_rate(spectra: Iterable[dict], cfg: st.SpecTokConfig, decoy: bool = False) -> dict[str, float]:
    """{family: fraction of spectra with >= 1 token of it}; spectra: rows with precursor_mz, charge, peaks."""
    spectra = list(spectra)
    hits = {f: 0 for f in FAMILIES}
    with _shifted_tables(DECOY_SHIFT if decoy else 0.0):
        for r in spectra:
            toks = st.spectrum_tokens(r["precursor_mz"], r["charge"], r["peaks"], cfg)
            for f in FAMILIES:
                hits[f] += any(t.startswith(f) for t in toks)
    n = len(spectra) or 1
    return {f.rstrip("_"): round(hits[f] / n, 4) for f in FAMILIES}


def diagnostic_errors(spectra: Iterable[dict], window: float = 1.0, min_rel: float = 5.0) -> list[float]:
    out = []
    for r in spectra:
        peaks: Sequence = r["peaks"]
        for m in st.DIAGNOSTIC.values():
            near = [(abs(mz - m), mz) for mz, it in peaks if abs(mz - m) <= window and it >= min_rel]
            if near:
                out.append(min(near)[1] - m)
    return out
