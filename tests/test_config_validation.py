"""start_training refuses misspelled keys and bad values before any work starts."""
import os
import subprocess
import sys

import pytest
import yaml

from onmt_moe import runner
from tests.conftest import FIXTURES, ROOT

TINY = os.path.join(ROOT, "configs", "tiny_moe.yaml")


def _write(tmp_path, **changes):
    cfg = yaml.safe_load(open(TINY))
    cfg["run"]["data_dir"] = os.path.join(FIXTURES, "tiny_corpus", "data")
    cfg.update(changes)
    p = tmp_path / "cfg.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def test_misspelled_key_is_refused_with_suggestion(tmp_path):
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path, moe_num_expert=8, lerning_rate=1.0), str(tmp_path / "run"))
    msg = str(exc.value)
    assert "unknown key 'moe_num_expert'" in msg and "moe_num_experts" in msg
    assert "unknown key 'lerning_rate'" in msg and "learning_rate" in msg


@pytest.mark.parametrize("key,value,needle", [
    ("moe_top_k", "two", "moe_top_k"),
    ("moe_overflow", "spill", "moe_overflow"),
    ("optim", "sgdd", "optim"),
])
def test_bad_values_are_refused(tmp_path, key, value, needle):
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path, **{key: value}), str(tmp_path / "run"))
    assert needle in str(exc.value)


def test_managed_keys_and_missing_data_are_refused(tmp_path):
    with pytest.raises(runner.ConfigError, match="filled in by start_training"):
        runner.resolve(_write(tmp_path, save_model="x"), str(tmp_path / "run"))
    bad = _write(tmp_path)
    with pytest.raises(runner.ConfigError, match="missing"):
        runner.resolve(bad, str(tmp_path / "run"), runner.parse_set(["run.data_dir=/nonexistent"]))


def test_dry_run_cli_prints_plan_and_runs_nothing(tmp_path):
    cfg = _write(tmp_path)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "benchmark", "start_training.py"), "--config", cfg,
                        "--runs_dir", str(tmp_path / "runs"), "--run_name", "x", "--dry_run",
                        "--set", "moe_top_k=1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "config valid" in r.stdout and '"moe_top_k": 1' in r.stdout
    assert not (tmp_path / "runs" / "x").exists()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "benchmark", "start_training.py"), "--config", cfg,
                        "--runs_dir", str(tmp_path / "runs"), "--dry_run", "--set", "moe_topk=1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "did you mean" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("sets,needle", [
    (["run.kind=wurc"], "run.kind: 'wurc' is not one of smiles, wurcs, spectrum"),
    (["run.missing_mode=blank"], "run.missing_mode"),
    (["run.dat_dir=x"], "did you mean: run.data_dir"),
    (["run.translate=5"], "run.translate"),
])
def test_run_section_is_checked_before_training(tmp_path, sets, needle):
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(sets))
    assert needle in str(exc.value)
    plan = runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(["run.kind=spectrum"]))
    assert plan["kind"] == "spectrum"
