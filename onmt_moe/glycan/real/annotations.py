"""Expert annotations (CandyCrunch's ``df_mz_<set>.csv``) and their matching to spectra.

Columns used: ``Mass`` (observed m/z), ``RT`` (minutes; or ``<file stem>_RT``), ``glycan``
(IUPAC-condensed, glycowork's dialect; empty = a peak the expert could not assign).  When the
csv has a column named after the spectra file's stem (its abundance there), only rows with a
value > 0 belong to that file — the filter of CandyCrunch's tests.

Matching (``match``) is the rule of CandyCrunch's tests (tests/test_CandyCrunch.py,
``match_spectra``), so that numbers compare: both sides rounded to 0.01; for each annotation in
file order, the spectra not yet taken whose precursor m/z — or its 1- equivalent
m/z·z + (z − 1) — is within ``mz_tol`` of the annotated mass; of those, the one nearest in RT,
taken only if within ``rt_tol`` minutes.  One spectrum serves at most one annotation.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .masses import MATCH_MZ_TOL, MATCH_RT_TOL


class AnnotationError(ValueError):
    pass


@dataclass
class Annotation:
    row: int  # data row of the csv (0-based)
    mass: float
    rt: float
    glycan: str | None  # None: unassigned peak


def read_annotations(path: str, spectra_file: str | None = None) -> list[Annotation]:
    import pandas as pd

    try:
        df = pd.read_csv(path, encoding="utf-8-sig")  # one shared set starts with a BOM
    except (OSError, ValueError) as e:
        raise AnnotationError(f"{path}: cannot read the annotation csv ({type(e).__name__}: {str(e)[:100]})") from None
    stem = os.path.splitext(os.path.basename(spectra_file))[0] if spectra_file else None
    rt_col = "RT" if "RT" in df.columns else (f"{stem}_RT" if stem and f"{stem}_RT" in df.columns else None)
    if "Mass" not in df.columns or "glycan" not in df.columns or rt_col is None:
        raise AnnotationError(f"{path}: needs columns Mass, RT (or <file>_RT) and glycan; has {', '.join(df.columns)}")
    keep = [True] * len(df)
    if stem and stem in df.columns:
        keep = [isinstance(v, (int, float)) and v == v and v > 0 for v in pd.to_numeric(df[stem], errors="coerce")]
    out = []
    for i, (m, rt, g, k) in enumerate(zip(df["Mass"], df[rt_col], df["glycan"], keep)):
        if not k:
            continue
        try:
            m, rt = float(m), float(rt)
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}: row {i + 2}: Mass/RT {m!r}/{rt!r} are not numbers") from None
        if not (math.isfinite(m) and math.isfinite(rt)):
            raise AnnotationError(f"{path}: row {i + 2}: Mass/RT {m!r}/{rt!r} are not finite")
        out.append(Annotation(row=i, mass=m, rt=rt, glycan=g.strip() if isinstance(g, str) and g.strip() else None))
    return out


def match(
    annotations: Sequence[Annotation],
    spectra: Sequence[tuple[float, float, int]],
    mz_tol: float = MATCH_MZ_TOL,
    rt_tol: float = MATCH_RT_TOL,
) -> list[tuple[int, int]]:
    """[(annotation index, spectrum index)]; ``spectra``: (precursor m/z, RT, |charge|) each."""
    mz = [round(s[0], 2) for s in spectra]
    mz1 = [round(s[0] * s[2] + (s[2] - 1), 2) for s in spectra]  # 1- equivalent, as CandyCrunch converts
    rt = [round(s[1], 2) for s in spectra]
    used, pairs = set(), []
    for i, a in enumerate(annotations):
        am, art = round(a.mass, 2), round(a.rt, 2)
        cand = [
            j
            for j in range(len(spectra))
            if j not in used and (abs(mz[j] - am) <= mz_tol or abs(mz1[j] - am) <= mz_tol)
        ]
        if not cand:
            continue
        j = min(cand, key=lambda k: (abs(rt[k] - art), k))
        if abs(rt[j] - art) <= rt_tol:
            pairs.append((i, j))
            used.add(j)
    return pairs
