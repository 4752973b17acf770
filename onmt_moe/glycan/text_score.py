"""Scores of the text task (structure (+ spectrum) -> description): BLEU, chrF, fields, exact match.

BLEU and chrF are sacrebleu's corpus scores (0-100) of the top-1 candidates; the rest are fractions. Field accuracy: for each
metadata field of :func:`onmt_moe.glycan.text.fields` present in a target, the share of rows whose
top-1 candidate names the same value. Exact match top-k: the target is among the first k candidates.
No torch, no OpenNMT.
"""

from __future__ import annotations

from onmt_moe.evaluation.files import read_targets_and_nbest, write_result

from .text import FIELDS, fields


def _text(line: str) -> str:
    """A prediction line without onmt_translate's ``-with_score`` field, single-spaced."""
    return " ".join((line.rpartition("\t")[0] if "\t" in line else line).split())


def score_text_files(pred_path: str, tgt_path: str, n_best: int, out_json: str | None = None) -> dict:
    import sacrebleu

    target_lines, nbest = read_targets_and_nbest(pred_path, tgt_path, n_best)
    targets = [" ".join(t.split()) for t in target_lines]
    cands = [[_text(ln) for ln in group] for group in nbest]
    top1 = [c[0] for c in cands]
    n = len(targets)
    field_hits = {f: [0, 0] for f in FIELDS}
    for pred, tgt in zip(top1, targets):
        want, got = fields(tgt), fields(pred)
        for f, value in want.items():
            field_hits[f][1] += 1
            field_hits[f][0] += int(got.get(f) == value)
    res = {
        "kind": "text",
        "n": n,
        "bleu": round(sacrebleu.corpus_bleu(top1, [targets]).score, 2) if n else None,
        "chrf": round(sacrebleu.corpus_chrf(top1, [targets]).score, 2) if n else None,
        "field_accuracy": {f: (round(h / m, 4) if m else None) for f, (h, m) in field_hits.items()},
        "field_rows": {f: m for f, (_, m) in field_hits.items()},
        "topk": {
            str(k): round(sum(t in c[:k] for t, c in zip(targets, cands)) / n, 4) if n else None
            for k in range(1, n_best + 1)
        },
    }
    write_result(res, out_json)
    return res
