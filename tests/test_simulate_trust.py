"""scripts/simulate_dataset.py refuses bad input with one line and rc 2 (issue 36 items 9 and 12)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "simulate_dataset.py")


def _run(*args, cwd=None):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=env, cwd=cwd)


def _one_line_error(res, *words):
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    for w in words:
        assert w in last, last


def test_no_molecule_passes_the_filter_is_an_error_and_keeps_the_reasons(tmp_path):
    smi = tmp_path / "in.smi"
    smi.write_text("not_a_smiles\n[U]\n", encoding="utf-8")
    out = tmp_path / "out"
    res = _run("--out", str(out), "--n", "5", "--fast", "--smiles-file", str(smi), "--quiet")
    _one_line_error(res, "no molecule passes the filter", "filtered_out.csv")
    rows = (out / "filtered_out.csv").read_text().splitlines()
    assert len(rows) == 3  # header + both refused inputs, nothing lost


@pytest.mark.parametrize("n", ["-1", "0", "two"])
def test_n_must_be_positive(tmp_path, n):
    res = _run("--out", str(tmp_path / "o"), "--n", n, "--fast", "--quiet")
    assert res.returncode == 2 and "--n" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_missing_smiles_file(tmp_path):
    res = _run("--out", str(tmp_path / "o"), "--n", "2", "--fast", "--smiles-file", str(tmp_path / "nope.smi"))
    _one_line_error(res, "nope.smi", "no such file")


def test_non_utf8_smiles_file(tmp_path):
    smi = tmp_path / "latin1.smi"
    smi.write_bytes("CCO caf\xe9\n".encode("latin-1"))
    res = _run("--out", str(tmp_path / "o"), "--n", "2", "--fast", "--smiles-file", str(smi))
    _one_line_error(res, "latin1.smi", "UTF-8")


def test_the_library_main_returns_2_in_process(tmp_path, capsys):
    """The same one line from onmt_moe.simulate.dataset.main, which `make demo` calls in its own process:
    a status returned, never an exit of the caller."""
    from onmt_moe.simulate import dataset

    missing = tmp_path / "nope.smi"
    rc = dataset.main(["--out", str(tmp_path / "o"), "--n", "2", "--fast", "--smiles-file", str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [f"simulate_dataset: error: --smiles-file {missing}: no such file"]
