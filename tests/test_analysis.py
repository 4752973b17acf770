import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from onmt_moe.diagnostics.analysis import (
    ModelLoadError,
    find_moe_blocks,
    load_onmt_model,
    main,
    parameter_summary,
    parameter_table,
    profile_modules,
    sample_batch,
)
from onmt_moe.plugin.gradients import GradientNormLogger
from onmt_moe.runfolder.csvlog import read_csv


# --------------------------------------------------------------------------- toy MoE
class FFN(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.w_1 = nn.Linear(d, h)
        self.w_2 = nn.Linear(h, d)

    def forward(self, x):
        return self.w_2(torch.relu(self.w_1(x)))


class Group(nn.Module):
    def __init__(self, d, widths):
        super().__init__()
        self.experts = nn.ModuleList(FFN(d, w) for w in widths)


class Args:
    def __init__(self, num_experts, top_k):
        self.num_experts, self.top_k = num_experts, top_k


class ToyMoE(nn.Module):
    """Same layout as onmt_moe.moe.MoE: args.top_k, routed.experts, shared.experts."""

    def __init__(self, d=8, widths=(16, 16, 32, 32), k=2, shared=1):
        super().__init__()
        self.args = Args(len(widths), k)
        self.router = nn.Linear(d, len(widths), bias=False)
        self.routed = Group(d, widths)
        self.shared = Group(d, [16] * shared)  # always active; must not count as routed

    def forward(self, x):
        w = torch.softmax(self.router(x), -1)
        top, idx = w.topk(self.args.top_k, -1)
        out = sum(e(x) for e in self.shared.experts)
        for j, e in enumerate(self.routed.experts):
            g = (top * (idx == j)).sum(-1, keepdim=True)
            out = out + g * e(x)
        return out


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = nn.Embedding(10, 8)
        self.encoder = nn.ModuleDict({"layer0": ToyMoE(), "norm": nn.LayerNorm(8)})
        self.generator = nn.Linear(8, 10)

    def forward(self, ids):
        h = self.embeddings(ids)
        h = self.encoder["norm"](h + self.encoder["layer0"](h))
        return self.generator(h)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_moe_detection_and_active_params():
    net = Net()
    blocks = find_moe_blocks(net)
    assert len(blocks) == 1
    b = blocks[0]
    assert (b["name"], b["top_k"], b["num_experts"]) == ("encoder.layer0", 2, 4)
    assert b["experts_name"] == "encoder.layer0.routed.experts"
    routed = [n_params(e) for e in net.encoder["layer0"].routed.experts]
    assert b["expert_params"] == routed
    total = n_params(net)
    expected_active = total - sum(routed) + 2 * sum(routed) / 4
    t = parameter_table(net, depth=2)
    summ = t[t["kind"] == "summary"].set_index("name")
    assert summ.loc["total", "params"] == total
    assert summ.loc["active_per_token", "active_params"] == pytest.approx(expected_active)
    assert summ.loc["total", "fp32_mb"] == pytest.approx(total * 4 / 1e6)
    assert summ.loc["total", "fp16_mb"] == pytest.approx(total * 2 / 1e6)
    moe = t[t["kind"] == "moe"].iloc[0]
    assert moe["num_experts"] == 4 and moe["top_k"] == 2
    assert moe["expert_params_mean"] == pytest.approx(sum(routed) / 4)
    mods = t[t["kind"] == "module"].set_index("name")
    assert mods["params"].sum() == total
    assert mods.loc["generator", "active_params"] == n_params(net.generator)
    s = parameter_summary(net)
    assert s["total"] == total and s["active_per_token"] == pytest.approx(expected_active)
    # a dense model: active == total
    dense = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    d = parameter_table(dense).set_index("name")
    assert d.loc["active_per_token", "active_params"] == d.loc["total", "params"] == n_params(dense)


def test_gradient_norm_logger(tmp_path):
    torch.manual_seed(0)
    net = Net()
    ids = torch.randint(0, 10, (3, 5))
    net(ids).pow(2).mean().backward()
    path = tmp_path / "grad_norms.csv"
    lg = GradientNormLogger(net, path, every=10, depth=2)
    assert "encoder.layer0.routed.experts.3" in lg.groups  # per-expert groups
    assert lg.maybe_log(5) is False and not read_csv(path).shape[0]
    assert lg.maybe_log(10) is True
    df = read_csv(path)
    got = dict(zip(df["module"], df["grad_norm"]))
    # reference: direct per-group computation
    for g in ("generator", "encoder.norm", "encoder.layer0"):
        ps = [p for n, p in net.named_parameters() if lg.group_name(n) == g]
        ref = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in ps))
        assert got[g] == pytest.approx(ref, rel=1e-5)
    total = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in net.parameters()))
    assert got["total"] == pytest.approx(total, rel=1e-5)
    # scale divides (AMP), groups without grads report 0
    net.generator.weight.grad = None
    net.generator.bias.grad = None
    assert lg.compute(scale=2.0)["generator"] == 0.0
    assert lg.compute(scale=2.0)["encoder.norm"] == pytest.approx(got["encoder.norm"] / 2, rel=1e-5)
    net.zero_grad(set_to_none=True)
    assert lg.maybe_log(20) is False  # nothing to log
    assert set(read_csv(path)["step"]) == {10}


def test_profile_modules_forward_backward():
    torch.manual_seed(0)
    net = Net()
    ids = torch.randint(0, 10, (4, 6))
    before = [p.grad for p in net.parameters()]
    df = profile_modules(net, (ids,), backward=True, repeats=2, warmup=1)
    rows = df.set_index("module")
    assert {"model", "embeddings", "encoder.layer0", "encoder.layer0.routed.experts.2", "generator"} <= set(rows.index)
    assert (df["forward_ms"] >= 0).all()
    assert rows.loc["encoder.layer0", "calls"] == 1
    # inclusive timing: a parent is not faster than its child
    assert rows.loc["model", "forward_ms"] >= rows.loc["encoder.layer0", "forward_ms"]
    assert rows.loc["encoder.layer0", "forward_ms"] >= rows.loc["encoder.layer0.router", "forward_ms"]
    for m in ("model", "embeddings", "encoder.layer0", "generator"):
        assert rows.loc[m, "backward_ms"] > 0, m
    assert rows.loc["model", "forward_pct"] == pytest.approx(100.0)
    assert [p.grad for p in net.parameters()] == before  # grads restored
    fwd = profile_modules(net, ids, backward=False, repeats=1, warmup=0, max_depth=1)
    assert fwd["depth"].max() <= 1 and fwd["backward_ms"].isna().all()


# ------------------------------------------------------------------ OpenNMT checkpoint
def _tiny_onmt_checkpoint(path):
    from tests.helpers_onmt import tiny_checkpoint

    settings = dict(encoder_type="transformer", decoder_type="transformer", enc_layers=2, dec_layers=1)
    settings |= dict(hidden_size=16, word_vec_size=16, heads=2, transformer_ff=32, position_encoding=True)
    settings |= dict(dropout=[0.0], attention_dropout=[0.0])
    return tiny_checkpoint(path, ["<NMR>", "</NMR>", "<IR>", "</IR>"] + [f"s{i}" for i in range(20)], settings)


def test_load_checkpoint_table_and_cli(tmp_path, capsys):
    ckpt = tmp_path / "model_step_10.pt"
    ref = _tiny_onmt_checkpoint(ckpt)
    model, vocabs, model_opt, info = load_onmt_model(ckpt)
    assert n_params(model) == n_params(ref)
    for (n1, p1), (n2, p2) in zip(ref.named_parameters(), model.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    src, tgt, src_len = sample_batch(vocabs, batch_size=2, src_len=12, tgt_len=5)
    assert src.shape == (2, 12, 1) and tgt.shape == (2, 5, 1)
    assert src[0, 0, 0].item() == vocabs["src"].lookup_token("<IR>")  # tagged segments (IR < NMR)

    out_csv = tmp_path / "params.csv"
    prof_csv = tmp_path / "prof.csv"
    rc = main(
        [
            str(ckpt),
            "--csv",
            str(out_csv),
            "--profile",
            "--profile_csv",
            str(prof_csv),
            "--batch_size",
            "2",
            "--src_len",
            "12",
            "--tgt_len",
            "6",
            "--repeats",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "active_per_token" in out and "encoder.transformer.0" in out and "forward_ms" in out
    table = read_csv(out_csv)
    total = table.loc[table["name"] == "total", "params"].iloc[0]
    assert total == n_params(ref)
    prof = read_csv(prof_csv)
    assert {"model", "encoder", "decoder", "generator"} <= set(prof["module"])

    # bad inputs: one-line errors naming the file
    assert main([str(tmp_path / "nope.pt")]) == 2
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main([str(bad)]) == 2
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ModelLoadError, match="not an OpenNMT checkpoint"):
        load_onmt_model(tmp_path / "other.pt")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "nope.pt" in err[0] and "bad.pt" in err[1]


def test_script_entry_point_missing_file(tmp_path, monkeypatch, capsys):
    import runpy

    script = Path(__file__).resolve().parents[1] / "scripts" / "analyze_model.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "missing.pt")])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(script), run_name="__main__")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "missing.pt" in err and "Traceback" not in err


def test_cross_attention_share_is_the_token_share_under_uniform_attention_and_ignores_padding(tmp_path):
    from onmt_moe.diagnostics.attention import cross_attention_share, segment_labels

    ckpt = tmp_path / "model_step_10.pt"
    _tiny_onmt_checkpoint(ckpt)
    model, vocabs, _, _ = load_onmt_model(ckpt)
    src = [["<NMR>", "s1", "s2", "s3", "</NMR>", "<IR>", "s4", "</IR>", "s5"], ["<IR>", "s6", "s7", "</IR>"]]
    assert segment_labels(src[0]) == ["NMR"] * 5 + ["IR"] * 3 + ["OTHER"]
    tgt = [["t1", "t2", "t3"], ["t4", "t5", "t6"]]  # same length: token-weighted mean = mean over molecules
    for layer in model.decoder.transformer_layers:  # zero queries: every source position weighs the same
        layer.context_attn.linear_query.weight.data.zero_()
        if layer.context_attn.linear_query.bias is not None:
            layer.context_attn.linear_query.bias.data.zero_()
    res = cross_attention_share(model, vocabs, src, tgt, batch_size=1)
    assert res["segments"] == ["IR", "NMR", "OTHER"] and res["molecules"] == 2
    want = {"IR": (3 / 9 + 1) / 2, "NMR": 5 / 18, "OTHER": 1 / 18}
    for seg, share in want.items():
        assert res["tokens"][seg] == pytest.approx(share)
        assert res["attention"][seg] == pytest.approx(share, abs=1e-5)  # pads of the batch get no weight
    assert sum(res["attention_by_layer"][0].values()) == pytest.approx(1.0)
    # with its own (non-uniform) weights: padding a batch changes nothing, and the shares are not the token shares
    model, vocabs, _, _ = load_onmt_model(ckpt)
    for layer in model.decoder.transformer_layers:  # sharpen the tiny random weights: peaked attention
        layer.context_attn.linear_query.weight.data *= 40.0
        layer.context_attn.linear_keys.weight.data *= 40.0
    one, two = (cross_attention_share(model, vocabs, src, tgt, batch_size=b) for b in (1, 2))
    for seg in want:
        assert one["attention"][seg] == pytest.approx(two["attention"][seg], abs=1e-5)
    assert max(abs(one["attention"][s] - want[s]) for s in want) > 1e-3
