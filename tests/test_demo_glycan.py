"""`make demo-glycan` (scripts/demo_glycan.py): the command chain and the printed summary, without training
(mocked), and once for real on the committed 40-structure sample (the last test)."""

import importlib.util
import json
import os

from onmt_moe.glycan.demo_summary import summary_lines
from tests.conftest import ROOT


def _demo():
    spec = importlib.util.spec_from_file_location("demo_glycan", os.path.join(ROOT, "scripts", "demo_glycan.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


SCORES = {
    "tasks": {
        "struct": {
            "n": 150,
            "topk": {"1": 0.02, "3": 0.05},
            "composition_topk": {"1": 0.3},
            "topology_topk": {"1": 0.1},
            "invalid_rate_top1": 0.01,
        },
        "spec": {"n": 150, "top1": {"f1": 0.41, "cosine": 0.5}},
        "text": {"n": 80, "bleu": 55.0, "chrf": 70.0, "topk": {"1": 0.2}, "field_accuracy": {"type": 0.9}},
        "align": {"n": 140, "bleu": 60.0, "chrf": 80.0, "topk": {"1": 0.5}},
    }
}
RETRIEVAL = {
    "embedding": {
        "spectrum->structure": {"recall@1": 0.1, "recall@5": 0.3, "recall@10": 0.4, "mrr": 0.2, "library": 150}
    },
    "likelihood": {
        "all": {"n": 150, "mean_candidates": 30.0, "recall@1": 0.6, "mrr": 0.7},
        "same_composition": {"n": 0},
        "max_candidates": 30,
    },
}


def test_summary_names_every_task_and_retrieval_setting():
    text = "\n".join(summary_lines(SCORES, RETRIEVAL))
    for piece in (
        "top-1 2.0 %",
        "top-3 5.0 %",
        "composition top-1 30.0 %",
        "F1 41.0 %",
        "BLEU 55.0",
        "chrF 80.0",
        "type 90.0 %",
        "spectrum->structure",
        "R@10 40.0 %",
        "log-likelihood, all",
        "top-1 60.0 %",
    ):
        assert piece in text, piece
    assert "same_composition" not in text  # no query had a same-composition alternative


def test_demo_chains_build_corpus_train_retrieve(tmp_path, monkeypatch, capsys):
    demo = _demo()
    from onmt_moe.runs import demo_glycan as lib

    calls = []

    def fake_step(step):  # the demo's own scripts' library mains, in this process: build the set, retrieve
        calls.append(os.path.basename(step.script))
        if calls[-1] == "retrieve.py":
            (tmp_path / "runs" / "g" / "retrieval.json").write_text(json.dumps(RETRIEVAL))
        return True

    def fake_corpus(data, out, cfg, opt):  # in this process
        calls.append(("corpus", data, out, opt))

    def fake_launch(job):  # training in this process
        calls.append(job)
        run = tmp_path / "runs" / "g"
        run.mkdir(parents=True)
        (run / "scores.json").write_text(json.dumps(SCORES))
        (run / "run.json").write_text(json.dumps({"params_total": 2_000_000}))
        return True

    monkeypatch.setattr(lib, "run_step", fake_step)
    monkeypatch.setattr(lib, "write_corpus", fake_corpus)
    monkeypatch.setattr(lib.runner, "launch", fake_launch)
    monkeypatch.setattr(lib, "write_demo_table", lambda d: calls.append(("table", d.results)) or True)
    rc = demo.main(
        [
            "--data",
            str(tmp_path / "gly"),
            "--runs_dir",
            str(tmp_path / "runs"),
            "--run_name",
            "g",
            "--steps",
            "8",
            "--set",
            "layers=1",
            "--results",
            str(tmp_path / "table.csv"),
        ]
    )
    assert rc == 0
    assert calls[0] == "build_glycan_dataset.py" and calls[3] == "retrieve.py" and len(calls) == 5
    assert calls[4] == ("table", str(tmp_path / "table.csv"))  # the table last, where --results says
    _, data, corpus_dir, opt = calls[1]
    assert corpus_dir == f"{tmp_path / 'gly'}_mt" and opt.multitask == "struct,spec,text,align"
    assert opt.target_task_token and opt.text
    train = calls[2]
    sets = train.overrides
    assert "train_steps=8" in sets and "moe_contrastive_margin=0.2" in sets and sets[-1] == "layers=1"
    assert f"run.data_dir={tmp_path / 'gly'}_mt/data" in sets and "report" not in train.stages
    out = capsys.readouterr().out
    assert "generate_glycan_input.py" in out and "start_training.py" in out  # the equivalent command lines
    assert "glycan demo finished" in out and "2.00 M parameters" in out and "R@1 10.0 %" in out


def test_run_step_prints_the_command_line_and_calls_the_main_in_this_process(capsys):
    from onmt_moe.runs import demo_glycan as lib
    from onmt_moe.runs.steps import Step

    seen = []
    assert lib.run_step(Step("benchmark/retrieve.py", ["--run", "r"], lambda argv: seen.append(argv) or 0))
    assert seen == [["--run", "r"]] and "benchmark/retrieve.py --run r" in capsys.readouterr().out
    assert not lib.run_step(Step("scripts/build_glycan_dataset.py", [], lambda argv: 2))

    def exits(argv):
        raise SystemExit("error: no such run")

    assert not lib.run_step(Step("benchmark/retrieve.py", [], exits))  # an exit never ends the demo
    assert "error: no such run" in capsys.readouterr().err


def test_demo_runs_for_real_on_a_tiny_set_and_writes_its_table(tmp_path, capsys):
    """No mock: the committed 40-structure sample stands in for the built set; the demo writes the corpus
    (numeric peaks), trains 4 steps with the stock commands, decodes and scores every task, retrieves, and
    writes the table with every task against its baseline."""
    import csv
    import shutil

    import pytest

    pytest.importorskip("glypy")
    data = tmp_path / "gly"
    data.mkdir()
    shutil.copy(os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet"), data / "glycan.parquet")
    small = ["layers=1", "hidden_size=32", "word_vec_size=32", "transformer_ff=64", "heads=2", "warmup_steps=2"]
    small += ["bucket_size=64"]  # a 2,048-example bucket would read the 40-row corpus 50 times a batch
    small += ["run.translate={beam_size: 2, n_best: 2, min_length: 1, max_length: 24, batch_size: 64}"]
    argv = ["--data", str(data), "--runs_dir", str(tmp_path / "runs"), "--run_name", "g", "--steps", "4"]
    argv += ["--beam", "2", "--max_candidates", "4", "--numeric_peaks", "--results", str(tmp_path / "t.csv")]
    for s in small:
        argv += ["--set", s]
    assert _demo().main(argv) == 0, capsys.readouterr().err[-2000:]
    src = (tmp_path / "gly_mt_values" / "data" / "struct" / "src-test.txt").read_text().splitlines()
    assert src and all(" PK " in line and "MZ_" not in line for line in src)
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert {"task", "metric", "ours", "baseline", "chance"} <= set(rows[0])
    assert {r["task"] for r in rows} >= {"struct", "spec", "text", "align", "retrieval spectrum->structure"}
    assert {"top1", "bleu", "chrf", "r10"} <= {r["metric"] for r in rows}
    cls = {r["metric"]: r for r in rows if r["task"] == "struct_classifier"}
    struct = {r["metric"]: r for r in rows if r["task"] == "struct"}
    assert set(cls) == {"top1"} and cls["top1"]["baseline"] == struct["top1"]["baseline"]  # beam 2: no top-3
    assert (tmp_path / "runs" / "g" / "classifier" / "struct.txt").exists()
    assert all(r["ours"] != "" for r in rows)
    assert (tmp_path / "t.md").read_text().count("|") > 20


def test_single_task_lever_drops_the_alignment_and_the_retrieval(tmp_path, capsys):
    """``--tasks struct``: the structure task alone at the same budget; no source holds a structure, so
    no contrastive pair and no retrieval (nothing to retrieve against); its own corpus folder."""
    from onmt_moe.runs import demo_glycan as lib

    d = lib.GlycanDemo(data=str(tmp_path / "gly"), runs_dir=str(tmp_path / "runs"), tasks="struct")
    assert d.corpus.endswith("gly_mt_struct") and not d.structure_in_source
    sets = lib.train_job(d).overrides
    assert not any(s.startswith("moe_contrastive") for s in sets) and "fusion_layers=1" in sets
    assert lib.retrieve(d) and "retrieval skipped" in capsys.readouterr().out
    full = lib.GlycanDemo(data=str(tmp_path / "gly"))
    assert full.structure_in_source and "moe_contrastive_coef=0.05" in lib.train_job(full).overrides
    assert full.corpus.endswith("gly_mt")


def test_library_split_has_its_own_set_and_a_set_split_otherwise_is_refused(tmp_path, monkeypatch, capsys):
    """``--split_mode library``: new spectra of trained structures (the closed set), in a data folder of
    its own; a set on disk built with another split is refused in one line, never silently reused."""
    from onmt_moe.runs import demo_glycan as lib

    d = lib.GlycanDemo(split_mode="library", spectra_per_structure=3, runs_dir=str(tmp_path))
    assert lib.GlycanDemo(split_mode="library", spectra_per_structure=2).data.endswith("glycan_demo_library2")
    assert d.data.endswith(os.path.join("data", "glycan_demo_library3")) and d.corpus.endswith("library3_mt")
    assert lib.GlycanDemo().data == d.data  # the default: the library split, three spectra a structure
    assert lib.GlycanDemo(split_mode="structure").data.endswith(os.path.join("data", "glycan_demo"))
    argv = []
    monkeypatch.setattr(lib, "run_step", lambda step: argv.extend(step.argv) or True)
    d = lib.GlycanDemo(data=str(tmp_path / "gly"), split_mode="library", spectra_per_structure=3)
    assert lib.build_data(d)
    assert argv[argv.index("--split_mode") + 1] == "library" and argv[argv.index("--spectra_per_structure") + 1] == "3"
    (tmp_path / "gly").mkdir()
    (tmp_path / "gly" / "glycan.parquet").write_text("")
    (tmp_path / "gly" / "summary.json").write_text(json.dumps({"split_mode": "structure", "spectra_per_structure": 1}))
    assert not lib.build_data(d)
    assert "built with split_mode=structure, spectra_per_structure=1" in capsys.readouterr().err
    assert lib.build_data(lib.GlycanDemo(data=str(tmp_path / "gly"), split_mode="structure"))  # its split: reused
