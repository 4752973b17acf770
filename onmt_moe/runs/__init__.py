"""Run folders: the runner (train → decode → score → report), CSV logs, the partial-modality
benchmark and the paper table.

``csvlog`` is a leaf (standard library and pandas only) that the plugin and diagnostics write and
read through; the rest may import anything of ours.
"""
