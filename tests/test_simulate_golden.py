"""Golden outputs of the simulators for a fixed set of molecules and seeds.

Written before the `simulate/` refactor (band table, split functions, one-way imports) and
kept as the proof that it changed no output: the IR band list (exact floats), the IR spectra
of both styles (with and without noise), the --fast NMR shifts (exact floats) and whole
simulated rows (every modality) must match tests/fixtures/simulate_golden.json bit for bit.

Regenerate only for an intended change of the simulators:

    python tests/test_simulate_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import pytest
from rdkit import Chem

from onmt_moe.simulate import ir, nmr_fast, rows

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "simulate_golden.json")
SEED = 7

MOLECULES = [
    # acids, esters, lactone, anhydride, acyl chloride, thioester, carbonate, carbamate, urea
    "CC(=O)O",
    "OC(=O)c1ccccc1",
    "CCOC(C)=O",
    "COC(=O)C=C",
    "O=C1CCCO1",
    "CC(=O)OC(C)=O",
    "CC(=O)Cl",
    "CSC(C)=O",
    "COC(=O)OC",
    "CCOC(N)=O",
    "NC(N)=O",
    # amides
    "CC(N)=O",
    "CN(C)C=O",
    "CN(C)C(C)=O",
    "CC(=O)Nc1ccccc1",
    # nitriles, alkynes, alkenes
    "CC#N",
    "N#Cc1ccccc1",
    "C#CC",
    "CC#CC",
    "C=CCC",
    "C/C=C/C",
    "C=C(C)C(=O)OC",
    # alcohols, phenol, ethers
    "CCO",
    "CC(C)(C)O",
    "OC1CCCCC1",
    "Oc1ccccc1",
    "CCOCC",
    "COc1ccccc1",
    "OCC1OC(O)C(O)C(O)C1O",
    # amines, N-heteroaromatics, imine/oxime
    "CCN",
    "CCNCC",
    "CCN(CC)CC",
    "Nc1ccccc1",
    "c1cc[nH]c1",
    "c1ccncc1",
    "c1ccc2[nH]ccc2c1",
    "CC=NO",
    # aromatics (out-of-plane bend patterns)
    "c1ccccc1",
    "Cc1ccccc1",
    "Cc1ccc(C)cc1",
    "Cc1cccc(C)c1",
    "Cc1cc(C)cc(C)c1",
    "c1ccc2ccccc2c1",
    "c1ccoc1",
    "c1ccsc1",
    # halides
    "CCCl",
    "Clc1ccccc1",
    "FC(F)(F)c1ccccc1",
    "CCBr",
    "Ic1ccccc1",
    # thiols, sulfides, sulfoxide, sulfonyl
    "CCS",
    "Sc1ccccc1",
    "CSC",
    "CS(C)=O",
    "CS(C)(=O)=O",
    "NS(=O)(=O)c1ccccc1",
    # ketones, aldehydes
    "CC(C)=O",
    "CC(=O)c1ccccc1",
    "O=C1CCCCC1",
    "CC=O",
    "O=Cc1ccccc1",
    # nitro
    "C[N+](=O)[O-]",
    "O=[N+]([O-])c1ccccc1",
    # drug-like
    "CC(=O)Oc1ccccc1C(=O)O",
    "CN1CCC[C@H]1c1cccnc1",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "CC(=O)Nc1ccc(O)cc1",
    "NC(Cc1ccccc1)C(=O)O",
    # edge cases (no neighbours, ions, a bare carbon)
    "C",
    "O",
    "[Cl-].[Na+]",
]


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:20]


def _attempt(fn):
    try:
        return fn()
    except Exception as exc:  # the failure itself is part of the behaviour
        return {"error": type(exc).__name__}


def _record(k: int, smiles: str) -> dict:
    mol = Chem.MolFromSmiles(smiles)
    rng = lambda: np.random.default_rng([SEED, k])  # noqa: E731
    out = {"smiles": smiles}
    out["band_list"] = _attempt(lambda: [list(b) for b in ir.band_list(mol)])
    for style in ir.STYLES:
        out[f"ir_{style}"] = _attempt(lambda s=style: _sha(ir.simulate_ir(mol, None, style=s)))
        out[f"ir_{style}_noisy"] = _attempt(lambda s=style: _sha(ir.simulate_ir(mol, rng(), style=s)))
    shifts = _attempt(lambda: nmr_fast.predict_fast(mol))
    out["nmr_fast"] = shifts if isinstance(shifts, dict) else [sorted(d.items()) for d in shifts]
    for style in ir.STYLES:
        row = _attempt(lambda s=style: rows.simulate_row(k, smiles, nmr_fast.predict_fast(mol), SEED, ir_style=s))
        out[f"row_{style}"] = (
            row if "error" in row and len(row) == 1 else _sha(json.dumps(row, sort_keys=True).encode())
        )
    return out


def compute() -> list[dict]:
    return [_record(k, s) for k, s in enumerate(MOLECULES)]


def _normalise(obj):
    """JSON round trip (tuples -> lists, int keys -> str) so fresh and stored values compare."""
    return json.loads(json.dumps(obj))


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN) as f:
        return {r["smiles"]: r for r in json.load(f)}


@pytest.fixture(scope="module")
def fresh():
    return {r["smiles"]: r for r in _normalise(compute())}


def test_golden_covers_the_molecules(golden):
    assert list(golden) == MOLECULES


@pytest.mark.parametrize(
    "key",
    ["band_list", "ir_benchmark", "ir_benchmark_noisy", "ir_experiment", "ir_experiment_noisy", "nmr_fast"]
    + ["row_benchmark", "row_experiment"],
)
def test_outputs_match_golden(golden, fresh, key):
    diff = [s for s in MOLECULES if fresh[s][key] != golden[s][key]]
    assert not diff, f"{key} changed for {diff}"


def test_golden_band_lists_are_exact_floats(golden):
    """The band list is stored exactly (JSON float repr round-trips), not rounded."""
    bands = golden["CC(=O)OC(C)=O"]["band_list"]
    assert [0.8 * 0.7] in [b[2:] for b in bands]  # anhydride second C=O, inten * 0.7


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_simulate_golden.py --write")
    with open(GOLDEN, "w") as f:
        json.dump(_normalise(compute()), f, indent=0, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {GOLDEN}")
