"""onmt_moe_predict readers on real files (jcamp's and matchms's own test data, tests/fixtures/predict),
and the source line they give against the data pipeline's own output."""

import json
import math
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from onmt_moe.predict import InputError, settings
from onmt_moe.predict import readers as rd
from onmt_moe.predict.readers import CPeaks, Formula, HPeaks, IRSpectrum, MSMSSpectrum
from onmt_moe.predict.source import Sample, build_smiles_source
from tests.conftest import FIXTURES

F = os.path.join(FIXTURES, "predict")
EX1 = os.path.join(FIXTURES, "benchmark_examples", "example_data_1_slim.parquet")


def _header(path, key):
    for line in open(path, encoding="latin-1"):
        if line.startswith(f"##{key}="):
            return float(line.split("=", 1)[1].split("$$")[0])
    raise KeyError(key)


# ------------------------------------------------------------------ JCAMP-DX
def test_jcamp_compressed_ir_axes_and_values_match_the_header():
    for name in ("ethanol2.jdx", "isopropanol_ASDF.jdx"):  # DIF- and ASDF-compressed
        p = os.path.join(F, name)
        d = rd.read_jcamp(p)
        assert len(d["x"]) == _header(p, "NPOINTS")
        assert d["x"][0] == pytest.approx(_header(p, "FIRSTX"), abs=1e-3)
        assert d["x"][-1] == pytest.approx(_header(p, "LASTX"), abs=1e-2)
        assert d["y"].max() == pytest.approx(_header(p, "MAXY"), abs=0.006)
        assert d["y"].min() == pytest.approx(_header(p, "MINY"), abs=0.006)


def test_ir_transmittance_percent_becomes_absorbance_on_the_benchmark_axis():
    p = os.path.join(F, "ethanol2.jdx")  # %T, 600-4000 cm-1
    ir = rd.read_ir(p)
    assert ir.absorbance.shape == (1800,) and ir.absorbance.dtype == np.float32
    grid = np.linspace(400, 4000, 1800)
    d = rd.read_jcamp(p)
    t_min_x = d["x"][np.argmin(d["y"])]
    # strongest band: A = -log10(min %T / 100), where the transmittance is lowest
    assert ir.absorbance.max() == pytest.approx(-math.log10(_header(p, "MINY") / 100), abs=0.03)
    assert abs(grid[np.argmax(ir.absorbance)] - t_min_x) < 5
    # below 600 cm-1 nothing was measured: baseline
    assert np.all(ir.absorbance[grid < 598] == ir.absorbance.min())
    assert any("transmittance converted" in n for n in ir.notes)
    assert any("600-4000" in n for n in ir.notes)


def test_ir_absorbance_file_is_resampled_not_converted():
    ir = rd.read_ir(os.path.join(F, "isopropanol_ASDF.jdx"))  # absorbance, 400-5000 cm-1
    assert not any("transmittance" in n for n in ir.notes)
    d = rd.read_jcamp(os.path.join(F, "isopropanol_ASDF.jdx"))
    grid = np.linspace(400, 4000, 1800)
    assert ir.absorbance[900] == pytest.approx(np.interp(grid[900], d["x"], d["y"]), rel=1e-5)


def test_ir_micrometre_axis_gives_the_same_spectrum(tmp_path):
    d = rd.read_jcamp(os.path.join(F, "isopropanol_ASDF.jdx"))
    keep = d["x"] <= 4010  # one point past 4000 cm-1, so both cover the whole axis
    um, y = 1e4 / d["x"][keep][::-1], d["y"][keep][::-1]
    lines = [
        "##TITLE=isopropanol in micrometres",
        "##JCAMP-DX=4.24",
        "##DATA TYPE=INFRARED SPECTRUM",
        "##XUNITS=MICROMETERS",
        "##YUNITS=ABSORBANCE",
        f"##NPOINTS={len(um)}",
        "##XYPOINTS=(XY..XY)",
    ]
    lines += [f"{a:.8f}, {b:.8f}" for a, b in zip(um, y)] + ["##END="]
    p = tmp_path / "ir_um.jdx"
    p.write_text("\n".join(lines) + "\n")
    ir_um = rd.read_ir(str(p))
    ir_cm = rd.read_ir(os.path.join(F, "isopropanol_ASDF.jdx"))
    assert any("µm" in n for n in ir_um.notes)
    assert np.allclose(ir_um.absorbance, ir_cm.absorbance, atol=1e-4)


@pytest.mark.parametrize(
    "name,needle",
    [("ethanol_ms.jdx", "XUNITS 'm/z' is not an IR axis"), ("2Methyl1Propanol.jdx", "XUNITS 'PPM' is not an IR axis")],
)
def test_ir_wrong_units_name_the_file(name, needle):
    with pytest.raises(InputError) as e:
        rd.read_ir(os.path.join(F, name))
    assert name in str(e.value) and needle in str(e.value) and "\n" not in str(e.value)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "garbage.jdx"
    bad.write_bytes(b"\x00\x01 not jcamp at all")
    with pytest.raises(InputError, match="garbage.jdx"):
        rd.read_ir(str(bad))
    with pytest.raises(InputError, match="no such file"):
        rd.read_ir(str(tmp_path / "nope.jdx"))


def test_h_nmr_from_a_jcamp_spectrum_2_methyl_1_propanol():
    p = os.path.join(F, "2Methyl1Propanol.jdx")  # (CH3)2CH-CH2-OH, 300 MHz, DIF-compressed, ppm axis
    d = rd.read_jcamp(p)
    assert len(d["x"]) == _header(p, "NPOINTS") and d["x"][0] == pytest.approx(0.449892, abs=1e-5)
    assert d["x"][-1] == pytest.approx(3.9512, abs=1e-3)
    h = rd.read_h_nmr(p, formula_h=10)
    got = [(round((pk["rangeMax"] + pk["rangeMin"]) / 2, 1), pk["category"], pk["nH"]) for pk in h.peaks]
    # CH2 d 2H at 3.4, OH s 1H at 2.1, CH m 1H at 1.8, 2 CH3 d 6H at 0.9
    assert got == [(3.4, "d", 2), (2.1, "s", 1), (1.8, "m", 1), (0.9, "d", 6)]
    j_ch3 = float(h.peaks[-1]["j_values"].rstrip("_"))
    assert 5.5 < j_ch3 < 7.5  # 3J(CH3-CH) ~ 6.7 Hz
    with pytest.raises(InputError, match="1H spectrum given for the 13C"):
        rd.read_c_nmr(p)


# ------------------------------------------------------------------ NMR peak lists
def test_h_nmr_table_with_ranges_and_with_centroids(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("range_max,range_min,multiplicity,J,nH\n2.62,2.58,s,,3\n7.99,7.92,d,7.5,2\n")
    h = rd.read_h_nmr(str(p))
    assert [pk["rangeMax"] for pk in h.peaks] == [7.99, 2.62]  # benchmark order: descending shift
    assert h.peaks[0] == {"rangeMax": 7.99, "rangeMin": 7.92, "category": "d", "nH": 2, "j_values": "7.5_"}
    c = tmp_path / "c.csv"
    c.write_text("shift;mult;J;nH\n7.55;t;7.4;1\n")
    pk = rd.read_h_nmr(str(c), mhz=400).peaks[0]
    # centroid only: width = 0.034 + 2 x 7.4 Hz / 400 MHz, centred on the shift
    assert pk["rangeMax"] - pk["rangeMin"] == pytest.approx(rd.SINGLET_WIDTH + 2 * 7.4 / 400)
    assert (pk["rangeMax"] + pk["rangeMin"]) / 2 == pytest.approx(7.55)


def test_h_nmr_literature_string():
    h = rd.read_h_nmr("δ 7.95 (dd, J = 8.0, 1.5 Hz, 2H), 3.59-3.52 (m, 2H), 2.60 (s, 3H)")
    assert [(p["category"], p["nH"], p["j_values"]) for p in h.peaks] == [
        ("dd", 2, "8.0_1.5_"),
        ("m", 2, None),
        ("s", 3, None),
    ]
    assert (h.peaks[1]["rangeMax"], h.peaks[1]["rangeMin"]) == (3.59, 3.52)


def test_nmr_bad_input_is_one_line():
    with pytest.raises(InputError, match="outside -20..240 ppm"):
        rd.read_c_nmr("198.1, 2600")
    with pytest.raises(InputError, match="expected numbers"):
        rd.read_c_nmr("198.1, abc")
    with pytest.raises(InputError, match="no 1H peaks"):
        rd.read_h_nmr("lots of peaks")
    assert rd.read_c_nmr("26.6, 198.1 137.1").shifts == [198.1, 137.1, 26.6]


# ------------------------------------------------------------------ MS/MS (matchms)
def test_mgf_single_spectrum_metadata_and_peaks():
    (s,) = rd.read_msms(os.path.join(F, "save_as_msp_from_mgf.mgf"))
    assert s.mz.tolist() == [112.074, 112.07591, 127.01563, 193.02605, 238.08437]
    assert s.intensity.max() == 100.0 and s.intensity[0] == pytest.approx(100 * 102027.0 / 9070987.0)
    assert s.precursor_mz == pytest.approx(238.0844) and s.ionmode == "positive"
    assert s.energy_ev == 20.0 and any("not recorded" in n for n in s.notes)
    (s40,) = rd.read_msms(os.path.join(F, "save_as_msp_from_mgf.mgf"), energy=35.0)
    assert s40.energy_ev == 40.0


def test_msp_with_several_spectra_needs_a_selection():
    p = os.path.join(F, "massbank_five_spectra.msp")
    with pytest.raises(InputError) as e:
        rd.read_msms(p)
    assert "massbank_five_spectra.msp: 5 spectra" in str(e.value) and "--msms_index" in str(e.value)
    adp, kojic = rd.read_msms(p, "0,1")
    assert adp.mz.tolist() == [135.0, 136.0] and adp.intensity.tolist() == pytest.approx([100 * 83 / 999, 100.0])
    assert (adp.ionmode, adp.energy_ev, adp.precursor_mz) == ("positive", 40.0, pytest.approx(428.31))
    assert (kojic.ionmode, kojic.energy_ev) == ("negative", 40.0)  # "60 % (nominal)"
    with pytest.raises(InputError, match="the file has spectra 0..4"):
        rd.read_msms(p, "7")


def test_mzml_spectra_and_missing_ion_mode():
    p = os.path.join(F, "testdata.mzml")
    with pytest.raises(InputError, match="10 spectra"):
        rd.read_msms(p)
    with pytest.raises(InputError, match="ion mode is not recorded"):
        rd.read_msms(p, "0")
    (s,) = rd.read_msms(p, "0", mode="positive")
    assert s.precursor_mz == pytest.approx(207.159239, abs=1e-5) and s.mz.size == 30


# ------------------------------------------------------------------ formula
def test_formula_hill_order_and_rdkit_elements():
    assert rd.read_formula("C8OH8").text == "C8H8O"
    assert rd.read_formula("ClH").text == "ClH" and rd.read_formula("C2H6O").notes == []
    with pytest.raises(InputError, match="does not know the element 'Xx'"):
        rd.read_formula("C8Xx2")
    with pytest.raises(InputError, match="not a molecular formula"):
        rd.read_formula("benzene")


# ------------------------------------------------------------------ source line == the pipeline's
def _corpus(tmp_path, **kw):
    from onmt_moe.data.pipeline import generate

    kw = {"missing": "token", **kw}
    generate(
        EX1,
        str(tmp_path / "corpus"),
        h_nmr=True,
        c_nmr=True,
        ir=True,
        pos_msms=True,
        neg_msms=True,
        formula=True,
        ir_points=50,
        msms_top_k=5,
        progress=False,
        **kw,
    )
    data = tmp_path / "corpus" / "data"
    pairs = {}
    for split in ("train", "val", "test"):
        src = (data / f"src-{split}.txt").read_text().splitlines()
        tgt = (data / f"tgt-{split}.txt").read_text().splitlines()
        pairs.update({"".join(t.split()): s for s, t in zip(src, tgt)})
    return data, pairs


def _sample_from_row(row) -> Sample:
    msms = []
    for mode, pol in (("positive", "positive"), ("negative", "negative")):
        for ev in (10, 20, 40):
            peaks = row[f"msms_cfmid_{pol}_{ev}ev"]
            if peaks:
                msms.append(
                    MSMSSpectrum(
                        np.array([p[0] for p in peaks]),
                        np.array([p[1] for p in peaks]),
                        None,
                        mode,
                        float(ev),
                        f"row {mode} {ev}",
                    )
                )
    return Sample(
        formula=Formula(row["molecular_formula"], None),
        h_nmr=HPeaks(
            [{k: p[k] for k in ("rangeMax", "rangeMin", "category", "nH", "j_values")} for p in row["h_nmr_peaks"]],
            "row",
        ),
        c_nmr=CPeaks([p["delta (ppm)"] for p in row["c_nmr_peaks"]], "row"),
        ir=IRSpectrum(np.asarray(row["ir_spectra"], np.float32), "row"),
        msms=msms,
    )


@pytest.mark.parametrize("kw", [{}, {"format": "benchmark"}, {"groups": "fine", "missing": "drop"}])
def test_source_line_is_byte_identical_to_the_training_corpus(tmp_path, kw):
    data, pairs = _corpus(tmp_path, **kw)
    cfg = settings.resolve(str(tmp_path / "x.pt"), corpus=str(data))
    assert (cfg.ir_points, cfg.msms_top_k, cfg.fmt) == (50, 5, kw.get("format", "tagged"))
    rows = pq.read_table(EX1).to_pylist()[:6]
    for row in rows:
        built = build_smiles_source(_sample_from_row(row), cfg)
        assert built.line == pairs[row["smiles"]]


def test_missing_modality_follows_the_corpus(tmp_path):
    data, _ = _corpus(tmp_path)
    cfg = settings.resolve(str(tmp_path / "x.pt"), corpus=str(data))
    assert cfg.missing == "token"
    rows = pq.read_table(EX1).to_pylist()[:6]
    # one modality left out -> the corpus' placeholder, and the report says so
    s = _sample_from_row(rows[0])
    s.ir = None
    built = build_smiles_source(s, cfg)
    assert "<IR> <MISSING> </IR>" in built.line
    assert any(r.startswith("IR") and "<MISSING>" in r for r in built.report)
    cfg.missing = "drop"  # a corpus written with --missing drop: the segment goes
    built = build_smiles_source(s, cfg)
    assert "<IR>" not in built.line and "</NMR> <MS> E0Pos" in built.line
    assert any(r.startswith("IR") and "segment is dropped" in r for r in built.report)
    cfg.sections = ["formula", "c_nmr"]  # a model that never saw IR, 1H or MS/MS
    s.ir = IRSpectrum(np.asarray(rows[0]["ir_spectra"], np.float32), "ir.jdx")
    built = build_smiles_source(s, cfg)
    assert built.line.startswith("<FORMULA> ") and "1HNMR" not in built.line and "<IR>" not in built.line
    assert any(r.startswith("IR") and "NOT USED" in r for r in built.report)


def test_settings_of_an_older_corpus_come_from_its_command_line(tmp_path):
    data, _ = _corpus(tmp_path)
    summary = json.loads((data / "summary.json").read_text())
    del summary["formatting"]  # written before the formatting record existed
    (data / "summary.json").write_text(json.dumps(summary))
    cfg = settings.resolve(str(tmp_path / "x.pt"), corpus=str(tmp_path / "corpus"))
    assert (cfg.ir_points, cfg.msms_top_k) == (50, 5)
    with pytest.raises(InputError, match="give --corpus"):
        settings.resolve(str(tmp_path / "nowhere" / "model_step_1.pt"))


def test_c_nmr_from_a_jcamp_spectrum_in_hz():
    p = os.path.join(F, "sqzdec1.jdx")  # 13C, 100.4 MHz, x axis in Hz, SQZ-compressed
    d = rd.read_jcamp(p)
    assert len(d["x"]) == _header(p, "NPOINTS") == 16384
    c = rd.read_c_nmr(p)
    assert c.shifts == sorted(c.shifts, reverse=True) and 10 <= len(c.shifts) <= 30
    assert all(0 <= s <= 24038.5 / 100.4 for s in c.shifts)
    tallest = d["x"][np.argmax(d["y"])] / 100.4  # ppm = Hz / spectrometer MHz
    assert min(abs(s - tallest) for s in c.shifts) < 1e-9
    with pytest.raises(InputError, match="13C spectrum given for the 1H"):
        rd.read_h_nmr(p)


def test_missing_reader_package_is_one_install_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "jcamp", None)  # as if jcamp were not installed
    with pytest.raises(InputError) as e:
        rd.read_ir(os.path.join(F, "ethanol2.jdx"))
    assert "needs the 'jcamp' package: pip install jcamp==1.3.2" in str(e.value)
    monkeypatch.setitem(sys.modules, "matchms.importing", None)
    with pytest.raises(InputError, match="needs the 'matchms' package: make install-predict"):
        rd.read_msms(os.path.join(F, "save_as_msp_from_mgf.mgf"))


def test_readers_and_sources_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, onmt_moe.predict.cli, onmt_moe.predict.source, onmt_moe.predict.rank; "
        "print(sorted(m for m in ('torch', 'onmt', 'jcamp', 'matchms') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]


def test_msms_spectra_fill_the_energy_blocks_of_their_ion_mode():
    from onmt_moe.predict.source import msms_texts

    def spec(mode, ev, mz):
        return MSMSSpectrum(np.array(mz), np.full(len(mz), 100.0), None, mode, ev, f"{mode}{ev}")

    t = msms_texts(
        [spec("positive", 40.0, [50.04, 77.0]), spec("positive", 10.0, [121.06]), spec("negative", 20.0, [119.05])],
        top_k=None,
    )
    assert t == {
        "pos_msms": "E0Pos 121.1 100.0 E1Pos E2Pos 50.0 100.0 77.0 100.0",
        "neg_msms": "E0Neg E1Neg 119.0 100.0 E2Neg",
    }
    with pytest.raises(InputError, match="second positive spectrum for the 40 eV block"):
        msms_texts([spec("positive", 40.0, [50.0]), spec("positive", 40.0, [60.0])], top_k=None)


def test_h_nmr_codes_broad_singlets_and_septets():
    h = rd.read_h_nmr("4.10 (br s, 1H), 2.90 (hept, J = 6.9 Hz, 1H), 1.25 (d, J = 6.9 Hz, 6H)", mhz=400)
    assert [p["category"] for p in h.peaks] == ["s", "hept", "d"]
    sept = h.peaks[1]
    assert sept["rangeMax"] - sept["rangeMin"] == pytest.approx(rd.SINGLET_WIDTH + 6 * 6.9 / 400)
    with pytest.raises(InputError, match="no number of protons"):
        rd.read_h_nmr("7.26 (s)")
