"""One simulated benchmark-v2 row from a SMILES and its NMR shifts (used by the dataset
builder and by the benchmark comparison)."""
from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from . import ir, msms, nmr, schema


def simulate_row(idx: int, smiles: str, shifts, seed: int, ir_style: str = ir.DEFAULT_STYLE) -> dict:
    """Row dict in the v2 schema; raises ValueError when the row cannot be simulated.

    All random draws come from ``default_rng([seed, idx])``, never from the SMILES.
    """
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError("unparseable SMILES")
    if shifts is None:
        raise ValueError("nmr prediction failed")
    c_shift, h_shift = shifts
    rng = np.random.default_rng([seed, idx])
    row = {
        "smiles": smiles,
        "molecular_formula": rdMolDescriptors.CalcMolFormula(mol),
        "h_nmr_peaks": nmr.build_h_peaks(mol, h_shift, rng),
        "c_nmr_peaks": nmr.build_c_peaks(mol, c_shift, rng),
        "ir_spectra": ir.simulate_ir(mol, rng, style=ir_style).tolist(),
        "__index_level_0__": int(idx),
    }
    row.update(msms.simulate_msms(mol, rng))
    probs = schema.validate_row(row)
    if probs:
        raise ValueError("; ".join(probs))
    return row
