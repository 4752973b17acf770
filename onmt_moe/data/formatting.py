"""How a spectra -> SMILES corpus turns each section into tokens: ONE settings object
(:class:`Formatting`) and ONE formatting path (:func:`format_section`, :func:`source_line`), used by
the corpus builder (:mod:`onmt_moe.data.pipeline`) and by the predictor (:mod:`onmt_moe.predict.source`).

The builder records :meth:`Formatting.to_dict` in full as the ``formatting`` block of its
``summary.json``; ``start_training`` keeps that summary in the run folder and stores the same record in
every checkpoint (the hidden option ``-moe_corpus_formatting``, :func:`option_value`);
``onmt_moe_predict`` reads it back (checkpoint, then run folder, then corpus), so a new sample gets
exactly the tokens the model was trained on.

Older summaries (no ``version`` in ``formatting``) are completed from the recorded ``generate_input``
command line (a command that omits ``--nmr_decimals`` means the default); a setting that matters for
the corpus' sections and cannot be told is refused (:class:`~onmt_moe.data.columns.DataError`), never
guessed.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from onmt_moe.data import benchmark_format as bf
from onmt_moe.data.columns import MSMS_HEADERS, SECTIONS, DataError
from onmt_moe.data.tagged import MISSING_MODES, parse_groups, segment_plan, tagged_line

FORMATTING_VERSION = 1
FORMATS = ("tagged", "benchmark")
# (1H shift, J, 13C shift) decimals of the benchmark format; the tagged format may bin coarser
DEFAULT_NMR_DECIMALS = (2, 2, 1)
DEFAULT_IR_POINTS = 400
IR_POINTS_IN = 1800  # points of the benchmark's ir_spectra column


def parse_nmr_decimals(spec) -> tuple:
    """``'1,0,0'`` / ``(1, 0, 0)`` -> (1H shift, J, 13C shift) decimals, each 0..4."""
    vals = spec.split(",") if isinstance(spec, str) else list(spec)
    try:
        out = tuple(int(v) for v in vals)
    except (TypeError, ValueError):
        out = ()
    if len(out) != 3 or not all(0 <= v <= 4 for v in out):
        raise DataError(f"--nmr_decimals: expected three integers 0..4 (1H shift, J, 13C shift), got {spec!r}")
    return out


@dataclass(eq=False)
class Formatting:
    """Everything that decides a source line's tokens (see the module doc). Two are equal when their
    records (:meth:`to_dict`) are: ``groups=None`` is the default grouping spelled out."""

    fmt: str = "tagged"  # tagged | benchmark
    sections: list[str] = field(default_factory=list)  # selected sections, official order
    groups: dict[str, str] | None = None  # tagged: section -> segment NAME (None = default grouping)
    missing: str = "drop"  # tagged: a missing segment is dropped or written <NAME> <MISSING> </NAME>
    nmr_decimals: tuple = DEFAULT_NMR_DECIMALS  # (1H shift, J, 13C shift)
    ir_points: int = DEFAULT_IR_POINTS
    msms_top_k: int | None = None

    def __post_init__(self):
        self.sections = [s for s in SECTIONS if s in set(self.sections)]
        self.nmr_decimals = tuple(int(v) for v in self.nmr_decimals)

    def __eq__(self, other) -> bool:
        return isinstance(other, Formatting) and self.to_dict() == other.to_dict()

    __hash__ = None

    # ------------------------------------------------------------------ checks and layout
    def check(self, where: str = "formatting") -> Formatting:
        if self.fmt not in FORMATS:
            raise DataError(f"{where}: format must be one of {FORMATS}, got {self.fmt!r}")
        if self.missing not in MISSING_MODES:
            raise DataError(f"{where}: missing must be one of {MISSING_MODES}, got {self.missing!r}")
        parse_nmr_decimals(self.nmr_decimals)
        if self.fmt == "benchmark" and self.nmr_decimals != DEFAULT_NMR_DECIMALS:
            raise DataError(
                f"{where}: --nmr_decimals applies to the tagged format only (the benchmark format is fixed at 2,2,1)"
            )
        if not isinstance(self.ir_points, int) or self.ir_points < 2:
            raise DataError(f"{where}: ir_points must be an integer >= 2, got {self.ir_points!r}")
        if self.msms_top_k is not None and (not isinstance(self.msms_top_k, int) or self.msms_top_k < 1):
            raise DataError(f"{where}: msms_top_k must be an integer >= 1, got {self.msms_top_k!r}")
        if self.fmt == "tagged":
            self.plan()  # validates groups against the sections
        return self

    def mapping(self) -> dict[str, str]:
        return parse_groups(self.groups if self.groups else "default")

    def plan(self) -> list:
        """[(segment NAME, [sections])…] of the tagged line; benchmark: one unnamed entry per section."""
        if self.fmt == "benchmark":
            return [(None, [s]) for s in self.sections]
        return segment_plan(self.mapping(), self.sections, self.missing)

    # ------------------------------------------------------------------ record
    def to_dict(self) -> dict:
        return {
            "version": FORMATTING_VERSION,
            "format": self.fmt,
            "sections": list(self.sections),
            "groups": dict(self.mapping()) if self.fmt == "tagged" else None,
            "missing": self.missing,
            "nmr_decimals": list(self.nmr_decimals),
            "ir_points": self.ir_points,
            "msms_top_k": self.msms_top_k,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Mapping, where: str = "formatting") -> Formatting:
        """A complete record (``to_dict``); anything missing or malformed is refused."""
        if not isinstance(d, Mapping):
            raise DataError(f"{where}: the formatting record is not a JSON object")
        v = d.get("version")
        if not isinstance(v, int) or v < 1:
            raise DataError(f"{where}: the formatting record has no version")
        if v > FORMATTING_VERSION:
            raise DataError(
                f"{where}: formatting record version {v} is newer than this onmt_moe reads ({FORMATTING_VERSION})"
            )
        need = ("format", "sections", "missing", "nmr_decimals", "ir_points", "msms_top_k")
        lacking = [k for k in need if k not in d]
        if lacking:
            raise DataError(f"{where}: the formatting record lacks {', '.join(lacking)}")
        secs = d["sections"]
        if not isinstance(secs, list) or not secs or any(s not in SECTIONS for s in secs):
            raise DataError(f"{where}: sections {secs!r} are not a list of {', '.join(SECTIONS)}")
        try:
            out = cls(
                fmt=d["format"],
                sections=list(secs),
                groups=dict(d["groups"]) if d.get("groups") else None,
                missing=d["missing"],
                nmr_decimals=parse_nmr_decimals(d["nmr_decimals"]),
                ir_points=d["ir_points"],
                msms_top_k=d["msms_top_k"],
            )
        except (TypeError, ValueError) as e:
            raise DataError(f"{where}: malformed formatting record ({e})") from None
        return out.check(where)

    @classmethod
    def from_json(cls, text: str, where: str = "formatting") -> Formatting:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise DataError(f"{where}: not a JSON formatting record ({e})") from None
        return cls.from_dict(d, where)

    def differences(self, other: Formatting) -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [f"{k} {a[k]!r} vs {b[k]!r}" for k in a if a[k] != b[k]]


# ---------------------------------------------------------------------- older summaries
def _command_settings(cmd: str, where: str) -> dict:
    """ir_points / msms_top_k / nmr_decimals from a recorded generate_input command line
    (parsed by generate_input's own parser: its defaults are the defaults)."""
    from onmt_moe.data.pipeline import build_parser

    p = build_parser()
    for a in p._actions:  # the recorded line is read for its settings, not run
        a.required = False
    try:
        words = shlex.split(cmd)[1:]
        with contextlib.redirect_stderr(io.StringIO()):
            args, _ = p.parse_known_args(words)
    except (ValueError, SystemExit):
        raise DataError(f"{where}: cannot parse the recorded generate_input command line {cmd[:120]!r}") from None
    return {
        "ir_points": args.ir_points,
        "msms_top_k": args.msms_top_k,
        "nmr_decimals": parse_nmr_decimals(args.nmr_decimals),
    }


def from_summary(s: Mapping, where: str = "summary.json") -> Formatting:
    """The formatting of a ``generate_input`` corpus from its summary.json (see the module doc)."""
    rec = s.get("formatting") or {}
    if isinstance(rec, Mapping) and "version" in rec:
        return Formatting.from_dict(rec, where)
    if not isinstance(rec, Mapping):
        raise DataError(f"{where}: the 'formatting' record is not a JSON object")
    secs = s.get("sections")
    if not isinstance(secs, list) or not secs or any(x not in SECTIONS for x in secs):
        raise DataError(f"{where}: no usable 'sections' list; cannot tell how the corpus was formatted")
    fmt = s.get("format", "tagged")
    known = {k: rec[k] for k in ("ir_points", "msms_top_k", "nmr_decimals") if k in rec}
    needed = set()
    if "ir" in secs:
        needed.add("ir_points")
    if {"pos_msms", "neg_msms"} & set(secs):
        needed.add("msms_top_k")
    if fmt == "tagged" and {"h_nmr", "c_nmr"} & set(secs):
        needed.add("nmr_decimals")
    cmd = s.get("command")
    if needed - set(known):
        if cmd:
            from_cmd = _command_settings(cmd, where)
            known = {**from_cmd, **known}
        else:
            lacking = sorted(needed - set(known))
            raise DataError(
                f"{where}: cannot tell the corpus' {', '.join(lacking)} (no 'formatting.{lacking[0]}' and no "
                "recorded generate_input command line); rebuild the corpus, or give --corpus with a summary "
                "that records it"
            )
    f = Formatting(
        fmt=fmt,
        sections=list(secs),
        groups=s.get("groups") if fmt == "tagged" else None,
        missing=s.get("missing_mode", "drop") if fmt == "tagged" else "drop",
        nmr_decimals=parse_nmr_decimals(known.get("nmr_decimals", DEFAULT_NMR_DECIMALS)),
        ir_points=int(known.get("ir_points") or DEFAULT_IR_POINTS),
        msms_top_k=known.get("msms_top_k"),
    )
    return f.check(where)


def option_value(data_dir: str) -> str:
    """``-moe_corpus_formatting`` for a run on the corpus in ``data_dir``: the JSON record, or ''
    when the corpus is not a generate_input corpus or cannot tell its settings (the predictor then
    reads the run folder's copy of the summary, or refuses)."""
    import os

    for p in (os.path.join(data_dir, "summary.json"), os.path.join(os.path.dirname(data_dir), "summary.json")):
        if os.path.isfile(p):
            try:
                with open(p, encoding="utf-8") as fh:
                    s = json.load(fh)
                if not isinstance(s, dict) or "spectrum_tokens" in s or s.get("pred_spectra"):
                    return ""
                return from_summary(s, p).to_json()
            except (OSError, ValueError, DataError):
                return ""
    return ""


# ---------------------------------------------------------------------- the one formatting path
def format_section(
    sec: str,
    columns: Sequence[pa.Array],
    f: Formatting,
    names: Sequence[str] | None = None,
    ir_n_in: int = IR_POINTS_IN,
) -> bf.SectionText:
    """Section ``sec`` of every row, formatted as ``f`` says. ``columns``: the section's Arrow
    column(s) in the benchmark layout (three energy lists for an MS/MS section); ``names``: their
    column names (for messages)."""
    names = list(names or [sec] * len(columns))
    if sec == "formula":
        return bf.format_formula(columns[0], strict=f.fmt == "tagged")
    if sec == "h_nmr":
        h_dec, j_dec, _ = f.nmr_decimals
        return bf.format_hnmr(columns[0], shift_decimals=h_dec, j_decimals=j_dec)
    if sec == "c_nmr":
        return bf.format_cnmr(columns[0], decimals=f.nmr_decimals[2])
    if sec == "ir":
        return bf.format_ir(columns[0], f.ir_points, n_in=ir_n_in)
    if sec in MSMS_HEADERS:
        return bf.format_msms(list(columns), MSMS_HEADERS[sec], names, f.msms_top_k)
    raise ValueError(f"unknown section {sec!r}")


def source_line(
    f: Formatting,
    parts: Mapping[str, str | None],
    plan: list | None = None,
    missing_counter: dict[str, int] | None = None,
) -> str:
    """One source line from the per-section texts (None/absent = the section is missing)."""
    if f.fmt == "benchmark":
        return " ".join([parts[s] for s in SECTIONS if parts.get(s)]).strip()
    return tagged_line(plan if plan is not None else f.plan(), parts, f.missing, missing_counter)
