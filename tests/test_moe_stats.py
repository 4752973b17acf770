"""Routing statistics: totals, accumulation, reset."""

import pytest
import torch

from onmt_moe.moe import MoE, MoEArgs


def run(moe, T, M, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, 8, generator=g)
    mod = torch.randint(0, M, (T,), generator=g)
    moe(x, mod)
    return mod


@pytest.mark.parametrize("overflow", ["none", "drop", "next_best", "shared"])
@pytest.mark.parametrize("k", [1, 2])
def test_totals(overflow, k):
    torch.manual_seed(0)
    M, E = 3, 4
    moe = MoE(
        MoEArgs(
            d_model=8,
            d_ff=16,
            num_modalities=M,
            num_experts=E,
            top_k=k,
            overflow=overflow,
            capacity_factor=0.6,
            min_capacity=0,
            router_init_scale=10.0,
        )
    )
    mods = [run(moe, T, M, s) for s, T in enumerate((17, 30))]
    s = moe.routing_stats.snapshot()
    T = 47
    assert s["tokens"] == T and s["calls"] == 2
    assert s["assignments"] == k * T
    assert sum(s["load"]) == k * T
    assert sum(s["load_fraction"]) == pytest.approx(1.0)
    assert len(s["modality_load"]) == M and len(s["modality_load"][0]) == E
    col = [sum(row[e] for row in s["modality_load"]) for e in range(E)]
    assert col == pytest.approx(s["load"])
    counts = torch.bincount(torch.cat(mods), minlength=M).tolist()
    assert s["modality_tokens"] == counts
    assert sum(s["importance"]) == pytest.approx(1.0, rel=1e-5)
    assert sum(s["processed"]) + s["dropped"] == pytest.approx(k * T)
    if overflow == "none":
        assert s["dropped"] == 0 and s["processed"] == s["load"]
    else:
        assert s["overflow_fraction"] > 0  # capacity 0.6 with a sharp router must overflow
    if overflow == "shared":
        assert s["to_shared"] == s["dropped"]
    assert 0 <= s["entropy_norm"] <= 1 and 1 <= s["neff"] <= E + 1e-6
    assert 1 / E <= s["router_confidence"] <= 1
    assert s["max_over_mean"] >= 1
    for name in ("aux_load_balance", "aux_z_loss"):
        assert s[name] > 0


def test_reset_and_no_reset():
    moe = MoE(MoEArgs(d_model=8, d_ff=16, num_modalities=2, num_experts=4, top_k=2))
    run(moe, 10, 2, 0)
    a = moe.routing_stats.snapshot(reset=False)
    b = moe.routing_stats.snapshot(reset=True)
    assert a == b and a["tokens"] == 10
    c = moe.routing_stats.snapshot()
    assert c["tokens"] == 0 and c["calls"] == 0


def test_stats_track_temperature_schedule():
    moe = MoE(MoEArgs(d_model=8, d_ff=16, num_experts=4, router_temperature="linear:2.0:1.0:100"))
    moe.set_step(50)
    run(moe, 5, 1, 0)
    s = moe.routing_stats.snapshot()
    assert s["temperature"] == pytest.approx(1.5) and s["k"] == 2


def test_stats_not_in_state_dict():
    moe = MoE(MoEArgs(d_model=8, d_ff=16, num_experts=4))
    keys = set(moe.state_dict())
    run(moe, 5, 1, 0)
    assert set(moe.state_dict()) == keys


def test_inference_mode_then_training():
    """A first call under inference_mode must not leave inference tensors behind."""
    moe = MoE(MoEArgs(d_model=8, d_ff=16, num_experts=4, expert_d_ff=[8, 16, 16, 8]))
    with torch.inference_mode():
        run(moe, 5, 1, 0)
    x = torch.randn(5, 8)
    y, aux = moe(x, torch.zeros(5, dtype=torch.int32))
    (y.sum() + sum(aux.values())).backward()
    with torch.inference_mode():
        run(moe, 5, 1, 1)
    assert moe.routing_stats.snapshot()["tokens"] == 15


def test_stats_can_be_switched_off():
    moe = MoE(MoEArgs(d_model=8, d_ff=16, num_experts=4))
    moe.routing_stats.enabled = False
    run(moe, 5, 1, 0)
    assert moe.routing_stats.snapshot()["tokens"] == 0
    moe.routing_stats.enabled = True
    run(moe, 5, 1, 0)
    assert moe.routing_stats.snapshot()["tokens"] == 5
