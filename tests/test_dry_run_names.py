"""--dry_run refuses plugin options that name task tokens or modality tags the corpus lacks (issue 36 item 10).

Before, ``moe_task_loss_weights=TASK_FOO=1`` and ``moe_contrastive_pairs=MS:NOPE`` passed the dry run
and ``onmt_train`` failed with a traceback after the vocabulary stage.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SAMPLE = os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet")
START = os.path.join(ROOT, "benchmark", "start_training.py")
CONFIG = os.path.join(ROOT, "configs", "glycan_multitask.yaml")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        "generate_glycan_input", os.path.join(ROOT, "benchmark", "generate_glycan_input.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path_factory.mktemp("mt")
    mod.main(["--input", SAMPLE, "--out_dir", str(out), "--text", "--multitask", "struct,spec,text,align"])
    return out / "data"


def _dry_run(corpus, tmp_path, *sets):
    argv = [sys.executable, START, "--config", CONFIG, "--runs_dir", str(tmp_path), "--run_name", "r", "--dry_run"]
    argv += ["--set", f"run.data_dir={corpus}"]
    for s in sets:
        argv += ["--set", s]
    return subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))


def _refused(res, *words):
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in res.stderr, res.stderr


def test_unknown_task_in_task_loss_weights(corpus, tmp_path):
    _refused(_dry_run(corpus, tmp_path, "moe_task_loss_weights=TASK_FOO=1"), "TASK_FOO", "TASK_STRUCT")


def test_malformed_task_loss_weights(corpus, tmp_path):
    _refused(_dry_run(corpus, tmp_path, "moe_task_loss_weights=TASK_SPEC=lots"), "moe_task_loss_weights")


def test_unknown_modality_in_contrastive_pairs(corpus, tmp_path):
    res = _dry_run(corpus, tmp_path, "moe_contrastive_coef=0.1", "moe_contrastive_pairs=MS:NOPE")
    _refused(res, "NOPE", "moe_contrastive")


def test_valid_names_pass(corpus, tmp_path):
    res = _dry_run(
        corpus,
        tmp_path,
        "moe_task_loss_weights=TASK_ALIGN=0,TASK_SPEC=0.5",
        "moe_contrastive_coef=0.1",
        "moe_contrastive_pairs=MS:WURCS,TEXT:WURCS",
        "moe_contrastive_hard_key=MS",
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    "setting,needle",
    [
        ("struct_loss_weights=sugar=2", "sugar"),
        ("struct_loss_weights=linkage=-1", "struct_loss_weights"),
        ("struct_loss_weights=linkage", "struct_loss_weights"),
        ("moe_grad_norm_every=-5", "moe_grad_norm_every"),
    ],
)
def test_loss_and_hook_options_are_checked(corpus, tmp_path, setting, needle):
    _refused(_dry_run(corpus, tmp_path, setting), needle)


def test_valid_loss_options_pass(corpus, tmp_path):
    res = _dry_run(corpus, tmp_path, "struct_loss_weights=linkage=2,monosaccharide=1.5", "moe_grad_norm_every=10")
    assert res.returncode == 0, res.stderr
