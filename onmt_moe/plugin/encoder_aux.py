"""The aux values of one ``moe_transformer`` forward, and the one route they take to the loss.

:meth:`MoETransformerEncoder.encode <onmt_moe.plugin.encoder.MoETransformerEncoder.encode>` *returns*
an :class:`EncoderAux` beside the encoder states (each MoE layer returns its aux losses to the encoder,
:mod:`onmt_moe.moe.layer`). OpenNMT's interface cannot carry it further: the encoder's ``forward`` must
return ``(enc_out, enc_final_hs, src_len)`` to OpenNMT's model, and the model returns only
``(dec_out, attns)`` to the trainer, which hands those to the loss. So ``forward`` leaves the record
in :attr:`AuxLink.last` of the encoder's :class:`AuxLink` — a plain object (not a Module), which
:class:`onmt_moe.plugin.loss.MoELossCompute` is handed when OpenNMT builds the loss from the model.
The loss adds the weighted terms and feeds :attr:`AuxLink.meter`, which the CSV reporter reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from onmt_moe.plugin.loss import AuxMeter


@dataclass(frozen=True)
class EncoderAux:
    """The aux values of one encoder forward."""

    # unweighted aux losses: each MoE term averaged over the MoE layers, + "contrastive" when computed
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    # each term's coefficient at the step of the forward (0 for the terms that are off)
    coefficients: dict[str, float] = field(default_factory=dict)
    # (B, S, D) the states the alignment pools (before the fusion layers), when asked for or computed
    align_states: torch.Tensor | None = None


class AuxLink:
    """Where the encoder leaves the :class:`EncoderAux` of its last forward for the loss (see the module
    docstring), and the meter that sums the aux terms between two reports."""

    def __init__(self):
        self.last: EncoderAux | None = None
        self.meter = AuxMeter()


__all__ = ["EncoderAux", "AuxLink"]
