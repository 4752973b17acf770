"""Checkpoints of a run folder: the listing and the one loader.

A checkpoint is a pickle, and unpickling with ``weights_only=False`` runs whatever callable the file
names. :func:`load_checkpoint` loads with ``weights_only=True`` and exactly :data:`SAFE_GLOBALS`
(OpenNMT pickles its training options as an ``argparse.Namespace``; patch 1 of
``plugin/onmt_patches`` allows the same tuple for OpenNMT's own loads). A global outside it is
refused with :class:`CheckpointError`, one line naming the file and the global; only an explicit
``trust=True`` (``--trust_checkpoint``) unpickles in full, with a warning. No fallback."""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
import sys
from collections.abc import Iterator

# the plugin's allowlist: the one definition (plugin/onmt_patches.py patch 1 registers this tuple)
SAFE_GLOBALS = (argparse.Namespace,)
TRUST_FLAG = "--trust_checkpoint"

_STEP = re.compile(r"model_step_(\d+)\.pt$")
_REFUSED = re.compile(r"[Uu]nsupported (?:global: )?GLOBAL (\S+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TRUSTED = 0  # > 0 inside trusting_checkpoints()


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded (or is refused): one line naming the file."""


def checkpoints(run_dir: str) -> list[str]:
    """The ``model_step_N.pt`` files of a run folder, oldest step first."""
    found = glob.glob(os.path.join(run_dir, "model_step_*.pt"))
    return sorted(found, key=checkpoint_step)


def checkpoint_step(path: str) -> int:
    """N of ``…model_step_N.pt``."""
    return int(_STEP.search(path).group(1))


@contextlib.contextmanager
def trusting_checkpoints(enabled: bool = True) -> Iterator[None]:
    """Within: checkpoints the user vouched for (``--trust_checkpoint``) load as full pickles, both
    through :func:`load_checkpoint` and through OpenNMT's own ``torch.load`` (which passes no
    ``weights_only``; torch reads ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` at each call)."""
    global _TRUSTED
    if not enabled:
        yield
        return
    key = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
    before = os.environ.get(key)
    os.environ[key] = "1"
    _TRUSTED += 1
    try:
        yield
    finally:
        _TRUSTED -= 1
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def _first_line(exc: BaseException) -> str:
    msg = _ANSI.sub("", str(exc))
    if "WeightsUnpickler error:" in msg:
        msg = msg.split("WeightsUnpickler error:", 1)[1]
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def load_checkpoint(path, trust: bool = False):
    """The unpickled checkpoint at ``path`` (tensors on the CPU).

    ``weights_only=True`` with :data:`SAFE_GLOBALS`; a refused global, a missing, truncated or
    foreign file raise :class:`CheckpointError`. ``trust=True`` (or inside
    :func:`trusting_checkpoints`) loads with ``weights_only=False`` after a one-line warning."""
    import pickle

    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    trust = trust or _TRUSTED > 0
    try:
        if trust:
            print(
                f"warning: {path}: loaded as a full pickle ({TRUST_FLAG}): it can run code, "
                "do this only for files you trust",
                file=sys.stderr,
                flush=True,
            )
            return torch.load(path, map_location="cpu", weights_only=False)
        # only those not registered yet: leaving the context removes its globals, the plugin's too
        registered = set(torch.serialization.get_safe_globals())
        with torch.serialization.safe_globals([g for g in SAFE_GLOBALS if g not in registered]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = None if trust else _REFUSED.search(_ANSI.sub("", str(exc)))
        if refused:
            raise CheckpointError(
                f"{path}: refused to load: it names the global {refused.group(1)}, which is not on the "
                f"allowlist and could run code; if you trust this file, pass {TRUST_FLAG}"
            ) from None
        raise CheckpointError(f"{path}: not a readable OpenNMT checkpoint ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds of errors on truncated/foreign files
        raise CheckpointError(f"{path}: not a readable OpenNMT checkpoint ({_first_line(exc)})") from None


__all__ = [
    "SAFE_GLOBALS",
    "TRUST_FLAG",
    "CheckpointError",
    "checkpoints",
    "checkpoint_step",
    "load_checkpoint",
    "trusting_checkpoints",
]
