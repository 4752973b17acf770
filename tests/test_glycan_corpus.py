"""benchmark/generate_glycan_input.py on the committed parquet sample (no glypy needed)."""

import importlib.util
import json
import os

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from onmt_moe.glycan.wurcs_tokenizer import detokenize  # noqa: E402
from onmt_moe.modality.tags import MISSING, split_segments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet")


def _gen():
    spec = importlib.util.spec_from_file_location(
        "generate_glycan_input", os.path.join(ROOT, "benchmark", "generate_glycan_input.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def _lines(p):
    with open(p) as fh:
        return [ln.rstrip("\n") for ln in fh]


def test_text_corpus(tmp_path):
    df = pd.read_parquet(SAMPLE)
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path), "--text"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rejected"] == 0 and sum(summary["written"].values()) == len(df)
    by_split = {}
    for split in ("train", "val", "test"):
        src = _lines(tmp_path / "data" / f"src-{split}.txt")
        tgt = _lines(tmp_path / "data" / f"tgt-{split}.txt")
        assert len(src) == len(tgt) == summary["written"][split] == (df.split == split).sum()
        want = list(df[df.split == split].wurcs)
        assert [detokenize(t) for t in tgt] == want
        by_split[split] = set(want)
        for s, (_, row) in zip(src, df[df.split == split].iterrows()):
            segs = split_segments(s.split())
            assert [n for n, _ in segs] == ["MS", "TEXT"]
            assert segs[0][1][1] == f"CHARGE_{row.charge}"
            assert (segs[1][1] == [MISSING]) == (not row.text)
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])


def test_missing_drop_and_no_text(tmp_path):
    df = pd.read_parquet(SAMPLE)
    n_empty = int((df.text == "").sum())
    assert 0 < n_empty < len(df)
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path / "d"), "--text", "--missing", "drop"])
    s = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert s["reject_reasons"] == {"missing_text": n_empty}
    assert len(_lines(tmp_path / "d" / "rejects.tsv")) == 1 + n_empty
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path / "n")])
    src = _lines(tmp_path / "n" / "data" / "src-train.txt")
    assert all("<TEXT>" not in ln and ln.startswith("<MS> PMZ_") for ln in src)


def test_pred_spectra_and_binning(tmp_path):
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path / "p"), "--pred_spectra"])
    src = _lines(tmp_path / "p" / "data" / "src-train.txt")
    tgt = _lines(tmp_path / "p" / "data" / "tgt-train.txt")
    assert all(s.startswith("WURCS=2.0 / ") for s in src) and all(t.startswith("PMZ_") for t in tgt)
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path / "b"), "--mz_bin", "0.5", "--int_bins", "4"])
    b = _lines(tmp_path / "b" / "data" / "src-train.txt")[0].split()
    a = _lines(tmp_path / "p" / "data" / "tgt-train.txt")[0].split()
    assert int(b[1][4:]) in (2 * int(a[0][4:]), 2 * int(a[0][4:]) + 1)  # PMZ bin doubles
    assert {t for t in b if t.startswith("INT_")} <= {"INT_0", "INT_1", "INT_2", "INT_3"}


def test_bad_rows_rejected(tmp_path):
    df = pd.read_parquet(SAMPLE)
    df.loc[0, "wurcs"] = "not a wurcs"
    df.at[1, "peaks"] = []
    df.loc[2, "split"] = "dev"
    df.loc[3, "charge"] = 3
    bad = tmp_path / "bad.parquet"
    df.to_parquet(bad)
    _gen()(["--input", str(bad), "--out_dir", str(tmp_path / "o")])
    rej = _lines(tmp_path / "o" / "rejects.tsv")[1:]
    assert [r.split("\t")[0] for r in rej] == ["0", "1", "2", "3"]
    assert "bad wurcs" in rej[0] and "no peaks" in rej[1] and "bad split" in rej[2] and "charge" in rej[3]
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["rejected"] == 4 and sum(s["written"].values()) == len(df) - 4


def test_missing_column_one_line_error(tmp_path):
    p = tmp_path / "x.parquet"
    pd.read_parquet(SAMPLE).drop(columns=["peaks"]).to_parquet(p)
    with pytest.raises(SystemExit) as ei:
        _gen()(["--input", str(p), "--out_dir", str(tmp_path / "o")])
    msg = str(ei.value)
    assert "x.parquet" in msg and "peaks" in msg and "\n" not in msg
