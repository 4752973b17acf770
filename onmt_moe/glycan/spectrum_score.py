"""Score predicted spectra (structure -> spectrum, ``generate_glycan_input.py --pred_spectra``).

Each line (prediction or target) is a token spectrum as written by ``spectra_tokens``:
``PMZ_<k> CHARGE_-z MZ_<a> INT_<q> [NLP_… NLD_… DIAG_…] MZ_<b> INT_<q> …``.  It is read back
as {m/z bin: intensity bin}; annotation tokens are ignored (they follow from the peaks).
Per example, for the top-1 candidate and for the best of the n-best (by cosine):

  ``precision`` / ``recall`` / ``f1``  of the predicted m/z bins against the target's
  ``cosine``   cosine of the two spectra, peak weight = intensity bin + 1
  ``precursor``  1 when the PMZ and CHARGE tokens are right

Means over examples are reported; a candidate without any peak scores 0 (and counts as
``empty``).  ``score_spectrum_files(pred, tgt, n_best, out_json=None, ranks_csv=None)``.
"""

from __future__ import annotations

import math

from onmt_moe.evaluation.files import read_targets_and_nbest, write_result


def read_spectrum(line: str) -> tuple[str | None, dict[int, int]]:
    """(precursor 'PMZ_k CHARGE_-z' or None, {mz bin: intensity bin})."""
    toks = line.split("\t")[0].split()
    prec = " ".join(t for t in toks[:2] if t.startswith(("PMZ_", "CHARGE_"))) or None
    peaks: dict[int, int] = {}
    cur = None
    for t in toks:
        if t.startswith("MZ_"):
            try:
                cur = int(t[3:])
            except ValueError:
                cur = None
        elif t.startswith("INT_") and cur is not None:
            try:
                peaks[cur] = max(peaks.get(cur, 0), int(t[4:]))
            except ValueError:
                pass
            cur = None
    return prec, peaks


def compare(pred: dict[int, int], tgt: dict[int, int]) -> dict[str, float]:
    common = set(pred) & set(tgt)
    p = len(common) / len(pred) if pred else 0.0
    r = len(common) / len(tgt) if tgt else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    dot = sum((pred[k] + 1) * (tgt[k] + 1) for k in common)
    na = math.sqrt(sum((v + 1) ** 2 for v in pred.values()))
    nb = math.sqrt(sum((v + 1) ** 2 for v in tgt.values()))
    cos = dot / (na * nb) if na and nb else 0.0
    return {"precision": p, "recall": r, "f1": f1, "cosine": cos}


def score_spectrum_files(
    pred_path, tgt_path, n_best: int, out_json=None, ranks_csv=None, verbose: bool = False
) -> dict:
    tgts, nbest = read_targets_and_nbest(pred_path, tgt_path, n_best)
    keys = ("precision", "recall", "f1", "cosine", "precursor")
    top1 = {k: 0.0 for k in keys}
    best = {k: 0.0 for k in keys}
    n_empty, rows = 0, []
    for i, tl in enumerate(tgts):
        t_prec, t_peaks = read_spectrum(tl)
        scored = []
        for pl in nbest[i]:
            prec, peaks = read_spectrum(pl)
            m = compare(peaks, t_peaks)
            m["precursor"] = float(prec is not None and prec == t_prec)
            n_empty += int(not peaks)
            scored.append(m)
        b = max(range(len(scored)), key=lambda j: scored[j]["cosine"])
        for k in keys:
            top1[k] += scored[0][k]
            best[k] += scored[b][k]
        rows.append(
            {
                "line": i + 1,
                "best_rank": b,
                **{f"top1_{k}": round(scored[0][k], 4) for k in keys},
                "best_cosine": round(scored[b]["cosine"], 4),
            }
        )
    n = len(tgts)
    res = {
        "kind": "spectrum",
        "pred": str(pred_path),
        "tgt": str(tgt_path),
        "n_best": n_best,
        "n": n,
        "top1": {k: (v / n if n else None) for k, v in top1.items()},
        "best_of_n": {k: (v / n if n else None) for k, v in best.items()},
        "empty_rate": n_empty / (n * n_best) if n else None,
    }
    write_result(res, out_json, rows, ranks_csv)
    if verbose:
        print(format_report(res))
    return res


def format_report(res: dict) -> str:
    f = lambda x: "n/a" if x is None else f"{x:.4f}"  # noqa: E731
    lines = [f"top-1 {k}: {f(v)}" for k, v in res["top1"].items()]
    lines += [
        f"best-of-{res['n_best']} cosine: {f(res['best_of_n']['cosine'])}",
        f"empty: {f(res['empty_rate'])}",
        f"n: {res['n']}",
    ]
    return "\n".join(lines)
