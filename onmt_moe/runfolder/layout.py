"""What a run folder holds: the file names, the CSV logs' columns and the run record (``run.json``).

Each name is spelled here once; writers and readers (the runner, the plugin's CSV hooks, diagnostics,
the benchmarks and scripts) import it. ``docs/run-folder.md`` describes the files. Standard library
only."""

from __future__ import annotations

import json
import os
from typing import Any

from onmt_moe.runfolder.csvlog import atomic_write_text

PathLike = str | os.PathLike

# ----------------------------------------------------------------------------- files of a run folder
RUN_JSON = "run.json"  # the plan, paths, stage status and timings, parameter counts, scores, machine
CONFIG_YAML = "config.yaml"  # the resolved onmt_train config, with a provenance header
TRANSLATE_YAML = "translate.yaml"  # the onmt_translate config of the test split
TRAIN_LOG = "train.log"  # everything the OpenNMT commands printed
CORPUS_SUMMARY = "corpus_summary.json"  # a copy of the corpus' summary.json (read by onmt_moe_predict)
VOCAB_RECORD = "vocab.sources.json"  # what the vocabulary was built from (corpus paths, sizes, hashes)
SCORES_JSON = "scores.json"  # the scorer's report on the test split
RANKS_CSV = "ranks.csv"  # the rank of each test example
RERANK_JSON = "scores_rerank.json"  # the test split's top-k by decoding (beam, formula, simulate): runs/rerank
VALID_NBEST = os.path.join("pred", "valid.txt")  # n-best of the first max_valid validation sources (rerank)
VALID_SRC = os.path.join("pred", "valid.src.txt")  # those sources, as decoded
ANOMALY_REPORT_TXT = "anomaly_report.txt"
ANOMALY_REPORT_JSON = "anomaly_report.json"
PLOTS_DIR = "plots"
ANALYSIS_DIR = "analysis"  # scripts/analyze_model.py --run: parameters, gradient summary, profile

# ----------------------------------------------------------------------------- the CSV logs (plugin/reporting)
TRAIN_STEPS = "train_steps.csv"
VALID_SUMMARY = "valid_summary.csv"
MOE_STEPS = "moe_steps.csv"
MOE_AUX = "moe_aux.csv"
GRAD_NORMS = "grad_norms.csv"
TRAIN_TASKS = "train_tasks.csv"  # multi-task runs only
VALID_TASKS = "valid_tasks.csv"

TRAIN_COLUMNS = ["step", "xent", "ppl", "accuracy", "lr", "src_tok_per_s", "tgt_tok_per_s", "elapsed_s", "aux_total"]
VALID_COLUMNS = ["step", "xent", "ppl", "accuracy"]
MOE_COLUMNS = [
    "step",
    "layer",
    "expert",
    "modality",
    "load",
    "load_frac",
    "importance",
    "importance_frac",
    "overflow_frac",
    "entropy_norm",
    "cv",
    "max_over_mean",
    "router_confidence",
    "temperature",
    "k",
]
AUX_COLUMNS = ["step", "component", "raw", "coef", "weighted"]
GRAD_COLUMNS = ["step", "module", "grad_norm"]
TASK_COLUMNS = ["step", "task", "xent", "ppl", "accuracy", "tokens"]  # multi-task runs (plugin.task_metrics)

# every CSV log and its columns, in the order the docs list them
CSV_COLUMNS: dict[str, list] = {
    TRAIN_STEPS: TRAIN_COLUMNS,
    VALID_SUMMARY: VALID_COLUMNS,
    MOE_STEPS: MOE_COLUMNS,
    MOE_AUX: AUX_COLUMNS,
    GRAD_NORMS: GRAD_COLUMNS,
    TRAIN_TASKS: TASK_COLUMNS,
    VALID_TASKS: TASK_COLUMNS,
}
CSV_FILES: tuple[str, ...] = tuple(CSV_COLUMNS)
# the logs of every run (single- or multi-task): what plots and the anomaly report read
STEP_LOGS: tuple[str, ...] = (TRAIN_STEPS, VALID_SUMMARY, MOE_STEPS, MOE_AUX, GRAD_NORMS)


def tasks_csv(which: str) -> str:
    """``train_tasks.csv`` / ``valid_tasks.csv`` for ``which`` in ``train``, ``valid``."""
    return f"{which}_tasks.csv"


# ----------------------------------------------------------------------------- run.json
class RunFolderError(ValueError):
    """A run folder's record is missing or unreadable; the message is one line naming the file."""


def run_json_path(run_dir: PathLike) -> str:
    return os.path.join(os.fspath(run_dir), RUN_JSON)


def read_run_json(run_dir: PathLike, missing_ok: bool = False) -> dict[str, Any]:
    """The run record ``<run_dir>/run.json`` as a dict (the one reader).

    A missing file is ``{}`` with ``missing_ok``, else a :class:`RunFolderError`; so is a file that is
    not a JSON object (``…/run.json:3: invalid JSON (…)``)."""
    path = run_json_path(run_dir)
    if not os.path.isfile(path):
        if missing_ok:
            return {}
        raise RunFolderError(f"{path}: no such file (is {os.fspath(run_dir)} a run folder?)")
    try:
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not isinstance(info, dict):
        raise RunFolderError(f"{path}: expected a JSON object, got {type(info).__name__}")
    return info


def write_json(path: PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as the run folder's JSON files are written (indented, keys sorted,
    anything else as ``str``)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_run_json(run_dir: PathLike, info: dict[str, Any]) -> str:
    """Atomically (re)write ``<run_dir>/run.json``; returns its path."""
    path = run_json_path(run_dir)
    write_json(path, info)
    return path


__all__ = [
    "RUN_JSON",
    "CONFIG_YAML",
    "TRANSLATE_YAML",
    "TRAIN_LOG",
    "CORPUS_SUMMARY",
    "VOCAB_RECORD",
    "SCORES_JSON",
    "RANKS_CSV",
    "RERANK_JSON",
    "VALID_NBEST",
    "VALID_SRC",
    "ANOMALY_REPORT_TXT",
    "ANOMALY_REPORT_JSON",
    "PLOTS_DIR",
    "ANALYSIS_DIR",
    "TRAIN_STEPS",
    "VALID_SUMMARY",
    "MOE_STEPS",
    "MOE_AUX",
    "GRAD_NORMS",
    "TRAIN_TASKS",
    "VALID_TASKS",
    "TRAIN_COLUMNS",
    "VALID_COLUMNS",
    "MOE_COLUMNS",
    "AUX_COLUMNS",
    "GRAD_COLUMNS",
    "TASK_COLUMNS",
    "CSV_COLUMNS",
    "CSV_FILES",
    "STEP_LOGS",
    "tasks_csv",
    "RunFolderError",
    "run_json_path",
    "read_run_json",
    "write_json",
    "write_run_json",
]
