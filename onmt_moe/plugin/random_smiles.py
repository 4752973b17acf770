"""OpenNMT transform ``random_smiles``: train on random SMILES of the target molecule.

A molecule has many valid SMILES; the corpus writes the canonical one. With probability
``--random_smiles_prob`` (default 0.5) a training target is replaced by a random SMILES of the same
molecule (RDKit ``MolToRandomSmilesVect``, seeded from the transform's own generator), re-tokenised
with the corpus' tokenizer (``onmt_moe.smiles``). The model then sees several spellings of each
structure; scoring canonicalises every prediction, so any spelling counts. Validation and inference
targets pass unchanged (``is_train`` false). ``onmt_build_vocab`` also runs it (``is_train`` true),
which is wanted: ring-closure digits and branch tokens that only random spellings use reach the vocabulary.

A target RDKit cannot parse, or whose random SMILES the tokenizer does not reproduce, is kept as
written and counted (``kept_unparsed``) — never dropped.

Options::

    --random_smiles_prob 0.5   probability of replacing a training target
"""

from __future__ import annotations

import random

from onmt.transforms import AVAILABLE_TRANSFORMS, register_transform
from onmt.transforms.transform import Transform

from onmt_moe.smiles import tokenize_smiles

NAME = "random_smiles"
DEFAULT_PROB = 0.5


def random_smiles(smiles: str, seed: int) -> str | None:
    """One random SMILES of ``smiles`` (same molecule, stereo kept), or None if RDKit cannot parse it."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return Chem.MolToRandomSmilesVect(mol, 1, randomSeed=seed)[0]


def _check_prob(opts) -> float:
    p = float(getattr(opts, "random_smiles_prob", DEFAULT_PROB))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"--random_smiles_prob must be in [0, 1], got {p}")
    return p


class RandomSmilesTransform(Transform):
    """Replace training targets by random SMILES of the same molecule."""

    @classmethod
    def add_options(cls, parser):
        group = parser.add_argument_group("Transform/RandomSmiles")
        group.add(
            "--random_smiles_prob",
            "-random_smiles_prob",
            type=float,
            default=DEFAULT_PROB,
            help="Probability of replacing a training target by a random SMILES of the same molecule.",
        )

    @classmethod
    def _validate_options(cls, opts):
        _check_prob(opts)

    def _parse_opts(self):
        self.prob = _check_prob(self.opts)
        self.rng = random.Random()
        self.replaced = self.seen = self.kept_unparsed = 0

    def _set_seed(self, seed):  # Transform.warm_up calls it when the training seed is > 0
        self.rng = random.Random(seed)

    def apply(self, example, is_train=False, stats=None, **kwargs):
        if not is_train or example is None or not example.get("tgt"):
            return example
        self.seen += 1
        # draw both numbers for every example, so the stream of choices does not depend on which
        # targets RDKit parses
        replace, seed = self.rng.random() < self.prob, self.rng.randrange(2**31)
        if not replace:
            return example
        spelled = random_smiles("".join(example["tgt"]), seed)
        try:
            tokens = tokenize_smiles(spelled).split(" ") if spelled else None
        except ValueError:
            tokens = None
        if tokens is None:
            self.kept_unparsed += 1
            return example
        example["tgt"] = tokens
        self.replaced += 1
        return example

    def stats(self):
        return f"random_smiles: {self.replaced}/{self.seen} replaced, {self.kept_unparsed} kept (not parsed)"

    def _repr_args(self):
        return f"prob={self.prob}"


if NAME not in AVAILABLE_TRANSFORMS:
    register_transform(name=NAME)(RandomSmilesTransform)
elif getattr(AVAILABLE_TRANSFORMS[NAME], "__module__", None) == __name__:
    # Re-import (importlib.reload): keep the class OpenNMT already knows (data workers pickle by reference).
    RandomSmilesTransform = AVAILABLE_TRANSFORMS[NAME]  # noqa: F811
