"""Expert FFNs and the grouped computation over expert-sorted rows.

An expert is OpenNMT's FFN without its layer norm, residual and second dropout:
``w_2(dropout(act(w_1 x) [* w_3 x]))``. ``silu`` and ``gated-gelu`` are gated
(have ``w_3``) exactly as in OpenNMT's ``PositionwiseFeedForward``. Linear
biases follow ``add_ffnbias``. Experts live in an ``nn.ModuleList`` of plain
``nn.Linear``s, so OpenNMT's glorot init gives each its own fan-in/fan-out and
heterogeneous widths need no padding.
"""
from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

_ACT = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu, "gated-gelu": F.gelu}
_GATED = ("silu", "gated-gelu")


class ExpertFFN(nn.Module):
    def __init__(self, d_model: int, d_ff: int, activation: str, bias: bool, dropout: float):
        super().__init__()
        if activation not in _ACT:
            raise ValueError(f"activation {activation!r} not supported; use one of {sorted(_ACT)}")
        self.d_ff = d_ff
        self.w_1 = nn.Linear(d_model, d_ff, bias=bias)
        self.w_3 = nn.Linear(d_model, d_ff, bias=bias) if activation in _GATED else None
        self.w_2 = nn.Linear(d_ff, d_model, bias=bias)
        self.act = _ACT[activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.w_1(x))
        if self.w_3 is not None:
            h = h * self.w_3(x)
        if self.dropout.p > 0:
            h = self.dropout(h)
        return self.w_2(h)


class ExpertGroup(nn.Module):
    """E experts applied to rows already sorted by expert (``counts[e]`` rows each)."""

    def __init__(self, widths: List[int], d_model: int, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.experts = nn.ModuleList(
            ExpertFFN(d_model, w, activation, bias, dropout) for w in widths
        )

    def __len__(self) -> int:
        return len(self.experts)

    def forward(self, x_sorted: torch.Tensor, counts: List[int]) -> torch.Tensor:
        # one split node: its backward is a single concatenation (slicing E times would
        # make E full-size zero tensors in backward)
        chunks = x_sorted.split(counts, dim=0)
        outs = [expert(c) if n > 0 else c for expert, c, n in zip(self.experts, chunks, counts)]
        return torch.cat(outs, dim=0) if len(outs) > 1 else outs[0]


class SharedExperts(nn.Module):
    """Experts that every token goes through; their outputs are summed."""

    def __init__(self, num: int, width: int, d_model: int, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.experts = nn.ModuleList(
            ExpertFFN(d_model, width, activation, bias, dropout) for _ in range(num)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.experts[0](x)
        for expert in self.experts[1:]:
            out = out + expert(x)
        return out
