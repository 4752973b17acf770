"""Aux losses: values at uniform / collapsed routing, per-modality terms, coefficients."""

import math

import pytest
import torch

from onmt_moe.moe import MoE, MoEArgs


def forced(logits, modality=None, **kw):
    """Router logits for token t are exactly logits[t] (token t has its own modality id)."""
    T, E = logits.shape
    base = dict(d_model=4, d_ff=8, dropout=0.0, num_modalities=T, num_experts=E, top_k=1, modality_routing="bias")
    base.update(kw)
    moe = MoE(MoEArgs(**base))
    with torch.no_grad():
        moe.router.proj.weight.zero_()
        moe.router.modality_bias.weight.copy_(logits)
    return moe, torch.arange(T)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("E", [4, 8])
def test_load_balance_is_one_at_uniform_routing(k, E):
    # token t strongly prefers experts t, t+1 (mod E): f and P both uniform
    T = 2 * E
    logits = torch.zeros(T, E)
    for t in range(T):
        logits[t, t % E] = 5.0
        logits[t, (t + 1) % E] = 4.0
    moe, mod = forced(logits, top_k=k)
    _, aux = moe(torch.randn(T, 4), mod)
    assert aux["load_balance"].item() == pytest.approx(1.0, abs=1e-5)
    # equal logits: P uniform, so LB = sum f = 1 whatever top-k picks
    moe, mod = forced(torch.zeros(T, E), top_k=k)
    _, aux = moe(torch.randn(T, 4), mod)
    assert aux["load_balance"].item() == pytest.approx(1.0, abs=1e-5)


def test_load_balance_collapsed_is_E():
    E = 4
    moe, mod = forced(torch.tensor([[30.0, 0, 0, 0]] * 6))
    _, aux = moe(torch.randn(6, 4), mod)
    assert aux["load_balance"].item() == pytest.approx(E, rel=1e-4)
    assert aux["importance"].item() == pytest.approx(3.0, rel=1e-3)  # CV^2 of (6,0,0,0) = 3
    assert aux["load"].item() == pytest.approx(3.0, rel=1e-3)


def test_load_balance_counts_before_capacity():
    moe, mod = forced(torch.tensor([[30.0, 0, 0, 0]] * 8), overflow="drop", capacity_factor=1.0, min_capacity=0)
    _, aux = moe(torch.randn(8, 4), mod)
    assert moe.routing_stats.snapshot()["dropped"] == 6
    assert aux["load_balance"].item() == pytest.approx(4.0, rel=1e-4)


@pytest.mark.parametrize("E", [2, 8])
def test_z_loss_and_entropy_at_zero_logits(E):
    moe, mod = forced(torch.zeros(5, E))
    _, aux = moe(torch.randn(5, 4), mod)
    assert aux["z_loss"].item() == pytest.approx(math.log(E) ** 2, rel=1e-5)
    assert aux["entropy"].item() == pytest.approx(math.log(E), rel=1e-5)
    assert aux["limoe_local"].item() == pytest.approx(math.log(E), rel=1e-5)
    assert aux["compute_cost"].item() == pytest.approx(1.0, rel=1e-5)
    assert aux["importance"].item() == pytest.approx(0.0, abs=1e-8)


def test_z_loss_shifted_logits():
    moe, mod = forced(torch.full((3, 4), 2.0))
    _, aux = moe(torch.randn(3, 4), mod)
    assert aux["z_loss"].item() == pytest.approx((2.0 + math.log(4)) ** 2, rel=1e-5)


def test_limoe_terms_per_modality():
    E = 4
    args = dict(d_model=4, d_ff=8, dropout=0.0, num_modalities=3, num_experts=E, top_k=1, limoe_tau=math.log(E))
    moe = MoE(MoEArgs(**args))
    with torch.no_grad():
        moe.router.proj.weight.zero_()
        # modality 0: collapsed on expert 0; modality 1: uniform; modality 2: absent
        moe.router.modality_bias.weight.copy_(torch.tensor([[40.0, 0, 0, 0], [0.0] * 4, [9.0, 0, 0, 0]]))
    mod = torch.tensor([0, 0, 0, 1, 1])
    _, aux = moe(torch.randn(5, 4), mod)
    # local: mean(H(collapsed)=0, H(uniform)=ln E); global: mean(max(0, lnE - 0), max(0, lnE - lnE))
    assert aux["limoe_local"].item() == pytest.approx(math.log(E) / 2, rel=1e-4)
    assert aux["limoe_global"].item() == pytest.approx(math.log(E) / 2, rel=1e-4)


def test_compute_cost_heterogeneous():
    # widths 30, 10 -> costs 1.5, 0.5; all mass on the heavy expert -> 1.5
    moe, mod = forced(torch.tensor([[40.0, 0.0]] * 3), expert_d_ff=[30, 10])
    _, aux = moe(torch.randn(3, 4), mod)
    assert aux["compute_cost"].item() == pytest.approx(1.5, rel=1e-4)
    aux["compute_cost"].backward()


def test_smooth_load_has_gradient():
    moe, mod = forced(torch.randn(6, 4), load_mode="smooth", router_noise_type="gaussian", router_noise="1.0", top_k=2)
    _, aux = moe(torch.randn(6, 4), mod)
    aux["load"].backward()
    assert moe.router.modality_bias.weight.grad.abs().sum() > 0


def test_aux_coefficients_with_schedules():
    a = MoEArgs(lb_coef="linear:0.1:0.01:100", z_coef="0.001", entropy_coef="step:0:0.5:10")
    c0, c50, c200 = a.aux_coefficients(0), a.aux_coefficients(50), a.aux_coefficients(200)
    assert c0["load_balance"] == pytest.approx(0.1) and c200["load_balance"] == pytest.approx(0.01)
    assert c50["load_balance"] == pytest.approx(0.055)
    assert c0["entropy"] == 0.0 and c50["entropy"] == 0.5
    assert c0["z_loss"] == 0.001 and c0["importance"] == 0.0
    assert set(c0) == {
        "load_balance",
        "z_loss",
        "importance",
        "load",
        "entropy",
        "limoe_local",
        "limoe_global",
        "compute_cost",
    }
    assert MoEArgs().aux_coefficients(0)["load_balance"] == 0.01


def test_aux_schedules_are_parsed_once_not_on_every_batch(monkeypatch):
    import onmt_moe.moe.arguments as arguments

    parsed = []

    class CountingSchedule(arguments.Schedule):
        def __init__(self, spec):
            parsed.append(spec)
            super().__init__(spec)

    monkeypatch.setattr(arguments, "Schedule", CountingSchedule)
    a = MoEArgs(lb_coef="linear:0.1:0.01:100")
    for step in range(5):
        a.aux_coefficients(step)
    assert len(parsed) == len(arguments.AUX_COEFFICIENTS)
    assert a.aux_coefficients(100)["load_balance"] == pytest.approx(0.01)
