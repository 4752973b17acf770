"""Forward-simulation re-ranking (onmt_moe.predict.forward_rank): deterministic, keeps the formula
groups, uses only weights chosen on validation samples, and puts the isomer whose simulated NMR
matches the query first."""

import pytest

from onmt_moe.predict import forward_rank as fr
from onmt_moe.predict.rank import rank_smiles

# methyl benzoate, literature values (typed as a chemist would)
METHYL_BENZOATE = fr.Query(
    c=(166.9, 132.9, 130.2, 129.6, 128.4, 52.1), h=((8.03, 2.0), (7.55, 1.0), (7.43, 2.0), (3.91, 3.0))
)
# isomers of C8H8O2 with higher beam scores than the right answer
NBEST = [
    ("C C ( = O ) O c 1 c c c c c 1", -0.1),
    ("O C c 1 c c c c c 1 C = O", -0.2),
    ("C O C ( = O ) c 1 c c c c c 1", -0.5),
]


def _rows(query=METHYL_BENZOATE, nbest=NBEST, formula="C8H8O2"):
    rows = rank_smiles("s", nbest, formula)
    fr.annotate(rows, query)
    return rows


def test_matching_simulation_wins_over_beam_order():
    rows = fr.rerank(_rows(), fr.Weights(c=4.0, h=4.0))
    assert rows[0]["smiles"] == "COC(=O)c1ccccc1"
    assert rows[0]["sim_c"] > 0.9


def test_zero_weights_keep_the_beam_order():
    rows = fr.rerank(_rows(), fr.Weights(0.0, 0.0))
    assert [r["beam_rank"] for r in rows] == [1, 2, 3]


def test_deterministic():
    a = fr.rerank(_rows(), fr.Weights(2.0, 1.0))
    b = fr.rerank(_rows(), fr.Weights(2.0, 1.0))
    assert a == b


def test_formula_group_stays_first():
    nbest = [("c 1 c c c c c 1", -0.01)] + NBEST  # benzene: valid, wrong formula, best beam score
    rows = fr.rerank(_rows(nbest=nbest), fr.Weights(16.0, 16.0))
    assert rows[-1]["smiles"] == "c1ccccc1" and rows[-1]["formula_match"] is False


def test_fit_weights_uses_the_validation_samples_it_is_given():
    val = [(_rows(), "COC(=O)c1ccccc1")]
    w, acc = fr.fit_weights(val, source="val.tsv")
    assert acc == 1.0 and (w.c > 0 or w.h > 0) and w.source == "val.tsv"
    # a validation set where the beam is right: the smallest weights (0, 0) win the tie
    right = [(_rows(nbest=[(NBEST[2][0], -0.05), NBEST[0]]), "COC(=O)c1ccccc1")]
    w0, acc0 = fr.fit_weights(right)
    assert acc0 == 1.0 and (w0.c, w0.h) == (0.0, 0.0)


def test_weights_file_round_trip_and_bad_file(tmp_path):
    p = tmp_path / fr.WEIGHTS_FILE
    fr.Weights(2.0, 0.5, "val").save(str(p))
    assert fr.Weights.load(str(p)) == fr.Weights(2.0, 0.5, "val")
    assert fr.weights_for(str(tmp_path / "model_step_1.pt")) == fr.Weights(2.0, 0.5, "val")
    p.write_text("{}")
    with pytest.raises(ValueError, match="forward-rank weights"):
        fr.Weights.load(str(p))


def test_query_from_a_tagged_source_line():
    line = "<FORMULA> C 8 H 8 O 2 </FORMULA> <NMR> 1HNMR 8.1 8.0 d 2H J 7.6 | 3.9 3.9 s 3H 13CNMR 167 133 52 </NMR>"
    q = fr.query_from_line(line)
    assert q.c == (167.0, 133.0, 52.0)
    assert q.h == ((pytest.approx(8.05), 2.0), (3.9, 3.0))


def test_invalid_and_unsimulable_candidates_score_nothing():
    rows = _rows(nbest=[("C ( (", -0.1)] + NBEST)
    bad = next(r for r in rows if not r["valid"])
    assert bad["sim_c"] == "" and bad["sim_h"] == ""


def test_predict_weights_option(tmp_path):
    """--rerank: 'formula' needs nothing, 'simulate' refuses without validation-fitted weights, 'auto'
    takes the run folder's forward_rank.json when there is one."""
    import argparse

    from onmt_moe.predict import InputError
    from onmt_moe.predict.cli import simulate_weights

    ckpt = str(tmp_path / "model_step_1.pt")
    ns = argparse.Namespace(rerank="formula", simulate_weights=None)
    assert simulate_weights(ns, ckpt) is None
    ns.rerank = "simulate"
    with pytest.raises(InputError, match="forward_rank.json"):
        simulate_weights(ns, ckpt)
    ns.rerank = "auto"
    assert simulate_weights(ns, ckpt) is None
    fr.Weights(1.0, 2.0, "val").save(str(tmp_path / fr.WEIGHTS_FILE))
    assert simulate_weights(ns, ckpt) == fr.Weights(1.0, 2.0, "val")
