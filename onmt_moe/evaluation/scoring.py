"""Top-k scoring of n-best structure predictions against target SMILES.

Inputs
------
* ``pred``: the output of ``onmt_translate -n_best N`` -- N consecutive lines per
  source, each a space-tokenised prediction, optionally followed by a tab and a
  score (``-with_score``).
* ``tgt``: one space-tokenised SMILES per line.
* ``src`` (optional): the source lines; when a line carries a molecular formula
  (benchmark format: the tokens before the first section header; tagged format:
  the ``<FORMULA> ... </FORMULA>`` segment) a formula-consistent top-k is
  reported as well.

Comparison
----------
Spaces are removed and both sides are canonicalised with RDKit
(``MolToSmiles(MolFromSmiles(s))``; stereo kept unless ``ignore_stereo``).
An empty or unparsable prediction is *invalid* and never matches; an invalid
target is reported and left out of the denominator.

Views (how a candidate list is turned into a rank)
--------------------------------------------------
``benchmark``  decoded order; invalid and duplicate candidates keep their place
               and count as wrong (the benchmark's convention; the default).
``dedup``      later duplicates of an already seen valid canonical form are removed
               (order kept, invalid candidates stay in place).
``valid_only`` invalid candidates are removed before ranking.
``dedup_valid_only`` both of the above.

``rank`` is the 0-based index of the first candidate equal to the target in the
chosen view, -1 if absent; top-k = share of scored rows with ``0 <= rank < k``.

Output JSON (``score_files`` returns the same dict)::

    {
      "kind": "smiles", "view": "benchmark", "view_description": "...",
      "ignore_stereo": false, "n_best": 10,
      "pred": "...", "tgt": "...", "src": null,
      "n": 1000,                      # target lines
      "n_scored": 998,                # rows with a valid target (the denominator)
      "n_invalid_targets": 2, "invalid_target_lines": [17, 503],   # 1-based
      "topk": {"1": 0.61, ..., "10": 0.83},
      "n_correct": {"1": 609, ..., "10": 828},
      "invalid_rate": 0.07,           # invalid share of all candidates (all rows)
      "invalid_rate_top1": 0.02,      # invalid share of the first candidates
      "duplicate_rate": 0.11,         # valid candidates repeating an earlier one
      "has_scores": true,
      # only with src:
      "n_with_formula": 998,
      "formula_consistent_topk": {"1": 0.66, ...}
    }

Ranks CSV columns: ``line`` (1-based), ``rank``, ``rank_formula`` (only with
src), ``valid_target``, ``target``, ``top1``, ``top1_valid``, ``score`` (score
of the first candidate, empty without scores), ``match_score`` (score of the
matching candidate, empty when not found or without scores).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from onmt_moe.evaluation import registry
from onmt_moe.evaluation.files import ScoringError, read_lines, write_result
from onmt_moe.formula import parse_formula  # noqa: F401 (also read from here by predict.rank and tests)
from onmt_moe.modality.tags import split_segments

GLYCAN_SPECTRUM_FORMAT = "glycan_tokens"  # PMZ_/MZ_/INT_ token spectra (scored by the glycan track)
VIEWS = ("benchmark", "dedup", "valid_only", "dedup_valid_only")
VIEW_DESCRIPTIONS = {
    "benchmark": "benchmark: decoded order; invalid and duplicate candidates count as wrong",
    "dedup": "dedup: duplicate valid candidates removed (order kept)",
    "valid_only": "valid_only: invalid candidates removed before ranking",
    "dedup_valid_only": "dedup_valid_only: invalid and duplicate candidates removed",
}

# Section headers of the benchmark source format (see benchmark-format.md §3).
SECTION_HEADERS = frozenset(["1HNMR", "13CNMR", "IR", "E0Pos", "E1Pos", "E2Pos", "E0Neg", "E1Neg", "E2Neg"])


# --------------------------------------------------------------------------- I/O
def read_nbest(
    pred_path, n_best: int, n_sources: int | None = None
) -> tuple[list[list[str]], list[list[float | None]], bool]:
    """Read an n-best file into per-source candidate lists (spaces removed).

    Returns ``(candidates, scores, has_scores)``; ``scores`` entries are None when
    a line carries no score.
    """
    if n_best < 1:
        raise ScoringError(f"n_best must be >= 1, got {n_best}")
    lines = read_lines(pred_path)
    if n_sources is not None and len(lines) != n_sources * n_best:
        raise ScoringError(
            f"{pred_path}: {len(lines)} lines, expected {n_sources * n_best} (= {n_sources} targets x n_best {n_best})"
        )
    if len(lines) % n_best:
        raise ScoringError(f"{pred_path}: {len(lines)} lines is not a multiple of n_best {n_best}")
    cands: list[list[str]] = []
    scores: list[list[float | None]] = []
    has_scores = False
    for i, line in enumerate(lines):
        if i % n_best == 0:
            cands.append([])
            scores.append([])
        score = None
        if "\t" in line:
            text, _, raw = line.rpartition("\t")
            try:
                score = float(raw)
            except ValueError:
                raise ScoringError(
                    f"{pred_path}:{i + 1}: score field {raw[:30]!r} after the tab is not a number"
                ) from None
            has_scores = True
        else:
            text = line
        cands[-1].append("".join(text.split()))
        scores[-1].append(score)
    return cands, scores, has_scores


# ------------------------------------------------------------------- chemistry
_RDKIT = None


def _rdkit():
    global _RDKIT
    if _RDKIT is None:
        from rdkit import Chem, RDLogger
        from rdkit.Chem import rdMolDescriptors

        RDLogger.DisableLog("rdApp.*")
        _RDKIT = (Chem, rdMolDescriptors)
    return _RDKIT


class Canonicaliser:
    """Cached SMILES -> (canonical SMILES or None, Hill formula or None)."""

    def __init__(self, ignore_stereo: bool = False):
        self.ignore_stereo = ignore_stereo
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, smi: str) -> str | None:
        return self.lookup(smi)[0]

    def formula(self, smi: str) -> str | None:
        return self.lookup(smi)[1]

    def lookup(self, smi: str) -> tuple[str | None, str | None]:
        hit = self._cache.get(smi)
        if hit is not None:
            return hit
        res: tuple[str | None, str | None] = (None, None)
        if smi:
            Chem, desc = _rdkit()
            try:
                mol = Chem.MolFromSmiles(smi)
            except Exception:  # RDKit raises on some pathological inputs
                mol = None
            if mol is not None and mol.GetNumAtoms() > 0:
                try:
                    can = Chem.MolToSmiles(mol, isomericSmiles=not self.ignore_stereo)
                    res = (can, desc.CalcMolFormula(mol))
                except Exception:
                    res = (None, None)
        self._cache[smi] = res
        return res


def formula_from_source(line: str) -> Counter | None:
    """The molecular formula a source line carries, or None.

    Tagged lines: the inner tokens of ``<FORMULA> ... </FORMULA>``. Benchmark lines:
    the tokens before the first section header.
    """
    toks = line.split()
    if not toks:
        return None
    if any(t.startswith("<") and t.endswith(">") and len(t) > 2 for t in toks):
        try:
            segs = split_segments(toks)
        except ValueError:
            return None
        for name, inner in segs:
            if name == "FORMULA":
                return parse_formula("".join(inner))
        return None
    head = []
    for t in toks:
        if t in SECTION_HEADERS:
            break
        head.append(t)
    return parse_formula("".join(head)) if head else None


# --------------------------------------------------------------------- ranking
def apply_view(canon: Sequence[str | None], view: str) -> list[str | None]:
    """Candidate list (canonical forms, None = invalid) as seen by ``view``."""
    if view not in VIEWS:
        raise ScoringError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return [canon[j] for j in _view_indices(canon, view)]


def first_rank(cands: Sequence[str | None], target: str) -> int:
    for i, c in enumerate(cands):
        if c is not None and c == target:
            return i
    return -1


def _topk(ranks: Sequence[int], n_best: int) -> tuple[dict[str, float | None], dict[str, int]]:
    n = len(ranks)
    acc: dict[str, float | None] = {}
    cnt: dict[str, int] = {}
    for k in range(1, n_best + 1):
        c = sum(1 for r in ranks if 0 <= r < k)
        cnt[str(k)] = c
        acc[str(k)] = (c / n) if n else None
    return acc, cnt


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.4f}"


# ------------------------------------------------------------------ main entry
def score_files(
    pred_path,
    tgt_path,
    n_best: int,
    src_path=None,
    out_json=None,
    ranks_csv=None,
    ignore_stereo: bool = False,
    view: str = "benchmark",
    kind: str = "smiles",
) -> dict:
    """Score an n-best prediction file with the scorer of ``kind`` (see :mod:`onmt_moe.evaluation.registry`);
    the module docstring gives the schema of ``smiles``."""
    target_format = None
    if kind == "spectrum":  # structure -> spectrum (--pred_spectra corpora of either track)
        target_format = spectrum_target_format(tgt_path)
        if target_format is None:
            first = next((line for line in read_lines(tgt_path) if line.strip()), "")
            raise ScoringError(
                f"{tgt_path}: --kind spectrum scores glycan token spectra (PMZ_/MZ_/INT_) or "
                f"benchmark spectra sections (1HNMR, 13CNMR, IR, E0Pos…); these targets are neither "
                f"(first line starts {' '.join(first.split()[:4])!r})"
            )
    scorer = registry.get(kind, target_format)
    return scorer.score(
        pred_path,
        tgt_path,
        n_best,
        src_path=src_path,
        out_json=out_json,
        ranks_csv=ranks_csv,
        ignore_stereo=ignore_stereo,
        view=view,
    )


def score_smiles_files(
    pred_path,
    tgt_path,
    n_best: int,
    src_path=None,
    out_json=None,
    ranks_csv=None,
    ignore_stereo: bool = False,
    view: str = "benchmark",
) -> dict:
    """Top-k of n-best SMILES (the module docstring gives the result)."""
    targets_raw, cands_raw, scores, has_scores, formulas = _read_smiles_inputs(
        pred_path, tgt_path, n_best, src_path, view
    )
    n = len(targets_raw)
    canon = Canonicaliser(ignore_stereo=ignore_stereo)
    counts: Counter = Counter()  # candidates, invalid ones, invalid top-1s, duplicates
    rows = []
    for i in range(n):
        tgt_can = canon(targets_raw[i])
        c_can = [canon(c) for c in cands_raw[i]]
        counts.update(_candidate_counts(c_can))
        rows.append(_smiles_row(i, targets_raw[i], cands_raw[i], scores[i], tgt_can, c_can, view, canon, formulas))
    valid = [r for r in rows if r["valid_target"]]
    ranks = [r["rank"] for r in valid]  # only rows with valid targets
    invalid_lines = [r["line"] for r in rows if not r["valid_target"]]

    topk, n_correct = _topk(ranks, n_best)
    n_cand = counts["candidates"]
    result = {
        "kind": "smiles",
        "view": view,
        "view_description": VIEW_DESCRIPTIONS[view],
        "ignore_stereo": bool(ignore_stereo),
        "n_best": n_best,
        "pred": str(pred_path),
        "tgt": str(tgt_path),
        "src": None if src_path is None else str(src_path),
        "n": n,
        "n_scored": len(ranks),
        "n_invalid_targets": len(invalid_lines),
        "invalid_target_lines": invalid_lines,
        "topk": topk,
        "n_correct": n_correct,
        "invalid_rate": (counts["invalid"] / n_cand) if n_cand else None,
        "invalid_rate_top1": (counts["invalid_top1"] / n) if n else None,
        "duplicate_rate": (counts["duplicates"] / n_cand) if n_cand else None,
        "has_scores": has_scores,
    }
    if formulas is not None:
        result["n_with_formula"] = sum(1 for f in formulas if f is not None)
        result["formula_consistent_topk"] = _topk([r["rank_formula"] for r in valid], n_best)[0]

    cols = (
        ["line", "rank"]
        + (["rank_formula"] if formulas is not None else [])
        + ["valid_target", "target", "top1", "top1_valid", "score", "match_score"]
    )
    write_result(result, out_json, rows, ranks_csv, cols)
    return result


def _read_smiles_inputs(pred_path, tgt_path, n_best: int, src_path, view: str):
    """(targets without spaces, n-best candidates, their scores, whether the file had scores, each
    source's formula or None without ``src_path``); a one-line :class:`ScoringError` for inputs that
    cannot be scored as SMILES."""
    if spectrum_target_format(tgt_path) is not None:
        raise ScoringError(
            f"{tgt_path}: the targets are spectra (a --pred_spectra corpus), not SMILES; "
            "score them with --kind spectrum"
        )
    if view not in VIEWS:
        raise ScoringError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")

    targets_raw = ["".join(t.split()) for t in read_lines(tgt_path)]
    n = len(targets_raw)
    cands_raw, scores, has_scores = read_nbest(pred_path, n_best, n_sources=n)
    formulas: list[Counter | None] | None = None
    if src_path is not None:
        src_lines = read_lines(src_path)
        if len(src_lines) != n:
            raise ScoringError(f"{src_path}: {len(src_lines)} lines, but {tgt_path} has {n}")
        formulas = [formula_from_source(s) for s in src_lines]
    return targets_raw, cands_raw, scores, has_scores, formulas


def _candidate_counts(c_can: Sequence[str | None]) -> dict[str, int]:
    """One line's candidates, invalid ones, invalid top-1 (0/1) and repeats of a valid candidate."""
    n_dup = 0
    seen = set()
    for c in c_can:
        if c is not None:
            n_dup += c in seen
            seen.add(c)
    return {
        "candidates": len(c_can),
        "invalid": sum(1 for c in c_can if c is None),
        "invalid_top1": int(bool(c_can) and c_can[0] is None),
        "duplicates": n_dup,
    }


def _smiles_row(i: int, target: str, cands, scores, tgt_can, c_can, view: str, canon, formulas) -> dict:
    """Line ``i``'s row of ranks.csv: the target's rank among the candidates ``view`` keeps (-1: not
    among them, or an invalid target) and, with sources, among the formula-consistent ones."""
    row = {
        "line": i + 1,
        "valid_target": int(tgt_can is not None),
        "target": target,
        "top1": cands[0] if cands else "",
        "top1_valid": int(bool(c_can) and c_can[0] is not None),
        "score": scores[0] if scores else None,
    }
    viewed_idx = _view_indices(c_can, view)
    rank = first_rank([c_can[j] for j in viewed_idx], tgt_can) if tgt_can is not None else -1
    row["rank"] = rank
    row["match_score"] = scores[viewed_idx[rank]] if rank >= 0 else None
    if formulas is not None:
        f = formulas[i]
        if f is None:
            kept = viewed_idx
        else:
            kept = [j for j in viewed_idx if c_can[j] is not None and parse_formula(canon.formula(cands[j]) or "") == f]
        row["rank_formula"] = first_rank([c_can[j] for j in kept], tgt_can) if tgt_can is not None else -1
    return row


def spectrum_target_format(tgt_path, probe: int = 20) -> str | None:
    """Which spectrum scorer the target lines call for, from their first non-empty lines:
    ``'glycan_tokens'`` (PMZ_/MZ_/INT_ tokens), ``'benchmark_sections'`` (1HNMR/13CNMR/IR/E0Pos…
    sections, benchmark or tagged format), or None (not spectra)."""
    from onmt_moe.evaluation.spectrum_scoring import TARGET_FORMAT, is_section_line

    lines = [line for line in read_lines(tgt_path)[: probe * 5] if line.strip()][:probe]
    if lines and all(any(t.startswith(("PMZ_", "MZ_")) for t in line.split()) for line in lines):
        return GLYCAN_SPECTRUM_FORMAT
    if lines and all(is_section_line(line) for line in lines):
        return TARGET_FORMAT
    return None


def _view_indices(canon: Sequence[str | None], view: str) -> list[int]:
    """Indices into the decoded list that survive ``view`` (keeps scores aligned)."""
    out: list[int] = []
    seen = set()
    for j, c in enumerate(canon):
        if c is None:
            if view in ("valid_only", "dedup_valid_only"):
                continue
        elif view in ("dedup", "dedup_valid_only"):
            if c in seen:
                continue
            seen.add(c)
        out.append(j)
    return out


def format_report(result: dict) -> str:
    """The lines the CLI prints, by the scorer of the result's kind."""
    kind = result.get("kind", "smiles")
    # spectra results of the glycan track carry no target_format (their JSON predates the key)
    fmt = result.get("target_format", GLYCAN_SPECTRUM_FORMAT) if kind == "spectrum" else None
    return registry.get(kind, fmt).report(result)


def format_smiles_report(result: dict) -> str:
    """``top-1: 0.xxxx`` …, ``invalid: 0.xxxx`` and the formula-consistent top-k."""
    lines = [f"view: {result.get('view_description', result.get('view', '?'))}"]
    if result.get("kind", "smiles") == "smiles":
        lines.append(f"n: {result['n']}  scored: {result['n_scored']}  invalid targets: {result['n_invalid_targets']}")
        bad = result.get("invalid_target_lines") or []
        if bad:
            more = " ..." if len(bad) > 20 else ""
            lines.append("invalid target lines: " + ", ".join(map(str, bad[:20])) + more)
    for k, v in result.get("topk", {}).items():
        lines.append(f"top-{k}: {_fmt(v)}")
    if "invalid_rate" in result:
        lines.append(f"invalid: {_fmt(result['invalid_rate'])}")
    if "invalid_rate_top1" in result:
        lines.append(f"invalid top-1: {_fmt(result['invalid_rate_top1'])}")
    if "formula_consistent_topk" in result:
        lines.append(f"formula-consistent ({result.get('n_with_formula', 0)} rows with a formula):")
        for k, v in result["formula_consistent_topk"].items():
            lines.append(f"formula top-{k}: {_fmt(v)}")
    return "\n".join(lines)


registry.register(registry.Scorer("smiles", score_smiles_files, format_smiles_report))
