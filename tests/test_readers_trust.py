"""onmt_moe_predict readers: nothing a user gives is dropped or turned over silently (issue 36
items 3-5), and the files labs export are read (issue 35, Build 2).

Real data: tests/fixtures/predict (jcamp's and matchms's test files) and
tests/fixtures/predict_trust (jcamp's ethanol 1H spectrum; see its README). The NIST-style
quantitative IR and the NMR spectra below are synthetic, written by the tests."""

import glob
import os

import numpy as np
import pytest

from onmt_moe.predict import InputError
from onmt_moe.predict import readers as rd
from tests.conftest import FIXTURES

F = os.path.join(FIXTURES, "predict")
T = os.path.join(FIXTURES, "predict_trust")


def _one_line(e, *needles):
    msg = str(e.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


# ------------------------------------------------------------------ 13C lists (issue 36 item 3)
@pytest.mark.parametrize(
    "text",
    [
        "198.1, 137.1, 133.1\n",
        "198.1; 137.1; 133.1",
        "198.1 137.1 133.1\n",
        "198.1\n137.1\n133.1\n",
        "198.1, 137.1,\n133.1\n",  # a list wrapped after a comma
        "13C NMR (101 MHz, CDCl3) δ 198.1, 137.1, 133.1.\n",  # pasted from a paper
    ],
)
def test_c_nmr_file_reads_every_shift_not_only_the_first(tmp_path, text):
    p = tmp_path / "c_nmr.txt"
    p.write_text(text, encoding="utf-8")
    assert rd.read_c_nmr(str(p)).shifts == [198.1, 137.1, 133.1]


def test_c_nmr_txt_in_a_batch_folder_reads_every_shift(tmp_path):
    from onmt_moe.predict import cli

    s1 = tmp_path / "batch" / "s1"
    s1.mkdir(parents=True)
    (s1 / "c_nmr.txt").write_text("198.1, 137.1, 133.1, 128.6, 128.3, 26.6\n")
    ((name, kw),) = cli.batch_rows(str(tmp_path / "batch"))
    sample = cli.read_sample(name, **kw)
    assert sample.c_nmr.shifts == [198.1, 137.1, 133.1, 128.6, 128.3, 26.6]


def test_c_nmr_table_with_a_header_keeps_its_shift_column(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("shift,intensity\n198.1,0.3\n26.6,1.0\n")
    c = rd.read_c_nmr(str(p))
    assert c.shifts == [198.1, 26.6] and any("intensity ignored" in n for n in c.notes)
    q = tmp_path / "c2.tsv"
    q.write_text("intensity\tdelta (ppm)\n100\t26.6\n30\t198.1\n")  # the shift column found by name
    assert rd.read_c_nmr(str(q)).shifts == [198.1, 26.6]


def test_c_nmr_headerless_table_is_refused_not_half_read(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("198.1 30\n137.1 100\n26.6 80\n")  # shift + intensity? or a wrapped list?
    with pytest.raises(InputError) as e:
        rd.read_c_nmr(str(p))
    _one_line(e, "c.txt", "add a header")
    bad = tmp_path / "d.txt"
    bad.write_text("198.1, 137.1, C=O\n")
    with pytest.raises(InputError) as e:
        rd.read_c_nmr(str(bad))
    _one_line(e, "d.txt", "'C=O'")


# ------------------------------------------------------------------ 1H literature lists (item 4)
def test_h_literature_list_with_a_malformed_peak_is_refused_naming_it(tmp_path):
    text = "7.95 (d, J = 7.5 Hz, 2H), 7.55 t 1H, 2.60 (s, 3H)"
    with pytest.raises(InputError) as e:
        rd.read_h_nmr(text)
    _one_line(e, "--h_nmr", "'7.55 t 1H'")
    p = tmp_path / "h_nmr.txt"
    p.write_text(text + "\n")
    with pytest.raises(InputError) as e:
        rd.read_h_nmr(str(p))
    _one_line(e, "h_nmr.txt", "'7.55 t 1H'")


@pytest.mark.parametrize(
    "text,bad",
    [
        ("δ 7.55 t 1H, 7.95 (d, J = 7.5 Hz, 2H)", "7.55 t 1H"),  # before the first peak
        ("7.95 (d, J = 7.5 Hz, 2H), 2.60 (s, 3H), 1.25 t", "1.25 t"),  # after the last
        ("7.95 (d, J = 7.5 Hz, 2H) 7.4 2.60 (s, 3H)", "7.4"),
    ],
)
def test_h_literature_list_drops_nothing_before_between_or_after(text, bad):
    with pytest.raises(InputError) as e:
        rd.read_h_nmr(text)
    _one_line(e, repr(bad))


def test_h_literature_heading_and_assignment_labels_are_not_peaks():
    h = rd.read_h_nmr(
        "1H NMR (400 MHz, CDCl3) δ 8.03 (d, J = 7.6 Hz, 2H), 7.55 (t, J = 7.4 Hz, 1H), "
        "7.43 (t, J = 7.6 Hz, 2H), 3.91 (s, 3H, OCH3)."
    )
    assert [(p["category"], p["nH"], p["j_values"]) for p in h.peaks] == [
        ("d", 2, "7.6_"),
        ("t", 1, "7.4_"),
        ("t", 2, "7.6_"),
        ("s", 3, None),
    ]
    assert any("OCH3" in n for n in h.notes)


# ------------------------------------------------------------------ IR ordinate (item 5)
def _write_jcamp(path, x, y, yunits, xunits="1/CM", title="test", extra=()):
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM", *extra]
    lines += [f"##XUNITS={xunits}", f"##YUNITS={yunits}", f"##NPOINTS={len(x)}", "##XYPOINTS=(XY..XY)"]
    lines += [f"{a:.6f}, {b:.8g}" for a, b in zip(x, y)] + ["##END="]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_ir_percent_transmittance_labelled_absorbance_is_refused(tmp_path):
    d = rd.read_jcamp(os.path.join(F, "ethanol2.jdx"))  # %T, up to 94.7
    p = _write_jcamp(tmp_path / "mislabelled.jdx", d["x"], d["y"], "ABSORBANCE")
    with pytest.raises(InputError) as e:
        rd.read_ir(p)
    _one_line(e, "mislabelled.jdx", "look like transmittance", "##YUNITS=TRANSMITTANCE")
    # the same values under their true label are read (and turned into absorbance)
    ok = _write_jcamp(tmp_path / "labelled.jdx", d["x"], d["y"], "TRANSMITTANCE")
    assert any("transmittance converted" in n for n in rd.read_ir(ok).notes)


def test_ir_fractional_transmittance_labelled_absorbance_is_refused(tmp_path):
    x = np.linspace(4000, 400, 1801)
    t = 0.95 - 0.8 * np.exp(-(((x - 1715) / 12) ** 2)) - 0.5 * np.exp(-(((x - 2950) / 30) ** 2))
    with pytest.raises(InputError) as e:
        rd.read_ir(_write_jcamp(tmp_path / "t.jdx", x, t, "ABSORBANCE"))
    _one_line(e, "t.jdx", "bands pointing down")
    a = rd.read_ir(_write_jcamp(tmp_path / "a.jdx", x, -np.log10(t), "ABSORBANCE"))
    assert abs(np.linspace(400, 4000, 1800)[np.argmax(a.absorbance)] - 1715) < 3


# ------------------------------------------------------------------ NIST quantitative IR (35.2)
NIST_YUNITS = "(micromol/mol)-1m-1 (base 10)"


def test_nist_quantitative_ir_units_are_read_as_absorbance(tmp_path):
    x = np.linspace(450, 3995, 7000)
    coeff = 2e-3 * np.exp(-(((x - 1740) / 8) ** 2)) + 6e-4 * np.exp(-(((x - 2980) / 20) ** 2)) - 1e-6
    extra = ("##ORIGIN=NIST, Analytical Chemistry Division", "##STATE=gas")
    p = _write_jcamp(tmp_path / "nist.jdx", x, coeff, NIST_YUNITS, xunits="cm-1", extra=extra)
    ir = rd.read_ir(p)
    grid = np.linspace(400, 4000, 1800)
    assert abs(grid[np.argmax(ir.absorbance)] - 1740) < 3
    assert ir.absorbance.max() == pytest.approx(1.0, abs=0.01)  # scaled: the model reads shape only
    assert any("absorption coefficient" in n and "scaled" in n for n in ir.notes)
    # the same shape as an ABSORBANCE file of the same band
    q = _write_jcamp(tmp_path / "abs.jdx", x, coeff * 300, "ABSORBANCE", xunits="cm-1")
    ref = rd.read_ir(q).absorbance
    assert np.allclose(ir.absorbance, ref / (300 * coeff.max()), atol=1e-4)
    with pytest.raises(InputError) as e:  # anything else is still one line naming the file
        rd.read_ir(_write_jcamp(tmp_path / "odd.jdx", x, coeff, "KUBELKA-MUNK"))
    _one_line(e, "odd.jdx", "is not an IR ordinate")


# jcamp's pip package ships no data; its repository's data/infrared_spectra holds NIST's gas-phase
# IR (Coblentz transmittance, NIST/EPA absorbance and 28 quantitative files). Point JCAMP_IR_DATA at
# that folder to read every one of them.
_JCAMP_IR = os.environ.get("JCAMP_IR_DATA", "")
_NIST_FILES = sorted(glob.glob(os.path.join(_JCAMP_IR, "*.jdx"))) if _JCAMP_IR else []


@pytest.mark.skipif(not _NIST_FILES, reason="set JCAMP_IR_DATA to jcamp's data/infrared_spectra folder")
def test_every_nist_ir_file_of_jcamps_data_is_read():
    failed = {}
    for p in _NIST_FILES:
        if "NIST" not in open(p, encoding="latin-1").read(3000).upper():
            continue
        try:
            ir = rd.read_ir(p)
            assert ir.absorbance.shape == (1800,) and np.ptp(ir.absorbance) > 0
        except InputError as e:
            failed[os.path.basename(p)] = str(e)
    assert not failed, failed


# ------------------------------------------------------------------ 1H lists without multiplicity
def test_h_shift_list_without_multiplicities():
    h = rd.read_h_nmr("7.26 (5H), 3.91 (3H)")
    assert [(p["category"], p["nH"], p["j_values"]) for p in h.peaks] == [("m", 5, None), ("m", 3, None)]
    assert h.peaks[0]["rangeMax"] - h.peaks[0]["rangeMin"] == pytest.approx(rd.MULTIPLET_WIDTH)
    assert any("without a multiplicity read as 'm'" in n for n in h.notes)
    # mixed with full peaks, and a range
    h = rd.read_h_nmr("7.40-7.20 (5H), 3.91 (s, 3H)")
    assert [(p["rangeMax"], p["rangeMin"], p["category"]) for p in h.peaks][0] == (7.40, 7.20, "m")


def test_bare_h_shifts_are_refused_with_how_to_write_them(tmp_path):
    with pytest.raises(InputError) as e:
        rd.read_h_nmr("7.26, 3.91")
    _one_line(e, "--h_nmr", "without proton counts", "'7.26 (5H), 3.91 (3H)'")
    p = tmp_path / "h.txt"
    p.write_text("7.26\n3.91\n")
    with pytest.raises(InputError) as e:
        rd.read_h_nmr(str(p))
    _one_line(e, "h.txt", "without proton counts")


# ------------------------------------------------------------------ 13C duplicates
def test_c_nmr_symmetric_duplicates_are_kept_as_given_with_a_note():
    once = rd.read_c_nmr("166.9, 132.9, 130.2, 129.6, 128.4, 52.1")  # methyl benzoate, unique C
    assert len(once.shifts) == 6 and not any("repeated" in n for n in once.notes)
    twice = rd.read_c_nmr("166.9, 132.9, 130.2, 129.6, 129.6, 128.4, 128.4, 52.1", formula_c=8)
    assert twice.shifts == [166.9, 132.9, 130.2, 129.6, 129.6, 128.4, 128.4, 52.1]
    assert any("2 repeated shift(s) kept as given" in n for n in twice.notes)
    over = rd.read_c_nmr("166.9, 132.9, 130.2, 129.6, 129.6, 128.4, 128.4, 52.1", formula_c=7)
    assert any("8 shifts for 7 carbons" in n for n in over.notes)


# ------------------------------------------------------------------ JCAMP-DX NMR spectra
def _lorentz(ppm, lines, mhz, hwhm_hz=0.6):
    y = np.zeros_like(ppm)
    w = hwhm_hz / mhz
    for c, h in lines:
        y += h * w**2 / ((ppm - c) ** 2 + w**2)
    return y


def _multiplet(centre, n_h, js, mhz):
    """Lines (ppm, height) of a first-order multiplet: each J in Hz splits every line in two."""
    lines = [(0.0, 1.0)]
    for j in js:
        lines = [(o + s * j / 2, h / 2) for o, h in lines for s in (-1, 1)]
    return [(centre + o / mhz, n_h * h) for o, h in lines]


def _write_nmr(path, ppm, y, nucleus, mhz, solvent=None):
    head = [
        "##TITLE=synthetic",
        "##JCAMP-DX=5.00",
        "##DATA TYPE=NMR SPECTRUM",
        "##DATA CLASS=XYDATA",
        f"##.OBSERVE FREQUENCY={mhz}",
        f"##.OBSERVE NUCLEUS=^{nucleus}",
    ]
    if solvent:
        head.append(f"##.SOLVENT NAME={solvent}")
    head += ["##XUNITS=PPM", "##YUNITS=ARBITRARY UNITS", f"##NPOINTS={len(ppm)}", "##XYPOINTS=(XY..XY)"]
    body = [f"{a:.6f}, {b:.6g}" for a, b in zip(ppm[::-1], y[::-1])]
    path.write_text("\n".join(head + body + ["##END="]) + "\n")
    return str(path)


def test_h_nmr_from_a_spectrum_names_multiplets_and_counts_protons(tmp_path):
    mhz = 400.0
    ppm = np.linspace(0.5, 8.5, 40001)  # 0.08 Hz per point
    lines = (
        _multiplet(7.05, 1, [8.0, 2.0], mhz)  # dd
        + _multiplet(4.12, 2, [7.1] * 3, mhz)  # q (CH2 of an ethyl)
        + _multiplet(2.05, 3, [], mhz)  # s
        + _multiplet(1.26, 3, [7.1] * 2, mhz)  # t
        + _multiplet(7.26, 0.05, [], mhz)  # residual CHCl3
    )
    rng = np.random.default_rng(0)
    y = _lorentz(ppm, lines, mhz) + rng.normal(0, 2e-4, ppm.size)
    p = _write_nmr(tmp_path / "h.jdx", ppm, y, "1H", mhz, solvent="CDCl3")
    h = rd.read_h_nmr(p, formula_h=9)
    got = [(round((q["rangeMax"] + q["rangeMin"]) / 2, 2), q["category"], q["nH"]) for q in h.peaks]
    assert got == [(7.05, "dd", 1), (4.12, "q", 2), (2.05, "s", 3), (1.26, "t", 3)]
    js = {q["category"]: [float(v) for v in q["j_values"].rstrip("_").split("_")] for q in h.peaks if q["j_values"]}
    assert js["dd"] == pytest.approx([8.0, 2.0], abs=0.1)
    assert js["q"] == pytest.approx([7.1], abs=0.1) and js["t"] == pytest.approx([7.1], abs=0.1)
    assert any("CDCL3 7.26" in n for n in h.notes)


def test_h_nmr_from_the_real_ethanol_spectrum_of_jcamps_data():
    # an ACD LINK file (structure, assignments, peak table, spectrum): the spectrum block is read
    h = rd.read_h_nmr(os.path.join(T, "ethanol_nmr.jdx"), formula_h=6)
    by_shift = {round((q["rangeMax"] + q["rangeMin"]) / 2, 1): (q["category"], q["nH"]) for q in h.peaks}
    assert by_shift[3.7] == ("q", 2) and by_shift[1.2] == ("t", 3)
    j = float(next(q for q in h.peaks if q["category"] == "q")["j_values"].rstrip("_"))
    assert 6.5 < j < 7.5  # 3J(CH2-CH3) ~ 7 Hz


def test_c_nmr_from_a_spectrum_drops_the_named_solvent(tmp_path):
    mhz = 100.6
    ppm = np.linspace(-5, 225, 46001)
    carbons = [(198.1, 0.3), (137.1, 0.4), (133.1, 1.0), (128.6, 2.0), (128.3, 2.0), (26.6, 0.9)]
    cdcl3 = [(77.16 + k * 32.0 / mhz, 1.5) for k in (-1, 0, 1)]  # the 1:1:1 triplet of CDCl3
    rng = np.random.default_rng(1)
    y = _lorentz(ppm, carbons + cdcl3, mhz, hwhm_hz=1.0) + rng.normal(0, 5e-4, ppm.size)
    c = rd.read_c_nmr(_write_nmr(tmp_path / "c.jdx", ppm, y, "13C", mhz, solvent="CDCl3"))
    assert c.shifts == pytest.approx([198.1, 137.1, 133.1, 128.6, 128.3, 26.6], abs=0.01)
    assert any("3 CDCL3 solvent peak(s)" in n for n in c.notes)
    no_solvent = rd.read_c_nmr(_write_nmr(tmp_path / "c2.jdx", ppm, y, "13C", mhz))
    assert len(no_solvent.shifts) == 9 and any("not removed" in n for n in no_solvent.notes)


def test_nmr_fid_and_unreadable_blocks_are_one_line(tmp_path):
    p = tmp_path / "fid.jdx"
    p.write_text(
        "##TITLE=fid\n##JCAMP-DX=5.00\n##DATA TYPE=NMR FID\n##DATA CLASS=NTUPLES\n"
        "##.OBSERVE NUCLEUS=^1H\n##NTUPLES=NMR FID\n##END NTUPLES=NMR FID\n##END=\n"
    )
    with pytest.raises(InputError) as e:
        rd.read_h_nmr(str(p))
    _one_line(e, "fid.jdx", "FID")
