"""`make model-real`: a formula + ¹H + ¹³C model of molecules chemists measure, scored on measured spectra.

The demo model reads simulated BRICS fragments (exotic small ring systems) and gets nothing right on
measured spectra. This recipe trains the same kind of model on whole molecules:

* molecules: every RDKit-bundled compound (NCI and WEHI sets, ~14,000 with these filters) and a seeded
  sample of whole MOSES molecules (molsets wheel data, MIT), 4–30 heavy atoms, the benchmark's
  elements; no molecule whose InChIKey connectivity block is in ``data/real_nmr/
  exclude_connectivity.txt`` (every molecule of the real-NMR evaluation sets);
* spectra: the simulator's fast NMR estimate with its noise, binned as the demo's corpus
  (0.1 ppm ¹H, 1 Hz J, 1 ppm ¹³C);
* training: ``configs/real_moe.yaml`` through the demo's steps (:mod:`onmt_moe.runs.demo`); a killed
  run resumes where it stopped when the target is run again;
* scoring: :mod:`onmt_moe.runs.real_spectra` on ``data/real_nmr/literature.tsv`` (or ``--real``).
"""

from __future__ import annotations

import gzip
import os
import random
from dataclasses import dataclass

from onmt_moe.runs.demo import ROOT, Demo, run_demo

ELEMENTS = "C,H,N,O,S,F,Cl,Br,I,P"


@dataclass
class RealModel:
    data: str = os.path.join(ROOT, "data", "real_mols")
    moses: int = 40000  # whole MOSES molecules added to the RDKit-bundled ones
    max_heavy: int = 30
    seed: int = 0
    exclude: str = os.path.join(ROOT, "data", "real_nmr", "exclude_connectivity.txt")
    config: str = os.path.join(ROOT, "configs", "real_moe.yaml")
    run_name: str = "model_real"
    real: str = os.path.join(ROOT, "data", "real_nmr", "literature.tsv")

    @property
    def molecule_list(self) -> str:
        return os.path.join(self.data, "molecules.smi.gz")


def excluded_keys(path: str) -> set[str]:
    with open(path, encoding="utf-8") as fh:
        return {ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")}


def candidate_smiles(m: RealModel) -> list[str]:
    """RDKit-bundled molecules, then a seeded sample of MOSES (its order is already random)."""
    from onmt_moe.simulate import molecules as mol

    cfg = mol.FilterConfig(
        min_heavy_atoms=4, max_heavy_atoms=m.max_heavy, elements=tuple(ELEMENTS.split(",")), max_smiles_len=100
    )
    kept, _ = mol.load_molecules(mol.DEFAULT_SOURCES, cfg)
    moses, _ = mol.sample_molecules(mol.MOSES_SOURCES, cfg, m.moses, m.seed)
    return [k["smiles"] for k in kept] + [k["smiles"] for k in moses]


def write_molecule_list(m: RealModel) -> int:
    """``molecules.smi.gz``: the candidates minus the evaluation molecules, shuffled; how many."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    skip = excluded_keys(m.exclude)
    seen, out = set(), []
    for smi in candidate_smiles(m):
        mol = Chem.MolFromSmiles(smi)
        key = Chem.MolToInchiKey(mol).split("-")[0] if mol is not None else ""
        if key and key not in skip and key not in seen:
            seen.add(key)
            out.append(smi)
    random.Random(m.seed).shuffle(out)
    os.makedirs(m.data, exist_ok=True)
    tmp = m.molecule_list + ".tmp"
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")
    os.replace(tmp, m.molecule_list)
    return len(out)


def demo_settings(m: RealModel, n: int) -> Demo:
    return Demo(
        data=m.data,
        molecule_list=m.molecule_list,
        molecules=n,
        max_heavy=m.max_heavy,
        simulate_args=["--elements", ELEMENTS, "--max-smiles-len", "100"],
        config=m.config,
        run_name=m.run_name,
    )


def build(m: RealModel) -> int:
    """Molecule list (when absent), simulated spectra, corpus, training, scoring; the exit status."""
    if not os.path.exists(m.molecule_list):
        n = write_molecule_list(m)
        print(f"==> {n} molecules -> {m.molecule_list}", flush=True)
    with gzip.open(m.molecule_list, "rt", encoding="utf-8") as fh:
        n = sum(1 for ln in fh if ln.strip())
    return run_demo(demo_settings(m, n))
