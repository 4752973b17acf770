"""Forward-simulation re-ranking of a run folder's test n-best (``scripts/rerank_run.py``, the runner's
optional ``rerank`` stage).

The translate stage's n-best of the test sources (``pred/test.txt``) is re-ranked three ways, as the
real-spectra benchmark does (:mod:`onmt_moe.runs.real_spectra`):

* ``beam`` — the model's order (duplicates of a canonical SMILES removed);
* ``formula`` — valid, formula-consistent candidates first (``predict.rank``);
* ``simulate`` — within those groups, ``log_prob + w_c · cos_c + w_h · cos_h`` of
  ``predict.forward_rank`` (each candidate's simulated ¹H/¹³C NMR against the source's).

The weights are fitted on the *validation* split only: the first ``max_valid`` sources of the corpus'
``src-val.txt``, decoded with the run's own ``translate.yaml`` (same checkpoint, beam, n-best) into
``pred/valid.txt`` (:func:`decode_valid`), or an n-best of them decoded beforehand (``valid_nbest``).
They are saved as ``forward_rank.json`` next to the checkpoints, where ``onmt_moe_predict --rerank
auto`` finds them; the top-k go to ``scores_rerank.json``. Single-task SMILES runs whose sources
carry ¹H or ¹³C NMR only; any other run is refused with one line (:class:`RerankError`) and nothing
is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from onmt_moe.evaluation.files import ScoringError, read_lines
from onmt_moe.evaluation.scoring import Canonicaliser, formula_from_source, read_nbest
from onmt_moe.predict import forward_rank as fr
from onmt_moe.predict.rank import rank_smiles
from onmt_moe.runfolder.csvlog import atomic_write_text
from onmt_moe.runfolder.layout import (
    RERANK_JSON,
    TRAIN_LOG,
    TRANSLATE_YAML,
    VALID_NBEST,
    VALID_SRC,
    read_run_json,
    write_json,
)
from onmt_moe.runs import real_spectra

DECODINGS = real_spectra.DECODINGS  # beam, formula, simulate
KS = (1, 5, 10)
MAX_VALID = 500


class RerankError(ValueError):
    """The run folder cannot be re-ranked: one line saying why (nothing has been written)."""


@dataclass(frozen=True)
class RunFiles:
    run_dir: str
    src_test: str
    tgt_test: str
    pred_test: str
    src_val: str
    tgt_val: str
    n_best: int


def run_files(run_dir: str, record: dict | None = None) -> RunFiles:
    """The files a re-ranking reads, from ``record`` (the runner's plan, or ``run.json`` by default);
    a :class:`RerankError` for a run that is not a single-task SMILES run, or not decoded yet."""
    try:
        rec = read_run_json(run_dir) if record is None else record
    except ValueError as exc:
        raise RerankError(str(exc)) from None
    if rec.get("kind", "smiles") != "smiles":
        raise RerankError(f"{run_dir}: a {rec.get('kind')} run; re-ranking by simulated NMR needs SMILES targets")
    if rec.get("tasks") or isinstance(rec.get("pred_test"), dict):
        raise RerankError(f"{run_dir}: a multi-task run; re-ranking by simulated NMR takes single-task SMILES runs")
    data_dir = rec.get("data_dir") or ""
    files = RunFiles(
        run_dir=run_dir,
        src_test=rec.get("src_test") or os.path.join(data_dir, "src-test.txt"),
        tgt_test=rec.get("tgt_test") or os.path.join(data_dir, "tgt-test.txt"),
        pred_test=os.path.join(run_dir, "pred", "test.txt"),  # where the translate stage writes it
        src_val=rec.get("src_val") or os.path.join(data_dir, "src-val.txt"),
        tgt_val=rec.get("tgt_val") or os.path.join(data_dir, "tgt-val.txt"),
        n_best=int(rec.get("n_best") or 0),
    )
    if files.n_best < 1:
        raise RerankError(f"{run_dir}: run.json records no n_best")
    if not os.path.isfile(files.pred_test):
        raise RerankError(f"{run_dir}: no pred/test.txt (run the translate stage first)")
    missing = [p for p in (files.src_test, files.tgt_test, files.src_val, files.tgt_val) if not os.path.isfile(p)]
    if missing:
        raise RerankError(f"{run_dir}: the corpus file {missing[0]} is missing")
    return files


def has_nmr(line: str) -> bool:
    """Does a source line carry ¹H or ¹³C NMR (what the simulated spectra are compared with)?"""
    q = fr.query_from_line(line)
    return bool(q.c or q.h)


def check_nmr(files: RunFiles) -> None:
    """A :class:`RerankError` unless some test and some validation source carry ¹H/¹³C NMR."""
    for what, path in (("test", files.src_test), ("validation", files.src_val)):
        if not any(has_nmr(line) for line in _lines(path)):
            raise RerankError(
                f"{files.run_dir}: the {what} sources ({path}) carry no 1H or 13C NMR; "
                "re-ranking by simulated NMR needs it"
            )


# --------------------------------------------------------------------------- decoding the validation part
def decode_valid(files: RunFiles, max_valid: int = MAX_VALID, log: str | None = None, echo: bool = False) -> str:
    """The first ``max_valid`` validation sources decoded with the run's ``translate.yaml`` (the
    test split's checkpoint and settings) by ``onmt_translate``; returns the n-best file. A failed
    decoding is the runner's ``StageError`` (the last lines of the log), not a refusal."""
    from onmt_moe.runs.runner import StageError, onmt_command, run_logged

    config = os.path.join(files.run_dir, TRANSLATE_YAML)
    if not os.path.isfile(config):
        raise RerankError(f"{files.run_dir}: no {TRANSLATE_YAML} (run the translate stage first)")
    src = os.path.join(files.run_dir, VALID_SRC)
    out = os.path.join(files.run_dir, VALID_NBEST)
    lines = _lines(files.src_val)[:max_valid]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    atomic_write_text(src, "".join(line + "\n" for line in lines))
    cmd = onmt_command("onmt_translate") + ["-config", config, "-src", src, "-output", out]
    try:
        run_logged(cmd, log or os.path.join(files.run_dir, TRAIN_LOG), echo)
    except StageError:
        if os.path.exists(out):
            os.remove(out)  # a partial n-best is never fitted on
        raise
    return out


# --------------------------------------------------------------------------- samples and top-k
def _formula_text(counts: Counter | None) -> str | None:
    """A parsed formula back as text (``rank_smiles`` takes text)."""
    if not counts:
        return None
    charge = counts.get("charge", 0)
    text = "".join(f"{el}{n}" for el, n in sorted(counts.items()) if el != "charge")
    return text + (f"{'+' if charge > 0 else '-'}{abs(charge)}" if charge else "")


def read_candidates(path: str, n_best: int, n_sources: int, exact: bool = True):
    """(candidates, scores) of the first ``n_sources`` sources of an n-best file (``exact``: the
    file holds exactly those)."""
    try:
        cands, scores, has_scores = read_nbest(path, n_best, n_sources if exact else None)
    except ScoringError as exc:
        raise RerankError(str(exc)) from None
    if not has_scores:
        raise RerankError(f"{path}: no scores after the candidates (decode with -with_score)")
    if len(cands) < n_sources:
        raise RerankError(f"{path}: candidates for {len(cands)} sources, expected {n_sources}")
    return cands[:n_sources], scores[:n_sources]


def read_samples(src_lines, tgt_lines, cands, scores, canon: Canonicaliser):
    """``([(ranked rows with sim_c/sim_h, canonical target)], invalid targets)``: each source's
    candidates ranked by ``predict.rank`` (its formula) and annotated with the cosines of their
    simulated NMR against the source's."""
    samples, invalid = [], 0
    for src, tgt, cs, ss in zip(src_lines, tgt_lines, cands, scores):
        truth = canon("".join(tgt.split()))
        if truth is None:
            invalid += 1
            continue
        nbest = [(c, s if s is not None else float("-inf")) for c, s in zip(cs, ss)]
        rows = rank_smiles("", nbest, _formula_text(formula_from_source(src)), canon)
        fr.annotate(rows, fr.query_from_line(src))
        samples.append((rows, truth))
    return samples, invalid


def topk(samples, decoding: str, weights: fr.Weights) -> dict[str, float | None]:
    """Share of the samples whose target is among the first k of ``decoding``'s order, k = 1, 5, 10."""
    acc = dict.fromkeys(KS, 0.0)
    for rows, truth in samples:
        hit = real_spectra.hits(real_spectra.order(rows, decoding, weights), truth)
        for k in KS:
            acc[k] += hit[f"top{k}"]
    return {str(k): (round(v / len(samples), 4) if samples else None) for k, v in acc.items()}


# --------------------------------------------------------------------------- the whole re-ranking
def fit_on_valid(files: RunFiles, nbest_path: str, max_valid: int, canon: Canonicaliser) -> tuple[fr.Weights, dict]:
    """Weights fitted on the validation n-best (its first ``max_valid`` sources: a longer file decoded
    beforehand is cut), and what they were fitted on."""
    src_all = _lines(files.src_val)
    n = min(max_valid, len(_lines(nbest_path)) // files.n_best, len(src_all))
    if n < 1:
        raise RerankError(f"{nbest_path}: no validation candidates to fit the weights on")
    cands, scores = read_candidates(nbest_path, files.n_best, n, exact=False)
    samples, invalid = read_samples(src_all[:n], _lines(files.tgt_val)[:n], cands, scores, canon)
    source = f"{os.path.basename(files.src_val)}, first {n} sources"
    weights, top1 = fr.fit_weights(samples, source=source) if samples else (fr.Weights(source=source), 0.0)
    info = {"src": files.src_val, "nbest": os.path.abspath(nbest_path), "n": n, "n_scored": len(samples)}
    info["n_invalid_targets"] = invalid
    info.update({"top1_beam": topk(samples, "beam", weights)["1"], "top1_fitted": round(top1, 4)})
    return weights, info


def rerank_run(
    run_dir: str,
    max_valid: int = MAX_VALID,
    valid_nbest: str | None = None,
    record: dict | None = None,
    log: str | None = None,
    echo: bool = False,
) -> dict:
    """Fit the weights on the validation n-best (decoded here unless ``valid_nbest`` is given), write
    them to ``forward_rank.json``, re-rank the test n-best and write ``scores_rerank.json``; returns
    its content. ``record``: the runner's plan (default: the folder's ``run.json``). Everything is
    checked before the validation sources are decoded."""
    files = run_files(run_dir, record)
    check_nmr(files)
    src, tgt = _lines(files.src_test), _lines(files.tgt_test)
    if len(src) != len(tgt):
        raise RerankError(f"{files.src_test}: {len(src)} lines, but {files.tgt_test} has {len(tgt)}")
    cands, scores = read_candidates(files.pred_test, files.n_best, len(tgt))
    t0 = time.time()
    nbest_path = valid_nbest or decode_valid(files, max_valid, log, echo)
    t1 = time.time()
    canon = Canonicaliser()
    weights, valid = fit_on_valid(files, nbest_path, max_valid, canon)
    t2 = time.time()
    samples, invalid = read_samples(src, tgt, cands, scores, canon)
    result = {
        "kind": "smiles",
        "pred": files.pred_test,
        "src": files.src_test,
        "tgt": files.tgt_test,
        "n_best": files.n_best,
        "n": len(tgt),
        "n_scored": len(samples),
        "n_invalid_targets": invalid,
        "n_with_nmr": sum(has_nmr(line) for line in src),
        "topk": {d: topk(samples, d, weights) for d in DECODINGS},
        "weights": asdict(weights),
        "weights_file": fr.WEIGHTS_FILE,
        "valid": valid,
    }
    t3 = time.time()
    result["seconds"] = {"decode_valid": round(t1 - t0, 2), "fit": round(t2 - t1, 2), "test": round(t3 - t2, 2)}
    result["seconds_per_molecule"] = round((t3 - t2) / max(1, len(tgt)), 5)
    weights.save(os.path.join(run_dir, fr.WEIGHTS_FILE))
    write_json(os.path.join(run_dir, RERANK_JSON), result)
    return result


def _lines(path: str) -> list[str]:
    try:
        return read_lines(path)
    except ScoringError as exc:
        raise RerankError(str(exc)) from None


def report(result: dict) -> str:
    """The lines the command prints: the weights, then top-k by decoding."""
    w = result["weights"]
    lines = [
        f"weights (fitted on {w['source']}): c {w['c']}, h {w['h']}",
        f"test molecules: {result['n_scored']}  ({result['seconds_per_molecule'] * 1000:.1f} ms each to re-rank)",
    ]
    for d in DECODINGS:
        lines.append(f"{d:<9}" + "  ".join(f"top-{k} {_pct(v)}" for k, v in result["topk"][d].items()))
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:5.1f} %"


def main(argv: Sequence[str] | None = None) -> int:
    """``scripts/rerank_run.py``: 0 when written, 2 for a run that cannot be re-ranked (one line), 1
    when decoding the validation sources failed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run folder (benchmark/start_training.py, translate stage done)")
    ap.add_argument("--max_valid", type=int, default=MAX_VALID, help="validation sources to fit the weights on")
    ap.add_argument("--valid_nbest", help="an n-best of the validation sources decoded beforehand (skips decoding)")
    ap.add_argument("--verbose", action="store_true", help="echo onmt_translate's output (it goes to train.log)")
    a = ap.parse_args(argv)
    if a.max_valid < 1:
        ap.error("--max_valid must be at least 1")
    from onmt_moe.runs.runner import ConfigError, StageError, lock_run_dir

    if not os.path.isdir(a.run):
        print(f"error: {a.run}: no such run folder", file=sys.stderr)
        return 2
    try:
        with lock_run_dir(a.run):  # no start_training writes into the folder meanwhile
            res = rerank_run(a.run, a.max_valid, a.valid_nbest, echo=a.verbose)
    except (RerankError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StageError as exc:  # onmt_translate failed on the validation sources
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report(res))
    print(f"wrote {os.path.join(a.run, RERANK_JSON)} and {os.path.join(a.run, fr.WEIGHTS_FILE)}")
    return 0
