"""Score n-best WURCS predictions by glycan *graph identity* (glypy), not string equality.

``score_wurcs_files(pred_path, tgt_path, n_best, out_json=None, ranks_csv=None) -> dict``

* pred file: ``n_best`` consecutive lines per target, each a space-tokenised WURCS,
  optionally followed by ``\\t<score>`` (``onmt_translate -n_best N -with_score``).
* tgt file: one space-tokenised (or plain) WURCS per line.
Tokens are joined without spaces (``wurcs_tokenizer.detokenize``) and parsed with
``glypy.io.wurcs.loads``; a prediction that does not parse is invalid and never matches.
A candidate *matches* when its glypy graph equals the target's (``Glycan.__eq__``: same
residues incl. anomers/ring/substituents and same linkage positions; the order of branches or
of the WURCS RES/LIN lists does not matter).  Secondary metrics:
  ``topology_topk``     exact match or glypy ``topological_equality`` (ignores linkage positions)
  ``composition_topk``  same residue composition (glypy HashableGlycanComposition)
  ``mass_topk``         |mass(pred) - mass(target)| < ``mass_tol`` Da (precursor-mass consistency)
An invalid target (does not parse) is reported and left out of every denominator.
Returned dict (also written to ``out_json``)::

    {"kind": "wurcs", "n_best": 5, "n": 300, "n_scored": 300, "n_invalid_targets": 0,
     "topk": {"1": 0.41, ...}, "n_correct": {"1": 123, ...},
     "topology_topk": {...}, "composition_topk": {...}, "mass_topk": {...},
     "invalid_rate": 0.05, "invalid_rate_top1": 0.02, "mass_tol": 0.01, ...}
Ranks CSV: line (1-based), rank (0-based first match, -1 none), rank_topology, rank_composition,
rank_mass, valid_target, top1_valid, top1_score, target, top1.
"""
from __future__ import annotations

import csv
import json
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

from .wurcs_tokenizer import detokenize


def _read(path) -> List[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [ln.rstrip("\n") for ln in fh]
    except OSError as e:
        raise SystemExit(f"error: {path}: {e.strerror}")


def parse_pred_line(line: str) -> Tuple[str, Optional[float]]:
    text, _, score = line.partition("\t")
    try:
        sc = float(score) if score.strip() else None
    except ValueError:
        sc = None
    return detokenize(text), sc


def parse_wurcs(s: str):
    """glypy Glycan or None (empty / unparsable)."""
    if not s or not s.startswith("WURCS="):
        return None
    from glypy.io import wurcs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return wurcs.loads(s)
        except Exception:  # noqa: BLE001 - glypy raises many exception types
            return None


def _composition(g) -> Optional[str]:
    from glypy.structure.glycan_composition import HashableGlycanComposition

    try:
        return HashableGlycanComposition.from_glycan(g).serialize()
    except Exception:  # noqa: BLE001
        return None


def _safe(fn, *a) -> bool:
    try:
        return bool(fn(*a))
    except Exception:  # noqa: BLE001
        return False


def same_structure(a, b) -> bool:
    """Graph identity of two glypy glycans (linkage positions and anomers included)."""
    return a is not None and b is not None and _safe(lambda x, y: x == y, a, b)


def _first(flags: Sequence[bool]) -> int:
    for i, f in enumerate(flags):
        if f:
            return i
    return -1


def _topk(ranks: Sequence[int], n_best: int) -> Tuple[Dict[str, Optional[float]], Dict[str, int]]:
    n = len(ranks)
    cnt = {str(k): sum(1 for r in ranks if 0 <= r < k) for k in range(1, n_best + 1)}
    return {k: (v / n if n else None) for k, v in cnt.items()}, cnt


def score_wurcs_files(pred_path, tgt_path, n_best: int, out_json=None, ranks_csv=None,
                      mass_tol: float = 0.01, verbose: bool = True) -> dict:
    if n_best < 1:
        raise ValueError("n_best must be >= 1")
    tgts = _read(tgt_path)
    preds = _read(pred_path)
    if len(preds) != n_best * len(tgts):
        raise SystemExit(f"error: {pred_path}: {len(preds)} lines, expected n_best*targets = "
                         f"{n_best}*{len(tgts)} = {n_best * len(tgts)} ({tgt_path})")
    cache: Dict[str, object] = {}

    def parse(s):
        if s not in cache:
            cache[s] = parse_wurcs(s)
        return cache[s]

    rows, ranks, r_topo, r_comp, r_mass = [], [], [], [], []
    n_cand = n_invalid = n_invalid_top1 = 0
    invalid_targets = []
    for i, tline in enumerate(tgts):
        t_str = detokenize(tline.split("\t")[0])
        tg = parse(t_str)
        cands = [parse_pred_line(ln) for ln in preds[i * n_best:(i + 1) * n_best]]
        gs = [parse(s) for s, _ in cands]
        n_cand += len(gs)
        n_invalid += sum(g is None for g in gs)
        n_invalid_top1 += int(gs[0] is None)
        row = {"line": i + 1, "valid_target": tg is not None, "top1_valid": gs[0] is not None,
               "top1_score": "" if cands[0][1] is None else cands[0][1], "target": t_str,
               "top1": cands[0][0], "rank": -1, "rank_topology": -1, "rank_composition": -1,
               "rank_mass": -1}
        if tg is None:
            invalid_targets.append(i + 1)
        else:
            t_comp, t_mass = _composition(tg), tg.mass()
            row["rank"] = _first([same_structure(g, tg) for g in gs])
            # topological_equality is False for some identical graphs (glypy quirk), so an
            # exact match always counts as a topology match too
            row["rank_topology"] = _first([g is not None and (same_structure(g, tg) or
                                                              _safe(tg.topological_equality, g))
                                           for g in gs])
            row["rank_composition"] = _first([g is not None and _composition(g) == t_comp
                                              for g in gs])
            row["rank_mass"] = _first([g is not None and _safe(lambda x: abs(x.mass() - t_mass)
                                                               < mass_tol, g) for g in gs])
            ranks.append(row["rank"])
            r_topo.append(row["rank_topology"])
            r_comp.append(row["rank_composition"])
            r_mass.append(row["rank_mass"])
        rows.append(row)
    topk, n_correct = _topk(ranks, n_best)
    res = {
        "kind": "wurcs", "match": "glypy graph identity (Glycan.__eq__)",
        "pred": str(pred_path), "tgt": str(tgt_path), "n_best": n_best,
        "n": len(tgts), "n_scored": len(ranks), "n_invalid_targets": len(invalid_targets),
        "invalid_target_lines": invalid_targets[:100],
        "topk": topk, "n_correct": n_correct,
        "topology_topk": _topk(r_topo, n_best)[0],
        "composition_topk": _topk(r_comp, n_best)[0],
        "mass_topk": _topk(r_mass, n_best)[0], "mass_tol": mass_tol,
        "invalid_rate": n_invalid / n_cand if n_cand else None,
        "invalid_rate_top1": n_invalid_top1 / len(tgts) if tgts else None,
    }
    if out_json:
        with open(out_json, "w") as fh:
            json.dump(res, fh, indent=2)
    if ranks_csv:
        cols = ["line", "rank", "rank_topology", "rank_composition", "rank_mass", "valid_target",
                "top1_valid", "top1_score", "target", "top1"]
        with open(ranks_csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    if verbose:
        print(format_report(res))
    return res


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def format_report(res: dict) -> str:
    lines = [f"top-{k}: {_f(v)}" for k, v in res["topk"].items()]
    lines += [f"topology top-{k}: {_f(v)}" for k, v in res["topology_topk"].items() if k == "1"]
    lines.append(f"composition top-1: {_f(res['composition_topk'].get('1'))}")
    lines.append(f"mass-consistent top-1: {_f(res['mass_topk'].get('1'))}")
    lines.append(f"invalid: {_f(res['invalid_rate'])}")
    lines.append(f"invalid top-1: {_f(res['invalid_rate_top1'])}")
    lines.append(f"scored: {res['n_scored']}/{res['n']}")
    return "\n".join(lines)


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="Score n-best WURCS predictions by graph identity")
    ap.add_argument("--pred", required=True)
    ap.add_argument("--tgt", required=True)
    ap.add_argument("--n_best", type=int, default=1)
    ap.add_argument("--out_json")
    ap.add_argument("--ranks_csv")
    ap.add_argument("--mass_tol", type=float, default=0.01)
    a = ap.parse_args(argv)
    score_wurcs_files(a.pred, a.tgt, a.n_best, a.out_json, a.ranks_csv, a.mass_tol)


if __name__ == "__main__":
    sys.exit(main())
