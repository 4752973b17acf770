"""onmt_moe.runs.paper_table: aggregation, outputs and the resumable, time-boxed cell loop (no training here;
the cells themselves are ordinary runner.launch runs, tested in test_end_to_end)."""

import csv
import json
import os

import pytest

from onmt_moe.runs import paper_table as pt
from onmt_moe.runs import runner


def _row(inp, model, seed, top1):
    return {
        "input": inp,
        "model": model,
        "seed": seed,
        "steps": 10,
        "top1": top1,
        "top5": top1 + 0.1,
        "top10": top1 + 0.2,
        "invalid": 0.1,
        "formula_top1": top1,
        "train_tok_per_s": 100.0,
        "params_total": 10,
        "params_active": 5,
        "train_seconds": 1.0,
        "run_dir": "x",
    }


def test_summary_mean_and_spread_over_seeds():
    rows = [_row("NMR", "dense", 1, 0.2), _row("NMR", "dense", 2, 0.3), _row("NMR", "moe", 1, 0.4)]
    s = {(r["input"], r["model"]): r for r in pt.summary_rows(rows)}
    assert abs(s["NMR", "dense"]["top1"] - 0.25) < 1e-12 and abs(s["NMR", "dense"]["top1_spread"] - 0.1) < 1e-12
    assert s["NMR", "moe"]["top1_spread"] is None and s["NMR", "moe"]["seeds"] == 1


def test_write_outputs_one_csv_row_per_cell(tmp_path):
    rows = [_row(i, m, 1, 0.1) for i in ("NMR", "NMR+IR+MS") for m in ("dense", "moe")]
    path = tmp_path / "res" / "paper_table.csv"
    pt.write_outputs(rows, str(path), str(tmp_path / "p.png"))
    got = list(csv.DictReader(open(path)))
    assert [(r["input"], r["model"]) for r in got] == [(r["input"], r["model"]) for r in rows]
    assert {"input", "model", "top1", "top5", "top10", "seed", "steps"} <= set(got[0])
    assert (tmp_path / "res" / "paper_table.md").read_text().count("\n") == 2 + len(rows)
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_run_table_reads_finished_cells_and_stops_at_the_budget(tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(pt, "build_corpus", lambda data, out, secs, copt: out)

    def fake_cell(data_dir, run_dir, model, seed, steps, extra):
        ran.append(os.path.basename(run_dir))
        os.makedirs(run_dir, exist_ok=True)
        open(os.path.join(run_dir, "scores.json"), "w").write("{}")

    monkeypatch.setattr(pt, "run_cell", fake_cell)
    monkeypatch.setattr(pt, "cell_result", lambda run_dir, i, m, s, n, rep="words", dec="beam": _row(i, m, s, 0.5))
    os.makedirs(tmp_path / "NMR_dense_s1")
    (tmp_path / "NMR_dense_s1" / "scores.json").write_text("{}")  # finished before: read, not re-run
    rows = pt.run_table("d", str(tmp_path), ["NMR", "IR"], ["dense", "moe"], [1], 10)
    assert ran == ["NMR_moe_s1", "IR_dense_s1", "IR_moe_s1"] and len(rows) == 4
    ran.clear()
    msgs = []
    rows = pt.run_table("d", str(tmp_path), ["NMR", "IR", "MS"], ["dense"], [1], 10, max_hours=0.0, log=msgs.append)
    assert ran == [] and len(rows) == 2 and "time budget" in msgs[-1]  # MS would not fit
    msgs.clear()
    rows = pt.run_table(
        "d", str(tmp_path), ["NMR", "MS"], ["dense", "moe"], [1, 2], 10, log=msgs.append, read_only=True
    )
    assert ran == [] and len(rows) == 2  # NMR dense and moe, seed 1: the finished cells only
    assert sum("not finished" in m for m in msgs) == 6
    ran.clear()
    rows = pt.run_table("d", str(tmp_path), ["IR"], ["moe"], [1], 10, representation="values")
    assert ran == ["IR_moe_values_s1"]  # another representation: its own cell, the words cell untouched
    sets = []
    monkeypatch.setattr(pt, "run_cell", lambda data_dir, run_dir, model, seed, steps, extra: sets.append(extra))
    pt.run_table("d", str(tmp_path), ["MS"], ["moe"], [1], 10, extra_sets=["x=1"], representation="values+patches")
    assert sets == [[*pt.REPRESENTATIONS["values+patches"], "x=1"]]


def test_each_decoding_of_a_finished_cell_is_its_own_row_and_read_only_decodes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(pt, "build_corpus", lambda data, out, secs, copt: out)
    monkeypatch.setattr(pt, "run_cell", lambda *a: None)
    monkeypatch.setattr(pt, "cell_result", lambda run_dir, i, m, s, n, rep, dec: dict(_row(i, m, s, 0.5), decoding=dec))
    decoded = []

    def fake_decode(run_dir, data_dir, dec):
        decoded.append(dec)
        if dec != "beam":
            os.makedirs(pt.decoding_dir(run_dir, dec), exist_ok=True)
            open(os.path.join(pt.decoding_dir(run_dir, dec), "scores.json"), "w").write("{}")

    monkeypatch.setattr(pt, "decode_cell", fake_decode)
    os.makedirs(tmp_path / "NMR_moe_s1")
    (tmp_path / "NMR_moe_s1" / "scores.json").write_text("{}")
    os.makedirs(tmp_path / "NMR_moe_s2")
    (tmp_path / "NMR_moe_s2" / "scores.json").write_text("{}")
    rows = pt.run_table("d", str(tmp_path), ["NMR"], ["moe"], [1], 10, decodings=("beam", "formula_beam"))
    assert [r["decoding"] for r in rows] == ["beam", "formula_beam"] and decoded == ["beam", "formula_beam"]
    decoded.clear()
    rows = pt.run_table("d", str(tmp_path), ["NMR"], ["moe"], [1, 2], 10, decodings=pt.DECODINGS, read_only=True)
    assert decoded == [] and [(r["seed"], r["decoding"]) for r in rows] == [
        (1, "beam"),
        (1, "formula_beam"),
        (2, "beam"),
    ]


def test_decode_cell_runs_the_runs_translate_yaml_with_the_decodings_flags_and_scores_it(tmp_path, monkeypatch):
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    run.mkdir()
    (data / "src-test.txt").write_text("<FORMULA> C 2 H 6 O\n<FORMULA> C 3 H 8\n")
    (data / "tgt-test.txt").write_text("C C O\nC C C\n")
    (run / "translate.yaml").write_text("model: m.pt\nn_best: 2\nbeam_size: 2\n")
    calls = []

    def fake_translate(cmd, log, echo):
        calls.append(cmd)
        out = cmd[cmd.index("-output") + 1]
        open(out, "w").write("C C O\nO C C\nC C C\nC C\n")  # 2 sources x n_best 2

    monkeypatch.setattr(pt.runner, "run_logged", fake_translate)
    pt.decode_cell(str(run), str(data), "formula_beam")
    assert calls[0][-1] == "-moe_formula_beam" and calls[0][calls[0].index("-config") + 1] == str(
        run / "translate.yaml"
    )
    scores = json.load(open(run / "pred_formula_beam" / "scores.json"))
    assert scores["topk"]["1"] == 1.0
    pt.decode_cell(str(run), str(data), "formula_beam")  # scored before: not decoded again
    pt.decode_cell(str(run), str(data), "beam")  # the run's own translate stage: nothing to do
    assert len(calls) == 1
    with pytest.raises(RuntimeError, match="no translate.yaml"):
        pt.decode_cell(str(tmp_path / "data"), str(data), "formula_beam")


def test_rows_from_before_the_representation_column_read_as_words_and_beam(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "input,model,seed,steps,top1,params_total,params_active,train_tok_per_s\nIR,moe,1,2000,0.0044,9,8,7\n"
    )
    (row,) = pt.read_rows(str(path))
    assert row["representation"] == "words" and row["decoding"] == "beam"
    new = dict(row, representation="values", top1=0.2)
    merged = pt.merge_rows([row], [new])
    assert [r["representation"] for r in merged] == ["words", "values"]
    assert [(r["representation"], r["top1"]) for r in pt.summary_rows(merged)] == [("words", 0.0044), ("values", 0.2)]


def test_every_cell_sees_the_same_molecules_per_step(tmp_path, monkeypatch):
    """Token batches would give an all-modality source (~4x longer) a quarter of the molecules a step."""
    jobs = []
    monkeypatch.setattr(pt.runner, "launch", lambda job: jobs.append(job) or True)
    for model in ("dense", "moe"):
        pt.run_cell("corpus/data", str(tmp_path / f"NMR_{model}_s1"), model, 1, 10, [])
    assert len(jobs) == 2
    for job in jobs:
        sets = job.overrides
        assert "batch_type=sents" in sets and "batch_size=64" in sets
        assert "dropout=[0.1]" in sets  # the recipe of the finished cells, whatever the demo templates say


def test_a_corpus_built_with_other_options_is_refused(tmp_path, monkeypatch):
    import onmt_moe.data.pipeline as pipeline

    def fake_generate(data, out, **kw):
        os.makedirs(os.path.join(out, "data"), exist_ok=True)
        open(os.path.join(out, "data", "src-test.txt"), "w").write("x\n")

    monkeypatch.setattr(pipeline, "generate", fake_generate)
    out = str(tmp_path / "corpus_NMR+IR")
    sections = pt.INPUTS["NMR+IR"]
    pt.build_corpus("d", out, sections, pt.CorpusOptions(ir_points=50))
    assert pt.build_corpus("d", out, sections, pt.CorpusOptions(ir_points=50)).endswith("data")  # reused
    try:
        pt.build_corpus("d", out, sections, pt.CorpusOptions(ir_points=100))
    except ValueError as exc:
        assert "ir_points" in str(exc) and "corpus_NMR+IR" in str(exc)
    else:
        raise AssertionError("a corpus with 50 IR points was reused for a 100-point cell")
    nmr = str(tmp_path / "corpus_NMR")  # IR options mean nothing to an NMR-only corpus
    pt.build_corpus("d", nmr, pt.INPUTS["NMR"], pt.CorpusOptions(ir_points=50))
    pt.build_corpus("d", nmr, pt.INPUTS["NMR"], pt.CorpusOptions(ir_points=100, msms_top_k=3))


def test_every_model_row_is_a_valid_config(tmp_path):
    """The dry run validates each row's overrides (an MoE row once passed one expert width for four).
    In this process (runner.start, what start_training runs), not one subprocess per row."""
    import contextlib
    import io

    data = os.path.join(os.path.dirname(__file__), "fixtures", "tiny_corpus", "data")
    for model in pt.MODELS:
        job = pt.cell_job(data, str(tmp_path / f"NMR_{model}_s1"), model, 1, 10, [])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runs_dir, name = os.path.split(job.run_dir)
            runner.start(job.config, runs_dir, name, job.overrides, stages=job.stages, dry_run=True)
        assert "dry run: config valid" in out.getvalue(), model


def test_moe_rows_keep_the_dense_rows_active_ffn_width():
    """Equal active size is what makes MoE vs dense a fair row of the table."""
    import yaml

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def load(model):
        return yaml.safe_load(open(os.path.join(root, pt.MODELS[model][0])))

    dense, moe = load("dense"), load("moe")
    widths = moe["moe_expert_d_ff"]
    assert len(widths) == moe["moe_num_experts"]
    assert moe["moe_top_k"] * max(widths) == dense["transformer_ff"]
    assert {k: moe[k] for k in ("layers", "hidden_size", "heads")} == {
        k: dense[k] for k in ("layers", "hidden_size", "heads")
    }
    paper = dict(runner.parse_set(pt.MODELS["moe_paper"][1]))  # shared + top-2 of the mean routed width
    assert (
        paper["moe_shared_d_ff"] + moe["moe_top_k"] * sum(paper["moe_expert_d_ff"]) / len(paper["moe_expert_d_ff"])
        == dense["transformer_ff"]
    )


def test_a_cell_row_carries_its_last_validation_accuracy(tmp_path):
    import json

    run = tmp_path / "NMR_moe_s1"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"params_total": 9, "params_active": 5}))
    (run / "scores.json").write_text(json.dumps({"topk": {"1": 0.2, "5": 0.4, "10": 0.5}}))
    (run / "train_steps.csv").write_text("step,src_tok_per_s,tgt_tok_per_s\n50,1,1\n100,2,2\n")
    (run / "valid_summary.csv").write_text("step,xent,ppl,accuracy\n1000,1.0,2.7,84.0\n2000,0.9,2.4,89.5\n")
    row = pt.cell_result(str(run), "NMR", "moe", 1, 2000)
    assert abs(row["val_acc"] - 0.895) < 1e-12 and row["top1"] == 0.2
    (run / "valid_summary.csv").unlink()
    assert pt.cell_result(str(run), "NMR", "moe", 1, 2000)["val_acc"] is None


def test_merge_keeps_committed_cells_and_replaces_the_rerun_ones(tmp_path):
    path = str(tmp_path / "paper_table.csv")
    committed = [_row("NMR", "dense", 1, 0.2), _row("NMR+IR+MS", "moe", 1, 0.3), _row("NMR", "moe", 1, 0.25)]
    committed[0]["val_acc"] = None  # an empty field must come back as None, numbers as numbers
    pt.write_csv(committed, path, pt.COLUMNS)
    kept = pt.read_rows(path)
    assert kept[0]["val_acc"] is None and kept[0]["seed"] == 1 and abs(kept[1]["top1"] - 0.3) < 1e-12
    rerun = [_row("NMR", "moe", 1, 0.5), _row("NMR", "moe", 2, 0.6)]
    merged = pt.merge_rows(kept, rerun)
    # table order (input, model, seed); the rerun cell replaced the committed one, the others stay
    assert [(r["input"], r["model"], r["seed"], r["top1"]) for r in merged] == [
        ("NMR", "dense", 1, 0.2),
        ("NMR", "moe", 1, 0.5),
        ("NMR", "moe", 2, 0.6),
        ("NMR+IR+MS", "moe", 1, 0.3),
    ]
    assert pt.read_rows(str(tmp_path / "absent.csv")) == []


def test_merge_refuses_a_file_that_is_not_a_paper_table(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    try:
        pt.read_rows(str(path))
    except ValueError as e:
        assert "other.csv" in str(e) and "'input'" in str(e)
    else:
        raise AssertionError("a CSV without the table's columns was accepted")
