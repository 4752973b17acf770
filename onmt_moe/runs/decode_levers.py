"""The decoding levers of a finished SMILES run, one at a time, on the **validation** split
(``scripts/decode_levers.py``; the test split is never decoded here).

The first ``n`` validation sources are decoded by ``onmt_translate`` with the run's ``translate.yaml``
and one change at a time (:data:`LEVERS`): the beam size, the formula-guided beam
(``-moe_formula_beam``). Each n-best is then ordered three ways (:mod:`onmt_moe.runs.real_spectra`):
``beam`` (the model's order), ``formula`` (valid, formula-consistent candidates first) and, for runs
whose sources carry ¹H/¹³C NMR, ``simulate`` (forward-simulation re-ranking). The simulate weights
are fitted on the first half of the decoded sources and every number is scored on the second half,
so no weight is chosen on what it is scored on.

Rows (``benchmark/results/decode_levers.csv``): run, lever, setting, decoding, n, top-1/5/10, the
share of invalid first candidates, decoding seconds per molecule, machine. A rerun replaces the rows
of its own run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from onmt_moe.evaluation.scoring import Canonicaliser
from onmt_moe.predict import forward_rank as fr
from onmt_moe.runfolder.csvlog import atomic_write_text
from onmt_moe.runfolder.layout import TRANSLATE_YAML
from onmt_moe.runs import rerank, result_csv
from onmt_moe.runs.rerank import RerankError

# (lever, setting, onmt_translate flags): the run's own translate.yaml first, then one change each
LEVERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("baseline", "translate.yaml", ()),
    ("beam_size", "5", ("-beam_size", "5", "-n_best", "5")),
    ("beam_size", "20", ("-beam_size", "20")),
    ("formula_beam", "on", ("-moe_formula_beam",)),
)
COLUMNS = ["run", "lever", "setting", "decoding", "n", "top1", "top5", "top10", "invalid_top1", "sec_per_mol"]
N_VALID = 600


def decode(files: rerank.RunFiles, src: str, out: str, flags: Sequence[str], log: str) -> float:
    """``onmt_translate`` of ``src`` with the run's translate.yaml and ``flags``; returns seconds."""
    from onmt_moe.runs.runner import onmt_command, run_logged

    config = os.path.join(files.run_dir, TRANSLATE_YAML)
    if not os.path.isfile(config):
        raise RerankError(f"{files.run_dir}: no {TRANSLATE_YAML} (run the translate stage first)")
    t0 = time.time()
    run_logged(onmt_command("onmt_translate") + ["-config", config, "-src", src, "-output", out, *flags], log, False)
    return time.time() - t0


def n_best_of(flags: Sequence[str], default: int) -> int:
    """The n-best a lever's flags decode (``-n_best`` if it sets one, else the run's)."""
    return int(flags[list(flags).index("-n_best") + 1]) if "-n_best" in flags else default


def invalid_first(samples) -> float:
    """Share of samples whose model-first candidate is not a valid SMILES."""
    bad = sum(1 for rows, _ in samples if not min(rows, key=lambda r: r["beam_rank"]).get("valid", False))
    return round(bad / len(samples), 4) if samples else 0.0


def score_lever(src_lines, tgt_lines, nbest_path: str, n_best: int, with_nmr: bool, canon) -> dict:
    """{decoding: row values} for one decoded n-best: weights fitted on the first half, scored on the rest."""
    n = len(src_lines)
    cands, scores = rerank.read_candidates(nbest_path, n_best, n, exact=False)
    half = n // 2
    fit, _ = rerank.read_samples(src_lines[:half], tgt_lines[:half], cands[:half], scores[:half], canon)
    test, _ = rerank.read_samples(src_lines[half:], tgt_lines[half:], cands[half:], scores[half:], canon)
    weights = fr.fit_weights(fit, source=f"validation sources 1-{half}")[0] if with_nmr and fit else fr.Weights()
    out = {}
    for decoding in rerank.DECODINGS:
        if decoding == "simulate" and not with_nmr:
            continue
        top = rerank.topk(test, decoding, weights)
        out[decoding] = {"n": len(test), **{f"top{k}": v for k, v in top.items()}, "invalid_top1": invalid_first(test)}
    return out


def run_levers(run_dir: str, n: int = N_VALID, levers=LEVERS, echo: bool = False) -> list[dict]:
    """Every lever's rows for one run folder (module doc)."""
    files = rerank.run_files(run_dir)
    src_lines = rerank._lines(files.src_val)[:n]
    tgt_lines = rerank._lines(files.tgt_val)[:n]
    if len(src_lines) < 2:
        raise RerankError(f"{files.src_val}: fewer than 2 validation sources")
    with_nmr = any(rerank.has_nmr(line) for line in src_lines)
    work = os.path.join(run_dir, "levers")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "src-val.txt")
    atomic_write_text(src, "".join(line + "\n" for line in src_lines))
    canon, rows = Canonicaliser(), []
    name = os.path.basename(os.path.normpath(run_dir))
    for lever, setting, flags in levers:
        out = os.path.join(work, f"{lever}_{setting}.txt".replace("/", "_"))
        seconds = decode(files, src, out, [*flags, "-with_score"], os.path.join(work, "translate.log"))
        scored = score_lever(src_lines, tgt_lines, out, n_best_of(flags, files.n_best), with_nmr, canon)
        for decoding, vals in scored.items():
            row = {"run": name, "lever": lever, "setting": setting, "decoding": decoding, **vals}
            rows.append(dict(row, sec_per_mol=round(seconds / len(src_lines), 4)))
        if echo:
            print(f"{lever} {setting}: " + ", ".join(f"{d} top-1 {v['top1']}" for d, v in scored.items()), flush=True)
    return rows


def write_rows(path: str, rows: list[dict]) -> None:
    """Merge ``rows`` into the CSV at ``path`` (rows of the same runs replaced)."""
    result_csv.merge_rows(path, rows, "run", COLUMNS)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, help="a finished run folder (repeatable)")
    ap.add_argument("--n", type=int, default=N_VALID, help="validation sources decoded per lever")
    ap.add_argument("--results", default=os.path.join("benchmark", "results", "decode_levers.csv"))
    a = ap.parse_args(argv)
    if a.n < 2:
        ap.error("--n must be at least 2")
    from onmt_moe.runs.runner import StageError

    rows = []
    for run_dir in a.run:
        try:
            rows += run_levers(run_dir, a.n, echo=True)
        except RerankError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except StageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    write_rows(a.results, rows)
    print(f"wrote {a.results} ({len(rows)} rows)")
    return 0
