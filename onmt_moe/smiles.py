"""SMILES tokens, as the Molecular Transformer (and the benchmark's scripts) split them.  Pure Python.

The one definition of the tokenizer: the data pipeline writes targets with it and the plugin's
``random_smiles`` transform re-tokenises the random SMILES it draws with it, so both sides agree on
what a target token is.
"""

import re

SMILES_TOKENIZER_PATTERN = r"(\%\([0-9]{3}\)|\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\||\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>>?|\*|\$|\%[0-9]{2}|[0-9])"
SMILES_RE = re.compile(SMILES_TOKENIZER_PATTERN)


def tokenize_smiles(smiles: str) -> str:
    """Space-separated tokens; ValueError if the tokens do not reproduce the SMILES (same check as
    rxn-chemutils)."""
    tokens = SMILES_RE.findall(smiles)
    if "".join(tokens) != smiles:
        raise ValueError(f"SMILES tokens do not reproduce {smiles!r}")
    return " ".join(tokens)
