"""One scorer registry for every kind; the glycan track registers its scorers; one reader/line check."""

import pytest

from onmt_moe.evaluation import registry
from onmt_moe.evaluation.files import ScoringError, read_targets_and_nbest


def test_every_kind_is_registered_and_glycan_registers_its_own():
    assert registry.kinds() == ["smiles", "spectrum", "text", "wurcs"]
    assert registry.get("wurcs").score.__module__ == "onmt_moe.glycan.scorers"
    assert registry.get("spectrum", "glycan_tokens").score.__module__ == "onmt_moe.glycan.scorers"
    assert registry.get("spectrum", "benchmark_sections").score.__module__ == "onmt_moe.evaluation.spectrum_scoring"
    with pytest.raises(ScoringError, match="unknown kind 'protein'; choose smiles, spectrum, text, wurcs"):
        registry.get("protein")


@pytest.mark.parametrize(
    "kind,tgt",
    [
        ("smiles", "C C O"),
        ("wurcs", "WURCS=2.0/1,1,0/[a2122h-1b_1-5]/1/"),
        ("text", "an n-linked glycan"),
        ("spectrum", "PMZ_10 MZ_3 INT_2"),
        ("spectrum", "1HNMR 1.0 0.9 t 3H"),
    ],
)
def test_every_scorer_refuses_a_short_prediction_file_with_the_same_one_line_error(tmp_path, kind, tgt):
    from onmt_moe.evaluation.scoring import score_files

    (tmp_path / "tgt.txt").write_text(tgt + "\n" + tgt + "\n")
    (tmp_path / "pred.txt").write_text(tgt + "\n")
    with pytest.raises(ScoringError) as e:
        score_files(str(tmp_path / "pred.txt"), str(tmp_path / "tgt.txt"), 1, kind=kind)
    assert "pred.txt: 1 lines, expected 2 (= 2 targets" in str(e.value) and "\n" not in str(e.value)


def test_reader_groups_the_nbest_lines_per_target(tmp_path):
    (tmp_path / "t").write_text("a\nb\n")
    (tmp_path / "p").write_text("a1\na2\nb1\nb2\n")
    assert read_targets_and_nbest(tmp_path / "p", tmp_path / "t", 2) == (["a", "b"], [["a1", "a2"], ["b1", "b2"]])
    with pytest.raises(ScoringError, match="no such file"):
        read_targets_and_nbest(tmp_path / "missing", tmp_path / "t", 2)
