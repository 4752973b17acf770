"""`make demo` (``scripts/demo.py``): spectra in, SMILES out, routing plots — on simulated small
molecules, on CPU.

0. simulate formula + 1H/13C NMR for the bundled small-molecule list into ``Demo.data``
   (:func:`onmt_moe.simulate.dataset.main`, what ``scripts/simulate_dataset.py --fast --modalities nmr``
   runs, in this process; skipped when the folder has parquet files);
1. → a tagged corpus (:func:`onmt_moe.data.pipeline.main`, what ``benchmark/generate_input.py`` runs);
2. train, decode, score and report in this process (:func:`runner.launch`; the stock ``onmt_*``
   commands are its only subprocesses);
3. print a short summary pointing at the results.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from onmt_moe.data import pipeline
from onmt_moe.runs import runner
from onmt_moe.simulate import dataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_MOLECULES = 30000
# The demo decodes with the formula-guided beam: on the validation split of the paper table's NMR cell
# (benchmark/results/decode_levers.csv) it lifts formula-first top-1 and cuts invalid first candidates
# from 25 % to 6 %. Nested key: the template's other translate settings stay.
FORMULA_BEAM_SET = ["run.translate.moe_formula_beam=true"]
# what the summary lists when the run folder has it
RESULT_FILES = (
    "scores.json",
    "ranks.csv",
    "pred/test.txt",
    "train_steps.csv",
    "valid_summary.csv",
    "moe_steps.csv",
    "moe_aux.csv",
    "grad_norms.csv",
    "anomaly_report.txt",
    "plots/",
)


@dataclass
class Demo:
    """The demo's settings (``scripts/demo.py`` flags of the same names)."""

    data: str = os.path.join(ROOT, "data", "demo_small")
    molecule_list: str = os.path.join(ROOT, "data", "demo", "small_tier_molecules.smi.gz")
    molecules: int = DEMO_MOLECULES
    max_heavy: int = 14  # the simulator's heavy-atom filter on the molecule list
    simulate_args: list[str] = field(default_factory=list)  # more scripts/simulate_dataset.py flags
    corpus: str | None = None  # default: <data>_tagged
    config: str = os.path.join(ROOT, "configs", "demo_moe.yaml")
    runs_dir: str = os.path.join(ROOT, "runs")
    run_name: str = "demo"
    modalities: str = "formula,h_nmr,c_nmr"
    ir_points: int = 100
    msms_top_k: int = 12
    nmr_decimals: str = "1,0,0"
    max_src_tokens: int = 1000
    set: list[str] = field(default_factory=list)
    fresh: bool = False
    data_only: bool = False
    formula_beam: bool = True  # decode under the source's formula (FORMULA_BEAM_SET)

    def __post_init__(self):
        self.corpus = self.corpus or self.data.rstrip("/") + "_tagged"


def simulate_args(d: Demo) -> list[str]:
    """The ``scripts/simulate_dataset.py`` options of the demo's simulation."""
    argv = ["--out", d.data, "--n", str(d.molecules), "--seed", "0", "--fast", "--modalities", "nmr"]
    argv += ["--workers", "2", "--chunk-size", "5000", "--max-heavy", str(d.max_heavy)]
    return argv + ["--smiles-file", d.molecule_list, "--quiet", *d.simulate_args]


def simulate_small_tier(d: Demo) -> int:
    """Formula + 1H/13C NMR (fast estimate) for the first ``d.molecules`` of the bundled list, in this
    process (:func:`onmt_moe.simulate.dataset.main`): 0, or 2 after its one-line error."""
    print(f"==> simulating NMR for {d.molecules} molecules of {d.molecule_list} -> {d.data}", flush=True)
    try:
        return dataset.main(simulate_args(d))
    except SystemExit as exc:  # a bad option in d.simulate_args (argparse has printed why)
        return exc.code if isinstance(exc.code, int) else 2


def build_corpus(d: Demo) -> int:
    """The tagged corpus in ``d.corpus`` (skipped when its test split exists); 0 when it is there."""
    if os.path.exists(os.path.join(d.corpus, "data", "src-test.txt")):
        return 0
    print(f"==> building tagged corpora from {d.data}", flush=True)
    argv = ["--input", d.data, "--out_dir", d.corpus, "--format", "tagged", "--missing", "token"]
    argv += ["--ir_points", str(d.ir_points), "--msms_top_k", str(d.msms_top_k), "--nmr_decimals", d.nmr_decimals]
    argv += ["--max_src_tokens", str(d.max_src_tokens), "--no_progress"]
    argv += [f"--{m.strip()}" for m in d.modalities.split(",") if m.strip()]
    return pipeline.main(argv)


def prepare_data(d: Demo) -> int:
    """Simulated data (when ``d.data`` has no parquet files) and the tagged corpus: 0, 1 (a step
    failed) or 2 (no data and no molecule list)."""
    has_parquet = os.path.isdir(d.data) and any(f.endswith(".parquet") for f in os.listdir(d.data))
    if not has_parquet and os.path.exists(d.molecule_list):
        if simulate_small_tier(d) != 0:
            return 1
    elif not has_parquet:
        print(
            f"error: no parquet files in {d.data} and no molecule list {d.molecule_list} (see data/demo/README.md)",
            file=sys.stderr,
        )
        return 2
    return 1 if build_corpus(d) != 0 else 0


def train(d: Demo, run_dir: str) -> int:
    """Train, decode and score the demo run (``--fresh`` first deletes the folder); 0, 1 or 2."""
    if d.fresh and os.path.isdir(run_dir):
        try:
            with runner.lock_run_dir(run_dir):  # never delete a folder a running start_training writes
                shutil.rmtree(run_dir)
        except runner.ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    sets = [*(FORMULA_BEAM_SET if d.formula_beam else []), *d.set]
    job = runner.Launch(d.config, run_dir, os.path.join(d.corpus, "data"), sets)
    if job.resume:
        print(f"==> {run_dir} exists: resuming (use --fresh to start over)")
    print(
        "==> training, decoding and scoring (a [train] line every report_every steps; full logs: {})".format(
            os.path.join(run_dir, "train.log")
        ),
        flush=True,
    )
    return 0 if runner.launch(job) else 1


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def print_scores(scores: dict, decoding: str = "beam search") -> None:
    topk, reranked = scores.get("topk") or {}, scores.get("formula_consistent_topk") or {}
    print(f"  test        {scores.get('n', '?')} unseen molecules; {decoding}, n-best {len(topk) or '?'}")
    print("              raw      re-ranked (formula-consistent and valid candidates first)")
    for k in ("1", "5", "10"):
        if k in topk:
            rr = f"{reranked[k]:.4f}" if k in reranked else "-"
            print(f"  top-{k:<3}     {topk[k]:.4f}   {rr}")
    if scores.get("invalid_rate_top1") is not None:
        print(
            f"  invalid     {scores['invalid_rate_top1']:.4f} of first candidates, "
            f"{scores['invalid_rate']:.4f} of all candidates"
        )


def print_summary(d: Demo, run_dir: str, seconds: float) -> None:
    """What the demo made: data, model size, test scores, the run folder's result files, the anomaly report."""
    info = _read_json(os.path.join(run_dir, "run.json"))
    summary = _read_json(os.path.join(d.corpus, "data", "summary.json"))
    print("\n" + "=" * 72)
    print(f"onmt_moe demo finished in {seconds:.0f} s")
    written = (summary.get("rows") or {}).get("written", "?")
    print(f"  data        {d.data} -> {d.corpus}/data (rows written: {written})")
    print(
        f"  model       {info.get('params_total', 0) / 1e6:.2f} M parameters, "
        f"{info.get('params_active', 0) / 1e6:.2f} M active per token"
    )
    scores_path = os.path.join(run_dir, "scores.json")
    decoding = "formula-guided beam search" if d.formula_beam else "beam search"
    print_scores(_read_json(scores_path) if os.path.exists(scores_path) else {}, decoding)
    print(f"  run folder  {run_dir}")
    for name in RESULT_FILES:
        if os.path.exists(os.path.join(run_dir, name)):
            print(f"    {name}")
    rep = os.path.join(run_dir, "anomaly_report.txt")
    if os.path.exists(rep):
        with open(rep, encoding="utf-8") as fh:
            print("\n" + fh.read().strip()[:1500])


def run_demo(d: Demo) -> int:
    """The whole demo; the exit status (0 ok, 1 a step failed, 2 a bad setting)."""
    try:  # a bad --run_name / --runs_dir is refused before any work (and before --fresh deletes anything)
        run_dir = runner.check_run_location(d.runs_dir, d.run_name)
    except runner.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.time()
    rc = prepare_data(d)
    if rc != 0:
        return rc
    if d.data_only:
        print(f"==> corpus ready: {os.path.join(d.corpus, 'data')}")
        return 0
    rc = train(d, run_dir)
    if rc == 0:
        print_summary(d, run_dir, time.time() - t0)
    return rc


__all__ = ["Demo", "DEMO_MOLECULES", "run_demo", "prepare_data"]
