"""Scoring on real annotated spectra (onmt_moe/glycan/real): identity under ambiguous annotations,
CandyCrunch's matching and F1, exact chance baselines, and benchmark/evaluate_real_glycan.py end to
end (baselines only, a scripted decoder, and a real tiny OpenNMT run)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytest.importorskip("glycowork")
pytest.importorskip("pyteomics")
FIX = os.path.join(ROOT, "tests", "fixtures", "real_glycan")
SPECTRA, ANN = os.path.join(FIX, "spectra.xlsx"), os.path.join(FIX, "df_mz.csv")
MAN5 = "Man(a1-3/6)Man(a1-6)[Man(a1-3)]Man(b1-4)GlcNAc(b1-4)GlcNAc"
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def test_admits_is_subsumption_not_wildcard_equality():
    from onmt_moe.glycan.real.identity import admits, expansions

    assert len(expansions(MAN5)) == 2
    assert admits(MAN5, MAN5.replace("a1-3/6", "a1-3")) and admits(MAN5, MAN5.replace("a1-3/6", "a1-6"))
    assert not admits(MAN5, MAN5.replace("a1-3/6", "a1-2"))
    # compare_glycans says these are equal; a prediction that does not commit is not one structure
    assert admits("Gal(b1-?)GalNAc", "Gal(b1-3)GalNAc")
    assert not admits("Gal(b1-3)GalNAc", "Gal(b1-?)GalNAc")
    # a prediction as ambiguous as the annotation: both structures it stands for are allowed
    assert admits(MAN5, MAN5) and not admits(MAN5.replace("a1-3/6", "a1-2/6"), MAN5)
    floating = "{Man(a1-2/3/6)}{Man(a1-2/3/6)}Man(a1-3)[Man(a1-6)]Man(b1-4)GlcNAc(b1-4)GlcNAc"
    assert admits(floating, "Man(a1-2)Man(a1-3)[Man(a1-2)Man(a1-6)]Man(b1-4)GlcNAc(b1-4)GlcNAc")
    assert not admits(floating, "Man(a1-4)Man(a1-3)[Man(a1-2)Man(a1-6)]Man(b1-4)GlcNAc(b1-4)GlcNAc")


def test_candycrunch_f1_and_exact_chance():
    from onmt_moe.glycan.real.baselines import chance
    from onmt_moe.glycan.real.identity import candycrunch_f1

    # right (1), unassigned-but-predicted (0.5 TP), not predicted (FN 1), partial 0.25
    f = candycrunch_f1(["A", None, "B", "C"], ["A", "x", None, "y"], sims=[1.0, 0.0, 0.0, 0.25])
    assert f["tp"] == pytest.approx(1.75) and f["fn"] == pytest.approx(1.75) and f["fp"] == 0
    assert f["f1"] == pytest.approx(2 * 1.0 * 0.5 / 1.5, abs=1e-6)
    pool = ["Gal(b1-3)GalNAc", "Gal(b1-4)GalNAc", "Gal(b1-6)GalNAc", "GlcNAc(b1-3)Gal"]
    c = chance("Gal(b1-3/4)GalNAc", pool, ks=(1, 2), sim_samples=0)
    assert c["admitted"] == 2 and c["top1"] == pytest.approx(0.5) and c["top2"] == pytest.approx(1 - 1 / 6)
    assert chance("Gal(b1-3)GalNAc", [], ks=(1,))["top1"] == 0.0


def test_matching_follows_candycrunch():
    from onmt_moe.glycan.real.annotations import Annotation, match, read_annotations

    anns = read_annotations(ANN, SPECTRA)
    assert len(anns) == 4  # the row with abundance 0 in the file's column is not this file's
    spectra = [(384.03, 10.5, 1), (384.10, 10.9, 1), (384.2, 30.0, 1), (519.7, 12.0, 2)]
    a = [
        Annotation(0, 384.2, 10.91, "x"),
        Annotation(1, 384.2, 10.91, "x"),
        Annotation(2, 1040.4, 12.3, "y"),
        Annotation(3, 384.2, 20.0, "z"),
    ]
    # nearest RT first, each spectrum once, 2- spectra also by their 1- equivalent, RT window enforced
    assert match(a, spectra) == [(0, 1), (1, 0), (2, 3)]


class _ScriptedModel:
    """A StructureModel with no network: the corpus' token settings, n-best and scores are scripted."""

    name = "scripted"

    def corpus_tokens(self):
        return {}, False

    def decode(self, lines, n_best, beam_size, max_length):
        right = MAN5.replace("a1-3/6", "a1-6")
        return [
            [("x", -1.0), (right, -2.0)] if "PMZ_1073" in ln else [("Gal(b1-3)GalNAc", -1.0), ("x", -2.0)]
            for ln in lines
        ]

    def scorer(self):
        raise AssertionError("library_max=0: no ranking")


def test_evaluate_scores_a_decoder(monkeypatch, tmp_path):
    """The scoring plumbing with a scripted decoder: the Man5 spectrum's right answer at rank 2,
    Gal(b1-3)GalNAc right at rank 1 for the 384 spectrum and wrong elsewhere."""
    from onmt_moe.glycan.real import evaluate as ev

    # n-best "tokens" -> IUPAC: scripted candidates pass through, "x" is not a structure (None)
    monkeypatch.setattr(ev, "wurcs_to_iupac", lambda w: None if w == "x" else w)
    monkeypatch.setattr(
        ev, "source_lines", lambda rows, cls, opts, tokens, with_text: [f"PMZ_{int(r['precursor_mz'])}" for r in rows]
    )
    res = ev.evaluate(
        SPECTRA,
        ANN,
        "N",
        model=_ScriptedModel(),
        opts=ev.Options(n_best=2, max_residues=8, sim_samples=2, library_max=0),
        out_dir=str(tmp_path),
        log=lambda *_: None,
    )
    assert res["n_with_structure"] == 4 and res["n_matched"] == 4 and "model_library" not in res
    assert res["model"]["top1"] == pytest.approx(0.25) and res["model"]["top2"] == pytest.approx(0.5)
    # re-ranked: the Man5 spectrum's rank-2 candidate fits its precursor and the None before it cannot
    assert res["model_reranked"]["top1"] == pytest.approx(0.5) and res["model_reranked"]["top2"] == pytest.approx(0.5)
    assert 0 < res["model"]["f1"] < 1 and res["model"]["precision"] == pytest.approx(1.0)
    assert res["composition_inferred_right"] == 1.0
    assert 0 <= res["chance"]["top1"] <= res["chance"]["top2"] <= 1
    per = (tmp_path / "real_annotations.csv").read_text().splitlines()
    scores = json.loads((tmp_path / "real_scores.json").read_text())
    assert len(per) == 5 and scores["glycan_class"] == "N" and scores["run"] == "scripted"


def test_library_ranking_orders_the_convertible_isomers_by_the_model_likelihood(monkeypatch):
    """Closed-set identification: only isomers with a verified WURCS are scored, best score first;
    a run's scorer is the inference engine's teacher-forced likelihood of its checkpoint."""
    from onmt_moe.glycan.real import evaluate as ev
    from onmt_moe.inference import decode, likelihood
    from onmt_moe.runs.glycan_real_model import RunModel

    seen = {}

    def fake_ll(model, vocabs, source, candidates, prefix=""):
        seen["source"], seen["model"] = source, (model, vocabs)
        return [-float(len(c)) for c in candidates]  # the shortest WURCS is the most likely

    monkeypatch.setattr(likelihood, "load_model", lambda ckpt: ("model of " + ckpt, "vocabs"))
    monkeypatch.setattr(likelihood, "log_likelihood", fake_ll)
    monkeypatch.setattr(decode, "checkpoint_path", lambda run: run + "/model_step_1.pt")
    score = RunModel("run").scorer()
    pool = ["Gal(b1-4)GlcNAc(b1-2)Man", "Gal(b1-3/4)GlcNAc", "Gal(b1-3)GlcNAc"]
    (res,) = ev.library_ranked(score, ["PMZ_1 CHARGE_-1"], [pool], ev.Options())
    assert seen["source"] == ["PMZ_1", "CHARGE_-1"] and seen["model"] == ("model of run/model_step_1.pt", "vocabs")
    assert res["pool"] == 3 and res["scored"] == 2  # the alternative linkage has no verified WURCS
    assert res["ranked"] == ["Gal(b1-3)GlcNAc", "Gal(b1-4)GlcNAc(b1-2)Man"]
    (capped,) = ev.library_ranked(score, ["PMZ_1"], [pool], ev.Options(library_max=1))
    assert capped["ranked"] == ["Gal(b1-4)GlcNAc(b1-2)Man"] and capped["scored"] == 1


def test_mass_reranking_uses_the_reduced_precursor():
    from onmt_moe.glycan.real.charge import mass_reranked, precursor_consistent

    sialyl_t = "Neu5Ac(a2-3)Gal(b1-3)GalNAc"  # 674.238 free, alditol +2.016: [M-H]- 675.24, [M-2H]2- 337.12
    assert precursor_consistent(sialyl_t, 675.25, "reduced", 0.5)
    assert precursor_consistent(sialyl_t, 337.12, "reduced", 0.5)  # z = 2
    assert not precursor_consistent(sialyl_t, 675.25, "free", 0.5)  # 2 Da off without the alditol
    assert not precursor_consistent("not a glycan", 675.25, "reduced", 0.5) and not precursor_consistent(
        None, 1, "reduced", 1
    )
    core1 = "Gal(b1-3)GalNAc"
    assert mass_reranked([core1, None, sialyl_t], 675.25, "reduced", 0.5) == [sialyl_t, core1, None]


def test_cli_bad_annotations_one_line(tmp_path):
    bad = tmp_path / "ann.csv"
    bad.write_text("Mass,glycan\n384.2,Gal(b1-3)GalNAc\n")
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "evaluate_real_glycan.py"),
            "--spectra",
            SPECTRA,
            "--annotations",
            str(bad),
            "--glycan_class",
            "N",
            "--max_residues",
            "8",
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert r.returncode == 2 and "ann.csv" in r.stderr and "Traceback" not in r.stderr


def test_end_to_end_with_a_tiny_run(tmp_path):
    """A real (tiny, 4-step) OpenNMT run decodes the matched real spectra through the stock engine."""
    corpus = tmp_path / "corpus"
    subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "generate_glycan_input.py"),
            "--input",
            os.path.join(ROOT, "tests", "fixtures", "glycan", "sample.parquet"),
            "--out_dir",
            str(corpus),
            "--text",
            "--composition",
        ],
        check=True,
        capture_output=True,
        env=ENV,
    )
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "start_training.py"),
            "--config",
            os.path.join(ROOT, "configs", "tiny_moe.yaml"),
            "--runs_dir",
            str(tmp_path),
            "--run_name",
            "g",
            "--quiet",
            "--set",
            f"run.data_dir={corpus / 'data'}",
            "--set",
            "run.kind=wurcs",
            "--set",
            "train_steps=4",
            "--set",
            "save_checkpoint_steps=4",
            "--set",
            "valid_steps=4",
            "--stages",
            "vocab,train",
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    from onmt_moe.glycan.real import evaluate as ev
    from onmt_moe.runs.glycan_real_model import evaluate_run

    res = evaluate_run(
        SPECTRA,
        ANN,
        "N",
        run=str(tmp_path / "g"),
        out_dir=str(tmp_path / "real"),
        log=lambda *_: None,
        opts=ev.Options(n_best=2, max_residues=8, sim_samples=1),
    )
    assert res["n_matched_with_structure"] == 4 and set(res["model"]) >= {"top1", "top2", "f1"}
    assert "ours (run)" in ev.format_table(res) and "ours, library-ranked" in ev.format_table(res)
    # closed set: the ranked pool is the composition-only baseline's pool, so top-k can only grow with k
    assert 0 <= res["model_library"]["top1"] <= res["model_library"]["top2"] <= 1
    # its fair baseline: a uniform pick among the same scored candidates
    assert 0 <= res["library_chance"]["top1"] <= res["library_chance"]["top2"] <= 1
    assert "random scored isomer" in ev.format_table(res)
    assert "model_rank" in (tmp_path / "real" / "real_annotations.csv").read_text()


def test_candycrunch_predictions_are_scored_with_their_false_positives(tmp_path):
    from onmt_moe.glycan.real import evaluate as ev

    cc = tmp_path / "cc.csv"
    cc.write_text(
        "mz,RT,charge,predictions\n"
        '384.2,10.9,-1,"[""Gal(b1-3)GalNAc""]"\n'  # right
        '530.3,25.3,-1,"[""Gal(b1-3)[Fuc(a1-2)]GalNAc"", ""Fuc(a1-2)Gal(b1-3)GalNAc""]"\n'  # rank 2
        '700.0,5.0,-1,"[""Gal(b1-4)Glc""]"\n'
    )  # no annotation: FP
    res = ev.evaluate(
        SPECTRA,
        ANN,
        "N",
        opts=ev.Options(n_best=2, max_residues=8, sim_samples=1),
        log=lambda *_: None,
        candycrunch=str(cc),
    )
    c = res["candycrunch"]
    assert c["top1"] == pytest.approx(0.25) and c["top2"] == pytest.approx(0.5)
    assert c["precision"] < 1.0 and c["top1_matched"] == pytest.approx(0.5)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ev.AnnotationError, match="bad.csv"):
        ev.evaluate(SPECTRA, ANN, "N", candycrunch=str(bad), log=lambda *_: None)
