"""The MoE block: a pure FFN replacement (no layer norm, no residual inside).

``y, aux = moe(x, modality)`` with x (T, d) the non-pad tokens and modality (T,).

Token-choice dispatch, ``-moe_dispatch sorted`` (one host sync per call: the per-expert counts):
1. the router picks (T, k) experts and gates; capacity turns some assignments
   into "overflow" (bucket E);
2. the T*k assignments are sorted by bucket once; a single row gather builds the
   expert-sorted input; each expert runs one matmul pair on its contiguous slice;
3. the outputs are put back in assignment order with one row permutation and
   mixed with the gates by a batched (T,1,k) x (T,k,d) product.
Both row moves are custom autograd functions whose backward is again a gather
(no index_add / scatter with duplicates).

``-moe_dispatch padded`` (auto on CUDA with a finite capacity): no host sync. Each kept
assignment gets a slot in per-expert buffers (E, C, d) (its rank among the expert's assignments,
by a cumulative sum), the experts run as batched matmuls over the buffers, and the outputs are
gathered back in assignment order; step 3 is shared. Same outputs as the sorted path.

Overflow policies: ``drop``: gate 0, the caller's residual carries the token;
``shared``: the assignment's gate multiplies the shared experts' output (so
those tokens get (1 + g) * shared(x)), or, when -moe_num_shared is 0, a
dedicated ``backup_expert`` (width -moe_shared_d_ff) computes it; ``next_best``:
see ``router.next_best_fill``; ``none``: dropless.

Expert choice: every expert takes its top-C tokens of the given group; a token
can get 0..E experts; outputs are combined with index_add.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .arguments import MoEArgs
from .aux_losses import AUX_NAMES, compute_aux_losses, token_entropy
from .experts import ExpertFFN, ExpertGroup, SharedExperts
from .router import Router, expert_capacity, limit_capacity, next_best_fill
from .routing_stats import RoutingStats


class _GatherRows(torch.autograd.Function):
    """x (T, d) -> x[src_token] (n, d) where the n rows are the first n of a
    permutation of the T*k assignments; backward sums each token's k rows."""

    @staticmethod
    def forward(ctx, x, src_token, inv_perm, k):
        ctx.save_for_backward(inv_perm)
        ctx.k, ctx.T = k, x.shape[0]
        return x.index_select(0, src_token)

    @staticmethod
    def backward(ctx, grad):
        (inv_perm,) = ctx.saved_tensors
        n, d = grad.shape
        full = ctx.T * ctx.k
        if n < full:
            grad = torch.cat([grad, grad.new_zeros(full - n, d)])
        g = grad.index_select(0, inv_perm).view(ctx.T, ctx.k, d)
        return (g[:, 0] if ctx.k == 1 else g.sum(1)), None, None, None


class _UnsortRows(torch.autograd.Function):
    """out (n, d) expert-sorted -> (T*k, d) in assignment order, zero rows for the
    assignments nobody computed; backward is the inverse gather."""

    @staticmethod
    def forward(ctx, out, inv_perm, perm):
        ctx.save_for_backward(perm)
        ctx.n = out.shape[0]
        full = inv_perm.shape[0]
        if ctx.n < full:
            out = torch.cat([out, out.new_zeros(full - ctx.n, out.shape[1])])
        return out.index_select(0, inv_perm)

    @staticmethod
    def backward(ctx, grad):
        (perm,) = ctx.saved_tensors
        return grad.index_select(0, perm[: ctx.n]), None, None


class MoE(nn.Module):
    def __init__(self, args: MoEArgs):
        super().__init__()
        args.validate()
        self.args = args
        bias = args.add_ffnbias
        self.router = Router(args)
        self.routed = ExpertGroup(args.expert_widths, args.d_model, args.activation, bias, args.dropout)
        self.shared = (
            SharedExperts(args.num_shared, args.shared_width, args.d_model, args.activation, bias, args.dropout)
            if args.num_shared > 0
            else None
        )
        self.backup_expert = (
            ExpertFFN(args.d_model, args.shared_width, args.activation, bias, args.dropout)
            if args.has_backup_expert
            else None
        )
        self.routing_stats = RoutingStats(args.num_experts, args.num_modalities, AUX_NAMES, args.top_k)
        self._widths = args.expert_widths

    # ----------------------------------------------------------------- OpenNMT hooks
    def set_step(self, step: int) -> None:
        self.router.step = int(step)

    def update_dropout(self, p: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p

    def reset_router_parameters(self) -> None:
        self.router.reset_parameters()

    # ----------------------------------------------------------------- forward
    def forward(
        self, x: torch.Tensor, modality: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        a = self.args
        T, d = x.shape
        if modality is None:
            modality = torch.zeros(T, dtype=torch.long, device=x.device)
        modality = modality.long()
        r = self.router(x, modality)
        if a.router_type == "expert_choice":
            y, info = self._expert_choice(x, r, modality)
        else:
            y, info = self._token_choice(x, r, modality)

        # aux losses and statistics: fp32, over the tokens given
        mod_onehot = torch.zeros(T, a.num_modalities, device=x.device, dtype=torch.float32)
        mod_onehot.scatter_(1, modality[:, None], 1.0)
        entropy = token_entropy(r.logits, r.probs)
        aux = compute_aux_losses(
            logits=r.logits,
            clean_logits=r.clean_logits,
            probs=r.probs,
            assign_counts=info["assign_counts"],
            modality_onehot=mod_onehot,
            entropy=entropy,
            args=a,
            widths=self._widths,
            noise=r.noise,
        )
        if self.routing_stats.enabled:
            self.routing_stats.update(
                probs=r.probs.detach(),
                assign_counts=info["assign_counts"],
                processed_counts=info["processed_counts"],
                modality_onehot=mod_onehot,
                modality_assign=info["modality_assign"],
                entropy=entropy.detach(),
                dropped=info["dropped"],
                rerouted=info["rerouted"],
                to_shared=info["to_shared"],
                tokens_no_expert=info["tokens_no_expert"],
                aux=aux,
                temperature=r.temperature,
                noise=r.noise,
            )
        return y, aux

    def _token_choice(self, x, r, modality):
        a = self.args
        T, d = x.shape
        E, k = a.num_experts, a.top_k
        expert_idx, gates = r.expert_idx, r.gates
        bucket = expert_idx
        rerouted = x.new_zeros((), dtype=torch.float32)
        cap = expert_capacity(T, a, self.training)
        if cap is not None:
            keep = limit_capacity(expert_idx, r.probs, cap, a.capacity_priority)
            bucket = torch.where(keep, expert_idx, E)
            if a.overflow == "next_best":
                bucket, gates, moved = next_best_fill(bucket, gates, r.probs, r.ranking, cap, a.capacity_priority)
                rerouted = moved.float()
        overflow = bucket == E
        flat = bucket.reshape(-1)  # assignment i = t*k + j
        counts = torch.zeros(E + 1, dtype=torch.long, device=x.device)
        counts.index_add_(0, flat, torch.ones_like(flat))
        if self.uses_padded_dispatch(x, cap):
            per_assign = self._dispatch_padded(x, flat, T if cap is None else cap)
        else:
            per_assign = self._dispatch_sorted(x, flat, counts)
        g = gates.to(per_assign.dtype)  # overflow rows of per_assign are 0 unless a backup computed them
        if k == 1 and a.gate_norm == "topk" and a.overflow != "next_best":
            y = per_assign  # renormalised top-1 gates are exactly 1 (no gradient either)
        elif k == 1:
            y = per_assign * g
        else:
            y = torch.bmm(g.unsqueeze(1), per_assign.view(T, k, d)).squeeze(1)
        to_shared = x.new_zeros((), dtype=torch.float32)
        if self.shared is not None:
            s = self.shared(x)
            if a.overflow == "shared":
                w = 1.0 + gates.masked_fill(~overflow, 0.0).sum(1, keepdim=True)
                s = s * w.to(s.dtype)
                to_shared = overflow.sum().float()
            y = y + s
        elif self.backup_expert is not None:
            to_shared = overflow.sum().float()

        with torch.no_grad():
            assign = torch.zeros(T, E, device=x.device, dtype=torch.float32)
            assign.scatter_add_(1, expert_idx, torch.ones_like(expert_idx, dtype=torch.float32))
            mod_assign = torch.zeros(a.num_modalities, E, device=x.device, dtype=torch.float32)
            mod_assign.index_add_(0, modality, assign)
            info = {
                "assign_counts": assign.sum(0),
                "processed_counts": counts[:E].float(),
                "modality_assign": mod_assign,
                "dropped": overflow.sum().float(),
                "rerouted": rerouted,
                "to_shared": to_shared,
                "tokens_no_expert": overflow.all(1).sum().float(),
            }
        return y, info

    def uses_padded_dispatch(self, x, capacity) -> bool:
        """-moe_dispatch: padded, sorted, or auto = padded on CUDA when the capacity is finite."""
        mode = self.args.dispatch
        return mode == "padded" or (mode == "auto" and x.is_cuda and capacity is not None)

    def _dispatch_sorted(self, x, flat, counts):
        """(T*k, d) expert outputs in assignment order, via expert-sorted rows (one host sync)."""
        k, E = self.args.top_k, self.args.num_experts
        perm = flat.argsort(stable=True)  # expert-sorted order
        inv_perm = torch.empty_like(perm)
        inv_perm[perm] = torch.arange(perm.numel(), device=perm.device)
        counts_host = counts.tolist()  # the one host sync
        n_routed = sum(counts_host[:E])
        n_backup = counts_host[E] if self.backup_expert is not None else 0
        n_compute = n_routed + n_backup
        src_token = perm[:n_compute] // k if k > 1 else perm[:n_compute]
        x_sorted = _GatherRows.apply(x, src_token, inv_perm, k)
        out = self.routed(x_sorted[:n_routed] if n_backup else x_sorted, counts_host[:E])
        if n_backup:
            out = torch.cat([out, self.backup_expert(x_sorted[n_routed:])])
        return _UnsortRows.apply(out, inv_perm, perm)  # (T*k, d)

    def _dispatch_padded(self, x, flat, capacity: int):
        """(T*k, d) expert outputs in assignment order via (E, C, d) buffers; no host read.

        Assignment i of expert e < E takes slot e*C + (its rank among e's assignments); every kept
        assignment has a slot (capacity was applied before, and dropless C = T since a token picks
        an expert at most once). Overflow (bucket E) rows are 0, or the backup expert's output."""
        k, E = self.args.top_k, self.args.num_experts
        T, d = x.shape
        C = min(int(capacity), T)  # an expert gets at most one assignment per token
        onehot = torch.zeros(flat.shape[0], E + 1, dtype=torch.int32, device=x.device)
        onehot.scatter_(1, flat[:, None], 1)
        rank = onehot.cumsum(0).gather(1, flat[:, None]).squeeze(1) - 1
        kept = flat < E
        slot = torch.where(kept, flat * C + rank.clamp_max(C - 1), E * C)  # E*C: a zero row
        token = torch.arange(flat.shape[0], device=x.device) // k
        slot_token = torch.full((E * C + 1,), T, dtype=torch.long, device=x.device)
        slot_token[slot] = torch.where(kept, token, T)  # T: a zero row of x
        slot_token = slot_token[: E * C]
        x_pad = torch.cat([x, x.new_zeros(1, d)])
        x_buf = x_pad.index_select(0, slot_token).view(E, C, d)
        out = self.routed.forward_padded(x_buf).reshape(E * C, -1)
        out = torch.cat([out, out.new_zeros(1, out.shape[1])])
        per_assign = out.index_select(0, slot)
        if self.backup_expert is not None:  # computed for every token: no host read of how many overflowed
            backup = self.backup_expert(x).index_select(0, token)
            per_assign = torch.where(kept[:, None], per_assign, backup.to(per_assign.dtype))
        return per_assign

    def _expert_choice(self, x, r, modality):
        a = self.args
        T, d = x.shape
        E = a.num_experts
        tok = r.expert_idx.reshape(-1)  # (E*C,) already expert-major
        C = r.expert_idx.shape[1]
        out = self.routed(x.index_select(0, tok), [C] * E)
        g = r.gates.reshape(-1, 1).to(out.dtype)
        y = x.new_zeros(T, d, dtype=out.dtype).index_add(0, tok, out * g)
        if self.shared is not None:
            y = y + self.shared(x)
        with torch.no_grad():
            assign = torch.zeros(T, E, device=x.device, dtype=torch.float32)
            expert_of = torch.arange(E, device=x.device).repeat_interleave(C)
            assign.index_put_((tok, expert_of), torch.ones_like(tok, dtype=torch.float32))
            mod_assign = torch.zeros(a.num_modalities, E, device=x.device, dtype=torch.float32)
            mod_assign.index_add_(0, modality, assign)
            zero = x.new_zeros((), dtype=torch.float32)
            info = {
                "assign_counts": assign.sum(0),
                "processed_counts": assign.sum(0),
                "modality_assign": mod_assign,
                "dropped": zero,
                "rerouted": zero,
                "to_shared": zero,
                "tokens_no_expert": (assign.sum(1) == 0).sum().float(),
            }
        return y, info

    def extra_repr(self) -> str:
        a = self.args
        return (
            f"experts={a.num_experts}, k={a.top_k}, router={a.router_type}, "
            f"overflow={a.overflow}, shared={a.num_shared}"
        )
