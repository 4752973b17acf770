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
