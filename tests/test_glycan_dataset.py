"""Dataset build on a tiny hand-made df_glycan (needs glypy + glycowork)."""

import json

import pytest  # noqa: E402

pytest.importorskip("glypy")
pytest.importorskip("glycowork")

import pandas as pd  # noqa: E402

from onmt_moe.glycan.dataset import ConversionError, build, iupac_to_wurcs, split_of  # noqa: E402
from onmt_moe.glycan.wurcs_tokenizer import detokenize, tokenize  # noqa: E402

ROWS = [
    # glycan, glytoucan_id, glycan_type, Kingdom, Species, tissue_sample, Composition
    ("Gal(b1-4)GlcNAc", "G00001", "N", ["Animalia"], ["Homo_sapiens"], ["serum"], {"Hex": 1, "HexNAc": 1}),
    ("Neu5Ac(a2-3)Gal(b1-4)Glc", None, "free", ["Animalia"], ["Homo_sapiens"], [], {"Neu5Ac": 1, "Hex": 2}),
    ("Fuc(a1-2)Gal(b1-3)GalNAc", None, "O", [], [], [], {"dHex": 1, "Hex": 1, "HexNAc": 1}),
    ("Gal(b1-3/4)GlcNAc", None, None, [], [], [], {"Hex": 1, "HexNAc": 1}),  # '/' -> rejected
    ("Gal(b1-4)GlcNAc", None, "N", [], [], [], {"Hex": 1, "HexNAc": 1}),  # duplicate
    ("Man(a1-3)[Man(a1-6)]Man(b1-4)GlcNAc(b1-4)GlcNAc", None, "N", [], [], [], {"Hex": 3, "HexNAc": 2}),
    ("Glc" + "(a1-4)Glc" * 14, None, None, [], [], [], {"Hex": 15}),  # too large
]


def _df():
    cols = ["glycan", "glytoucan_id", "glycan_type", "Kingdom", "Species", "tissue_sample", "Composition"]
    return pd.DataFrame(ROWS, columns=cols)


def test_iupac_to_wurcs_strict():
    w, via, g = iupac_to_wurcs("Gal(b1-4)GlcNAc")
    assert w.startswith("WURCS=2.0/2,2,1/") and via == "glycoct"
    assert detokenize(tokenize(w)) == w
    with pytest.raises(ConversionError) as ei:
        iupac_to_wurcs("Gal(b1-3/4)GlcNAc")
    assert ei.value.reason == "alternative_linkage"


def test_build_small(tmp_path):
    out = tmp_path / "g"
    s = build(str(out), workers=1, max_residues=12, df=_df(), log=lambda m: None)
    assert s["kept"] == 4 and s["df_glycan_rows"] == len(ROWS)
    assert s["reject_reasons"] == {"too_large": 1, "alternative_linkage": 1, "duplicate_wurcs": 1}
    assert s["tokenizer_roundtrip"] == {"checked": 5, "failed": 0}
    df = pd.read_parquet(out / "glycan.parquet")
    assert list(df.columns)[:10] == [
        "wurcs",
        "iupac",
        "glytoucan_id",
        "precursor_mz",
        "charge",
        "mass",
        "peaks",
        "text",
        "composition",
        "n_residues",
    ]
    assert df.wurcs.is_unique and set(df.split) <= {"train", "val", "test"}
    for r in df.itertuples():
        assert r.split == split_of(r.wurcs)
        assert r.charge in (-1, -2) and len(r.peaks) > 3 and all(len(p) == 2 for p in r.peaks)
        assert abs(r.precursor_mz - (r.mass + r.charge * 1.007276) / -r.charge) < 1e-3
    row = df[df.iupac == "Gal(b1-4)GlcNAc"].iloc[0]
    assert row.glytoucan_id == "G00001" and row.text.startswith("n-linked glycan")
    assert json.loads(row.composition) == {"Hex": 1, "HexNAc": 1}
    rej = (out / "rejects.tsv").read_text().splitlines()
    assert rej[0].split("\t") == ["source_row", "glytoucan_id", "iupac", "reason", "detail"]
    assert len(rej) == 1 + s["rejected"]
    # deterministic
    s2 = build(str(tmp_path / "g2"), workers=1, max_residues=12, df=_df(), log=lambda m: None)
    df2 = pd.read_parquet(tmp_path / "g2" / "glycan.parquet")
    assert s2["kept"] == s["kept"] and df2.equals(df)


def test_build_with_glycan_types_and_real_spectrum_knobs(tmp_path):
    """--glycan_types keeps only those df_glycan rows (source_row stays the df_glycan position); the
    simulator knobs reach every spectrum: a reduced end moves the precursor by +2.016 / |z|."""
    build(str(tmp_path / "f"), workers=1, max_residues=12, df=_df(), log=lambda m: None)
    s = build(
        str(tmp_path / "r"),
        workers=1,
        max_residues=12,
        df=_df(),
        log=lambda m: None,
        sim={"reducing_end": "reduced"},
        glycan_types=("N", "O"),
    )
    assert s["simulator"] == {"reducing_end": "reduced"} and s["glycan_types"] == ["N", "O"]
    free = pd.read_parquet(tmp_path / "f" / "glycan.parquet").set_index("source_row")
    red = pd.read_parquet(tmp_path / "r" / "glycan.parquet").set_index("source_row")
    assert sorted(red.index) == [0, 2, 5]  # the N and O rows (4 is a duplicate of 0), positions in df_glycan
    assert set(red["glycan_type"]) == {"N", "O"}
    for i, r in red.iterrows():
        assert r.charge == free.loc[i, "charge"]
        assert r.precursor_mz - free.loc[i, "precursor_mz"] == pytest.approx(2.01565 / -r.charge, abs=1e-3)


def test_build_library_mode_gives_every_structure_several_training_spectra(tmp_path):
    out = tmp_path / "lib"
    s = build(str(out), df=_df(), log=lambda m: None, spectra_per_structure=2, split_mode="library")
    assert s["kept"] == 4 and s["spectra"] == 4 * 2 + sum(split_of(w) != "train" for w in set(s_w(out)))
    assert s["spectra_per_structure"] == 2 and s["split_mode"] == "library"
    df = pd.read_parquet(out / "glycan.parquet")
    for w, rows in df.groupby("wurcs"):
        train = rows[rows.split == "train"]
        assert len(train) == 2 and sorted(train.noise_seed) == [13, 14]
        assert [list(p) for p in train.peaks.iloc[0]] != [list(p) for p in train.peaks.iloc[1]]  # new noise
        held = rows[rows.split != "train"]
        assert list(held.split) == ([split_of(w)] if split_of(w) != "train" else [])
        assert list(held.noise_seed) == ([15] if len(held) else [])
    assert s["splits"] == dict(df.split.value_counts())


def s_w(out):
    return pd.read_parquet(out / "glycan.parquet").wurcs


def test_default_build_has_no_noise_seed_column(tmp_path):
    build(str(tmp_path / "d"), df=_df(), log=lambda m: None)
    assert "noise_seed" not in pd.read_parquet(tmp_path / "d" / "glycan.parquet").columns
