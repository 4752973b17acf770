"""OpenNMT's own data-parallel training (world_size 2, torch.distributed over gloo) on CPU (issue 19).

Two ranks, one batch each per step, against one process that accumulates the same two batches
(accum_count 2). The data is built so that both runs see exactly the same batches: with 2 ranks, rank r
reads the lines i with (i // 2) % 2 == r (OpenNMT's stride/offset: pairs of lines, alternately), so
lines 0, 1, 4, 5 are the 4 shortest sources and lines 2, 3, 6, 7 the 4 longest; the single process sorts
its 8-example bucket by length and so batches the same two halves.

OpenNMT 3.5.1 divides each rank's loss by the normalisation summed over ranks *and* divides the
all-reduced gradients by world_size (``Trainer._gradient_accumulation``), so a rank's update is
1/world_size of the single-process one. The distributed runs here use SGD with world_size × the
learning rate, so that, if the aux losses enter each rank's objective exactly as on one process, the
parameters after every step are the same as the single process's.
"""

import collections
import csv
import os
import subprocess
import sys

import pytest
import torch
import yaml

from tests.conftest import FIXTURES, ROOT

DATA = os.path.join(FIXTURES, "tiny_corpus", "data")
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
TRAIN = os.path.join(os.path.dirname(sys.executable), "onmt_train")
LR = 0.5


def _lines(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read().splitlines()


def _write_data(d):
    """8 training pairs, rank 0's lines the 4 shortest sources, rank 1's the 4 longest; vocab files."""
    pairs = sorted(zip(_lines("src-train.txt"), _lines("tgt-train.txt")), key=lambda p: len(p[0].split()))
    short, long_ = pairs[:4], pairs[-4:]
    order = short[:2] + long_[:2] + short[2:] + long_[2:]
    (d / "src.txt").write_text("\n".join(s for s, _ in order) + "\n")
    (d / "tgt.txt").write_text("\n".join(t for _, t in order) + "\n")
    for side, lines in (("src", [s for s, _ in pairs]), ("tgt", [t for _, t in pairs])):
        counts = collections.Counter(tok for line in lines for tok in line.split())
        (d / f"vocab.{side}").write_text("".join(f"{tok}\t{n}\n" for tok, n in counts.most_common()))


def _config(d, out, **kw):
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "tiny_moe.yaml")))
    cfg.pop("run")
    cfg.update(
        {
            "data": {
                "corpus_1": {"path_src": str(d / "src.txt"), "path_tgt": str(d / "tgt.txt")},
                "valid": {"path_src": f"{DATA}/src-val.txt", "path_tgt": f"{DATA}/tgt-val.txt"},
            },
            "src_vocab": str(d / "vocab.src"),
            "tgt_vocab": str(d / "vocab.tgt"),
            "save_model": str(out / "model"),
            "moe_log_dir": str(out),
            "dropout": [0.0],
            "attention_dropout": [0.0],
            "optim": "sgd",
            "learning_rate": LR,
            "decay_method": "none",
            "max_grad_norm": 0.0,
            "batch_type": "sents",
            "batch_size": 4,
            "bucket_size": 8,
            "accum_count": [2],
            "train_steps": 4,
            "report_every": 1,
            "valid_steps": 4,
            "save_checkpoint_steps": 2,
            "keep_checkpoint": -1,
            "moe_grad_norm_every": 1,
            "moe_lb_coef": "0.5",
            "moe_z_coef": "0.05",  # aux terms large enough to show in the gradients
        }
    )
    cfg.update(kw)
    path = out / "train.yaml"
    out.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


DIST = {
    "world_size": 2,
    "gpu_ranks": [0, 1],
    "gpu_backend": "gloo",
    "moe_cpu_distributed": True,
    "master_port": 29517,
    "accum_count": [1],
    "bucket_size": 4,
    "learning_rate": 2 * LR,
    "timeout": 30,
}


def _train(cfg, *args, module=None, env=None):
    cmd = [sys.executable, "-m", module] if module else [TRAIN]
    return subprocess.run(
        cmd + ["-config", str(cfg), *args], capture_output=True, text=True, env=dict(ENV, **(env or {})), timeout=240
    )


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _close_rows(a_rows, b_rows, cols, scale=None, rel=1e-4):
    assert len(a_rows) == len(b_rows) > 0
    for ra, rb in zip(a_rows, b_rows):
        for c in cols:
            va, vb = ra[c], rb[c]
            try:
                fa, fb = float(va), float(vb) * (scale or {}).get(c, 1.0)
            except ValueError:
                assert va == vb, (c, ra, rb)
                continue
            assert fa == pytest.approx(fb, rel=rel, abs=1e-6), (c, ra, rb)


def _params(path):
    ck = torch.load(path, weights_only=False, map_location="cpu")
    return {**ck["model"], **{"generator." + k: v for k, v in ck["generator"].items()}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not os.path.exists(TRAIN):
        pytest.skip("stock onmt_train not installed")
    d = tmp_path_factory.mktemp("dist")
    _write_data(d)
    single = d / "single"
    r = _train(_config(d, single))
    assert r.returncode == 0, r.stderr[-8000:]
    dist = d / "dist"
    r = _train(_config(d, dist, train_steps=2, **DIST))
    assert r.returncode == 0, r.stderr[-8000:]
    r = _train(_config(d, dist, **DIST), "-train_from", str(dist / "model_step_2.pt"))  # the --resume path
    assert r.returncode == 0, r.stderr[-8000:]
    return d, single, dist


def test_parameters_match_single_process_every_checkpoint(runs):
    _, single, dist = runs
    for step in (2, 4):
        a, b = _params(single / f"model_step_{step}.pt"), _params(dist / f"model_step_{step}.pt")
        assert a.keys() == b.keys()
        router = [k for k in a if "router" in k]
        assert router, "no router parameters in the checkpoint"
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6, msg=k)
    assert sorted(p.name for p in dist.glob("model_step_*.pt")) == ["model_step_2.pt", "model_step_4.pt"]


def test_gradient_norms_are_single_process_over_world_size(runs):
    _, single, dist = runs
    a, b = _rows(single / "grad_norms.csv"), _rows(dist / "grad_norms.csv")
    assert [r["step"] for r in b] == [r["step"] for r in a]  # one row set per step: rank 0 only
    value_cols = [c for c in a[0] if c != "step" and c != "module"]
    _close_rows(a, b, value_cols, scale={c: 2.0 for c in value_cols})


def test_routing_and_aux_logs_reduced_over_ranks(runs):
    _, single, dist = runs
    a, b = _rows(single / "moe_steps.csv"), _rows(dist / "moe_steps.csv")
    assert {int(r["step"]) for r in a} == {1, 2, 3, 4}
    _close_rows(a, b, list(a[0]))
    # the reduction is visible: the summed loads are those of 8 sentences, not of one rank's 4
    assert float(b[0]["load"]) > 0
    a, b = _rows(single / "moe_aux.csv"), _rows(dist / "moe_aux.csv")
    _close_rows(a, b, list(a[0]))


def test_train_and_valid_logs_as_on_one_process(runs):
    _, single, dist = runs
    a, b = _rows(single / "train_steps.csv"), _rows(dist / "train_steps.csv")
    assert [r["step"] for r in b] == ["1", "2", "3", "4"]
    _close_rows(a, b, ["step", "xent", "ppl", "accuracy", "aux_total", "lr"], scale={"lr": 0.5})
    a, b = _rows(single / "valid_summary.csv"), _rows(dist / "valid_summary.csv")
    assert [r["step"] for r in b] == ["4"]
    _close_rows(a, b, list(a[0]))


def test_failure_on_one_rank_stops_the_run_with_its_error(runs, tmp_path):
    d, _, _ = runs
    cfg = _config(d, tmp_path / "fail", **dict(DIST, master_port=29518))
    r = _train(cfg, module="tests.distributed_failing_rank")
    assert r.returncode != 0
    assert "rank 1 fails on purpose at step 2" in r.stderr
    assert not (tmp_path / "fail" / "model_step_2.pt").exists()


def test_ranks_dying_hard_fail_the_run(runs, tmp_path):
    """Upstream exits 0 when the ranks die without a Python exception (patch 15)."""
    d, _, _ = runs
    cfg = _config(d, tmp_path / "exit", **dict(DIST, master_port=29519))
    r = _train(cfg, module="tests.distributed_failing_rank", env={"FAIL_MODE": "exit"})
    assert r.returncode != 0
    assert "rank 0 (pid" in r.stderr and "ended with exit code 3" in r.stderr
