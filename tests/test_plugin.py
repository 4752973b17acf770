"""The plugin loads itself into the stock commands, and costs plain Python start-up nothing."""

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)


def test_plain_startup_imports_no_torch_and_no_plugin():
    r = _run("import sys; print('torch' in sys.modules, 'onmt_moe' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_importing_onmt_loads_the_plugin_and_the_switch_turns_it_off():
    code = "import onmt, sys; print('onmt_moe' in sys.modules, 'moe_transformer' in onmt.encoders.str2enc)"
    on = _run(code, ONMT_MOE_AUTOLOAD="1")
    assert on.returncode == 0, on.stderr
    assert on.stdout.split() == ["True", "True"]
    off = _run(code, ONMT_MOE_AUTOLOAD="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["False", "False"]


@pytest.mark.skipif(not os.path.exists(os.path.join(BIN, "onmt_train")), reason="stock onmt_train not installed")
def test_stock_onmt_train_help_lists_plugin_options():
    r = subprocess.run([os.path.join(BIN, "onmt_train"), "-h"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    for opt in ("--moe_num_experts", "--moe_top_k", "--moe_layers", "--moe_overflow", "--moe_lb_coef"):
        assert opt in r.stdout


def test_checkpoint_safe_globals_registered_once_onmt_is_used():
    code = (
        "import onmt_moe, onmt, argparse, torch.serialization as s; print(argparse.Namespace in s.get_safe_globals())"
    )
    r = _run(code, ONMT_MOE_AUTOLOAD="0")  # the explicit import alone must be enough
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_importing_the_library_alone_stays_light():
    r = _run(
        "import sys, onmt_moe, onmt_moe.data.pipeline, onmt_moe.evaluation.scoring, onmt_moe.modality.tags; "
        "print('torch' in sys.modules, 'onmt' in sys.modules)"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_importing_onmt_defers_spacy_until_the_terminology_transform_uses_it():
    """OpenNMT imports spacy for one transform; the plugin's hook makes that cost ~1 s only where it is used."""
    r = _run(
        "import sys, onmt.bin.train; "
        "loaded = lambda: any(k.startswith('spacy.') for k in sys.modules); "
        "print(loaded()); "
        "import onmt.transforms.terminology as t; "
        "print(callable(t.spacy.load), loaded(), sys.modules['spacy'].__version__ == t.spacy.__version__)"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "True", "True"]


def test_autoload_install_and_uninstall_in_a_folder(tmp_path):
    import importlib.util

    from onmt_moe.plugin import autoload

    autoload.install(str(tmp_path))
    hook = tmp_path / autoload.HOOK_NAME
    assert (tmp_path / autoload.PTH_NAME).read_text().strip() == "import _onmt_moe_autoload"
    assert "def arm()" in hook.read_text() and "ONMT_MOE_AUTOLOAD" in hook.read_text()
    assert os.path.exists(importlib.util.cache_from_source(str(hook)))  # bytecode shipped
    autoload.uninstall(str(tmp_path))
    assert not any(tmp_path.rglob("*onmt_moe_autoload*"))
