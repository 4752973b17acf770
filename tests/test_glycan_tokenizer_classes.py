"""WURCS tokenizer (lossless) and token classes for the structure-aware loss."""

import os
import random
import re

import pytest  # noqa: E402

from onmt_moe.glycan.wurcs_tokenizer import WurcsTokenizeError, detokenize, tokenize  # noqa: E402
from onmt_moe.wurcs_classes import classify_token, token_weight_vector  # noqa: E402

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "glycan")
NGLYCAN = (
    "WURCS=2.0/7,11,10/[a2122h-1x_1-5_2*NCC/3=O][a1221m-1a_1-5][a2122h-1b_1-5_2*NCC/3=O]"
    "[a1122h-1b_1-5][a1122h-1a_1-5][a2112h-1b_1-5][Aad21122h-2a_2-6_5*NCC/3=O]"
    "/1-2-3-4-5-3-6-5-3-6-7/a4-c1_a6-b1_c4-d1_d3-h1_d6-e1_e2-f1_f4-g1_h2-i1_i4-j1_j3-k2"
)


def _sample():
    with open(os.path.join(FIX, "wurcs_sample.txt")) as fh:
        return [ln.strip() for ln in fh if ln.strip()]


def test_roundtrip_every_committed_structure():
    sample = _sample()
    assert len(sample) >= 100
    for w in sample:
        toks = tokenize(w)
        assert detokenize(toks) == w
        assert detokenize(" ".join(toks)) == w
        assert all(t and " " not in t for t in toks)


def test_token_inventory_on_nglycan():
    toks = tokenize(NGLYCAN)
    assert toks[:3] == ["WURCS=2.0", "/", "7"]
    codes = [t for t in toks if t.startswith("[")]
    assert codes == re.findall(r"\[[^\]]*\]", NGLYCAN)  # one token per whole ResidueCode
    assert toks.count("/") == 4
    lin = toks[toks.index("/", toks.index(codes[-1]) + 2) + 1 :]
    assert lin[:4] == ["a4", "-", "c1", "_"]
    assert "k2" in lin
    res = toks[toks.index(codes[-1]) + 2 : len(toks) - len(lin) - 1]
    assert res[:3] == ["1", "-", "2"] and "11" not in res and res.count("-") == 10


def test_uncertain_and_odd_lin_roundtrip():
    cases = [
        "WURCS=2.0/2,2,1/[a2122h-1x_1-5][a2112h-1b_1-5]/1-2/a?-b1",
        "WURCS=2.0/2,3,2+/[a2122h-1x_1-5][a2112h-1b_1-5]/1-2-2/a3|a4-b1_b?-c1",
        "WURCS=2.0/2,2,1/[a2122h-1x_1-5][a2122h-1b_1-5]/1-2/a4-b1*OPO*/3O/3=O",
        "WURCS=2.0/1,1,0/[a2122h-1x_1-5]/1/",
    ]
    for w in cases:
        assert detokenize(tokenize(w)) == w
    assert "a?" in tokenize(cases[0])
    assert "|" in tokenize(cases[1]) and "+" in tokenize(cases[1])


def test_random_lin_strings_roundtrip():
    rng = random.Random(0)
    alphabet = "abcdefgh0123456789?-_|~%{}*/=ONC."
    for _ in range(300):
        lin = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        w = "WURCS=2.0/2,2,1/[a2122h-1x_1-5][a1221m-1a_1-5]/1-2/" + lin
        assert detokenize(tokenize(w)) == w


@pytest.mark.parametrize("bad", ["", "WURCS=3.0/1,1,0/[a]/1/", "WURCS=2.0/1,1,0/[a2122h", "C1CCCCC1"])
def test_rejects_non_wurcs(bad):
    with pytest.raises(WurcsTokenizeError):
        tokenize(bad)


def test_classify_token():
    assert classify_token("[a2112h-1b_1-5]") == "monosaccharide"
    assert classify_token("[a2122h-1b_1-5_2*NCC/3=O]") == "modification"
    for t in ("a4", "c1", "b?", "-", "_", "|", "?"):
        assert classify_token(t) == "linkage", t
    for t in ("WURCS=2.0", "/", "7", ",", "<s>", "</s>", "<blank>", "<unk>"):
        assert classify_token(t) == "other", t


def test_token_weight_vector():
    itos = ["<unk>", "<blank>", "[a2112h-1b_1-5]", "[a2122h-1b_1-5_2*NCC/3=O]", "a4", "-", "/", "3"]
    v = token_weight_vector(itos, {"monosaccharide": 2.0, "linkage": 3.0, "modification": 4.0})
    assert v == [1.0, 1.0, 2.0, 4.0, 3.0, 3.0, 1.0, 1.0]  # plain floats: glycan/ never imports torch
    assert token_weight_vector(itos, {}) == [1.0] * len(itos)
    with pytest.raises(ValueError):
        token_weight_vector(itos, {"residue": 2.0})


def test_weight_vector_covers_sample_vocab():
    vocab = sorted({t for w in _sample() for t in tokenize(w)})
    v = token_weight_vector(vocab, {"monosaccharide": 2.0, "linkage": 2.0, "modification": 2.0})
    classes = [classify_token(t) for t in vocab]
    assert {"monosaccharide", "linkage", "modification", "other"} <= set(classes)
    assert all((x == 2.0) == (c != "other") for x, c in zip(v, classes))
