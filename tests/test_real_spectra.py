"""make bench-real's scoring (onmt_moe.runs.real_spectra): stable splits, rejected rows counted,
top-k per decoding, forward-simulation weights fitted on the val part only."""

import csv
import os

import pytest

from onmt_moe.runs import real_spectra as rs
from tests.conftest import FIXTURES

SLICE = os.path.join(FIXTURES, "real_nmr", "literature_slice.tsv")


def test_split_is_stable_and_close_to_its_shares():
    names = [rs.split_of(f"row{i}") for i in range(4000)]
    assert names == [rs.split_of(f"row{i}") for i in range(4000)]
    for name, share in rs.SPLITS:
        assert abs(names.count(name) / 4000 - share / 100) < 0.03


def test_rows_are_read_and_bad_ones_rejected_with_a_reason(tmp_path):
    bad = tmp_path / "bad.tsv"
    lines = open(SLICE, encoding="utf-8").read().splitlines()
    head = lines[0].split("\t")
    row = dict(zip(head, lines[1].split("\t")))
    broken = dict(row, id="broken", smiles="C1CC")
    no_c = dict(row, id="no_c", c_nmr="")
    with open(bad, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=head, delimiter="\t")
        w.writeheader()
        w.writerows([row, broken, no_c])
    rejects = []
    rows = rs.read_rows(str(bad), rejects)
    assert [r.id for r in rows] == [row["id"]]
    assert [r[0] for r in rejects] == ["broken", "no_c"]


def test_missing_column_and_missing_file_are_one_line(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("id\tsmiles\n1\tCCO\n")
    with pytest.raises(rs.RealDataError, match="missing column"):
        rs.read_rows(str(p), [])
    with pytest.raises(rs.RealDataError, match="cannot read"):
        rs.read_rows(str(tmp_path / "none.tsv"), [])


def test_batch_csv_per_condition(tmp_path):
    rows = rs.read_rows(SLICE, [])
    hc = rs.batch_csv(rows, "hc", str(tmp_path / "b.csv"))
    assert len(hc) == sum(1 for r in rows if r.h_text) < len(rows)
    c = rs.batch_csv(rows, "c", str(tmp_path / "c.csv"))
    assert len(c) == len(rows)
    first = next(csv.DictReader(open(tmp_path / "c.csv")))
    assert first["h_nmr"] == "" and first["c_nmr"]


def _cands(*smiles_logp, formula_ok=True):
    return [
        {"beam_rank": k, "rank": k, "smiles": s, "log_prob": lp, "valid": True, "formula_match": formula_ok}
        for k, (s, lp) in enumerate(smiles_logp, start=1)
    ]


def test_summary_counts_hits_by_decoding_and_bin():
    row = rs.Row("r", "COC(=O)c1ccccc1", "C8H8O2", 10, "", "166.9, 132.9, 130.2, 129.6, 128.4, 52.1")
    cands = _cands(("CC(=O)Oc1ccccc1", -0.1), ("COC(=O)c1ccccc1", -0.3))
    rs.annotated([row], {"r": cands}, "c")
    beam = rs.summarise("m", "test", "c", [(row, cands)], "beam", None)
    assert beam[0]["top1"] == 0.0 and beam[0]["top5"] == 1.0 and beam[0]["n"] == 1
    sim = rs.summarise("m", "test", "c", [(row, cands)], "simulate", rs.fr.Weights(c=8.0))
    assert sim[0]["top1"] == 1.0
    by_bin = {r["heavy_atoms"]: r["n"] for r in beam}
    assert by_bin == {"all": 1, "<=14": 1, "15-22": 0, "23-30": 0}


def test_query_reads_the_rows_own_numbers():
    rows = rs.read_rows(SLICE, [])
    r = next(r for r in rows if r.h_text)
    q = rs.query_of(r, "hc")
    assert q.c and q.h and all(n >= 1 for _, n in q.h)
    assert rs.query_of(r, "c").h == ()


def test_sim_rows_are_the_simulators_spectra_of_the_same_molecules_typed_as_a_paper_writes_them():
    from onmt_moe.predict.cli import read_sample

    rows = rs.read_rows(SLICE, [])[:4]
    sim = rs.simulated_rows(rows)
    assert [r.id for r in sim] == [r.id for r in rows]  # these molecules all simulate
    assert sim == rs.simulated_rows(rows)  # seeded by the id: the same text every run
    for real, twin in zip(rows, sim):
        assert (twin.smiles, twin.formula) == (real.smiles, real.formula)
        assert twin.c_text != real.c_text and twin.h_text
        s = read_sample(twin.id, formula=twin.formula, h_nmr=twin.h_text, c_nmr=twin.c_text)
        n_h = sum(p["nH"] for p in s.h_nmr.peaks)
        assert 0 < n_h <= s.formula.counts["H"]  # every simulated peak read back, none invented


def test_literature_h_writes_multiplets_as_ranges_and_the_rest_with_their_couplings():
    peaks = [
        {"category": "s", "centroid": 3.7, "j_values": None, "nH": 3, "rangeMax": 3.71, "rangeMin": 3.69},
        {"category": "t", "centroid": 7.38, "j_values": "7.60_", "nH": 2, "rangeMax": 7.41, "rangeMin": 7.35},
        {"category": "m", "centroid": 7.5, "j_values": None, "nH": 3, "rangeMax": 7.55, "rangeMin": 7.45},
    ]
    assert rs.literature_h(peaks) == "7.55–7.45 (m, 3H), 7.38 (t, J = 7.60 Hz, 2H), 3.70 (s, 3H)"


def test_formula_beam_rows_are_labelled_and_kept_beside_the_unconstrained_ones(tmp_path, monkeypatch):
    """``--formula_beam`` asks the predictor for the constrained beam and labels its rows; a later run
    replaces only the rows of its own model *and* decodings."""
    calls = []

    def fake_predict(model, batch, out, n_best, beam_size, formula_beam=False):
        calls.append(formula_beam)
        with open(out, "w") as fh:
            fh.write("sample,rank,beam_rank,smiles,log_prob,valid,formula_match\n")

    monkeypatch.setattr(rs, "predict_batch", fake_predict)
    row = rs.Row("r", "COC(=O)c1ccccc1", "C8H8O2", 10, "", "166.9, 132.9, 130.2, 129.6, 128.4, 52.1")
    monkeypatch.setattr(rs, "read_rows", lambda data, rejects: [row])
    monkeypatch.setattr(rs, "split_of", lambda rid: "test")
    monkeypatch.setattr(rs, "simulated_rows", lambda rows: rows)
    assert rs.decoding_names(True) == ["formula_beam+beam", "formula_beam+formula", "formula_beam+simulate"]
    rs.run("m.pt", "x.tsv", str(tmp_path), "m")
    rs.run("m.pt", "x.tsv", str(tmp_path), "m", formula_beam=True)
    assert calls == [False] * 3 + [True] * 3  # one predictor call per input condition
    import csv

    rows = list(csv.DictReader(open(tmp_path / "real_spectra.csv")))
    assert {r["decoding"] for r in rows} == {*rs.DECODINGS, *rs.decoding_names(True)}
    rs.run("m.pt", "x.tsv", str(tmp_path), "m", formula_beam=True)
    assert len(list(csv.DictReader(open(tmp_path / "real_spectra.csv")))) == len(rows)
