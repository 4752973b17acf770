import json
import math
import os

import pytest

from onmt_moe.runfolder.csvlog import (
    CsvLog,
    CsvLogError,
    atomic_write_json,
    atomic_write_text,
    read_csv,
)

COLS = ["step", "xent", "ppl"]


def test_append_and_read_roundtrip(tmp_path):
    path = tmp_path / "sub" / "train_steps.csv"
    log = CsvLog(path, COLS)
    assert log.append([{"step": 1, "xent": 2.5, "ppl": math.exp(2.5)}]) == 1
    log.append_row({"step": 2, "xent": float("nan"), "ppl": float("inf")})
    log.append_row({"step": 3, "xent": 0.1})  # missing key -> empty cell
    df = read_csv(path)
    assert list(df.columns) == COLS
    assert df["step"].tolist() == [1, 2, 3]
    assert df["xent"][0] == pytest.approx(2.5)
    assert math.isnan(df["xent"][1]) and math.isinf(df["ppl"][1])
    assert math.isnan(df["ppl"][2])
    # header written exactly once even when reopened
    CsvLog(path, COLS).append_row({"step": 4, "xent": 1.0, "ppl": 2.0})
    assert path.read_text().count("step,xent,ppl") == 1
    assert len(read_csv(path)) == 4


def test_unknown_column_rejected_or_ignored(tmp_path):
    log = CsvLog(tmp_path / "a.csv", COLS)
    with pytest.raises(ValueError):
        log.append_row({"step": 1, "bogus": 3})
    log2 = CsvLog(tmp_path / "b.csv", COLS, extrasaction="ignore")
    log2.append_row({"step": 1, "bogus": 3})
    assert read_csv(tmp_path / "b.csv")["step"].tolist() == [1]


def test_partial_trailing_line_is_repaired_on_open(tmp_path):
    path = tmp_path / "log.csv"
    log = CsvLog(path, COLS)
    log.append([{"step": s, "xent": 1.0 / s, "ppl": 2.0} for s in range(1, 4)])
    # simulate a kill in the middle of a write
    with open(path, "a") as fh:
        fh.write("4,0.25,")
    # readers ignore the fragment
    assert read_csv(path)["step"].tolist() == [1, 2, 3]
    # the next writer cuts it away and continues cleanly
    log = CsvLog(path, COLS)
    assert path.read_text().endswith("\n")
    log.append_row({"step": 4, "xent": 0.25, "ppl": 1.0})
    df = read_csv(path)
    assert df["step"].tolist() == [1, 2, 3, 4]
    assert df["ppl"].tolist()[-1] == 1.0


def test_partial_header_is_rewritten(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("ste")
    CsvLog(path, COLS).append_row({"step": 1, "xent": 1, "ppl": 1})
    assert read_csv(path)["step"].tolist() == [1]


def test_header_mismatch_is_an_error(tmp_path):
    path = tmp_path / "log.csv"
    CsvLog(path, COLS)
    with pytest.raises(CsvLogError, match="log.csv"):
        CsvLog(path, ["step", "other"])


def test_header_superset_is_migrated(tmp_path):
    path = tmp_path / "valid_summary.csv"
    CsvLog(path, ["step", "xent", "ppl", "accuracy"]).append_row({"step": 10, "xent": 1.0, "ppl": 2.7, "accuracy": 50})
    log = CsvLog(path, ["step", "xent", "ppl", "accuracy", "top1", "top5", "top10"])
    log.append_row({"step": 20, "xent": 0.9, "ppl": 2.5, "accuracy": 55, "top1": 0.3, "top5": 0.5, "top10": 0.6})
    df = read_csv(path)
    assert list(df.columns) == ["step", "xent", "ppl", "accuracy", "top1", "top5", "top10"]
    assert df["step"].tolist() == [10, 20] and math.isnan(df["top1"][0]) and df["top10"][1] == 0.6


def test_truncate_after_step(tmp_path):
    path = tmp_path / "moe.csv"
    log = CsvLog(path, ["step", "layer", "load"])
    log.append([{"step": s, "layer": layer, "load": s * 0.1} for s in (10, 20, 30, 40) for layer in (0, 1)])
    removed = log.truncate_after_step(20)
    assert removed == 4
    df = read_csv(path)
    assert sorted(set(df["step"])) == [10, 20]
    # resumed run appends without duplicates
    log.append([{"step": 30, "layer": 0, "load": 9.0}])
    df = read_csv(path)
    assert df["step"].tolist() == [10, 10, 20, 20, 30]
    assert log.truncate_after_step(1000) == 0


def test_large_append_is_fast_and_complete(tmp_path):
    path = tmp_path / "big.csv"
    log = CsvLog(path, ["step", "layer", "expert", "load_frac"], fsync=False)
    rows = [
        {"step": s, "layer": layer, "expert": e, "load_frac": 0.125}
        for s in range(0, 2500)
        for layer in range(2)
        for e in range(8)
    ]
    log.append(rows)
    df = read_csv(path)
    assert len(df) == len(rows)


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "not found"),
        ("", "empty"),
        ("   \n", "empty"),
        ('step,xent\n1,2\n"unterminated,3,4,5\n', "corrupt"),
        ("step,xent\n1,2,3,4\n", "corrupt"),
    ],
)
def test_read_csv_errors_are_one_line_and_name_file(tmp_path, content, needle):
    path = tmp_path / "train_steps.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CsvLogError) as info:
        read_csv(path)
    msg = str(info.value)
    assert "train_steps.csv" in msg and needle in msg and "\n" not in msg


def test_read_csv_required_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("step,xent\n1,2\n")
    with pytest.raises(CsvLogError, match="ppl"):
        read_csv(path, required_columns=["step", "ppl"])
    path.write_text("step,xent\n")
    assert read_csv(path).empty
    with pytest.raises(CsvLogError, match="no data"):
        read_csv(path, allow_empty=False)


def test_atomic_writes(tmp_path):
    p = atomic_write_text(tmp_path / "d" / "a.txt", "hello\n")
    assert p.read_text() == "hello\n"
    atomic_write_text(p, "world\n")
    assert p.read_text() == "world\n"
    j = atomic_write_json(tmp_path / "a.json", {"x": float("nan"), "y": (1, 2), "z": 1.5})
    assert json.loads(j.read_text()) == {"x": None, "y": [1, 2], "z": 1.5}
    # no temp files left behind
    assert sorted(os.listdir(tmp_path)) == ["a.json", "d"]
    assert os.listdir(tmp_path / "d") == ["a.txt"]
