"""Mixture-of-Experts FFN in plain PyTorch for the modality-aware encoder.

from onmt_moe.moe import MoEArgs, MoE, add_moe_options
args = MoEArgs.from_opt(opt, d_model=512, d_ff=2048, activation="relu",
                        add_ffnbias=True, dropout=0.1, num_modalities=M)
moe = MoE(args)
y, aux = moe(x, modality)   # x (T, d) non-pad tokens, modality (T,) long
"""

from .arguments import MoEArgs, add_moe_options
from .aux_losses import AUX_NAMES
from .layer import MoE
from .routing_stats import RoutingStats
from .schedule import Schedule

__all__ = ["MoEArgs", "MoE", "add_moe_options", "AUX_NAMES", "RoutingStats", "Schedule"]
