"""Cross-modal retrieval on a multi-task glycan corpus (issue 16): the queries, libraries and metrics.

Plain Python + numpy (no torch, no OpenNMT); the model side is :mod:`onmt_moe.runs.retrieval`.

Every row of the ``struct`` task's test split (``data/struct/{src,tgt}-test.txt`` of a
``generate_glycan_input.py --multitask`` corpus) gives one structure (the target WURCS tokens), its
spectrum (the ``<MS>`` segment of the source) and, where the row has one, its description (the
``<TEXT>`` segment). Each is turned into a *single-segment* source, ``[<TASK_ALIGN>] <WURCS> … </WURCS>``
etc., so an embedding never sees another modality of its example.

Directions: ``spectrum->structure`` (query MS, library the test structures), ``structure->spectrum``
and ``text->structure`` (queries: the rows with a description). The rank of the right item is
pessimistic: 1 + the number of *other* library items scoring at least as high, so a model that gives
every item the same score ranks the right one last, never first.

Closed-set identification (the setting of classifiers such as CandyCrunch): a query spectrum is
scored against a candidate list of known structures by the seq2seq model's own log-likelihood
``log P(structure | spectrum)``. Candidates ``all`` = the test structures (sampled to at most
``max_candidates``); ``same_composition`` = the right structure and every known structure (train,
val and test targets) with the same residue composition — the hard case, since the precursor mass
cannot tell them apart.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from onmt_moe.modality.tags import MISSING, split_segments, task_token, wrap

from . import wurcs_graph
from .wurcs_tokenizer import detokenize

DIRECTIONS = {
    "spectrum->structure": ("MS", "WURCS"),
    "structure->spectrum": ("WURCS", "MS"),
    "text->structure": ("TEXT", "WURCS"),
}
KS = (1, 5, 10)


@dataclass
class TestRow:
    source: list[str]  # the struct task's source tokens (task token included)
    wurcs: list[str]  # target tokens
    segments: dict[str, list[str]]  # "MS", "TEXT" (when known), "WURCS": single-segment token lists


def read_rows(src_path: str, tgt_path: str) -> list[TestRow]:
    """The struct task's test lines as :class:`TestRow` (a line count mismatch is a one-line error)."""
    with open(src_path, encoding="utf-8") as f:
        src = [ln.split() for ln in f.read().splitlines()]
    with open(tgt_path, encoding="utf-8") as f:
        tgt = [ln.split() for ln in f.read().splitlines()]
    if len(src) != len(tgt) or not src:
        raise ValueError(f"{src_path}: {len(src)} lines but {tgt_path}: {len(tgt)} (need the same, > 0)")
    rows = []
    for s, t in zip(src, tgt):
        segs = {name: wrap(name, toks) for name, toks in split_segments(s) if name and toks != [MISSING]}
        segs["WURCS"] = wrap("WURCS", t)
        rows.append(TestRow(s, t, segs))
    return rows


def single_segment_source(segment: list[str], vocab: set | None = None) -> list[str]:
    """``[<TASK_ALIGN>] + segment``: the alignment task's token when the model knows it."""
    head = task_token("ALIGN")
    return ([head] if vocab is None or head in vocab else []) + list(segment)


def ranks_from_scores(scores: np.ndarray, right: Sequence[int]) -> np.ndarray:
    """``scores`` (Q, L), ``right[q]`` the index of q's right item -> 1-based pessimistic ranks."""
    scores = np.asarray(scores, dtype=np.float64)
    right = np.asarray(right)
    mine = scores[np.arange(len(right)), right][:, None]
    at_least = (scores >= mine).sum(1) - 1  # other items scoring >= the right one
    return 1 + at_least


def rank_metrics(ranks: Sequence[int], ks: Sequence[int] = KS) -> dict:
    """recall@k (fraction of queries whose right item ranks <= k), MRR and n."""
    r = np.asarray(ranks, dtype=np.float64)
    if not len(r):
        return {"n": 0}
    out = {f"recall@{k}": float((r <= k).mean()) for k in ks}
    out.update(mrr=float((1.0 / r).mean()), n=int(len(r)), median_rank=float(np.median(r)))
    return out


def cosine_scores(queries: np.ndarray, library: np.ndarray) -> np.ndarray:
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    lib = library / np.maximum(np.linalg.norm(library, axis=1, keepdims=True), 1e-12)
    return q @ lib.T


def composition_key(wurcs_tokens: Sequence[str]) -> tuple | None:
    """The residue composition of a WURCS (sorted (ResidueCode, count) pairs), None if unreadable."""
    g = wurcs_graph.try_parse(detokenize(list(wurcs_tokens)))
    return None if g is None else tuple(sorted(Counter(g.composition()).items()))


def candidate_sets(rows: list[TestRow], known: list[list[str]], max_candidates: int, seed: int = 0) -> dict:
    """``{"all": [...], "same_composition": [...]}``: per query a list of candidate WURCS token lists
    with the right one first (index 0). ``same_composition`` lists only queries that have at least
    one other known structure of their composition (at most ``max_candidates`` in all)."""
    rng = random.Random(seed)
    test = [r.wurcs for r in rows]
    by_comp: dict[tuple, list[list[str]]] = {}
    seen = set()
    for w in list(known) + test:
        key, s = composition_key(w), " ".join(w)
        if key is not None and s not in seen:
            seen.add(s)
            by_comp.setdefault(key, []).append(w)
    out = {"all": [], "same_composition": []}
    for i, w in enumerate(test):
        others = [t for j, t in enumerate(test) if j != i]
        rng.shuffle(others)
        out["all"].append((i, [w] + others[: max_candidates - 1]))
        same = [t for t in by_comp.get(composition_key(w), []) if t != w]
        if same:
            rng.shuffle(same)
            out["same_composition"].append((i, [w] + same[: max_candidates - 1]))
    return out


__all__ = [
    "DIRECTIONS",
    "TestRow",
    "read_rows",
    "single_segment_source",
    "ranks_from_scores",
    "rank_metrics",
    "cosine_scores",
    "composition_key",
    "candidate_sets",
]
