"""Capacity and overflow policies on hand-built routings (forced router logits)."""

import torch

from onmt_moe.moe import MoE, MoEArgs
from onmt_moe.moe.router import limit_capacity


def forced(logits, **kw):
    """A MoE whose router logits for token t are exactly logits[t] (token t has modality t)."""
    T, E = logits.shape
    base = dict(
        d_model=6,
        d_ff=10,
        dropout=0.0,
        num_modalities=T,
        num_experts=E,
        top_k=1,
        modality_routing="bias",
        min_capacity=0,
        capacity_factor=1.0,
        eval_capacity_factor=1.0,
        gate_norm="softmax",
    )
    base.update(kw)
    torch.manual_seed(0)
    moe = MoE(MoEArgs(**base))
    with torch.no_grad():
        moe.router.proj.weight.zero_()
        moe.router.modality_bias.weight.copy_(logits)
    return moe, torch.arange(T)


# 4 tokens all prefer expert 0 (E=2, k=1, capacity ceil(1.0*1*4/2) = 2)
LOGITS = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.5, 0.0], [2.0, 0.0]])
P = LOGITS.softmax(-1)


def expert(moe, e, x):
    return moe.routed.experts[e](x)


def test_drop_by_probability():
    moe, mod = forced(LOGITS, overflow="drop", capacity_priority="prob")
    x = torch.randn(4, 6)
    y, _ = moe(x, mod)
    with torch.no_grad():
        for t in (1, 3):  # the two most confident keep expert 0
            torch.testing.assert_close(y[t], P[t, 0] * expert(moe, 0, x[t]))
        assert torch.equal(y[0], torch.zeros(6)) and torch.equal(y[2], torch.zeros(6))
    s = moe.routing_stats.snapshot()
    assert s["dropped"] == 2 and s["processed"] == [2.0, 0.0] and s["load"] == [4.0, 0.0]
    assert s["tokens_no_expert_fraction"] == 0.5


def test_drop_by_position():
    moe, mod = forced(LOGITS, overflow="drop", capacity_priority="position")
    x = torch.randn(4, 6)
    y, _ = moe(x, mod)
    with torch.no_grad():
        for t in (0, 1):
            torch.testing.assert_close(y[t], P[t, 0] * expert(moe, 0, x[t]))
    assert torch.equal(y[2:], torch.zeros(2, 6))


def test_next_best_moves_overflow_to_second_expert():
    moe, mod = forced(LOGITS, overflow="next_best")
    x = torch.randn(4, 6)
    y, _ = moe(x, mod)
    with torch.no_grad():
        for t in (1, 3):
            torch.testing.assert_close(y[t], P[t, 0] * expert(moe, 0, x[t]))
        for t in (0, 2):
            torch.testing.assert_close(y[t], P[t, 1] * expert(moe, 1, x[t]))
    s = moe.routing_stats.snapshot()
    assert s["rerouted"] == 2 and s["dropped"] == 0 and s["processed"] == [2.0, 2.0]


def test_next_best_renormalised_gate_and_full_experts():
    # E=3, capacity ceil(0.5*1*6/3) = 1: three experts take one token each, three tokens dropped
    logits = torch.tensor([[3.0, 2.0, 0.0]] * 6)
    logits[:, 0] += torch.arange(6.0) * 0.01  # token 5 is the most sure of expert 0
    moe, mod = forced(logits, overflow="next_best", capacity_factor=0.5, gate_norm="topk", top_k=1)
    x = torch.randn(6, 6)
    y, _ = moe(x, mod)
    p = logits.softmax(-1)
    with torch.no_grad():
        torch.testing.assert_close(y[5], expert(moe, 0, x[5]))  # gate 1 (top-1 renormalised)
        # round 1 offers expert 1 to tokens 0-4, best p[t, 1] first (token 0); round 2 offers
        # expert 2 to tokens 1-4 (token 1); gates keep the token's top-1 normalisation
        torch.testing.assert_close(y[0], p[0, 1] / p[0, 0] * expert(moe, 1, x[0]))
        torch.testing.assert_close(y[1], p[1, 2] / p[1, 0] * expert(moe, 2, x[1]))
    assert torch.equal(y[2:5], torch.zeros(3, 6))


def test_shared_policy_with_shared_expert():
    moe, mod = forced(LOGITS, overflow="shared", num_shared=1)
    x = torch.randn(4, 6)
    y, _ = moe(x, mod)
    with torch.no_grad():
        s = moe.shared(x)
        for t in (1, 3):
            torch.testing.assert_close(y[t], P[t, 0] * expert(moe, 0, x[t]) + s[t])
        for t in (0, 2):
            torch.testing.assert_close(y[t], (1 + P[t, 0]) * s[t])
    assert moe.routing_stats.snapshot()["to_shared"] == 2


def test_shared_policy_without_shared_expert_uses_backup():
    moe, mod = forced(LOGITS, overflow="shared", num_shared=0, shared_d_ff=7)
    assert moe.backup_expert.w_1.out_features == 7
    x = torch.randn(4, 6, requires_grad=True)
    y, _ = moe(x, mod)
    with torch.no_grad():
        for t in (1, 3):
            torch.testing.assert_close(y[t], P[t, 0] * expert(moe, 0, x[t]))
        for t in (0, 2):
            torch.testing.assert_close(y[t], P[t, 0] * moe.backup_expert(x[t]))
    y.sum().backward()
    assert moe.backup_expert.w_1.weight.grad.abs().sum() > 0


def test_dropless_none_ignores_capacity():
    moe, mod = forced(LOGITS, overflow="none")
    x = torch.randn(4, 6)
    y, _ = moe(x, mod)
    with torch.no_grad():
        torch.testing.assert_close(y, P[:, :1] * expert(moe, 0, x))


def test_first_choices_fill_before_second_choices():
    # k=2, E=2, capacity ceil(0.5*2*4/2) = 2. Expert 0: first choice of tokens 0,1 and second
    # choice of tokens 2,3 (with higher prob than the first choices): the first choices win.
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 0.2], [0.0, 0.2]])
    keep = limit_capacity(logits.topk(2).indices, logits.softmax(-1), 2, "prob")
    assert keep.tolist() == [[True, False], [True, False], [True, False], [True, False]]


def test_train_and_eval_capacity_factors():
    moe, mod = forced(LOGITS, overflow="drop", capacity_factor=1.0, eval_capacity_factor=2.0)
    x = torch.randn(4, 6)
    moe(x, mod)
    assert moe.routing_stats.snapshot()["dropped"] == 2
    moe.eval()
    moe(x, mod)
    assert moe.routing_stats.snapshot()["dropped"] == 0


def test_min_capacity():
    moe, mod = forced(LOGITS, overflow="drop", capacity_factor=0.1, min_capacity=3)
    moe(torch.randn(4, 6), mod)
    assert moe.routing_stats.snapshot()["processed"] == [3.0, 0.0]
