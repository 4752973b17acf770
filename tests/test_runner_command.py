"""One training run as the demos and benchmarks start it (runs.runner.Launch / launch), in this process;
its equivalent start_training command line is printed so a run can be repeated by hand."""

import os

from onmt_moe.runs import runner


def _sets(cmd):
    return [cmd[i + 1] for i, c in enumerate(cmd) if c == "--set"]


def test_command_names_the_run_folder_data_and_sets_in_order(tmp_path):
    run_dir = str(tmp_path / "runs" / "cell")
    job = runner.Launch("c.yaml", run_dir, "corpus/data", ["train_steps=5", "seed=2"], stages=("train",))
    cmd = job.command()
    assert cmd[1] == runner.START_TRAINING and os.path.exists(runner.START_TRAINING)
    assert cmd[cmd.index("--runs_dir") + 1] == str(tmp_path / "runs")
    assert cmd[cmd.index("--run_name") + 1] == "cell"
    assert cmd[cmd.index("--stages") + 1] == "train"
    # the data folder first, so a caller's own run.data_dir in sets would win
    assert _sets(cmd) == job.overrides == ["run.data_dir=corpus/data", "train_steps=5", "seed=2"]
    assert "--resume" not in cmd and "--quiet" in cmd
    assert "--stages" not in runner.Launch("c.yaml", run_dir, "d").command()  # every stage: the default


def test_a_folder_with_a_checkpoint_is_resumed(tmp_path, monkeypatch):
    run_dir = tmp_path / "cell"
    run_dir.mkdir()
    job = runner.Launch("c.yaml", str(run_dir), "d")
    assert not job.resume and "--resume" not in job.command()  # empty folder
    (run_dir / "model_step_500.pt").write_bytes(b"")
    assert job.resume and "--resume" in job.command()
    seen = []
    monkeypatch.setattr(runner, "start", lambda *a: seen.append(a))
    assert runner.launch(job)
    assert seen == [("c.yaml", str(tmp_path), "cell", job.overrides, True, runner.STAGES, True)]


def test_launch_reports_a_failed_run_as_false_with_the_one_line_error(tmp_path, capsys):
    job = runner.Launch(str(tmp_path / "missing.yaml"), str(tmp_path / "runs" / "r"), str(tmp_path))
    assert runner.launch(job) is False
    assert capsys.readouterr().err.startswith("error: ")


def test_launch_runs_in_this_process_while_the_caller_holds_no_lock(tmp_path, monkeypatch):
    """start() takes the run folder's lock itself; a second hold from this process would be refused."""
    run_dir = tmp_path / "runs" / "r"
    held = []
    monkeypatch.setattr(runner, "resolve", lambda c, d, o, resume: {"run_dir": d, "resume": resume})
    monkeypatch.setattr(runner, "execute", lambda plan, stages, echo: held.append(set(runner._HELD_LOCKS)) or {})
    assert runner.launch(runner.Launch("c.yaml", str(run_dir), "d"))
    assert len(held) == 1 and len(held[0]) == 1  # the lock was held during the stages
    assert not runner._HELD_LOCKS  # and released after
    with runner.lock_run_dir(str(run_dir)):  # a caller that holds it gets a one-line refusal, not a hang
        assert runner.launch(runner.Launch("c.yaml", str(run_dir), "d")) is False


def test_the_tasks_of_a_multi_task_run_decode_in_one_call_and_are_cut_back_per_task(tmp_path, monkeypatch):
    """Two tasks, n_best 2: one onmt_translate over both sources with each line's task token as its
    prefix; each task gets its own lines back, the token stripped; a short output is one clear error."""
    import pytest

    sets = {}
    for task, n in (("a", 2), ("b", 1)):
        (tmp_path / f"{task}.src").write_text("".join(f"src {task}{i}\n" for i in range(n)))
        sets[task] = (str(tmp_path / f"{task}.src"), None, str(tmp_path / "pred" / task / "test.txt"), "text")
    calls = []

    def fake(cmd, log, echo):
        calls.append(cmd)
        prefixes = open(cmd[cmd.index("-tgt") + 1]).read().split()
        out = "".join(f"{p} hyp{i}.{k}\n" for i, p in enumerate(prefixes) for k in range(2))
        open(cmd[cmd.index("-output") + 1], "w").write(out)

    monkeypatch.setattr(runner, "run_logged", fake)
    prefixes = {"a": "<TASK_A>", "b": "<TASK_B>"}
    runner._translate_tasks_at_once(["onmt_translate"], sets, prefixes, 2, "log", False)
    assert len(calls) == 1 and open(calls[0][calls[0].index("-tgt") + 1]).read().split() == ["<TASK_A>"] * 2 + [
        "<TASK_B>"
    ]
    assert (tmp_path / "pred" / "a" / "test.txt").read_text().split("\n")[:4] == [
        "hyp0.0",
        "hyp0.1",
        "hyp1.0",
        "hyp1.1",
    ]
    assert (tmp_path / "pred" / "b" / "test.txt").read_text().splitlines() == ["hyp2.0", "hyp2.1"]
    assert (tmp_path / "pred" / "b" / "test.prefixed.txt").read_text().startswith("<TASK_B> hyp2.0")
    with pytest.raises(runner.StageError, match="expected 3 per source"):
        runner._translate_tasks_at_once(["onmt_translate"], sets, prefixes, 3, "log", False)
