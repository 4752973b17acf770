"""Scores of the text task (structure (+ spectrum) -> description): BLEU, chrF, fields, exact match.

BLEU and chrF are sacrebleu's corpus scores (0-100) of the top-1 candidates; the rest are fractions. Field accuracy: for each
metadata field of :func:`onmt_moe.glycan.text.fields` present in a target, the share of rows whose
top-1 candidate names the same value. Exact match top-k: the target is among the first k candidates.
No torch, no OpenNMT.
"""
from __future__ import annotations

import json
from typing import List

from .text import FIELDS, fields


def _nbest_texts(pred_path: str, n_best: int, n_sources: int) -> List[List[str]]:
    with open(pred_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if len(lines) != n_sources * n_best:
        raise ValueError(f"{pred_path}: {len(lines)} lines, expected {n_sources * n_best} "
                         f"(= {n_sources} targets x n_best {n_best})")
    texts = [ln.rpartition("\t")[0] if "\t" in ln else ln for ln in lines]  # drop onmt_translate's -with_score
    return [[" ".join(t.split()) for t in texts[i:i + n_best]] for i in range(0, len(texts), n_best)]


def score_text_files(pred_path: str, tgt_path: str, n_best: int, out_json: str | None = None) -> dict:
    import sacrebleu

    with open(tgt_path, encoding="utf-8") as fh:
        targets = [" ".join(t.split()) for t in fh.read().splitlines()]
    cands = _nbest_texts(pred_path, n_best, len(targets))
    top1 = [c[0] for c in cands]
    n = len(targets)
    field_hits = {f: [0, 0] for f in FIELDS}
    for pred, tgt in zip(top1, targets):
        want, got = fields(tgt), fields(pred)
        for f, value in want.items():
            field_hits[f][1] += 1
            field_hits[f][0] += int(got.get(f) == value)
    res = {
        "kind": "text", "n": n,
        "bleu": round(sacrebleu.corpus_bleu(top1, [targets]).score, 2) if n else None,
        "chrf": round(sacrebleu.corpus_chrf(top1, [targets]).score, 2) if n else None,
        "field_accuracy": {f: (round(h / m, 4) if m else None) for f, (h, m) in field_hits.items()},
        "field_rows": {f: m for f, (_, m) in field_hits.items()},
        "topk": {str(k): round(sum(t in c[:k] for t, c in zip(targets, cands)) / n, 4) if n else None
                 for k in range(1, n_best + 1)},
    }
    if out_json:
        with open(out_json, "w") as fh:
            json.dump(res, fh, indent=2)
    return res
