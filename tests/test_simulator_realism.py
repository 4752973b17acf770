"""The simulator against measured spectra (onmt_moe/runs/simulator_realism.py) on tiny slices: three
MassBank blocks (tests/fixtures/real_msms_slice.mgf), jcamp's two IR fixture files with a ##MOLFORM
line added, three rows of the literature NMR set. Nothing here reads ../shared or NIST files."""

import csv
import importlib.util
import os
import re
import shutil

import numpy as np
import pytest

pytest.importorskip("matchms")
pytest.importorskip("jcamp")

from onmt_moe.runs import simulator_realism as sr  # noqa: E402
from onmt_moe.simulate import compare  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
SLICE = os.path.join(FIX, "real_msms_slice.mgf")
LITERATURE = os.path.join(ROOT, "data", "real_nmr", "literature.tsv")


@pytest.fixture(scope="module")
def msms_refs():
    rejects = sr.Rejects([])
    refs = sr.msms_references(SLICE, rejects)
    assert not rejects.items
    return refs


def test_a_simulated_msms_spectrum_is_closer_to_its_own_molecule_than_to_another(msms_refs):
    assert {r.mode for r in msms_refs} == {"positive", "negative"}
    sims = [sr.simulate_msms(r) for r in msms_refs]
    own = [sr.msms_cosine(r.peaks, s) for r, s in zip(msms_refs, sims)]
    shuffled = [sr.msms_cosine(msms_refs[(i + 1) % len(sims)].peaks, s) for i, s in enumerate(sims)]
    assert np.mean(own) > np.mean(shuffled) + 0.3, (own, shuffled)


def test_matchms_and_the_project_cosine_are_one_definition(msms_refs):
    sims = [sr.simulate_msms(r) for r in msms_refs]
    for ref in msms_refs:
        for sim in sims:
            assert sr.msms_cosine(ref.peaks, sim) == pytest.approx(compare.matched_cosine(ref.peaks, sim, sr.MZ_TOL))


@pytest.mark.parametrize(
    "text, formula",
    [
        ("C H3 C O C H3", {"C": 3, "H": 6, "O": 1}),
        ("1,2-( C H3)2 C6 H4", {"C": 8, "H": 10}),
        ("C H3 C H( O H) C H3", {"C": 3, "H": 8, "O": 1}),
        ("C H2: C H C O2 C2 H5", {"C": 5, "H": 8, "O": 2}),
        ("C 5 H 12", {"C": 5, "H": 12}),
        ("C H3 C Cl3", {"C": 2, "H": 3, "Cl": 3}),
    ],
)
def test_nist_molform_lines_are_read(text, formula):
    assert sr.molform_counts(text) == formula


@pytest.mark.parametrize("value, ev", [("Ramp 5-60 V", 32.5), ("60 % (nominal)", 60.0), ("20 eV", 20.0), ("", None)])
def test_collision_energies(value, ev):
    assert sr.collision_energy(value) == ev


def _with_molform(src: str, dst: str, molform: str) -> None:
    """A copy of a JCAMP-DX fixture with a ##MOLFORM line after its title (as NIST files have)."""
    text = open(src, encoding="latin-1").read()
    text = re.sub(r"(##TITLE=[^\n]*\n)", lambda m: m.group(1) + f"##MOLFORM={molform}\n", text, count=1)
    with open(dst, "w", encoding="latin-1") as fh:
        fh.write(text)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("realism")
    ir_dir = d / "ir"
    ir_dir.mkdir()
    _with_molform(os.path.join(FIX, "predict", "ethanol2.jdx"), ir_dir / "ethanol.jdx", "C2 H6 O")
    _with_molform(os.path.join(FIX, "predict", "isopropanol_ASDF.jdx"), ir_dir / "2-propanol.jdx", "C3 H8 O")
    _with_molform(os.path.join(FIX, "predict", "ethanol2.jdx"), ir_dir / "wrong.jdx", "C2 H6 O")
    shutil.copy(os.path.join(FIX, "predict", "ethanol_ms.jdx"), ir_dir / "not_listed.jdx")
    table = d / "structures.tsv"
    table.write_text(
        "# a comment line\nfile\ttitle\tcas\tsmiles\tnist_source\n"
        "ethanol.jdx\tethanol\t64-17-5\tCCO\tTEST\n"
        "2-propanol.jdx\t2-propanol\t67-63-0\tCC(C)O\tTEST\n"
        "wrong.jdx\tethanol\t64-17-5\tCCCO\tTEST\n"
        "missing.jdx\tnothing\t\tCC\tTEST\n"
    )
    mgf = d / "msms.mgf"
    text = open(SLICE, encoding="utf-8").read()
    sodium = text.split("BEGIN IONS")[1].replace("PRECURSORTYPE=[M+H]+", "PRECURSORTYPE=[M+Na]+")
    mgf.write_text(text + "\nBEGIN IONS" + sodium.replace("TITLE=MSBNK-LCSB-LU116303", "TITLE=SODIUM-ADDUCT"))
    lines = open(LITERATURE, encoding="utf-8").read().splitlines()
    bad = lines[1].split("\t")
    bad[0], bad[1] = "broken_smiles", "C1CC"
    nmr = d / "nmr.tsv"
    nmr.write_text("\n".join(lines[:4] + ["\t".join(bad)]) + "\n")
    return {"msms": str(mgf), "ir_dir": str(ir_dir), "table": str(table), "nmr": str(nmr), "out": str(d / "r.csv")}


@pytest.fixture(scope="module")
def result(inputs):
    rows, rejects = sr.run(
        inputs["msms"], inputs["ir_dir"], inputs["table"], inputs["nmr"], inputs["out"], log=print, machine="test"
    )
    return rows, rejects


def test_the_table_has_its_columns_and_one_row_per_part(inputs, result):
    with open(inputs["out"], newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert reader.fieldnames == sr.COLUMNS
    assert [(r["modality"], r["variant"]) for r in rows] == [
        ("IR", "experiment"),
        ("IR", "experiment"),
        ("IR", "benchmark"),
        ("IR", "benchmark"),
        ("MS/MS", "positive"),
        ("MS/MS", "negative"),
        ("13C NMR", "fast"),
        ("1H NMR", "fast"),
        *([("13C NMR", "csp5"), ("1H NMR", "csp5")] if importlib.util.find_spec("csp5") else []),
    ]
    by = {(r["modality"], r["variant"], r["reference"]): r for r in rows}
    ir_all = by[("IR", "experiment", sr.IR_REFERENCE)]
    assert (int(ir_all["n"]), int(ir_all["n_skipped"])) == (2, 3)  # 5 inputs: 2 usable
    assert 0 < float(ir_all["median"]) <= 1
    pos = by[("MS/MS", "positive", sr.MSMS_REFERENCE)]
    assert (int(pos["n"]), int(pos["n_skipped"])) == (2, 1)
    c13 = by[("13C NMR", "fast", sr.NMR_REFERENCE)]
    assert (int(c13["n"]), int(c13["n_skipped"])) == (3, 1)
    assert 0 < float(c13["median"]) < 30


def test_a_second_shift_predictor_gets_its_own_rows_and_reject_sources(inputs, tmp_path, monkeypatch):
    """The csp5 rows, with csp5 replaced by a predictor that fails on one molecule and puts every carbon
    and hydrogen 1 ppm above the fast estimate on the others."""
    from onmt_moe.simulate import nmr_fast

    first = None

    def fake(row, mol):
        nonlocal first
        first = first or row.id
        if row.id == first:
            raise ValueError("csp5 gave no shift for some atom")
        c, h = nmr_fast.predict_fast(mol)
        return {i: v + 1 for i, v in c.items()}, {i: v + 1 for i, v in h.items()}

    monkeypatch.setattr(sr, "csp5_predictor", lambda rows: fake)
    rejects = sr.Rejects([])
    rows = sr.nmr_rows(inputs["nmr"], rejects)
    by = {(r["modality"], r["variant"]): r for r in rows}
    fast, other = by[("13C NMR", "fast")], by[("13C NMR", "csp5")]
    assert (int(fast["n"]), int(fast["n_skipped"])) == (3, 1)
    assert (int(other["n"]), int(other["n_skipped"])) == (2, 2)  # the unread row and the failed one
    assert ("NMR (csp5)", first, "simulation failed: ValueError: csp5 gave no shift for some atom") in rejects.items
    assert sum(1 for src, _, _ in rejects.items if src == "NMR") == 1  # the unread row once, not per variant


def test_every_left_out_spectrum_is_in_the_rejects_file_with_a_reason(inputs, result):
    with open(sr.rejects_path(inputs["out"]), newline="") as fh:
        rejects = {(r["source"], r["id"]): r["reason"] for r in csv.DictReader(fh, delimiter="\t")}
    assert "does not match ##MOLFORM" in rejects[("IR", "wrong.jdx")]
    assert "not in the structures table" in rejects[("IR", "not_listed.jdx")]
    assert "not in" in rejects[("IR", "missing.jdx")]
    assert "[M+Na]+" in rejects[("MS/MS positive", "SODIUM-ADDUCT")]
    assert "broken_smiles" in {i for _, i in rejects}
    assert all(reason.strip() for reason in rejects.values())


def test_an_absent_input_is_skipped_with_a_line_and_its_old_rows_are_kept(inputs, result, tmp_path):
    out = tmp_path / "again.csv"
    shutil.copy(inputs["out"], out)
    shutil.copy(sr.rejects_path(inputs["out"]), sr.rejects_path(str(out)))
    lines = []
    rows, rejects = sr.run(None, "", inputs["table"], str(tmp_path / "absent.tsv"), str(out), log=lines.append)
    assert len(lines) == 3
    assert "IR: skipped" in lines[0] and "git clone https://github.com/nzhagen/jcamp" in lines[0]
    assert "MS/MS: skipped" in lines[1] and "NMR: skipped" in lines[2] and "absent.tsv" in lines[2]
    assert len(rows) == len(result[0]) and {r["machine"] for r in rows} == {"test"}  # every row kept as it was
    assert len(rejects.items) == len(result[1].items)
