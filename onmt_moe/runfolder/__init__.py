"""The run-folder format at the bottom of the package: what a run folder holds and how it is read.

``checkpoints``: the checkpoint listing (``model_step_N.pt``) and the one checkpoint loader
(``load_checkpoint``: ``weights_only=True`` with the plugin's allowlist ``SAFE_GLOBALS``). Imports
nothing of ours but ``masses``/``smiles``; torch only inside functions; never OpenNMT."""

from onmt_moe.runfolder.checkpoints import (
    SAFE_GLOBALS,
    TRUST_FLAG,
    CheckpointError,
    checkpoint_step,
    checkpoints,
    load_checkpoint,
    trusting_checkpoints,
)

__all__ = [
    "SAFE_GLOBALS",
    "TRUST_FLAG",
    "CheckpointError",
    "checkpoint_step",
    "checkpoints",
    "load_checkpoint",
    "trusting_checkpoints",
]
