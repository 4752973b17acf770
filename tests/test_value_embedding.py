"""Value-aware embeddings of numeric source tokens (issue 32 item 1) and the predictor's nearest-number mapping."""

import os
import subprocess
import sys

import pytest
import torch

from onmt_moe.numbers import NearestNumbers, nearest_known, number_value, token_values
from onmt_moe.plugin.value_embedding import ValueArgs, ValueEmbedding, angular_frequencies, fourier_features
from tests import helpers_onmt as H
from tests.conftest import FIXTURES, ROOT

D = 16


# ---------------------------------------------------------------- what a number is
@pytest.mark.parametrize("tok,value", [("128", 128.0), ("7.26", 7.26), ("-0.5", -0.5), (".5", 0.5), ("0", 0.0)])
def test_plain_decimals_are_numbers(tok, value):
    assert number_value(tok) == value


@pytest.mark.parametrize("tok", ["2H", "nan", "inf", "1e3", "J", "<IR>", "13CNMR", "E0Pos", "1.2.3", ""])
def test_other_tokens_are_not_numbers(tok):
    assert number_value(tok) is None


def test_token_values_keep_vocabulary_order_with_nan_for_words():
    vals = token_values(["<unk>", "128", "J", "7.2"])
    assert vals[1] == 128.0 and vals[3] == 7.2
    assert vals[0] != vals[0] and vals[2] != vals[2]  # NaN


def test_unknown_numbers_map_to_the_nearest_known_and_words_stay():
    vocab = {"128", "130", "7.2", "7.3", "J", "<NMR>"}
    toks, changed = nearest_known(["<NMR>", "128.4", "129.6", "7.26", "J", "xx", "128"], vocab)
    assert toks == ["<NMR>", "128", "130", "7.3", "J", "xx", "128"]
    assert changed == [("128.4", "128"), ("129.6", "130"), ("7.26", "7.3")]


def test_a_tie_prefers_the_token_written_like_the_query():
    table = NearestNumbers({"7", "7.5", "8.0", "8"})
    assert table.nearest("7.75") in {"7.5", "8.0"}  # equidistant from 7.5 and 8/8.0: a one-decimal token
    assert table.nearest("8") == "8"
    assert NearestNumbers({"J"}).nearest("3") is None


# ---------------------------------------------------------------- the module
VOCAB = ["<unk>", "<blank>", "13CNMR", "J", "E0Pos", "|", *[str(v) for v in range(0, 201)], "128.5", "7.2"]


def _module(mode="replace", seed=0):
    torch.manual_seed(seed)
    m = ValueEmbedding(ValueArgs(mode=mode, frequencies=32, modalities=()), D)
    m.attach_vocab(VOCAB)
    lut = torch.nn.Embedding(len(VOCAB), D)
    return m, lut


def _embed(m, lut, tokens):
    ids = torch.tensor([[VOCAB.index(t) for t in tokens]])
    with torch.no_grad():
        return m(lut(ids), ids, lut)[0]


def test_the_features_are_a_kernel_that_falls_with_the_distance():
    freqs = angular_frequencies(32)
    base = torch.arange(20.0, 180.0, 1.0)

    def similarity(delta):
        a, b = fourier_features(base, freqs), fourier_features(base + delta, freqs)
        return torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()

    sims = [similarity(d) for d in (0.1, 1.0, 10.0, 90.0)]
    assert sims[0] > 0.95 and all(x > y for x, y in zip(sims, sims[1:]))


def test_neighbouring_values_are_neighbouring_vectors():
    m, lut = _module()
    dist = {1: [], 10: [], 90: []}
    for v in range(20, 100, 3):
        e = _embed(m, lut, ["13CNMR", str(v), str(v + 1), str(v + 10), str(v + 90)])
        for i, d in enumerate(dist, start=2):
            dist[d].append((e[1] - e[i]).norm())
    mean = {d: torch.stack(x).mean() for d, x in dist.items()}
    assert mean[1] < mean[10] < mean[90] and mean[1] < 0.8 * mean[90]


def test_a_value_between_two_others_lies_between_their_vectors():
    m, lut = _module()
    e = _embed(m, lut, ["13CNMR", "128", "128.5", "129"])
    assert (e[2] - e[1]).norm() < (e[3] - e[1]).norm() * 1.5
    assert (e[2] - (e[1] + e[3]) / 2).norm() < (e[1] - e[3]).norm()


def test_the_field_changes_the_vector_of_the_same_value():
    m, lut = _module()
    a = _embed(m, lut, ["13CNMR", "7"])[1]
    b = _embed(m, lut, ["J", "7"])[1]
    assert not torch.allclose(a, b, atol=1e-4)


def test_msms_mz_and_intensity_differ_by_parity():
    m, lut = _module()
    e = _embed(m, lut, ["E0Pos", "100", "100", "100"])
    assert not torch.allclose(e[1], e[2], atol=1e-4)
    assert torch.allclose(e[1], e[3], atol=1e-6)  # m/z, intensity, m/z: first and third alike


def test_replace_ignores_the_numbers_word_vectors_and_keeps_the_others():
    m, lut = _module("replace")
    tokens = ["13CNMR", "128", "J", "7"]
    before = _embed(m, lut, tokens)
    with torch.no_grad():
        lut.weight[VOCAB.index("128")] += 5.0  # a numeric token's word vector: not used
    after = _embed(m, lut, tokens)
    assert torch.allclose(before, after)
    ids = torch.tensor([[VOCAB.index(t) for t in tokens]])
    assert torch.equal(after[0], lut(ids)[0, 0].detach()) and torch.equal(after[2], lut(ids)[0, 2].detach())


def test_add_is_the_word_vector_plus_the_value_vector_and_words_are_untouched():
    m, lut = _module("add")
    tokens = ["13CNMR", "128", "|"]
    ids = torch.tensor([[VOCAB.index(t) for t in tokens]])
    out = _embed(m, lut, tokens)
    words = lut(ids)[0].detach()
    assert torch.equal(out[0], words[0]) and torch.equal(out[2], words[2])
    assert not torch.allclose(out[1], words[1])


def test_padding_never_gets_a_value():
    m, lut = _module()
    e = _embed(m, lut, ["13CNMR", "128", "<blank>", "<blank>"])
    ids = torch.tensor([[VOCAB.index("<blank>")]])
    assert torch.equal(e[2], lut(ids)[0, 0].detach())


def test_no_vocabulary_attached_is_an_error_not_a_silent_zero():
    m = ValueEmbedding(ValueArgs(mode="add", frequencies=4, modalities=()), D)
    with pytest.raises(RuntimeError, match="attach_vocab"):
        m(torch.zeros(1, 1, D), torch.zeros(1, 1, dtype=torch.long), torch.nn.Embedding(2, D))


# ---------------------------------------------------------------- in the encoder
def test_encoder_with_value_embedding_builds_runs_and_keeps_no_table_in_its_state():
    opt = H.opts(value_embedding="replace", value_frequencies=8)
    model = H.model(opt)
    enc = model.encoder
    assert enc.value_embedding is not None and enc.value_embedding.is_number.any()
    keys = [k for k in model.state_dict() if "value_embedding" in k]
    assert keys and all(k.endswith(("weight", "bias")) for k in keys)
    b = H.batch(H.vocabs(), H.SRC, H.TGT)
    out, _, _ = enc(b["src"], b["srclen"])
    assert out.shape[:2] == b["src"].shape[:2] and torch.isfinite(out).all()


def test_default_encoder_has_no_value_embedding_parameter():
    model = H.model(H.opts())
    assert model.encoder.value_embedding is None
    assert not [k for k in model.state_dict() if "value_embedding" in k]


def test_bad_value_options_are_refused_naming_the_option():
    with pytest.raises(ValueError, match="value_frequencies"):
        H.model(H.opts(value_embedding="add", value_frequencies=0))


def test_stock_train_and_translate_with_value_embedding_and_patches(tmp_path):
    """onmt_train / onmt_translate run a model with value embeddings (on the NMR numbers) and NMR patches
    unchanged; the checkpoint reloads."""
    data = os.path.join(FIXTURES, "tiny_corpus", "data")
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"""
save_data: {tmp_path}/s
src_vocab: {tmp_path}/v.src
tgt_vocab: {tmp_path}/v.tgt
data:
  corpus_1: {{path_src: {data}/src-train.txt, path_tgt: {data}/tgt-train.txt}}
  valid: {{path_src: {data}/src-val.txt, path_tgt: {data}/tgt-val.txt}}
encoder_type: moe_transformer
decoder_type: transformer
value_embedding: replace
value_frequencies: 8
value_modalities: [NMR]
patch_modalities: [NMR]
patch_size: 2
layers: 1
hidden_size: 16
word_vec_size: 16
transformer_ff: 32
heads: 2
position_encoding: true
moe_num_experts: 2
moe_top_k: 1
batch_size: 8
batch_type: sents
bucket_size: 64
train_steps: 3
valid_steps: 100
save_checkpoint_steps: 3
save_model: {tmp_path}/m
num_workers: 0
seed: 1
"""
    )
    for cmd in (
        ["onmt_build_vocab", "-config", str(cfg), "-n_sample", "-1"],
        ["onmt_train", "-config", str(cfg)],
    ):
        r = subprocess.run([os.path.join(bin_dir, cmd[0]), *cmd[1:]], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "pred.txt"
    r = subprocess.run(
        [
            os.path.join(bin_dir, "onmt_translate"),
            "-model",
            f"{tmp_path}/m_step_3.pt",
            "-src",
            f"{data}/src-val.txt",
            "-output",
            str(out),
            "-beam_size",
            "2",
            "-max_length",
            "20",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    n_src = sum(1 for _ in open(f"{data}/src-val.txt"))
    assert len(out.read_text().splitlines()) == n_src


def test_value_modalities_give_values_only_to_the_numbers_of_those_segments():
    """``value_modalities: [MS]``: a number inside <MS> gets its value vector, the same number in another
    segment keeps its word vector (replace mode, where the difference is total)."""
    torch.manual_seed(0)
    m = ValueEmbedding(ValueArgs(mode="replace", frequencies=8, modalities=("MS",)), D, modality_ids=(3,))
    m.attach_vocab(VOCAB)
    lut = torch.nn.Embedding(len(VOCAB), D)
    ids = torch.tensor([[VOCAB.index(t) for t in ("13CNMR", "128.5", "E0Pos", "128.5")]])
    modality = torch.tensor([[2, 2, 3, 3]])  # NMR, NMR, MS, MS
    with torch.no_grad():
        out = m(lut(ids), ids, lut, modality)[0]
        words = lut(ids)[0]
    assert torch.equal(out[1], words[1])  # NMR number: the word vector
    assert not torch.allclose(out[3], words[3])  # MS number: the value vector
    assert torch.equal(out[2], words[2])  # words stay words
    with pytest.raises(RuntimeError, match="value_modalities"):
        m(lut(ids), ids, lut)


def test_value_modalities_must_name_known_modalities():
    args = ValueArgs(mode="add", frequencies=8, modalities=("XRD",))
    assert any("value_modalities" in p and "XRD" in p for p in args.problems(("NMR", "MS")))
    assert ValueArgs(mode="add", frequencies=8, modalities=("MS",)).problems(("NMR", "MS")) == []
