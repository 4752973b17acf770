"""Spectra per structure and the library split (onmt_moe.glycan.dataset.SpectraPlan; no glycan libraries)."""

import pytest

from onmt_moe.glycan.dataset import SpectraPlan, spectrum_splits, split_of

WURCS = [f"WURCS=2.0/fake{i}" for i in range(200)]


def test_structure_mode_keeps_every_spectrum_of_a_structure_in_its_split():
    plan = SpectraPlan(per_structure=3)
    for w in WURCS:
        assert spectrum_splits(w, plan) == [split_of(w)] * 3
    assert SpectraPlan().is_default and not plan.is_default


def test_library_mode_puts_every_structure_in_train_and_adds_one_held_out_spectrum():
    plan = SpectraPlan(per_structure=2, split_mode="library")
    held = 0
    for w in WURCS:
        splits = spectrum_splits(w, plan)
        assert splits[:2] == ["train", "train"]
        if split_of(w) == "train":
            assert splits == ["train", "train"]
        else:
            assert splits[2:] == [split_of(w)]
            held += 1
    assert 0 < held < len(WURCS)  # the hashed ~20 % of structures get a val/test spectrum


def test_the_split_seed_moves_structures_between_splits():
    a = [spectrum_splits(w, SpectraPlan(split_seed=0)) for w in WURCS]
    b = [spectrum_splits(w, SpectraPlan(split_seed=1)) for w in WURCS]
    assert a != b


@pytest.mark.parametrize("kw", [{"per_structure": 0}, {"split_mode": "random"}])
def test_bad_plans_are_refused_with_the_value(kw):
    with pytest.raises(ValueError, match=str(next(iter(kw.values())))):
        SpectraPlan(**kw)
