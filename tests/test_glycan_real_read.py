"""Real glycan spectra readers (onmt_moe/glycan/real): xlsx / mzML / mzXML -> glycan parquet rows,
charge and composition of reduced precursors, rejects, and the reducing-end-aware CMP_ tokens.
Fixture: a slice of CandyCrunch's GPST000350 test data (tests/fixtures/real_glycan, MIT)."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT

pytest.importorskip("pyteomics")
FIX = os.path.join(ROOT, "tests", "fixtures", "real_glycan")
SCRIPT = os.path.join(ROOT, "scripts", "read_real_glycan.py")


def _read(ext, **kw):
    from onmt_moe.glycan.real.spectra_io import read_spectra

    return read_spectra(os.path.join(FIX, f"spectra.{ext}"), max_residues=8, **kw)


def test_three_formats_give_the_same_rows():
    rows = {ext: _read(ext) for ext in ("xlsx", "mzML", "mzXML")}
    assert rows["mzML"].skipped == {"not_ms2": 1}  # the MS1 scan is skipped and counted
    ref = rows["xlsx"].rows
    assert len(ref) == 10 and not rows["xlsx"].rejects
    for ext in ("mzML", "mzXML"):
        got = rows[ext].rows
        assert len(got) == len(ref)
        for a, b in zip(ref, got):
            assert b["precursor_mz"] == pytest.approx(a["precursor_mz"], abs=1e-4)
            assert b["rt"] == pytest.approx(a["rt"], abs=1e-3)  # mzXML stores seconds (PT…S)
            assert b["charge"] == a["charge"] and b["composition"] == a["composition"]
            assert [p[0] for p in b["peaks"]] == pytest.approx([p[0] for p in a["peaks"]], abs=1e-3)
    r = ref[3]
    assert max(p[1] for p in r["peaks"]) == 100.0 and [p[0] for p in r["peaks"]] == sorted(p[0] for p in r["peaks"])


def test_reduced_precursor_finds_the_true_composition():
    """Gal(b1-3)GalNAc alditol, [M-H]- observed at 384.03 (ion trap): Hex1 HexNAc1 only when reduced."""
    from onmt_moe.glycan.real.masses import tag_mass

    assert tag_mass("reduced") == pytest.approx(2.01565, abs=1e-5)
    assert tag_mass("2AB") == pytest.approx(120.0687, abs=1e-4)
    with pytest.raises(ValueError, match="unknown reducing end"):
        tag_mass("permethylated")
    row = next(r for r in _read("xlsx").rows if abs(r["precursor_mz"] - 384.03) < 0.01)
    assert row["charge"] == -1 and json.loads(row["composition"]) == {"Hex": 1, "HexNAc": 1}
    assert row["mass"] == pytest.approx(384.03 + 1.00728 - 2.01565, abs=0.01)
    free = next(r for r in _read("xlsx", reducing_end="free").rows if abs(r["precursor_mz"] - 384.03) < 0.01)
    assert json.loads(free["composition"]) != {"Hex": 1, "HexNAc": 1}


def test_composition_tokens_use_the_reducing_end():
    from onmt_moe.glycan.spectra_tokens import SpecTokConfig, spectrum_tokens

    peaks = [[223.1, 100.0], [202.0, 30.0]]
    red = spectrum_tokens(
        384.03, -1, peaks, SpecTokConfig(composition=True, comp_tol=0.5, comp_max=1, reducing_end="reduced")
    )
    free = spectrum_tokens(384.03, -1, peaks, SpecTokConfig(composition=True, comp_tol=0.5, comp_max=1))
    assert red[2:4] == ["CMP_Hex_1", "CMP_HexNAc_1"]
    assert free[2:4] != ["CMP_Hex_1", "CMP_HexNAc_1"]


def test_fragment_above_precursor_rules_out_charge_1():
    from onmt_moe.glycan.real.charge import infer

    # Hex1 HexNAc1 Neu5Ac2 alditol as [M-2H]2-: 1- fragments above the precursor m/z
    prec = (162.0528 + 203.0794 + 2 * 291.0954 + 18.0106 + 2.0157 - 2 * 1.00728) / 2
    peaks = [[290.1, 100.0], [675.2, 40.0]]
    assert infer(prec, peaks, "reduced", 0.5, 8)[0].z == 2
    # a 1- precursor's own isotope peaks (+1.003, +2.007 m/z) do not count as fragments above it
    sialyl_t = 162.0528 + 203.0794 + 291.0954 + 18.0106 + 2.0157 - 1.00728  # Neu5Ac1 Hex1 HexNAc1-ol, 1-
    isotopes = [[290.1, 100.0], [sialyl_t + 1.003, 60.0], [sialyl_t + 2.1, 20.0]]
    assert infer(sialyl_t, isotopes, "reduced", 0.5, 8)[0].z == 1
    assert infer(sialyl_t, isotopes + [[sialyl_t + 40.0, 20.0]], "reduced", 0.5, 8)[0].z != 1
    assert infer(prec, [[290.1, 100.0]], "reduced", 0.5, 8, charges=(2,))[0].composition == {
        "Hex": 1,
        "HexNAc": 1,
        "Neu5Ac": 2,
    }


def test_bad_rows_go_to_rejects_and_the_cli_writes_them(tmp_path):
    df = pd.read_excel(os.path.join(FIX, "spectra.xlsx")).head(4)
    df.loc[0, "peak_d"] = "{384.0: 1.0, oops}"
    df.loc[1, "RT"] = None
    df.loc[2, "reducing_mass"] = -5
    bad = tmp_path / "bad.xlsx"
    df.to_excel(bad, index=False)
    r = subprocess.run(
        [sys.executable, SCRIPT, "--spectra", str(bad), "--out", str(tmp_path / "out"), "--max_residues", "8"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert r.returncode == 0, r.stderr
    rej = pd.read_csv(tmp_path / "out" / "rejects.tsv", sep="\t")
    assert list(rej["row"]) == [0, 1, 2] and list(rej["reason"]) == ["bad_peaks", "bad_rt", "bad_precursor"]
    assert set(rej["file"]) == {"bad.xlsx"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["rows"] == 1 and summary["rejected"] == 3
    out = pd.read_parquet(tmp_path / "out" / "glycan.parquet")
    assert list(out["reducing_end"]) == ["reduced"] and list(out["charge_source"]) == ["inferred"]
    # a file that is not a spreadsheet: exit 2, one line naming it
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a spreadsheet")
    r = subprocess.run(
        [sys.executable, SCRIPT, "--spectra", str(junk), "--out", str(tmp_path / "o2")], capture_output=True, text=True
    )
    assert r.returncode == 2 and "junk.xlsx" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_realism_statistics():
    from onmt_moe.glycan.real.realism import paired, peak_stats

    s = peak_stats([[290.1, 100.0], [308.1, 7.0], [400.0, 3.0], [500.0, 50.0]])
    assert s["n5"] == 3 and s["n"] == 4 and s["base_mz"] == 290.1
    assert s["hist"] == [0.25, 0.25, 0.0, 0.0, 0.5]
    p = paired([[[290.1, 100.0], [308.1, 7.0]]] * 2, [[[290.3, 100.0]], [[675.2, 100.0], [290.1, 80.0]]])
    assert p["base_peak_same"] == 0.5 and p["peaks_ge5pct_median"] == {"real": 2.0, "sim": 1.5}


def test_charge_agreement_counts_the_disagreements_by_kind():
    from onmt_moe.glycan.real.realism import charge_agreement

    c = charge_agreement([-1, -2, -3, -2, -1], [-1, -1, -2, -2, -1])
    assert (c["agree"], c["of"], c["fraction"]) == (3, 5, 0.6)
    assert c["disagree"] == {"annotated z2, simulated z1": 1, "annotated z3, simulated z2": 1}
    assert charge_agreement([], [])["fraction"] is None


def test_annotated_charge_is_the_z_that_puts_the_structure_at_the_precursor():
    from onmt_moe.glycan.real.realism import AnnotatedPair, annotated_charge
    from onmt_moe.masses import PROTON

    class Glycan:  # only its mass is read
        def mass(self):
            return 1400.0

    reduced = 1400.0 + 2.01565
    for z in (1, 2, 3):
        pair = AnnotatedPair([], (reduced - z * PROTON) / z + 0.2, -1, Glycan(), "W", "I", 1.0, 0.0)
        assert annotated_charge(pair, "reduced") == z  # whatever charge the reader inferred (-1 here)


def test_simulated_twin_reads_back_as_a_real_set(tmp_path):
    """scripts/simulate_real_twin.py: the twin of a real set is read and matched by the same code, one
    spectrum per simulable annotation, with the simulated precursor and the same structures."""
    pytest.importorskip("glycowork")
    from onmt_moe.glycan.fragments import SimParams
    from onmt_moe.glycan.real.realism import annotated_pairs, write_twin

    pairs, _ = annotated_pairs(os.path.join(FIX, "spectra.xlsx"), os.path.join(FIX, "df_mz.csv"), "N")
    assert pairs and all(p.iupac and p.rt > 0 for p in pairs)
    xlsx, csv = str(tmp_path / "twin.xlsx"), str(tmp_path / "df_mz_twin.csv")
    params = SimParams(reducing_end="reduced", intensity_rules="fitted")
    assert write_twin(pairs, params, xlsx, csv) == len(pairs)
    again, skipped = annotated_pairs(xlsx, csv, "N")
    assert not skipped and sorted(p.iupac for p in again) == sorted(p.iupac for p in pairs)
    assert all(
        abs(p.rt - q.rt) < 0.01 for p, q in zip(sorted(pairs, key=lambda p: p.rt), sorted(again, key=lambda p: p.rt))
    )


def test_realism_script_compares_each_simulator_setting(tmp_path):
    """scripts/real_glycan_realism.py on the fixture: one result per --sharpen value, the knobs reach the
    simulator, and the real-vs-simulated cosine is a fraction."""
    pytest.importorskip("glycowork")
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("rgr", os.path.join(ROOT, "scripts", "real_glycan_realism.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "r.json"
    argv = ["--spectra", os.path.join(FIX, "spectra.xlsx"), "--annotations", os.path.join(FIX, "df_mz.csv")]
    argv += ["--glycan_class", "N", "--reducing_end", "reduced", "--intensity_rules", "fitted", "--sharpen", "1,2"]
    assert mod.main(argv + ["--out", str(out)]) == 0
    res = json.loads(out.read_text())["by_sharpen"]
    assert set(res) == {"1.0", "2.0"}
    for sharpen, r in res.items():
        assert r["sim_params"]["sharpen"] == float(sharpen) and r["sim_params"]["intensity_rules"] == "fitted"
        assert r["pairs"] > 0 and 0.0 <= r["cosine"]["median"] <= 1.0
        assert r["charge"]["of"] == r["pairs"] and 0 <= r["charge"]["agree"] <= r["pairs"]
    reader = json.loads(out.read_text())["charge_inferred_by_reader"]
    assert reader["of"] == r["pairs"] and 0 <= reader["agree"] <= reader["of"]
