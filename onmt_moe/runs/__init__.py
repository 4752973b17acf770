"""Running experiments: the runner (train → decode → score → report), the partial-modality benchmark,
the paper table and the other benchmark drivers. The top layer: it may import anything of ours. The
run-folder format itself (file names, CSV logs, ``run.json``, checkpoints) lives in
:mod:`onmt_moe.runfolder`.
"""
