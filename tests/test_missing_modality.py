"""The missing-modality table (issue 32 item 5): segments removed at test time, decoded and scored."""

import csv
import os
import subprocess
import sys

import pytest

from onmt_moe.runfolder.layout import write_run_json
from onmt_moe.runs import missing_modality as mm
from tests.conftest import ROOT

LINE = "<FORMULA> C 2 H 6 O </FORMULA> <NMR> 13CNMR 58 18 </NMR> <IR> IR 5 9 </IR> <MS> <MISSING> </MS>"


def test_without_replaces_one_segment_and_keeps_the_rest():
    assert mm.without(LINE, "IR") == LINE.replace("<IR> IR 5 9 </IR>", "<IR> <MISSING> </IR>")
    assert mm.without(LINE, "RAMAN") == LINE
    assert mm.segments_of([LINE]) == ["FORMULA", "NMR", "IR"]  # MS holds no data


def test_label_of_reads_model_and_representation_from_the_cell_folder():
    assert mm.label_of("runs/bench_paper/NMR+IR+MS_moe_values+patches_s1") == {
        "model": "moe",
        "representation": "values+patches",
    }
    assert mm.label_of("runs/x/NMR+IR+MS_dense_s2/") == {"model": "dense", "representation": "words"}
    assert mm.label_of("runs/x/NMR+IR+MS_moe_paper_s1") == {"model": "moe_paper", "representation": "words"}
    assert mm.label_of("runs/x/NMR_moe_values_add+patches_s1") == {
        "model": "moe",
        "representation": "values_add+patches",
    }


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """A run folder whose 'model' predicts the target exactly when the IR segment is present."""
    data = tmp_path / "data"
    data.mkdir()
    srcs = [LINE, LINE.replace("58 18", "60 20")]
    tgts = ["C C O", "C O C"]
    (data / "src-test.txt").write_text("\n".join(srcs) + "\n")
    (data / "tgt-test.txt").write_text("\n".join(tgts) + "\n")
    run = tmp_path / "NMR+IR_moe_values_s1"
    run.mkdir()
    write_run_json(run, {"data_dir": str(data)})
    (run / "translate.yaml").write_text("n_best: 2\nbeam_size: 2\n")
    calls = []

    def fake_translate(cmd, log, echo=True):
        src, out = cmd[cmd.index("-src") + 1], cmd[cmd.index("-output") + 1]
        calls.append(os.path.basename(os.path.dirname(src)))
        lines = open(src).read().splitlines()
        with open(out, "w") as fh:
            for line, tgt in zip(lines, tgts):
                first = tgt if "<IR> IR" in line else "C C C"
                fh.write(f"{first}\nO\n")

    monkeypatch.setattr(mm.runner, "run_logged", fake_translate)
    return run, calls


def test_each_segment_removed_is_decoded_once_and_scored(fake_run, tmp_path):
    run, calls = fake_run
    rows = mm.run_rows(str(run), None, log=lambda *_: None)
    got = {r["removed"]: r["top1"] for r in rows}
    assert got == {"none": 1.0, "FORMULA": 1.0, "NMR": 1.0, "IR": 0.0}
    assert all(r["model"] == "moe" and r["representation"] == "values" and r["n"] == 2 for r in rows)
    assert sorted(calls) == ["FORMULA", "IR", "NMR", "none"]
    mm.run_rows(str(run), None, log=lambda *_: None)  # a rerun reads the decoded variants back
    assert len(calls) == 4
    out = tmp_path / "mm.csv"
    mm.write_outputs(rows, str(out))
    assert [r["removed"] for r in csv.DictReader(open(out))] == ["none", "FORMULA", "NMR", "IR"]
    assert "| moe | values | IR | 2 | 0.0000" in (tmp_path / "mm.md").read_text()


def test_a_run_without_its_translate_config_is_one_line_error(fake_run):
    run, _ = fake_run
    os.remove(run / "translate.yaml")
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "missing_modality.py"), "--runs", str(run), "--out", "x.csv"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "translate.yaml" in r.stderr
