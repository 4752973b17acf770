"""``scripts/analyze_model.py --run RUN_DIR`` (``make analyze``): the analysis tools on a run folder in
one command. The run folder is written by hand: a tiny MoE checkpoint built with OpenNMT's model
builder (as in tests/test_analysis.py) and a hand-written ``grad_norms.csv`` whose numbers the gradient
summary must reproduce."""

import math
import os
import runpy
import sys

import pytest

from onmt_moe.diagnostics.analysis import main
from onmt_moe.diagnostics.run_analysis import gradient_summary
from onmt_moe.runfolder.csvlog import read_csv
from tests.conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "analyze_model.py")
ENC = "encoder.transformer.0.feed_forward"
DEC = "decoder.transformer_layers.0.feed_forward"
# step, module, grad_norm: step 3 has a non-finite total and encoder norm; step 4 an exploding decoder norm
GRAD_ROWS = [
    (1, "total", 2.0),
    (1, ENC, 1.5),
    (1, DEC, 0.5),
    (2, "total", 4.0),
    (2, ENC, 3.0),
    (2, DEC, 0.25),
    (3, "total", math.inf),
    (3, ENC, math.nan),
    (3, DEC, 0.75),
    (4, "total", 3.0),
    (4, ENC, 2.5),
    (4, DEC, 5000.0),
]


def _tiny_moe_checkpoint(path):
    """A genuine OpenNMT checkpoint of a 1-layer MoE encoder (4 experts, top-2) with a glycan-style
    source vocabulary."""
    from tests.helpers_onmt import tiny_checkpoint

    settings = dict(enc_layers=1, dec_layers=1, hidden_size=16, word_vec_size=16, heads=2, transformer_ff=32)
    settings |= dict(encoder_type="moe_transformer", decoder_type="transformer", moe_num_experts=4, moe_top_k=2)
    settings |= dict(position_encoding=True, dropout=[0.0], attention_dropout=[0.0])
    return tiny_checkpoint(path, ["<MS>", "</MS>", "<TEXT>", "</TEXT>"] + [f"MZ_{i}" for i in range(20)], settings)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model_step_4.pt"
    model = _tiny_moe_checkpoint(path)
    return path, sum(p.numel() for p in model.parameters())


def _grad_csv(path, rows=GRAD_ROWS):
    lines = ["step,module,grad_norm"] + [f"{s},{m},{v}" for s, m, v in rows]
    path.write_text("\n".join(lines) + "\n")


def _run_folder(tmp_path, checkpoint, grads=True):
    """A run folder: an older (unreadable) checkpoint, the last one, and grad_norms.csv."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "model_step_2.pt").write_bytes(b"an older checkpoint, never read")
    (run / "model_step_4.pt").write_bytes(checkpoint[0].read_bytes())
    if grads:
        _grad_csv(run / "grad_norms.csv")
    return run


def test_run_writes_parameters_gradients_and_profile_into_analysis(tmp_path, checkpoint, capsys):
    run = _run_folder(tmp_path, checkpoint)
    rc = main(
        ["--run", str(run), "--profile", "--batch_size", "2", "--src_len", "10", "--tgt_len", "5", "--repeats", "1"]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    files = {"params.csv", "params.txt", "gradients.csv", "gradients.txt", "gradient_flags.csv"}
    files |= {"profile.csv", "profile.txt", "summary.txt"}
    assert set(os.listdir(run / "analysis")) == files
    assert "model_step_4.pt (step 4, moe_transformer)" in out  # the last checkpoint, not model_step_2
    # ModelAnalyzer's part: the parameter table, with the MoE block's active parameters
    params = read_csv(run / "analysis" / "params.csv").set_index("name")
    assert params.loc["total", "params"] == checkpoint[1]
    assert params.loc["active_per_token", "params"] < checkpoint[1]
    assert f"total {checkpoint[1]:,}" in out and "1 MoE block, top-2 of 4" in out
    # ModelProfiler's part
    prof = read_csv(run / "analysis" / "profile.csv")
    assert {"model", "encoder", "decoder", "generator"} <= set(prof["module"])
    assert "profile: forward" in out and "backward" in out
    assert (run / "analysis" / "summary.txt").read_text().strip() == out.strip()
    # again without --profile and without the gradient log: the earlier files of those are stale, gone
    (run / "analysis" / "notes.txt").write_text("mine")
    (run / "grad_norms.csv").unlink()
    assert main(["--run", str(run)]) == 0
    left = set(os.listdir(run / "analysis"))
    assert left == {"params.csv", "params.txt", "gradients.txt", "summary.txt", "notes.txt"}


def test_gradient_summary_matches_the_csv_and_flags_bad_steps(tmp_path, checkpoint, capsys):
    run = _run_folder(tmp_path, checkpoint)
    assert main(["--run", str(run)]) == 0
    out = capsys.readouterr().out
    summ = read_csv(run / "analysis" / "gradients.csv").set_index("module")
    assert list(summ.index) == ["total", ENC, DEC]  # total first, then as logged
    enc, dec, total = summ.loc[ENC], summ.loc[DEC], summ.loc["total"]
    # min/median/max over the finite norms; last is the last logged value, finite or not
    assert (enc["min"], enc["median"], enc["max"], enc["last"]) == (1.5, 2.5, 3.0, 2.5)
    assert (dec["min"], dec["median"], dec["max"], dec["last"]) == (0.25, 0.625, 5000.0, 5000.0)
    assert (total["min"], total["median"], total["max"]) == (2.0, 3.0, 4.0)
    assert (enc["steps"], enc["first_step"], enc["last_step"]) == (4, 1, 4)
    assert (enc["nonfinite"], total["nonfinite"], dec["nonfinite"]) == (1, 1, 0)
    assert (dec["exploding"], enc["exploding"]) == (1, 0)
    flags = read_csv(run / "analysis" / "gradient_flags.csv")
    got = [(int(r.step), r.module, r.why) for r in flags.itertuples()]
    assert got == [(3, ENC, "non-finite"), (3, "total", "non-finite"), (4, DEC, "above 1000")]
    assert f"non-finite at step 3 ({ENC}, total)" in out
    assert f"exploding (> 1000) at step 4 ({DEC})" in out
    assert "total norm: min 2  median 3  max 4  last 3" in out


def test_grad_max_moves_the_exploding_threshold(tmp_path):
    import pandas as pd

    df = pd.DataFrame(GRAD_ROWS, columns=["step", "module", "grad_norm"])
    summary, flags = gradient_summary(df, grad_max=2.0)
    exploding = summary.set_index("module")["exploding"]
    # strictly above 2: total 4 and 3 (inf is non-finite, not exploding); encoder 3 and 2.5; decoder 5000
    assert (exploding["total"], exploding[ENC], exploding[DEC]) == (2, 2, 1)
    assert set(flags["why"]) == {"non-finite", "above 2"}


def test_a_run_without_gradient_norms_says_so_and_names_the_option(tmp_path, checkpoint, capsys):
    run = _run_folder(tmp_path, checkpoint, grads=False)
    assert main(["--run", str(run)]) == 0
    out = capsys.readouterr().out
    assert "no grad_norms.csv" in out and "moe_grad_norm_every" in out
    assert not (run / "analysis" / "gradients.csv").exists()
    assert "moe_grad_norm_every" in (run / "analysis" / "gradients.txt").read_text()
    (run / "grad_norms.csv").write_text("step,module,grad_norm\n")  # header only: logging on, no row yet
    assert main(["--run", str(run)]) == 0
    assert "grad_norms.csv has no rows yet" in capsys.readouterr().out


def _one_error_line(capsys, *names):
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    assert "Traceback" not in cap.err and all(n in lines[0] for n in names), lines[0]
    return lines[0]


def test_bad_run_folders_are_one_line_and_rc_2(tmp_path, checkpoint, capsys):
    missing = tmp_path / "nope"
    assert main(["--run", str(missing)]) == 2
    _one_error_line(capsys, str(missing), "no such run folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--run", str(empty)]) == 2
    _one_error_line(capsys, str(empty), "no checkpoint")
    run = _run_folder(tmp_path, checkpoint)
    (run / "grad_norms.csv").write_text("step,module\n1,total\n")  # a column missing
    assert main(["--run", str(run)]) == 2
    _one_error_line(capsys, str(run / "grad_norms.csv"), "grad_norm")
    _grad_csv(run / "grad_norms.csv", [(1, "total", 1.0), (2, "total", "oops")])
    assert main(["--run", str(run)]) == 2
    _one_error_line(capsys, f"{run / 'grad_norms.csv'}:3", "oops")
    _grad_csv(run / "grad_norms.csv")
    (run / "model_step_6.pt").write_bytes(b"cut short")  # the last checkpoint is unreadable
    assert main(["--run", str(run)]) == 2
    _one_error_line(capsys, str(run / "model_step_6.pt"))
    assert not (run / "analysis").exists()  # nothing written before the inputs are known good


def test_exactly_one_of_checkpoint_or_run(tmp_path, checkpoint, capsys):
    for argv in ([], [str(checkpoint[0]), "--run", str(tmp_path)], ["--run", str(tmp_path), "--csv", "x.csv"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "Traceback" not in capsys.readouterr().err


def test_the_script_and_the_make_target(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [SCRIPT, "--run", str(tmp_path / "missing_run")])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(SCRIPT, run_name="__main__")
    assert info.value.code == 2
    _one_error_line(capsys, "missing_run")
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as fh:
        make = fh.read()
    phony = next(ln for ln in make.splitlines() if ln.startswith(".PHONY:"))
    assert " analyze " in phony + " "
    assert "scripts/analyze_model.py --run $(RUN)" in make and "--profile" in make
