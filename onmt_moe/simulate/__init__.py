"""Offline, physically-motivated (and admittedly crude) spectra simulator.

Modules:
  molecules  - molecule sources bundled with installed packages + filtering
  nmr        - 1H/13C peak lists (csp5 shifts, or a --fast additive-increment estimate)
  ir         - IR spectrum from a functional-group band table
  msms       - bond-cleavage MS/MS spectra for [M+H]+ / [M-H]- at 10/20/40 eV
  schema     - the benchmark v2 column names/types and a parquet writer
"""
