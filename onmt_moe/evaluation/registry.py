"""The one registry of scorers: ``kind`` (and, for spectra, the target format) -> score and report.

``score(pred_path, tgt_path, n_best, **options) -> result dict`` (options: ``src_path``, ``out_json``,
``ranks_csv``, ``ignore_stereo``, ``view``; a scorer takes the ones it uses) and
``report(result) -> str``. The scorers of this package register themselves; other packages (the
glycan track) register theirs from a module named in :data:`PROVIDERS`, which this registry imports by
name the first time a scorer is looked up. So evaluation never imports a track: the track imports
the registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from onmt_moe.evaluation.files import ScoringError

# modules that call register() when imported
PROVIDERS = ("onmt_moe.evaluation.scoring", "onmt_moe.evaluation.spectrum_scoring", "onmt_moe.glycan.scorers")


@dataclass(frozen=True)
class Scorer:
    kind: str
    score: Callable[..., dict]
    report: Callable[[dict], str]
    target_format: str | None = None  # kind "spectrum": the target lines it reads


_SCORERS: dict[tuple[str, str | None], Scorer] = {}
_loaded = False


def register(scorer: Scorer) -> Scorer:
    _SCORERS[(scorer.kind, scorer.target_format)] = scorer
    return scorer


def _load_providers() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for name in PROVIDERS:
            importlib.import_module(name)


def kinds():
    _load_providers()
    return sorted({k for k, _ in _SCORERS})


def get(kind: str, target_format: str | None = None) -> Scorer:
    _load_providers()
    scorer = _SCORERS.get((kind, target_format))
    if scorer is None:
        raise ScoringError(
            f"unknown kind {kind!r}"
            + (f" with targets {target_format!r}" if target_format else "")
            + f"; choose {', '.join(kinds())}"
        )
    return scorer
