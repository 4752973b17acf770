"""One simulated benchmark-v2 row from a SMILES and its NMR shifts (used by the dataset
builder and by the benchmark comparison)."""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from . import ir, msms, nmr, nmr_fast, schema

# what a row carries: every modality, or formula + 1H/13C peak lists only (IR and MS/MS null, i.e.
# missing modalities to generate_input) — the NMR-only set is ~5x faster to build (the demo uses it)
MODALITIES = ("all", "nmr")


def simulate_row(
    idx: int, smiles: str, shifts, seed: int, ir_style: str = ir.DEFAULT_STYLE, modalities: str = "all"
) -> dict:
    """Row dict in the v2 schema; raises ValueError when the row cannot be simulated.

    All random draws come from ``default_rng([seed, idx])``, never from the SMILES; the NMR draws
    come first, so an ``nmr`` row has the same peak lists as the ``all`` row of the same molecule.
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
        "__index_level_0__": int(idx),
    }
    if modalities == "nmr":
        row.update({c: None for c in ["ir_spectra", *schema.MSMS_COLUMNS]})
    else:
        row["ir_spectra"] = ir.simulate_ir(mol, rng, style=ir_style).tolist()
        row.update(msms.simulate_msms(mol, rng))
    probs = schema.validate_row(row)
    if probs:
        raise ValueError("; ".join(probs))
    return row


def _fast_job(job):
    """Worker: (idx, smiles, seed, ir_style, modalities) -> (idx, row or None, reason or None)."""
    idx, smiles, seed, ir_style, modalities = job
    try:
        mol = Chem.MolFromSmiles(smiles)
        row = simulate_row(idx, smiles, nmr_fast.predict_fast(mol), seed, ir_style=ir_style, modalities=modalities)
        return idx, row, None
    except Exception as exc:  # reported as a reject with its reason, never dropped silently
        return idx, None, f"simulation: {type(exc).__name__}: {exc}"


def simulate_fast_many(
    smiles: list[str], seed: int, workers: int = 1, ir_style: str = ir.DEFAULT_STYLE, modalities: str = "all"
):
    """Yield (idx, row or None, reason) in input order, using the --fast NMR estimate.

    With workers > 1 the rows are computed in a process pool; the output is identical to
    workers == 1 because every row's noise depends only on (seed, idx).
    """
    jobs = ((i, s, seed, ir_style, modalities) for i, s in enumerate(smiles))
    if workers <= 1:
        yield from map(_fast_job, jobs)
        return
    with _mp_context().Pool(workers) as pool:
        yield from pool.imap(_fast_job, jobs, chunksize=64)


def _mp_context():
    """forkserver where available, else spawn: never a fork of the caller, which may be a process that
    trains (``make demo`` simulates in its own process) and holds threads. As in
    ``onmt_moe.data.pipeline``, the server preloads this module (RDKit and the estimators): each worker
    forks from it ready to run."""
    import multiprocessing as mp

    try:
        ctx = mp.get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without forkserver
        return mp.get_context("spawn")
    ctx.set_forkserver_preload(["onmt_moe.simulate.rows"])
    return ctx
