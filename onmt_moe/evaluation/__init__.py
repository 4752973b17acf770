"""Scoring of prediction files against targets (SMILES, WURCS, spectra).

May import: ``onmt_moe.modality`` and the standard/scientific libraries (RDKit, numpy, scipy);
never torch or OpenNMT.
"""
