"""Glycan track: glycan MS/MS (+ text) -> WURCS 2.0.

Modules:
  wurcs_tokenizer  lossless WURCS tokenisation
  (token classes for a structure-aware loss: onmt_moe.wurcs_classes, a leaf the plugin shares)
  fragments        glypy fragment enumeration + rule-based (synthetic) intensities
  spectra_tokens   spectrum -> tokens (m/z bins, intensity bins, losses, diagnostics)
  text             metadata -> short text description
  dataset          glycowork df_glycan -> verified WURCS -> parquet
  evaluate         top-k structure accuracy by graph identity
  scorers          registers wurcs / text / token-spectrum scoring with onmt_moe.evaluation.registry
Heavy dependencies (glypy, glycowork) are imported lazily inside functions.
"""
