"""Anomaly report tests, with a small synthetic-run generator (also used by
tests/test_plots.py)."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from onmt_moe.diagnostics.anomaly import RunDataError, analyze_run, format_report, main, should_fail
from onmt_moe.runfolder import layout
from onmt_moe.runfolder.csvlog import CsvLog

# the columns the plugin writes (one definition, in the run-folder layer)
TRAIN_COLS, VALID_COLS, MOE_COLS = layout.TRAIN_COLUMNS, layout.VALID_COLUMNS, layout.MOE_COLUMNS
AUX_COLS, GRAD_COLS = layout.AUX_COLUMNS, layout.GRAD_COLUMNS
MODALITIES = ["NMR", "IR", "MS", "FORMULA"]
GRAD_MODULES = [
    "encoder.transformer.0.feed_forward",
    "encoder.transformer.0.self_attn",
    "encoder.transformer.1.feed_forward",
    "decoder.transformer_layers.0.self_attn",
    "decoder.transformer_layers.1.self_attn",
    "generator",
]

ISSUES = {"nan_loss", "expert_collapse", "cv_explosion", "stalled_valid", "throughput_drop", "bad_grads", "dense"}


def make_run(run_dir, issues=(), n_points=60, every=10, layers=2, experts=4, seed=0):  # noqa: C901 - one branch per injected issue
    """Write a synthetic run folder; ``issues`` picks injected problems from ISSUES.

    Problems start at fixed log points so tests can check the reported ranges:
    nan_loss (points 40-42), expert_collapse (layer 1 expert 2 from point 30),
    cv_explosion (layer 0 from point 35), stalled_valid (valid ppl flat after the
    4th validation), throughput_drop (30% from point 40), bad_grads
    (encoder.transformer.0.feed_forward -> 1e-9 from point 30,
    decoder.transformer_layers.1.self_attn -> 1e5 from point 45), dense (no MoE files).
    """
    issues = set(issues)
    assert issues <= ISSUES, issues - ISSUES
    rng = np.random.default_rng(seed)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = [every * (i + 1) for i in range(n_points)]

    train = []
    for i, s in enumerate(steps):
        xent = 1.0 + 3.0 * math.exp(-s / 200.0) + rng.normal(0, 0.02)
        if "nan_loss" in issues and 40 <= i <= 42:
            xent = float("nan")
        tok = 5000.0 * (1 + rng.normal(0, 0.03))
        if "throughput_drop" in issues and i >= 40:
            tok *= 0.3
        train.append(
            {
                "step": s,
                "xent": xent,
                "ppl": math.exp(xent) if math.isfinite(xent) else float("nan"),
                "accuracy": 100 * (1 - math.exp(-s / 300)) if math.isfinite(xent) else float("nan"),
                "lr": 2.0 * min(s**-0.5, s * 100**-1.5) / 16,
                "src_tok_per_s": tok,
                "tgt_tok_per_s": 0.4 * tok,
                "elapsed_s": s * 0.1,
                "aux_total": None if "dense" in issues else 0.01 + rng.normal(0, 0.001),
            }
        )
    CsvLog(run_dir / "train_steps.csv", TRAIN_COLS).append(train)

    valid = []
    vsteps = steps[4::5]
    for j, s in enumerate(vsteps):
        ppl = 2.0 + 30.0 * math.exp(-s / 150.0)
        if "stalled_valid" in issues and j >= 4:
            ppl = 2.0 + 30.0 * math.exp(-vsteps[3] / 150.0) + 0.01 * j
        valid.append({"step": s, "xent": math.log(ppl), "ppl": ppl, "accuracy": 50 + j})
    CsvLog(run_dir / "valid_summary.csv", VALID_COLS).append(valid)

    if "dense" not in issues:
        moe, aux = [], []
        for i, s in enumerate(steps):
            for layer in range(layers):
                frac = np.full(experts, 1.0 / experts) + rng.normal(0, 0.01, experts)
                ent = 0.8 + rng.normal(0, 0.01)
                if "expert_collapse" in issues and layer == 1 and i >= 30:
                    frac[2] = 1e-5
                    ent = 0.01
                if "cv_explosion" in issues and layer == 0 and i >= 35:
                    frac = np.array([0.85] + [0.15 / (experts - 1)] * (experts - 1))
                frac = np.clip(frac, 0, None)
                frac /= frac.sum()
                cv = float(frac.std() / frac.mean())
                mom = float(frac.max() / frac.mean())
                for e in range(experts):
                    common = {
                        "step": s,
                        "layer": layer,
                        "expert": e,
                        "overflow_frac": 0.01,
                        "entropy_norm": ent,
                        "cv": cv,
                        "max_over_mean": mom,
                        "router_confidence": 0.6,
                        "temperature": 1.0,
                        "k": 2,
                    }
                    moe.append(
                        {
                            **common,
                            "modality": "all",
                            "load": frac[e] * 2000,
                            "load_frac": frac[e],
                            "importance": frac[e] * 1000,
                            "importance_frac": frac[e],
                        }
                    )
                    for m_i, m in enumerate(MODALITIES):
                        # each modality prefers a different expert
                        mf = np.full(experts, 0.5 / (experts - 1))
                        mf[(m_i + layer) % experts] = 0.5
                        mf = mf * frac * experts
                        mf = mf / mf.sum()
                        moe.append(
                            {
                                **common,
                                "modality": m,
                                "load": mf[e] * 500,
                                "load_frac": mf[e],
                                "importance": mf[e] * 250,
                                "importance_frac": mf[e],
                            }
                        )
            for comp, coef, raw in (
                ("load_balance", 0.01, 1.0 + 0.05 * rng.normal()),
                ("z_loss", 0.001, 2.0 * math.exp(-s / 300)),
            ):
                aux.append({"step": s, "component": comp, "raw": raw, "coef": coef, "weighted": raw * coef})
        CsvLog(run_dir / "moe_steps.csv", MOE_COLS).append(moe)
        CsvLog(run_dir / "moe_aux.csv", AUX_COLS).append(aux)

    grads = []
    for i, s in enumerate(steps):
        total = 0.0
        for m in GRAD_MODULES:
            g = 0.5 * (1 + rng.normal(0, 0.05))
            if "bad_grads" in issues and m == "encoder.transformer.0.feed_forward" and i >= 30:
                g = 1e-9
            if "bad_grads" in issues and m == "decoder.transformer_layers.1.self_attn" and i >= 45:
                g = 1e5
            total += g * g
            grads.append({"step": s, "module": m, "grad_norm": g})
        grads.append({"step": s, "module": "total", "grad_norm": math.sqrt(total)})
    CsvLog(run_dir / "grad_norms.csv", GRAD_COLS).append(grads)
    return run_dir


def kinds(report, severity=None):
    return {f["kind"] for f in report["findings"] if severity is None or f["severity"] == severity}


def test_healthy_run_has_no_errors_or_warnings(tmp_path):
    rep = analyze_run(make_run(tmp_path / "ok"))
    assert rep["counts"]["error"] == 0 and rep["counts"]["warning"] == 0, format_report(rep)
    assert rep["status"] == "ok"
    assert rep["files"]["moe_steps.csv"]["status"] == "ok"
    assert rep["files"]["train_steps.csv"]["steps"] == [10, 600]


def test_nan_loss_is_an_error_with_first_step(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["nan_loss"]))
    nan = [f for f in rep["findings"] if f["kind"] == "non_finite"]
    assert nan and all(f["severity"] == "error" for f in nan)
    xent = [f for f in nan if "'xent'" in f["message"]][0]
    assert xent["step_range"] == [410, 430]
    assert "first at step 410" in xent["message"]


def test_expert_collapse_and_entropy(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["expert_collapse"]))
    col = [f for f in rep["findings"] if f["kind"] == "expert_collapse"]
    assert len(col) == 1
    assert (col[0]["layer"], col[0]["expert"], col[0]["severity"]) == (1, 2, "error")
    assert col[0]["step_range"] == [310, 600]
    assert "ongoing" in col[0]["message"]
    ent = [f for f in rep["findings"] if f["kind"] == "routing_entropy_collapse"]
    assert [f["layer"] for f in ent] == [1]
    # a window longer than the collapse hides it
    rep = analyze_run(tmp_path / "r", window=40)
    assert "expert_collapse" not in kinds(rep)


def test_cv_explosion(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["cv_explosion"]))
    imb = [f for f in rep["findings"] if f["kind"] == "load_imbalance"]
    assert [f["layer"] for f in imb] == [0]
    assert imb[0]["step_range"] == [360, 600] and imb[0]["severity"] == "warning"
    # a looser limit suppresses it
    rep = analyze_run(tmp_path / "r", cv_max=5.0, max_over_mean_max=10.0)
    assert "load_imbalance" not in kinds(rep)


def test_stalled_validation(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["stalled_valid"]))
    st = [f for f in rep["findings"] if f["kind"] == "stalled_validation"]
    assert len(st) == 1 and st[0]["severity"] == "warning"
    assert st[0]["step_range"] == [200, 600]
    rep = analyze_run(tmp_path / "r", stall_patience=20)
    assert "stalled_validation" not in kinds(rep)


def test_throughput_drop(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["throughput_drop"]))
    tp = [f for f in rep["findings"] if f["kind"] == "throughput_drop" and f["severity"] == "warning"]
    assert len(tp) == 1
    # dropped points are kept out of the baseline, so the drop stays flagged
    assert tp[0]["step_range"] == [410, 600]
    assert "ongoing" in tp[0]["message"] and "30%" in tp[0]["message"]
    # a short dip is only info
    rep = analyze_run(tmp_path / "r", window=30)
    assert "throughput_drop" in kinds(rep, "info") and "throughput_drop" not in kinds(rep, "warning")


def test_bad_gradients(tmp_path):
    rep = analyze_run(make_run(tmp_path / "r", ["bad_grads"]))
    van = [f for f in rep["findings"] if f["kind"] == "vanishing_gradients"]
    exp = [f for f in rep["findings"] if f["kind"] == "exploding_gradients"]
    assert [f["module"] for f in van] == ["encoder.transformer.0.feed_forward"]
    assert van[0]["step_range"] == [310, 600]
    assert {f["module"] for f in exp} == {"decoder.transformer_layers.1.self_attn", "total"}
    assert "gradient_spike" in kinds(rep, "info")


def test_aux_loss_dominating(tmp_path):
    run = make_run(tmp_path / "r", n_points=20)
    path = run / "train_steps.csv"
    lines = path.read_text().splitlines()
    # last 8 logged steps: aux_total (last column) = 3.0, larger than xent
    lines = lines[:-8] + [",".join(ln.split(",")[:-1] + ["3.0"]) for ln in lines[-8:]]
    path.write_text("\n".join(lines) + "\n")
    rep = analyze_run(run)
    aux = [f for f in rep["findings"] if f["kind"] == "aux_loss_dominates"]
    assert len(aux) == 1 and aux[0]["step_range"] == [130, 200]
    assert "aux_loss_dominates" not in kinds(analyze_run(run, aux_ratio_max=5.0))


def test_duplicate_steps_after_unclean_resume(tmp_path):
    run = make_run(tmp_path / "r", n_points=20)
    log = CsvLog(run / "train_steps.csv", TRAIN_COLS)
    log.append([{"step": s, "xent": 1.5, "ppl": math.exp(1.5)} for s in (150, 160)])
    rep = analyze_run(run)
    dup = [f for f in rep["findings"] if f["kind"] == "duplicate_steps"]
    assert len(dup) == 1 and "train_steps.csv" in dup[0]["message"]
    assert dup[0]["step_range"] == [150, 160]
    log.truncate_after_step(140)
    assert "duplicate_steps" not in kinds(analyze_run(run))


def test_dense_run_notes_missing_moe_files(tmp_path):
    rep = analyze_run(make_run(tmp_path / "d", ["dense"]))
    assert rep["counts"]["error"] == 0 and rep["counts"]["warning"] == 0
    assert rep["files"]["moe_steps.csv"] == {"status": "missing"}
    assert any("moe_steps.csv" in f["message"] for f in rep["findings"] if f["kind"] == "missing_file")


def test_corrupt_and_missing_inputs(tmp_path, capsys):
    run = make_run(tmp_path / "r")
    (run / "moe_aux.csv").write_text("")
    (run / "valid_summary.csv").write_text("step,xent\n1,2,3,4\n")
    rep = analyze_run(run)
    bad = [f for f in rep["findings"] if f["kind"] == "unreadable_file"]
    assert {Path(f["message"].split(":")[0]).name for f in bad} == {"moe_aux.csv", "valid_summary.csv"}
    assert all(f["severity"] == "error" for f in bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    rep = analyze_run(empty)
    assert "missing_file" in kinds(rep, "warning")
    with pytest.raises(RunDataError, match="nope"):
        analyze_run(tmp_path / "nope")
    assert main([str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope" in err
    with pytest.raises(TypeError):
        analyze_run(run, not_a_threshold=1)


def test_cli_writes_reports_and_exit_codes(tmp_path, capsys):
    run = make_run(tmp_path / "r", ["nan_loss", "stalled_valid"])
    out_json = tmp_path / "x" / "out.json"
    assert main([str(run), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "ERROR" in printed and "non_finite" in printed
    assert (run / "anomaly_report.txt").read_text() == printed
    data = json.loads((run / "anomaly_report.json").read_text())
    assert data == json.loads(out_json.read_text())
    assert data["counts"]["error"] >= 1
    assert main([str(run), "--fail_on", "error", "--quiet"]) == 1
    assert main([str(run), "--fail_on", "warning", "--quiet"]) == 1
    ok = make_run(tmp_path / "ok")
    assert main([str(ok), "--fail_on", "warning", "--quiet"]) == 0
    assert should_fail({"findings": [{"severity": "info"}]}, "warning") is False


def test_script_entry_point(tmp_path, monkeypatch, capsys):
    import runpy

    run = make_run(tmp_path / "r", ["expert_collapse"])
    script = Path(__file__).resolve().parents[1] / "scripts" / "anomaly_report.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(run), "--fail_on", "error", "--window", "3"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(script), run_name="__main__")
    assert info.value.code == 1
    assert "expert_collapse" in capsys.readouterr().out
    assert json.loads((run / "anomaly_report.json").read_text())["thresholds"]["window"] == 3
