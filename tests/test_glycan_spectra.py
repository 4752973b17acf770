"""Spectrum tokens (binning, losses, diagnostics, tags) and the MS/MS simulator."""

import pytest  # noqa: E402

from onmt_moe.glycan.spectra_tokens import (  # noqa: E402
    DIAGNOSTIC,
    LOSSES,
    SpecTokConfig,
    int_token,
    mz_token,
    source_tokens,
    spectrum_tokens,
)
from onmt_moe.glycan.text import describe, text_tokens  # noqa: E402
from onmt_moe.masses import PROTON  # noqa: E402
from onmt_moe.modality.tags import MISSING, split_segments  # noqa: E402

NGLYCAN = (
    "WURCS=2.0/7,11,10/[a2122h-1x_1-5_2*NCC/3=O][a1221m-1a_1-5][a2122h-1b_1-5_2*NCC/3=O]"
    "[a1122h-1b_1-5][a1122h-1a_1-5][a2112h-1b_1-5][Aad21122h-2a_2-6_5*NCC/3=O]"
    "/1-2-3-4-5-3-6-5-3-6-7/a4-c1_a6-b1_c4-d1_d3-h1_d6-e1_e2-f1_f4-g1_h2-i1_i4-j1_j3-k2"
)


def test_binning_is_configurable():
    assert mz_token(512.7, 1.0) == "MZ_512"
    assert mz_token(512.7, 0.5) == "MZ_1025"
    assert int_token(100.0, 10) == "INT_9" and int_token(0.0, 10) == "INT_0"
    assert int_token(55.0, 10) == "INT_5" and int_token(55.0, 4) == "INT_2"


def test_loss_and_diagnostic_tokens():
    mass = 1000.0  # neutral precursor
    prec = mass - PROTON
    y_neuac = mass - LOSSES["NeuAc"] - PROTON  # Y ion after NeuAc loss
    peaks = [[DIAGNOSTIC["NeuAc_B1"], 30.0], [y_neuac, 100.0], [y_neuac - LOSSES["Hex"], 50.0], [prec, 20.0]]
    toks = spectrum_tokens(prec, -1, peaks, SpecTokConfig())
    assert toks[:2] == [f"PMZ_{int(prec)}", "CHARGE_-1"]
    assert toks.count("NLP_NeuAc") == 1 and "DIAG_NeuAc_B1" in toks
    i = toks.index(f"MZ_{int(y_neuac)}")
    assert toks[i + 1] == "INT_9" and toks[i + 2] == "NLP_NeuAc" and "NLD_Hex" in toks
    off = spectrum_tokens(prec, -1, peaks, SpecTokConfig(losses=False, peak_pairs=False, diagnostics=False))
    assert not [t for t in off if t.startswith(("NLP_", "NLD_", "DIAG_"))]
    assert len([t for t in off if t.startswith("MZ_")]) == 4


def test_doubly_charged_precursor_loss():
    mass = 2000.0
    prec = (mass - 2 * PROTON) / 2
    frag_1minus = mass - LOSSES["dHex"] - PROTON
    toks = spectrum_tokens(prec, -2, [[frag_1minus, 100.0]])
    assert "CHARGE_-2" in toks and "NLP_dHex" in toks


def test_peak_selection_and_order():
    peaks = [[100.0 + 10 * i, float(i + 1)] for i in range(80)]
    toks = spectrum_tokens(
        900.0, -1, peaks, SpecTokConfig(max_peaks=20, losses=False, peak_pairs=False, diagnostics=False)
    )
    mz = [int(t[3:]) for t in toks if t.startswith("MZ_")]
    assert len(mz) == 20 and mz == sorted(mz) and mz[0] == 700  # the 20 most intense, by m/z


def test_source_tags_and_missing_text():
    toks = source_tokens(500.0, -1, [[300.0, 10.0]], [], with_text=True)
    segs = split_segments(toks)
    assert [s[0] for s in segs] == ["MS", "TEXT"] and segs[1][1] == [MISSING]
    assert [s[0] for s in split_segments(source_tokens(500.0, -1, [[300.0, 1.0]], None, with_text=False))] == ["MS"]


def test_text_description():
    t = describe(
        "N",
        ["Animalia", "Plantae", "Animalia", "Animalia"],
        ["Mus_musculus", "Arabidopsis_thaliana", "Homo_sapiens", "Bos_taurus"],
        ["serum"],
    )
    # majority kingdom; its species only; Homo sapiens first, then alphabetical; max two
    assert t == "n-linked glycan ; kingdom animalia ; species homo sapiens , bos taurus ; tissue serum"
    assert "arabidopsis" not in describe(
        None, ["Animalia", "Plantae", "Animalia"], ["Mus_musculus", "Arabidopsis_thaliana", "Sus_scrofa"]
    )
    assert describe(None, [], [], []) == "" and text_tokens("") == []
    assert text_tokens(t)[:3] == ["n-linked", "glycan", ";"]


def test_simulator_deterministic_and_rules():
    pytest.importorskip("glypy")
    from glypy.io import wurcs

    from onmt_moe.glycan.fragments import SimParams, simulate_spectrum

    g = wurcs.loads(NGLYCAN)
    a = simulate_spectrum(g, NGLYCAN)
    b = simulate_spectrum(wurcs.loads(NGLYCAN), NGLYCAN)
    c = simulate_spectrum(g, NGLYCAN, SimParams(seed=99))
    assert a == b and a["peaks"] != c["peaks"]
    assert a["charge"] == -2 and abs(a["precursor_mz"] - (g.mass() - 2 * PROTON) / 2) < 1e-4
    mz = [p[0] for p in a["peaks"]]
    assert mz == sorted(mz) and max(p[1] for p in a["peaks"]) == pytest.approx(100.0)
    assert len(a["peaks"]) <= SimParams().max_peaks
    # labile losses favoured: averaged over seeds, the Y ion losing NeuAc / Fuc beats the
    # Y ion losing the (non-labile) Gal-GlcNAc... check on clean spectra (no noise, no dropout)
    clean = SimParams(noise_sigma=0.0, dropout=0.0, n_noise=0.0, max_peaks=10000)
    s = {round(m, 2): i for m, i in simulate_spectrum(g, NGLYCAN, clean)["peaks"]}
    y_neuac = round(g.mass() - LOSSES["NeuAc"] - PROTON, 2)
    y_fuc = round(g.mass() - LOSSES["dHex"] - PROTON, 2)
    y_gal = round(g.mass() - LOSSES["Hex"] - PROTON, 2)
    assert s[y_neuac] > s[y_gal] and s[y_fuc] > s[y_gal]
    small = "WURCS=2.0/2,2,1/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5]/1-2/a4-b1"
    sm = simulate_spectrum(wurcs.loads(small), small)
    assert sm["charge"] == -1


def test_reduced_end_ion_trap_and_sharpen_knobs():
    """Issue 17: the reducing-end tag moves the precursor and the fragments that keep the reducing
    end; sharpen > 1 leaves fewer peaks above 5 %; the defaults are the original simulator."""
    pytest.importorskip("glycowork")
    from onmt_moe.glycan.dataset import iupac_to_wurcs
    from onmt_moe.glycan.fragments import SimParams, simulate_spectrum
    from onmt_moe.glycan.real.masses import tag_mass

    w, _, g = iupac_to_wurcs("Neu5Ac(a2-3)Gal(b1-3)GalNAc")
    clean = dict(noise_sigma=0.0, dropout=0.0, n_noise=0.0, max_peaks=10000)
    free = simulate_spectrum(g, w, SimParams(**clean))
    red = simulate_spectrum(g, w, SimParams(reducing_end="reduced", **clean))
    assert red["precursor_mz"] - free["precursor_mz"] == pytest.approx(tag_mass("reduced"), abs=1e-4)
    fm, rm = {p[0] for p in free["peaks"]}, {p[0] for p in red["peaks"]}
    assert any(round(m + tag_mass("reduced"), 4) in rm for m in fm - rm)  # Y ions moved by +H2
    b1 = DIAGNOSTIC["NeuAc_B1"]  # no reducing end in it: unmoved
    assert any(abs(m - b1) < 1e-3 for m in fm) and any(abs(m - b1) < 1e-3 for m in rm)
    assert simulate_spectrum(g, w, SimParams()) == simulate_spectrum(g, w, SimParams(reducing_end="free", sharpen=1.0))
    n5 = lambda s: sum(p[1] >= 5 for p in s["peaks"])  # noqa: E731
    assert n5(simulate_spectrum(g, w, SimParams(sharpen=3.0))) < n5(simulate_spectrum(g, w, SimParams()))
    jit = simulate_spectrum(g, w, SimParams(mz_sigma=0.15, **clean))
    assert [p[0] for p in jit["peaks"]] != [p[0] for p in free["peaks"]]


# Neu5Ac(a2-3)Gal(b1-3)GalNAc, as dataset.iupac_to_wurcs writes it (read with glypy alone: no glycowork needed)
SIALYL_T = "WURCS=2.0/3,3,2/[a2112h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5][Aad21122h-2a_2-6_5*NCC/3=O]/1-2-3/a3-b1_b3-c2"


def _sialyl_t():
    wurcs = pytest.importorskip("glypy.io.wurcs")
    return SIALYL_T, wurcs.loads(SIALYL_T)


def test_fragment_classes_name_the_cut_the_labile_residue_and_the_end():
    from onmt_moe.glycan.fragments import SimParams, enumerate_fragments

    w, g = _sialyl_t()
    by_class = {}
    for mass, _, _, cls in enumerate_fragments(g, SimParams()):
        by_class.setdefault(cls, []).append(mass)
    b1 = DIAGNOSTIC["NeuAc_B1"] + PROTON  # the neutral sialic acid B ion
    assert any(abs(m - b1) < 1e-3 for m in by_class["B:NeuAc:nonred"])
    assert "Y:NeuAc:red" in by_class and "0,4X:-:red" in by_class and "2,4A:-:nonred" in by_class
    assert all(c.split(":")[2] in ("red", "nonred") for c in by_class)


def test_intensity_fit_reads_the_real_intensity_at_each_class_ion():
    """A 'real' spectrum with only the sialic acid B ion: that class gets 100 %, the others 0 %."""
    from onmt_moe.glycan.fragments import SimParams, reducing_end_tag
    from onmt_moe.glycan.real.intensity_fit import fit
    from onmt_moe.glycan.real.realism import AnnotatedPair

    w, g = _sialyl_t()
    prec = float(g.mass()) + reducing_end_tag(SimParams(reducing_end="reduced")) - PROTON
    pair = AnnotatedPair([[DIAGNOSTIC["NeuAc_B1"] + 0.1, 50.0], [900.0, 5.0]], prec, -1, g, w)
    table = fit([pair] * 5, "reduced", tol=0.3, min_count=5)
    assert table["classes"]["B:NeuAc:nonred:z1"] == {"mean": 100.0, "n": 5}
    assert table["classes"]["Y:NeuAc:red:z1"]["mean"] == 0.0 and table["precursor"] == {"z1": 0.0}
    assert "z2" not in {k.rsplit(":", 1)[1] for k in table["classes"]}  # a 1- precursor has no 2- fragments


def test_fitted_rules_make_the_sialic_acid_b_ion_the_strongest_expected_peak():
    """The packaged table (fitted on GPST000017): in sialyl-T the m/z 290 ion has the largest weight,
    as in the real spectrum (100 %, the rest <= 7 %); the textbook rules favour the NeuAc loss (Y)."""
    from onmt_moe.glycan.fragments import SimParams, enumerate_fragments, load_rules, rule_weight

    w, g = _sialyl_t()
    p = SimParams(reducing_end="reduced")
    frags = enumerate_fragments(g, p)
    rules = load_rules("fitted")
    assert rules["fitted_on"] == "JC_141128PGMa.xlsx" and rules["spectra"] == 63
    strongest = max(frags, key=lambda f: rule_weight(rules, f[3], 1))
    assert strongest[3] == "B:NeuAc:nonred" and abs(strongest[0] - PROTON - DIAGNOSTIC["NeuAc_B1"]) < 1e-3
    assert max(frags, key=lambda f: f[1])[3] == "Y:NeuAc:red"
    assert rule_weight(rules, "B:NeuGc:nonred", 1) == rules["classes"]["B:-:nonred:z1"]["mean"]  # too rare: cut only
    with pytest.raises(ValueError, match="intensity_rules 'nope.json'"):
        load_rules("nope.json")
