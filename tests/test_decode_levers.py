"""The decoding lever table (onmt_moe.runs.decode_levers, scripts/decode_levers.py): every lever decodes the
validation sources only, the simulate weights are fitted on the first half and every number is scored on
the second, and a rerun replaces its own run's rows. onmt_translate is stood in for by hand-written n-best
files (the stock decoding itself is tested in test_rerank_run.py and test_formula_beam*.py)."""

import csv

from onmt_moe.runs import decode_levers as dl
from tests.test_rerank_run import MB, N_BEST, PA, VALID_BEAM_RIGHT, VALID_HELPS, _nbest_text, make_run


def _fake_decode(calls, samples):
    def decode(files, src, out, flags, log):
        calls.append((open(src).read(), list(flags)))
        n_best = dl.n_best_of(flags, N_BEST)
        text = _nbest_text([(s, t, (c * 2)[:n_best]) for s, t, c in samples])  # n_best lines, as onmt writes
        with open(out, "w") as fh:
            fh.write(text)
        return 0.5

    return decode


def test_every_lever_decodes_the_validation_sources_only(tmp_path, monkeypatch):
    valid = VALID_HELPS + VALID_HELPS
    run, _ = make_run(tmp_path, valid)
    calls = []
    monkeypatch.setattr(dl, "decode", _fake_decode(calls, valid))
    rows = dl.run_levers(str(run), n=4)
    val_src = (tmp_path / "data" / "src-val.txt").read_text()
    assert [c[0] for c in calls] == [val_src] * len(dl.LEVERS)  # never the test sources
    assert all("-with_score" in c[1] for c in calls) and ["-moe_formula_beam", "-with_score"] in [c[1] for c in calls]
    assert {(r["lever"], r["setting"]) for r in rows} == {(lever, s) for lever, s, _ in dl.LEVERS}
    assert {r["decoding"] for r in rows} == {"beam", "formula", "simulate"}
    base = {r["decoding"]: r for r in rows if r["lever"] == "baseline"}
    assert base["beam"]["n"] == 2 and base["beam"]["top1"] == 0.0 and base["simulate"]["top1"] == 1.0
    assert base["beam"]["sec_per_mol"] == 0.125
    # beam 5 decodes 5 places (the stand-in repeats the first candidate): top-5 sees them all
    b5 = {r["decoding"]: r for r in rows if r["lever"] == "beam_size" and r["setting"] == "5"}
    assert b5["beam"]["top5"] == 1.0


def test_the_weights_come_from_the_first_half_only(tmp_path, monkeypatch):
    """First half: the beam is right (no weight helps), second half: the simulation would help. Fitted on
    the first half, the weights stay at zero, so simulate scores like formula on the second half."""
    valid = VALID_BEAM_RIGHT + VALID_HELPS
    run, _ = make_run(tmp_path, valid)
    monkeypatch.setattr(dl, "decode", _fake_decode([], valid))
    rows = dl.run_levers(str(run), n=4, levers=dl.LEVERS[:1])
    got = {r["decoding"]: r["top1"] for r in rows}
    assert got["simulate"] == got["formula"] == 0.0


def test_runs_without_nmr_get_no_simulate_rows_and_a_rerun_replaces_its_rows(tmp_path, monkeypatch):
    src = "<FORMULA> C 8 H 8 O 2 </FORMULA> <MS> 137.1 100 </MS>"
    valid = [(src, MB, [MB, PA, MB, PA]), (src, PA, [MB, PA, MB, PA])]
    run, _ = make_run(tmp_path, valid, test=valid)
    monkeypatch.setattr(dl, "decode", _fake_decode([], valid))
    rows = dl.run_levers(str(run), n=2, levers=dl.LEVERS[:1])
    assert {r["decoding"] for r in rows} == {"beam", "formula"}
    out = tmp_path / "levers.csv"
    dl.write_rows(str(out), [dict(r, run="other") for r in rows])
    dl.write_rows(str(out), rows)
    dl.write_rows(str(out), rows)
    table = list(csv.DictReader(open(out)))
    assert len(table) == 2 * len(rows) and {r["run"] for r in table} == {"other", "run"}
    assert table[0]["machine"]
