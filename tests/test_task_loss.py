"""Issue 16: per-task loss weights and per-task statistics (task token = first source token), and the
contrastive alignment over several modality pairs with the triplet margin and same-key hard negatives."""

import pytest
import torch
from onmt.inputters.inputter import dict_to_vocabs
from onmt.model_builder import build_base_model

import onmt_moe  # noqa: F401
from onmt_moe.plugin import contrastive
from onmt_moe.plugin.loss import MoELossCompute
from onmt_moe.plugin.task_metrics import METERS
from tests import helpers_onmt as H

SPECIALS = ["<unk>", "<blank>", "<s>", "</s>"]
TOKENS = ["<TASK_STRUCT>", "<TASK_SPEC>", "<MS>", "</MS>", "<WURCS>", "</WURCS>", "a", "b", "c", "d"]
SRC = ["<TASK_STRUCT> <MS> a b </MS>", "<TASK_SPEC> <WURCS> c d </WURCS>", "<TASK_STRUCT> <MS> b b a </MS>"]
TGT = ["c d c", "a b", "d d"]


def _setup(weights="", share=True, train=True):
    itos = SPECIALS + TOKENS
    v = dict_to_vocabs({"src": itos, "tgt": itos, "data_task": "seq2seq", "decoder_start_token": "<s>"})
    opt = H.opts(encoder_type="transformer", label_smoothing=0.1, share_vocab=share, moe_task_loss_weights=weights)
    torch.manual_seed(0)
    model = build_base_model(opt, v)
    for p in model.parameters():
        torch.nn.init.uniform_(p, -0.3, 0.3)
    lc = MoELossCompute.from_opts(opt, model, v["tgt"], train=train)
    b = H.batch(v, SRC, TGT)
    out, attns = model(b["src"], b["tgt"], b["srclen"])
    return v, model, lc, b, out


def _per_token_ce(v, model, b, out):
    target = b["tgt"][:, 1:, 0]
    scores = model.generator(out.reshape(-1, out.size(-1)))
    ce = torch.nn.functional.cross_entropy(
        scores, target.reshape(-1), ignore_index=v["tgt"]["<blank>"], reduction="none", label_smoothing=0.1
    ).view_as(target)
    return ce, scores.argmax(-1).view_as(target), target


def test_task_weights_scale_each_example_and_stats_stay_unweighted():
    v, model, lc, b, out = _setup("TASK_STRUCT=2.0,<TASK_SPEC>=0")
    loss, stats = lc(b, out, {})
    ce, _, _ = _per_token_ce(v, model, b, out)
    want = 2.0 * ce[0].sum() + 0.0 * ce[1].sum() + 2.0 * ce[2].sum()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    assert abs(stats.loss - float(ce.sum())) < 1e-3
    lc_plain = _setup("")[2]  # same seed: the same model
    loss_plain, _ = lc_plain(b, out, {})
    torch.testing.assert_close(loss_plain, ce.sum(), rtol=1e-5, atol=1e-5)  # no weights = unweighted CE


def test_task_meter_rows_match_a_hand_count():
    v, model, lc, b, out = _setup(train=False)
    lc(b, out, {})
    rows = {r["task"]: r for r in METERS["valid"].snapshot()}
    ce, pred, target = _per_token_ce(v, model, b, out)
    real = target.ne(v["tgt"]["<blank>"])
    for task, idx in (("STRUCT", [0, 2]), ("SPEC", [1])):
        n = int(real[idx].sum())
        assert rows[task]["tokens"] == n
        assert rows[task]["xent"] == pytest.approx(float(ce[idx][real[idx]].sum()) / n, rel=1e-5)
        ok = int((pred[idx].eq(target[idx]) & real[idx]).sum())
        assert rows[task]["accuracy"] == pytest.approx(100.0 * ok / n)
    assert METERS["valid"].snapshot() == []  # reset after a snapshot


def test_bad_task_weights_are_clear_errors():
    with pytest.raises(ValueError, match="TASK_BOGUS.*not a task token"):
        _setup("TASK_BOGUS=1")
    with pytest.raises(ValueError, match="task=weight"):
        _setup("TASK_STRUCT")
    with pytest.raises(ValueError, match="'TASK_STRUCT=x': the weight is not a number"):
        _setup("TASK_STRUCT=x")
    with pytest.raises(ValueError, match=">= 0"):
        _setup("TASK_STRUCT=-1")
    with pytest.raises(ValueError, match="shared vocabulary"):
        _setup("TASK_STRUCT=1", share=False)


def _states(n=6, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    enc = torch.randn(n, 5, d, generator=g)
    modality = torch.tensor([[0, 1, 1, 2, 2]] * n)  # OTHER, A, A, B, B
    src = torch.tensor([[9, 20, 30 + (i % 2), 40, 41] for i in range(n)])  # key of A = 30 or 31
    return enc, modality, src


def test_alignment_loss_is_the_mean_over_pairs_of_infonce():
    enc, modality, src = _states()
    modality = torch.cat([modality, torch.full((6, 2), 3)], 1)  # a third modality C
    enc = torch.cat([enc, torch.randn(6, 2, 8)], 1)
    src = torch.cat([src, torch.full((6, 2), 50)], 1)

    def one(a, b):
        za = torch.nn.functional.normalize(contrastive.pool(enc, modality, a)[0], dim=-1)
        zb = torch.nn.functional.normalize(contrastive.pool(enc, modality, b)[0], dim=-1)
        return contrastive.info_nce(za, zb, 0.07)

    got = contrastive.alignment_loss(enc, modality, src, [(1, 2), (3, 2)], 0.07)
    torch.testing.assert_close(got, 0.5 * (one(1, 2) + one(3, 2)))


def test_triplet_uses_the_hardest_same_key_negative():
    enc, modality, src = _states()
    za = torch.nn.functional.normalize(contrastive.pool(enc, modality, 1)[0], dim=-1)
    zb = torch.nn.functional.normalize(contrastive.pool(enc, modality, 2)[0], dim=-1)
    key = contrastive.segment_keys(src, modality, 1)
    assert key.tolist() == [30, 31, 30, 31, 30, 31]
    sim = za @ zb.t()
    want = []
    for s in (sim, sim.t()):
        per = []
        for i in range(6):
            negs = [j for j in range(6) if j != i and j % 2 == i % 2]
            per.append(torch.relu(0.2 - s[i, i] + max(s[i, j] for j in negs)))
        want.append(torch.stack(per).mean())
    torch.testing.assert_close(contrastive.triplet(za, zb, 0.2, key), 0.5 * (want[0] + want[1]))
    # without a key the hardest negative is any other example: never smaller
    assert float(contrastive.triplet(za, zb, 0.2)) >= float(contrastive.triplet(za, zb, 0.2, key)) - 1e-6
    plain = contrastive.alignment_loss(enc, modality, src, [(1, 2)], 0.07)
    with_margin = contrastive.alignment_loss(enc, modality, src, [(1, 2)], 0.07, margin=0.2, key_modality=1)
    torch.testing.assert_close(with_margin - plain, contrastive.triplet(za, zb, 0.2, key))


def test_pairs_option_and_errors():
    assert contrastive.parse_pairs("MS:WURCS, TEXT:WURCS") == [("MS", "WURCS"), ("TEXT", "WURCS")]
    with pytest.raises(ValueError, match="A:B"):
        contrastive.parse_pairs("MS-WURCS")
    opt = H.opts(
        moe_contrastive_coef=0.5,
        moe_contrastive_pairs="FORMULA:IR,NMR:IR",
        moe_contrastive_margin=0.2,
        moe_contrastive_hard_key="FORMULA",
    )
    model = H.model(opt).train()
    enc = model.encoder
    assert enc.alignment.ids == [
        (enc.modality_names.index("FORMULA"), enc.modality_names.index("IR")),
        (enc.modality_names.index("NMR"), enc.modality_names.index("IR")),
    ]
    b = H.batch(H.vocabs(), H.SRC, H.TGT)
    enc(b["src"], b["srclen"])
    assert float(enc.aux_losses()["contrastive"].detach()) > 0
    with pytest.raises(ValueError, match="hard_key"):
        H.model(H.opts(moe_contrastive_coef=0.5, moe_contrastive_pairs="FORMULA:IR", moe_contrastive_hard_key="MS"))
