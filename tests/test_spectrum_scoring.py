"""Issue 12 item 7: structure -> spectrum scoring on the SMILES track (``generate_input --pred_spectra``).

``score.py --kind spectrum`` used to read these targets with the glycan token reader and report
cosine 0 / empty 1.0 without a warning."""

import json
import math
import os
import subprocess
import sys

import pytest

from onmt_moe.evaluation.scoring import ScoringError, format_report, score_files
from tests.conftest import FIXTURES, ROOT

PREDSPEC = os.path.join(FIXTURES, "benchmark_examples", "expected_ex1", "predspec", "data", "tgt-test.txt")


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_perfect_predictions_of_the_golden_predspec_targets(tmp_path):
    tgts = open(PREDSPEC).read().splitlines()
    worse = [line.replace(" IR ", " IR 50 ", 1) for line in tgts]  # a shifted IR vector as 2nd candidate
    pred = _write(tmp_path / "pred.txt", [c for t, w in zip(tgts, worse) for c in (t + "\t-0.1", w)])
    res = score_files(
        pred, PREDSPEC, 2, kind="spectrum", out_json=str(tmp_path / "s.json"), ranks_csv=str(tmp_path / "r.csv")
    )
    assert res["target_format"] == "benchmark_sections" and res["n"] == len(tgts)
    assert res["sections"] == {"13CNMR": len(tgts), "1HNMR": len(tgts), "IR": len(tgts)}
    assert res["top1"]["ir_cosine"] == pytest.approx(1.0) and res["top1"]["ir_mae"] == 0.0
    assert res["top1"]["hnmr_shift_mae"] == 0.0 and res["top1"]["cnmr_shift_mae"] == 0.0
    assert res["top1"]["hnmr_count_error"] == 0.0 and not res["missing"]
    assert json.load(open(tmp_path / "s.json"))["top1"]["ir_cosine"] == pytest.approx(1.0)
    assert "top-1 ir_cosine: 1.0000" in format_report(res)


def test_hand_computed_metrics_msms_ir_nmr(tmp_path):
    tgt = _write(
        tmp_path / "tgt.txt",
        [
            "1HNMR 7.30 7.20 m 2H | 1.10 1.00 t 3H J 7.0 13CNMR 10.0 20.0 IR 1 2 3 E0Pos 100.0 50.0 200.0 100.0",
            "<IR> IR 0 4 </IR> <MS> E1Neg 80.0 10.0 </MS>",  # tagged layout
        ],
    )
    pred = _write(
        tmp_path / "pred.txt",
        [
            "13CNMR 21.0 11.0 12.0 1HNMR 1.05 1.05 s 3H IR 1 2 4 E0Pos 100.05 50.0 300.0 10.0",
            "<IR> IR 3 0 </IR>",  # no MS section
        ],
    )
    res = score_files(pred, tgt, 1, kind="spectrum")
    ir1 = (1 + 4 + 12) / (math.sqrt(14) * math.sqrt(21))
    assert res["top1"]["ir_cosine"] == pytest.approx((ir1 + 0.0) / 2)
    assert res["top1"]["ir_mae"] == pytest.approx((1 / 3 + 3.5) / 2)
    # example 1: one of two peaks matched within 0.1; example 2: no predicted MS/MS at all
    assert res["top1"]["msms_precision"] == pytest.approx((0.5 + 0.0) / 2)
    assert res["top1"]["msms_recall"] == pytest.approx((0.5 + 0.0) / 2)
    cos1 = 2500 / (math.sqrt(50**2 + 100**2) * math.sqrt(50**2 + 10**2))
    assert res["top1"]["msms_cosine"] == pytest.approx(cos1 / 2)
    assert res["top1"]["cnmr_shift_mae"] == pytest.approx(1.0)  # 11->10, 21->20 (12 unmatched)
    assert res["top1"]["cnmr_count_error"] == 1.0
    assert res["top1"]["hnmr_shift_mae"] == pytest.approx(0.0)  # 1.05 -> the 1.10/1.00 multiplet
    assert res["missing"] == {"E1Neg": 1}


def test_unknown_targets_are_refused_not_scored_zero(tmp_path):
    smiles = _write(tmp_path / "smiles.txt", ["C C O", "c 1 c c c c c 1"])
    pred = _write(tmp_path / "p.txt", ["C C O", "C"])
    with pytest.raises(ScoringError, match="these targets are neither"):
        score_files(pred, smiles, 1, kind="spectrum")
    spectra = _write(tmp_path / "spec.txt", ["IR 1 2 3", "13CNMR 10.0"])
    with pytest.raises(ScoringError, match="score them with --kind spectrum"):
        score_files(pred, spectra, 1, kind="smiles")
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "score.py"),
            "--pred",
            pred,
            "--tgt",
            smiles,
            "--n_best",
            "1",
            "--kind",
            "spectrum",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "neither" in r.stderr and "Traceback" not in r.stderr


def test_glycan_token_spectra_still_go_to_the_glycan_scorer(tmp_path):
    line = "PMZ_100 CHARGE_-1 MZ_10 INT_3 MZ_20 INT_1"
    tgt = _write(tmp_path / "t.txt", [line])
    pred = _write(tmp_path / "p.txt", [line])
    res = score_files(pred, tgt, 1, kind="spectrum")
    assert "target_format" not in res and res["top1"]["cosine"] == pytest.approx(1.0)
