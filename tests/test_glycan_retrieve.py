"""Issue 16: cross-modal retrieval (onmt_moe/glycan/retrieve.py, onmt_moe/retrieval.py, benchmark/retrieve.py)."""

import numpy as np
import pytest
import torch

from onmt_moe.glycan import retrieve as R

W1 = "WURCS=2.0 / 2 , 2 , 1 / [a2122h-1x_1-5_2*NCC/3=O] [a1122h-1b_1-5] / 1 - 2 / a4 - b1"
W2 = "WURCS=2.0 / 2 , 2 , 1 / [a2122h-1x_1-5_2*NCC/3=O] [a1122h-1b_1-5] / 1 - 2 / a3 - b1"  # same composition
W3 = "WURCS=2.0 / 1 , 1 , 0 / [a1122h-1b_1-5] / 1 /"


def test_ranks_are_pessimistic_on_ties_and_metrics_count_them():
    scores = np.array([[0.9, 0.1, 0.2], [0.5, 0.5, 0.5], [0.3, 0.8, 0.1]])
    ranks = R.ranks_from_scores(scores, [0, 1, 2])
    assert ranks.tolist() == [1, 3, 3]  # a three-way tie ranks the right item last
    m = R.rank_metrics(ranks, ks=(1, 5))
    assert m["recall@1"] == pytest.approx(1 / 3) and m["recall@5"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3) and m["n"] == 3


def test_rows_segments_and_same_composition_candidates(tmp_path):
    src = [
        "<TASK_STRUCT> <MS> PMZ_1 MZ_2 </MS> <TEXT> n-linked </TEXT>",
        "<TASK_STRUCT> <MS> PMZ_3 </MS> <TEXT> <MISSING> </TEXT>",
        "<TASK_STRUCT> <MS> PMZ_4 </MS> <TEXT> <MISSING> </TEXT>",
    ]
    (tmp_path / "s.txt").write_text("\n".join(src) + "\n")
    (tmp_path / "t.txt").write_text("\n".join([W1, W3, W3.replace("1b", "1a")]) + "\n")
    rows = R.read_rows(str(tmp_path / "s.txt"), str(tmp_path / "t.txt"))
    assert rows[0].segments["MS"] == ["<MS>", "PMZ_1", "MZ_2", "</MS>"] and "TEXT" not in rows[1].segments
    assert rows[0].segments["WURCS"][0] == "<WURCS>" and rows[0].segments["WURCS"][-1] == "</WURCS>"
    assert R.single_segment_source(rows[0].segments["MS"], {"<TASK_ALIGN>"})[0] == "<TASK_ALIGN>"
    assert R.single_segment_source(rows[0].segments["MS"], set())[0] == "<MS>"
    assert R.composition_key(W1.split()) == R.composition_key(W2.split()) != R.composition_key(W3.split())
    sets = R.candidate_sets(rows, [W2.split(), W1.split()], max_candidates=10)
    assert [len(c) for _, c in sets["all"]] == [3, 3, 3] and all(c[0] == rows[i].wurcs for i, c in sets["all"])
    # only W1 has a known same-composition alternative (W2); W1 itself is not repeated
    assert sets["same_composition"] == [(0, [W1.split(), W2.split()])]
    (tmp_path / "t.txt").write_text(W1 + "\n")
    with pytest.raises(ValueError, match="3 lines but"):
        R.read_rows(str(tmp_path / "s.txt"), str(tmp_path / "t.txt"))


def test_log_likelihood_is_the_teacher_forced_sum_and_ignores_padding():
    from onmt_moe.runs.retrieval import embed, log_likelihood
    from tests import helpers_onmt as H

    model = H.model(H.opts()).eval()
    v = H.vocabs()
    src = H.SRC[0].split()
    short, long_ = ["C", "O"], ["c", "1", "c", "c", "c", "c", "1"]
    both = log_likelihood(model, v, src, [short, long_])
    alone = log_likelihood(model, v, src, [short])
    assert both[0] == pytest.approx(alone[0], abs=1e-5)  # padding of the batch does not change a score
    b = H.batch(v, [H.SRC[0]], ["C O"])
    with torch.no_grad():
        out, _ = model(b["src"], b["tgt"], b["srclen"])
        logp = torch.log_softmax(model.generator(out[0]), -1)
    gold = b["tgt"][0, 1:, 0]
    assert alone[0] == pytest.approx(float(logp[torch.arange(len(gold)), gold].sum()), abs=1e-5)
    assert alone[0] < 0
    # a forced prefix (the task's target token) is fed but not counted: ll(C O) = log p(C) + ll(O | C)
    first = float(logp[0, gold[0]])
    assert log_likelihood(model, v, src, [["O"]], prefix="C")[0] == pytest.approx(alone[0] - first, abs=1e-5)
    # embeddings: the mean over the tokens of the named modality only
    e = embed(model, v, [H.SRC[0].split()], "IR")
    b = H.batch(v, [H.SRC[0]], ["C"])
    with torch.no_grad():
        states, _, _ = model.encoder(b["src"], b["srclen"])
    toks = H.SRC[0].split()
    ir = [i for i in range(toks.index("<IR>"), toks.index("</IR>") + 1)]
    np.testing.assert_allclose(e[0], states[0, ir].mean(0).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no modality 'WURCS'"):
        embed(model, v, [H.SRC[0].split()], "WURCS")


def test_aligned_states_come_before_fusion_so_a_segment_alone_embeds_as_in_context():
    """With within-modality attention and per-segment positions the contrastive/retrieval states of a segment do not see the other
    segments even when fusion layers follow; the final states (after fusion) do."""
    from onmt_moe.runs.retrieval import embed
    from tests import helpers_onmt as H

    model = H.model(
        H.opts(within_modality_attention=True, segment_positions=True, fusion_layers=1, moe_modality_routing="none")
    ).eval()
    v = H.vocabs()
    full = H.SRC[0].split()
    alone = full[full.index("<IR>") :]
    e_full, e_alone = embed(model, v, [full], "IR"), embed(model, v, [alone], "IR")
    np.testing.assert_allclose(e_full, e_alone, rtol=1e-4, atol=1e-5)
    b_full, b_alone = H.batch(v, [" ".join(full)], ["C"]), H.batch(v, [" ".join(alone)], ["C"])
    with torch.no_grad():
        final_full = model.encoder(b_full["src"], b_full["srclen"])[0][0, -len(alone) :].mean(0)
        final_alone = model.encoder(b_alone["src"], b_alone["srclen"])[0][0].mean(0)
    assert float((final_full - final_alone).abs().max()) > 1e-4  # fusion mixes the modalities
