"""Scorer tests on hand-built n-best files whose answers are worked out by hand."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from onmt_moe.evaluation.scoring import (
    ScoringError,
    apply_view,
    formula_from_source,
    parse_formula,
    read_nbest,
    score_files,
)

REPO = Path(__file__).resolve().parents[1]


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# target, candidates (n_best = 3)
CASES_3 = [
    # 0: correct at once (written differently from the target)
    ("C C O", ["O C C", "C C C", "C O C"]),
    # 1: stereo: the enantiomer first, the right one second
    ("C [C@H] ( N ) C ( = O ) O", ["C [C@@H] ( N ) C ( = O ) O", "C [C@H] ( N ) C ( = O ) O", "C C"]),
    # 2: an invalid candidate first
    ("C C N", ["C ( ( C", "N C C", "C C"]),
    # 3: duplicates before the answer
    ("c 1 c c c c c 1", ["C C", "C C", "c 1 c c c c c 1"]),
    # 4: invalid target (unclosed ring) -- excluded, even though a candidate is the same text
    ("C 1 C C", ["C 1 C C", "C C", "C"]),
    # 5: never found; an empty candidate is invalid
    ("C C ( = O ) O", ["", "C C", "C C O"]),
]


@pytest.fixture
def files3(tmp_path):
    tgt = write(tmp_path / "tgt.txt", [t for t, _ in CASES_3])
    pred = write(tmp_path / "pred.txt", [c for _, cs in CASES_3 for c in cs])
    return pred, tgt


def test_benchmark_view(files3, tmp_path):
    pred, tgt = files3
    ranks_csv = tmp_path / "ranks.csv"
    out = tmp_path / "scores.json"
    res = score_files(pred, tgt, 3, out_json=out, ranks_csv=ranks_csv)
    # ranks over the 5 valid targets: 0, 1, 1, 2, -1
    assert res["n"] == 6 and res["n_scored"] == 5
    assert res["n_invalid_targets"] == 1 and res["invalid_target_lines"] == [5]
    assert res["topk"] == pytest.approx({"1": 1 / 5, "2": 3 / 5, "3": 4 / 5})
    assert res["n_correct"] == {"1": 1, "2": 3, "3": 4}
    # invalid candidates: "C ( ( C", "C 1 C C", "" -> 3 of 18; top-1: rows 2, 4, 5 -> 3 of 6
    assert res["invalid_rate"] == pytest.approx(3 / 18)
    assert res["invalid_rate_top1"] == pytest.approx(3 / 6)
    assert res["view"] == "benchmark" and not res["has_scores"]
    assert json.loads(out.read_text()) == res
    rows = list(csv.DictReader(open(ranks_csv)))
    assert [int(r["rank"]) for r in rows] == [0, 1, 1, 2, -1, -1]
    assert [r["valid_target"] for r in rows] == ["1", "1", "1", "1", "0", "1"]
    assert rows[0]["top1"] == "OCC" and rows[0]["target"] == "CCO"
    assert rows[0]["score"] == ""


def test_ignore_stereo(files3):
    pred, tgt = files3
    res = score_files(pred, tgt, 3, ignore_stereo=True)
    # row 1 is now right at rank 0: ranks 0, 0, 1, 2, -1
    assert res["topk"] == pytest.approx({"1": 2 / 5, "2": 3 / 5, "3": 4 / 5})
    assert res["ignore_stereo"] is True


def test_dedup_and_valid_only_views(files3):
    pred, tgt = files3
    dedup = score_files(pred, tgt, 3, view="dedup")
    # row 3: "C C" twice collapses -> benzene at rank 1; ranks 0, 1, 1, 1, -1
    assert dedup["topk"] == pytest.approx({"1": 1 / 5, "2": 4 / 5, "3": 4 / 5})
    assert dedup["view"] == "dedup" and "dedup" in dedup["view_description"]
    valid = score_files(pred, tgt, 3, view="valid_only")
    # row 2: invalid first candidate removed -> rank 0; ranks 0, 1, 0, 2, -1
    assert valid["topk"] == pytest.approx({"1": 2 / 5, "2": 3 / 5, "3": 4 / 5})
    both = score_files(pred, tgt, 3, view="dedup_valid_only")
    assert both["topk"] == pytest.approx({"1": 2 / 5, "2": 4 / 5, "3": 4 / 5})
    # the invalid rate describes the raw candidates, whatever the view
    assert valid["invalid_rate"] == dedup["invalid_rate"]


def test_apply_view_keeps_order():
    c = ["A", None, "B", "A", None, "C"]
    assert apply_view(c, "benchmark") == c
    assert apply_view(c, "dedup") == ["A", None, "B", None, "C"]
    assert apply_view(c, "valid_only") == ["A", "B", "A", "C"]
    with pytest.raises(ScoringError):
        apply_view(c, "nope")


def test_n_best_5_with_scores(tmp_path):
    tgt = write(tmp_path / "tgt.txt", ["C C O", "C C N"])
    preds = [
        "C C\t-0.5",
        "C C C\t-1.0",
        "C C C C\t-1.5",
        "C O\t-2",
        "O C C\t-2.5",
        "N C C\t-0.1",
        "C C\t-0.2",
        "C\t-0.3",
        "N\t-0.4",
        "O\t-0.5",
    ]
    pred = write(tmp_path / "pred.txt", preds)
    ranks_csv = tmp_path / "r.csv"
    res = score_files(pred, tgt, 5, ranks_csv=ranks_csv)
    assert res["has_scores"]
    assert res["topk"] == pytest.approx({"1": 0.5, "2": 0.5, "3": 0.5, "4": 0.5, "5": 1.0})
    rows = list(csv.DictReader(open(ranks_csv)))
    assert [int(r["rank"]) for r in rows] == [4, 0]
    assert float(rows[0]["score"]) == -0.5 and float(rows[0]["match_score"]) == -2.5
    assert float(rows[1]["match_score"]) == -0.1
    # the same candidates read as n_best=10 for one source: a count mismatch
    with pytest.raises(ScoringError, match=r"pred.txt: 10 lines, expected 20"):
        score_files(pred, tgt, 10)


def test_read_nbest_bad_score(tmp_path):
    pred = write(tmp_path / "p.txt", ["C C\t-1", "C C\tabc"])
    with pytest.raises(ScoringError, match=r"p.txt:2: score"):
        read_nbest(pred, 2)
    cands, scores, has = read_nbest(write(tmp_path / "q.txt", ["C C\t-1", "C O"]), 2)
    assert cands == [["CC", "CO"]] and scores == [[-1.0, None]] and has


def test_line_count_mismatch(tmp_path):
    tgt = write(tmp_path / "tgt.txt", ["C C O", "C C N"])
    pred = write(tmp_path / "pred.txt", ["C C O"] * 5)
    with pytest.raises(ScoringError, match="5 lines, expected 6"):
        score_files(pred, tgt, 3)
    src = write(tmp_path / "src.txt", ["C 2 H 6 O"])
    pred = write(tmp_path / "pred.txt", ["C C O"] * 6)
    with pytest.raises(ScoringError, match="src.txt: 1 lines"):
        score_files(pred, tgt, 3, src_path=src)


def test_formula_parsing():
    assert parse_formula("C11H15FN2O2") == {"C": 11, "H": 15, "F": 1, "N": 2, "O": 2}
    assert parse_formula("C2H4O2-") == {"C": 2, "H": 4, "O": 2, "charge": -1}
    assert parse_formula("1HNMR") is None
    assert formula_from_source("C 2 H 6 O 1HNMR 1.20 1.10 t 3H") == parse_formula("C2H6O")
    assert formula_from_source("1HNMR 1.20 1.10 t 3H") is None
    assert formula_from_source("IR 1 2 3") is None
    assert formula_from_source("<FORMULA> C 2 H 6 O </FORMULA> <IR> IR 1 2 </IR>") == parse_formula("C2H6O")
    assert formula_from_source("<IR> IR 1 2 </IR>") is None
    assert formula_from_source("<FORMULA> <MISSING> </FORMULA> <IR> IR 1 </IR>") is None


def test_formula_consistent(tmp_path):
    tgt = write(tmp_path / "tgt.txt", ["C C O", "C C O", "C C N"])
    src = write(
        tmp_path / "src.txt",
        [
            "C 2 H 6 O 1HNMR 1.20 1.10 t 3H",  # benchmark format with a formula
            "<FORMULA> C 2 H 6 O </FORMULA> <IR> IR 5 </IR>",  # tagged format
            "<IR> IR 5 </IR>",  # no formula: unfiltered
        ],
    )
    pred = write(
        tmp_path / "pred.txt",
        [
            "C C C",
            "C O C",
            "C C O",  # propane is filtered, ether kept -> rank 1
            "C ( (",
            "C C C",
            "C C O",  # invalid + propane filtered -> rank 0
            "C C C",
            "C C N",
            "C",  # unfiltered -> rank 1
        ],
    )
    res = score_files(pred, tgt, 3, src_path=src, ranks_csv=tmp_path / "r.csv")
    assert res["topk"] == pytest.approx({"1": 0, "2": 1 / 3, "3": 1.0})
    assert res["n_with_formula"] == 2
    assert res["formula_consistent_topk"] == pytest.approx({"1": 1 / 3, "2": 1.0, "3": 1.0})
    rows = list(csv.DictReader(open(tmp_path / "r.csv")))
    assert [int(r["rank_formula"]) for r in rows] == [1, 0, 1]


def test_wurcs_delegation(tmp_path, monkeypatch):
    import types

    tgt = write(tmp_path / "tgt.txt", ["x"])
    pred = write(tmp_path / "pred.txt", ["x"])
    seen = {}

    def fake(pred_path, tgt_path, n_best, out_json=None, ranks_csv=None, src_path=None, verbose=True):
        seen.update(
            pred=pred_path,
            tgt=tgt_path,
            n_best=n_best,
            out_json=out_json,
            ranks_csv=ranks_csv,
            src=src_path,
            verbose=verbose,
        )
        return {"kind": "wurcs", "topk": {"1": 1.0}}

    monkeypatch.setitem(sys.modules, "onmt_moe.glycan.evaluate", types.SimpleNamespace(score_wurcs_files=fake))
    res = score_files(pred, tgt, 1, src_path="s.txt", out_json="o.json", ranks_csv="r.csv", kind="wurcs")
    assert res["kind"] == "wurcs" and seen == dict(
        pred=pred, tgt=tgt, n_best=1, out_json="o.json", ranks_csv="r.csv", src="s.txt", verbose=False
    )
    monkeypatch.setitem(sys.modules, "onmt_moe.glycan.evaluate", None)  # import now fails
    with pytest.raises(ScoringError, match="score_wurcs_files"):
        score_files(pred, tgt, 1, kind="wurcs")
    with pytest.raises(ScoringError, match="unknown kind"):
        score_files(pred, tgt, 1, kind="protein")


def test_cli(tmp_path):
    tgt = write(tmp_path / "tgt.txt", ["C C O", "C C N"])
    pred = write(tmp_path / "pred.txt", ["O C C", "C", "C", "N C C"])
    out = tmp_path / "s.json"
    r = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmark" / "score.py"),
            "--pred",
            str(pred),
            "--tgt",
            str(tgt),
            "--n_best",
            "2",
            "--out",
            str(out),
            "--dedup",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "top-1: 0.5000" in r.stdout and "top-2: 1.0000" in r.stdout and "invalid: 0.0000" in r.stdout
    assert json.loads(out.read_text())["view"] == "dedup"
    bad = write(tmp_path / "bad.txt", ["C"] * 3)
    r = subprocess.run(
        [sys.executable, str(REPO / "benchmark" / "score.py"), "--pred", str(bad), "--tgt", str(tgt), "--n_best", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "bad.txt: 3 lines" in r.stderr
