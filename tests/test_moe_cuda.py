"""Same results on CUDA as on CPU (skipped without a GPU)."""

import pytest
import torch

from onmt_moe.moe import MoE, MoEArgs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("overflow,k", [("none", 2), ("drop", 1), ("next_best", 2), ("shared", 2)])
def test_cuda_matches_cpu(overflow, k):
    torch.manual_seed(0)
    args = MoEArgs(
        d_model=16,
        d_ff=32,
        dropout=0.0,
        num_modalities=3,
        num_experts=4,
        top_k=k,
        overflow=overflow,
        capacity_factor=0.7,
        min_capacity=0,
        router_init_scale=5.0,
    )
    cpu = MoE(args)
    gpu = MoE(args).cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(64, 16)
    mod = torch.randint(0, 3, (64,))
    out = []
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        xi = x.to(dev).detach().clone().requires_grad_(True)
        y, aux = m(xi, mod.to(dev))
        (y.square().sum() + aux["load_balance"] + aux["z_loss"]).backward()
        out.append((y.detach().cpu(), xi.grad.cpu(), m.router.proj.weight.grad.cpu(), m.routing_stats.snapshot()))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(out[0][2], out[1][2], rtol=1e-3, atol=1e-4)
    assert out[0][3]["load"] == out[1][3]["load"]
    assert out[0][3]["dropped"] == out[1][3]["dropped"]


def test_cuda_autocast_forward_backward():
    torch.manual_seed(0)
    moe = MoE(MoEArgs(d_model=16, d_ff=32, num_modalities=2, num_experts=4, top_k=2)).cuda()
    x = torch.randn(50, 16, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=torch.float16):
        y, aux = moe(x, torch.randint(0, 2, (50,), device="cuda"))
    assert aux["load_balance"].dtype == torch.float32
    (y.float().sum() + aux["load_balance"]).backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("overflow,k", [("none", 2), ("drop", 1), ("next_best", 2), ("shared", 2)])
def test_cuda_padded_dispatch_matches_cpu_sorted(overflow, k):
    """-moe_dispatch padded on the GPU (auto picks it there when the capacity is finite) against
    today's expert-sorted path on the CPU (issue 19)."""
    import dataclasses

    torch.manual_seed(0)
    args = MoEArgs(
        d_model=16,
        d_ff=32,
        dropout=0.0,
        num_modalities=3,
        num_experts=4,
        top_k=k,
        overflow=overflow,
        capacity_factor=0.7,
        min_capacity=0,
        router_init_scale=5.0,
    )
    cpu = MoE(dataclasses.replace(args, dispatch="sorted"))
    gpu = MoE(dataclasses.replace(args, dispatch="auto" if overflow != "none" else "padded")).cuda()
    gpu.load_state_dict(cpu.state_dict())
    x, mod = torch.randn(64, 16), torch.randint(0, 3, (64,))
    assert gpu.uses_padded_dispatch(x.cuda(), None if overflow == "none" else 8)
    out = []
    for m, dev in ((cpu, "cpu"), (gpu, "cuda")):
        xi = x.to(dev).detach().clone().requires_grad_(True)
        y, aux = m(xi, mod.to(dev))
        (y.square().sum() + aux["load_balance"] + aux["z_loss"]).backward()
        out.append((y.detach().cpu(), xi.grad.cpu(), m.router.proj.weight.grad.cpu(), m.routing_stats.snapshot()))
    for a, b in zip(out[0][:3], out[1][:3]):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
    assert out[0][3]["load"] == out[1][3]["load"]
    assert out[0][3]["dropped"] == out[1][3]["dropped"]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_padded_dispatch_under_autocast_router_fp32(dtype):
    torch.manual_seed(0)
    moe = MoE(
        MoEArgs(d_model=16, d_ff=32, num_modalities=2, num_experts=4, top_k=2, overflow="drop", dispatch="padded")
    ).cuda()
    x = torch.randn(50, 16, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=dtype):
        r = moe.router(x, torch.zeros(50, dtype=torch.long, device="cuda"))
        y, aux = moe(x, torch.randint(0, 2, (50,), device="cuda"))
    assert r.logits.dtype == torch.float32 and r.gates.dtype == torch.float32
    assert y.dtype == dtype and aux["load_balance"].dtype == torch.float32
    (y.float().sum() + aux["load_balance"]).backward()
    assert torch.isfinite(x.grad).all()
