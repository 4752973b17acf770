"""How the run's training corpus was tokenised, so that a new sample gets exactly those tokens.

Where the settings come from (first found wins):

1. ``--corpus PATH``: a corpus folder or its ``summary.json``;
2. the run folder (the checkpoint's folder): its ``corpus_summary.json`` (a copy start_training
   keeps), else ``run.json`` -> ``data_dir`` -> the corpus ``summary.json``
   (``<corpus>/data/summary.json`` from ``benchmark/generate_input.py``,
   ``<corpus>/summary.json`` from ``benchmark/generate_glycan_input.py``);
3. the checkpoint's own options: the folder of its training corpus (``data.corpus_1.path_src``).

Corpora written before the ``formatting`` record existed are read from the ``command`` line
their summary.json keeps (parsed by generate_input's own parser).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from onmt_moe.predict import InputError

KINDS = ("smiles", "wurcs")


@dataclass
class CorpusSettings:
    kind: str  # smiles | wurcs
    fmt: str = "tagged"  # tagged | benchmark (smiles only)
    sections: List[str] = field(default_factory=list)
    groups: Optional[Dict[str, str]] = None  # section -> segment name (tagged)
    missing: str = "drop"  # drop | token
    ir_points: int = 400
    msms_top_k: Optional[int] = None
    glycan_tokens: dict = field(default_factory=dict)  # SpecTokConfig fields (wurcs)
    glycan_text: bool = False
    source: str = ""  # where these settings were read
    src_token_max: Optional[int] = None  # longest training source (tokens)


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the corpus summary ({e})") from None


def summary_path(corpus: str) -> Optional[str]:
    """The summary.json of a corpus folder (either generator's layout), a data folder or a file."""
    if os.path.isfile(corpus):
        return corpus
    for cand in (
        os.path.join(corpus, "summary.json"),
        os.path.join(corpus, "data", "summary.json"),
        os.path.join(os.path.dirname(os.path.abspath(corpus)), "summary.json"),
    ):
        if os.path.isfile(cand):
            return cand
    return None


def _from_run_folder(run_dir: str) -> Optional[str]:
    kept = os.path.join(run_dir, "corpus_summary.json")  # runner.CORPUS_SUMMARY
    if os.path.isfile(kept):
        return kept
    info = os.path.join(run_dir, "run.json")
    if not os.path.isfile(info):
        return None
    data_dir = _load(info).get("data_dir")
    return summary_path(data_dir) if data_dir and os.path.isdir(data_dir) else None


def _from_checkpoint_opts(train_src: Optional[str]) -> Optional[str]:
    if not train_src:
        return None
    d = os.path.dirname(os.path.abspath(train_src))
    return summary_path(d)


def _legacy_formatting(summary: dict) -> dict:
    """ir_points / msms_top_k from the recorded generate_input command line."""
    cmd = summary.get("command")
    if not cmd:
        return {}
    from onmt_moe.data.pipeline import build_parser

    try:
        args, _ = build_parser().parse_known_args(shlex.split(cmd)[1:])
    except SystemExit:
        return {}
    return {"ir_points": args.ir_points, "msms_top_k": args.msms_top_k}


def from_summary(path: str) -> CorpusSettings:
    s = _load(path)
    if "spectrum_tokens" in s:  # benchmark/generate_glycan_input.py
        if s.get("direction") != "spectrum->wurcs":
            raise InputError(f"{path}: the corpus predicts spectra from structures, not structures")
        return CorpusSettings(
            kind="wurcs",
            fmt="tagged",
            missing=s.get("missing", "token"),
            glycan_tokens=dict(s["spectrum_tokens"]),
            glycan_text=bool(s.get("text")),
            source=path,
            src_token_max=(s.get("src_len") or {}).get("max"),
        )
    if s.get("pred_spectra"):
        raise InputError(f"{path}: the corpus was built with --pred_spectra (structure -> spectra)")
    fmt = s.get("formatting") or _legacy_formatting(s)
    return CorpusSettings(
        kind="smiles",
        fmt=s.get("format", "tagged"),
        sections=list(s.get("sections", [])),
        groups=s.get("groups"),
        missing=s.get("missing_mode", "drop"),
        ir_points=int(fmt.get("ir_points") or 400),
        msms_top_k=fmt.get("msms_top_k"),
        source=path,
        src_token_max=((s.get("token_lengths") or {}).get("source") or {}).get("max"),
    )


def resolve(checkpoint: str, corpus: Optional[str] = None, train_src: Optional[str] = None) -> CorpusSettings:
    """Settings for ``checkpoint`` (see the module doc for the search order)."""
    if corpus:
        path = summary_path(corpus)
        if path is None:
            raise InputError(f"--corpus {corpus}: no summary.json there")
        return from_summary(path)
    run_dir = os.path.dirname(os.path.abspath(checkpoint))
    path = _from_run_folder(run_dir) or _from_checkpoint_opts(train_src)
    if path is None:
        raise InputError(
            f"{checkpoint}: cannot find how its training corpus was tokenised (no run.json with "
            "a data_dir holding summary.json, and the checkpoint's corpus folder has none); "
            "give --corpus <corpus folder>"
        )
    return from_summary(path)
