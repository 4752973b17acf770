"""Score predicted spectra of the SMILES track (structure -> spectrum, ``generate_input --pred_spectra``).

Targets and predictions are spectra lines of the benchmark format (``1HNMR … 13CNMR … IR … E0Pos …``,
see docs/usage.md, "The source format") or of the tagged format (the same sections inside ``<NAME> … </NAME>``
segments; the tags are ignored). Each line is read back per section and compared with the
target's section of the same name:

``IR``          the 400 integers as a vector: ``ir_cosine`` and ``ir_mae`` (mean absolute difference
                over the target's points; a candidate of another length is cut or padded with 0 and
                counted in ``ir_length_mismatch``)
``E0Pos … E2Neg``  MS/MS peak lists: peaks of the same energy are matched one-to-one within
                ``mz_tol`` (default 0.1, the precision of the tokens), maximising the summed intensity
                products (an assignment problem, solved by scipy); ``msms_precision`` = matched /
                predicted peaks, ``msms_recall`` = matched / target peaks, ``msms_cosine`` = matched
                products over the norms of all peaks (all energies of the example together)
``1HNMR``       peak shifts (centre of each ``max min`` range): ``hnmr_shift_mae``, mean |Δδ| over a
                one-to-one minimum-cost assignment; ``hnmr_count_error`` = |predicted − target peaks|
``13CNMR``      the same on the listed shifts: ``cnmr_shift_mae``, ``cnmr_count_error``

A metric is averaged over the examples whose target has that section. A candidate that lacks a
section its target has scores 0 on cosine/precision/recall, is left out of the MAEs, and counts in
``missing[<section>]``. ``top1`` scores the first candidate, ``best_of_n`` the best candidate per
metric. This module does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from onmt_moe.evaluation import registry
from onmt_moe.evaluation.files import read_targets_and_nbest, write_result

MSMS_HEADERS = ("E0Pos", "E1Pos", "E2Pos", "E0Neg", "E1Neg", "E2Neg")
HEADERS = ("1HNMR", "13CNMR", "IR") + MSMS_HEADERS
TARGET_FORMAT = "benchmark_sections"
# metric -> True when larger is better (for best-of-n)
METRICS = {
    "ir_cosine": True,
    "ir_mae": False,
    "ir_length_mismatch": False,
    "msms_precision": True,
    "msms_recall": True,
    "msms_cosine": True,
    "hnmr_shift_mae": False,
    "hnmr_count_error": False,
    "cnmr_shift_mae": False,
    "cnmr_count_error": False,
}


def is_section_line(line: str) -> bool:
    """Whether a target line is a benchmark spectra line (holds at least one section header)."""
    return any(t in HEADERS for t in line.split("\t")[0].split())


def _floats(tokens: Sequence[str]) -> list[float]:
    out = []
    for t in tokens:
        try:
            v = float(t)
        except ValueError:
            continue
        if math.isfinite(v):
            out.append(v)
    return out


def _hnmr_shifts(tokens: Sequence[str]) -> list[float]:
    """Centre of each ``rmax rmin category nH [J …]`` peak (peaks are separated by ``|``)."""
    shifts, peak = [], []
    for t in list(tokens) + ["|"]:
        if t != "|":
            peak.append(t)
            continue
        pair = _floats(peak[:2])
        if len(pair) == 2:
            shifts.append((pair[0] + pair[1]) / 2)
        peak = []
    return shifts


def read_sections(line: str) -> dict[str, object]:
    """{header: parsed values}: IR -> list of floats, MS/MS -> list of (m/z, intensity), NMR -> shifts."""
    raw: dict[str, list[str]] = {}
    current: str | None = None
    for t in line.split("\t")[0].split():
        if t.startswith("<") and t.endswith(">"):
            continue  # tagged format: segment tags and <MISSING>
        if t in HEADERS:
            current = t
            raw.setdefault(t, [])
        elif current is not None:
            raw[current].append(t)
    out: dict[str, object] = {}
    for head, toks in raw.items():
        if head == "IR":
            out[head] = _floats(toks)
        elif head == "1HNMR":
            out[head] = _hnmr_shifts(toks)
        elif head == "13CNMR":
            out[head] = _floats(toks)
        else:
            v = _floats(toks)
            out[head] = list(zip(v[0::2], v[1::2]))
    return out


def _assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    if cost.size == 0:
        return np.zeros(0, int), np.zeros(0, int)
    return linear_sum_assignment(cost)


def compare_ir(pred: Sequence[float], tgt: Sequence[float]) -> dict[str, float]:
    t = np.asarray(tgt, float)
    p = np.zeros_like(t)
    n = min(len(pred), len(t))
    p[:n] = np.asarray(pred[:n], float)
    norm = float(np.linalg.norm(p) * np.linalg.norm(t))
    return {
        "ir_cosine": float(p @ t) / norm if norm else 0.0,
        "ir_mae": float(np.abs(p - t).mean()) if len(t) else 0.0,
        "ir_length_mismatch": float(len(pred) != len(tgt)),
    }


def match_peaks(pred: Sequence[tuple[float, float]], tgt: Sequence[tuple[float, float]], mz_tol: float):
    """One-to-one matches within ``mz_tol`` with the largest summed intensity product (the rule of
    matchms' CosineHungarian; matchms itself is not a base requirement). Returns the matched products."""
    if not pred or not tgt:
        return []
    pm, pi = np.asarray(pred, float).T
    tm, ti = np.asarray(tgt, float).T
    close = np.abs(pm[:, None] - tm[None, :]) <= mz_tol + 1e-9
    prod = pi[:, None] * ti[None, :]
    # feasible pairs gain their product (+ a tiny bonus so zero-intensity peaks still match)
    rows, cols = _assign(np.where(close, -(prod + 1e-12), 0.0))
    return [float(prod[r, c]) for r, c in zip(rows, cols) if close[r, c]]


def compare_msms(pred: dict[str, object], tgt: dict[str, object], mz_tol: float) -> dict[str, float]:
    matched, n_pred, n_tgt, dot, sq_p, sq_t = 0, 0, 0, 0.0, 0.0, 0.0
    for head in MSMS_HEADERS:
        p, t = pred.get(head) or [], tgt.get(head) or []
        if head not in tgt and head not in pred:
            continue
        products = match_peaks(p, t, mz_tol)
        matched += len(products)
        dot += sum(products)
        n_pred, n_tgt = n_pred + len(p), n_tgt + len(t)
        sq_p += sum(i * i for _, i in p)
        sq_t += sum(i * i for _, i in t)
    norm = math.sqrt(sq_p * sq_t)
    return {
        "msms_precision": matched / n_pred if n_pred else 0.0,
        "msms_recall": matched / n_tgt if n_tgt else 0.0,
        "msms_cosine": dot / norm if norm else 0.0,
    }


def compare_shifts(pred: Sequence[float], tgt: Sequence[float], prefix: str) -> dict[str, float]:
    out = {f"{prefix}_count_error": float(abs(len(pred) - len(tgt)))}
    if pred and tgt:
        cost = np.abs(np.asarray(pred, float)[:, None] - np.asarray(tgt, float)[None, :])
        rows, cols = _assign(cost)
        out[f"{prefix}_shift_mae"] = float(cost[rows, cols].mean())
    return out


def compare(pred: dict[str, object], tgt: dict[str, object], mz_tol: float = 0.1) -> tuple[dict[str, float], list[str]]:
    """Metrics of one candidate against one target, and the target sections the candidate lacks."""
    m: dict[str, float] = {}
    missing = [h for h in tgt if h not in pred]
    if "IR" in tgt:
        m.update(compare_ir(pred.get("IR") or [], tgt["IR"]) if "IR" in pred else {"ir_cosine": 0.0})
    if any(h in tgt for h in MSMS_HEADERS):
        m.update(compare_msms(pred, tgt, mz_tol))
    for head, prefix in (("1HNMR", "hnmr"), ("13CNMR", "cnmr")):
        if head in tgt and head in pred:
            m.update(compare_shifts(pred[head], tgt[head], prefix))
    return m, missing


def _best(values: list[float], larger_is_better: bool) -> float:
    return max(values) if larger_is_better else min(values)


def _mean(d: dict[str, list[float]]) -> dict[str, float | None]:
    return {k: (sum(v) / len(v) if v else None) for k, v in d.items()}


def score_section_spectra(pred_path, tgt_path, n_best: int, out_json=None, ranks_csv=None, mz_tol: float = 0.1) -> dict:
    """Score an n-best file of predicted spectra lines; see the module docstring."""
    tgts, nbest = read_targets_and_nbest(pred_path, tgt_path, n_best)
    top1: dict[str, list[float]] = {k: [] for k in METRICS}
    best: dict[str, list[float]] = {k: [] for k in METRICS}
    sections: dict[str, int] = {}
    missing: dict[str, int] = {}
    rows = []
    for i, tl in enumerate(tgts):
        tgt = read_sections(tl)
        for h in tgt:
            sections[h] = sections.get(h, 0) + 1
        scored = [compare(read_sections(pl), tgt, mz_tol) for pl in nbest[i]]
        for h in scored[0][1]:
            missing[h] = missing.get(h, 0) + 1
        for k, larger in METRICS.items():
            vals = [m[k] for m, _ in scored if k in m]
            if k in scored[0][0]:
                top1[k].append(scored[0][0][k])
            if vals:
                best[k].append(_best(vals, larger))
        rows.append(
            {"line": i + 1, **{k: round(v, 4) for k, v in scored[0][0].items()}, "missing": " ".join(scored[0][1])}
        )
    res = {
        "kind": "spectrum",
        "target_format": TARGET_FORMAT,
        "pred": str(pred_path),
        "tgt": str(tgt_path),
        "n_best": n_best,
        "n": len(tgts),
        "mz_tol": mz_tol,
        "sections": dict(sorted(sections.items())),
        "missing": dict(sorted(missing.items())),
        "top1": {k: v for k, v in _mean(top1).items() if v is not None},
        "best_of_n": {k: v for k, v in _mean(best).items() if v is not None},
    }
    names = ["line"] + [k for k in METRICS if any(k in r for r in rows)] + ["missing"]
    write_result(res, out_json, rows, ranks_csv, names)
    return res


def format_report(res: dict) -> str:
    lines = [
        f"spectra ({res['target_format']}), n: {res['n']}, sections: "
        + ", ".join(f"{k} {v}" for k, v in res["sections"].items())
    ]
    for k, v in res["top1"].items():
        lines.append(f"top-1 {k}: {v:.4f}   best-of-{res['n_best']}: {res['best_of_n'].get(k, float('nan')):.4f}")
    if res["missing"]:
        lines.append(
            "top-1 candidates lacking a target section: " + ", ".join(f"{k} {v}" for k, v in res["missing"].items())
        )
    return "\n".join(lines)


def _score(pred_path, tgt_path, n_best, out_json=None, ranks_csv=None, **_unused) -> dict:
    return score_section_spectra(pred_path, tgt_path, n_best, out_json=out_json, ranks_csv=ranks_csv)


registry.register(registry.Scorer("spectrum", _score, format_report, target_format=TARGET_FORMAT))
