"""score_wurcs_files: graph identity, not string equality."""

import csv
import json
import os

import pytest  # noqa: E402

pytest.importorskip("glypy")

from onmt_moe.evaluation.files import ScoringError
from onmt_moe.glycan.evaluate import parse_wurcs, same_structure, score_wurcs_files  # noqa: E402
from onmt_moe.glycan.wurcs_tokenizer import tokenize_line  # noqa: E402

# Gal(b1-4)[Fuc(a1-3)]GlcNAc written three ways (RES order / uniqueRES order / LIN order differ)
A = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5][a1221m-1a_1-5]/1-2-3/a4-b1_a3-c1"
B = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5][a1221m-1a_1-5]/1-3-2/a3-b1_a4-c1"
C = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a1221m-1a_1-5][a2112h-1b_1-5]/1-3-2/a3-c1_a4-b1"
# linkage differs: Gal(b1-3)[Fuc(a1-4)]GlcNAc
D = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5][a1221m-1a_1-5]/1-2-3/a3-b1_a4-c1"
# anomer differs: Gal(a1-4)[Fuc(a1-3)]GlcNAc
E = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1a_1-5][a1221m-1a_1-5]/1-2-3/a4-b1_a3-c1"
BROKEN = "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5]/1-2-3/a4-b1_a3-c1"
LACNAC = "WURCS=2.0/2,2,1/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5]/1-2/a4-b1"


def test_pairwise_identity():
    a, b, c, d, e = (parse_wurcs(x) for x in (A, B, C, D, E))
    assert A != B and A != C  # different strings ...
    assert same_structure(a, b) and same_structure(a, c)  # ... same graph
    assert not same_structure(a, d)  # linkage positions differ
    assert not same_structure(a, e)  # anomer differs
    assert parse_wurcs(BROKEN) is None and parse_wurcs("") is None and parse_wurcs("CCO") is None
    assert not same_structure(None, a)


def _write(path, lines):
    path.write_text("".join(ln + "\n" for ln in lines))
    return str(path)


def test_score_files(tmp_path):
    tgt = _write(tmp_path / "tgt.txt", [tokenize_line(A), tokenize_line(A), tokenize_line(LACNAC), tokenize_line(A)])
    preds = [
        tokenize_line(B) + "\t-0.1",
        tokenize_line(D) + "\t-0.5",  # row 1: branch order -> hit@1
        tokenize_line(D) + "\t-0.2",
        tokenize_line(C) + "\t-0.3",  # row 2: linkage wrong, hit@2
        "WURCS = 2.0 / garbage\t-0.1",
        tokenize_line(A) + "\t-0.9",  # row 3: invalid, then wrong
        tokenize_line(BROKEN),
        "",  # row 4: invalid, empty
    ]
    pred = _write(tmp_path / "pred.txt", preds)
    out_json, ranks = tmp_path / "r.json", tmp_path / "ranks.csv"
    res = score_wurcs_files(pred, tgt, 2, out_json=str(out_json), ranks_csv=str(ranks), verbose=False)
    assert res["n"] == 4 and res["n_scored"] == 4
    assert res["topk"] == {"1": 0.25, "2": 0.5}
    assert res["n_correct"] == {"1": 1, "2": 2}
    assert res["invalid_rate"] == pytest.approx(3 / 8)
    assert res["invalid_rate_top1"] == pytest.approx(2 / 4)
    # D has the same topology, composition and mass as A
    assert res["topology_topk"]["1"] == pytest.approx(0.5)
    assert res["composition_topk"]["1"] == pytest.approx(0.5)
    assert res["mass_topk"]["2"] == pytest.approx(0.5)  # row 3: A vs LacNAc mass differs
    assert json.loads(out_json.read_text())["topk"]["2"] == 0.5
    rows = list(csv.DictReader(open(ranks)))
    assert [r["rank"] for r in rows] == ["0", "1", "-1", "-1"]
    assert rows[0]["top1_score"] == "-0.1" and rows[2]["top1_valid"] == "False"


def test_invalid_target_excluded(tmp_path):
    tgt = _write(tmp_path / "tgt.txt", [tokenize_line(BROKEN), tokenize_line(A)])
    pred = _write(tmp_path / "pred.txt", [tokenize_line(A), tokenize_line(C)])
    res = score_wurcs_files(pred, tgt, 1, verbose=False)
    assert res["n_invalid_targets"] == 1 and res["invalid_target_lines"] == [1]
    assert res["n_scored"] == 1 and res["topk"]["1"] == 1.0


def test_line_count_mismatch_is_one_line_error(tmp_path):
    tgt = _write(tmp_path / "tgt.txt", [tokenize_line(A)])
    pred = _write(tmp_path / "pred.txt", [tokenize_line(A)])
    with pytest.raises(ScoringError) as ei:
        score_wurcs_files(pred, tgt, 2, verbose=False)
    assert "pred.txt" in str(ei.value) and "\n" not in str(ei.value)


def test_prints_topk(tmp_path, capsys):
    tgt = _write(tmp_path / "tgt.txt", [tokenize_line(A)])
    pred = _write(tmp_path / "pred.txt", [tokenize_line(C)])
    score_wurcs_files(pred, tgt, 1)
    assert "top-1: 1.0000" in capsys.readouterr().out


def test_identity_on_committed_sample(tmp_path):
    """Every committed structure matches itself under every metric (exact ⊆ topology)."""
    with open(os.path.join(os.path.dirname(__file__), "fixtures", "glycan", "wurcs_sample.txt")) as fh:
        ws = [ln.strip() for ln in fh if ln.strip()][:80]
    tgt = _write(tmp_path / "tgt.txt", [tokenize_line(w) for w in ws])
    res = score_wurcs_files(tgt, tgt, 1, verbose=False)
    assert res["n_invalid_targets"] == 0
    for key in ("topk", "topology_topk", "composition_topk", "mass_topk"):
        assert res[key]["1"] == 1.0, key
