"""The run-folder format at the bottom of the package: what a run folder holds and how it is read.

``layout``: the file names (``run.json``, ``config.yaml``, the CSV logs, …), the CSV logs' columns and
the run record's reader and writer (``read_run_json``, ``write_run_json``). ``csvlog``: the crash-safe
CSV log (``CsvLog``), ``read_csv`` and the atomic whole-file writes. ``checkpoints``: the checkpoint
listing (``model_step_N.pt``) and the one checkpoint loader (``load_checkpoint``: ``weights_only=True``
with the plugin's allowlist ``SAFE_GLOBALS``). Imports nothing of ours but the shared leaves; pandas
and torch only inside functions; never OpenNMT."""

from onmt_moe.runfolder.checkpoints import (
    SAFE_GLOBALS,
    TRUST_FLAG,
    CheckpointError,
    checkpoint_step,
    checkpoints,
    load_checkpoint,
    trusting_checkpoints,
)
from onmt_moe.runfolder.csvlog import CsvLog, CsvLogError, atomic_write_json, atomic_write_text, read_csv
from onmt_moe.runfolder.layout import RunFolderError, read_run_json, write_run_json

__all__ = [
    "SAFE_GLOBALS",
    "TRUST_FLAG",
    "CheckpointError",
    "checkpoint_step",
    "checkpoints",
    "load_checkpoint",
    "trusting_checkpoints",
    "CsvLog",
    "CsvLogError",
    "atomic_write_json",
    "atomic_write_text",
    "read_csv",
    "RunFolderError",
    "read_run_json",
    "write_run_json",
]
