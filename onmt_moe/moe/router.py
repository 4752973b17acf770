"""The router: fp32 logits, modality awareness, noise, temperature and the top-k choice.

Kept apart from the layer (fairseq style). ``Router.forward`` only scores and
picks experts; capacity is applied afterwards by ``limit_capacity`` and
``next_best_fill`` (pure functions, no host synchronisation).

Logits: z = W (h + e_m) + b_m, then z / temperature. ``e_m`` (modality_embed)
and ``b_m`` (modality_bias) are zero-initialised ``nn.Embedding``s, switched by
``-moe_modality_routing``. Noise is applied only in training mode, so eval
routing is deterministic and, for token choice, per token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .arguments import MoEArgs
from .schedule import Schedule


@dataclass
class RouterOutput:
    logits: torch.Tensor  # (T, E) fp32, tempered (and noisy in training); probs = softmax(logits)
    clean_logits: torch.Tensor  # (T, E) fp32, tempered, before gaussian noise
    probs: torch.Tensor  # (T, E) fp32
    expert_idx: torch.Tensor  # (T, k) token choice; (E, C) token ids for expert choice
    gates: torch.Tensor  # same shape as expert_idx, fp32
    ranking: torch.Tensor | None = None  # (T, E) experts best-first (next_best only)
    temperature: float = 1.0
    noise: float = 0.0


class Router(nn.Module):
    def __init__(self, args: MoEArgs):
        super().__init__()
        self.args = args
        E, M, d = args.num_experts, args.num_modalities, args.d_model
        self.proj = nn.Linear(d, E, bias=False)
        use_bias = args.modality_routing in ("bias", "both")
        use_embed = args.modality_routing in ("embed", "both")
        self.modality_bias = nn.Embedding(M, E) if use_bias else None
        self.modality_embed = nn.Embedding(M, d) if use_embed else None
        self.temperature = Schedule(args.router_temperature)
        self.noise = Schedule(args.router_noise)
        self.step = 0
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = math.sqrt(self.args.router_init_scale / self.args.d_model)
        with torch.no_grad():
            nn.init.trunc_normal_(self.proj.weight, std=std, a=-2 * std, b=2 * std)
            for emb in (self.modality_bias, self.modality_embed):
                if emb is not None:
                    emb.weight.zero_()

    def forward(self, x: torch.Tensor, modality: torch.Tensor) -> RouterOutput:
        a = self.args
        tau = self.temperature(self.step)
        noise = self.noise(self.step) if (self.training and a.router_noise_type != "none") else 0.0
        with torch.autocast(device_type=x.device.type, enabled=False):
            h = x.float()
            if self.modality_embed is not None:
                h = h + self.modality_embed.weight.float().index_select(0, modality)
            if a.router_noise_type == "jitter" and noise > 0:
                h = h * torch.empty_like(h).uniform_(1.0 - noise, 1.0 + noise)
            logits = F.linear(h, self.proj.weight.float())
            if self.modality_bias is not None:
                logits = logits + self.modality_bias.weight.float().index_select(0, modality)
            if tau != 1.0:
                logits = logits / tau
            clean = logits
            if a.router_noise_type == "gaussian" and noise > 0:
                logits = logits + noise * torch.randn_like(logits)
            probs = logits.softmax(dim=-1)
            if a.router_type == "expert_choice":
                idx, gates = self._expert_choice(probs)
                ranking = None
            else:
                idx, gates, ranking = self._token_choice(logits, probs)
        return RouterOutput(logits, clean, probs, idx, gates, ranking, tau, noise)

    def _token_choice(self, logits, probs):
        a = self.args
        k = a.top_k
        ranking = None
        if a.overflow == "next_best":  # one sort so that ranks k.. are really "the next ones"
            ranking = probs.topk(a.num_experts, dim=-1).indices
            idx = ranking[:, :k]
        else:
            idx = probs.topk(k, dim=-1).indices
        if a.gate_norm == "topk":
            gates = logits.gather(1, idx).softmax(dim=-1)
        else:
            gates = probs.gather(1, idx)
        return idx, gates, ranking

    def _expert_choice(self, probs):
        """Each expert takes its top-C tokens: idx (E, C) token ids, gates (E, C) = p[token, e]."""
        T, E = probs.shape
        c = self.args.ec_capacity_factor or float(self.args.top_k)
        C = min(T, max(1, math.ceil(c * T / E))) if T > 0 else 0
        gates, idx = probs.t().topk(C, dim=-1)
        return idx, gates


# --------------------------------------------------------------------------- capacity
def expert_capacity(num_tokens: int, args: MoEArgs, training: bool) -> int | None:
    """C = max(min_capacity, ceil(CF * k * T / E)); None means unlimited (dropless)."""
    cf = args.capacity_factor if training else args.eval_capacity_factor
    if args.overflow == "none" or cf <= 0:
        return None
    return max(args.min_capacity, math.ceil(cf * args.top_k * num_tokens / args.num_experts))


def _queue_position(expert_in_order: torch.Tensor, num_experts: int, active=None) -> torch.Tensor:
    """For a sequence of expert ids (priority order), how many earlier entries chose the same expert."""
    onehot = torch.zeros(expert_in_order.shape[0], num_experts, dtype=torch.int32, device=expert_in_order.device)
    src = torch.ones_like(expert_in_order, dtype=torch.int32)[:, None]
    if active is not None:
        src = src * active[:, None].to(torch.int32)
    onehot.scatter_(1, expert_in_order[:, None], src)
    return onehot.cumsum(0).gather(1, expert_in_order[:, None]).squeeze(1) - 1


def limit_capacity(expert_idx, probs, capacity: int, priority: str):
    """Keep mask (T, k) of the assignments that fit. All first choices come before any
    second choice; within a rank, higher router probability first (prob) or earlier
    token first (position)."""
    T, k = expert_idx.shape
    E = probs.shape[1]
    e_rank_major = expert_idx.t().reshape(-1)  # (k*T,), entry r*T + t
    if priority == "prob":
        score = probs.gather(1, expert_idx).t()  # (k, T)
        within = score.argsort(dim=1, descending=True, stable=True)
        order = (within + torch.arange(k, device=within.device)[:, None] * T).reshape(-1)
    else:
        order = torch.arange(k * T, device=expert_idx.device)
    pos = _queue_position(e_rank_major[order], E)
    keep_sorted = pos < capacity
    keep = torch.empty_like(keep_sorted).scatter_(0, order, keep_sorted)
    return keep.view(k, T).t()


def next_best_fill(bucket, gates, probs, ranking, capacity: int, priority: str):
    """Move overflowed assignments (bucket == E) to the token's next-ranked experts with room.

    Round j offers every token that still has an overflowed slot its (k+j)-th ranked
    expert; accepted offers fill the token's first overflowed slot with gate
    p_new * (g / p) of that token (the token's top-k normalisation; p_new for raw
    softmax gates). Returns the new (bucket, gates, moved_count tensor)."""
    T, k = bucket.shape
    E = probs.shape[1]
    device = bucket.device
    used = torch.zeros(E + 1, dtype=torch.long, device=device)
    used.index_add_(0, bucket.reshape(-1), torch.ones_like(bucket.reshape(-1)))
    room = capacity - used[:E]
    first_p = probs.gather(1, ranking[:, :1]).squeeze(1)
    norm = gates[:, 0] / first_p.clamp_min(1e-30) if k > 0 else None
    slots = torch.arange(k, device=device)
    moved = torch.zeros((), dtype=torch.long, device=device)
    for j in range(E - k):
        open_slot = bucket == E
        need = open_slot.any(1)
        cand = ranking[:, k + j]
        p_cand = probs.gather(1, cand[:, None]).squeeze(1)
        if priority == "prob":
            order = torch.where(need, p_cand, -1.0).argsort(descending=True, stable=True)
        else:
            order = torch.arange(T, device=device)
        need_o, cand_o = need[order], cand[order]
        pos = _queue_position(cand_o, E, active=need_o)
        accept_o = need_o & (pos < room[cand_o])
        accept = torch.empty_like(accept_o).scatter_(0, order, accept_o)
        first_open = torch.where(open_slot, slots, k).min(1).values
        fill = (slots[None, :] == first_open[:, None]) & accept[:, None]
        bucket = torch.where(fill, cand[:, None], bucket)
        gates = torch.where(fill, (p_cand * norm)[:, None], gates)
        room = room - torch.zeros_like(room).index_add_(0, cand, accept.long())
        moved = moved + accept.sum()
    return bucket, gates, moved
