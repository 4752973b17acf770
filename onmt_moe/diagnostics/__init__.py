"""Looking inside runs and models: anomaly report, plots, parameter tables, gradient norms,
the module profiler and checkpoint loading.

May import: torch, OpenNMT (to load a checkpoint), ``onmt_moe.moe``, ``onmt_moe.modality``, ``onmt_moe.runs.csvlog``
(nothing from runs but csvlog, nothing from plugin).
"""
