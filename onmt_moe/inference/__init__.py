"""Driving a trained checkpoint: the engine below the tracks, which ``predict/`` (``onmt_moe_predict``)
and the real-spectrum benchmarks (``runs/``) both stand on.

Modules:
  decode      beam search with OpenNMT's inference engine, the plugin loaded (``Decoder``), and which
              checkpoint a run folder means (``checkpoint_path``, ``checkpoint_info``)
  likelihood  teacher-forced log P(target | source) of given candidates (``load_model``,
              ``log_likelihood``, ``token_ids``)

Imports OpenNMT, torch, the bare ``onmt_moe`` (registers the plugin) and ``runfolder`` (the checkpoint
listing and the one safe loader); nothing of the tracks. Importing this package loads neither torch
nor OpenNMT.
"""


class ModelError(ValueError):
    """A checkpoint or run folder that cannot be used; the message is one line naming the file."""
