"""start_training --init_from: a tiny model pretrained on one corpus, fine-tuned on a second one that has
a source and a target token the first lacks (onmt_moe/runs/finetune.py, docs/usage.md)."""

import hashlib
import json
import os
import subprocess
import sys

import pytest

from onmt_moe.data.formatting import Formatting
from onmt_moe.runfolder.checkpoints import load_checkpoint
from onmt_moe.runs import finetune
from tests.conftest import FIXTURES, ROOT

ENV = dict(os.environ, OMP_NUM_THREADS="1")
START = [sys.executable, os.path.join(ROOT, "benchmark", "start_training.py")]
CONFIG = os.path.join(ROOT, "configs", "tiny_moe.yaml")
TINY = os.path.join(FIXTURES, "tiny_corpus", "data")
NEW_SRC, NEW_TGT = "12.34", "[Se]"  # in the fine-tuning corpus only
ENC = "encoder.embeddings.make_embedding.emb_luts.0.weight"
DEC = "decoder.embeddings.make_embedding.emb_luts.0.weight"
PAD_FILLER = "averyunlikelytoken"  # OpenNMT's padding to a multiple of vocab_size_multiple
SHORT = ["--set", "train_steps=2", "--set", "save_checkpoint_steps=2", "--set", "valid_steps=2"]
FROZEN = ["--set", "learning_rate=0", "--set", "decay_method=none"]  # the weights stay as initialised


def _corpus(root, nmr_decimals=(2, 2, 1), new_tokens=False):
    """A copy of the tiny corpus (the fine-tuning one: 40 rows + 3 rows with the new tokens) with a
    generate_input summary.json that records its formatting."""
    data = root / "data"
    data.mkdir(parents=True)
    for name in os.listdir(TINY):
        with open(os.path.join(TINY, name), encoding="utf-8") as f:
            lines = f.read().splitlines()
        if new_tokens and name == "src-train.txt":
            lines = lines[:40] + [ln.replace("1HNMR ", f"1HNMR {NEW_SRC} ", 1) for ln in lines[40:43]]
        elif new_tokens and name == "tgt-train.txt":
            lines = lines[:40] + [f"{ln} {NEW_TGT}" for ln in lines[40:43]]
        (data / name).write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
    fmt = Formatting(sections=["formula", "h_nmr"], nmr_decimals=nmr_decimals).check()
    (root / "summary.json").write_text(json.dumps({"formatting": fmt.to_dict()}), encoding="utf-8")
    return data


def _start(runs, name, data, *extra):
    args = ["--config", CONFIG, "--runs_dir", str(runs), "--run_name", name, "--quiet"]
    args += ["--stages", "vocab,train", "--set", f"run.data_dir={data}", *extra]
    return subprocess.run(START + args, capture_output=True, text=True, env=ENV, timeout=600)


def _ok(r):
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _refused(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-2000:]
    return lines[0]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("init_from")
    pre = _corpus(tmp / "pre")
    _ok(_start(tmp / "runs", "pre", pre, "--set", "train_steps=10", "--set", "save_checkpoint_steps=10"))
    ckpt = tmp / "runs" / "pre" / "model_step_10.pt"
    assert ckpt.exists()
    return {"tmp": tmp, "ckpt": str(ckpt), "ft_data": _corpus(tmp / "ft", new_tokens=True)}


@pytest.fixture(scope="module")
def finetuned(pretrained):
    """Fine-tuned 2 steps at learning rate 0: the checkpoint holds the weights exactly as initialised."""
    runs = pretrained["tmp"] / "runs"
    r = _start(runs, "ft", pretrained["ft_data"], "--init_from", pretrained["ckpt"], *SHORT, *FROZEN)
    _ok(r)
    return runs / "ft"


def _real(tokens):
    return [t for t in tokens if not t.startswith(PAD_FILLER)]


def test_the_finetuned_vocabulary_is_the_pretrained_one_then_the_new_tokens(pretrained, finetuned):
    pre = load_checkpoint(pretrained["ckpt"])["vocab"]
    ft = load_checkpoint(finetuned / "model_step_2.pt")["vocab"]
    for side, new in (("src", NEW_SRC), ("tgt", NEW_TGT)):
        assert new not in pre[side] and new in ft[side]
        old = _real(pre[side])
        assert ft[side][: len(old)] == old  # every pretrained token keeps its id
        assert set(_real(ft[side])) > set(old)
    # the run's vocab file: OpenNMT's token<TAB>count lines, the pretrained tokens first (specials left to OpenNMT)
    with open(finetuned / "vocab.tgt", encoding="utf-8") as f:
        rows = [ln.split("\t") for ln in f.read().splitlines()]
    assert all(len(r) == 2 and r[1].isdigit() for r in rows)
    assert [r[0] for r in rows[: len(_real(pre["tgt"])) - 4]] == _real(pre["tgt"])[4:]
    assert dict(rows)[NEW_TGT] == "3"


def test_every_pretrained_weight_is_carried_over_row_by_token(pretrained, finetuned):
    """At learning rate 0 the fine-tuned checkpoint is the model right after initialisation."""
    pre, ft = load_checkpoint(pretrained["ckpt"]), load_checkpoint(finetuned / "model_step_2.pt")
    for name, side, table in ((ENC, "src", "model"), (DEC, "tgt", "model"), ("weight", "tgt", "generator")):
        old, new = pre[table][name], ft[table][name]
        assert new.shape[0] == len(ft["vocab"][side]) and old.shape[0] == len(pre["vocab"][side])
        shared = [t for t in pre["vocab"][side] if t in ft["vocab"][side]]
        for tok in shared:
            i, j = pre["vocab"][side].index(tok), ft["vocab"][side].index(tok)
            assert (new[j] == old[i]).all(), (name, tok)
        j = ft["vocab"][side].index(NEW_SRC if side == "src" else NEW_TGT)
        # a fresh row, not a copy of a trained one (a padding filler's untrained row can equal it: same seed)
        trained = [i for i, t in enumerate(pre["vocab"][side]) if not t.startswith(PAD_FILLER)]
        assert not any((new[j] == old[i]).all() for i in trained)
    others = [k for k in pre["model"] if k not in (ENC, DEC)]
    assert any("router" in k for k in others)
    changed = [k for k in others if not (pre["model"][k] == ft["model"][k]).all()]
    assert not changed  # the routers too: they are not re-initialised after the checkpoint is loaded


def test_run_json_records_the_pretrained_file_and_steps_count_from_zero(pretrained, finetuned):
    info = json.loads((finetuned / "run.json").read_text())
    with open(pretrained["ckpt"], "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert info["init_from"] == {"path": pretrained["ckpt"], "sha256": sha, "step": 10}
    log = (finetuned / "train.log").read_text()
    assert f"-train_from {pretrained['ckpt']} -update_vocab -reset_optim all" in log
    assert sorted(os.listdir(finetuned)).count("model_step_2.pt") == 1
    assert load_checkpoint(finetuned / "model_step_2.pt")["opt"].moe_trained_step == 2


def test_model_options_that_contradict_the_checkpoint_are_refused_in_one_line(pretrained):
    sets = ["--set", "hidden_size=64", "--set", "word_vec_size=64", "--set", "encoder_type=transformer"]
    r = _start(pretrained["tmp"] / "runs", "bad_model", pretrained["ft_data"], "--init_from", pretrained["ckpt"], *sets)
    line = _refused(r)
    for needle in ("hidden_size 64 vs 32", "word_vec_size 64 vs 32", "encoder_type 'transformer' vs 'moe_transformer'"):
        assert needle in line
    assert not (pretrained["tmp"] / "runs" / "bad_model").exists()


def test_a_corpus_formatted_otherwise_is_refused(pretrained):
    binned = _corpus(pretrained["tmp"] / "binned", nmr_decimals=(1, 2, 1), new_tokens=True)
    r = _start(pretrained["tmp"] / "runs", "bad_fmt", binned, "--init_from", pretrained["ckpt"], "--dry_run")
    assert "nmr_decimals [2, 2, 1] vs [1, 2, 1]" in _refused(r)


def test_train_from_in_a_template_is_still_refused(pretrained):
    r = _start(pretrained["tmp"] / "runs", "tf", pretrained["ft_data"], "--set", f"train_from={pretrained['ckpt']}")
    line = _refused(r)
    assert "train_from" in line and "--init_from" in line


def test_left_out_model_options_come_from_the_checkpoint(pretrained):
    opt = load_checkpoint(pretrained["ckpt"])["opt"]
    problems, fill = finetune.model_mismatches({"hidden_size": 32, "heads": 4}, opt)
    assert problems == ["heads 4 vs 2"]
    assert fill["moe_num_experts"] == 4 and fill["transformer_ff"] == 64 and "hidden_size" not in fill


def test_union_lines():
    lines, n_new = finetune.union_lines(
        ["<unk>", "<blank>", "<s>", "</s>", "C", "O", "averyunlikelytoken0"],
        {"O": 7, "N": 2, "C": 1},
        {"<unk>", "<blank>", "<s>", "</s>"},
        min_count=0,
    )
    assert lines == ["C\t1", "O\t7", "N\t2"] and n_new == 1
    lines, n_new = finetune.union_lines(["C", "S"], {"N": 1}, set(), min_count=2)
    assert lines == ["C\t2", "S\t2", "N\t1"] and n_new == 0  # OpenNMT's filter keeps the pretrained ones


def test_resume_continues_the_finetuning_run_not_the_pretrained_model(pretrained, finetuned):
    runs = pretrained["tmp"] / "runs"
    r = _start(
        runs,
        "ft",
        pretrained["ft_data"],
        "--resume",
        "--stages",
        "train",
        "--set",
        "train_steps=4",
        *SHORT[2:],
        *FROZEN,
    )
    _ok(r)
    log = (finetuned / "train.log").read_text()
    last = [ln for ln in log.splitlines() if ln.startswith("$ ") and "onmt_train" in ln][-1]
    assert f"-train_from {finetuned / 'model_step_2.pt'} -reset_optim keep_states" in last
    assert "-update_vocab" not in last and "model_step_10" not in last
    # still learning rate 0: the config's optimizer options, not the pretrained run's noam schedule
    two, four = load_checkpoint(finetuned / "model_step_2.pt"), load_checkpoint(finetuned / "model_step_4.pt")
    assert all((two["model"][k] == four["model"][k]).all() for k in two["model"])
    assert four["optim"]["training_step"] == 5
    assert (
        load_checkpoint(finetuned / "model_step_4.pt")["vocab"]
        == load_checkpoint(finetuned / "model_step_2.pt")["vocab"]
    )
    assert json.loads((finetuned / "run.json").read_text())["init_from"]["path"] == pretrained["ckpt"]


def test_launch_passes_init_from_to_start_and_to_its_command_line(tmp_path, monkeypatch):
    from onmt_moe.runs import runner

    job = runner.Launch("c.yaml", str(tmp_path / "ft"), "d", init_from="pre.pt")
    cmd = job.command()
    assert cmd[cmd.index("--init_from") + 1] == "pre.pt"
    seen = []
    monkeypatch.setattr(runner, "start", lambda *a, **k: seen.append(k))
    assert runner.launch(job) and seen == [{"init_from": "pre.pt"}]
