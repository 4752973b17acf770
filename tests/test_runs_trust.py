"""Issue 36, "runs you can trust" round three (the run-folder items): one writer per run folder,
``--resume`` of a finished run, run names that stay inside ``--runs_dir``, a short prediction file,
file modes that follow the umask, and training progress on the console.

One start_training run (module fixture, ~30 s: tiny_moe, 2 steps, every stage, beam 1) is shared;
tests copy its folder before changing it.
"""

import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from onmt_moe.runfolder.csvlog import atomic_write_text
from onmt_moe.runs import runner
from tests.conftest import ROOT

TINY = os.path.join(ROOT, "configs", "tiny_moe.yaml")
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
SETS = [
    "--set",
    "train_steps=2",
    "--set",
    "save_checkpoint_steps=2",
    "--set",
    "valid_steps=2",
    "--set",
    "report_every=1",
    "--set",
    "moe_grad_norm_every=0",
    "--set",
    "run.translate.beam_size=1",
    "--set",
    "run.translate.n_best=1",
]
_spec = importlib.util.spec_from_file_location("start_training", os.path.join(ROOT, "benchmark", "start_training.py"))
start_training = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(start_training)
PROGRESS = re.compile(r"^\[train\] step (\d+)/(\d+)  loss \S+  [\d,]+ tok/s  (ETA .+|done)$", re.M)


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _start(runs_dir, name, *args, check=True, sets=SETS):
    """benchmark/start_training.py in this process (its stages still run the stock commands)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = start_training.main(
            ["--config", TINY, "--quiet", "--runs_dir", str(runs_dir), "--run_name", name, *sets, *args]
        )
    r = Result(rc, out.getvalue(), err.getvalue())
    if check:
        assert rc == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


@contextlib.contextmanager
def _umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2-step run (every stage), made under umask 022."""
    runs = tmp_path_factory.mktemp("runs")
    with _umask(0o022):
        r = _start(runs, "base")
    d = runs / "base"
    assert [os.path.basename(p) for p in runner.checkpoints(str(d))] == ["model_step_2.pt"]
    return d, r


def _one_line_error(r):
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


# ----------------------------------------------------------------------------- item 6: one writer
def _wait_for(pred, timeout=180, what="condition"):
    t0 = time.time()
    while not pred():
        if time.time() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_held_run_folder_is_refused_naming_the_holder_and_a_killed_holder_frees_it(tmp_path):
    d = tmp_path / "r"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from onmt_moe.runs import runner; lock = runner.lock_run_dir(sys.argv[1]); "
            "print('held', flush=True); time.sleep(600)",
            str(d),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = _start(tmp_path, "r", "--stages", "vocab", check=False)
        line = _one_line_error(r)
        assert f"pid {holder.pid}" in line and socket.gethostname() in line and "started 20" in line
        assert "in use" in line and "--run_name" in line
        assert not (d / "config.yaml").exists() and not (d / "vocab.src").exists()  # nothing written
    finally:
        holder.kill()  # SIGKILL: no clean-up runs; the kernel drops the lock
        holder.wait()
    r = _start(tmp_path, "r", "--stages", "vocab")
    assert (d / "vocab.src").exists()


def test_two_start_trainings_on_one_folder_the_second_refuses_while_any_writer_lives(tmp_path):
    # the first: a real start_training, long enough to be caught training (its own session, to kill it all)
    first = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "start_training.py"),
            "--config",
            TINY,
            "--quiet",
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "r",
            *SETS,
            "--set",
            "train_steps=100000",
            "--set",
            "save_checkpoint_steps=100000",
            "--set",
            "valid_steps=100000",
            "--stages",
            "vocab,train",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    seen = []

    def read():
        for line in first.stdout:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait_for(lambda: any(PROGRESS.match(ln.rstrip("\n")) for ln in seen), what="the first run's training")
        r = _start(tmp_path, "r", "--stages", "vocab,train", check=False)
        assert f"pid {first.pid}" in _one_line_error(r)
        # the runner alone killed: the onmt_train it started still writes there, so still refused
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        r = _start(tmp_path, "r", "--stages", "vocab,train", check=False)
        line = _one_line_error(r)
        assert f"pid {first.pid}" in line and "has ended" in line
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)  # the rest of that run (onmt_train)
        reader.join(timeout=30)
    _wait_for(lambda: _start(tmp_path, "r", "--stages", "vocab", check=False).returncode == 0, 60, "the lock")
    with open(tmp_path / "r" / runner.LOCK_FILE) as f:
        assert json.load(f)["pid"] == os.getpid()  # the record names the latest holder


# ----------------------------------------------------------------------------- item 7: a finished run
def test_resume_of_a_finished_run_trains_nothing_and_decodes_its_last_checkpoint(finished, tmp_path):
    base, _ = finished
    d = tmp_path / "run"
    shutil.copytree(base, d)
    steps_before = (d / "train_steps.csv").read_bytes()
    r = _start(tmp_path, "run", "--resume", "--stages", "train,translate,score")
    assert "model_step_2.pt is at step 2 of train_steps 2: training is complete, skipped" in r.stdout
    assert not (d / "model_step_3.pt").exists()  # was trained one step past train_steps
    assert [os.path.basename(p) for p in runner.checkpoints(str(d))] == ["model_step_2.pt"]
    assert (d / "train_steps.csv").read_bytes() == steps_before
    info = json.loads((d / "run.json").read_text())
    assert os.path.basename(info["checkpoint"]) == "model_step_2.pt"
    assert info["stages"]["train"]["status"] == "ok" and info["stages"]["score"]["status"] == "ok"
    assert "model_step_2.pt" in (d / "translate.yaml").read_text()


# ----------------------------------------------------------------------------- item 11: run names
@pytest.mark.parametrize("name", ["../escape", ".", "..", "", "a/b", "ABS"])
def test_a_run_name_that_leaves_runs_dir_is_refused_before_anything_is_written(tmp_path, name):
    runs = tmp_path / "runs"
    if name == "ABS":
        name = str(tmp_path / "abs")
    r = _start(runs, name, "--stages", "vocab", check=False)
    line = _one_line_error(r)
    assert "--run_name" in line
    assert os.listdir(tmp_path) == []  # not runs/, not escape/, not abs/


@pytest.mark.parametrize("below", [False, True])
def test_a_file_as_runs_dir_is_one_line(tmp_path, below):
    f = tmp_path / "runs.txt"
    f.write_text("not a folder\n")
    r = _start(f / "sub" if below else f, "x", "--stages", "vocab", check=False)
    line = _one_line_error(r)
    assert "--runs_dir" in line and str(f) in line and "not a folder" in line
    assert sorted(os.listdir(tmp_path)) == ["runs.txt"] and f.read_text() == "not a folder\n"


# ----------------------------------------------------------------------------- item 12: a short prediction file
def test_score_stage_on_a_short_prediction_file_is_one_line(tmp_path):
    d = tmp_path / "s"
    (d / "pred").mkdir(parents=True)
    (d / "pred" / "test.txt").write_text("C C O\tf-1.0\n" * 3)
    r = _start(tmp_path, "s", "--stages", "score", check=False)
    line = _one_line_error(r)
    assert str(d / "pred" / "test.txt") in line and "3 lines" in line and "expected 10" in line
    assert json.loads((d / "run.json").read_text())["stages"]["score"]["status"] == "failed"


# ----------------------------------------------------------------------------- item 15: file modes
def test_run_folder_files_follow_the_umask(finished):
    d, _ = finished
    modes = {}
    for folder, dirs, files in os.walk(d):
        for name in files + dirs:
            p = os.path.join(folder, name)
            modes[os.path.relpath(p, d)] = stat.S_IMODE(os.stat(p).st_mode)
    for must in ("config.yaml", "run.json", "train_steps.csv", "moe_steps.csv", "anomaly_report.txt", "scores.json"):
        assert must in modes
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o755 if os.path.isdir(d / p) else 0o644)}
    assert not wrong  # config.yaml, run.json, the CSVs, the anomaly report were 0o600


def test_atomic_writes_follow_the_umask(tmp_path):
    with _umask(0o027):
        atomic_write_text(tmp_path / "a.txt", "x\n")
        with open(tmp_path / "b.txt", "w") as f:  # what a plain write gives
            f.write("x\n")
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == stat.S_IMODE(os.stat(tmp_path / "b.txt").st_mode)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o640


# ----------------------------------------------------------------------------- item 16: progress
def test_quiet_training_prints_a_progress_line_per_report(finished):
    d, r = finished
    found = PROGRESS.findall(r.stdout)
    assert [(int(s), int(t)) for s, t, _ in found] == [(1, 2), (2, 2)], r.stdout
    assert found[-1][2] == "done"
    assert re.search(r"Step\s+2/\s*2;", (d / "train.log").read_text())  # the full OpenNMT log is still there


def test_the_log_is_written_as_the_command_goes(tmp_path):
    log, go = tmp_path / "train.log", tmp_path / "go"
    child = (
        "import os, sys, time\n"
        "print('Step 1/ 2; acc: 1.0; ppl: 2.0; xent: 0.7; lr: 0.1; sents: 1; bsz: 1/1/1; 10/ 20 tok/s; 5 sec;')\n"
        "t0 = time.time()\n"
        "while not os.path.exists(sys.argv[1]) and time.time() - t0 < 15:\n"
        "    time.sleep(0.1)\n"
        "print('finished' if os.path.exists(sys.argv[1]) else 'timed out')\n"
    )
    env = {k: v for k, v in ENV.items() if k != "PYTHONUNBUFFERED"}  # what a plain shell gives onmt_train
    printed = []
    t = threading.Thread(
        target=runner.run_logged,
        args=([sys.executable, "-c", child, str(go)], str(log)),
        kwargs=dict(echo=False, env=env, on_line=printed.append),
    )
    t.start()
    try:
        _wait_for(lambda: log.exists() and "Step 1/" in log.read_text(), 12, "the first line in the log")
        _wait_for(lambda: printed, 5, "the first line handed on")  # at once, not when the command ends
        assert printed[0].startswith("Step 1/")
    finally:
        go.write_text("")
        t.join(timeout=60)
    assert "finished" in log.read_text()
    progress = io.StringIO()
    with contextlib.redirect_stdout(progress):
        runner.TrainProgress(0)(printed[0])
    assert PROGRESS.match(progress.getvalue().strip())
    assert progress.getvalue().strip() == "[train] step 1/2  loss 0.7  30 tok/s  ETA 5 s"


def test_demo_refuses_a_run_name_outside_runs_dir_before_any_work(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "scripts", "demo.py"),
            "--data",
            str(tmp_path / "data"),
            "--molecule_list",
            str(tmp_path / "none.smi"),  # old code: refused for this instead, after looking for data
            "--runs_dir",
            str(tmp_path / "runs"),
            "--run_name",
            "../escape",
            "--fresh",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "--run_name" in r.stderr
    assert os.listdir(tmp_path) == []  # no simulation, no corpus, no run folder
