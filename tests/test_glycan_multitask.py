"""Issue 16 part 1 groundwork: the multi-task glycan corpus (task tokens, one vocabulary, weighted corpora),
trained and decoded by start_training (stock OpenNMT commands) and scored per task."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from onmt_moe.glycan.multitask import TASKS, parse_weights
from onmt_moe.modality.tags import split_segments, tags_in_vocab
from onmt_moe.modality.vocab import ABSENT, ModalityVocab
from tests.conftest import ROOT

SAMPLE = os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet")


def _gen(argv):
    spec = importlib.util.spec_from_file_location(
        "generate_glycan_input", os.path.join(ROOT, "benchmark", "generate_glycan_input.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


def _lines(p):
    with open(p) as fh:
        return fh.read().splitlines()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("mt")
    _gen(
        [
            "--input",
            SAMPLE,
            "--out_dir",
            str(out),
            "--text",
            "--multitask",
            "struct,spec,text,align",
            "--task_weights",
            "struct=3,text=2",
            "--target_task_token",
        ]
    )
    return out


def test_every_source_starts_with_its_task_token_and_segments_parse(corpus):
    segments = {"struct": ["MS", "TEXT"], "spec": ["WURCS"], "text": ["WURCS", "MS"], "align": ["MS", "WURCS", "TEXT"]}
    for task, info in TASKS.items():
        for split in ("train", "val", "test"):
            src = _lines(corpus / "data" / task / f"src-{split}.txt")
            tgt = _lines(corpus / "data" / task / f"tgt-{split}.txt")
            assert src and len(src) == len(tgt), (task, split)
            for line in src:
                toks = line.split()
                assert toks[0] == info.token and toks.count(info.token) == 1
                segs = split_segments(toks)
                names = [n for n, _ in segs[1:]]
                # align carries TEXT only where the row has a description
                assert segs[0] == (None, [info.token]) and names in (segments[task], segments[task][:2]), (task, names)
    # the task tokens are not modality tags: they stay OTHER (modality 0) for the router
    vocab = {t for f in (corpus / "data").glob("*/src-*.txt") for ln in _lines(f) for t in ln.split()}
    assert tags_in_vocab(vocab) == ["MS", "TEXT", "WURCS"]
    assert all(ABSENT not in ids for ids in ModalityVocab.from_tokens(sorted(vocab)).tag_ids)


def test_no_test_structure_reaches_any_training_file(corpus):
    def structures(path):  # WURCS strings found anywhere in a file (source or target, task token dropped)
        return {
            ln.split("<WURCS> ")[1].split(" </WURCS>")[0]
            if "<WURCS>" in ln
            else ln.split(" ", 1)[-1]
            if ln.startswith("<TASK_")
            else ln
            for ln in _lines(path)
            if "WURCS=2.0" in ln
        }

    test = structures(corpus / "data" / "struct" / "tgt-test.txt")
    assert test
    for task in TASKS:
        for kind in ("src", "tgt"):
            assert not test & structures(corpus / "data" / task / f"{kind}-train.txt"), (task, kind)


def test_structure_never_in_the_source_of_a_structure_target_task(corpus):
    """The alignment task puts WURCS into the encoder; the struct task (target = WURCS) must never see it."""
    from onmt_moe.wurcs_classes import classify_token

    for split in ("train", "val", "test"):
        src = _lines(corpus / "data" / "struct" / f"src-{split}.txt")
        tgt = _lines(corpus / "data" / "struct" / f"tgt-{split}.txt")
        for s_line, t_line in zip(src, tgt):
            toks = s_line.split()
            assert "<WURCS>" not in toks and "WURCS=2.0" not in toks
            residues = {t for t in t_line.split() if classify_token(t) in ("monosaccharide", "modification")}
            assert residues and not residues & set(toks), s_line
    align = _lines(corpus / "data" / "align" / "src-train.txt")
    assert align and all("<WURCS>" in ln and "<MS>" in ln for ln in align)  # structure is an input here
    tgt = _lines(corpus / "data" / "align" / "tgt-test.txt")
    assert all(not any(t.startswith("[") for t in ln.split()) for ln in tgt)  # target = composition words
    assert tgt[0].split()[0] == "Hex" and tgt[0].split()[1].isdigit()


def test_target_task_token_starts_train_and_val_targets_only(corpus):
    """--target_task_token: the decoder start of each task; test targets stay the plain references."""
    tasks = json.loads((corpus / "tasks.json").read_text())
    for task, info in TASKS.items():
        assert tasks[task]["target_prefix"] == info.token
        for split in ("train", "val"):
            assert all(ln.split()[0] == info.token for ln in _lines(corpus / "data" / task / f"tgt-{split}.txt"))
        assert not any(ln.startswith("<TASK_") for ln in _lines(corpus / "data" / task / "tgt-test.txt"))
    mixed = _lines(corpus / "data" / "tgt-val.txt")  # OpenNMT's validation set is the training format
    assert mixed and all(ln.startswith("<TASK_") for ln in mixed)


def test_strip_target_prefix_keeps_the_score_column_and_other_lines():
    from onmt_moe.runs.runner import strip_target_prefix

    assert strip_target_prefix("<TASK_STRUCT> a b\t-1.5", "<TASK_STRUCT>") == "a b\t-1.5"
    assert strip_target_prefix("<TASK_STRUCT>\t-0.2", "<TASK_STRUCT>") == "\t-0.2"  # empty hypothesis
    assert strip_target_prefix("<TASK_STRUCT>", "<TASK_STRUCT>") == ""
    assert strip_target_prefix("<TASK_STRUCTX> a", "<TASK_STRUCT>") == "<TASK_STRUCTX> a"
    assert strip_target_prefix("a b", "") == "a b"


def test_weights_mixed_files_manifest_and_rejects(corpus):
    onmt = yaml.safe_load((corpus / "onmt_data.yaml").read_text())
    assert onmt["share_vocab"] is True
    assert {k: v.get("weight") for k, v in onmt["data"].items()} == {
        "struct": 3,
        "spec": 1,
        "text": 2,
        "align": 1,
        "valid": None,
    }
    tasks = json.loads((corpus / "tasks.json").read_text())
    assert {t: v["score"] for t, v in tasks.items()} == {
        "struct": "wurcs",
        "spec": "spectrum",
        "text": "text",
        "align": "text",
    }
    for split in ("train", "val", "test"):
        mixed = _lines(corpus / "data" / f"src-{split}.txt")
        assert len(mixed) == sum(v["written"][split] for v in tasks.values())
    rejects = _lines(corpus / "rejects.tsv")
    assert rejects[0] == "row\tsplit\ttask\treason"
    reasons = [tuple(r.split("\t")[2:]) for r in rejects[1:]]
    assert reasons and set(reasons) == {("text", "missing_text"), ("align", "missing_composition")}
    for task in ("text", "align"):
        assert sum(tasks[task]["written"].values()) + sum(r[0] == task for r in reasons) == 40


def test_bad_task_options_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="'stuct'"):
        parse_weights("stuct=2", ["struct", "spec"])
    with pytest.raises(ValueError, match="whole number"):
        parse_weights("struct=x", ["struct"])
    for argv in (["--multitask", "struct,bogus"], ["--multitask", "struct", "--task_weights", "struct=0"]):
        with pytest.raises(SystemExit) as ei:
            _gen(["--input", SAMPLE, "--out_dir", str(tmp_path / "o"), *argv])
        assert str(ei.value).startswith("error: ") and "\n" not in str(ei.value)


def test_text_fields_and_scores(tmp_path):
    from onmt_moe.glycan.text import fields
    from onmt_moe.glycan.text_score import score_text_files

    a = "n-linked glycan ; kingdom animalia ; species homo sapiens , mus musculus ; tissue serum"
    b = "o-linked glycan ; kingdom animalia ; species mus musculus"
    assert fields(a) == {
        "type": "n-linked glycan",
        "kingdom": "animalia",
        "species": "homo sapiens , mus musculus",
        "tissue": "serum",
    }
    (tmp_path / "tgt.txt").write_text(f"{a}\n{b}\n")
    # n_best 2 with scores: row 1 right at rank 1; row 2 wrong species at rank 1, right at rank 2
    wrong = "o-linked glycan ; kingdom animalia ; species homo sapiens"
    (tmp_path / "pred.txt").write_text(f"{a}\t-0.1\n{b}\t-0.5\n{wrong}\t-0.2\n{b}\t-0.3\n")
    res = score_text_files(str(tmp_path / "pred.txt"), str(tmp_path / "tgt.txt"), 2, out_json=str(tmp_path / "s.json"))
    assert res["topk"] == {"1": 0.5, "2": 1.0}
    assert res["field_accuracy"] == {"type": 1.0, "kingdom": 1.0, "species": 0.5, "tissue": 1.0}
    assert res["field_rows"]["tissue"] == 1 and 0 < res["bleu"] < 100 and 0 < res["chrf"] < 100
    (tmp_path / "pred.txt").write_text(f"{a}\n{b}\n")
    perfect = score_text_files(str(tmp_path / "pred.txt"), str(tmp_path / "tgt.txt"), 1)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["topk"] == {"1": 1.0}
    with pytest.raises(ValueError, match="expected 4"):
        score_text_files(str(tmp_path / "pred.txt"), str(tmp_path / "tgt.txt"), 2)


def test_start_training_multitask_run_scores_every_task(corpus, tmp_path):
    pytest.importorskip("glypy")
    start = [sys.executable, os.path.join(ROOT, "benchmark", "start_training.py")]
    r = subprocess.run(
        start
        + [
            "--config",
            os.path.join(ROOT, "configs", "glycan_multitask.yaml"),
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "mt",
            "--quiet",
            "--set",
            f"run.data_dir={corpus / 'data'}",
            "--set",
            "train_steps=4",
            "--set",
            "valid_steps=4",
            "--set",
            "save_checkpoint_steps=4",
            "--set",
            "layers=1",
            "--set",
            "hidden_size=32",
            "--set",
            "word_vec_size=32",
            "--set",
            "transformer_ff=64",
            "--set",
            "heads=2",
            "--set",
            "warmup_steps=2",
            "--set",
            "within_modality_attention=true",
            "--set",
            "fusion_layers=1",
            "--set",
            "report_every=2",
            "--set",
            "moe_task_loss_weights=TASK_ALIGN=0,TASK_SPEC=0.5",
            "--set",
            "moe_contrastive_coef=0.1",
            "--set",
            "moe_contrastive_pairs=MS:WURCS,TEXT:WURCS",
            "--set",
            "moe_contrastive_margin=0.2",
            "--set",
            "moe_contrastive_hard_key=MS",
            "--stages",
            "vocab,train,translate,score",
            "--set",
            "run.translate={beam_size: 2, n_best: 2, max_length: 20, min_length: 1}",
            "--set",
            "bucket_size=64",  # the config's 2,048 would read the tiny corpus dozens of times a batch
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    run = tmp_path / "mt"
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["share_vocab"] is True and {k: v.get("weight") for k, v in cfg["data"].items()} == {
        "struct": 3,
        "spec": 1,
        "text": 2,
        "align": 1,
        "valid": None,
    }
    scores = json.loads((run / "scores.json").read_text())["tasks"]
    assert {t: s["kind"] for t, s in scores.items()} == {
        "struct": "wurcs",
        "spec": "spectrum",
        "text": "text",
        "align": "text",
    }
    # per-task rows in the CSVs: every report (train) and every validation (the tasks' own validation lines)
    import pandas as pd

    valid = pd.read_csv(run / "valid_tasks.csv")
    assert list(valid.columns) == ["step", "task", "xent", "ppl", "accuracy", "tokens"]
    assert sorted(valid["task"]) == ["ALIGN", "SPEC", "STRUCT", "TEXT"] and set(valid["step"]) == {4}
    val_tokens = {
        t: sum(len(ln.split()) + 1 for ln in _lines(corpus / "data" / t.lower() / "tgt-val.txt")) for t in valid["task"]
    }
    assert dict(zip(valid["task"], valid["tokens"])) == val_tokens  # each task = its own validation set
    train = pd.read_csv(run / "train_tasks.csv")
    assert set(train["step"]) == {2, 4} and set(train["task"]) <= {"ALIGN", "SPEC", "STRUCT", "TEXT"}
    aux = pd.read_csv(run / "moe_aux.csv")
    assert (aux.loc[aux["component"] == "contrastive", "raw"] > 0).all() and (aux["component"] == "contrastive").any()
    tasks = json.loads((corpus / "tasks.json").read_text())
    for t, s in scores.items():
        assert s["n"] == tasks[t]["written"]["test"], t
        assert (run / "pred" / t / "scores.json").exists()
        # the task token was forced as every hypothesis' first token, and stripped before scoring
        raw, pred = _lines(run / "pred" / t / "test.prefixed.txt"), _lines(run / "pred" / t / "test.txt")
        assert len(raw) == len(pred) == 2 * s["n"]  # n_best 2
        assert all(ln.split()[0] == TASKS[t].token for ln in raw if ln.split())
        assert not any(ln.startswith("<TASK_") for ln in pred)
    vocab = {ln.split("\t")[0] for ln in (run / "vocab.src").read_text().splitlines()}
    assert {t.token for t in TASKS.values()} <= vocab and "<WURCS>" in vocab  # one vocabulary for all tasks
    info = json.loads((run / "run.json").read_text())
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmark", "retrieve.py"), "--run", str(run), "--max_candidates", "5"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    ret = json.loads((run / "retrieval.json").read_text())
    n_test = tasks["struct"]["written"]["test"]
    for direction in ("spectrum->structure", "structure->spectrum", "text->structure"):
        m = ret["embedding"][direction]
        assert 0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1 and 0 < m["mrr"] <= 1
    assert ret["embedding"]["spectrum->structure"]["n"] == n_test == ret["likelihood"]["all"]["n"]
    assert ret["likelihood"]["all"]["mean_candidates"] == 5
    assert (
        set(info["scores"]["tasks"]) == {"struct", "spec", "text", "align"}
        and "bleu" in info["scores"]["tasks"]["text"]
    )
