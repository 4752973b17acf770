"""Issue 12, "runs you can trust": re-runs, kills, resumes and stock commands with tiny CPU runs.

One start_training run (module fixture, ~20 s) is shared: tiny_moe, 10 steps, checkpoints at 5 and
10, router temperature annealed 2.0 -> 1.0 over the 10 steps. Tests copy its folder before changing it.
"""

import contextlib
import csv
import importlib.util
import io
import os
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from onmt_moe import _hook
from onmt_moe.plugin import autoload
from onmt_moe.runs import runner
from tests.conftest import FIXTURES, ROOT

BIN = os.path.dirname(sys.executable)
DATA = os.path.join(FIXTURES, "tiny_corpus", "data")
TINY = os.path.join(ROOT, "configs", "tiny_moe.yaml")
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
BASE_SETS = [
    "--set",
    "train_steps=10",
    "--set",
    "save_checkpoint_steps=5",
    "--set",
    "valid_steps=5",
    "--set",
    "moe_grad_norm_every=0",
    "--set",
    "moe_router_temperature=linear:2.0:1.0:10",
]
_spec = importlib.util.spec_from_file_location("start_training", os.path.join(ROOT, "benchmark", "start_training.py"))
start_training = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(start_training)


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _start(runs_dir, name, *args, check=True):
    """benchmark/start_training.py in this process (its stages still run the stock commands)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = start_training.main(
            ["--config", TINY, "--quiet", "--runs_dir", str(runs_dir), "--run_name", name, *BASE_SETS, *args]
        )
    r = Result(rc, out.getvalue(), err.getvalue())
    if check:
        assert rc == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _steps(path):
    with open(path) as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    _start(runs, "base", "--stages", "vocab,train")
    d = runs / "base"
    assert sorted(os.path.basename(p) for p in runner.checkpoints(str(d))) == ["model_step_10.pt", "model_step_5.pt"]
    return d


def _copy(trained, tmp_path, name="run"):
    dst = tmp_path / name
    shutil.copytree(trained, dst)
    return dst


def _corpus_with_new_tokens(tmp_path):
    """The tiny corpus plus training lines whose source tokens the original vocabulary lacks."""
    d = tmp_path / "corpus_b"
    shutil.copytree(DATA, d)
    with open(d / "src-train.txt", "a") as f:
        for _ in range(3):
            f.write("<FORMULA> Xq 7 Zz 2 </FORMULA> <NMR> 1HNMR 9.99 9.98 s 1H </NMR>\n")
    with open(d / "tgt-train.txt", "a") as f:
        for _ in range(3):
            f.write("C C O\n")
    return d


# ----------------------------------------------------------------------------- item 1
def test_vocab_is_rebuilt_when_the_corpus_changes_and_refused_under_checkpoints(trained, tmp_path):
    corpus_b = _corpus_with_new_tokens(tmp_path)
    _start(tmp_path, "v", "--stages", "vocab")
    vocab = tmp_path / "v" / "vocab.src"
    assert "Xq" not in vocab.read_text()
    r = _start(tmp_path, "v", "--stages", "vocab", "--set", f"run.data_dir={corpus_b}")
    assert "[vocab] rebuilding" in r.stdout and "exists, skipped" not in r.stdout
    assert "Xq" in vocab.read_text()  # the old code kept the stale vocabulary here
    # a folder whose checkpoints were trained on the old vocabulary: refused, not silently mixed
    _copy(trained, tmp_path, "c")
    r = _start(tmp_path, "c", "--stages", "vocab", "--resume", "--set", f"run.data_dir={corpus_b}", check=False)
    assert r.returncode == 2 and "holds checkpoints trained on a vocabulary built from another corpus" in r.stderr
    assert "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- item 2
def test_restart_before_the_first_checkpoint_starts_the_csvs_afresh(trained, tmp_path):
    d = tmp_path / "k"
    d.mkdir()
    for name in ("vocab.src", "vocab.tgt", "vocab.sources.json"):  # the vocab stage's output, reused
        if (trained / name).exists():
            shutil.copy(trained / name, d / name)
    # a run killed at step 50, before its first checkpoint, left these rows
    with open(d / "train_steps.csv", "w") as f:
        f.write("step,xent,ppl,accuracy,lr,src_tok_per_s,tgt_tok_per_s,elapsed_s,aux_total\n")
        f.writelines(f"{s},9.9,9.9,1.0,0.1,1,1,1,0\n" for s in range(5, 55, 5))
    _start(tmp_path, "k", "--stages", "train", "--resume", "--set", "train_steps=5")
    assert _steps(d / "train_steps.csv") == [5]  # was 5 … 50 5
    assert float(next(csv.DictReader(open(d / "train_steps.csv")))["xent"]) != 9.9
    assert sorted(set(_steps(d / "moe_steps.csv"))) == [5]


# ----------------------------------------------------------------------------- item 3
def _load_for_translation(path):
    from onmt.model_builder import load_test_model
    from onmt.opts import translate_opts
    from onmt.utils.parse import ArgumentParser

    parser = ArgumentParser()
    translate_opts(parser)
    opt = parser.parse_args(["-model", str(path), "-src", "unused"])
    _, model, model_opt = load_test_model(opt)  # what onmt_translate calls
    return model, model_opt


def test_router_uses_the_final_training_temperature_at_inference(trained, tmp_path):
    model, model_opt = _load_for_translation(trained / "model_step_10.pt")
    router = model.encoder.moe_blocks()[0].moe.router
    assert router.step == 10 and router.temperature(router.step) == pytest.approx(1.0)  # was step 0, 2.0
    assert model_opt.moe_trained_step == 10
    torch.manual_seed(0)
    x = torch.randn(16, router.args.d_model)
    modality = torch.zeros(16, dtype=torch.long)
    out = router(x, modality)
    assert out.temperature == pytest.approx(1.0)
    router.step = 0  # what the old code did after loading: the step-0 temperature 2.0
    stale = router(x, modality)
    assert stale.temperature == pytest.approx(2.0)
    assert not torch.allclose(out.gates, stale.gates)  # the routing weights differ
    # the routed weights equal those computed by hand at temperature 1.0
    logits = torch.nn.functional.linear(x, router.proj.weight) + router.modality_bias.weight[modality]
    expected = logits.gather(1, out.expert_idx).softmax(-1)
    assert torch.allclose(out.gates, expected, atol=1e-6)
    # an older checkpoint (no recorded step) still loads, at step 0 as before
    ckpt = torch.load(trained / "model_step_10.pt", map_location="cpu", weights_only=False)
    del ckpt["opt"].moe_trained_step
    torch.save(ckpt, tmp_path / "old.pt")
    old_model, _ = _load_for_translation(tmp_path / "old.pt")
    assert old_model.encoder.moe_blocks()[0].moe.router.step == 0


# ----------------------------------------------------------------------------- item 8
def _stock_config(trained, tmp_path, **extra):
    cfg = yaml.safe_load(open(TINY))
    cfg.pop("run")
    cfg.update(
        {
            "data": {
                "corpus_1": {"path_src": f"{DATA}/src-train.txt", "path_tgt": f"{DATA}/tgt-train.txt"},
                "valid": {"path_src": f"{DATA}/src-val.txt", "path_tgt": f"{DATA}/tgt-val.txt"},
            },
            "src_vocab": str(trained / "vocab.src"),
            "tgt_vocab": str(trained / "vocab.tgt"),
            "save_model": str(tmp_path / "model"),
            "train_steps": 5,
            "valid_steps": 5,
            "save_checkpoint_steps": 5,
            "moe_grad_norm_every": 0,
            **extra,
        }
    )
    p = tmp_path / "train.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def _stock_train(cfg, *args, check=True):
    exe = os.path.join(BIN, "onmt_train")
    if not os.path.exists(exe):
        pytest.skip("stock onmt_train not installed")
    r = subprocess.run([exe, "-config", cfg, *args], capture_output=True, text=True, env=ENV, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_stock_onmt_train_writes_no_csv_unless_asked(trained, tmp_path):
    _stock_train(_stock_config(trained, tmp_path))
    assert (tmp_path / "model_step_5.pt").exists()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".csv")]  # used to write 3-4 CSVs here
    # opted in (-moe_log_dir, as start_training does), a fresh start drops another run's rows: see
    # test_restart_before_the_first_checkpoint_starts_the_csvs_afresh


# ----------------------------------------------------------------------------- items 11 and 14 (keep_checkpoint)
def test_corrupt_latest_checkpoint_falls_back_and_keep_checkpoint_holds(trained, tmp_path):
    d = _copy(trained, tmp_path)
    bad = d / "model_step_10.pt"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])  # a kill during OpenNMT's save
    before = (d / "train_steps.csv").read_bytes()
    # nothing is truncated by a run that cannot load its checkpoint
    _stock_train(str(d / "config.yaml"), "-train_from", str(bad), check=False)
    assert (d / "train_steps.csv").read_bytes() == before
    r = _start(
        tmp_path, "run", "--stages", "train", "--resume", "--set", "train_steps=20", "--set", "keep_checkpoint=2"
    )
    assert f"{bad} is unreadable" in r.stdout and "resuming from" in r.stdout and "model_step_5.pt" in r.stdout
    assert (d / "model_step_10.pt.unreadable").exists()
    assert _steps(d / "train_steps.csv") == [5, 10, 15, 20]
    assert sorted(set(_steps(d / "valid_summary.csv"))) == [5, 10, 15, 20]
    # keep_checkpoint: 2 counts the checkpoints of the run before the resume too (5 was left behind)
    assert sorted(os.path.basename(p) for p in runner.checkpoints(str(d))) == ["model_step_15.pt", "model_step_20.pt"]


# ----------------------------------------------------------------------------- item 13
def test_runner_works_with_autoload_off(trained, tmp_path, monkeypatch):
    d = _copy(trained, tmp_path)
    monkeypatch.setenv("ONMT_MOE_AUTOLOAD", "0")  # the stock onmt_translate would not load the plugin
    _start(
        tmp_path,
        "run",
        "--stages",
        "translate",
        "--resume",
        "--set",
        "run.translate.beam_size=1",
        "--set",
        "run.translate.n_best=1",
    )
    assert (d / "pred" / "test.txt").stat().st_size > 0


def test_stock_translate_with_autoload_off_names_the_plugin_and_the_fix(trained, tmp_path):
    exe = os.path.join(BIN, "onmt_translate")
    if not os.path.exists(exe):
        pytest.skip("stock onmt_translate not installed")
    site = tmp_path / "site"
    site.mkdir()
    autoload.install(str(site))  # this checkout's hook copy, ahead of the installed one on the path
    env = dict(ENV, ONMT_MOE_AUTOLOAD="0", PYTHONPATH=str(site) + os.pathsep + ENV["PYTHONPATH"])
    r = subprocess.run(
        [
            exe,
            "-model",
            str(trained / "model_step_10.pt"),
            "-src",
            f"{DATA}/src-test.txt",
            "-output",
            str(tmp_path / "out.txt"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode != 0
    assert _hook.PLUGIN_MISSING_HINT in r.stderr


def test_runner_failure_message_carries_the_plugin_hint(tmp_path):
    cmd = [sys.executable, "-c", "print(\"KeyError: 'moe_transformer'\"); raise SystemExit(1)"]
    with pytest.raises(runner.StageError) as exc:
        runner.run_logged(cmd, str(tmp_path / "log.txt"), echo=False)
    assert "onmt_moe_autoload install" in str(exc.value)
    assert _hook.plugin_missing("_pickle.UnpicklingError: Weights only load failed ... GLOBAL argparse.Namespace")
    assert not _hook.plugin_missing("RuntimeError: CUDA out of memory")


# ----------------------------------------------------------------------------- item 14 (minor)
def test_score_py_into_a_closed_pipe_prints_no_traceback(tmp_path):
    (tmp_path / "t.txt").write_text("C C O\n")
    (tmp_path / "p.txt").write_text("C C O\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "score.py"),
            "--pred",
            str(tmp_path / "p.txt"),
            "--tgt",
            str(tmp_path / "t.txt"),
            "--n_best",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    proc.stdout.close()  # like `| head` having exited before score.py prints
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_glycan_build_without_glycowork_says_how_to_install_it(tmp_path):
    code = (
        "import sys, runpy; sys.modules['glycowork'] = None; "  # glycowork absent, whatever is installed
        f"sys.argv = ['build_glycan_dataset.py', '--out', {str(tmp_path / 'g')!r}, '--limit', '1']; "
        f"runpy.run_path({os.path.join(ROOT, 'scripts', 'build_glycan_dataset.py')!r}, run_name='__main__')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "run `make install-extras`" in r.stderr and "Traceback" not in r.stderr
