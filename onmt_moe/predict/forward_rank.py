"""Forward-simulation re-ranking: does a candidate's *simulated* NMR look like the query's?

Each valid n-best candidate is simulated with the project's fast NMR estimator
(``simulate.nmr_fast.predict_fast``: additive increments, deterministic, ~1 ms a molecule) and
compared with the query, per modality, as the cosine of Gaussian-broadened spectra on a fixed
ppm grid:

* ¹³C: one line per symmetry-unique carbon on both sides (nmrshiftdb2 and most papers list each
  unique carbon once; a query that lists symmetric carbons twice is reduced to its distinct values),
  unit height, σ = 2 ppm (the estimator's typical error is a few ppm);
* ¹H: one line per H-bearing symmetry class with its H count as height (the query's integrals
  where given, else 1), σ = 0.15 ppm.

The candidate's score is ``log_prob + w_c · cos_c + w_h · cos_h`` (a modality the query lacks adds
nothing). The weights are *chosen on a validation split* by :func:`fit_weights` (grid search on
top-1) and travel as a small JSON file (:data:`WEIGHTS_FILE` in the run folder); nothing here
picks weights from the data it is scoring. Formula-consistent candidates stay first (as in
``predict.rank``): the simulation only orders candidates within a group.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

WEIGHTS_FILE = "forward_rank.json"
C_GRID = np.arange(-10.0, 240.0, 0.5)
H_GRID = np.arange(-1.0, 14.0, 0.02)
C_SIGMA, H_SIGMA = 2.0, 0.15
GRID_W = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # weights tried by fit_weights, per modality


@dataclass(frozen=True)
class Query:
    """The measured spectra a candidate is compared with: ¹³C shifts, ¹H (shift, nH) pairs."""

    c: tuple[float, ...] = ()
    h: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Weights:
    c: float = 0.0
    h: float = 0.0
    source: str = ""  # where they were chosen (the validation file)

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=1)

    @classmethod
    def load(cls, path: str) -> Weights:
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
            return cls(c=float(d["c"]), h=float(d["h"]), source=str(d.get("source", "")))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a forward-rank weights file ({e})") from None


def spectrum(lines: Iterable[tuple[float, float]], grid: np.ndarray, sigma: float) -> np.ndarray:
    """Sum of unit-area-free Gaussians (height = weight) on ``grid``; the zero vector for no lines."""
    out = np.zeros_like(grid)
    for pos, height in lines:
        out += height * np.exp(-0.5 * ((grid - pos) / sigma) ** 2)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def _distinct(values: Iterable[float], tol: float = 0.05) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


@lru_cache(maxsize=4096)
def simulated(smiles: str) -> Query | None:
    """The candidate's estimated ¹³C (unique carbons) and ¹H (shift, nH per symmetry class); None
    when RDKit or the estimator cannot handle it."""
    from rdkit import Chem

    from onmt_moe.simulate.nmr_fast import predict_fast

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        c_shift, h_shift = predict_fast(mol)
    except Exception:  # noqa: BLE001 - the estimator has no answer for some exotic atoms
        return None
    ranks = list(Chem.CanonicalRankAtoms(mol, breakTies=False))
    c_by_class: dict[int, float] = {}
    h_by_class: dict[int, list[float]] = {}
    for i, s in c_shift.items():
        c_by_class.setdefault(ranks[i], s)
    for i, s in h_shift.items():
        n_h = mol.GetAtomWithIdx(i).GetTotalNumHs()
        acc = h_by_class.setdefault(ranks[i], [s, 0.0])
        acc[1] += n_h
    return Query(c=tuple(sorted(c_by_class.values())), h=tuple((s, n) for s, n in h_by_class.values()))


def similarity(cand: Query, query: Query) -> dict[str, float | None]:
    """{'c': cosine or None (query has no ¹³C), 'h': …}."""
    out: dict[str, float | None] = {"c": None, "h": None}
    if query.c:
        q = spectrum(((s, 1.0) for s in _distinct(query.c)), C_GRID, C_SIGMA)
        out["c"] = cosine(spectrum(((s, 1.0) for s in cand.c), C_GRID, C_SIGMA), q)
    if query.h:
        q = spectrum(query.h, H_GRID, H_SIGMA)
        out["h"] = cosine(spectrum(cand.h, H_GRID, H_SIGMA), q)
    return out


def annotate(rows: list[dict], query: Query, key: str = "smiles") -> None:
    """Add ``sim_c`` / ``sim_h`` (cosines, '' where unknown) to every ranked row, in place."""
    for r in rows:
        sim = simulated(r[key]) if r.get("valid") else None
        s = similarity(sim, query) if sim is not None else {"c": None, "h": None}
        r["sim_c"] = "" if s["c"] is None else round(s["c"], 4)
        r["sim_h"] = "" if s["h"] is None else round(s["h"], 4)


def combined(row: dict, w: Weights) -> float:
    score = float(row["log_prob"])
    for name, weight in (("c", w.c), ("h", w.h)):
        v = row.get(f"sim_{name}", "")
        if v != "":
            score += weight * float(v)
    return score


def rerank(rows: list[dict], w: Weights) -> list[dict]:
    """The ranked rows (``predict.rank.rank_smiles`` output, annotated) re-ordered within their
    consistency group by the combined score; ``rank`` renumbered, duplicates stay unranked."""
    ranked = [r for r in rows if r["rank"] != ""]
    groups: dict[int, int] = {}
    for r in ranked:  # the group order of rank_smiles: keep it, reorder inside a group only
        groups[id(r)] = _group(r)
    ranked.sort(key=lambda r: (groups[id(r)], -combined(r, w), r["beam_rank"]))
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
    rest = [r for r in rows if r["rank"] == ""]
    return ranked + rest


def _group(r: dict) -> int:
    if not r["valid"]:
        return 2
    return 1 if r.get("formula_match") is False else 0


def fit_weights(
    samples: Sequence[tuple[list[dict], str]], grid: Sequence[float] = GRID_W, source: str = ""
) -> tuple[Weights, float]:
    """Weights maximising top-1 over validation ``samples`` (annotated ranked rows, true canonical
    SMILES); ties go to the smaller weights (prefer the model). Returns (weights, top-1)."""
    best: tuple[float, float, float] = (-1.0, math.inf, math.inf)
    for wc in grid:
        for wh in grid:
            w = Weights(wc, wh)
            hits = 0
            for rows, truth in samples:
                first = min((r for r in rows if r["rank"] != ""), key=lambda r: _sort_key(r, w), default=None)
                hits += first is not None and first["smiles"] == truth
            acc = hits / max(1, len(samples))
            if (acc, -(wc + wh)) > (best[0], -(best[1] + best[2])):
                best = (acc, wc, wh)
    return Weights(best[1], best[2], source=source), best[0]


def _sort_key(r: dict, w: Weights):
    return (_group(r), -combined(r, w), r["beam_rank"])


def weights_for(checkpoint: str) -> Weights | None:
    """The validation-chosen weights kept in the checkpoint's run folder, if any."""
    path = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), WEIGHTS_FILE)
    return Weights.load(path) if os.path.isfile(path) else None


def query_from_peaks(c_shifts: Sequence[float] | None, h_peaks: Sequence[dict] | None) -> Query:
    """The query from the predictor's readers: ¹³C shifts and ¹H peak dicts (rangeMax, rangeMin, nH)."""
    h = tuple(((p["rangeMax"] + p["rangeMin"]) / 2, float(p.get("nH") or 1)) for p in (h_peaks or ()))
    return Query(c=tuple(c_shifts or ()), h=h)


# ------------------------------------------------------------------ queries from source lines
def query_from_line(line: str) -> Query:
    """The ¹H / ¹³C sections of a benchmark-format or tagged source line (``1HNMR 7.31 7.25 m 5H |
    … 13CNMR 128.4 …``): ¹H peak centres with their nH, ¹³C shifts."""
    h: list[tuple[float, float]] = []
    c: list[float] = []
    section, peak = None, []
    for tok in line.split() + ["|"]:
        if tok.startswith("<") and tok.endswith(">"):
            continue
        if tok in ("1HNMR", "13CNMR", "IR") or tok[:2] in ("E0", "E1", "E2"):
            if section == "1HNMR":
                _flush_h(peak, h)
            section, peak = tok, []
            continue
        if section == "1HNMR":
            if tok == "|":
                _flush_h(peak, h)
                peak = []
            else:
                peak.append(tok)
        elif section == "13CNMR":
            try:
                c.append(float(tok))
            except ValueError:
                pass
    return Query(c=tuple(c), h=tuple(h))


def _flush_h(peak: list[str], out: list[tuple[float, float]]) -> None:
    try:
        hi, lo = float(peak[0]), float(peak[1])
    except (IndexError, ValueError):
        return
    n_h = next((float(t[:-1]) for t in peak[2:] if t.endswith("H") and t[:-1].isdigit()), 1.0)
    out.append(((hi + lo) / 2, n_h))
