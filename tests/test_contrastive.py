"""Optional cross-modal contrastive alignment (glycan track): InfoNCE between pooled segments."""

import pytest
import torch

from tests import helpers_onmt as H
from tests.test_aux_loss_scale import _hand_grads, _trainer_grads


def _manual_infonce(enc_out, src_tokens, a, b, tau):
    za, zb = [], []
    for i, line in enumerate(src_tokens):
        toks = line.split()
        segs = {}
        cur = None
        for j, t in enumerate(toks):
            if t.startswith("<") and not t.startswith("</"):
                cur = t[1:-1]
            if cur is not None:
                segs.setdefault(cur, []).append(j)
            if t.startswith("</"):
                cur = None
        if a in segs and b in segs:
            za.append(enc_out[i, segs[a]].mean(0))
            zb.append(enc_out[i, segs[b]].mean(0))
    za = torch.nn.functional.normalize(torch.stack(za), dim=-1)
    zb = torch.nn.functional.normalize(torch.stack(zb), dim=-1)
    logits = za @ zb.t() / tau
    t = torch.arange(len(za))
    return 0.5 * (torch.nn.functional.cross_entropy(logits, t) + torch.nn.functional.cross_entropy(logits.t(), t))


def test_infonce_matches_hand_computation_and_is_off_at_eval():
    v = H.vocabs()
    opt = H.opts(moe_contrastive_coef=0.5, moe_contrastive_pair=["FORMULA", "IR"], moe_contrastive_temperature=0.2)
    model = H.model(opt).train()
    b = H.batch(v, H.SRC, H.TGT)
    enc_out, _, _ = model.encoder(b["src"], b["srclen"])
    got = model.encoder.aux_losses()["contrastive"]
    want = _manual_infonce(enc_out.detach(), H.SRC, "FORMULA", "IR", 0.2)  # rows 0 and 2 have both segments
    torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)
    assert model.encoder.aux_coefficients(0)["contrastive"] == 0.5
    got.backward()
    assert model.encoder.embeddings.make_embedding.emb_luts[0].weight.grad.abs().sum() > 0
    model.eval()
    model.encoder(b["src"], b["srclen"])
    assert "contrastive" not in model.encoder.aux_losses()


def test_contrastive_enters_the_trainer_objective_once():
    opt = H.opts(moe_contrastive_coef=0.5, moe_contrastive_pair=["FORMULA", "IR"], moe_lb_coef="0.0", moe_z_coef="0.0")
    v = H.vocabs()
    batches = [H.batch(v, H.SRC, H.TGT)]
    g_trainer, _ = _trainer_grads(opt, H.model(opt), batches)
    g_hand, _ = _hand_grads(opt, H.model(opt), batches)
    for n in g_hand:
        torch.testing.assert_close(g_trainer[n], g_hand[n], rtol=1e-4, atol=1e-6, msg=n)
    off = H.opts(moe_contrastive_coef=0.0, moe_contrastive_pair=["FORMULA", "IR"], moe_lb_coef="0.0", moe_z_coef="0.0")
    g_off, _ = _trainer_grads(off, H.model(off), batches)
    assert max(float((g_off[n] - g_trainer[n]).abs().max()) for n in g_off) > 1e-6


def test_unknown_pair_is_a_clear_error():
    with pytest.raises(ValueError, match="moe_contrastive_pair"):
        H.model(H.opts(moe_contrastive_coef=0.1, moe_contrastive_pair=["MS", "TEXT"]))


def test_coefficient_schedule_turns_the_term_on_and_off_by_step():
    v = H.vocabs()
    b = H.batch(v, H.SRC, H.TGT)
    opt = H.opts(moe_contrastive_coef="linear:0:0.2:100:50", moe_contrastive_pair=["FORMULA", "IR"])
    model = H.model(opt).train()
    enc = model.encoder
    assert [enc.aux_coefficients(s)["contrastive"] for s in (0, 50, 100, 150, 400)] == pytest.approx(
        [0.0, 0.0, 0.1, 0.2, 0.2]
    )
    enc.set_step(10)  # coefficient 0 here: the term is not even computed
    enc(b["src"], b["srclen"])
    assert "contrastive" not in enc.aux_losses()
    enc.set_step(120)
    enc(b["src"], b["srclen"])
    assert float(enc.aux_losses()["contrastive"].detach()) > 0


def test_bad_coefficient_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="moe_contrastive_coef"):
        H.model(H.opts(moe_contrastive_coef="ramp:0:1", moe_contrastive_pair=["FORMULA", "IR"]))
    with pytest.raises(ValueError, match="negative"):
        H.model(H.opts(moe_contrastive_coef="-0.1", moe_contrastive_pair=["FORMULA", "IR"]))
