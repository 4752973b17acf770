"""Offline, physically-motivated (and admittedly crude) spectra simulator.

Modules, bottom to top (each imports only modules above it in this list; tests/test_simulate_layout.py
checks that the graph has no cycle, function-level imports included):
  groups        - functional-group classifiers of the molecular graph (carbonyl class, conjugation)
  schema        - the benchmark v2 column names/types and a parquet writer
  molecules     - molecule sources bundled with installed packages + filtering
  msms          - bond-cleavage MS/MS spectra for [M+H]+ / [M-H]- at 10/20/40 eV
  nmr           - 1H/13C peak lists from csp5 shifts (csp5_batch: the same on another machine)
  nmr_fast      - the --fast additive-increment estimate of 13C/1H shifts
  ir_templates  - benchmark-style IR: predicts from the shipped group-contribution weights
  ir            - IR spectrum: functional-group band table (experiment) or ir_templates (benchmark)
  rows          - one simulated v2 row from a SMILES and its shifts
  dataset       - the dataset builder (select, simulate, write chunks; scripts/simulate_dataset.py)
  compare       - statistics of real benchmark rows against our simulation of the same molecules
  ir_fit        - fitting (and cross-validating) the ir_templates weights; imported by no module
"""
