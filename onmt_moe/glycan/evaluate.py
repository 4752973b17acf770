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
A candidate also matches when its WURCS graph is isomorphic to the target's (``wurcs_graph.py``:
same ResidueCodes, same labelled linkages): glypy takes the first RES as the root and reads a
non-canonical RES order as a different tree.  A target glypy cannot read (bridge MAPs, floating residues, some ambiguous linkages) is matched
by WURCS-graph isomorphism instead (``wurcs_graph.py``; counted in ``n_wurcs_graph_targets``,
no mass metric); a target neither can read is reported and left out of every denominator.
With ``src_path`` (the source file, for its ``PMZ_<k>`` / ``CHARGE_-z`` tokens) the n-best is
also scored after **precursor-mass re-ranking**: candidates whose [M-zH]z- falls in the source's
precursor bin move to the front, beam order kept (``mass_reranked_topk``) — the mass check a
glycomics search engine applies, using nothing but the spectrum.
Returned dict (also written to ``out_json``)::

    {"kind": "wurcs", "n_best": 5, "n": 300, "n_scored": 300, "n_invalid_targets": 0,
     "topk": {"1": 0.41, ...}, "n_correct": {"1": 123, ...},
     "topology_topk": {...}, "composition_topk": {...}, "mass_topk": {...},
     "invalid_rate": 0.05, "invalid_rate_top1": 0.02, "mass_tol": 0.01, ...}
Ranks CSV: line (1-based), rank (0-based first match, -1 none), rank_topology, rank_composition,
rank_mass, valid_target, top1_valid, top1_score, target, top1.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections import Counter
from collections.abc import Sequence

from onmt_moe.evaluation.files import ScoringError, read_lines, read_targets_and_nbest, write_result

from ..masses import PROTON
from . import wurcs_graph
from .wurcs_tokenizer import detokenize


def parse_pred_line(line: str) -> tuple[str, float | None]:
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


def _composition(g) -> str | None:
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


def _wg_same(w, wt, same=wurcs_graph.same_structure) -> bool:
    return w is not None and wt is not None and same(w, wt)


def _first(flags: Sequence[bool]) -> int:
    for i, f in enumerate(flags):
        if f:
            return i
    return -1


def _topk(ranks: Sequence[int], n_best: int) -> tuple[dict[str, float | None], dict[str, int]]:
    n = len(ranks)
    cnt = {str(k): sum(1 for r in ranks if 0 <= r < k) for k in range(1, n_best + 1)}
    return {k: (v / n if n else None) for k, v in cnt.items()}, cnt


def _precursors(src_path, n: int) -> list[tuple[int, int] | None]:
    """(PMZ bin, |charge|) of each source line, None where the line has no precursor bin."""
    lines = read_lines(src_path)
    if len(lines) != n:
        raise ScoringError(f"{src_path}: {len(lines)} lines, expected {n} (one per target)")
    out = []
    for ln in lines:
        k = z = None
        toks = ln.split()
        for i, t in enumerate(toks):
            # PMZ_<k>, or with numeric peaks the bare bin right after <MS> (spectra_tokens.py)
            numeric = i > 0 and toks[i - 1] == "<MS>" and t.isdigit()
            if (t.startswith("PMZ_") or numeric) and k is None:
                try:
                    k = int(t[4:] if t.startswith("PMZ_") else t)
                except ValueError:
                    pass
            elif t.startswith("CHARGE_") and z is None:
                try:
                    z = abs(int(t[7:])) or 1
                except ValueError:
                    pass
        out.append(None if k is None else (k, z or 1))
    return out


def _mass_consistent(g, prec, mz_bin: float) -> bool:
    """Does glycan g, deprotonated at the source's charge, fall in the source's precursor bin?"""
    if g is None or prec is None:
        return False
    k, z = prec
    try:
        return math.floor((g.mass() - z * PROTON) / z / mz_bin) == k
    except Exception:  # noqa: BLE001
        return False


def corpus_mz_bin(src_path, default: float = 1.0) -> float:
    """The PMZ bin width recorded in the corpus summary.json (``<corpus>/data/src-*.txt``)."""
    for d in (os.path.dirname(os.path.abspath(src_path)), os.path.dirname(os.path.dirname(os.path.abspath(src_path)))):
        try:
            with open(os.path.join(d, "summary.json")) as fh:
                return float(json.load(fh)["spectrum_tokens"]["mz_bin"])
        except (OSError, KeyError, TypeError, ValueError):
            continue
    return default


def _cached(parse):
    """``parse`` memoised per string (an n-best repeats candidates across lines)."""
    cache: dict[str, object] = {}

    def get(s):
        if s not in cache:
            cache[s] = parse(s)
        return cache[s]

    return get


def _match_levels(tg, wt, gs, strs, parse_wg, mass_tol: float):
    """Per candidate: same structure, same topology, same composition, same mass as the target.

    ``tg``/``gs``: glypy glycans (None where glypy cannot read one); ``wt``: the target's WURCS graph.
    Where glypy reads the target, identity is glypy's or the WURCS graph's (glypy reads a
    non-canonical RES order -- root not first, child before parent -- as a different tree); else
    WURCS-graph identity alone and no mass.
    """
    if tg is None:
        ws = [parse_wg(s) for s in strs]
        match = [w is not None and wurcs_graph.same_structure(w, wt) for w in ws]
        topo = [w is not None and wurcs_graph.same_topology(w, wt) for w in ws]
        comp = [w is not None and w.composition() == wt.composition() for w in ws]
        return match, topo, comp, [False] * len(ws)
    t_comp, t_mass = _composition(tg), tg.mass()
    match = [same_structure(g, tg) or _wg_same(parse_wg(s), wt) for g, s in zip(gs, strs)]
    # topological_equality is False for some identical graphs (glypy quirk), so an exact match
    # always counts as a topology match too
    topo = [
        m
        or (g is not None and _safe(tg.topological_equality, g))
        or _wg_same(parse_wg(s), wt, wurcs_graph.same_topology)
        for g, m, s in zip(gs, match, strs)
    ]
    comp = [g is not None and _composition(g) == t_comp for g in gs]
    mass = [g is not None and _safe(lambda x: abs(x.mass() - t_mass) < mass_tol, g) for g in gs]
    return match, topo, comp, mass


# ranks.csv columns, in order
RANK_COLUMNS = (
    "line",
    "rank",
    "rank_topology",
    "rank_composition",
    "rank_mass",
    "rank_mass_reranked",
    "target_read_by",
    "valid_target",
    "top1_valid",
    "top1_score",
    "target",
    "top1",
)


def score_wurcs_files(
    pred_path,
    tgt_path,
    n_best: int,
    out_json=None,
    ranks_csv=None,
    mass_tol: float = 0.01,
    verbose: bool = True,
    src_path=None,
    mz_bin: float | None = None,
) -> dict:
    """Score n-best WURCS; with ``src_path`` also after precursor-mass re-ranking (see module doc).
    ``mz_bin`` defaults to the corpus summary.json's value (else 1.0)."""
    tgts, nbest = read_targets_and_nbest(pred_path, tgt_path, n_best)
    precs = _precursors(src_path, len(tgts)) if src_path else None
    if src_path and mz_bin is None:
        mz_bin = corpus_mz_bin(src_path)
    parse, parse_wg = _cached(parse_wurcs), _cached(wurcs_graph.try_parse)
    rows: list[dict] = []
    counts: Counter = Counter()  # candidates, invalid ones, invalid top-1s
    for i, tline in enumerate(tgts):
        t_str = detokenize(tline.split("\t")[0])
        tg = parse(t_str)
        cands = [parse_pred_line(ln) for ln in nbest[i]]
        gs = [parse(s) for s, _ in cands]
        counts.update(candidates=len(gs), invalid=sum(g is None for g in gs), invalid_top1=int(gs[0] is None))
        rows.append(_wurcs_row(i, t_str, tg, cands, gs, parse_wg, mass_tol, precs, mz_bin))
    res = _wurcs_result(rows, counts, pred_path, tgt_path, n_best, mass_tol)
    if precs is not None:
        res["mass_reranked_topk"] = _topk([r["rank_mass_reranked"] for r in rows if r["target_read_by"]], n_best)[0]
        res["mass_rerank"] = {
            "src": str(src_path),
            "mz_bin": mz_bin,
            "rule": "candidates whose [M-zH]z- falls in the source PMZ bin first, beam order kept within each group",
        }
    write_result(res, out_json, rows, ranks_csv, list(RANK_COLUMNS))
    if verbose:
        print(format_report(res))
    return res


def _wurcs_row(i: int, t_str: str, tg, cands, gs, parse_wg, mass_tol: float, precs, mz_bin) -> dict:
    """Line ``i``'s row of ranks.csv: the rank of the first candidate that matches the target at each
    level (-1: none), with ``precs`` also after precursor-mass re-ranking; ``target_read_by`` is ""
    for a target neither glypy nor the WURCS graph reads (not scored)."""
    row = {
        "line": i + 1,
        "valid_target": tg is not None,
        "top1_valid": gs[0] is not None,
        "top1_score": "" if cands[0][1] is None else cands[0][1],
        "target": t_str,
        "top1": cands[0][0],
        "rank": -1,
        "rank_topology": -1,
        "rank_composition": -1,
        "rank_mass": -1,
        "rank_mass_reranked": -1,
        "target_read_by": "glypy",
    }
    wt = parse_wg(t_str)
    if tg is None and wt is None:
        row["target_read_by"] = ""
        return row
    if tg is None:  # glypy cannot read the target: WURCS-graph identity (wurcs_graph.py); no mass
        row["valid_target"], row["target_read_by"] = True, "wurcs_graph"
    match, topo, comp, mass = _match_levels(tg, wt, gs, [s for s, _ in cands], parse_wg, mass_tol)
    row["rank"], row["rank_topology"] = _first(match), _first(topo)
    row["rank_composition"], row["rank_mass"] = _first(comp), _first(mass)
    if precs is not None:  # stable partition: candidates in the precursor bin first
        ok = [_mass_consistent(g, precs[i], mz_bin) for g in gs]
        order = [j for j in range(len(gs)) if ok[j]] + [j for j in range(len(gs)) if not ok[j]]
        row["rank_mass_reranked"] = _first([match[j] for j in order])
    return row


def _wurcs_result(rows: list[dict], counts: Counter, pred_path, tgt_path, n_best: int, mass_tol: float) -> dict:
    """The result of :func:`score_wurcs_files` (without the re-ranking) from its rows."""
    scored = [r for r in rows if r["target_read_by"]]
    invalid_targets = [r["line"] for r in rows if not r["target_read_by"]]
    topk, n_correct = _topk([r["rank"] for r in scored], n_best)
    n_cand = counts["candidates"]
    return {
        "kind": "wurcs",
        "match": "graph identity: glypy Glycan.__eq__ or WURCS-graph isomorphism "
        "(wurcs_graph.py; alone where glypy cannot read the target)",
        "pred": str(pred_path),
        "tgt": str(tgt_path),
        "n_best": n_best,
        "n": len(rows),
        "n_scored": len(scored),
        "n_invalid_targets": len(invalid_targets),
        "invalid_target_lines": invalid_targets[:100],
        "n_wurcs_graph_targets": sum(r["target_read_by"] == "wurcs_graph" for r in rows),
        "topk": topk,
        "n_correct": n_correct,
        "topology_topk": _topk([r["rank_topology"] for r in scored], n_best)[0],
        "composition_topk": _topk([r["rank_composition"] for r in scored], n_best)[0],
        "mass_topk": _topk([r["rank_mass"] for r in scored], n_best)[0],
        "mass_tol": mass_tol,
        "invalid_rate": counts["invalid"] / n_cand if n_cand else None,
        "invalid_rate_top1": counts["invalid_top1"] / len(rows) if rows else None,
    }


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def format_report(res: dict) -> str:
    lines = [f"top-{k}: {_f(v)}" for k, v in res["topk"].items()]
    lines += [f"topology top-{k}: {_f(v)}" for k, v in res["topology_topk"].items() if k == "1"]
    lines.append(f"composition top-1: {_f(res['composition_topk'].get('1'))}")
    lines.append(f"mass-consistent top-1: {_f(res['mass_topk'].get('1'))}")
    if "mass_reranked_topk" in res:
        lines += [
            f"mass-reranked top-{k}: {_f(v)}" for k, v in res["mass_reranked_topk"].items() if k in ("1", "5", "10")
        ]
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
    ap.add_argument("--src", help="source file (PMZ_/CHARGE_ tokens): also score after precursor-mass re-ranking")
    ap.add_argument(
        "--mz_bin",
        type=float,
        default=None,
        help="PMZ bin width the source was written with (default: the corpus summary.json, else 1.0)",
    )
    a = ap.parse_args(argv)
    try:
        score_wurcs_files(a.pred, a.tgt, a.n_best, a.out_json, a.ranks_csv, a.mass_tol, src_path=a.src, mz_bin=a.mz_bin)
    except ScoringError as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
