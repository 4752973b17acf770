"""How the run's training corpus was tokenised, so that a new sample gets exactly those tokens.

Where the settings come from (first found wins):

1. ``--corpus PATH``: a corpus folder or its ``summary.json``;
2. the run folder (the checkpoint's folder): its ``corpus_summary.json`` (a copy start_training
   keeps), else ``run.json`` -> ``data_dir`` -> the corpus ``summary.json``
   (``<corpus>/data/summary.json`` from ``benchmark/generate_input.py``,
   ``<corpus>/summary.json`` from ``benchmark/generate_glycan_input.py``);
3. the checkpoint's own options: the folder of its training corpus (``data.corpus_1.path_src``).

The formatting itself (NMR binning, IR points, MS/MS top-k, missing-segment style, sections and
tag layout: :class:`onmt_moe.data.formatting.Formatting`) comes first from the checkpoint (the
``-moe_corpus_formatting`` record start_training stores in it), else from the summary found above.
An explicit ``--corpus`` that formats differently from the checkpoint's record is refused.
Corpora written before the full ``formatting`` record existed are completed from the ``command``
line their summary.json keeps (:func:`onmt_moe.data.formatting.from_summary`); a summary that cannot
tell a setting its sections need is refused, not guessed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from onmt_moe.data.columns import DataError
from onmt_moe.data.formatting import Formatting
from onmt_moe.data.formatting import from_summary as formatting_from_summary
from onmt_moe.predict import InputError
from onmt_moe.runfolder.layout import CORPUS_SUMMARY, RunFolderError, read_run_json

KINDS = ("smiles", "wurcs")


def _delegate(name: str, doc: str):
    def get(self):
        return getattr(self.formatting, name)

    def put(self, value):
        setattr(self.formatting, name, value)

    return property(get, put, doc=doc)


@dataclass
class CorpusSettings:
    kind: str  # smiles | wurcs
    formatting: Formatting = field(default_factory=Formatting)  # smiles: how each section becomes tokens
    glycan_tokens: dict = field(default_factory=dict)  # SpecTokConfig fields (wurcs)
    glycan_text: bool = False
    glycan_missing: str = "token"
    source: str = ""  # where these settings were read
    src_token_max: int | None = None  # longest training source (tokens)

    # the formatting's fields, read and set through the one settings object
    fmt = _delegate("fmt", "tagged | benchmark (smiles only)")
    sections = _delegate("sections", "selected sections")
    groups = _delegate("groups", "section -> segment name (tagged)")
    ir_points = _delegate("ir_points", "IR points")
    msms_top_k = _delegate("msms_top_k", "MS/MS peaks kept per list")
    nmr_decimals = _delegate("nmr_decimals", "(1H shift, J, 13C shift) decimals")

    @property
    def missing(self) -> str:
        """drop | token (glycan corpora keep their own)."""
        return self.glycan_missing if self.kind == "wurcs" else self.formatting.missing

    @missing.setter
    def missing(self, value: str) -> None:
        if self.kind == "wurcs":
            self.glycan_missing = value
        else:
            self.formatting.missing = value


def _load(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read the corpus summary ({e})") from None


def summary_path(corpus: str) -> str | None:
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


def _from_run_folder(run_dir: str) -> str | None:
    kept = os.path.join(run_dir, CORPUS_SUMMARY)
    if os.path.isfile(kept):
        return kept
    try:
        data_dir = read_run_json(run_dir, missing_ok=True).get("data_dir")
    except RunFolderError as e:
        raise InputError(str(e)) from None
    return summary_path(data_dir) if data_dir and os.path.isdir(data_dir) else None


def _from_checkpoint_opts(train_src: str | None) -> str | None:
    if not train_src:
        return None
    d = os.path.dirname(os.path.abspath(train_src))
    return summary_path(d)


def from_summary(path: str) -> CorpusSettings:
    s = _load(path)
    if not isinstance(s, dict):
        raise InputError(f"{path}: the corpus summary is not a JSON object")
    if "spectrum_tokens" in s:  # benchmark/generate_glycan_input.py
        if s.get("direction") != "spectrum->wurcs":
            raise InputError(f"{path}: the corpus predicts spectra from structures, not structures")
        return CorpusSettings(
            kind="wurcs",
            glycan_missing=s.get("missing", "token"),
            glycan_tokens=dict(s["spectrum_tokens"]),
            glycan_text=bool(s.get("text")),
            source=path,
            src_token_max=(s.get("src_len") or {}).get("max"),
        )
    if s.get("pred_spectra"):
        raise InputError(f"{path}: the corpus was built with --pred_spectra (structure -> spectra)")
    try:
        fmt = formatting_from_summary(s, path)
    except DataError as e:
        raise InputError(str(e)) from None
    return CorpusSettings(
        kind="smiles",
        formatting=fmt,
        source=path,
        src_token_max=((s.get("token_lengths") or {}).get("source") or {}).get("max"),
    )


def from_checkpoint_record(checkpoint: str, record: str) -> CorpusSettings:
    """Settings from the checkpoint's ``moe_corpus_formatting`` (a JSON Formatting record)."""
    try:
        fmt = Formatting.from_json(record, f"{checkpoint}: moe_corpus_formatting")
    except DataError as e:
        raise InputError(str(e)) from None
    return CorpusSettings(kind="smiles", formatting=fmt, source=f"{checkpoint} (moe_corpus_formatting)")


def resolve(
    checkpoint: str, corpus: str | None = None, train_src: str | None = None, recorded: str | None = None
) -> CorpusSettings:
    """Settings for ``checkpoint`` (see the module doc for the search order); ``recorded`` is the
    checkpoint's own ``moe_corpus_formatting`` (empty for checkpoints trained before it existed)."""
    path = None
    if corpus:
        path = summary_path(corpus)
        if path is None:
            raise InputError(f"--corpus {corpus}: no summary.json there")
    else:
        run_dir = os.path.dirname(os.path.abspath(checkpoint))
        path = _from_run_folder(run_dir) or _from_checkpoint_opts(train_src)
    if recorded:
        cfg = from_checkpoint_record(checkpoint, recorded)
        if path is None:
            return cfg
        try:
            other = from_summary(path)
        except InputError:
            if corpus:
                raise
            return cfg  # the checkpoint's record is enough
        diff = cfg.formatting.differences(other.formatting) if other.kind == "smiles" else ["kind"]
        if diff and corpus:
            raise InputError(
                f"--corpus {corpus}: formats sources differently from how {checkpoint} was trained "
                f"({'; '.join(diff[:3])}); leave --corpus out to use the checkpoint's own record"
            )
        if not diff:  # the same corpus: its summary adds the training source lengths
            cfg.src_token_max = other.src_token_max
            cfg.source = f"{cfg.source}, {path}"
        return cfg
    if path is None:
        raise InputError(
            f"{checkpoint}: cannot find how its training corpus was tokenised (no moe_corpus_formatting "
            "in the checkpoint, no run.json with a data_dir holding summary.json, and the checkpoint's "
            "corpus folder has none); give --corpus <corpus folder>"
        )
    return from_summary(path)
