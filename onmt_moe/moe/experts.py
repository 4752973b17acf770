"""Expert FFNs and the grouped computation over expert-sorted rows.

An expert is OpenNMT's FFN without its layer norm, residual and second dropout:
``w_2(dropout(act(w_1 x) [* w_3 x]))``. ``silu`` and ``gated-gelu`` are gated
(have ``w_3``) exactly as in OpenNMT's ``PositionwiseFeedForward``. Linear
biases follow ``add_ffnbias``. Experts live in an ``nn.ModuleList`` of plain
``nn.Linear``s, so OpenNMT's glorot init gives each its own fan-in/fan-out and
heterogeneous widths need no padding.
"""

from __future__ import annotations

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

    def __init__(self, widths: list[int], d_model: int, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.experts = nn.ModuleList(ExpertFFN(d_model, w, activation, bias, dropout) for w in widths)
        # relu experts without autocast: one custom autograd function (below) instead of E graphs
        self.fused = True

    def __len__(self) -> int:
        return len(self.experts)

    def forward(self, x_sorted: torch.Tensor, counts: list[int]) -> torch.Tensor:
        first = self.experts[0]
        if (
            self.fused
            and first.act is F.relu
            and first.w_3 is None
            and not torch.is_autocast_enabled(x_sorted.device.type)
        ):
            p = first.dropout.p if self.training else 0.0
            params = []
            for e in self.experts:
                params += [e.w_1.weight, e.w_1.bias, e.w_2.weight, e.w_2.bias]
            return _GroupedReluFFN.apply(x_sorted, tuple(counts), p, *params)
        # one split node: its backward is a single concatenation (slicing E times would
        # make E full-size zero tensors in backward)
        chunks = x_sorted.split(counts, dim=0)
        outs = [expert(c) if n > 0 else c for expert, c, n in zip(self.experts, chunks, counts)]
        return torch.cat(outs, dim=0) if len(outs) > 1 else outs[0]

    def forward_padded(self, x_buf: torch.Tensor) -> torch.Tensor:
        """All experts on capacity buffers x_buf (E, C, d) -> (E, C, d) with batched matmuls.

        Experts narrower than the widest get zero rows of w_1 (w_3) and zero columns of w_2: their
        extra hidden units are act(0) = 0 for every supported activation, so the result is exact."""
        width = max(e.d_ff for e in self.experts)

        def stack_rows(get):  # (E, width, ...) from the experts' (d_ff_e, ...) tensors, zero-padded
            ts = [get(e) for e in self.experts]
            if ts[0] is None:
                return None
            return torch.stack([F.pad(t, (0, 0) * (t.dim() - 1) + (0, width - t.shape[0])) for t in ts])

        first = self.experts[0]
        w1, b1 = stack_rows(lambda e: e.w_1.weight), stack_rows(lambda e: e.w_1.bias)
        h = torch.bmm(x_buf, w1.transpose(1, 2))  # (E, C, F)
        h = first.act(h if b1 is None else h + b1.unsqueeze(1))
        if first.w_3 is not None:
            w3, b3 = stack_rows(lambda e: e.w_3.weight), stack_rows(lambda e: e.w_3.bias)
            g = torch.bmm(x_buf, w3.transpose(1, 2))
            h = h * (g if b3 is None else g + b3.unsqueeze(1))
        if first.dropout.p > 0:
            h = first.dropout(h)
        w2 = torch.stack([F.pad(e.w_2.weight, (0, width - e.d_ff)) for e in self.experts])  # (E, d, F)
        out = torch.bmm(h, w2.transpose(1, 2))  # (E, C, d)
        if first.w_2.bias is not None:
            out = out + torch.stack([e.w_2.bias for e in self.experts]).unsqueeze(1)
        return out


class _GroupedReluFFN(torch.autograd.Function):
    """All relu experts over expert-sorted rows, forward and backward by hand.

    Compared with E autograd graphs it writes every expert's output straight into
    one buffer (no concatenation, no split in backward), applies relu and dropout
    in place, and keeps only the post-dropout hidden state: for relu, the
    derivative of dropout(relu(h)) is scale * [dropout(relu(h)) > 0].
    params: w_1.weight, w_1.bias, w_2.weight, w_2.bias per expert (biases may be None).
    """

    @staticmethod
    def forward(ctx, x, counts, p, *params):
        n, d = x.shape
        out = x.new_empty(n, params[2].shape[0])
        scale = 1.0 / (1.0 - p) if p > 0 else 1.0
        hidden, start = [], 0
        for e, cnt in enumerate(counts):
            w1, b1, w2, b2 = params[4 * e : 4 * e + 4]
            if cnt == 0:
                hidden.append(x.new_empty(0))
                continue
            xe = x[start : start + cnt]
            h = torch.addmm(b1, xe, w1.t()) if b1 is not None else xe.mm(w1.t())
            h.relu_()
            if p > 0:
                h.mul_(torch.empty_like(h).bernoulli_(1.0 - p)).mul_(scale)
            if b2 is not None:
                torch.addmm(b2, h, w2.t(), out=out[start : start + cnt])
            else:
                torch.mm(h, w2.t(), out=out[start : start + cnt])
            hidden.append(h)
            start += cnt
        ctx.counts, ctx.scale = counts, scale
        ctx.save_for_backward(x, *hidden, *params)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        counts, scale = ctx.counts, ctx.scale
        E = len(counts)
        saved = ctx.saved_tensors
        x, hidden, params = saved[0], saved[1 : 1 + E], saved[1 + E :]
        grad_out = grad_out.contiguous()
        grad_x = torch.empty_like(x)
        grads = [None] * len(params)
        start = 0
        for e, cnt in enumerate(counts):
            if cnt == 0:
                continue
            w1, b1, w2, b2 = params[4 * e : 4 * e + 4]
            ge, xe, h = grad_out[start : start + cnt], x[start : start + cnt], hidden[e]
            gh = ge.mm(w2)
            grads[4 * e + 2] = ge.t().mm(h)
            if b2 is not None:
                grads[4 * e + 3] = ge.sum(0)
            torch.ops.aten.threshold_backward.grad_input(gh, h, 0.0, grad_input=gh)  # in place
            if scale != 1.0:
                gh.mul_(scale)
            grads[4 * e] = gh.t().mm(xe)
            if b1 is not None:
                grads[4 * e + 1] = gh.sum(0)
            torch.mm(gh, w1, out=grad_x[start : start + cnt])
            start += cnt
        return (grad_x, None, None, *grads)


class SharedExperts(nn.Module):
    """Experts that every token goes through; their outputs are summed."""

    def __init__(self, num: int, width: int, d_model: int, activation: str, bias: bool, dropout: float):
        super().__init__()
        self.experts = nn.ModuleList(ExpertFFN(d_model, width, activation, bias, dropout) for _ in range(num))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.experts[0](x)
        for expert in self.experts[1:]:
            out = out + expert(x)
        return out
