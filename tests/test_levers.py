"""onmt_moe.runs.levers: the lever loop (resumable, selection on the validation split) and that every
lever is a valid config. Training itself is an ordinary runner.launch run (test_end_to_end)."""

import json
import os

import pytest

from onmt_moe.runs import levers

TINY = os.path.join(os.path.dirname(__file__), "fixtures", "tiny_corpus", "data")


def _fake_training(job):
    """What runner.launch leaves in a lever folder: a checkpoint, run.json, valid_summary.csv."""
    run_dir = job.run_dir
    steps = next(int(s.split("=")[1]) for s in job.sets if s.startswith("train_steps="))
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, f"model_step_{steps}.pt"), "wb") as fh:
        import zipfile

        with zipfile.ZipFile(fh, "w") as z:  # a readable checkpoint is a whole zip archive
            z.writestr("data.pkl", b"x")
    json.dump({"stages": {"train": {"seconds": 12.5}}}, open(os.path.join(run_dir, "run.json"), "w"))
    open(os.path.join(run_dir, "valid_summary.csv"), "w").write("step,xent,ppl,accuracy\n10,1.0,2.7,81.0\n")
    return True


def test_levers_train_then_score_validation_and_train_probe_and_resume(tmp_path, monkeypatch):
    trained, decoded = [], []
    monkeypatch.setattr(levers.runner, "launch", lambda job: trained.append(job.command()) or _fake_training(job))

    def fake_decode(ckpt, src, tgt, out_dir, topts, score_src=None):
        decoded.append((os.path.basename(out_dir), os.path.basename(src), topts["beam_size"]))
        os.makedirs(out_dir, exist_ok=True)
        top1 = 0.5 if "train400" in src else 0.25
        res = {
            "topk": {"1": top1, "5": 0.6, "10": 0.7},
            "formula_consistent_topk": {"1": 0.4},
            "invalid_rate_top1": 0.1,
        }
        json.dump(res, open(os.path.join(out_dir, "scores.json"), "w"))
        return res

    monkeypatch.setattr(levers, "decode_and_score", fake_decode)
    out = str(tmp_path / "levers")
    rows = levers.run_levers(TINY, out, ["baseline", "dropout_0.1"], steps=10, log=lambda *_: None)
    assert [r["lever"] for r in rows] == ["baseline", "dropout_0.1"]
    r = rows[1]
    assert r["val_top1"] == 0.25 and r["train400_top1"] == 0.5 and r["val_reranked_top1"] == 0.4
    assert abs(r["val_acc"] - 0.81) < 1e-12 and r["train_seconds"] == 12.5 and "dropout=[0.1]" in r["sets"]
    # the validation split, never the test split; the training probe is the first 400 lines
    assert {d[1] for d in decoded} == {"src-val.txt", "src-train400.txt"} and decoded[0][2] == 10
    probe = os.path.join(out, "baseline", "src-train400.txt")
    assert open(probe).read().splitlines() == open(os.path.join(TINY, "src-train.txt")).read().splitlines()[:400]
    sets = [c[i + 1] for c in trained for i, x in enumerate(c) if x == "--set"]
    assert "dropout=[0.1]" in sets and "--stages" in trained[0] and "vocab,train" in trained[0]
    assert sets.count("batch_size=64") == 2  # the committed rows' batches, pinned whatever the template says
    trained.clear()
    assert len(levers.run_levers(TINY, out, ["baseline", "dropout_0.1"], steps=10, log=lambda *_: None)) == 2
    assert trained == []  # finished levers are read back
    md = levers.write_outputs(rows, str(tmp_path / "res" / "demo_levers.csv"))
    assert md.count("\n") == 3 and (tmp_path / "res" / "demo_levers.csv").exists()
    with pytest.raises(ValueError, match="unknown lever"):
        levers.run_levers(TINY, out, ["no_such_lever"])


def test_every_lever_is_a_valid_config(tmp_path):
    """What start_training --dry_run checks (runner.resolve validates every key and value), in process."""
    for name, (template, sets, _corpus) in levers.LEVERS.items():
        overrides = levers.runner.parse_set([f"run.data_dir={TINY}", "train_steps=10", *sets])
        plan = levers.runner.resolve(os.path.join(levers.ROOT, template), str(tmp_path / name), overrides)
        for key, value in levers.runner.parse_set(sets):
            assert plan["train_config"][key] == value, (name, key)


def test_corpus_levers_train_on_a_derived_corpus_and_rerank_with_the_formula(tmp_path, monkeypatch):
    trained, decoded = [], []
    monkeypatch.setattr(levers.runner, "launch", lambda job: trained.append(job.command()) or _fake_training(job))

    def fake_decode(ckpt, src, tgt, out_dir, topts, score_src=None):
        decoded.append((src, score_src))
        os.makedirs(out_dir, exist_ok=True)
        json.dump({"topk": {"1": 0.1}}, open(os.path.join(out_dir, "scores.json"), "w"))

    monkeypatch.setattr(levers, "decode_and_score", fake_decode)
    out = tmp_path / "levers"
    rows = levers.run_levers(TINY, str(out), ["quarter_data", "no_formula"], steps=10, log=lambda *_: None)
    assert [r["corpus"] for r in rows] == [levers.CORPUS_CHANGES[c][0] for c in ("quarter", "no_formula")]
    data_dirs = [s.split("=", 1)[1] for c in trained for s in c if s.startswith("run.data_dir=")]
    assert data_dirs == [str(out / "_corpus_quarter"), str(out / "_corpus_no_formula")]
    full = open(os.path.join(TINY, "src-train.txt")).read().splitlines()
    quarter = (out / "_corpus_quarter" / "src-train.txt").read_text().splitlines()
    assert quarter == full[: len(full) // 4] and len(quarter) > 0
    for split in ("val", "test"):  # untouched by the quarter; every split present (the runner checks)
        assert (out / "_corpus_quarter" / f"src-{split}.txt").read_text() == open(
            os.path.join(TINY, f"src-{split}.txt")
        ).read()
    no_formula = (out / "_corpus_no_formula" / "src-train.txt").read_text().splitlines()
    assert len(no_formula) == len(full) and all("<FORMULA>" not in line for line in no_formula)
    assert [line.split("</FORMULA> ", 1)[1] for line in full] == no_formula
    # decoded from the lever's own sources, re-ranked with the demo sources' formula
    src, score_src = decoded[-1]
    assert src == str(out / "_corpus_no_formula" / "src-val.txt") and score_src == os.path.join(TINY, "src-val.txt")


def test_all_molecules_adds_only_molecules_the_demo_corpus_lacks(tmp_path, monkeypatch):
    """Extra molecules join training after the demo ones; a demo val/test molecule never does."""
    extra = tmp_path / "extra"
    extra.mkdir()
    val_tgt = open(os.path.join(TINY, "tgt-val.txt")).read().splitlines()
    for split, tgts in {"train": ["[Xe]", val_tgt[0]], "val": ["[Kr]"], "test": ["[Xe]"]}.items():
        (extra / f"tgt-{split}.txt").write_text("".join(t + "\n" for t in tgts))
        (extra / f"src-{split}.txt").write_text("".join(f"<FORMULA> X{i} </FORMULA>\n" for i in range(len(tgts))))
    change = levers.CORPUS_CHANGES["all_molecules"]._replace(extra=str(extra))
    monkeypatch.setitem(levers.CORPUS_CHANGES, "all_molecules", change)
    out = levers.derive_corpus(TINY, str(tmp_path / "derived"), "all_molecules")
    demo_tgt = open(os.path.join(TINY, "tgt-train.txt")).read().splitlines()
    tgt = open(os.path.join(out, "tgt-train.txt")).read().splitlines()
    assert tgt == demo_tgt + ["[Xe]", "[Kr]"]  # de-duplicated by target, demo molecules first
    assert open(os.path.join(out, "src-train.txt")).read().splitlines()[-1] == "<FORMULA> X0 </FORMULA>"
    assert open(os.path.join(out, "tgt-val.txt")).read().splitlines() == val_tgt
    missing = change._replace(extra=str(tmp_path / "nowhere"))
    monkeypatch.setitem(levers.CORPUS_CHANGES, "all_molecules", missing)
    with pytest.raises(ValueError, match="nowhere.*--data_only"):
        levers.derive_corpus(TINY, str(tmp_path / "derived2"), "all_molecules")


def test_spectra_levers_swap_in_the_same_molecules_sources_and_refuse_a_changed_split(tmp_path, monkeypatch):
    """with_ir_* / with_msms_*: every split keeps the demo's molecules, in order, with the other corpus'
    sources; a demo molecule the other corpus lacks is an error naming the folder, never a dropped row."""
    other = tmp_path / "other"
    other.mkdir()
    splits = {s: open(os.path.join(TINY, f"tgt-{s}.txt")).read().splitlines() for s in ("train", "val", "test")}
    for split, tgts in splits.items():  # the other corpus holds the molecules in another order and split
        (other / f"tgt-{split}.txt").write_text("".join(t + "\n" for t in reversed(tgts)))
        (other / f"src-{split}.txt").write_text("".join(f"<IR> {t} </IR>\n" for t in reversed(tgts)))
    monkeypatch.setattr(levers, "spectra_corpus", lambda name: str(other))
    out = tmp_path / "derived"
    levers.derive_corpus(TINY, str(out), "ir_25")
    for split, tgts in splits.items():
        assert (out / f"tgt-{split}.txt").read_text().splitlines() == tgts
        assert (out / f"src-{split}.txt").read_text().splitlines() == [f"<IR> {t} </IR>" for t in tgts]
    (other / "tgt-val.txt").write_text("C\n")
    with pytest.raises(ValueError, match=r"other: \d+ val molecule\(s\) of the demo corpus missing"):
        levers.derive_corpus(TINY, str(tmp_path / "derived2"), "msms_4")


def test_spectra_corpus_needs_the_paper_data_and_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(levers, "ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="make data-paper"):
        levers.spectra_corpus("ir_50")
