"""Structure-aware loss (glycan track): per-class token weights on top of label smoothing;
the reported statistics stay unweighted."""

import torch
from onmt.inputters.inputter import dict_to_vocabs
from onmt.model_builder import build_base_model

import onmt_moe  # noqa: F401
from onmt_moe.plugin.loss import MoELossCompute, parse_weights
from tests import helpers_onmt as H

RES = ["[a1122h-1a_1-5]", "[a2122h-1b_1-5_2*NCC/3=O]", "a4", "b1", "-", "_", "/", "WURCS=2.0"]


def _setup(weights):
    v = dict_to_vocabs(
        {
            "src": ["<unk>", "<blank>", "<s>", "</s>"] + H.SRC_TOKENS,
            "tgt": ["<unk>", "<blank>", "<s>", "</s>"] + RES,
            "data_task": "seq2seq",
            "decoder_start_token": "<s>",
        }
    )
    opt = H.opts(encoder_type="transformer", struct_loss_weights=weights, label_smoothing=0.1)
    torch.manual_seed(0)
    model = build_base_model(opt, v)
    for p in model.parameters():
        torch.nn.init.uniform_(p, -0.3, 0.3)
    lc = MoELossCompute.from_opts(opt, model, v["tgt"])
    b = H.batch(v, H.SRC[:2], ["WURCS=2.0 / [a1122h-1a_1-5] - a4 _ b1", "[a2122h-1b_1-5_2*NCC/3=O] a4 - b1"])
    out, attns = model(b["src"], b["tgt"], b["srclen"])
    return v, model, lc, b, out, attns


def test_weighted_loss_matches_hand_computation_and_stats_stay_unweighted():
    spec = "monosaccharide=2,linkage=1.5,modification=3"
    v, model, lc, b, out, attns = _setup(spec)
    loss, stats = lc(b, out, attns)
    target = b["tgt"][:, 1:, 0].reshape(-1)
    scores = model.generator(out.reshape(-1, out.size(-1)))
    ce = torch.nn.functional.cross_entropy(
        scores, target, ignore_index=v["tgt"]["<blank>"], reduction="none", label_smoothing=0.1
    )
    w = {"monosaccharide": 2.0, "linkage": 1.5, "modification": 3.0}
    cls = {
        "[a1122h-1a_1-5]": "monosaccharide",
        "[a2122h-1b_1-5_2*NCC/3=O]": "modification",
        "a4": "linkage",
        "b1": "linkage",
        "-": "linkage",
        "_": "linkage",
    }
    itos = v["tgt"].ids_to_tokens
    weight = torch.tensor([w.get(cls.get(itos[t], ""), 1.0) for t in target.tolist()])
    torch.testing.assert_close(loss, (ce * weight).sum(), rtol=1e-5, atol=1e-5)
    assert abs(stats.loss - float(ce.sum())) < 1e-3  # ppl/xent from the unweighted CE
    assert float((ce * weight).sum()) > float(ce.sum()) + 1.0  # the weights do change the loss


def test_no_weights_is_the_stock_loss():
    v, model, lc, b, out, attns = _setup("")
    loss, stats = lc(b, out, attns)
    assert lc.token_weights is None
    assert abs(float(loss) - stats.loss) < 1e-4


def test_parse_weights():
    assert parse_weights("monosaccharide=2, linkage=1.5") == {"monosaccharide": 2.0, "linkage": 1.5}
    assert parse_weights("") == {}
    try:
        parse_weights("monosaccharide")
    except ValueError as exc:
        assert "class=weight" in str(exc)
    else:
        raise AssertionError("expected ValueError")
