"""End to end on CPU with the stock OpenNMT commands and start_training (issues 2, 4, 5)."""

import csv
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT

BIN = os.path.dirname(sys.executable)
DATA = os.path.join(FIXTURES, "tiny_corpus", "data")
START = [sys.executable, os.path.join(ROOT, "benchmark", "start_training.py")]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _stock(name, *args, check=True):
    exe = os.path.join(BIN, name)
    if not os.path.exists(exe):
        pytest.skip(f"stock {name} not installed")
    r = subprocess.run([exe, *args], capture_output=True, text=True, env=ENV, timeout=300)
    if check:
        assert r.returncode == 0, f"{name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _steps(path):
    with open(path) as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def _check_nbest_with_scores(path, n_src, n_best):
    lines = open(path).read().splitlines()
    assert len(lines) == n_src * n_best
    for line in lines:
        pred, score = line.rsplit("\t", 1)
        assert pred.strip() and float(score) <= 0.0


def test_dense_baseline_run_folder(tmp_path):
    r = subprocess.run(
        START
        + [
            "--config",
            os.path.join(ROOT, "configs", "tiny_dense.yaml"),
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "dense",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    d = tmp_path / "dense"
    for name in (
        "config.yaml",
        "train.log",
        "model_step_20.pt",
        "train_steps.csv",
        "valid_summary.csv",
        "translate.yaml",
        "run.json",
        "scores.json",
        "ranks.csv",
        "pred/test.txt",
    ):
        assert (d / name).exists(), name
    assert "# onmt_moe git commit:" in (d / "config.yaml").read_text()
    assert _steps(d / "train_steps.csv") == [5, 10, 15, 20]
    _check_nbest_with_scores(d / "pred" / "test.txt", 10, 3)
    scores = json.loads((d / "scores.json").read_text())
    assert set(scores["topk"]) >= {"1", "2", "3"}
    info = json.loads((d / "run.json").read_text())
    assert all(info["stages"][s]["status"] == "ok" for s in ("vocab", "train", "translate", "score"))
    assert info["params_total"] == info["params_active"] > 0
    assert info["machine"]["cores"] >= 1 and info["machine"]["torch_cpu_capability"]  # cross-machine traces
    # partial-modality inference with the real checkpoint: every subset of {FORMULA, NMR} is decoded and scored
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmark", "modality_benchmark.py"), "--run", str(d), "--mode", "drop"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = list(csv.DictReader(open(d / "modality" / "modality_table.csv")))
    assert {row["subset"] for row in rows} >= {"FORMULA", "NMR", "FORMULA+NMR"}
    assert (d / "modality" / "modality_heatmap.png").exists()


def test_stock_train_translate_resume_average_moe(tmp_path):
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "tiny_moe.yaml")))
    cfg.pop("run")
    cfg.update(
        {
            "data": {
                "corpus_1": {"path_src": f"{DATA}/src-train.txt", "path_tgt": f"{DATA}/tgt-train.txt"},
                "valid": {"path_src": f"{DATA}/src-val.txt", "path_tgt": f"{DATA}/tgt-val.txt"},
            },
            "save_data": str(tmp_path / "vocab"),
            "src_vocab": str(tmp_path / "vocab.src"),
            "tgt_vocab": str(tmp_path / "vocab.tgt"),
            "save_model": str(tmp_path / "model"),
            "moe_log_dir": str(tmp_path),  # CSV logs are opt-in for stock runs (issue 12)
            "train_steps": 10,
            "save_checkpoint_steps": 5,
            "valid_steps": 5,
            "moe_top_k": 1,
            "moe_overflow": "drop",
            "moe_capacity_factor": 1.0,  # a plugin option set
        }
    )
    cfg_path = tmp_path / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    _stock("onmt_build_vocab", "-config", str(cfg_path), "-n_sample", "-1")
    _stock("onmt_train", "-config", str(cfg_path))
    ck10 = tmp_path / "model_step_10.pt"
    assert ck10.exists()
    assert (tmp_path / "moe_steps.csv").exists() and (tmp_path / "moe_aux.csv").exists()
    out = tmp_path / "pred.txt"
    _stock(
        "onmt_translate",
        "-model",
        str(ck10),
        "-src",
        f"{DATA}/src-test.txt",
        "-output",
        str(out),
        "-beam_size",
        "3",
        "-n_best",
        "3",
        "-min_length",
        "1",
        "-max_length",
        "60",
        "-with_score",
    )
    _check_nbest_with_scores(out, 10, 3)
    # resume with train_from: the checkpoint alone rebuilds the MoE model (options saved in it)
    _stock("onmt_train", "-config", str(cfg_path), "-train_from", str(ck10), "-train_steps", "15")
    assert (tmp_path / "model_step_15.pt").exists()
    assert _steps(tmp_path / "train_steps.csv") == [5, 10, 15]
    # average two checkpoints, then decode the average
    avg = tmp_path / "avg.pt"
    _stock(
        "onmt_average_models",
        "-models",
        str(tmp_path / "model_step_10.pt"),
        str(tmp_path / "model_step_15.pt"),
        "-output",
        str(avg),
    )
    out2 = tmp_path / "pred_avg.txt"
    _stock(
        "onmt_translate",
        "-model",
        str(avg),
        "-src",
        f"{DATA}/src-test.txt",
        "-output",
        str(out2),
        "-beam_size",
        "2",
        "-n_best",
        "2",
        "-min_length",
        "1",
        "-max_length",
        "60",
        "-with_score",
    )
    _check_nbest_with_scores(out2, 10, 2)


def test_start_training_resume_after_kill_keeps_csvs_continuous(tmp_path):
    base = START + [
        "--config",
        os.path.join(ROOT, "configs", "tiny_moe.yaml"),
        "--runs_dir",
        str(tmp_path),
        "--run_name",
        "m",
        "--quiet",
        "--set",
        "moe_grad_norm_every=0",
    ]
    r = subprocess.run(
        base + ["--stages", "vocab,train", "--set", "train_steps=10"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    d = tmp_path / "m"
    # simulate a kill after step 15 was logged but before its checkpoint, mid-way through a row
    with open(d / "train_steps.csv", "a") as f:
        f.write("15,9.9,9.9,1.0,0.1,1,1,1,0\n16,9.9")
    with open(d / "moe_steps.csv", "a") as f:
        f.write("15,0,0,all,1,1,1,1,0,1,0,1,1,1,2\n")
    r = subprocess.run(
        base + ["--stages", "train", "--resume", "--set", "train_steps=20"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert _steps(d / "train_steps.csv") == [5, 10, 15, 20]
    rows = list(csv.DictReader(open(d / "train_steps.csv")))
    assert float(rows[2]["xent"]) != 9.9  # the fake row was replaced by the real step 15
    moe_steps = sorted(set(_steps(d / "moe_steps.csv")))
    assert moe_steps == [5, 10, 15, 20]
    aux = list(csv.DictReader(open(d / "moe_aux.csv")))
    assert {r["component"] for r in aux} >= {"load_balance", "z_loss"}
