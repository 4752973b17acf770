"""The random_smiles transform: training targets become random spellings of the same molecule."""

import argparse
import random

import pytest
from rdkit import Chem

import onmt_moe.plugin.random_smiles as rs
from onmt_moe.smiles import tokenize_smiles

TARGET = "C C ( = O ) N c 1 c c c ( O ) c c 1".split()  # paracetamol, canonical


def make(prob=1.0, seed=7):
    t = rs.RandomSmilesTransform(argparse.Namespace(random_smiles_prob=prob, seed=seed))
    t.warm_up(None)
    return t


def canonical(tokens):
    return Chem.MolToSmiles(Chem.MolFromSmiles("".join(tokens)))


def test_registered_with_onmt():
    from onmt.transforms import AVAILABLE_TRANSFORMS

    assert AVAILABLE_TRANSFORMS["random_smiles"] is rs.RandomSmilesTransform


def test_training_targets_are_new_spellings_of_the_same_molecule():
    t = make(prob=1.0)
    spellings = set()
    for _ in range(30):
        tgt = t.apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"]
        assert canonical(tgt) == canonical(TARGET)
        assert " ".join(tgt) == tokenize_smiles("".join(tgt))  # tokenised as the corpus is
        spellings.add(" ".join(tgt))
    assert len(spellings) > 5  # paracetamol has many spellings; a copy of the input would give one
    assert (t.replaced, t.seen, t.kept_unparsed) == (30, 30, 0)


def test_validation_and_prob_zero_untouched():
    t = make(prob=1.0)
    assert t.apply({"src": ["x"], "tgt": list(TARGET)}, is_train=False)["tgt"] == TARGET
    z = make(prob=0.0)
    assert all(z.apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"] == TARGET for _ in range(20))


def test_probability_and_seed():
    t = make(prob=0.5, seed=3)
    outs = [" ".join(t.apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"]) for _ in range(400)]
    assert 150 < t.replaced < 250
    again = make(prob=0.5, seed=3)
    assert outs == [
        " ".join(again.apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"]) for _ in range(400)
    ]


def test_unparsable_target_is_kept_and_counted():
    t = make(prob=1.0)
    bad = ["C", "(", "(", "X"]
    assert t.apply({"src": ["x"], "tgt": list(bad)}, is_train=True)["tgt"] == bad
    assert t.kept_unparsed == 1 and "1 kept" in t.stats()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_probability_refused(p):
    with pytest.raises(ValueError, match="random_smiles_prob"):
        rs.RandomSmilesTransform._validate_options(argparse.Namespace(random_smiles_prob=p))


def test_the_rng_is_the_transforms_own():
    random.seed(0)
    a = [make(prob=0.5, seed=11).apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"] for _ in range(3)]
    random.seed(99)
    b = [make(prob=0.5, seed=11).apply({"src": ["x"], "tgt": list(TARGET)}, is_train=True)["tgt"] for _ in range(3)]
    assert a == b
