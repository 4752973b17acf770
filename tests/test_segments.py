"""Issue 16 part 4: within-modality attention, fusion layers, modality type embedding, segment positions."""

import hashlib
import os

import onmt  # noqa: F401  (importing onmt registers the plugin, before onmt_moe.plugin is imported)
import pytest
import torch

from onmt_moe.modality import segments
from onmt_moe.plugin.encoder_config import EncoderConfig
from tests import helpers_onmt as H
from tests.conftest import FIXTURES

# a hand-made example: OTHER OTHER | A A A | B B | pad pad (modality ids 0 0 1 1 1 2 2, length 7 of 9)
MOD = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 0, 0]])
KEEP = torch.tensor([[True] * 7 + [False] * 2])


def test_segment_index_and_positions_restart_per_run():
    assert segments.segment_index(MOD).tolist() == [[0, 0, 1, 1, 1, 2, 2, 3, 3]]
    assert segments.segment_positions(MOD).tolist() == [[0, 1, 0, 1, 2, 0, 1, 0, 1]]


def test_within_segment_mask_blocks_every_key_outside_the_segment():
    seg = segments.segment_index(MOD)
    allowed = ~segments.within_segment_mask(seg, KEEP)[0, 0]
    for q in range(7):
        for k in range(9):
            assert bool(allowed[q, k]) == (k < 7 and int(seg[0, q]) == int(seg[0, k])), (q, k)
    # pad queries see the real keys only, as OpenNMT's pad mask
    assert allowed[7].tolist() == [True] * 7 + [False] * 2


def test_cross_segment_mask_attends_to_the_other_segments_only():
    seg = segments.segment_index(MOD)
    allowed = ~segments.cross_segment_mask(seg, KEEP)[0, 0]
    for q in range(7):
        for k in range(9):
            assert bool(allowed[q, k]) == (k < 7 and int(seg[0, q]) != int(seg[0, k])), (q, k)
    # one segment only: nothing else to attend to, so it falls back to every real token (no empty row)
    single = torch.tensor([[1, 1, 1, 0]])
    keep = torch.tensor([[True, True, True, False]])
    allowed = ~segments.cross_segment_mask(segments.segment_index(single), keep)[0, 0]
    assert allowed[:3].tolist() == [[True, True, True, False]] * 3


ALL_ON = dict(
    within_modality_attention=True,
    fusion_layers=2,
    fusion_heads=4,
    modality_type_embedding=True,
    segment_positions=True,
)


def _sha(t):
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()


def test_defaults_match_the_encoder_before_issue_16():
    """Golden from main 85d03dc (tests/fixtures/make_encoder_golden.py): same params, same outputs."""
    gold = torch.load(os.path.join(FIXTURES, "encoder_default_golden.pt"))
    v = H.vocabs()
    model = H.model(H.opts(), seed=3)
    sd = model.state_dict()
    assert list(sd) == list(gold["state_dict"])
    for k, t in sd.items():
        assert (tuple(t.shape), _sha(t)) == gold["state_dict"][k], k
    b = H.batch(v, H.SRC, H.TGT)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.encoder(b["src"], b["srclen"])[0], gold["eval_out"], rtol=0, atol=1e-6)
    model.train()
    torch.manual_seed(5)
    torch.testing.assert_close(model.encoder(b["src"], b["srclen"])[0].detach(), gold["train_out"], rtol=0, atol=1e-6)
    aux = model.encoder.aux_losses()
    assert set(aux) == set(gold["aux"])
    for k in aux:
        torch.testing.assert_close(aux[k].detach(), gold["aux"][k], rtol=0, atol=1e-6)


@pytest.mark.parametrize("option", list(ALL_ON))
def test_each_option_changes_the_encoder_output(option):
    v = H.vocabs()
    b = H.batch(v, H.SRC, H.TGT)
    kw = {option: ALL_ON[option]}
    if option == "fusion_heads":
        kw["fusion_layers"] = 1
    base = H.model(H.opts(**({"fusion_layers": 1} if option == "fusion_heads" else {})), seed=3).eval()
    other = H.model(H.opts(**kw), seed=3).eval()
    if option != "fusion_heads":  # same weights where both have them; only the option differs
        other.encoder.load_state_dict(base.encoder.state_dict(), strict=False)
    with torch.no_grad():
        a = base.encoder(b["src"], b["srclen"])[0]
        o = other.encoder(b["src"], b["srclen"])[0]
    assert not torch.allclose(a, o, atol=1e-4)


def test_within_modality_layers_never_see_other_segments():
    """Changing one segment's tokens leaves the other segments' states unchanged (no fusion layer)."""
    v = H.vocabs()
    model = H.model(
        H.opts(within_modality_attention=True, segment_positions=True, moe_modality_routing="none"), seed=4
    ).eval()
    a = H.batch(v, ["<FORMULA> C 9 H 5 </FORMULA> <IR> IR 5 9 5 5 </IR>"], ["C"])
    b = H.batch(v, ["<FORMULA> C 5 H 9 </FORMULA> <IR> IR 5 9 5 5 </IR>"], ["C"])
    with torch.no_grad():
        oa = model.encoder(a["src"], a["srclen"])[0]
        ob = model.encoder(b["src"], b["srclen"])[0]
    torch.testing.assert_close(oa[0, 6:], ob[0, 6:], rtol=0, atol=1e-6)  # the IR segment
    assert not torch.allclose(oa[0, :6], ob[0, :6], atol=1e-4)
    # with fusion layers the IR states do depend on the FORMULA segment
    fused = H.model(H.opts(within_modality_attention=True, fusion_layers=1, moe_modality_routing="none"), seed=4).eval()
    with torch.no_grad():
        fa = fused.encoder(a["src"], a["srclen"])[0]
        fb = fused.encoder(b["src"], b["srclen"])[0]
    assert not torch.allclose(fa[0, 6:], fb[0, 6:], atol=1e-4)


def test_gradients_reach_every_new_parameter():
    v = H.vocabs()
    model = H.model(H.opts(**ALL_ON)).train()
    b = H.batch(v, H.SRC, H.TGT)
    out = model.encoder(b["src"], b["srclen"])[0]
    real = torch.arange(b["src"].size(1))[None, :] < b["srclen"][:, None]
    out[real].pow(2).sum().backward()
    enc = model.encoder
    assert len(enc.fusion) == 2 and enc.fusion[0].self_attn.head_count == 4
    new = {n: p for n, p in enc.named_parameters() if n.startswith(("fusion.", "modality_embedding."))}
    assert new and any(n.startswith("modality_embedding") for n in new)
    for n, p in new.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
        if "bias" not in n or "fusion" in n:
            assert float(p.grad.abs().sum()) > 0, n


def test_bad_segment_options_are_refused_with_a_clear_message():
    opt = H.opts(segment_positions=True)
    opt.position_encoding = False
    opt.max_relative_positions = -1  # rotary
    assert any(p.startswith("segment_positions: ") for p in EncoderConfig.from_opt(opt).problems())
    opt = H.opts(fusion_layers=1, fusion_heads=3)  # 3 does not divide 16
    with pytest.raises(ValueError, match="fusion_heads: 3 does not divide the hidden size 16"):
        H.model(opt)


def test_options_survive_checkpoint_and_stock_onmt_translate(tmp_path):
    import subprocess
    import sys

    import yaml

    from tests.conftest import ROOT

    bin_dir = os.path.dirname(sys.executable)
    data = os.path.join(FIXTURES, "tiny_corpus", "data")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "tiny_moe.yaml")))
    cfg.pop("run")
    cfg.update(ALL_ON)
    cfg.update(
        {
            "data": {"corpus_1": {"path_src": f"{data}/src-train.txt", "path_tgt": f"{data}/tgt-train.txt"}},
            "save_data": str(tmp_path / "vocab"),
            "src_vocab": str(tmp_path / "vocab.src"),
            "tgt_vocab": str(tmp_path / "vocab.tgt"),
            "save_model": str(tmp_path / "model"),
            "train_steps": 4,
            "save_checkpoint_steps": 4,
            "valid_steps": 100,
            "moe_grad_norm_every": 0,
            "fusion_heads": 2,
        }
    )
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    for exe, args in (("onmt_build_vocab", ["-n_sample", "-1"]), ("onmt_train", [])):
        r = subprocess.run(
            [os.path.join(bin_dir, exe), "-config", str(tmp_path / "train.yaml"), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-3000:]
    ck = torch.load(tmp_path / "model_step_4.pt", weights_only=False)
    for k, val in ALL_ON.items():
        assert getattr(ck["opt"], k) == (2 if k == "fusion_heads" else val), k
    assert any(k.startswith("encoder.fusion.1.") for k in ck["model"])
    assert "encoder.modality_embedding.weight" in ck["model"]
    out = tmp_path / "pred.txt"
    r = subprocess.run(
        [
            os.path.join(bin_dir, "onmt_translate"),
            "-model",
            str(tmp_path / "model_step_4.pt"),
            "-src",
            f"{data}/src-test.txt",
            "-output",
            str(out),
            "-beam_size",
            "2",
            "-n_best",
            "1",
            "-min_length",
            "1",
            "-max_length",
            "20",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(out.read_text().splitlines()) == len(open(f"{data}/src-test.txt").read().splitlines())


def test_within_modality_attention_keeps_the_task_token_visible_to_every_segment():
    """A token outside any segment (a multi-task source's task token) is a key for every token, so each
    modality knows the task; the segments still do not see each other."""
    from onmt_moe.modality import segments

    modality = torch.tensor([[0, 1, 1, 2, 2, 0]])  # task token, A A, B B, pad
    keep = torch.tensor([[True, True, True, True, True, False]])
    seg = segments.segment_index(modality)
    blocked = segments.within_segment_mask(seg, keep, global_keys=(modality == 0) & keep)[0, 0]
    allowed = ~blocked
    assert allowed[1:5, 0].all()  # every real token sees the task token
    assert not allowed[1, 3] and not allowed[3, 1] and allowed[1, 2] and allowed[3, 4]
    assert not allowed[:5, 5].any()  # never the pad
    assert allowed[0, 0] and not allowed[0, 1:].any()  # the task token's own row: its segment only
    plain = ~segments.within_segment_mask(seg, keep)[0, 0]
    assert not plain[1, 0]  # without global keys the task token is a segment of its own
    # in the encoder: the token before the segments reaches the segment's states
    v = H.vocabs()
    model = H.model(
        H.opts(within_modality_attention=True, segment_positions=True, moe_modality_routing="none"), seed=4
    ).eval()
    a, b = H.batch(v, ["C <IR> IR 5 9 </IR>"], ["C"]), H.batch(v, ["H <IR> IR 5 9 </IR>"], ["C"])
    with torch.no_grad():
        oa, ob = model.encoder(a["src"], a["srclen"])[0], model.encoder(b["src"], b["srclen"])[0]
    assert not torch.allclose(oa[0, 1:], ob[0, 1:], atol=1e-4)
