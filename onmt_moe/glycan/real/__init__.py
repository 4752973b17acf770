"""Real glycan LC-MS/MS spectra: read them, infer charge and composition, score a model on them.

Modules:
  masses       reducing-end mass tags (one definition) and the ion-trap tolerance defaults
  spectra_io   CandyCrunch-style extracted spectra (.xlsx) and raw mzML / mzXML (pyteomics)
               -> rows of the glycan parquet schema, bad rows -> rejects with a reason
  charge       charge (z = 1-3) and composition of a precursor from candidate compositions
  annotations  expert annotations (df_mz csv) and their matching to spectra (0.5 m/z, 1 min)
  identity     structure identity under ambiguous annotations, CandyCrunch's F1 with partial credit
  baselines    random isomer of a composition from glycowork's class list (exact expectations)
  evaluate     the end-to-end scoring used by benchmark/evaluate_real_glycan.py, of any
               ``StructureModel`` (a run's checkpoint: ``onmt_moe.runs.glycan_real_model``)
Nothing here imports torch or OpenNMT: the model is driven from ``runs/``.
"""
