"""scripts/demo.py end to end on a few hundred molecules of the bundled list with the tiny config:
simulate NMR -> binned tagged corpus -> train -> decode -> score -> summary (the `make demo` path)."""

import gzip
import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_flow_from_the_bundled_molecule_list(tmp_path):
    data, runs = tmp_path / "small", tmp_path / "runs"
    # the first 1,000 SMILES of the bundled list: selecting 200 still parses and shuffles the whole list
    # given (44k SMILES, ~12 s), which the demo itself needs and this test does not
    with gzip.open(os.path.join(ROOT, "data", "demo", "small_tier_molecules.smi.gz"), "rt") as fh:
        head = [next(fh) for _ in range(1000)]
    molecule_list = tmp_path / "molecules.smi"
    molecule_list.write_text("".join(head))
    cmd = [
        sys.executable,
        os.path.join(ROOT, "scripts", "demo.py"),
        "--data",
        str(data),
        "--molecule_list",
        str(molecule_list),
        "--molecules",
        "200",
        "--config",
        os.path.join(ROOT, "configs", "tiny_moe.yaml"),
        "--runs_dir",
        str(runs),
        "--run_name",
        "d",
        "--set",
        "train_steps=10",
        "--set",
        "valid_steps=10",
        "--set",
        "save_checkpoint_steps=10",
        "--set",
        "run.translate.beam_size=2",
        "--set",
        "run.translate.n_best=2",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "onmt_moe demo finished" in r.stdout and "top-1" in r.stdout
    assert "formula-guided beam search" in r.stdout  # the demo decodes under the source's formula
    assert "moe_formula_beam: true" in (runs / "d" / "translate.yaml").read_text()
    src = (tmp_path / "small_tagged" / "data" / "src-train.txt").read_text().splitlines()
    assert len(src) > 130 and all("<NMR> 1HNMR" in ln and "<IR> <MISSING> </IR>" in ln for ln in src)
    c_shifts = src[0].split("13CNMR")[1].split("</NMR>")[0].split()
    assert c_shifts and all("." not in t for t in c_shifts)  # 13C binned to 1 ppm
    scores = json.load(open(runs / "d" / "scores.json"))
    assert scores["n"] == len((tmp_path / "small_tagged" / "data" / "tgt-test.txt").read_text().splitlines())
