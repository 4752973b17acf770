"""Alias module: the MS/MS simulator lives in ``fragments``."""
from .fragments import SimParams, simulate_spectrum, residue_class, PROTON  # noqa: F401
