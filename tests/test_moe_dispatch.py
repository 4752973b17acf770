"""The capacity-padded dispatch (-moe_dispatch padded, issue 19) against the expert-sorted one on CPU."""

import dataclasses

import pytest
import torch

from onmt_moe.moe import MoE, MoEArgs

CASES = {
    "dropless_k2": dict(overflow="none", top_k=2),
    "drop_k1": dict(overflow="drop", top_k=1),
    "drop_k2_position": dict(overflow="drop", top_k=2, capacity_priority="position"),
    "next_best_k2": dict(overflow="next_best", top_k=2),
    "shared_backup_k2": dict(overflow="shared", top_k=2),
    "shared_experts_k2": dict(overflow="shared", top_k=2, num_shared=1, shared_d_ff=24),
    "heterogeneous_silu_nobias": dict(
        overflow="drop", top_k=2, expert_d_ff=[32, 16, 48, 8], activation="silu", add_ffnbias=False
    ),
    "raw_gates_k1": dict(overflow="drop", top_k=1, gate_norm="softmax"),
}


def _run(moe, x, mod):
    x = x.detach().clone().requires_grad_(True)
    moe.zero_grad(set_to_none=True)
    y, aux = moe(x, mod)
    (y.square().sum() + aux["load_balance"] + aux["z_loss"]).backward()
    grads = {n: p.grad.clone() for n, p in moe.named_parameters() if p.grad is not None}
    return y.detach(), x.grad, grads, moe.routing_stats.snapshot()


@pytest.mark.parametrize("case", sorted(CASES))
def test_padded_matches_sorted(case):
    torch.manual_seed(0)
    args = MoEArgs(
        d_model=16,
        d_ff=32,
        dropout=0.0,
        num_modalities=3,
        num_experts=4,
        capacity_factor=0.7,
        min_capacity=0,
        router_init_scale=5.0,
        **CASES[case],
    )
    sorted_moe = MoE(dataclasses.replace(args, dispatch="sorted"))
    padded_moe = MoE(dataclasses.replace(args, dispatch="padded"))
    padded_moe.load_state_dict(sorted_moe.state_dict())
    x, mod = torch.randn(64, 16), torch.randint(0, 3, (64,))
    ys, gxs, gs, ss = _run(sorted_moe, x, mod)
    yp, gxp, gp, sp = _run(padded_moe, x, mod)
    torch.testing.assert_close(yp, ys, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gxp, gxs, rtol=1e-5, atol=1e-6)
    assert gp.keys() == gs.keys()
    for name in gs:
        torch.testing.assert_close(gp[name], gs[name], rtol=1e-5, atol=1e-6, msg=name)
    for key in ("load", "processed", "dropped", "rerouted", "to_shared"):
        assert sp[key] == ss[key], key
    if CASES[case]["overflow"] != "none":
        assert ss["dropped"] + ss["rerouted"] > 0, "the case must overflow to test the drops"


def test_auto_is_sorted_on_cpu_and_padded_path_reads_no_counts(monkeypatch):
    torch.manual_seed(0)
    moe = MoE(
        MoEArgs(
            d_model=16,
            d_ff=32,
            dropout=0.0,
            num_experts=4,
            top_k=2,
            overflow="drop",
            capacity_factor=1.0,
            min_capacity=0,
        )
    )
    x = torch.randn(20, 16)
    assert not moe.uses_padded_dispatch(x, 10)  # auto on CPU: today's path
    moe.args.dispatch = "padded"
    assert moe.uses_padded_dispatch(x, None)

    def no_host_read(self):
        raise AssertionError("host read of a tensor in the padded path")

    monkeypatch.setattr(torch.Tensor, "tolist", no_host_read)
    monkeypatch.setattr(torch.Tensor, "item", no_host_read)
    moe.routing_stats.enabled = False
    y, _ = moe(x)
    assert y.shape == (20, 16)


def test_dispatch_option_is_validated():
    with pytest.raises(ValueError, match="dispatch"):
        MoEArgs(dispatch="grouped").validate()
