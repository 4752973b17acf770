"""Forward-simulation re-ranking of a run folder (onmt_moe.runs.rerank, scripts/rerank_run.py): the
weights are fitted on the validation n-best only, saved where onmt_moe_predict --rerank auto finds
them, the test n-best is re-ranked with them, and a run without NMR is refused with nothing written.

No model is trained: the run folder is written by hand, with hand-written n-best files (the test
split's ``pred/test.txt`` and a pre-decoded validation n-best, or a stand-in for onmt_translate)."""

import json

import pytest

from onmt_moe.predict import forward_rank as fr
from onmt_moe.runs import rerank, runner

FORMULA = "<FORMULA> C 8 H 8 O 2 </FORMULA>"
# methyl benzoate and phenyl acetate (C8H8O2), literature shifts, in the tagged source format
SRC_MB = (
    f"{FORMULA} <NMR> 1HNMR 8.04 8.02 d 2H J 7.6 | 7.56 7.54 t 1H J 7.4 | 7.44 7.42 t 2H J 7.6 | "
    "3.92 3.90 s 3H 13CNMR 166.9 132.9 130.2 129.6 128.4 52.1 </NMR>"
)
SRC_PA = (
    f"{FORMULA} <NMR> 1HNMR 7.38 7.34 t 2H J 7.8 | 7.22 7.20 t 1H J 7.4 | 7.09 7.07 d 2H J 7.8 | "
    "2.30 2.28 s 3H 13CNMR 169.4 150.7 129.4 125.8 121.6 21.1 </NMR>"
)
MB, PA = "C O C ( = O ) c 1 c c c c c 1", "C C ( = O ) O c 1 c c c c c 1"
ALC, BENZENE = "O C c 1 c c c c c 1 C = O", "c 1 c c c c c 1"  # an isomer; a wrong formula
N_BEST = 4

# test split: the right answer is last in the beam, third among the formula-consistent candidates
TEST = [(SRC_MB, MB, [BENZENE, PA, ALC, MB]), (SRC_PA, PA, [MB, ALC, BENZENE, PA])]
# validation splits: one where the simulation helps (answer third), one where the beam is right
VALID_HELPS = [(SRC_PA, PA, [MB, ALC, BENZENE, PA]), (SRC_MB, MB, [BENZENE, PA, ALC, MB])]
VALID_BEAM_RIGHT = [(SRC_PA, PA, [PA, MB, ALC, BENZENE]), (SRC_MB, MB, [MB, PA, ALC, BENZENE])]


def _nbest_text(samples):
    return "".join(f"{c}\t{-0.1 * (i + 1):.2f}\n" for _, _, cands in samples for i, c in enumerate(cands))


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def make_run(tmp_path, valid, test=TEST, kind="smiles"):
    """A run folder as start_training leaves it after translate (no checkpoint needed here), the corpus
    next to it, and the validation n-best decoded beforehand (returned)."""
    data = tmp_path / "data"
    data.mkdir()
    for split, samples in (("val", valid), ("test", test)):
        _write(data / f"src-{split}.txt", [s for s, _, _ in samples])
        _write(data / f"tgt-{split}.txt", [t for _, t, _ in samples])
    run = tmp_path / "run"
    (run / "pred").mkdir(parents=True)
    (run / "pred" / "test.txt").write_text(_nbest_text(test), encoding="utf-8")
    rec = {"kind": kind, "n_best": N_BEST, "data_dir": str(data)}
    rec.update(src_test=str(data / "src-test.txt"), tgt_test=str(data / "tgt-test.txt"))
    (run / "run.json").write_text(json.dumps(rec), encoding="utf-8")
    valid_nbest = tmp_path / "valid_nbest.txt"
    valid_nbest.write_text(_nbest_text(valid), encoding="utf-8")
    return run, valid_nbest


def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_weights_fitted_on_validation_rerank_the_test_part(tmp_path):
    run, valid_nbest = make_run(tmp_path, VALID_HELPS)
    res = rerank.rerank_run(str(run), valid_nbest=str(valid_nbest))
    w = fr.weights_for(str(run / "model_step_1000.pt"))  # where onmt_moe_predict --rerank auto looks
    assert w is not None and (w.c > 0 or w.h > 0) and "src-val.txt" in w.source
    assert _json(run / rerank.RERANK_JSON) == json.loads(json.dumps(res))
    assert res["topk"]["beam"] == {"1": 0.0, "5": 1.0, "10": 1.0}
    assert res["topk"]["formula"]["1"] == 0.0 and res["topk"]["simulate"]["1"] == 1.0
    assert res["n"] == res["n_scored"] == res["n_with_nmr"] == 2 and res["n_best"] == N_BEST
    assert res["valid"]["n"] == 2 and res["valid"]["top1_beam"] == 0.0 and res["valid"]["top1_fitted"] == 1.0
    assert res["seconds_per_molecule"] >= 0 and res["seconds"]["decode_valid"] >= 0


def test_the_test_part_never_chooses_the_weights(tmp_path):
    """On a validation split where the beam is right, the weights stay (0, 0): the simulation cannot
    lift the test answers, although weights fitted on the test part would get every one right."""
    run, valid_nbest = make_run(tmp_path, VALID_BEAM_RIGHT)
    res = rerank.rerank_run(str(run), valid_nbest=str(valid_nbest))
    assert (res["weights"]["c"], res["weights"]["h"]) == (0.0, 0.0)
    assert fr.Weights.load(str(run / fr.WEIGHTS_FILE)) == fr.Weights(0.0, 0.0, res["weights"]["source"])
    assert res["topk"]["simulate"] == res["topk"]["formula"] and res["topk"]["simulate"]["1"] == 0.0
    # the check has teeth: the same test part, used to fit, would choose weights that put them first
    src, tgt = [s for s, _, _ in TEST], [t for _, t, _ in TEST]
    cands, scores = rerank.read_candidates(str(run / "pred" / "test.txt"), N_BEST, len(TEST))
    samples, _ = rerank.read_samples(src, tgt, cands, scores, rerank.Canonicaliser())
    w_test, top1_test = fr.fit_weights(samples)
    assert top1_test == 1.0 and (w_test.c > 0 or w_test.h > 0)


def test_max_valid_cuts_a_longer_validation_nbest(tmp_path):
    run, valid_nbest = make_run(tmp_path, VALID_BEAM_RIGHT[:1] + VALID_HELPS[1:])
    res = rerank.rerank_run(str(run), max_valid=1, valid_nbest=str(valid_nbest))
    assert res["valid"]["n"] == 1 and res["valid"]["top1_beam"] == 1.0
    assert (res["weights"]["c"], res["weights"]["h"]) == (0.0, 0.0)  # the second source was not used


def test_validation_sources_decoded_with_the_runs_translate_config(tmp_path, monkeypatch):
    """Without a pre-decoded n-best, the first max_valid validation sources go to onmt_translate with
    the run's translate.yaml (a stand-in here writes the hand-made n-best)."""
    run, _ = make_run(tmp_path, VALID_HELPS)
    (run / "translate.yaml").write_text("model: model_step_1000.pt\nn_best: 4\n", encoding="utf-8")
    by_src = {s: [(s, t, c)] for s, t, c in VALID_HELPS}
    calls = []

    def fake_run_logged(cmd, log, echo=True):
        calls.append(cmd)
        src = open(cmd[cmd.index("-src") + 1], encoding="utf-8").read().splitlines()
        out = cmd[cmd.index("-output") + 1]
        open(out, "w", encoding="utf-8").write("".join(_nbest_text(by_src[s]) for s in src))

    monkeypatch.setattr(runner, "run_logged", fake_run_logged)
    res = rerank.rerank_run(str(run), max_valid=1)
    (cmd,) = calls
    assert cmd[cmd.index("-config") + 1] == str(run / "translate.yaml")
    assert (run / rerank.VALID_SRC).read_text(encoding="utf-8").splitlines() == [SRC_PA]
    assert res["valid"]["nbest"] == str(run / rerank.VALID_NBEST) and res["valid"]["n"] == 1
    assert res["topk"]["simulate"]["1"] == 1.0
    # the runner's optional stage does the same with its plan (default max_valid: both sources here)
    plan = dict(_json(run / "run.json"), run_dir=str(run), tasks={})
    assert runner.stage_rerank(plan, str(run / "train.log"), False)["rerank"]["topk"]["simulate"]["1"] == 1.0
    assert len(calls) == 2 and _json(run / rerank.RERANK_JSON)["valid"]["n"] == 2


@pytest.mark.parametrize(
    "what,kind,src,message",
    [
        ("no NMR", "smiles", f"{FORMULA} <IR> 12 40 33 7 </IR>", "no 1H or 13C NMR"),
        ("not SMILES", "wurcs", SRC_MB, "needs SMILES targets"),
    ],
)
def test_a_run_it_does_not_apply_to_is_refused_with_nothing_written(
    tmp_path, monkeypatch, capsys, what, kind, src, message
):
    samples = [(src, t, c) for _, t, c in TEST]
    run, valid_nbest = make_run(tmp_path, samples, samples, kind=kind)
    monkeypatch.setattr(rerank, "decode_valid", lambda *a, **k: pytest.fail("decoded a refused run"))
    before = sorted(p.name for p in run.rglob("*"))
    assert rerank.main(["--run", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err, what
    assert sorted(p.name for p in run.rglob("*") if p.name != runner.LOCK_FILE) == before
    plan = dict(_json(run / "run.json"), run_dir=str(run), tasks={})  # the runner's optional stage skips it
    assert runner.stage_rerank(plan, "log", False)["rerank"] == f"skipped: {err[len('error: ') :]}"


def test_command_line_and_runner_stage(tmp_path, capsys):
    run, valid_nbest = make_run(tmp_path, VALID_HELPS)
    assert rerank.main(["--run", str(run), "--valid_nbest", str(valid_nbest)]) == 0
    out = capsys.readouterr().out
    assert "simulate" in out and "top-1 100.0 %" in out and rerank.RERANK_JSON in out
    assert rerank.main(["--run", str(tmp_path / "missing")]) == 2 and not (tmp_path / "missing").exists()
    # the runner runs the stage only when asked
    assert "rerank" not in runner.STAGES and runner.parse_stages("score,rerank") == ["score", "rerank"]


def test_a_failed_validation_decoding_fails_without_weights(tmp_path, monkeypatch, capsys):
    run, _ = make_run(tmp_path, VALID_HELPS)
    (run / "translate.yaml").write_text("model: model_step_1000.pt\n", encoding="utf-8")

    def failing(cmd, log, echo=True):
        open(cmd[cmd.index("-output") + 1], "w").write("C C\t-0.1\n")  # cut short
        raise runner.StageError("onmt_translate exited with 1")

    monkeypatch.setattr(runner, "run_logged", failing)
    assert rerank.main(["--run", str(run)]) == 1
    assert "onmt_translate exited with 1" in capsys.readouterr().err
    assert not (run / rerank.VALID_NBEST).exists() and not (run / fr.WEIGHTS_FILE).exists()
    assert not (run / rerank.RERANK_JSON).exists()
