"""Issue 16 part 1 groundwork: the multi-task glycan corpus (task tokens, one vocabulary, weighted corpora)."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from onmt_moe.glycan.multitask import TASKS, parse_weights
from onmt_moe.modality import find_tags
from onmt_moe.tags import split_segments, tags_in_vocab
from tests.conftest import ROOT

SAMPLE = os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet")


def _gen(argv):
    spec = importlib.util.spec_from_file_location(
        "generate_glycan_input", os.path.join(ROOT, "benchmark", "generate_glycan_input.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


def _lines(p):
    with open(p) as fh:
        return fh.read().splitlines()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("mt")
    _gen(["--input", SAMPLE, "--out_dir", str(out), "--text", "--multitask", "struct,spec,text",
          "--task_weights", "struct=3,text=2"])
    return out


def test_every_source_starts_with_its_task_token_and_segments_parse(corpus):
    segments = {"struct": ["MS", "TEXT"], "spec": ["WURCS"], "text": ["WURCS", "MS"]}
    for task, info in TASKS.items():
        for split in ("train", "val", "test"):
            src = _lines(corpus / "data" / task / f"src-{split}.txt")
            tgt = _lines(corpus / "data" / task / f"tgt-{split}.txt")
            assert src and len(src) == len(tgt), (task, split)
            for line in src:
                toks = line.split()
                assert toks[0] == info.token and toks.count(info.token) == 1
                segs = split_segments(toks)
                assert segs[0] == (None, [info.token]) and [n for n, _ in segs[1:]] == segments[task]
    # the task tokens are not modality tags: they stay OTHER (modality 0) for the router
    vocab = {t for f in (corpus / "data").glob("*/src-*.txt") for ln in _lines(f) for t in ln.split()}
    assert tags_in_vocab(vocab) == ["MS", "TEXT", "WURCS"]
    assert all(-1 not in ids for ids in find_tags(sorted(vocab))[1])


def test_no_test_structure_reaches_any_training_file(corpus):
    def structures(path):  # WURCS strings found anywhere in a file (source or target)
        return {ln.split("<WURCS> ")[1].split(" </WURCS>")[0] if "<WURCS>" in ln else ln
                for ln in _lines(path) if "WURCS=2.0" in ln}

    test = structures(corpus / "data" / "struct" / "tgt-test.txt")
    assert test
    for task in TASKS:
        for kind in ("src", "tgt"):
            assert not test & structures(corpus / "data" / task / f"{kind}-train.txt"), (task, kind)


def test_weights_mixed_files_manifest_and_rejects(corpus):
    onmt = yaml.safe_load((corpus / "onmt_data.yaml").read_text())
    assert onmt["share_vocab"] is True
    assert {k: v.get("weight") for k, v in onmt["data"].items()} == {"struct": 3, "spec": 1, "text": 2,
                                                                      "valid": None}
    tasks = json.loads((corpus / "tasks.json").read_text())
    assert {t: v["score"] for t, v in tasks.items()} == {"struct": "wurcs", "spec": "spectrum", "text": "text"}
    for split in ("train", "val", "test"):
        mixed = _lines(corpus / "data" / f"src-{split}.txt")
        assert len(mixed) == sum(v["written"][split] for v in tasks.values())
    rejects = _lines(corpus / "rejects.tsv")
    assert rejects[0] == "row\tsplit\ttask\treason"
    assert rejects[1:] and all(r.split("\t")[2:] == ["text", "missing_text"] for r in rejects[1:])
    assert tasks["text"]["written"]["train"] + tasks["text"]["written"]["val"] + tasks["text"]["written"]["test"] \
        + len(rejects) - 1 == 40


def test_bad_task_options_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="'stuct'"):
        parse_weights("stuct=2", ["struct", "spec"])
    with pytest.raises(ValueError, match="whole number"):
        parse_weights("struct=x", ["struct"])
    for argv in (["--multitask", "struct,bogus"], ["--multitask", "struct", "--task_weights", "struct=0"]):
        with pytest.raises(SystemExit) as ei:
            _gen(["--input", SAMPLE, "--out_dir", str(tmp_path / "o"), *argv])
        assert str(ei.value).startswith("error: ") and "\n" not in str(ei.value)


def test_multitask_corpus_trains_and_decodes_with_stock_onmt(corpus, tmp_path):
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "tiny_moe.yaml")))
    cfg.pop("run")
    cfg.update(yaml.safe_load((corpus / "onmt_data.yaml").read_text()))
    cfg.update({"save_data": str(tmp_path / "vocab"), "src_vocab": str(tmp_path / "vocab.shared"),
                "save_model": str(tmp_path / "model"), "train_steps": 4, "save_checkpoint_steps": 4,
                "valid_steps": 4, "moe_grad_norm_every": 0, "within_modality_attention": True, "fusion_layers": 1})
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(cfg))
    for exe, args in (("onmt_build_vocab", ["-n_sample", "-1"]), ("onmt_train", [])):
        r = subprocess.run([os.path.join(bin_dir, exe), "-config", str(tmp_path / "train.yaml"), *args],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    vocab = {ln.split("\t")[0] for ln in _lines(tmp_path / "vocab.shared")}
    assert {t.token for t in TASKS.values()} <= vocab and "<WURCS>" in vocab
    for task in TASKS:  # each task's own test set decodes with the one model
        out = tmp_path / f"pred-{task}.txt"
        src = corpus / "data" / task / "src-test.txt"
        r = subprocess.run([os.path.join(bin_dir, "onmt_translate"), "-model", str(tmp_path / "model_step_4.pt"),
                            "-src", str(src), "-output", str(out), "-beam_size", "1", "-max_length", "10"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        assert len(_lines(out)) == len(_lines(src))
