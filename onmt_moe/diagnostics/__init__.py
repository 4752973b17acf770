"""Looking inside runs and models: anomaly report, plots, parameter tables, gradient norms,
the module profiler and checkpoint loading.

May import: torch, OpenNMT (to load a checkpoint), ``onmt_moe.moe``, ``onmt_moe.modality``, ``onmt_moe.runfolder``
(the run-folder format: file names, CSV logs, the checkpoint loader); nothing from runs or plugin.
"""
