"""Re-ranking of n-best candidates (onmt_moe/predict/rank.py) and the --batch folder layout."""

import os

import pytest

from onmt_moe.predict import InputError, rank
from onmt_moe.predict.cli import batch_rows

TOK = lambda s: " ".join(s)  # noqa: E731  (any spacing: the ranker removes spaces)


def test_smiles_valid_formula_consistent_first_duplicates_unranked():
    nbest = [
        (TOK("C1=CC=CC=C1"), -0.1),  # benzene C6H6: valid, wrong formula
        (TOK("CC(=O)c1ccccc1"), -0.2),  # acetophenone C8H8O: consistent
        (TOK("C(C"), -0.3),  # invalid
        (TOK("O=C(C)c1ccccc1"), -0.4),  # acetophenone again, other spelling
        (TOK("Cc1ccc(C=O)cc1"), -0.5),
    ]  # p-tolualdehyde C8H8O: consistent
    rows = rank.rank_smiles("s", nbest, "C8H8O")
    ranked = [(r["rank"], r["beam_rank"]) for r in rows]
    assert ranked == [(1, 2), (2, 5), (3, 1), (4, 3), ("", 4)]
    by_beam = {r["beam_rank"]: r for r in rows}
    assert by_beam[4]["duplicate_of"] == 2 and by_beam[4]["smiles"] == "CC(=O)c1ccccc1"
    assert by_beam[1]["formula"] == "C6H6" and by_beam[1]["formula_match"] is False
    assert by_beam[3]["valid"] is False and by_beam[3]["formula_match"] is None
    assert by_beam[2]["log_prob"] == -0.2


def test_smiles_without_formula_only_validity_reorders():
    rows = rank.rank_smiles("s", [(TOK("C(C"), -0.1), (TOK("CCO"), -0.2), (TOK("CC"), -0.3)], None)
    assert [(r["rank"], r["beam_rank"]) for r in rows] == [(1, 2), (2, 3), (3, 1)]
    assert all(r["formula_match"] is None for r in rows)


GLC3 = "WURCS=2.0/1,3,2/[a2122h-1b_1-5]/1-1-1/a3-b1_b6-c1"
GLC3_SAME = "WURCS=2.0/1,3,2/[a2122h-1b_1-5]/1-1-1/b6-c1_a3-b1"  # LIN listed in another order
GLC3_OTHER = "WURCS=2.0/1,3,2/[a2122h-1b_1-5]/1-1-1/a6-b1_b3-c1"
GLC2 = "WURCS=2.0/1,2,1/[a2122h-1b_1-5]/1-1/a4-b1"


def test_wurcs_graph_identity_dedup_and_precursor_mass_first():
    pytest.importorskip("glypy")
    from onmt_moe.glycan.evaluate import parse_wurcs
    from onmt_moe.glycan.wurcs_tokenizer import tokenize
    from onmt_moe.masses import PROTON

    m3 = parse_wurcs(GLC3).mass()
    prec = m3 - PROTON  # [M-H]- of the trisaccharide
    nbest = [
        (" ".join(tokenize(GLC2)), -0.1),
        (" ".join(tokenize(GLC3)), -0.2),
        ("WURCS=2.0/ broken", -0.3),
        (" ".join(tokenize(GLC3_SAME)), -0.4),
        (" ".join(tokenize(GLC3_OTHER)), -0.5),
    ]
    rows = rank.rank_wurcs("g", nbest, prec, 1, 1.0)
    by_beam = {r["beam_rank"]: r for r in rows}
    assert by_beam[4]["duplicate_of"] == 2 and by_beam[5]["duplicate_of"] == ""
    assert by_beam[2]["mass_match"] is True and by_beam[1]["mass_match"] is False
    assert by_beam[5]["mass_match"] is True  # same composition, other linkages: same mass
    assert [(r["rank"], r["beam_rank"]) for r in rows] == [(1, 2), (2, 5), (3, 1), (4, 3), ("", 4)]
    assert by_beam[3]["valid"] is False


def test_batch_folder_layout(tmp_path):
    a = tmp_path / "s1"
    a.mkdir()
    (a / "formula.txt").write_text("C8H8O\n")
    (a / "c_nmr.txt").write_text("198.1\n26.6\n")
    (tmp_path / "s2").mkdir()
    rows = dict(batch_rows(str(tmp_path)))
    assert rows["s1"] == {"formula": "C8H8O", "c_nmr": os.path.join(str(a), "c_nmr.txt")}
    assert rows["s2"] == {}
    (a / "notes.md").write_text("not an input")  # never ignored silently (tests/test_predict_trust.py)
    with pytest.raises(InputError, match="notes.md: unrecognised file name"):
        batch_rows(str(tmp_path))
    os.remove(a / "notes.md")
    with pytest.raises(InputError, match="no sample subfolders"):
        batch_rows(str(a))
    bad = tmp_path / "b.csv"
    bad.write_text("sample,smiles\nx,CCO\n")
    with pytest.raises(InputError, match="unknown column"):
        batch_rows(str(bad))


def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path, capsys):
    from onmt_moe.predict.cli import main

    junk = tmp_path / "model_step_1.pt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["--model", str(junk), "--formula", "C8H8O"]) == 2
    assert main(["--model", str(tmp_path / "nothing.pt"), "--formula", "C8H8O"]) == 2
    (tmp_path / "empty_run").mkdir()
    assert main(["--model", str(tmp_path / "empty_run"), "--formula", "C8H8O"]) == 2  # no checkpoints
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert "model_step_1.pt: not a readable OpenNMT checkpoint" in err[0]
    assert "nothing.pt: no such checkpoint" in err[1] and "no model_step_*.pt checkpoint" in err[2]


def test_smiles_precursor_consistency_when_no_formula_is_given():
    dicrotophos = "COP(=O)(OC(=CC(=O)N(C)C)C)OC"  # C8H16NO5P, [M+H]+ 238.0839 (MGF precursor 238.0844)
    nbest = [(TOK("c1ccccc1"), -0.1), (TOK(dicrotophos), -0.2)]
    rows = rank.rank_smiles("s", nbest, None, precursor=(238.0844, "positive"))
    assert [(r["rank"], r["beam_rank"], r["precursor_match"]) for r in rows] == [(1, 2, True), (2, 1, False)]
    assert rank.precursor_consistent("C8H16NO5P", (236.0693, "negative"), 0.02) is True  # [M-H]-
    assert rank.precursor_consistent("C8H16NO5P", (238.0844, "negative"), 0.02) is False
    # with a formula, the formula decides the order; the precursor is still reported
    rows = rank.rank_smiles("s", nbest, "C6H6", precursor=(238.0844, "positive"))
    assert [(r["rank"], r["beam_rank"]) for r in rows] == [(1, 1), (2, 2)] and rows[1]["precursor_match"] is True
