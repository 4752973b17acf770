"""Does routing specialise by modality? One number per layer from ``moe_steps.csv``.

The modality x expert heatmap (``plots.modality_expert_table``) shows *how* tokens of each modality
spread over the experts; this module condenses it into the mutual information between a token's
modality M and the expert E it is sent to, from the assignment *counts* (``load``), so a modality
with many tokens weighs more than one with few:

    I(M; E) = sum_{m,e} p(m, e) log2( p(m, e) / (p(m) p(e)) )

0 bits: every modality spreads over the experts alike (no specialisation); ``H(M)`` bits: the expert
tells the modality exactly (one set of experts per modality). ``mi_frac = I / H(M)`` puts layers and
runs with different modality mixes on one 0..1 scale. With top-k routing a token is counted once per
expert it is sent to, as ``load`` counts it.

Pure pandas/numpy: no torch, no OpenNMT (the paper table reads finished run folders with it).
"""

from __future__ import annotations

import os

import numpy as np

from onmt_moe.runfolder.csvlog import read_csv
from onmt_moe.runfolder.layout import MOE_STEPS


def _entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def modality_expert_information(moe, window: int = 5) -> dict[int, dict]:
    """Per layer ``{mi_bits, h_modality_bits, mi_frac, tokens}`` over the last ``window`` logged steps.

    ``moe`` is the ``moe_steps.csv`` DataFrame (long format: step, layer, expert, modality, load, ...);
    rows of modality ``all`` (the totals) are left out. Empty dict when the file has no per-modality rows.
    """
    if moe is None or "modality" not in moe.columns or "load" not in moe.columns:
        return {}
    mod = moe[moe["modality"].astype(str).str.lower() != "all"]
    if mod.empty:
        return {}
    last = np.sort(mod["step"].unique())[-max(1, int(window)) :]
    mod = mod[mod["step"].isin(last)]
    out = {}
    for layer, rows in mod.groupby("layer"):
        joint = rows.pivot_table(index="modality", columns="expert", values="load", aggfunc="sum", fill_value=0.0)
        counts = joint.to_numpy(dtype=float)
        total = counts.sum()
        if total <= 0:
            continue
        p = counts / total
        h_m, h_e = _entropy_bits(p.sum(axis=1)), _entropy_bits(p.sum(axis=0))
        mi = max(0.0, h_m + h_e - _entropy_bits(p.ravel()))  # I = H(M) + H(E) - H(M, E); clip fp noise
        out[int(layer)] = {
            "mi_bits": mi,
            "h_modality_bits": h_m,
            "mi_frac": mi / h_m if h_m > 0 else 0.0,
            "tokens": float(total),
        }
    return out


def run_routing_mi(run_dir: str, window: int = 5) -> float | None:
    """Mean ``mi_frac`` over the MoE layers of a run folder, or None (dense run, or no per-modality rows)."""
    path = os.path.join(run_dir, MOE_STEPS)
    if not os.path.exists(path):
        return None
    layers = modality_expert_information(read_csv(path), window)
    return float(np.mean([v["mi_frac"] for v in layers.values()])) if layers else None
