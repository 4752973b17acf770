"""The one start_training command line shared by the demos and benchmarks (runs.runner)."""

import os

from onmt_moe.runs import runner


def _sets(cmd):
    return [cmd[i + 1] for i, c in enumerate(cmd) if c == "--set"]


def test_command_names_the_run_folder_data_and_sets_in_order(tmp_path):
    run_dir = str(tmp_path / "runs" / "cell")
    cmd = runner.start_training_command("c.yaml", run_dir, "corpus/data", ["train_steps=5", "seed=2"], stages="train")
    assert cmd[1] == runner.START_TRAINING and os.path.exists(runner.START_TRAINING)
    assert cmd[cmd.index("--runs_dir") + 1] == str(tmp_path / "runs")
    assert cmd[cmd.index("--run_name") + 1] == "cell"
    assert cmd[cmd.index("--stages") + 1] == "train"
    # the data folder first, so a caller's own run.data_dir in sets would win
    assert _sets(cmd) == ["run.data_dir=corpus/data", "train_steps=5", "seed=2"]
    assert "--resume" not in cmd and "--quiet" in cmd


def test_a_folder_with_a_checkpoint_is_resumed(tmp_path):
    run_dir = tmp_path / "cell"
    run_dir.mkdir()
    assert "--resume" not in runner.start_training_command("c.yaml", str(run_dir), "d")  # empty folder
    (run_dir / "model_step_500.pt").write_bytes(b"")
    assert "--resume" in runner.start_training_command("c.yaml", str(run_dir), "d")
