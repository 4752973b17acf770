"""Retrieval with a trained multi-task glycan model (``benchmark/retrieve.py``; issue 16).

* embedding retrieval: each item is encoded alone as a single-segment source
  (:func:`onmt_moe.glycan.retrieve.single_segment_source`) by the checkpoint's encoder and mean-pooled
  over its segment's tokens (tags included, the task token not); items are ranked by cosine;
* closed-set identification: candidates are ranked by the seq2seq model's log-likelihood of the
  candidate given the query's ``struct`` source (teacher-forced forward pass, summed over the target
  tokens and the end token; the same quantity as ``onmt_translate -tgt … -with_score`` gold scores).

The data side (queries, libraries, metrics) is :mod:`onmt_moe.glycan.retrieve`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from onmt_moe.glycan import retrieve as R
from onmt_moe.inference.likelihood import load_model, log_likelihood, token_ids
from onmt_moe.runfolder.layout import RunFolderError, read_run_json
from onmt_moe.runs.runner import latest_good_checkpoint, strip_target_prefix, task_files


@torch.no_grad()
def embed(model, vocabs, sources: list[list[str]], modality: str, batch_size: int = 64) -> np.ndarray:
    """``(N, D)`` mean over the tokens of ``modality`` of each source's aligned encoder states (the final
    states; the states before the cross-modal fusion layers when the model has any, as in training)."""
    enc = model.encoder
    m = enc.modality_names.index(modality) if modality in getattr(enc, "modality_names", []) else -1
    if m < 0:
        raise ValueError(
            f"the model's encoder has no modality {modality!r} (it has "
            f"{getattr(enc, 'modality_names', ['OTHER'])[1:]}); use a moe_transformer multi-task model"
        )
    out = []
    for i in range(0, len(sources), batch_size):
        src, src_len = token_ids(vocabs["src"], sources[i : i + batch_size])
        states = enc.align_states(src, src_len)
        mod = enc.modality_lookup(src[:, :, 0])
        real = torch.arange(src.size(1)).unsqueeze(0) < src_len.unsqueeze(1)
        w = ((mod == m) & real).float().unsqueeze(-1)
        out.append(((states * w).sum(1) / w.sum(1).clamp(min=1)).numpy())
    return np.concatenate(out)


def embedding_retrieval(model, vocabs, rows: list[R.TestRow]) -> dict:
    vocab = set(vocabs["src"].ids_to_tokens)
    res = {}
    for name, (q_mod, lib_mod) in R.DIRECTIONS.items():
        lib = embed(model, vocabs, [R.single_segment_source(r.segments[lib_mod], vocab) for r in rows], lib_mod)
        queries = [(i, r) for i, r in enumerate(rows) if q_mod in r.segments]
        if not queries:
            res[name] = {"n": 0}
            continue
        q = embed(model, vocabs, [R.single_segment_source(r.segments[q_mod], vocab) for _, r in queries], q_mod)
        ranks = R.ranks_from_scores(R.cosine_scores(q, lib), [i for i, _ in queries])
        res[name] = {**R.rank_metrics(ranks), "library": len(rows)}
    return res


def likelihood_identification(
    model,
    vocabs,
    rows: list[R.TestRow],
    known: list[list[str]],
    max_candidates: int,
    seed: int = 0,
    prefix: str = "",
) -> dict:
    res = {}
    for setting, items in R.candidate_sets(rows, known, max_candidates, seed).items():
        ranks, sizes = [], []
        for i, cands in items:
            ll = log_likelihood(model, vocabs, rows[i].source, cands, prefix)
            ranks.append(int(R.ranks_from_scores(ll[None, :], [0])[0]))
            sizes.append(len(cands))
        res[setting] = {**R.rank_metrics(ranks), "mean_candidates": float(np.mean(sizes)) if sizes else 0.0}
    return res


def run(
    checkpoint: str, data_dir: str, out_json: str = "", max_candidates: int = 50, seed: int = 0, likelihood: bool = True
) -> dict:
    """Both settings on the ``struct`` test split of a multi-task corpus folder (``…/data``)."""
    t0 = time.time()
    rows = R.read_rows(
        os.path.join(data_dir, "struct", "src-test.txt"), os.path.join(data_dir, "struct", "tgt-test.txt")
    )
    torch.manual_seed(seed)
    model, vocabs = load_model(checkpoint)
    res = {
        "checkpoint": os.path.abspath(checkpoint),
        "data_dir": os.path.abspath(data_dir),
        "n_test": len(rows),
        "embedding": embedding_retrieval(model, vocabs, rows),
    }
    if likelihood:
        prefix = task_files(data_dir)["struct"]["target_prefix"]  # train targets may start with it
        known = []
        for split in ("train", "val"):
            path = os.path.join(data_dir, "struct", f"tgt-{split}.txt")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    known += [strip_target_prefix(ln, prefix).split() for ln in f.read().splitlines() if ln.strip()]
        res["likelihood"] = likelihood_identification(model, vocabs, rows, known, max_candidates, seed, prefix)
        res["likelihood"]["max_candidates"] = max_candidates
    res["seconds"] = round(time.time() - t0, 1)
    if out_json:
        from onmt_moe.runfolder.csvlog import atomic_write_json

        atomic_write_json(out_json, res)
    return res


def parser(description: str | None = None) -> argparse.ArgumentParser:
    """The options of ``benchmark/retrieve.py``."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a start_training run folder (newest readable checkpoint, its data_dir)")
    ap.add_argument("--model", help="checkpoint (instead of --run)")
    ap.add_argument("--data", help="multi-task corpus data folder (with struct/src-test.txt …)")
    ap.add_argument("--out", help="result JSON (default <run>/retrieval.json with --run)")
    ap.add_argument("--max_candidates", type=int, default=50, help="candidates per query for the likelihood ranking")
    ap.add_argument("--no_likelihood", action="store_true", help="embedding retrieval only")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def _inputs(a) -> tuple:
    """(checkpoint, corpus data folder, result JSON) of the parsed options; a bad one exits with one line."""
    model, data, out = a.model, a.data, a.out
    if a.run:
        try:
            info = read_run_json(a.run)  # a start_training run folder
        except RunFolderError as e:
            sys.exit(f"error: {e}")
        data = data or info.get("data_dir")
        model = model or latest_good_checkpoint(a.run)
        out = out or os.path.join(a.run, "retrieval.json")
    if not model or not data:
        sys.exit("error: give --run, or --model and --data")
    if not os.path.exists(os.path.join(data, "struct", "src-test.txt")):
        sys.exit(f"error: {data}/struct/src-test.txt not found (a generate_glycan_input.py --multitask corpus)")
    return model, data, out


def main(argv=None, description: str | None = None) -> int:
    """``benchmark/retrieve.py``: :func:`run` on a run folder or a checkpoint, the result printed as JSON;
    a bad input exits with one line (``SystemExit("error: …")``, status 1)."""
    a = parser(description).parse_args(argv)
    model, data, out = _inputs(a)
    try:
        res = run(model, data, out or "", a.max_candidates, a.seed, likelihood=not a.no_likelihood)
    except ValueError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(res, indent=2))
    return 0


__all__ = ["load_model", "embed", "log_likelihood", "embedding_retrieval", "likelihood_identification", "run", "main"]
