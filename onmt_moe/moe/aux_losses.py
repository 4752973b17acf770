"""Router auxiliary losses, unweighted, fp32, over the tokens given (non-pad).

Names (keys of the dict the MoE returns) and their value at uniform routing:

    load_balance  E * sum_e f_e P_e, f_e = assignments_e / (k T) before capacity   1
    z_loss        mean_t logsumexp(z_t)^2 (z = the logits the softmax sees)        (ln E)^2 at z = 0
    importance    CV^2 of importance_e = sum_t p_te                                  0
    load          CV^2 of the load: hard top-k counts (no gradient) or Shazeer's
                  smooth P(e in top-k under gaussian noise) (load_mode=smooth)        0
    entropy       mean_t H(p_t)                                                     ln E
    limoe_local   mean over present modalities m of mean_{t in m} H(p_t)            ln E
    limoe_global  mean over present modalities of max(0, tau - H(mean_{t in m} p_t)) 0 if tau <= ln E
    compute_cost  mean_t sum_e p_te cost_e, cost_e = d_ff_e / mean(d_ff)             1

CV^2 uses the population variance. The coefficients are ``MoEArgs.aux_coefficients``.
"""

from __future__ import annotations

import torch

AUX_NAMES = ("load_balance", "z_loss", "importance", "load", "entropy", "limoe_local", "limoe_global", "compute_cost")


def cv_squared(v: torch.Tensor) -> torch.Tensor:
    mean = v.mean()
    return v.var(unbiased=False) / (mean * mean + 1e-10) if v.numel() > 1 else v.new_zeros(())


def token_entropy(logits: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """H(p_t) per token, from the logits for numerical safety."""
    return -(probs * logits.log_softmax(dim=-1)).sum(dim=-1)


def smooth_load(clean_logits, noisy_logits, k: int, sigma: float) -> torch.Tensor:
    """Shazeer et al. 2017: sum_t P(e stays in the top-k when its noise is redrawn)."""
    E = clean_logits.shape[1]
    if k >= E:
        return clean_logits.new_full((E,), float(clean_logits.shape[0]))
    top = noisy_logits.topk(k + 1, dim=-1).values
    thr_in, thr_out = top[:, k : k + 1], top[:, k - 1 : k]
    is_in = noisy_logits > thr_in
    normal = torch.distributions.Normal(0.0, 1.0)
    p_in = normal.cdf((clean_logits - thr_in) / sigma)
    p_out = normal.cdf((clean_logits - thr_out) / sigma)
    return torch.where(is_in, p_in, p_out).sum(dim=0)


_COSTS = {}


def expert_costs(widths: list[int], device) -> torch.Tensor:
    """cost_e = d_ff_e / mean(d_ff), cached per device (no host-to-device copy per call)."""
    key = (tuple(widths), str(device))
    if key not in _COSTS:
        with torch.inference_mode(False):  # a cache made under inference_mode would poison training
            cost = torch.tensor(widths, dtype=torch.float32)
            _COSTS[key] = (cost / cost.mean()).to(device)
    return _COSTS[key]


def compute_aux_losses(
    *, logits, clean_logits, probs, assign_counts, modality_onehot, entropy, args, widths: list[int], noise: float
) -> dict[str, torch.Tensor]:
    """All terms of ``AUX_NAMES``.

    assign_counts: (E,) float assignments per expert before capacity (no gradient);
    modality_onehot: (T, M) float; entropy: (T,) H(p_t).
    """
    E = probs.shape[1]
    T = probs.shape[0]
    f = assign_counts / assign_counts.sum().clamp_min(1.0)
    P = probs.mean(dim=0)
    aux = {
        "load_balance": E * (f * P).sum(),
        "z_loss": torch.logsumexp(logits, dim=-1).square().mean(),
        "importance": cv_squared(probs.sum(dim=0)),
    }
    if args.load_mode == "smooth":
        sigma = noise if (args.router_noise_type == "gaussian" and noise > 0) else 1.0
        aux["load"] = cv_squared(smooth_load(clean_logits, logits, args.top_k, sigma))
    else:
        aux["load"] = cv_squared(assign_counts)
    aux["entropy"] = entropy.mean()

    # per modality: sums via the one-hot matrix (no boolean indexing, no host sync)
    n_m = modality_onehot.sum(dim=0)  # (M,)
    present = (n_m > 0).float()
    n_present = present.sum().clamp_min(1.0)
    local = (modality_onehot.t() @ entropy) / n_m.clamp_min(1.0)
    aux["limoe_local"] = (local * present).sum() / n_present
    pbar = (modality_onehot.t() @ probs) / n_m.clamp_min(1.0)[:, None]  # (M, E)
    h_glob = -(pbar * pbar.clamp_min(1e-30).log()).sum(dim=-1)
    aux["limoe_global"] = ((args.tau - h_glob).clamp_min(0.0) * present).sum() / n_present

    aux["compute_cost"] = (probs @ expert_costs(widths, probs.device)).mean()
    if T == 0:
        aux = {name: probs.new_zeros(()) for name in AUX_NAMES}
    return aux
