"""MoE block: dense equivalence, determinism, gradients, checkpoints."""

import math

import pytest
import torch

from onmt_moe.moe import MoE, MoEArgs
from onmt_moe.moe.experts import ExpertFFN


def make(**kw):
    base = dict(d_model=8, d_ff=16, dropout=0.0, num_modalities=3, num_experts=4, top_k=2)
    base.update(kw)
    return MoE(MoEArgs(**base))


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", "gated-gelu"])
@pytest.mark.parametrize("bias", [True, False])
def test_one_expert_equals_dense_ffn(activation, bias):
    torch.manual_seed(0)
    moe = make(num_experts=1, top_k=1, activation=activation, add_ffnbias=bias)
    dense = ExpertFFN(8, 16, activation, bias, 0.0)
    dense.load_state_dict(moe.routed.experts[0].state_dict())
    x = torch.randn(13, 8, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y, _ = moe(x, torch.randint(0, 3, (13,)))
    ref = dense(x2)
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-6)
    g = torch.randn_like(ref)
    y.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(moe.routed.experts[0].w_1.weight.grad, dense.w_1.weight.grad)


def test_fused_relu_path_matches_autograd_loop():
    torch.manual_seed(0)
    moe = make(expert_d_ff=[16, 8, 4, 12], dropout=0.0)
    x = torch.randn(40, 8)
    mod = torch.randint(0, 3, (40,))
    outs = []
    for fused in (True, False):
        moe.routed.fused = fused
        moe.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_(True)
        y, aux = moe(xi, mod)
        (y.square().sum() + aux["load_balance"]).backward()
        outs.append((y.detach(), xi.grad, [p.grad for p in moe.parameters()]))
    (y1, gx1, gp1), (y2, gx2, gp2) = outs
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(gx1, gx2)
    for a, b in zip(gp1, gp2):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b)


def test_manual_top2_mixture():
    """y_t = sum over the token's top-2 experts of renormalised gate * expert(x_t)."""
    torch.manual_seed(1)
    moe = make(modality_routing="none")
    x = torch.randn(9, 8)
    y, _ = moe(x, torch.zeros(9, dtype=torch.long))
    logits = x @ moe.router.proj.weight.t()
    top = logits.topk(2, dim=-1)
    gates = top.values.softmax(-1)
    for t in range(9):
        ref = sum(gates[t, j] * moe.routed.experts[int(top.indices[t, j])](x[t : t + 1])[0] for j in range(2))
        torch.testing.assert_close(y[t], ref, rtol=1e-5, atol=1e-6)


def test_eval_is_deterministic_and_batch_independent():
    torch.manual_seed(2)
    moe = make(
        router_noise_type="gaussian",
        router_noise="1.0",
        num_shared=1,
        capacity_factor=0.5,
        eval_capacity_factor=0.0,
        overflow="drop",
    )
    moe.eval()
    x = torch.randn(30, 8)
    mod = torch.randint(0, 3, (30,))
    with torch.no_grad():
        y1, _ = moe(x, mod)
        y2, _ = moe(x, mod)
        assert torch.equal(y1, y2)
        perm = torch.randperm(30)
        y3, _ = moe(x[perm], mod[perm])
        torch.testing.assert_close(y3, y1[perm], rtol=1e-5, atol=1e-6)
        for t in (0, 7, 29):
            alone, _ = moe(x[t : t + 1], mod[t : t + 1])
            torch.testing.assert_close(alone[0], y1[t], rtol=1e-5, atol=1e-6)
    moe.train()  # training noise changes the routing
    y4, _ = moe(x, mod)
    assert not torch.allclose(y4, y1)


@pytest.mark.parametrize("k,gate_norm", [(2, "topk"), (1, "softmax"), (2, "softmax")])
def test_task_gradient_reaches_router_and_modality_bias(k, gate_norm):
    torch.manual_seed(3)
    moe = make(top_k=k, gate_norm=gate_norm, modality_routing="both")
    x = torch.randn(20, 8)
    y, _ = moe(x, torch.randint(0, 3, (20,)))
    y.square().sum().backward()
    assert moe.router.proj.weight.grad.abs().sum() > 0
    assert moe.router.modality_bias.weight.grad.abs().sum() > 0
    assert moe.router.modality_embed.weight.grad.abs().sum() > 0


def test_aux_losses_are_differentiable_fp32_scalars():
    moe = make(importance_coef="1", load_mode="smooth", router_noise_type="gaussian", router_noise="0.5")
    x = torch.randn(20, 8)
    _, aux = moe(x, torch.randint(0, 3, (20,)))
    for name, value in aux.items():
        assert value.dtype == torch.float32 and value.dim() == 0, name
    sum(aux[n] for n in ("load_balance", "z_loss", "importance", "load", "entropy")).backward()
    assert moe.router.proj.weight.grad.abs().sum() > 0


def test_state_dict_round_trip_and_checkpoint_rules():
    torch.manual_seed(4)
    args = dict(num_shared=1, overflow="shared", modality_routing="both", expert_d_ff=[16, 8, 8, 4])
    moe = make(**args)
    sd = moe.state_dict()
    fresh = make(**args)
    fresh.load_state_dict(sd, strict=True)
    for name, t in list(moe.named_parameters()) + list(moe.named_buffers()):
        assert t.dim() >= 1, name
        assert "generator" not in name
    x, mod = torch.randn(11, 8), torch.randint(0, 3, (11,))
    moe.eval(), fresh.eval()
    torch.testing.assert_close(moe(x, mod)[0], fresh(x, mod)[0])
    assert not any(n.endswith("bias") and "w_" in n for n in make(add_ffnbias=False).state_dict())
    assert "backup_expert.w_1.weight" in make(overflow="shared").state_dict()


def test_reset_router_parameters_after_glorot():
    moe = make(modality_routing="both")
    for _name, p in moe.named_parameters():  # what OpenNMT's glorot init does
        torch.nn.init.xavier_uniform_(p) if p.dim() > 1 else p.data.zero_()
    moe.reset_router_parameters()
    assert moe.router.modality_bias.weight.abs().sum() == 0
    assert moe.router.modality_embed.weight.abs().sum() == 0
    std = moe.router.proj.weight.std().item()
    assert 0.2 * math.sqrt(0.1 / 8) < std < 2 * math.sqrt(0.1 / 8)


def test_update_dropout_and_empty_input():
    moe = make(dropout=0.1, num_shared=1)
    moe.update_dropout(0.3)
    assert all(m.p == 0.3 for m in moe.modules() if isinstance(m, torch.nn.Dropout))
    y, aux = moe(torch.randn(0, 8), torch.zeros(0, dtype=torch.long))
    assert y.shape == (0, 8)
    assert all(torch.isfinite(v) for v in aux.values())


def test_expert_choice_gives_each_expert_c_tokens():
    torch.manual_seed(5)
    moe = make(router_type="expert_choice", ec_capacity_factor=1.0)
    x = torch.randn(16, 8, requires_grad=True)
    y, aux = moe(x, torch.randint(0, 3, (16,)))
    y.sum().backward()
    s = moe.routing_stats.snapshot()
    assert s["processed"] == [4.0] * 4  # ceil(1.0 * 16 / 4)
    r = moe.router(x, torch.zeros(16, dtype=torch.long))
    assert r.expert_idx.shape == (4, 4)
    chosen = torch.zeros(16, dtype=torch.bool)
    chosen[r.expert_idx.reshape(-1)] = True
    assert s["tokens_no_expert_fraction"] == pytest.approx(1 - chosen.float().mean().item())
    assert x.grad.abs().sum() > 0


def test_temperature_and_jitter():
    torch.manual_seed(6)
    moe = make(router_temperature="linear:4.0:1.0:10", router_noise_type="jitter", router_noise="0.5")
    x, mod = torch.randn(10, 8), torch.randint(0, 3, (10,))
    moe.eval()
    p_hot = moe.router(x, mod).probs
    moe.set_step(10)
    p_cold = moe.router(x, mod).probs
    assert torch.allclose(p_hot, (p_cold.log() / 4).softmax(-1), atol=1e-5)
    moe.train()
    assert not torch.allclose(moe.router(x, mod).logits, moe.router(x, mod).logits)


def test_modality_bias_changes_routing():
    moe = make(top_k=1, modality_routing="bias")
    with torch.no_grad():
        moe.router.modality_bias.weight[1, 3] = 50.0
    r = moe.router(torch.randn(6, 8), torch.tensor([0, 1, 1, 2, 1, 0]))
    assert r.expert_idx[[1, 2, 4], 0].tolist() == [3, 3, 3]
