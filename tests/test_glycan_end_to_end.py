"""The glycan track through the stock OpenNMT path: corpus -> start_training (MoE with the
structure-aware loss and a scheduled contrastive term) -> WURCS scoring with mass re-ranking ->
modality benchmark (MS vs MS+TEXT); and the structure -> spectrum direction (kind spectrum)."""

import csv
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("glypy")
SAMPLE = os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet")
START = [sys.executable, os.path.join(ROOT, "benchmark", "start_training.py")]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _corpus(tmp_path, name, *flags):
    out = tmp_path / name
    _run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "generate_glycan_input.py"),
            "--input",
            SAMPLE,
            "--out_dir",
            str(out),
            *flags,
        ]
    )
    return out / "data"


def test_spectrum_to_wurcs_moe_run_and_modality_benchmark(tmp_path):
    data = _corpus(tmp_path, "corpus", "--text", "--composition")
    _run(
        START
        + [
            "--config",
            os.path.join(ROOT, "configs", "tiny_moe.yaml"),
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "g",
            "--quiet",
            "--stages",
            "vocab,train,translate,score",  # the report stage (plots) is tested on its own
            "--set",
            f"run.data_dir={data}",
            "--set",
            "run.kind=wurcs",
            "--set",
            "run.translate.max_length=120",
            "--set",
            "struct_loss_weights=monosaccharide=2,linkage=1.5,modification=2",
            "--set",
            "moe_contrastive_coef=linear:0:0.1:10",
            "--set",
            "moe_contrastive_pair=[MS, TEXT]",
        ]
    )
    run = tmp_path / "g"
    n_test = len((data / "tgt-test.txt").read_text().splitlines())
    scores = json.loads((run / "scores.json").read_text())
    assert scores["kind"] == "wurcs" and scores["n"] == n_test
    assert set(scores["mass_reranked_topk"]) == {"1", "2", "3"}
    assert 0.0 <= scores["invalid_rate"] <= 1.0
    aux = list(csv.DictReader(open(run / "moe_aux.csv")))
    contrastive = {int(r["step"]): float(r["coef"]) for r in aux if r["component"] == "contrastive"}
    assert contrastive and max(contrastive) >= 10 and contrastive[max(contrastive)] == pytest.approx(0.1)
    # partial-modality inference on the real checkpoint, scored as WURCS
    _run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "modality_benchmark.py"),
            "--run",
            str(run),
            "--subsets",
            "MS,MS+TEXT",
        ]
    )
    table = {r["subset"]: r for r in csv.DictReader(open(run / "modality" / "modality_table.csv"))}
    assert set(table) == {"MS", "MS+TEXT"} and int(table["MS"]["n"]) == n_test
    sub = json.loads((run / "modality" / "subsets" / "MS" / "scores.json").read_text())
    assert sub["kind"] == "wurcs"
    assert "<TEXT>" not in (run / "modality" / "subsets" / "MS" / "src.txt").read_text().replace("<TEXT> <MISSING>", "")


def test_structure_to_spectrum_run(tmp_path):
    data = _corpus(tmp_path, "pred", "--pred_spectra")
    _run(
        START
        + [
            "--config",
            os.path.join(ROOT, "configs", "tiny_dense.yaml"),
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "p",
            "--quiet",
            "--stages",
            "vocab,train,translate,score",  # the report stage (plots) is tested on its own
            "--set",
            f"run.data_dir={data}",
            "--set",
            "run.kind=spectrum",
            "--set",
            "run.translate.max_length=200",
        ]
    )
    scores = json.loads((tmp_path / "p" / "scores.json").read_text())
    assert scores["kind"] == "spectrum" and set(scores["top1"]) >= {"f1", "cosine", "precursor"}
