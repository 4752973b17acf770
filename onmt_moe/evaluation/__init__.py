"""Scoring of prediction files against targets: one registry of scorers (``registry``), one reader /
writer of the shared files (``files``), SMILES (``scoring``) and benchmark spectra (``spectrum_scoring``).

May import: ``onmt_moe.modality.tags`` and the scientific libraries (RDKit, numpy, scipy); never torch,
OpenNMT or a track: the glycan track registers its scorers itself (``onmt_moe.glycan.scorers``).
"""
