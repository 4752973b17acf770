"""Alias module: the MS/MS simulator lives in ``fragments``."""
from .fragments import PROTON, SimParams, residue_class, simulate_spectrum  # noqa: F401
