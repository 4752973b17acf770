"""onmt_moe/runs/glycan_classifier.py: the closed-set classifier learns separable spectra, keeps to the
classes of the query's precursor, and is scored by the run scorer beside the nearest_spectrum look-up."""

import csv
import os

import numpy as np
import pytest

from onmt_moe.runs import glycan_classifier as gc
from tests.conftest import ROOT

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "glycan")
W = [ln for ln in open(os.path.join(FIXTURES, "wurcs_sample.txt")).read().split() if ln.startswith("WURCS")][:3]


def _src(prec: int, peaks: dict[int, int]) -> str:
    body = " ".join(f"MZ_{m} INT_{i}" for m, i in sorted(peaks.items()))
    return f"<TASK_STRUCT> <MS> PMZ_{prec} CHARGE_-1 {body} </MS>"


def _corpus(tmp_path):
    """Three structures with their own peaks (two share a precursor), four noisy training spectra each."""
    from onmt_moe.glycan.wurcs_tokenizer import tokenize

    rng = np.random.default_rng(0)
    looks = [(500, {100: 9, 200: 5}), (500, {150: 9, 300: 5}), (700, {120: 9, 400: 5})]
    tok = [" ".join(tokenize(w)) for w in W]
    src_tr, tgt_tr = [], []
    for c, (prec, peaks) in enumerate(looks):
        for _ in range(4):
            noisy = {m: max(0, i - int(rng.integers(0, 3))) for m, i in peaks.items()} | {
                int(rng.integers(600, 900)): 1
            }
            src_tr.append(_src(prec, noisy))
            tgt_tr.append(f"<TASK_STRUCT> {tok[c]}")
    # test: structure 0's peaks; structure 1's; structure 0's peaks under structure 2's precursor (700)
    src_te = [_src(500, {100: 8, 200: 4}), _src(500, {150: 8, 300: 4}), _src(700, {100: 8, 200: 4})]
    tgt_te = [tok[0], tok[1], tok[2]]
    d = tmp_path / "corpus" / "data" / "struct"
    d.mkdir(parents=True)
    for name, lines in (("src-train", src_tr), ("tgt-train", tgt_tr), ("src-test", src_te), ("tgt-test", tgt_te)):
        (d / f"{name}.txt").write_text("".join(ln + "\n" for ln in lines))
    return tmp_path / "corpus", tok


def test_spectrum_vector_reads_the_ms_segment():
    v = gc.spectrum_vector(_src(500, {100: 9, 250: 0}))
    assert v.shape == (gc.N_BINS,) and v[100] == 1.0 and v[250] == pytest.approx(0.1) and v.sum() == pytest.approx(1.1)
    assert not gc.spectrum_vector("<WURCS> a </WURCS>").any()


def test_the_classifier_learns_and_keeps_to_the_precursors_classes(tmp_path):
    corpus, tok = _corpus(tmp_path)
    preds = gc.classify(str(corpus / "data" / "struct"), k=2, prefix="<TASK_STRUCT>")
    firsts = preds[0::2]
    assert firsts[:2] == [tok[0], tok[1]]  # learned from the peaks
    assert preds[4:6] == [tok[2], tok[2]]  # precursor 700: structure 2 is the only class it may be


def test_run_scores_the_classifier_beside_the_look_up_and_writes_the_table(tmp_path):
    pytest.importorskip("glypy")
    corpus, _ = _corpus(tmp_path)
    rows = gc.run(str(corpus), str(tmp_path / "work"))
    by = {r["method"]: r for r in rows}
    assert by["classifier"]["n"] == 3 and by["classifier"]["top1"] == pytest.approx(1.0)
    assert by["nearest_spectrum"]["top1"] == pytest.approx(1.0)
    out = tmp_path / "t.csv"
    gc.write_rows(str(out), rows)
    gc.write_rows(str(out), rows)  # a rerun replaces the rows of its corpus
    table = list(csv.DictReader(open(out)))
    assert len(table) == 2 and list(table[0]) == gc.COLUMNS and table[0]["machine"]
