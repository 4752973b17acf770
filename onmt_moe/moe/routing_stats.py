"""Routing statistics accumulated on the device, read with one host transfer.

``RoutingStats`` is a plain object (not a module: nothing of it is saved in a
checkpoint). ``update`` runs under no_grad inside the MoE forward and only adds
into one float64 vector on the input's device, so it never synchronises.
``snapshot()`` copies that vector to the host once and derives the ratios.
Every count covers only the tokens the MoE was given (the caller drops pads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class RoutingStats:
    def __init__(self, num_experts: int, num_modalities: int, aux_names: Sequence[str], top_k: int):
        E, M = num_experts, num_modalities
        self.E, self.M, self.k = E, M, top_k
        self.aux_names = tuple(aux_names)
        self._fields = {  # name -> shape, all packed into one buffer
            "load": (E,),
            "processed": (E,),
            "importance": (E,),
            "modality_load": (M, E),
            "modality_importance": (M, E),
            "modality_tokens": (M,),
            "tokens": (1,),
            "assignments": (1,),
            "dropped": (1,),
            "rerouted": (1,),
            "to_shared": (1,),
            "tokens_no_expert": (1,),
            "entropy": (1,),
            "confidence": (1,),
            "aux": (len(self.aux_names),),
        }
        self.enabled = True  # set False to skip the bookkeeping (e.g. at translate time)
        self._buf = None
        self.view: dict[str, torch.Tensor] = {}
        self.calls = 0
        self.temperature = 1.0
        self.noise = 0.0

    def _ensure(self, device) -> None:
        if self._buf is not None and self._buf.device == device:
            return
        size = sum(math.prod(s) for s in self._fields.values())
        old = self._buf
        with torch.inference_mode(False):  # stays updatable in and out of inference_mode
            self._buf = torch.zeros(size, dtype=torch.float64, device=device)
            if old is not None:
                self._buf.copy_(old.to(device))
        self.view, offset = {}, 0
        for name, shape in self._fields.items():
            n = math.prod(shape)
            self.view[name] = self._buf[offset : offset + n].view(shape)
            offset += n

    @torch.no_grad()
    def update(
        self,
        *,
        probs,
        assign_counts,
        processed_counts,
        modality_onehot,
        modality_assign,
        entropy,
        dropped,
        rerouted,
        to_shared,
        tokens_no_expert,
        aux: dict[str, torch.Tensor],
        temperature: float,
        noise: float,
    ) -> None:
        """All arguments are device tensors (or python floats for temperature/noise)."""
        self._ensure(probs.device)
        v = self.view
        v["load"] += assign_counts
        v["processed"] += processed_counts
        v["importance"] += probs.sum(0)
        v["modality_load"] += modality_assign
        v["modality_importance"] += modality_onehot.t() @ probs
        v["modality_tokens"] += modality_onehot.sum(0)
        v["tokens"] += probs.shape[0]
        v["assignments"] += assign_counts.sum()
        v["dropped"] += dropped
        v["rerouted"] += rerouted
        v["to_shared"] += to_shared
        v["tokens_no_expert"] += tokens_no_expert
        v["entropy"] += entropy.sum()
        v["confidence"] += probs.max(dim=-1).values.sum()
        if aux:
            v["aux"] += torch.stack([aux[n].detach().double() for n in self.aux_names])
        self.calls += 1
        self.temperature, self.noise = temperature, noise

    def all_reduce_(self, device) -> None:
        """Sum the counts of every rank of the default process group into each rank's buffer
        (a collective: every rank calls it at the same point). ``calls`` is summed too, so the
        snapshot's ratios are those of all the ranks' tokens together, as on one process."""
        import torch.distributed as dist

        self._ensure(self._buf.device if self._buf is not None else torch.device(device))
        calls = torch.tensor([float(self.calls)], dtype=torch.float64, device=self._buf.device)
        packed = torch.cat([self._buf, calls])
        dist.all_reduce(packed)
        self._buf.copy_(packed[:-1])
        self.calls = int(round(float(packed[-1])))

    def reset(self) -> None:
        if self._buf is not None:
            self._buf.zero_()
        self.calls = 0

    def snapshot(self, reset: bool = True) -> dict:
        """One host transfer; plain python numbers and (nested) lists."""
        E = self.E
        if self._buf is None:
            host = {n: torch.zeros(s, dtype=torch.float64) for n, s in self._fields.items()}
        else:
            flat = self._buf.to("cpu", copy=True)  # the only synchronisation
            host, offset = {}, 0
            for name, shape in self._fields.items():
                n = math.prod(shape)
                host[name] = flat[offset : offset + n].view(shape)
                offset += n
        calls = self.calls
        if reset:
            self.reset()
        tokens = float(host["tokens"][0])
        assignments = float(host["assignments"][0])
        load = host["load"]
        f = load / max(assignments, 1.0)
        mean_load = float(load.mean()) if E else 0.0
        cv = float(load.std(unbiased=False) / mean_load) if mean_load > 0 else 0.0
        marg = f[f > 0]
        marg_entropy = float(-(marg * marg.log()).sum()) if marg.numel() else 0.0
        entropy = float(host["entropy"][0]) / max(tokens, 1.0)
        mod_tokens = host["modality_tokens"]
        mod_load = host["modality_load"]
        mod_f = mod_load / mod_load.sum(1, keepdim=True).clamp_min(1.0)
        out = {
            "calls": calls,
            "tokens": tokens,
            "assignments": assignments,
            "k": self.k,
            "load": load.tolist(),  # (E,) assignments before capacity
            "load_fraction": f.tolist(),  # (E,) f_e, sums to 1
            "processed": host["processed"].tolist(),  # (E,) assignments computed by routed experts
            "importance": (host["importance"] / max(tokens, 1.0)).tolist(),  # (E,) P_e = mean_t p_te
            "modality_load": mod_load.tolist(),  # (M, E) assignments before capacity
            "modality_load_fraction": mod_f.tolist(),  # (M, E) rows sum to 1 (0 if absent)
            "modality_importance": (
                host["modality_importance"] / mod_tokens.clamp_min(1.0)[:, None]
            ).tolist(),  # (M, E)
            "modality_tokens": mod_tokens.tolist(),  # (M,)
            "dropped": float(host["dropped"][0]),  # assignments no routed expert computed
            "dropped_fraction": float(host["dropped"][0]) / max(assignments, 1.0),
            "rerouted": float(host["rerouted"][0]),  # next_best moves
            "overflow_fraction": float(host["dropped"][0] + host["rerouted"][0]) / max(assignments, 1.0),
            "to_shared": float(host["to_shared"][0]),  # overflow handed to shared/backup
            "tokens_no_expert_fraction": float(host["tokens_no_expert"][0]) / max(tokens, 1.0),
            "entropy": entropy,  # mean_t H(p_t)
            "entropy_norm": entropy / math.log(E) if E > 1 else 0.0,
            "marginal_entropy_norm": marg_entropy / math.log(E) if E > 1 else 0.0,
            "neff": math.exp(marg_entropy),
            "router_confidence": float(host["confidence"][0]) / max(tokens, 1.0),
            "cv": cv,
            "max_over_mean": float(load.max()) / mean_load if mean_load > 0 else 0.0,
            "unused_experts": int((load == 0).sum()),
            "temperature": self.temperature,
            "noise": self.noise,
        }
        for i, name in enumerate(self.aux_names):
            out["aux_" + name] = float(host["aux"][i]) / max(calls, 1)
        return out
