"""start_training refuses misspelled keys and bad values before any work starts."""

import os
import subprocess
import sys

import pytest
import yaml

from onmt_moe.runs import runner
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


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("moe_top_k", "two", "moe_top_k"),
        ("moe_overflow", "spill", "moe_overflow"),
        ("optim", "sgdd", "optim"),
    ],
)
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
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "start_training.py"),
            "--config",
            cfg,
            "--runs_dir",
            str(tmp_path / "runs"),
            "--run_name",
            "x",
            "--dry_run",
            "--set",
            "moe_top_k=1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "config valid" in r.stdout and '"moe_top_k": 1' in r.stdout
    assert not (tmp_path / "runs" / "x").exists()
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "start_training.py"),
            "--config",
            cfg,
            "--runs_dir",
            str(tmp_path / "runs"),
            "--dry_run",
            "--set",
            "moe_topk=1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "did you mean" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "sets,needle",
    [
        (["run.kind=wurc"], "run.kind: 'wurc' is not one of smiles, wurcs, spectrum"),
        (["run.missing_mode=blank"], "run.missing_mode"),
        (["run.dat_dir=x"], "did you mean: run.data_dir"),
        (["run.translate=5"], "run.translate"),
    ],
)
def test_run_section_is_checked_before_training(tmp_path, sets, needle):
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(sets))
    assert needle in str(exc.value)
    plan = runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(["run.kind=spectrum"]))
    assert plan["kind"] == "spectrum"


# ----------------------------------------------------------------------------- issue 12
@pytest.mark.parametrize(
    "sets,needle",
    [
        (["encoder_type=foo"], "encoder_type: 'foo' is not one of"),
        (["decoder_type=bar"], "decoder_type: 'bar' is not one of"),
        (["train_steps=10.5"], "train_steps: 10.5 is not a valid int"),
        (["moe_top_k=9"], "-moe_top_k: must be in [1, moe_num_experts=4], got 9"),
        (["moe_num_experts=0"], "-moe_num_experts: must be >= 1, got 0"),
        (["moe_router_temperature=linear:2:1"], "moe_router_temperature"),
        (["use_ckpting=[ffn]"], "moe_transformer does not support use_ckpting: [ffn]"),
        (
            ["run.translate.beam_sizee=7"],
            "unknown key 'run.translate.beam_sizee' (did you mean: run.translate.beam_size",
        ),
        (["run.translate.beam_size=many"], "run.translate.beam_size: 'many' is not a valid int"),
        (["run.translate.model=x.pt"], "run.translate.model: filled in by start_training"),
        (["src_seq_length_trunc=100"], "src_seq_length_trunc: declared by OpenNMT 3.5.1 but never used"),
        (
            ["src_seq_length=100"],
            "src_seq_length: has no effect without the filtertoolong transform; add filtertoolong to transforms",
        ),
        (["moe_log_dir=/tmp/elsewhere"], "filled in by start_training"),
    ],
)
def test_issue12_refused_at_dry_run(tmp_path, sets, needle):
    """Issue 12 items 4 and 9: values OpenNMT accepts at parse time but fails on (or ignores) later."""
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(sets))
    assert needle in str(exc.value)


def test_issue12_valid_neighbours_still_pass(tmp_path):
    """The checks above do not refuse what is fine: an integral float, lengths with their transform,
    a known translate key, use_ckpting of attention only, a dense encoder with moe knobs left alone."""
    sets = [
        "train_steps=10.0",
        "transforms=[filtertoolong]",
        "src_seq_length=100",
        "run.translate.beam_size=2",
        "use_ckpting=[mha]",
        "moe_top_k=4",
    ]
    plan = runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set(sets))
    assert plan["translate_config"]["beam_size"] == 2
    dense = os.path.join(ROOT, "configs", "tiny_dense.yaml")
    runner.resolve(dense, str(tmp_path / "run2"), runner.parse_set(["moe_top_k=9"]))  # not an MoE encoder


def test_issue12_empty_override_is_refused(tmp_path):
    """Issue 12 item 6: `--set moe_num_experts=` used to become null, i.e. OpenNMT's default 8."""
    with pytest.raises(runner.ConfigError, match="empty value for moe_num_experts"):
        runner.parse_set(["moe_num_experts="])
    with pytest.raises(runner.ConfigError, match="empty value for run.data_dir"):
        runner.parse_set(["run.data_dir= "])
    assert runner.parse_set(["moe_num_experts=null"]) == [("moe_num_experts", None)]


def test_issue12_yaml_error_names_line_and_column(tmp_path):
    """Issue 12 item 14: a YAML error names the line and column."""
    p = tmp_path / "bad.yaml"
    p.write_text("encoder_type: transformer\nlayers: [1, 2\nheads: 2\n")
    with pytest.raises(runner.ConfigError) as exc:
        runner.load_template(str(p))
    msg = str(exc.value)
    assert str(p) in msg and "line 3, column" in msg


def test_issue12_template_data_dir_does_not_depend_on_cwd(tmp_path, monkeypatch):
    """Issue 12 item 14: a shipped config's relative run.data_dir resolves from the config's own
    folder upwards (the repository), from any current directory; --set paths stay cwd-relative."""
    monkeypatch.chdir(tmp_path)
    plan = runner.resolve(TINY, str(tmp_path / "run"))
    assert plan["data_dir"] == os.path.join(FIXTURES, "tiny_corpus", "data")
    (tmp_path / "mine").mkdir()
    for name in ("src-train", "tgt-train", "src-val", "tgt-val", "src-test", "tgt-test"):
        (tmp_path / "mine" / f"{name}.txt").write_text("C\n")
    plan = runner.resolve(TINY, str(tmp_path / "run"), runner.parse_set(["run.data_dir=mine"]))
    assert plan["data_dir"] == str(tmp_path / "mine")


def test_issue12_empty_split_is_refused(tmp_path):
    """Issue 12 item 10: a 0-row (or all-rejected) corpus is refused before any work."""
    d = tmp_path / "corpus"
    d.mkdir()
    for name in ("src-train", "tgt-train", "src-val", "tgt-val", "src-test", "tgt-test"):
        (d / f"{name}.txt").write_text("")
    with pytest.raises(runner.ConfigError) as exc:
        runner.resolve(_write(tmp_path), str(tmp_path / "run"), runner.parse_set([f"run.data_dir={d}"]))
    assert "empty split file(s) src-train.txt" in str(exc.value)
