"""The moe_transformer encoder inside OpenNMT: equivalence, padding, eval determinism, checkpoints."""

import torch
from onmt.model_builder import build_base_model

from tests import helpers_onmt as H


def _encode(model, batch):
    out, _, _ = model.encoder(batch["src"], batch["srclen"])
    return out


def test_one_expert_top1_dropless_equals_dense_transformer():
    v = H.vocabs()
    opt_moe = H.opts(
        moe_num_experts=1, moe_top_k=1, moe_overflow="none", moe_gate_norm="topk", moe_modality_routing="none"
    )
    opt_dense = H.opts(encoder_type="transformer")
    moe = H.model(opt_moe, seed=1).eval()
    dense = H.model(opt_dense, seed=2).eval()
    # copy every shared weight, and the dense FFN into the single expert
    sd = dense.encoder.state_dict()
    msd = moe.encoder.state_dict()
    for name, val in sd.items():
        if name in msd:
            msd[name] = val.clone()
    for i in moe.encoder.moe_layer_ids:
        ff = f"transformer.{i}.feed_forward"
        msd[f"{ff}.layer_norm.weight"] = sd[f"{ff}.layer_norm.weight"].clone()
        msd[f"{ff}.layer_norm.bias"] = sd[f"{ff}.layer_norm.bias"].clone()
        expert = [k for k in msd if k.startswith(f"{ff}.moe.routed.experts.0.")]
        assert expert, "expected expert parameters"
        for k in expert:
            leaf = k.split("experts.0.")[1]  # w_1.weight, w_1.bias, w_2.weight, w_2.bias
            msd[k] = sd[f"{ff}.{leaf}"].clone()
    moe.encoder.load_state_dict(msd, strict=True)
    b = H.batch(v, H.SRC, H.TGT)
    # compare real tokens only: OpenNMT's dense FFN also transforms pad positions, which the decoder masks
    real = torch.arange(b["src"].size(1))[None, :] < b["srclen"][:, None]
    torch.testing.assert_close(_encode(moe, b)[real], _encode(dense, b)[real], rtol=1e-5, atol=1e-5)


def test_padding_never_changes_real_token_outputs_and_eval_is_batch_independent():
    v = H.vocabs()
    opt = H.opts(
        moe_num_experts=4, moe_top_k=2, moe_overflow="drop", moe_capacity_factor=1.0, moe_eval_capacity_factor=0.0
    )
    model = H.model(opt).eval()
    together = _encode(model, H.batch(v, H.SRC, H.TGT))
    shuffled_idx = [2, 0, 1]
    shuffled = _encode(model, H.batch(v, [H.SRC[i] for i in shuffled_idx], [H.TGT[i] for i in shuffled_idx]))
    for i, line in enumerate(H.SRC):
        n = len(line.split())
        alone = _encode(model, H.batch(v, [line], [H.TGT[i]]))[0, :n]
        torch.testing.assert_close(together[i, :n], alone, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(shuffled[shuffled_idx.index(i), :n], alone, rtol=1e-5, atol=1e-5)


def test_pad_tokens_are_not_routed():
    v = H.vocabs()
    opt = H.opts()
    model = H.model(opt).train()
    b = H.batch(v, H.SRC, H.TGT)
    for blk in model.encoder.moe_blocks():
        blk.moe.routing_stats.reset()
    _encode(model, b)
    real = int(b["srclen"].sum())
    for blk in model.encoder.moe_blocks():
        snap = blk.moe.routing_stats.snapshot()
        assert snap["tokens"] == real
        assert sum(snap["load"]) == real * opt.moe_top_k
        # modality rows: FORMULA, IR, NMR found in the vocabulary (sorted); every real token is inside a segment
        assert sum(snap["modality_tokens"]) == real and snap["modality_tokens"][0] == 0


def test_modality_tags_and_state_dict_roundtrip():
    v = H.vocabs()
    opt = H.opts()
    model = H.model(opt)
    assert [item.split(":")[0] for item in opt.moe_modality_vocab] == ["FORMULA", "IR", "NMR"]
    assert model.encoder.modality_names == ["OTHER", "FORMULA", "IR", "NMR"]
    for name, p in model.named_parameters():
        assert p.dim() > 0, name
        assert "generator" not in name or name.startswith("generator")
    again = build_base_model(opt, v)
    # OpenNMT's own loader (BaseModel.load_state_dict), fed the way ModelSaver saves: it slices every
    # tensor by size(0) and requires every key, so 0-dim or non-persistent tensors would fail here
    sd = {k: t.clone() for k, t in model.state_dict().items() if "generator" not in k}
    ckpt = {"model": sd, "generator": {k: t.clone() for k, t in model.generator.state_dict().items()}}
    again.load_state_dict(ckpt, strict=True)
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), again.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1


def test_router_reset_zeroes_modality_bias_after_glorot():
    opt = H.opts(moe_modality_routing="both")
    model = H.model(opt)
    model.encoder.reset_router_parameters()
    zero = [n for n, p in model.encoder.named_parameters() if "modality" in n and float(p.abs().max()) == 0.0]
    assert zero, "modality bias/embedding must start at zero"
