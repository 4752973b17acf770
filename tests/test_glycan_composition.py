"""Compositions from the precursor mass (composition.py) and the CMP_ source tokens."""

import json

import pandas as pd
import pytest

from onmt_moe.glycan.composition import H2O, MODIFICATIONS, RESIDUES, CompositionIndex, composition_tokens
from onmt_moe.glycan.spectra_tokens import SpecTokConfig, spectrum_tokens
from onmt_moe.masses import PROTON
from tests.test_glycan_corpus import SAMPLE, _gen

MASS = {**RESIDUES, **MODIFICATIONS}


def _mass(comp):
    return sum(MASS[k] * v for k, v in comp.items()) + H2O


@pytest.fixture(scope="module")
def ix():
    return CompositionIndex(max_residues=8, max_mods=2)


def test_known_compositions_rank_first(ix):
    for comp in (
        {"Hex": 3, "HexNAc": 2},
        {"Hex": 2, "HexNAc": 2, "dHex": 1, "Neu5Ac": 1},
        {"Hex": 1, "HexNAc": 1, "S": 1},
        {"HexNAc": 1},
    ):
        got = ix.candidates(_mass(comp), 0.005)
        assert got and got[0][0] == comp, (comp, got[:3])
        assert abs(got[0][1]) < 1e-6
    # every hit really is within the tolerance, and a tighter tolerance never adds hits
    m = _mass({"Hex": 4, "HexNAc": 2, "dHex": 1})
    wide, tight = ix.candidates(m, 0.02), ix.candidates(m, 0.002)
    assert all(abs(_mass(c) - m) <= 0.02 + 1e-9 and abs(e) <= 0.02 + 1e-9 for c, e in wide)
    assert len(tight) <= len(wide) and all(t in wide for t in tight)
    # sulfate vs phosphate (0.0095 Da apart) are told apart at 0.005 Da
    assert ix.candidates(_mass({"Hex": 1, "P": 1}), 0.005)[0][0] == {"Hex": 1, "P": 1}
    assert ix.candidates(50.0, 0.005) == []
    with pytest.raises(ValueError):
        CompositionIndex(max_residues=0)


def test_tokens():
    toks = composition_tokens(_mass({"Hex": 5, "HexNAc": 4}), tol=0.005, max_candidates=2, max_residues=10)
    assert toks[:2] == ["CMP_Hex_5", "CMP_HexNAc_4"]
    assert toks.count("CMP_OR") <= 1 and all(t.startswith("CMP_") for t in toks)
    assert composition_tokens(40.0) == ["CMP_NONE"]


def test_spectrum_tokens_option():
    comp = {"Hex": 3, "HexNAc": 2}
    pmz = _mass(comp) - PROTON
    peaks = [[179.06, 100.0], [220.08, 40.0]]
    off = spectrum_tokens(pmz, -1, peaks)
    on = spectrum_tokens(pmz, -1, peaks, SpecTokConfig(composition=True))
    assert not any(t.startswith("CMP_") for t in off)
    assert on[:4] == off[:2] + ["CMP_Hex_3", "CMP_HexNAc_2"] and on[-len(off) + 2 :] == off[2:]
    on2 = spectrum_tokens((_mass(comp) - 2 * PROTON) / 2, -2, peaks, SpecTokConfig(composition=True))
    assert on2[2:4] == ["CMP_Hex_3", "CMP_HexNAc_2"]  # charge 2: the same neutral mass


def test_corpus_flag(tmp_path):
    df = pd.read_parquet(SAMPLE)
    _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path), "--composition"])
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["spectrum_tokens"]["composition"] is True and s["rejected"] == 0
    src = (tmp_path / "data" / "src-train.txt").read_text().splitlines()
    assert len(src) == (df.split == "train").sum()
    assert all(ln.split()[3].startswith("CMP_") for ln in src)
    # the top candidate is the glycowork composition for most rows (it is wrong only where
    # the mass admits a cheaper explanation or glycowork's composition misses residues)
    comps = [json.loads(c) for c in df[df.split == "train"].composition]
    hits = 0
    for ln, comp in zip(src, comps):
        first = ln.split("CMP_OR")[0].split()
        got = {t.split("_")[1]: int(t.split("_")[2]) for t in first if t.startswith("CMP_")}
        hits += got == comp
    assert hits / len(src) > 0.75  # 0.875 on the committed sample
    with pytest.raises(SystemExit, match="pred_spectra"):
        _gen()(["--input", SAMPLE, "--out_dir", str(tmp_path / "x"), "--composition", "--pred_spectra"])
