"""Data pipeline: multimodal spectroscopic parquet chunks -> OpenNMT text files.

Entry point: :func:`onmt_moe.data.pipeline.generate` (CLI: ``benchmark/generate_input.py``).
"""
