"""`make bench-glycan-real`: a structure model trained on simulated spectra, scored on the real sets.

The closed-set protocol (issue 17, part 4): every N- and O-glycan of glycowork's class list that has
a verified WURCS (<= ``max_residues``) is simulated with the real-spectrum knobs (reduced end,
ion-trap m/z error, intensity rules fitted on GPST000017) ``spectra_per_structure`` times, all in
train (``--split_mode library``: val/test are new spectra of seen structures, as CandyCrunch's
test glycans are in its training library). One model is trained on that corpus with the stock
OpenNMT commands and each shared real set is scored as ``benchmark/evaluate_real_glycan.py`` scores it:
free decoding, mass re-ranking, and the class-list isomers of the inferred composition ranked by
the model's likelihood, beside the random-isomer and composition-only baselines. Never trained on a
real spectrum. Every stage is skipped when its output exists, so the command resumes. Every stage
runs in this process (the library ``main`` of the script named in its logged command line,
:class:`~onmt_moe.runs.steps.Step`); OpenNMT's own ``onmt_*`` commands are the only subprocesses.

``--twin`` (`make bench-glycan-twin`) adds the side-by-side table of real spectra and their simulated
twins: for each set, the matched annotated spectra whose structure converts to WURCS are written out
(the real subset) and re-simulated from their annotation with the same knobs and a noise seed no
training spectrum used (the twin); the same model scores both (``benchmark/results/glycan_twin``).
Ours on the twin vs on the real subset says how far the simulator is from what real spectra give a
simulated-data model; CandyCrunch on the same files (``scripts/run_candycrunch.py``) is the judge
trained on real spectra.

    python scripts/bench_glycan_real.py [--data data/glycan_library] [--run runs/glycan_library]
        [--steps 2500] [--real data/real_glycan] [--results benchmark/results/glycan_real] [--twin]
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from onmt_moe.glycan.commands import build_main, corpus_main, twin_main
from onmt_moe.runs import glycan_real_model, runner
from onmt_moe.runs.paper_table import markdown_table, write_csv
from onmt_moe.runs.steps import Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (folder under the real-data root, spectra file, annotations file, glycan class)
REAL_SETS = (
    ("GPST000017", "JC_141128PGMa.xlsx", "df_mz_GPST000017.csv", "O"),
    ("GPST000350", "JC_200217P1N_200218002345.xlsx", "df_mz_GPST000350.csv", "N"),
    ("PMC8950484_CHO", "JC_171002Y1.xlsx", "df_mz_PMC8950484_CHO.csv", "O"),
)
# the real-spectrum simulator knobs (issue 17 part 3; one definition: here)
SIMULATOR = ["--reducing_end", "reduced", "--mz_sigma", "0.15", "--intensity_rules", "fitted"]
# source tokens at ion-trap tolerances with candidate compositions (no TEXT: a real spectrum has no metadata)
CORPUS = ["--reducing_end", "reduced", "--loss_tol", "0.3", "--diag_tol", "0.3", "--no_peak_pairs"]
CORPUS += ["--composition", "--comp_tol", "0.5", "--comp_max", "3"]
# the twins' simulator noise seed: the library's three spectra per structure used seeds 13-15
# (SimParams.seed + spectrum index), so seed 99 gives spectra no training row saw
TWIN_SEED = 99
METHODS = (
    ("model", "ours, beam top-1"),
    ("model_reranked", "ours, mass re-ranked"),
    ("model_library", "ours, library-ranked"),
    ("library_chance", "random scored isomer"),
    ("chance", "random isomer (true comp.)"),
    ("composition_only", "composition-only"),
)


@dataclass
class Plan:
    data: str = os.path.join(ROOT, "data", "glycan_library")
    run: str = os.path.join(ROOT, "runs", "glycan_library")
    real: str = os.path.join(ROOT, "data", "real_glycan")  # CandyCrunch test data, MIT (see its README)
    results: str = os.path.join(ROOT, "benchmark", "results", "glycan_real")
    config: str = os.path.join(ROOT, "configs", "glycan_moe.yaml")
    steps: int = 2500
    spectra_per_structure: int = 3
    max_residues: int = 12
    workers: int = 1
    sets: list[str] = field(default_factory=list)  # more start_training --set KEY=VALUE
    twin: str = os.path.join(ROOT, "data", "glycan_twin")  # real subsets and simulated twins (--twin)
    twin_results: str = os.path.join(ROOT, "benchmark", "results", "glycan_twin")

    @property
    def corpus(self) -> str:
        return self.data.rstrip("/") + "_corpus"


def build_step(p: Plan) -> Step:
    """The library set (``scripts/build_glycan_dataset.py``'s main, in this process)."""
    argv = [
        "--out",
        p.data,
        "--glycan_types",
        "N,O",
        "--max_residues",
        str(p.max_residues),
        "--spectra_per_structure",
        str(p.spectra_per_structure),
        "--split_mode",
        "library",
        "--workers",
        str(p.workers),
        *SIMULATOR,
    ]
    return Step("scripts/build_glycan_dataset.py", argv, build_main)


def corpus_step(p: Plan) -> Step:
    """The corpus (``benchmark/generate_glycan_input.py``'s main, in this process)."""
    return Step("benchmark/generate_glycan_input.py", ["--input", p.data, "--out_dir", p.corpus, *CORPUS], corpus_main)


def train_job(p: Plan) -> runner.Launch:
    """The training run (in this process, :func:`runner.launch`)."""
    half = max(1, p.steps // 5)
    sets = [
        f"train_steps={p.steps}",
        f"valid_steps={half}",
        f"save_checkpoint_steps={half}",
        "run.translate={beam_size: 5, n_best: 5, min_length: 1, max_length: 200, batch_size: 64}",
        *p.sets,
    ]
    return runner.Launch(p.config, p.run, os.path.join(p.corpus, "data"), sets)


def evaluate_step(p: Plan, spectra: str, annotations: str, glycan_class: str, out: str) -> Step:
    """The run's model on one set (``benchmark/evaluate_real_glycan.py``'s main, in this process)."""
    argv = ["--run", p.run, "--spectra", spectra, "--annotations", annotations, "--glycan_class", glycan_class]
    return Step("benchmark/evaluate_real_glycan.py", [*argv, "--out", out], glycan_real_model.main)


def twin_files(p: Plan, folder: str, spectra: str, kind: str) -> tuple:
    """(spectra xlsx, df_mz csv) that scripts/simulate_real_twin.py writes for ``kind`` 'real' or 'sim'."""
    stem = os.path.splitext(spectra)[0] + f"_{kind}"
    d = os.path.join(p.twin, folder, kind)
    return os.path.join(d, f"{stem}.xlsx"), os.path.join(d, f"df_mz_{stem}.csv")


def twin_step(p: Plan, folder: str, spectra: str, annotations: str, glycan_class: str, kind: str) -> Step:
    """A set's real subset or simulated twin (``scripts/simulate_real_twin.py``'s main, in this process)."""
    d = os.path.join(p.real, folder)
    argv = ["--spectra", os.path.join(d, spectra), "--annotations", os.path.join(d, annotations)]
    argv += ["--glycan_class", glycan_class, "--out_dir", os.path.join(p.twin, folder, kind)]
    argv += ["--real"] if kind == "real" else ["--seed", str(TWIN_SEED), *SIMULATOR]
    return Step("scripts/simulate_real_twin.py", argv, twin_main)


def twin_stages(p: Plan) -> list[tuple]:
    """Per set: write the real subset and the simulated twin, then score both with the run's model."""
    out = []
    for folder, spectra, ann, cls in REAL_SETS:
        for kind in ("real", "sim"):
            xlsx, csv = twin_files(p, folder, spectra, kind)
            out.append((f"twin {kind} {folder}", xlsx, twin_step(p, folder, spectra, ann, cls, kind)))
            scored = os.path.join(p.run, f"twin_{folder}_{kind}")
            done = os.path.join(scored, "real_scores.json")
            out.append((f"score {kind} {folder}", done, evaluate_step(p, xlsx, csv, cls, scored)))
    return out


def stages(p: Plan) -> list[tuple]:
    """(name, output that marks it done, :class:`Step` or training run) in order."""
    out = [
        ("build", os.path.join(p.data, "glycan.parquet"), build_step(p)),
        ("corpus", os.path.join(p.corpus, "summary.json"), corpus_step(p)),
        ("train", os.path.join(p.run, "scores.json"), train_job(p)),
    ]
    for folder, spectra, ann, cls in REAL_SETS:
        d, scored = os.path.join(p.real, folder), os.path.join(p.run, f"real_{folder}")
        step = evaluate_step(p, os.path.join(d, spectra), os.path.join(d, ann), cls, scored)
        out.append((f"real {folder}", os.path.join(scored, "real_scores.json"), step))
    return out


def table_rows(p: Plan) -> list[dict]:
    """One row per real set and method, read back from the run's real_scores.json files."""
    rows = []
    for folder, _, _, cls in REAL_SETS:
        path = os.path.join(p.run, f"real_{folder}", "real_scores.json")
        with open(path, encoding="utf-8") as fh:
            res = json.load(fh)
        k = res["options"]["n_best"]
        for key, name in METHODS:
            if key not in res:
                continue
            r = res[key]
            rows.append(
                {
                    "set": folder,
                    "class": cls,
                    "annotated": res["n_with_structure"],
                    "matched": res["n_matched_with_structure"],
                    "method": name,
                    "top1": round(r["top1"], 4),  # fractions, as in the paper table
                    f"top{k}": round(r[f"top{k}"], 4),
                    "f1": round(r["f1"], 3),
                }
            )
    return rows


def twin_rows(p: Plan) -> list[dict]:
    """One row per set and method: top-1 / top-k on the real subset beside the same on its twin."""
    rows = []
    for folder, _, _, cls in REAL_SETS:
        res = {}
        for kind in ("real", "sim"):
            with open(os.path.join(p.run, f"twin_{folder}_{kind}", "real_scores.json"), encoding="utf-8") as fh:
                res[kind] = json.load(fh)
        k = res["real"]["options"]["n_best"]
        for key, name in METHODS:
            if key not in res["real"] or key not in res["sim"]:
                continue
            row = {"set": folder, "class": cls, "spectra": res["real"]["n_matched_with_structure"], "method": name}
            for kind, label in (("real", "real"), ("sim", "twin")):
                row[f"top1_{label}"] = round(res[kind][key]["top1"], 4)
                row[f"top{k}_{label}"] = round(res[kind][key][f"top{k}"], 4)
            rows.append(row)
    return rows


def simulated_test_row(p: Plan) -> dict:
    """The run's own scores on its simulated test split (new spectra of seen structures)."""
    with open(os.path.join(p.run, "scores.json"), encoding="utf-8") as fh:
        s = json.load(fh)
    return {"n": s.get("n"), "top1": s.get("topk", {}).get("1"), "top5": s.get("topk", {}).get("5")}


def write_results(p: Plan, rows: Sequence[dict], log: Callable[[str], None] = print, path: str = "") -> None:
    """``rows`` as ``path``.csv and .md (default: the real-set table, ``p.results``)."""
    path = path or p.results
    cols = list(dict.fromkeys(k for r in rows for k in r))
    write_csv(rows, path + ".csv", cols)
    with open(path + ".md", "w", encoding="utf-8") as fh:
        fh.write(markdown_table(rows, cols) + "\n")
    log(markdown_table(rows, cols))
    log(f"-> {path}.csv, {path}.md")


def run_stages(todo: Sequence[tuple], log: Callable[[str], None]) -> int:
    """Run each (name, done marker, :class:`Step` or :class:`runner.Launch`) whose marker is missing, in
    this process (its equivalent command line is logged); 1 at the first failure."""
    for name, done, step in todo:
        if os.path.exists(done):
            log(f"==> {name}: done ({done})")
            continue
        job = step if isinstance(step, runner.Launch) else None
        log(f"==> {name}: $ {' '.join(job.command()[1:] if job else step.command())}")
        if not (runner.launch(job) if job else step.run()):
            log(f"error: stage {name} failed (command above); rerun to resume")
            return 1
    return 0


def run(p: Plan, log: Callable[[str], None] = print, twin: bool = False) -> int:
    if run_stages(stages(p) + (twin_stages(p) if twin else []), log):
        return 1
    sim = simulated_test_row(p)
    log(f"simulated test (seen structures, new spectra): n {sim['n']}, top-1 {sim['top1']}, top-5 {sim['top5']}")
    write_results(p, table_rows(p), log)
    if twin:
        write_results(p, twin_rows(p), log, path=p.twin_results)
    return 0


__all__ = ["Plan", "REAL_SETS", "TWIN_SEED", "stages", "twin_stages", "table_rows", "twin_rows", "write_results", "run"]
