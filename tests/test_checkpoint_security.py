"""A checkpoint from someone else must not run code (issue 36, item 1): every load goes through the
one safe loader (``onmt_moe.runfolder.load_checkpoint``: ``weights_only=True`` with the plugin's
allowlist); a global outside it is refused with one line naming the file and the global and the
opt-in flag; ``--trust_checkpoint`` / ``trust=True`` loads it in full. No silent fallback."""

import argparse
import os
import pathlib
import re
import shlex
import sys
import timeit

import pytest
import torch

from onmt_moe.runfolder import (
    SAFE_GLOBALS,
    CheckpointError,
    checkpoint_step,
    checkpoints,
    load_checkpoint,
    trusting_checkpoints,
)
from tests.conftest import ROOT


def _touch(path):
    """The payload's harmless stand-in for os.system: leaves a marker file when called."""
    pathlib.Path(path).touch()
    return "ran"


class _Payload:
    """Unpickling calls ``fn(*args)``: what a hostile checkpoint's ``opt`` does."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker):
    m = str(marker)
    return {
        "os.system": _Payload(os.system, (f"touch {shlex.quote(m)}",)),
        "timeit": _Payload(timeit.timeit, ("pass", f"open({m!r}, 'w').close()", timeit.default_timer, 1)),
        "touch": _Payload(_touch, (m,)),
    }


def _global_name(payload):
    return f"{payload.fn.__module__}.{payload.fn.__qualname__}"


def _hostile(tmp_path, kind="touch", legacy=False, name="model_step_1.pt"):
    """(checkpoint path, marker path, refused global) of an OpenNMT-looking checkpoint whose opt runs code."""
    marker = tmp_path / f"MARKER_{kind}"
    payload = _payloads(marker)[kind]
    path = tmp_path / name
    ckpt = {"opt": payload, "vocab": {"src": ["<unk>", "a"], "tgt": ["<unk>", "b"]}, "model": {}}
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return path, marker, _global_name(payload)


def _genuine(path, legacy=False):
    opt = argparse.Namespace(
        encoder_type="moe_transformer",
        hidden_size=8,
        data={"corpus_1": {"path_src": "data/src-train.txt", "path_tgt": "data/tgt-train.txt"}},
        moe_modality_vocab=["NMR:4:5"],
    )
    state = {"encoder.w": torch.randn(3, 8), "decoder.b": torch.zeros(8, dtype=torch.float16)}
    ckpt = {
        "model": state,
        "generator": {"weight": torch.ones(2, 8)},
        "vocab": {"src": ["<unk>", "<blank>", "<s>", "</s>", "<NMR>", "</NMR>"], "tgt": ["<unk>", "C"]},
        "opt": opt,
        "optim": None,
    }
    torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
    return ckpt


def _assert_refusal(msg, path, refused):
    assert "\n" not in msg.strip(), msg
    assert str(path) in msg and refused in msg and "--trust_checkpoint" in msg, msg


# ----------------------------------------------------------------------------- the loader itself
@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("kind", ["os.system", "timeit", "touch"])
def test_the_loader_refuses_a_foreign_global_and_names_it(tmp_path, kind, legacy):
    path, marker, refused = _hostile(tmp_path, kind, legacy)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert not marker.exists(), "the checkpoint's payload ran"
    _assert_refusal(str(info.value), path, refused)


def test_trust_loads_in_full_with_a_warning(tmp_path, capsys):
    path, marker, _ = _hostile(tmp_path, "touch")
    ckpt = load_checkpoint(path, trust=True)
    assert marker.exists() and ckpt["opt"] == "ran"
    err = capsys.readouterr().err
    assert str(path) in err and "--trust_checkpoint" in err and len(err.strip().splitlines()) == 1


def test_trusting_context_covers_opennmts_own_load_and_is_undone(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    path, marker, _ = _hostile(tmp_path, "touch")
    with trusting_checkpoints():
        assert os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] == "1"  # what OpenNMT's torch.load reads
        assert load_checkpoint(path)["opt"] == "ran"
    assert marker.exists()
    marker.unlink()
    assert "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD" not in os.environ
    with trusting_checkpoints(False), pytest.raises(CheckpointError):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_a_genuine_checkpoint_loads_without_trust(tmp_path, legacy):
    path = tmp_path / "model_step_7.pt"
    ref = _genuine(path, legacy)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt["opt"], argparse.Namespace) and ckpt["opt"] == ref["opt"]
    assert ckpt["vocab"] == ref["vocab"]
    for k, v in ref["model"].items():
        assert torch.equal(ckpt["model"][k], v) and ckpt["model"][k].dtype == v.dtype


def test_unreadable_files_are_one_line_naming_them(tmp_path):
    good = tmp_path / "model_step_1.pt"
    _genuine(good)
    cut = tmp_path / "model_step_2.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    for bad in (cut, junk, tmp_path / "missing.pt", tmp_path):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(bad)
        msg = str(info.value)
        assert str(bad) in msg and "\n" not in msg and "--trust_checkpoint" not in msg, msg


def test_listing_moved_to_the_run_folder_layer_and_still_reexported(tmp_path):
    from onmt_moe.runs import runner

    for n in (10, 2, 1):
        (tmp_path / f"model_step_{n}.pt").write_bytes(b"")
    (tmp_path / "model_step_3.pt.unreadable").write_bytes(b"")
    assert [checkpoint_step(p) for p in checkpoints(str(tmp_path))] == [1, 2, 10]
    assert runner.checkpoints is checkpoints and runner.checkpoint_step is checkpoint_step


def test_the_plugin_allows_exactly_the_loaders_allowlist():
    import onmt  # noqa: F401  (registers the plugin: patch 1)

    from onmt_moe.plugin import onmt_patches

    assert SAFE_GLOBALS == (argparse.Namespace,)
    assert set(SAFE_GLOBALS) <= set(torch.serialization.get_safe_globals())
    assert "SAFE_GLOBALS" in pathlib.Path(onmt_patches.__file__).read_text(encoding="utf-8")


def test_loading_leaves_the_plugins_registration_in_place(tmp_path):
    """torch's safe_globals context removes its globals on exit, even ones registered before it:
    the loader must not undo patch 1 (OpenNMT's own load in the decoder then refuses Namespace)."""
    import onmt  # noqa: F401  (registers the plugin: patch 1)

    torch.serialization.add_safe_globals(list(SAFE_GLOBALS))
    path = tmp_path / "model_step_1.pt"
    _genuine(path)
    load_checkpoint(path)
    assert set(SAFE_GLOBALS) <= set(torch.serialization.get_safe_globals())
    assert isinstance(torch.load(path, map_location="cpu")["opt"], argparse.Namespace)  # OpenNMT's call


def test_there_is_one_torch_load_in_the_project():
    calls = []
    for folder in ("onmt_moe", "scripts", "benchmark"):
        for p in sorted((pathlib.Path(ROOT) / folder).rglob("*.py")):
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\btorch\.load\(", line):
                    calls.append(f"{p.relative_to(ROOT)}:{i}")
    assert calls and all(c.startswith(os.path.join("onmt_moe", "runfolder", "checkpoints.py")) for c in calls), calls


# ----------------------------------------------------------------------------- every entry point
@pytest.mark.parametrize("kind", ["os.system", "timeit", "touch"])
def test_decode_checkpoint_info_refuses(tmp_path, kind):
    from onmt_moe.inference import ModelError
    from onmt_moe.inference.decode import checkpoint_info

    path, marker, refused = _hostile(tmp_path, kind)
    with pytest.raises(ModelError) as info:
        checkpoint_info(str(path))
    assert not marker.exists(), "the checkpoint's payload ran"
    _assert_refusal(str(info.value), path, refused)


def test_decode_checkpoint_info_with_trust_and_on_a_genuine_checkpoint(tmp_path):
    from onmt_moe.inference.decode import checkpoint_info

    path, marker, _ = _hostile(tmp_path, "touch")
    assert checkpoint_info(str(path), trust=True)[0] == ["<unk>", "a"]
    assert marker.exists()
    good = tmp_path / "model_step_9.pt"
    ref = _genuine(good)
    assert tuple(checkpoint_info(str(good))[:2]) == (ref["vocab"]["src"], "data/src-train.txt")


@pytest.mark.parametrize("kind", ["os.system", "timeit", "touch"])
def test_predict_command_refuses_with_one_line_rc_2(tmp_path, capsys, kind):
    from onmt_moe.predict.cli import main

    path, marker, refused = _hostile(tmp_path, kind)
    assert main(["--model", str(path), "--formula", "C8H8O"]) == 2
    assert not marker.exists(), "the checkpoint's payload ran"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    _assert_refusal(err[0], path, refused)
    # a run folder as --model: its newest checkpoint, refused the same way
    assert main(["--model", str(tmp_path), "--formula", "C8H8O"]) == 2
    assert not marker.exists()


def test_predict_command_passes_trust_checkpoint_to_the_loader(tmp_path, capsys):
    from onmt_moe.predict.cli import main

    path, marker, _ = _hostile(tmp_path, "touch")
    main(["--model", str(path), "--formula", "C8H8O", "--trust_checkpoint"])  # fails later: no corpus
    assert marker.exists()
    assert "refused" not in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["os.system", "timeit", "touch"])
def test_analysis_loader_refuses_without_fallback(tmp_path, capsys, kind):
    from onmt_moe.diagnostics.analysis import ModelLoadError, load_onmt_model, main

    path, marker, refused = _hostile(tmp_path, kind)
    warnings = []
    with pytest.raises(ModelLoadError) as info:
        load_onmt_model(path, warnings.append)
    assert not marker.exists(), "the checkpoint's payload ran"
    _assert_refusal(str(info.value), path, refused)
    assert main([str(path)]) == 2  # scripts/analyze_model.py
    assert not marker.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and refused in err[0], err


def test_analysis_loader_with_trust_gets_past_the_unpickling(tmp_path, capsys):
    from onmt_moe.diagnostics.analysis import ModelLoadError, load_onmt_model, main

    path, marker, _ = _hostile(tmp_path, "touch")
    with pytest.raises(ModelLoadError, match="cannot rebuild the model"):  # opt is not a Namespace
        load_onmt_model(path, trust=True)
    assert marker.exists()
    marker.unlink()
    assert main([str(path), "--trust_checkpoint"]) == 2
    assert marker.exists() and "refused" not in capsys.readouterr().err


def test_attention_share_script_refuses(tmp_path, monkeypatch, capsys):
    import runpy

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"data_dir": "nowhere"}', encoding="utf-8")
    path, marker, refused = _hostile(run, "touch", name="model_step_5.pt")
    script = pathlib.Path(ROOT) / "scripts" / "attention_share.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(run)])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(script), run_name="__main__")
    assert info.value.code == 2 and not marker.exists()
    err = capsys.readouterr().err
    assert refused in err and "--trust_checkpoint" in err and "Traceback" not in err


def test_runner_unreadable_reason_and_model_params_refuse(tmp_path):
    from onmt_moe.runs import runner

    # torch's legacy (non-zip) format is only checkable by loading it: the safe loader names the global
    path, marker, refused = _hostile(tmp_path, "touch", legacy=True)
    why = runner.unreadable_reason(str(path))
    assert not marker.exists(), "the checkpoint's payload ran"
    assert why is not None
    _assert_refusal(why, path, refused)
    with pytest.raises(CheckpointError) as info:
        runner.model_params(str(path))
    assert not marker.exists()
    _assert_refusal(str(info.value), path, refused)
    # a zip checkpoint is checked by its CRCs, without unpickling anything
    zpath, zmarker, _ = _hostile(tmp_path, "touch", name="model_step_2.pt")
    assert runner.unreadable_reason(str(zpath)) is None and not zmarker.exists()
    good = tmp_path / "model_step_3.pt"
    _genuine(good, legacy=True)
    assert runner.unreadable_reason(str(good)) is None
    cut = tmp_path / "model_step_4.pt"
    cut.write_bytes(good.read_bytes()[:100])
    assert runner.unreadable_reason(str(cut)) is not None
