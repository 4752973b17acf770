"""`make demo-glycan` (``scripts/demo_glycan.py``): one multi-task GlycoLLM-style model on CPU —
structure, spectrum, text, retrieval.

0. build a small glycan set (what ``scripts/build_glycan_dataset.py`` runs, in this process; skipped when
   the folder exists): by default three simulated spectra per structure, every structure trained on and
   tested on a new spectrum of it (the closed set CandyCrunch works in; ``--split_mode structure``: de novo);
1. one multi-task corpus, one vocabulary (:func:`onmt_moe.glycan.corpus.write_corpus`, what
   ``benchmark/generate_glycan_input.py --multitask struct,spec,text,align --text --target_task_token``
   writes), in this process;
2. train, decode and score every task in this process (:func:`runner.launch`, the stock ``onmt_*``
   commands its subprocesses), with :data:`MODEL_SET` on ``configs/glycan_multitask.yaml``;
3. retrieval on the run (what ``benchmark/retrieve.py`` runs, in this process); 4. print the scores;
5. the table: every task against a baseline that needs no model and chance
   (:mod:`onmt_moe.glycan.demo_table`), and the closed-set structure classifier
   (:mod:`onmt_moe.runs.glycan_classifier`) beside the structure task, into
   ``benchmark/results/glycan_demo.{csv,md}`` (``--results``), printed.

Every step prints its command line (``$ …``; the in-process ones their equivalent command).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from onmt_moe.glycan import demo_table
from onmt_moe.glycan.commands import build_main
from onmt_moe.glycan.corpus import CorpusError, CorpusOptions, write_corpus
from onmt_moe.glycan.demo_summary import summary_lines
from onmt_moe.glycan.spectra_tokens import SpecTokConfig
from onmt_moe.runs import glycan_classifier, runner
from onmt_moe.runs.steps import Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the GlycoLLM-style settings on top of configs/glycan_multitask.yaml (one definition: here)
MODEL_SET = [
    "within_modality_attention=true",
    "fusion_layers=1",
    "modality_type_embedding=true",
    "segment_positions=true",
    "moe_contrastive_coef=0.05",
    "moe_contrastive_pairs=MS:WURCS,TEXT:WURCS,MS:TEXT",
    "moe_contrastive_temperature=0.07",
    "moe_contrastive_margin=0.2",
    "moe_contrastive_hard_key=MS",
]
# the CPU budget: half-size token batches and a shorter warm-up than the config (600 steps ≈ 10 min on 2 busy cores)
BUDGET_SET = ["batch_size=2048", "warmup_steps=200"]
# gradient norms every 50 steps, so `make analyze RUN=runs/glycan_demo` has them to summarise
ANALYSIS_SET = ["moe_grad_norm_every=50"]
TASKS = "struct,spec,text,align"
# numeric peaks are read by their value (onmt_moe/plugin/value_embedding.py)
VALUE_SET = ["value_embedding=replace"]


@dataclass
class GlycanDemo:
    """The demo's settings (``scripts/demo_glycan.py`` flags of the same names)."""

    data: str | None = None  # default: data/glycan_demo, data/glycan_demo_library<K> for the library split
    structures: int = 1500
    max_residues: int = 10
    corpus: str | None = None  # default: <data>_mt
    config: str = os.path.join(ROOT, "configs", "glycan_multitask.yaml")
    runs_dir: str = os.path.join(ROOT, "runs")
    run_name: str = "glycan_demo"
    steps: int = 600
    beam: int = 3
    max_candidates: int = 30
    workers: int = 2
    set: list[str] = field(default_factory=list)
    fresh: bool = False
    numeric_peaks: bool = False  # spectra as numbers read by a value embedding (spectra_tokens.py)
    tasks: str = TASKS  # e.g. "struct": the single-task model at the same budget (a lever)
    results: str = os.path.join(ROOT, "benchmark", "results", "glycan_demo.csv")  # and the .md beside it
    # library (every structure trained on with spectra_per_structure spectra; validation and test are new
    # spectra of them: CandyCrunch's closed set) or structure (de novo: test structures never trained on)
    split_mode: str = "library"
    spectra_per_structure: int | None = None  # default: 3 for the library split, 1 de novo

    def __post_init__(self):
        if self.spectra_per_structure is None:
            self.spectra_per_structure = 3 if self.split_mode == "library" else 1
        if self.data is None:
            library = f"_library{self.spectra_per_structure}" if self.split_mode == "library" else ""
            self.data = os.path.join(ROOT, "data", "glycan_demo" + library)
        tag = "" if self.tasks == TASKS else "_" + self.tasks.replace(",", "_")
        self.corpus = self.corpus or self.data.rstrip("/") + ("_mt_values" if self.numeric_peaks else "_mt") + tag

    @property
    def structure_in_source(self) -> bool:
        """Does some task read a structure (``<WURCS>``)? Alignment and retrieval pair it with the spectrum."""
        return any(t in self.tasks.split(",") for t in ("spec", "text", "align"))

    @property
    def run_dir(self) -> str:
        return os.path.join(self.runs_dir, self.run_name)


def run_step(step: Step) -> bool:
    """Print the equivalent command line of one of the demo's steps and run it in this process."""
    print("$ " + " ".join(step.command()), flush=True)
    return step.run()


def build_data(d: GlycanDemo) -> bool:
    """The glycan set (``scripts/build_glycan_dataset.py``'s main), when ``d.data`` has none."""
    if os.path.exists(os.path.join(d.data, "glycan.parquet")):
        return _data_matches(d)
    argv = ["--out", d.data, "--limit", str(d.structures), "--max_residues", str(d.max_residues)]
    argv += ["--split_mode", d.split_mode, "--spectra_per_structure", str(d.spectra_per_structure)]
    return run_step(Step("scripts/build_glycan_dataset.py", [*argv, "--workers", str(d.workers)], build_main))


def _data_matches(d: GlycanDemo) -> bool:
    """An existing glycan set is reused only if it was split the way this demo asks (a set without a
    summary.json was put there by hand: it is used as it is)."""
    path = os.path.join(d.data, "summary.json")
    if not os.path.exists(path):
        return True
    summary = _read_json(path)
    built = (summary.get("split_mode", "structure"), int(summary.get("spectra_per_structure", 1)))
    if built != (d.split_mode, d.spectra_per_structure):
        print(
            f"error: {d.data} was built with split_mode={built[0]}, spectra_per_structure={built[1]}; "
            "remove it or pass another --data",
            file=sys.stderr,
        )
        return False
    return True


def _corpus_matches(d: GlycanDemo) -> bool:
    """An existing corpus is reused only if its spectra are written the way this demo asks."""
    path = os.path.join(d.corpus, "summary.json")
    summary = _read_json(path) if os.path.exists(path) else {}
    numeric = bool(summary.get("spectrum_tokens", {}).get("numeric_peaks", False))
    if numeric != d.numeric_peaks:
        print(f"error: {d.corpus} has numeric_peaks={numeric}; remove it or pass --corpus", file=sys.stderr)
        return False
    return True


def build_corpus(d: GlycanDemo) -> bool:
    """The multi-task corpus in ``d.corpus`` (in this process), when it has no tasks.json."""
    if os.path.exists(os.path.join(d.corpus, "tasks.json")):
        return _corpus_matches(d)
    argv = ["--input", d.data, "--out_dir", d.corpus, "--text", "--multitask", d.tasks, "--target_task_token"]
    argv += ["--numeric_peaks"] if d.numeric_peaks else []
    print("$ " + " ".join([os.path.join(ROOT, "benchmark", "generate_glycan_input.py"), *argv]), flush=True)
    opt = CorpusOptions(text=True, multitask=d.tasks, target_task_token=True)
    try:
        write_corpus(d.data, d.corpus, SpecTokConfig(numeric_peaks=d.numeric_peaks), opt)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def train_job(d: GlycanDemo) -> runner.Launch:
    """The training run: every task decoded and scored (no report stage)."""
    half = max(1, d.steps // 2)
    translate = f"{{beam_size: {d.beam}, n_best: {d.beam}, min_length: 1, max_length: 200, batch_size: 64}}"
    sets = [f"train_steps={d.steps}", f"valid_steps={half}", f"save_checkpoint_steps={half}"]
    model = MODEL_SET if d.structure_in_source else [m for m in MODEL_SET if not m.startswith("moe_contrastive")]
    sets += [f"run.translate={translate}", *model, *BUDGET_SET, *ANALYSIS_SET]
    sets += [*(VALUE_SET if d.numeric_peaks else []), *d.set]
    stages = ("vocab", "train", "translate", "score")
    return runner.Launch(d.config, d.run_dir, os.path.join(d.corpus, "data"), sets, stages)


def train(d: GlycanDemo) -> bool:
    if d.fresh and os.path.isdir(d.run_dir):
        shutil.rmtree(d.run_dir)
    job = train_job(d)
    print("$ " + " ".join(job.command()[1:]), flush=True)
    return runner.launch(job)


def _retrieve_main(argv: list[str]) -> int:
    from onmt_moe.runs import retrieval  # torch: loaded when the demo gets there

    return retrieval.main(argv)


def retrieve(d: GlycanDemo) -> bool:
    """Retrieval on the run (``benchmark/retrieve.py``'s main) into ``<run>/retrieval.json``; none when
    no task reads a structure (nothing to retrieve against)."""
    if not d.structure_in_source:
        print(f"retrieval skipped: no task of {d.tasks!r} reads a structure", flush=True)
        return True
    argv = ["--run", d.run_dir, "--max_candidates", str(d.max_candidates)]
    return run_step(Step("benchmark/retrieve.py", argv, _retrieve_main))


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def print_summary(d: GlycanDemo, times: list[float]) -> None:
    """``times``: when the demo, training and retrieval started."""
    t0, t_train, t_ret = times
    scores = _read_json(os.path.join(d.run_dir, "scores.json"))
    path = os.path.join(d.run_dir, "retrieval.json")
    retrieval = _read_json(path) if os.path.exists(path) else {}
    info = _read_json(os.path.join(d.run_dir, "run.json"))
    print("\n" + "=" * 72)
    print(
        f"glycan demo finished in {time.time() - t0:.0f} s (data {t_train - t0:.0f} s, train + decode + score "
        f"{t_ret - t_train:.0f} s, retrieval {time.time() - t_ret:.0f} s); SYNTHETIC spectra"
    )
    print(
        f"  model       {info.get('params_total', 0) / 1e6:.2f} M parameters, {d.steps} steps, one model for "
        f"{len(scores.get('tasks', {}))} tasks; run folder {d.run_dir}"
    )
    print("\n".join(summary_lines(scores, retrieval)))


def classifier_rows(d: GlycanDemo, rows: list[dict]) -> list[dict]:
    """The closed-set classifier (:mod:`onmt_moe.runs.glycan_classifier`) trained on the structure task's
    files, scored like the run: rows ``struct_classifier`` beside the run's top-1/top-3 ``struct`` rows,
    with their baselines and chance. None without a structure task."""
    if "struct" not in d.tasks.split(","):
        return []
    t0 = time.time()
    data_dir = _read_json(os.path.join(d.run_dir, "run.json"))["data_dir"]  # the corpus the run trained on
    task_dir = os.path.join(data_dir, "struct")
    prefix = demo_table.corpus_tasks(data_dir)["struct"][1]
    preds = glycan_classifier.classify(task_dir, 3, prefix=prefix)
    os.makedirs(os.path.join(d.run_dir, "classifier"), exist_ok=True)
    scores = glycan_classifier.score(task_dir, preds, 3, os.path.join(d.run_dir, "classifier", "struct.txt"))
    topk = scores.get("topk") or {}
    print(
        f"structure classifier: top-1 {topk.get('1', 0):.1%}, top-3 {topk.get('3', 0):.1%} ({time.time() - t0:.0f} s)"
    )
    return [
        dict(r, task="struct_classifier", ours=topk.get(r["metric"][3:]))
        for r in rows
        if r["task"] == "struct" and r["metric"] in ("top1", "top3")
    ]


def write_demo_table(d: GlycanDemo) -> bool:
    """The table (every task: ours, baseline, chance; the structure classifier beside the structure task)
    into ``d.results`` and the .md beside it, printed."""
    try:
        rows = demo_table.build_rows(d.run_dir)
    except demo_table.DemoTableError as exc:
        print(f"error: the demo table: {exc}", file=sys.stderr)
        return False
    rows += classifier_rows(d, rows)
    run = os.path.abspath(d.run_dir)
    shown = os.path.relpath(run, ROOT) if run.startswith(ROOT + os.sep) else run
    md = demo_table.write_table(rows, d.results, runner.machine_line(), shown)
    print("\n" + md)
    print(f"table: {d.results} and {os.path.splitext(d.results)[0]}.md", flush=True)
    return True


def run_demo(d: GlycanDemo) -> int:
    """The whole demo; the exit status (0 ok, 1 a step failed)."""
    t0 = time.time()
    if not (build_data(d) and build_corpus(d)):
        return 1
    t_train = time.time()
    if not train(d):
        return 1
    t_ret = time.time()
    if not retrieve(d):
        return 1
    print_summary(d, [t0, t_train, t_ret])
    return 0 if write_demo_table(d) else 1


__all__ = ["GlycanDemo", "MODEL_SET", "BUDGET_SET", "run_demo", "train_job", "write_demo_table"]
