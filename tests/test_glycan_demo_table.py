"""The table of ``make demo-glycan`` (onmt_moe/glycan/demo_table.py): every task of a finished run
against a baseline fitted on the training split, and chance. A finished run folder is written by hand
in the layout start_training and the multi-task corpus use (run.json's data_dir, tasks.json beside it,
<data_dir>/<task>/{src,tgt}-{train,val,test}.txt, scores.json ``{"tasks": …}``, retrieval.json,
pred/<task>/test.txt); one test writes the corpus with the real writer instead."""

import contextlib
import csv
import io
import json
import os
from collections import Counter

import pytest

from onmt_moe.glycan import demo_table as T
from onmt_moe.glycan.wurcs_tokenizer import tokenize
from tests.conftest import ROOT

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "glycan")
# four distinct structures (lines 2-5 of the fixture), space-tokenised as in the corpus
W1, W2, W3, W4 = (" ".join(tokenize(w)) for w in open(os.path.join(FIXTURES, "wurcs_sample.txt")).read().split()[1:5])
MS = "<MS> PMZ_500 CHARGE_-1 MZ_100 INT_1 </MS>"
SPEC_TRAIN = [  # the spectrum task's training targets (prefix dropped)
    "PMZ_500 CHARGE_-1 MZ_100 INT_2 MZ_200 INT_4",
    "PMZ_500 CHARGE_-1 MZ_100 INT_4 MZ_300 INT_1",
    "PMZ_600 CHARGE_-2 MZ_100 INT_0 MZ_200 INT_2 MZ_400 INT_1",
]
# median 2 peaks; bins 100 (3 spectra) and 200 (2); mean intensity bins (2+4+0)/3 = 2, (4+2)/2 = 3
MEAN_SPECTRUM = "PMZ_500 CHARGE_-1 MZ_100 INT_2 MZ_200 INT_3"
TEXT_N = "n-linked glycan ; kingdom animalia"
TEXT_O = "o-linked glycan ; kingdom plantae"


def _wurcs(w: str) -> str:
    return f"<WURCS> {w} </WURCS>"


def _corpus_tasks():
    """{task: (score kind, train (src, tgt), test (src, tgt))}; train targets without the task token."""
    return {
        # train: W1 twice -> most frequent W1, then W2 (first of the ties); test: W2 twice, W1 once
        "struct": ("wurcs", ([MS] * 4, [W1, W2, W1, W3]), ([MS] * 3, [W2, W2, W1])),
        "spec": ("spectrum", ([_wurcs(w) for w in (W1, W2, W3)], SPEC_TRAIN), ([_wurcs(W2)], [SPEC_TRAIN[0]])),
        # train: the o-linked text is the most frequent; the test structure W1 is a training one (n-linked)
        "text": (
            "text",
            ([f"{_wurcs(w)} {MS}" for w in (W1, W2, W3)], [TEXT_N, TEXT_O, TEXT_O]),
            ([f"{_wurcs(W1)} {MS}"] * 2, [TEXT_N, TEXT_N]),
        ),
        "align": (
            "text",
            ([f"{MS} {_wurcs(w)}" for w in (W1, W2, W3)], ["Hex 3", "Hex 2 HexNAc 1", "Hex 2 HexNAc 1"]),
            ([f"{MS} {_wurcs(W4)}"], ["Hex 4"]),
        ),
    }


def _write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(ln + "\n" for ln in lines))


def _write_corpus(root) -> str:
    """The corpus as generate_glycan_input.py --multitask --target_task_token writes it; its data dir."""
    data = os.path.join(root, "corpus", "data")
    manifest = {}
    for task, (kind, (tr_src, tr_tgt), (te_src, te_tgt)) in _corpus_tasks().items():
        token = f"<TASK_{task.upper()}>"
        d = os.path.join(data, task)
        _write(os.path.join(d, "src-train.txt"), [f"{token} {s}" for s in tr_src])
        _write(os.path.join(d, "tgt-train.txt"), [f"{token} {t}" for t in tr_tgt])  # train targets: the token first
        _write(os.path.join(d, "src-val.txt"), [f"{token} {s}" for s in te_src])
        _write(os.path.join(d, "tgt-val.txt"), [f"{token} {t}" for t in te_tgt])
        _write(os.path.join(d, "src-test.txt"), [f"{token} {s}" for s in te_src])
        _write(os.path.join(d, "tgt-test.txt"), te_tgt)  # test targets: the plain references
        written = {"train": len(tr_src), "val": len(te_src), "test": len(te_src)}
        manifest[task] = {"token": token, "score": kind, "weight": 1, "target_prefix": token, "data_dir": d}
        manifest[task]["written"] = written
    with open(os.path.join(root, "corpus", "tasks.json"), "w") as f:
        json.dump(manifest, f)
    return data


SCORES = {
    "tasks": {
        "struct": {"kind": "wurcs", "n_best": 2, "n": 3, "topk": {"1": 0.5, "2": 0.75}, "composition_topk": {"1": 0.9}},
        "spec": {"kind": "spectrum", "n": 1, "top1": {"f1": 0.8, "cosine": 0.7}},
        "text": {
            "kind": "text",
            "n": 2,
            "bleu": 40.0,
            "chrf": 50.0,
            "topk": {"1": 0.5},
            "field_accuracy": {"type": 1.0, "kingdom": 0.5, "species": None, "tissue": None},
            "field_rows": {"type": 2, "kingdom": 2, "species": 0, "tissue": 0},
        },
        "align": {"kind": "text", "n": 1, "bleu": 30.0, "chrf": 40.0, "topk": {"1": 0.0}},
    }
}
RETRIEVAL = {
    "embedding": {
        "spectrum->structure": {"recall@10": 1.0, "library": 3, "n": 3},
        "text->structure": {"recall@10": 0.2, "library": 150, "n": 80},
        "structure->spectrum": {"n": 0},
    },
    "likelihood": {"all": {"n": 3, "mean_candidates": 30.0, "recall@1": 0.4}, "same_composition": {"n": 0}},
}


@pytest.fixture
def run(tmp_path):
    """A finished demo run folder over the hand-written corpus."""
    data = _write_corpus(str(tmp_path))
    run = tmp_path / "runs" / "glycan_demo"
    for task, (_, _, (_, te_tgt)) in _corpus_tasks().items():
        _write(str(run / "pred" / task / "test.txt"), te_tgt)
    (run / "run.json").write_text(json.dumps({"data_dir": data, "n_best": 2}))
    (run / "scores.json").write_text(json.dumps(SCORES))
    (run / "retrieval.json").write_text(json.dumps(RETRIEVAL))
    return str(run)


def _by(rows):
    return {(r["task"], r["metric"]): r for r in rows}


def test_structure_most_frequent_is_fitted_on_the_train_split(run):
    rows = _by(T.build_rows(run))
    top1 = rows["struct", "top1"]
    # train's most frequent is W1, right for 1 of the 3 test rows (the test split's own would be W2: 2/3)
    assert top1["ours"] == 0.5 and top1["baseline_name"] == "most_frequent"
    assert top1["baseline"] == pytest.approx(1 / 3) and top1["baseline_most_frequent"] == pytest.approx(1 / 3)
    assert top1["chance"] == pytest.approx(1 / 3)  # 3 distinct training structures (the test split has 2)
    top2 = rows["struct", "top2"]  # W1, then W2: every test row
    assert top2["ours"] == 0.75 and top2["baseline"] == 1.0 and top2["chance"] == pytest.approx(2 / 3)
    assert rows["struct", "composition_top1"]["chance"] is None
    pred = open(os.path.join(run, "baselines", "struct", "most_frequent.txt")).read().splitlines()
    assert pred == [W1, W2] * 3  # n_best lines per test row, the training task token dropped


def test_spectrum_baselines(run):
    assert T.mean_spectrum(SPEC_TRAIN) == MEAN_SPECTRUM
    rows = _by(T.build_rows(run))
    f1 = rows["spec", "f1"]
    # test target = SPEC_TRAIN[0] (bins 100, 200): the mean spectrum has both; the nearest structure
    # (W2, the second training row) gives SPEC_TRAIN[1] (bins 100, 300): F1 1/2
    assert f1["baseline_mean_spectrum"] == 1.0 and f1["baseline_nearest_structure"] == pytest.approx(0.5)
    assert f1["baseline"] == 1.0 and f1["baseline_name"] == "mean_spectrum" and f1["chance"] is None
    assert f1["ours"] == 0.8 and rows["spec", "cosine"]["ours"] == 0.7


def test_text_baselines_most_frequent_and_nearest_structure(run):
    rows = _by(T.build_rows(run))
    for metric in ("bleu", "chrf", "field_accuracy", "top1"):
        r = rows["text", metric]
        assert r["baseline_name"] == "nearest_structure", metric  # W1 is a training structure: its text
        assert r["baseline"] == (100.0 if metric in ("bleu", "chrf") else 1.0), metric
    assert rows["text", "top1"]["baseline_most_frequent_description"] == 0.0  # the o-linked text
    assert rows["text", "field_accuracy"]["baseline_most_frequent_description"] == 0.0
    assert rows["text", "field_accuracy"]["ours"] == 0.75  # (2 x 1.0 + 2 x 0.5) / 4 fields
    assert rows["text", "top1"]["chance"] == pytest.approx(1 / 2)  # 2 distinct training descriptions
    assert rows["text", "bleu"]["chance"] is None
    assert rows["align", "top1"]["baseline_most_frequent"] == 0.0  # "Hex 2 HexNAc 1"
    assert ("align", "field_accuracy") not in rows  # compositions have no metadata fields


def test_nearest_structure_picks_the_right_neighbour():
    train_src = ["<WURCS> a b x y z </WURCS>", "<WURCS> a b c d </WURCS> <MS> PMZ_1 </MS>", "<WURCS> q </WURCS>"]
    train_tgt = ["far", "near", "other"]
    test_src = [
        "<TASK_TEXT> <WURCS> a b c e </WURCS>",  # Jaccard 3/5 with "a b c d", 2/7 with "a b x y z"
        "<WURCS> q </WURCS>",  # the same WURCS
        "<WURCS> m </WURCS>",  # shares nothing: the first training row
    ]
    assert T.nearest_targets(train_src, train_tgt, test_src) == ["near", "other", "far"]
    assert T.jaccard(Counter("aab"), Counter("ab")) == pytest.approx(2 / 3)  # counts count


def test_nearest_spectrum_filters_by_precursor_then_takes_the_closest_peaks():
    train_src = [
        "<TASK_STRUCT> <MS> PMZ_500 CHARGE_-1 MZ_100 INT_5 MZ_200 INT_1 </MS>",
        "<TASK_STRUCT> <MS> PMZ_500 CHARGE_-1 MZ_100 INT_1 MZ_300 INT_5 </MS>",
        "<TASK_STRUCT> <MS> PMZ_600 CHARGE_-1 MZ_100 INT_1 MZ_300 INT_5 </MS>",
    ]
    train_tgt = ["A", "B", "C"]
    test_src = [
        "<TASK_STRUCT> <MS> PMZ_500 CHARGE_-1 MZ_100 INT_1 MZ_300 INT_6 </MS>",  # B, not C (other precursor)
        "<TASK_STRUCT> <MS> PMZ_600 CHARGE_-1 MZ_100 INT_5 MZ_200 INT_1 </MS>",  # only C has this precursor
        "<TASK_STRUCT> <MS> PMZ_700 CHARGE_-1 MZ_100 INT_5 MZ_200 INT_1 </MS>",  # no such precursor: all rows, A
        "<TASK_STRUCT> <WURCS> a </WURCS>",  # no spectrum: the first training target
    ]
    assert T.nearest_spectrum_targets(train_src, train_tgt, test_src) == ["B", "C", "A", "A"]


def test_retrieval_rows_beside_a_random_ranking(run):
    rows = _by(T.build_rows(run))
    r = rows["retrieval spectrum->structure", "r10"]
    assert r["ours"] == 1.0 and r["chance"] == 1.0 and r["baseline"] == 1.0 and r["baseline_name"] == "random"
    assert rows["retrieval text->structure", "r10"]["chance"] == pytest.approx(10 / 150)
    assert rows["identify all", "top1"]["chance"] == pytest.approx(1 / 30)
    assert not any(t == "retrieval structure->spectrum" for t, _ in rows)  # no query: no row


def test_csv_and_markdown(run, tmp_path):
    rows = T.build_rows(run)
    md = T.write_table(rows, str(tmp_path / "out" / "glycan_demo.csv"), "a test machine, 2 cores", "runs/x")
    with open(tmp_path / "out" / "glycan_demo.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[:6] == ["task", "metric", "ours", "baseline", "baseline_name", "chance"]
    assert {"baseline_nearest_structure", "baseline_most_frequent_description"} <= set(table[0])
    assert {(r["machine"], r["run_dir"]) for r in table} == {("a test machine, 2 cores", "runs/x")}
    assert {r["task"] for r in table} >= {"struct", "spec", "text", "align", "identify all"}
    first = table[0]
    assert (first["task"], first["metric"], first["ours"], first["chance"]) == ("struct", "top1", "0.5", "0.3333")
    assert next(r for r in table if r["metric"] == "bleu")["chance"] == ""  # no chance level: empty
    assert (tmp_path / "out" / "glycan_demo.md").read_text() == md + "\n"
    assert "| struct | top1 | 50.0 % | 33.3 % | most_frequent | 33.3 % | 3 |" in md
    assert "| text | bleu | 40.0 | 100.0 | nearest_structure | - | 2 |" in md
    assert "machine: a test machine, 2 cores" in md and "runs/x" in md
    from onmt_moe.runs import results_doc  # docs/results.md (make docs) shows the CSV with its machine

    page = results_doc.render(str(tmp_path / "out"))
    assert "## Glycans: the multi-task demo against its baselines" in page
    assert "Machine: a test machine, 2 cores." in page


def test_a_run_without_its_corpus_is_one_line(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"data_dir": str(tmp_path / "nowhere" / "data")}))
    (tmp_path / "scores.json").write_text(json.dumps(SCORES))
    with pytest.raises(T.DemoTableError, match="tasks.json: not found"):
        T.build_rows(str(tmp_path))


def test_demo_writes_and_prints_the_table(run, tmp_path, monkeypatch, capsys):
    from onmt_moe.runs import demo_glycan as lib

    monkeypatch.setattr(lib.runner, "machine_line", lambda: "the machine")
    d = lib.GlycanDemo(runs_dir=os.path.dirname(run), run_name="glycan_demo", results=str(tmp_path / "r" / "g.csv"))
    assert lib.write_demo_table(d)
    out = capsys.readouterr().out
    assert "| struct | top1 |" in out and "| struct_classifier | top1 |" in out and "machine: the machine" in out
    assert (tmp_path / "r" / "g.csv").exists() and (tmp_path / "r" / "g.md").exists()
    assert lib.GlycanDemo().results == os.path.join(ROOT, "benchmark", "results", "glycan_demo.csv")
    none = lib.GlycanDemo(runs_dir=str(tmp_path), run_name="none", results=str(tmp_path / "none.csv"))
    assert not lib.write_demo_table(none) and not (tmp_path / "none.csv").exists()
    assert "error: the demo table" in capsys.readouterr().err


def test_on_a_corpus_the_real_writer_wrote(tmp_path):
    """The corpus layout of generate_glycan_input.py --multitask --target_task_token (the sample set),
    a run that predicts every test target: ours 1, every baseline below, every task in the table."""
    from onmt_moe.evaluation.scoring import score_files
    from onmt_moe.glycan.corpus import CorpusOptions, write_corpus
    from onmt_moe.glycan.spectra_tokens import SpecTokConfig

    opt = CorpusOptions(text=True, multitask="struct,spec,text,align", target_task_token=True)
    with contextlib.redirect_stdout(io.StringIO()):
        write_corpus(os.path.join(FIXTURES, "sample.parquet"), str(tmp_path / "mt"), SpecTokConfig(), opt)
    data, run = str(tmp_path / "mt" / "data"), tmp_path / "run"
    scores = {}
    for task, (kind, _) in T.corpus_tasks(data).items():
        tgt = os.path.join(data, task, "tgt-test.txt")
        _write(str(run / "pred" / task / "test.txt"), open(tgt).read().splitlines())
        scores[task] = score_files(str(run / "pred" / task / "test.txt"), tgt, 1, kind=kind)
    (run / "run.json").write_text(json.dumps({"data_dir": data}))
    (run / "scores.json").write_text(json.dumps({"tasks": scores}))
    rows = T.build_rows(str(run))
    assert {r["task"] for r in rows} == {"struct", "spec", "text", "align"}
    for r in rows:
        assert r["ours"] == (100.0 if r["metric"] in T.POINTS else 1.0), r
        assert r["baseline"] is not None and r["baseline"] < r["ours"], r
    assert {r["baseline_name"] for r in rows if r["task"] == "spec"} <= {"mean_spectrum", "nearest_structure"}
