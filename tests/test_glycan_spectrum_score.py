"""Scoring of predicted spectra (structure -> spectrum direction)."""

import json

import pytest

from onmt_moe.evaluation.files import ScoringError
from onmt_moe.evaluation.scoring import format_report, score_files
from onmt_moe.glycan.spectrum_score import compare, read_spectrum, score_spectrum_files

T = "PMZ_909 CHARGE_-1 MZ_179 INT_9 DIAG_Hex_C1 MZ_220 INT_3 MZ_382 INT_1 NLD_Hex"


def test_read_and_compare():
    prec, peaks = read_spectrum(T + "\t-0.5")
    assert prec == "PMZ_909 CHARGE_-1" and peaks == {179: 9, 220: 3, 382: 1}
    same = compare(peaks, peaks)
    assert same == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "cosine": 1.0})
    half = compare({179: 9, 500: 2}, peaks)
    assert half["precision"] == 0.5 and half["recall"] == pytest.approx(1 / 3)
    assert 0 < half["cosine"] < 1
    assert compare({}, peaks)["cosine"] == 0.0


def test_files_top1_and_best_of_n(tmp_path):
    (tmp_path / "tgt.txt").write_text(T + "\n" + "PMZ_500 CHARGE_-1 MZ_100 INT_2\n")
    (tmp_path / "pred.txt").write_text(
        "\n".join(
            [
                "PMZ_909 CHARGE_-1 MZ_179 INT_9 MZ_600 INT_1",
                T,  # row 1: best is candidate 2
                "PMZ_501 CHARGE_-1",
                "PMZ_500 CHARGE_-1 MZ_100 INT_2",  # row 2: first candidate empty
            ]
        )
        + "\n"
    )
    res = score_files(
        str(tmp_path / "pred.txt"),
        str(tmp_path / "tgt.txt"),
        2,
        kind="spectrum",
        out_json=str(tmp_path / "s.json"),
        ranks_csv=str(tmp_path / "r.csv"),
    )
    assert res["top1"]["precursor"] == 0.5 and res["best_of_n"]["cosine"] == pytest.approx(1.0)
    assert res["top1"]["precision"] == pytest.approx(0.25) and res["empty_rate"] == 0.25
    assert json.loads((tmp_path / "s.json").read_text())["kind"] == "spectrum"
    assert "best-of-2 cosine: 1.0000" in format_report(res)
    with pytest.raises(ScoringError, match="pred.txt"):
        score_spectrum_files(str(tmp_path / "pred.txt"), str(tmp_path / "tgt.txt"), 3)
