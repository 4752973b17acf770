"""Seen structures, new spectra: resimulate() on the committed sample (glypy only)."""

import json

import pandas as pd
import pytest

pytest.importorskip("glypy")

from onmt_moe.glycan.dataset import resimulate  # noqa: E402
from tests.test_glycan_corpus import SAMPLE  # noqa: E402


def test_resimulate_keeps_structures_and_precursors_and_changes_peaks(tmp_path):
    src = pd.read_parquet(SAMPLE).set_index("wurcs")
    s = resimulate(SAMPLE, str(tmp_path), from_split="train", limit=5, seed=99, log=lambda m: None)
    out = pd.read_parquet(tmp_path / "glycan.parquet")
    assert s["written"] == len(out) == 5 and s["rejected"] == 0
    assert set(out.split) == {"test"}
    for w, peaks, pmz, charge in zip(out.wurcs, out.peaks, out.precursor_mz, out.charge):
        row = src.loc[w]
        assert row.split == "train"
        assert pmz == pytest.approx(row.precursor_mz) and charge == row.charge
        assert [list(p) for p in peaks] != [list(p) for p in row.peaks]  # another noise seed
    again = resimulate(SAMPLE, str(tmp_path / "b"), limit=5, seed=99, log=lambda m: None)
    assert again["written"] == 5
    assert pd.read_parquet(tmp_path / "b" / "glycan.parquet").equals(out)  # deterministic
    assert json.loads((tmp_path / "summary.json").read_text())["from_split"] == "train"
    with pytest.raises(SystemExit, match="split"):
        resimulate(SAMPLE, str(tmp_path / "c"), from_split="holdout", log=lambda m: None)


def test_resimulate_uses_the_simulator_settings_the_dataset_was_built_with(tmp_path):
    """A reduced-end dataset resimulated must stay reduced (it used to fall back to the free end)."""
    import shutil

    ds = tmp_path / "reduced"
    ds.mkdir()
    shutil.copy(SAMPLE, ds / "glycan.parquet")
    (ds / "summary.json").write_text(json.dumps({"simulator": {"reducing_end": "reduced"}}))
    free = resimulate(
        str(ds / "glycan.parquet"),
        str(tmp_path / "free"),
        limit=3,
        seed=99,
        log=lambda m: None,
        sim={"reducing_end": "free"},
    )
    red = resimulate(str(ds), str(tmp_path / "red"), limit=3, seed=99, log=lambda m: None)
    assert free["simulator"] == {"reducing_end": "free"} and red["simulator"] == {"reducing_end": "reduced"}
    a = pd.read_parquet(tmp_path / "free" / "glycan.parquet")
    b = pd.read_parquet(tmp_path / "red" / "glycan.parquet")
    assert list(a.wurcs) == list(b.wurcs) and set(b.noise_seed) == {99}
    for pmz_free, pmz_red, z in zip(a.precursor_mz, b.precursor_mz, b.charge):
        assert pmz_red - pmz_free == pytest.approx(2.01565 / abs(z), abs=1e-3)  # alditol: + H2
