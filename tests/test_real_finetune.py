"""Fine-tuning on measured spectra (issue 35 items 4-5): the corpus is the finetune/val parts, made by the
predictor's formatter, and never holds a test molecule."""

import json
import os

from onmt_moe.data.formatting import Formatting
from onmt_moe.predict import settings
from onmt_moe.runs import real_finetune as rf
from onmt_moe.runs import real_spectra as rs
from tests.conftest import FIXTURES

SLICE = os.path.join(FIXTURES, "real_nmr", "literature_slice.tsv")
CFG = settings.CorpusSettings(
    kind="smiles",
    formatting=Formatting(
        fmt="tagged", sections=["formula", "h_nmr", "c_nmr"], missing="token", nmr_decimals=(1, 0, 0)
    ),
)


def _fake_checkpoint(monkeypatch):
    monkeypatch.setattr("onmt_moe.inference.decode.checkpoint_info", lambda path: ([], None, ""))
    monkeypatch.setattr(settings, "resolve", lambda *a, **k: CFG)


def test_examples_are_the_predictors_lines_one_per_condition():
    rows = rs.read_rows(SLICE, [])
    pairs, rejects = rf.examples(rows, CFG)
    n_h = sum(1 for r in rows if r.h_text)
    assert len(pairs) + len(rejects) == len(rows) + n_h
    src, tgt = pairs[0]
    assert src.startswith("<FORMULA>") and "13CNMR" in src and "<MISSING>" in src
    assert " " in tgt and tgt.replace(" ", "") in {r.smiles for r in rows}


def test_corpus_holds_no_test_part_molecule_and_records_the_formatting(tmp_path, monkeypatch):
    _fake_checkpoint(monkeypatch)
    ft = rf.RealFinetune(data=[SLICE, SLICE], scored=SLICE, corpus=str(tmp_path / "c"))
    counts = rf.write_corpus(ft, "model.pt", log=lambda *_: None)
    rows = rs.read_rows(SLICE, [])
    test_smiles = {r.smiles for r in rows if rs.split_of(r.id) == "test"}
    data = tmp_path / "c" / "data"
    train_tgts = {t.replace(" ", "") for t in (data / "tgt-train.txt").read_text().splitlines() if t}
    assert train_tgts and not (train_tgts & test_smiles)
    ft_rows = [r for r in rows if rs.split_of(r.id) == "finetune"]
    # the slice given twice: each row once (one example per condition, less the refused ones)
    expected = sum(2 if r.h_text else 1 for r in ft_rows)
    assert expected - counts["rejected"] <= counts["train"] <= expected
    summary = json.loads((data / "summary.json").read_text())
    assert Formatting.from_dict(summary["formatting"]) == CFG.formatting


def test_a_molecule_of_the_scored_test_part_is_held_out_even_under_another_id(tmp_path, monkeypatch):
    _fake_checkpoint(monkeypatch)
    rows = rs.read_rows(SLICE, [])
    test_row = next(r for r in rows if rs.split_of(r.id) == "test")
    header = open(SLICE).readline()
    line = next(x for x in open(SLICE) if x.startswith(test_row.id + "\t"))
    # the same molecule under ids that fall in the finetune part
    alias = next(f"alias{i}" for i in range(1000) if rs.split_of(f"alias{i}") == "finetune")
    other = tmp_path / "other.tsv"
    other.write_text(header + alias + line[len(test_row.id) :])
    ft = rf.RealFinetune(data=[str(other)], scored=SLICE, corpus=str(tmp_path / "c"))
    counts = rf.write_corpus(ft, "model.pt", log=lambda *_: None)
    assert counts["train"] == 0
