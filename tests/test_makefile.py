"""The Makefile's install chain works from a fresh clone (issue 36 item 13).

``make install-glycan`` used ``-c .venv/extras-pin.txt``, a file only ``install-predict`` wrote, so
``make demo-glycan`` failed at once on a fresh clone. Checked with ``make -n`` on a venv folder that
has the core install marker and nothing else: the pin file must be written before it is used.
"""

import subprocess
import time

import pytest

from tests.conftest import ROOT


def _plan(tmp_path, target):
    venv = tmp_path / "venv"
    venv.mkdir()
    time.sleep(0.01)
    (venv / ".installed").write_text("")  # newer than requirements.txt / setup.py: core install done
    r = subprocess.run(["make", "-n", "-C", ROOT, f"VENV={venv}", target], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@pytest.mark.parametrize("target", ["install-glycan", "demo-glycan", "install-extras", "install-predict"])
def test_pin_file_is_written_before_it_is_used(tmp_path, target):
    lines = _plan(tmp_path, target)
    writes = [i for i, ln in enumerate(lines) if "pip freeze" in ln and "extras-pin.txt" in ln]
    uses = [i for i, ln in enumerate(lines) if "-c " in ln and "extras-pin.txt" in ln]
    assert uses, lines
    assert writes and writes[0] < uses[0], lines


def test_demo_glycan_keeps_the_callers_thread_count(tmp_path):
    line = next(ln for ln in _plan(tmp_path, "demo-glycan") if "demo_glycan.py" in ln)
    assert "OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}" in line, line
