"""Molecule sources that ship inside installed wheels, and the filter.

Every source is a file inside the RDKit wheel, so generation works offline.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

from rdkit import Chem, RDConfig, RDLogger

RDLogger.DisableLog("rdApp.*")


def _rdkit_path(*parts: str) -> str:
    return os.path.join(RDConfig.RDDataDir, *parts)


def _contrib_path(*parts: str) -> str:
    return os.path.join(RDConfig.RDContribDir, *parts)


def _read_smi(path: str, has_header: bool = False) -> Iterator[str]:
    with open(path) as fh:
        for i, line in enumerate(fh):
            if has_header and i == 0:
                continue
            parts = line.strip().split()
            if parts:
                yield parts[0]


def _read_wehi(path: str) -> Iterator[str]:
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            if row:
                yield row[0]


def _read_sdf(path: str) -> Iterator[str]:
    for m in Chem.SDMolSupplier(path):
        if m is not None:
            yield Chem.MolToSmiles(m)


# name -> (description, licence note, loader)
SOURCES = {
    "rdkit_nci": (
        "RDKit Data/NCI/first_5K.smi (first 5,000 NCI open compounds)",
        "BSD-3-Clause (RDKit); NCI/DTP open data, public domain",
        lambda: _read_smi(_rdkit_path("NCI", "first_5K.smi")),
    ),
    "rdkit_wehi": (
        "RDKit Data/Pains/test_data/wehi_mols.csv (10,000 WEHI screening compounds)",
        "BSD-3-Clause (RDKit test data)",
        lambda: _read_wehi(_rdkit_path("Pains", "test_data", "wehi_mols.csv")),
    ),
    "rdkit_nci200": (
        "RDKit Data/NCI/first_200.props.sdf",
        "BSD-3-Clause (RDKit); NCI/DTP open data",
        lambda: _read_sdf(_rdkit_path("NCI", "first_200.props.sdf")),
    ),
    "rdkit_freewilson": (
        "RDKit Contrib/FreeWilson/data/CHEMBL2321810.smi",
        "BSD-3-Clause (RDKit Contrib); ChEMBL data CC BY-SA 3.0",
        lambda: _read_smi(_contrib_path("FreeWilson", "data", "CHEMBL2321810.smi")),
    ),
    "rdkit_fraggle": (
        "RDKit Contrib/fraggle/data/ChEMBL_11265_actives.smi",
        "BSD-3-Clause (RDKit Contrib); ChEMBL data CC BY-SA 3.0",
        lambda: _read_smi(_contrib_path("fraggle", "data", "ChEMBL_11265_actives.smi")),
    ),
}
DEFAULT_SOURCES = ("rdkit_nci", "rdkit_wehi", "rdkit_nci200", "rdkit_freewilson", "rdkit_fraggle")


@dataclass
class FilterConfig:
    max_heavy_atoms: int = 20
    min_heavy_atoms: int = 3
    elements: tuple = ("C", "H", "N", "O", "F", "Cl", "S")
    max_smiles_len: int = 60
    min_carbons: int = 2
    max_h_count_nmr: int = 60


def filter_reason(mol: Chem.Mol | None, cfg: FilterConfig) -> str | None:
    """Return None when the molecule is kept, else a short reason string."""
    if mol is None:
        return "unparseable"
    if len(Chem.GetMolFrags(mol)) != 1:
        return "multi_fragment"
    n_heavy = mol.GetNumHeavyAtoms()
    if n_heavy > cfg.max_heavy_atoms:
        return "too_many_heavy_atoms"
    if n_heavy < cfg.min_heavy_atoms:
        return "too_few_heavy_atoms"
    allowed = set(cfg.elements)
    n_c = 0
    net = 0
    for a in mol.GetAtoms():
        if a.GetSymbol() not in allowed:
            return "element"
        if a.GetIsotope():
            return "isotope"
        if a.GetNumRadicalElectrons():
            return "radical"
        net += a.GetFormalCharge()
        n_c += a.GetSymbol() == "C"
    if net != 0:
        return "charged"
    if n_c < cfg.min_carbons:
        return "too_few_carbons"
    return None


def canonical(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(mol)


def load_molecules(sources: Iterable[str] = DEFAULT_SOURCES, cfg: FilterConfig | None = None):
    """Return (kept, rejected).

    kept: list of dicts {smiles, source} in deterministic order (sources in the
    given order, file order within each, first occurrence wins on duplicates).
    rejected: list of dicts {input, source, reason}.
    """
    cfg = cfg or FilterConfig()
    seen: set[str] = set()
    kept, rejected = [], []
    for name in sources:
        if name not in SOURCES:
            raise KeyError(f"unknown source {name!r}; known: {sorted(SOURCES)}")
        loader = SOURCES[name][2]
        try:
            items = list(loader())
        except OSError as exc:  # file missing in this RDKit build
            rejected.append({"input": "", "source": name, "reason": f"source_missing: {exc}"})
            continue
        for smi in items:
            mol = Chem.MolFromSmiles(smi)
            reason = filter_reason(mol, cfg)
            if reason is None:
                can = canonical(mol)
                if len(can) > cfg.max_smiles_len:
                    reason = "smiles_too_long"
                elif can in seen:
                    reason = "duplicate"
                else:
                    seen.add(can)
                    kept.append({"smiles": can, "source": name})
                    continue
            rejected.append({"input": smi, "source": name, "reason": reason})
    return kept, rejected
