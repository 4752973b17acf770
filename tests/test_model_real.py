"""make model-real's molecule list: whole molecules, the evaluation molecules never in it, deterministic."""

import gzip

from onmt_moe.runs import model_real as mr


def test_the_evaluation_molecules_are_left_out(tmp_path, monkeypatch):
    ex = tmp_path / "exclude.txt"
    ex.write_text("# header\nQPJVMBTYPHYUOC\n")  # methyl benzoate
    cands = ["COC(=O)c1ccccc1", "CC(=O)c1ccccc1", "CC(=O)c1ccccc1", "OCC", "c1ccccc1O"]
    monkeypatch.setattr(mr, "candidate_smiles", lambda m: list(cands))
    m = mr.RealModel(data=str(tmp_path / "mols"), exclude=str(ex))
    n = mr.write_molecule_list(m)
    with gzip.open(m.molecule_list, "rt") as fh:
        got = fh.read().split()
    assert n == 3 == len(got)
    assert "COC(=O)c1ccccc1" not in got and sorted(got) == sorted(["CC(=O)c1ccccc1", "OCC", "c1ccccc1O"])
    mr.write_molecule_list(m)
    with gzip.open(m.molecule_list, "rt") as fh:
        assert fh.read().split() == got  # same seed, same order


def test_the_committed_exclusion_list_covers_the_committed_real_set():
    import csv
    import os

    from rdkit import Chem

    from tests.conftest import ROOT

    keys = mr.excluded_keys(mr.RealModel().exclude)
    path = os.path.join(ROOT, "data", "real_nmr", "literature.tsv")
    rows = list(csv.DictReader(open(path, encoding="utf-8"), delimiter="\t"))
    assert len(keys) >= len(rows)
    for r in rows:
        assert Chem.MolToInchiKey(Chem.MolFromSmiles(r["smiles"])).split("-")[0] in keys


def test_the_demo_steps_get_the_recipe():
    d = mr.demo_settings(mr.RealModel(), 1234)
    assert d.molecules == 1234 and d.max_heavy == 30 and "--elements" in d.simulate_args
    assert d.config.endswith("real_moe.yaml") and d.run_name == "model_real"
