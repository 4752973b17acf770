"""Chunked driver: parquet chunks -> ``<out>/data/{src,tgt}-{train,val,test}.txt``.

Usage from Python::

    from onmt_moe.data.pipeline import generate
    summary = generate(input="data/demo", out_dir="data/demo_tagged",
                       h_nmr=True, c_nmr=True, ir=True, pos_msms=True, neg_msms=True,
                       formula=True, format="tagged")

Chunks are processed one at a time (or ``workers`` at a time in separate
processes), each reading only the columns it needs. Each chunk's kept lines are
spooled to ``<out>/.spool``; once all chunks are done the global split is
computed and the split files are written from the spool (memory-mapped), so
memory stays bounded by about one chunk per worker.

Bad rows go to ``<out>/rejects.tsv`` with the columns ``file``, ``row`` (0-based
position in the file), ``index`` (the stored pandas index ``__index_level_0__``
when the file has one, else the position), ``smiles`` and ``reason`` (all
reasons of the row, ``; ``-separated). Policy:

* ``format='benchmark'``: follow the official script wherever it has a defined
  result (empty peak lists -> header only, empty MS/MS list -> bare header, any
  formula string is tokenised); reject rows where it would crash (null peak
  list/spectrum/formula/SMILES, malformed ``j_values``, IR of the wrong length,
  SMILES the tokenizer regex does not reproduce). We also reject rows whose
  output would be garbage although the official code runs (non-finite numbers,
  flat IR, empty SMILES, newlines inside a field). RDKit is not consulted unless
  ``rdkit_check=True`` (the official script does not parse SMILES).
* ``format='tagged'``: a null or empty modality (peak list, spectrum, formula,
  all MS/MS energies) is a *missing modality*: handled by ``missing``
  (drop/token) and counted; malformed content (bad j_values, wrong IR length,
  non-finite numbers, non-Hill formula) rejects the row; the SMILES must pass the
  tokenizer check and RDKit (``rdkit_check`` defaults to True); a row with no
  modality present at all is rejected.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import re
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from onmt_moe.data import benchmark_format as bf
from onmt_moe.data.columns import SECTIONS, DataError, needed_columns

# the settings object and formatter shared with onmt_moe_predict (DEFAULT_NMR_DECIMALS and
# parse_nmr_decimals are re-exported here for existing callers)
from onmt_moe.data.formatting import (  # noqa: F401
    DEFAULT_NMR_DECIMALS,
    Formatting,
    format_section,
    parse_nmr_decimals,
    source_line,
)
from onmt_moe.data.split import split_indices
from onmt_moe.data.tagged import MISSING_MODES, parse_groups
from onmt_moe.modality import tags

log = logging.getLogger("onmt_moe.data")

FORMATS = ("tagged", "benchmark")
LONG_ROWS = ("reject", "keep")
SPLITS = ("train", "val", "test")
INDEX_COLUMN = "__index_level_0__"  # the stored pandas index, reported in rejects.tsv
_STATUS_NAME = {bf.NULL: "null", bf.EMPTY: "empty", bf.PARTIAL: "partial"}


# ------------------------------------------------------------------ inputs
def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def list_inputs(path) -> list[Path]:
    """A parquet file, or the ``*.parquet`` files of a directory in natural order."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted((f for f in p.glob("*.parquet") if f.is_file()), key=_natural_key)
        if not files:
            raise DataError(f"{p}: no *.parquet files in directory")
        return files
    raise DataError(f"{p}: input does not exist")


@dataclass
class Options:
    formatting: Formatting  # how each section becomes tokens (recorded in summary.json, read by the predictor)
    max_src_tokens: int | None = None
    long_rows: str = "reject"
    strict: bool = False
    rdkit_check: bool = False
    pred_spectra: bool = False
    use_threads: bool = True
    plan: list = field(default_factory=list)  # formatting.plan(), computed once

    def __post_init__(self):
        self.plan = self.formatting.plan() if self.formatting.fmt == "tagged" else []

    @property
    def sections(self) -> list[str]:
        return self.formatting.sections

    @property
    def fmt(self) -> str:
        return self.formatting.fmt

    @property
    def missing(self) -> str:
        return self.formatting.missing


# ------------------------------------------------------------------ one chunk
def _format_sections(arrays: dict[str, pa.Array], cols: dict[str, list[str]], opt: Options, path: str):
    out = {}
    for sec in opt.sections:
        try:
            out[sec] = format_section(sec, [arrays[c] for c in cols[sec]], opt.formatting, cols[sec])
        except TypeError as e:  # wrong column type: not a per-row problem
            raise DataError(f"{path}: column '{'/'.join(cols[sec])}' has an unexpected layout: {e}") from None
    return out


def _ntok(s: str | None) -> int:
    return s.count(" ") + 1 if s else 0


def _read_chunk(path: str, row_limit, opt):
    """The columns one chunk needs: ``(n_rows, arrays, index_array, cols, msms_version)``."""
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - report any unreadable file in one line
        raise DataError(f"{path}: cannot read parquet file ({type(e).__name__}: {e})") from None
    names = pf.schema_arrow.names
    cols = needed_columns(names, opt.sections, path)
    msms_version = None
    for sec in ("pos_msms", "neg_msms"):
        if sec in cols:
            msms_version = "v2" if cols[sec][0].startswith("msms_cfmid_") else "v1"
    flat_cols = list(dict.fromkeys(c for cs in cols.values() for c in cs))
    index_col = INDEX_COLUMN if INDEX_COLUMN in names else None
    read_cols = flat_cols + ([index_col] if index_col else [])
    try:  # the footer was readable; a data page may still be corrupt (OSError, ArrowInvalid)
        table = pf.read(columns=read_cols, use_threads=opt.use_threads)
        del pf
        if row_limit is not None and row_limit < table.num_rows:
            table = table.slice(0, row_limit)
        arrays = {c: table.column(c).combine_chunks() for c in flat_cols}
        index_arr = table.column(index_col).combine_chunks() if index_col else None
    except (OSError, pa.ArrowException) as e:
        msg = " ".join(str(e).split())
        raise DataError(f"{path}: corrupt parquet data, cannot read it ({type(e).__name__}: {msg})") from None
    return table.num_rows, arrays, index_arr, cols, msms_version


class _RowRejects:
    """Every reason a row is rejected (all are reported), and the first one's kind (counted once)."""

    def __init__(self):
        self.reasons: dict[int, list[str]] = {}
        self.first_kind: dict[int, str] = {}

    def __call__(self, i: int, kind: str, text: str) -> None:
        self.reasons.setdefault(i, []).append(text)
        self.first_kind.setdefault(i, kind)

    def __contains__(self, i: int) -> bool:
        return i in self.reasons

    def rows(self, path: str, index_arr, smiles_raw) -> tuple[list, dict[str, int]]:
        """rejects.tsv rows ``(file, row, index label, smiles, reasons)`` and the count per kind."""
        out, kinds = [], {}
        for i in sorted(self.reasons):
            label = index_arr[i].as_py() if index_arr is not None else i
            smi = smiles_raw[i] if smiles_raw[i] is not None else ""
            out.append((path, i, label, smi, "; ".join(self.reasons[i])))
            kinds[self.first_kind[i]] = kinds.get(self.first_kind[i], 0) + 1
        return out, kinds


def _check_sections(secs, cols, opt, reject) -> dict[str, dict[str, int]]:
    """Reject rows whose sections cannot be written; return the null/empty/partial counts per section."""
    benchmark = opt.fmt == "benchmark"
    missing_counts = {s: {"null": 0, "empty": 0, "partial": 0} for s in opt.sections}
    for sec in opt.sections:
        st = secs[sec]
        col = "/".join(cols[sec]) if len(cols[sec]) == 1 else f"{sec} MS/MS"
        for code, name in _STATUS_NAME.items():
            missing_counts[sec][name] = int((st.status == code).sum())
        for i in np.flatnonzero(st.status != bf.OK).tolist():
            code = int(st.status[i])
            if code == bf.BAD:
                reject(i, f"{sec}:malformed", st.reasons[i])
            elif benchmark and code == bf.NULL:
                reject(i, f"{sec}:null", f"{col} is null")
            elif benchmark and code == bf.PARTIAL:
                reject(i, f"{sec}:null", st.reasons[i])
            elif benchmark and code == bf.EMPTY and st.texts[i] is None:
                # no defined benchmark text (empty IR spectrum: the official script crashes)
                reject(i, f"{sec}:empty", f"{col} is empty")
    return missing_counts


def _source_line(i: int, order, secs, texts, opt, seg_missing) -> tuple[str, bool]:
    """Row i's source line, and whether any selected modality is present (tagged format only)."""
    if opt.fmt == "benchmark":
        return source_line(opt.formatting, {s: t[i] for s, t in zip(order, texts)}), True
    parts = {s: secs[s].texts[i] if secs[s].status[i] in (bf.OK, bf.PARTIAL) else None for s in order}
    return source_line(opt.formatting, parts, opt.plan, seg_missing), any(parts.values())


def _assemble(n: int, secs, tgt, opt, reject) -> dict:
    """Source/target lines of the rows not rejected: length cap, line-break check, de-duplication."""
    benchmark = opt.fmt == "benchmark"
    order = [s for s in SECTIONS if s in secs]
    out = {"src": [], "tgt": [], "rows": [], "src_ntok": [], "dedup": 0, "long": 0, "missing_segments": {}}
    seen = set()
    ok_codes = (bf.OK, bf.EMPTY) if benchmark else (bf.OK, bf.PARTIAL)
    sec_eff = {s: np.where(np.isin(secs[s].status, ok_codes), secs[s].ntok, 0) for s in order}
    line_ntok = np.sum([sec_eff[s] for s in order], axis=0).astype(np.int64).tolist()
    texts = [secs[s].texts for s in order]
    for i in range(n):
        if i in reject:
            continue
        seg_missing: dict[str, int] = {}
        line, present = _source_line(i, order, secs, texts, opt, seg_missing)
        if not present:
            reject(i, "no_modality", "no selected modality present in this row")
            continue
        if "\n" in line or "\r" in line:
            reject(i, "newline", "a field contains a line break")
            continue
        ntok = line_ntok[i] if benchmark else _ntok(line)
        if opt.max_src_tokens is not None and ntok > opt.max_src_tokens:
            out["long"] += 1
            if opt.long_rows == "reject":
                reject(i, "max_src_tokens", f"source has {ntok} tokens > max_src_tokens {opt.max_src_tokens}")
                continue
        if line in seen:
            out["dedup"] += 1
            continue
        seen.add(line)
        for k, v in seg_missing.items():
            out["missing_segments"][k] = out["missing_segments"].get(k, 0) + v
        out["src"].append(line)
        out["tgt"].append(tgt.texts[i])
        out["rows"].append(i)
        out["src_ntok"].append(ntok)
    kept = np.asarray(out["rows"], dtype=np.int64)
    out["sec_len"] = {s: sec_eff[s][kept] for s in order}
    out["tgt_ntok"] = tgt.ntok[kept]
    return out


def _spool(spool_dir, chunk_id: int, a_lines: list[str], b_lines: list[str]) -> dict[str, np.ndarray]:
    """Write the chunk's src/tgt lines to the spool; return each line's byte length (newline included)."""
    lens = {}
    for side, lines in (("src", a_lines), ("tgt", b_lines)):
        text = "".join([ln + "\n" for ln in lines])
        blob = text.encode("utf-8")
        if len(blob) == len(text):  # ASCII: byte length == character length
            lens[side] = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + 1
        else:
            lens[side] = np.fromiter((len(ln.encode("utf-8")) + 1 for ln in lines), dtype=np.int64, count=len(lines))
        with open(Path(spool_dir) / f"{chunk_id:06d}.{side}", "wb") as fh:
            fh.write(blob)
    return lens


def process_chunk(job) -> dict:
    """Format, check and de-duplicate one parquet file; spool its kept lines."""
    chunk_id, path, row_limit, opt, spool_dir = job
    path = str(path)
    t_start = time.perf_counter()
    c_start = time.process_time()
    n, arrays, index_arr, cols, msms_version = _read_chunk(path, row_limit, opt)
    smiles_raw = arrays["smiles"].to_pylist()
    tgt = bf.format_smiles(arrays["smiles"], rdkit_check=opt.rdkit_check)
    secs = _format_sections(arrays, cols, opt, path)
    del arrays

    reject = _RowRejects()
    for i in np.flatnonzero(tgt.status != bf.OK).tolist():
        reject(i, "smiles", tgt.reasons.get(i, "bad smiles"))
    missing_counts = _check_sections(secs, cols, opt, reject)
    lines = _assemble(n, secs, tgt, opt, reject)
    rejects, reject_kinds = reject.rows(path, index_arr, smiles_raw)
    if opt.strict and rejects:
        p, i, _, smi, reason = rejects[0]
        raise DataError(f"{p}: row {i} (smiles {smi!r}): {reason}")

    # spool (src/tgt roles swapped for --pred_spectra)
    a_lines, b_lines = (lines["tgt"], lines["src"]) if opt.pred_spectra else (lines["src"], lines["tgt"])
    lens = _spool(spool_dir, chunk_id, a_lines, b_lines)
    # vocabulary estimate: distinct tokens of the well-formed section values of this chunk
    vocab = {"source": set(), "target": set(tgt.vocab)}
    for s in secs:
        vocab["source"] |= secs[s].vocab
    if opt.fmt != "benchmark":
        for name, _ in opt.plan:
            vocab["source"].update(tags.wrap(name, []))
    return {
        "chunk": chunk_id,
        "path": path,
        "msms_names": msms_version,
        "rows_read": n,
        "rows_rejected": len(rejects),
        "rows_deduplicated": lines["dedup"],
        "rows_kept": len(lines["src"]),
        "rows_over_max_src_tokens": lines["long"],
        "rejects": rejects,
        "reject_kinds": reject_kinds,
        "missing": missing_counts,
        "missing_segments": lines["missing_segments"],
        "lens": lens,
        "src_ntok": np.asarray(lines["src_ntok"], dtype=np.int32),
        "tgt_ntok": np.asarray(lines["tgt_ntok"], dtype=np.int32),
        "sec_ntok": {s: np.asarray(v, dtype=np.int32) for s, v in lines["sec_len"].items()},
        "vocab": vocab,
        "seconds": round(time.perf_counter() - t_start, 3),
        "cpu_seconds": round(time.process_time() - c_start, 3),
        "pid": os.getpid(),
    }


# ------------------------------------------------------------------ driver
# Below about this many rows per worker a pool does not pay: starting it (the forkserver, which
# imports this module with pyarrow/numpy, then the workers) costs about as much as formatting
# ~10-20k rows on one core (~17k rows/s), so small inputs run in this process (see _workers_to_use).
MIN_ROWS_PER_WORKER = 20_000


def _workers_to_use(requested: int, row_counts: Sequence[int], min_rows_per_worker: int) -> int:
    """Worker processes for these chunks: at most one per chunk and one per ``min_rows_per_worker``
    rows (1 = in this process)."""
    by_rows = sum(row_counts) // max(1, int(min_rows_per_worker)) if min_rows_per_worker > 0 else requested
    return max(1, min(int(requested), len(row_counts), by_rows))


def _run_chunks(jobs, workers: int, progress) -> tuple:
    """(results in job order, pool start-up seconds or None): in this process or on a pool."""
    if workers == 1:
        return [r for r in _progress(map(process_chunk, jobs), len(jobs), progress)], None
    results, startup = [], None
    t_pool = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as ex:
        for r in _progress(ex.map(process_chunk, jobs), len(jobs), progress):
            if startup is None:  # time to the first result, less the work of that chunk
                startup = max(0.0, time.perf_counter() - t_pool - r["seconds"])
            results.append(r)
    return results, round(startup, 3)


def _num_rows(path: Path) -> int:
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception as e:  # noqa: BLE001 - report any unreadable file in one line
        raise DataError(f"{path}: cannot read parquet file ({type(e).__name__}: {e})") from None


def _mp_context():
    """forkserver where available (workers fork from one clean server that has this module
    loaded: no fork of a threaded parent), else spawn.

    Each worker still imports the main script again (as ``__mp_main__``): CPython 3.11's
    forkserver never preloads ``__main__`` (``ForkServer.ensure_running`` keeps the key
    ``main_path`` of the preparation data, which ``spawn.get_preparation_data`` names
    ``init_main_from_path``), so a main script with heavy imports (pandas, scipy) makes every
    worker's start-up pay them; the entry points that call :func:`generate` import only this.
    pandas is preloaded too: pyarrow imports it lazily on the first list-offset conversion of a
    process (``benchmark_format._offsets``), ~1 s that every worker's first chunk paid otherwise."""
    try:
        ctx = get_context("forkserver")
    except ValueError:  # pragma: no cover - platforms without forkserver
        return get_context("spawn")
    ctx.set_forkserver_preload(["pandas", "onmt_moe.data.pipeline"])
    return ctx


def _progress(iterable, total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, unit="chunk", file=sys.stderr)


def _stats(a: np.ndarray) -> dict:
    if a.size == 0:
        return {"rows": 0, "mean": 0.0, "p95": 0.0, "max": 0}
    return {
        "rows": int(a.size),
        "mean": round(float(a.mean()), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": int(a.max()),
    }


def _command_line(kw: dict) -> str:
    args = ["benchmark/generate_input.py", "--input", str(kw["input"]), "--out_dir", str(kw["out_dir"])]
    for sec in SECTIONS:
        if kw.get(sec):
            args.append(f"--{sec}")
    if kw.get("pred_spectra"):
        args.append("--pred_spectra")
    for k in (
        "seed",
        "format",
        "groups",
        "missing",
        "ir_points",
        "msms_top_k",
        "nmr_decimals",
        "max_src_tokens",
        "long_rows",
        "workers",
        "limit_rows",
    ):
        if kw.get(k) is not None:
            if k == "nmr_decimals" and tuple(parse_nmr_decimals(kw[k])) == DEFAULT_NMR_DECIMALS:
                continue
            v = kw[k]
            if isinstance(v, dict):
                v = ",".join(f"{a}={b}" for a, b in v.items())
            elif isinstance(v, (tuple, list)):
                v = ",".join(str(x) for x in v)
            args += [f"--{k}", str(v)]
    if kw.get("strict"):
        args.append("--strict")
    return shlex.join(args)


def _clean(s) -> str:
    return str(s).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def generate(
    input,
    out_dir,
    *,
    h_nmr: bool = False,
    c_nmr: bool = False,
    ir: bool = False,
    pos_msms: bool = False,
    neg_msms: bool = False,
    formula: bool = False,
    pred_spectra: bool = False,
    seed: int = 3245,
    format: str = "tagged",
    groups="default",
    missing: str = "drop",
    ir_points: int = 400,
    msms_top_k: int | None = None,
    nmr_decimals=DEFAULT_NMR_DECIMALS,
    max_src_tokens: int | None = None,
    long_rows: str = "reject",
    workers: int = 1,
    strict: bool = False,
    limit_rows: int | None = None,
    rdkit_check: bool | None = None,
    progress: bool | None = None,
    command: str | None = None,
    min_rows_per_worker: int = MIN_ROWS_PER_WORKER,
) -> dict:
    """Build ``<out_dir>/data/{src,tgt}-{train,val,test}.txt``; return the summary dict.

    ``workers`` is an upper bound: an input of fewer than ``min_rows_per_worker`` rows per worker
    (0 = no such limit) uses fewer processes (summary ``workers``: requested, used, pool start-up).

    Keyword arguments mirror the CLI flags of ``benchmark/generate_input.py``.
    Raises :class:`DataError` (one-line message) on bad input that stops the run.
    """
    t0 = time.time()
    kw = dict(locals())
    formatting, mapping, workers = _checked_arguments(kw)
    files, limits, rows_in = _limited_inputs(list_inputs(input), limit_rows)
    used = _pool_size(workers, rows_in, min_rows_per_worker)
    opt = _chunk_options(kw, formatting, used)
    out = Path(out_dir)
    data_dir, spool = _output_dirs(out)
    jobs = [(k, str(f), limits[k], opt, str(spool)) for k, f in enumerate(files)]

    try:
        results, pool_start_s = _run_chunks(jobs, used, progress)
        summary = _finish(results, out, data_dir, spool, opt, seed, kw, mapping, files)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    summary["workers"] = _workers_summary(results, workers, used, pool_start_s)
    summary["command"] = command or _command_line(kw)
    summary["elapsed_s"] = round(time.time() - t0, 3)
    with open(data_dir / "summary.json", "w") as fh:
        json.dump(summary, fh, indent=2)
    _refuse_empty_splits(summary, out)
    return summary


def _checked_arguments(kw: dict) -> tuple[Formatting, dict | None, int]:
    """Check :func:`generate`'s arguments (a one-line :class:`DataError` for the first bad one);
    return the section formatting, the tagged format's group mapping and the worker bound."""
    fmt, missing, msms_top_k = kw["format"], kw["missing"], kw["msms_top_k"]
    sections = [s for s in SECTIONS if kw[s]]
    if not sections:
        raise DataError("select at least one modality: --h_nmr --c_nmr --ir --pos_msms --neg_msms --formula")
    if fmt not in FORMATS:
        raise DataError(f"--format must be one of {FORMATS}, got {fmt!r}")
    if missing not in MISSING_MODES:
        raise DataError(f"--missing must be one of {MISSING_MODES}, got {missing!r}")
    if kw["long_rows"] not in LONG_ROWS:
        raise DataError(f"--long_rows must be one of {LONG_ROWS}, got {kw['long_rows']!r}")
    if kw["ir_points"] < 2:
        raise DataError(f"--ir_points must be >= 2, got {kw['ir_points']}")
    if msms_top_k is not None and msms_top_k < 1:
        raise DataError(f"--msms_top_k must be >= 1, got {msms_top_k}")
    nmr_decimals = parse_nmr_decimals(kw["nmr_decimals"])
    if fmt == "benchmark" and nmr_decimals != DEFAULT_NMR_DECIMALS:
        raise DataError("--nmr_decimals applies to the tagged format only (the benchmark format is fixed at 2,2,1)")
    workers = max(1, int(kw["workers"]))
    mapping = parse_groups(kw["groups"]) if fmt == "tagged" else None
    formatting = Formatting(
        fmt=fmt,
        sections=sections,
        groups=mapping,
        missing=missing,
        nmr_decimals=nmr_decimals,
        ir_points=int(kw["ir_points"]),
        msms_top_k=None if msms_top_k is None else int(msms_top_k),
    ).check("generate_input")
    return formatting, mapping, workers


def _chunk_options(kw: dict, formatting: Formatting, used: int) -> Options:
    """What every chunk job is given; the RDKit check defaults to on for the tagged format only."""
    rdkit_check = kw["rdkit_check"]
    return Options(
        formatting=formatting,
        max_src_tokens=kw["max_src_tokens"],
        long_rows=kw["long_rows"],
        strict=kw["strict"],
        rdkit_check=bool(kw["format"] == "tagged" if rdkit_check is None else rdkit_check),
        pred_spectra=kw["pred_spectra"],
        use_threads=used == 1,
    )


def _limited_inputs(files: list[Path], limit_rows: int | None) -> tuple[list[Path], list[int | None], list[int]]:
    """(files, per-file row limit or None, rows each file gives) for at most ``limit_rows`` rows in
    all, taken from the first files (the first file stays even when the limit is 0)."""
    log.info("processing %d parquet file(s) in this order: %s", len(files), ", ".join(f.name for f in files))
    rows_in = [_num_rows(f) for f in files]
    limits: list[int | None] = [None] * len(files)
    if limit_rows is not None:
        remaining = int(limit_rows)
        for k, nr in enumerate(rows_in):
            limits[k] = min(nr, remaining)
            remaining -= limits[k]
        keep = [k for k in range(len(files)) if limits[k] > 0] or [0]
        files = [files[k] for k in keep]
        limits = [limits[k] for k in keep]
        rows_in = [limits[k] for k in range(len(files))]
    return files, limits, rows_in


def _pool_size(workers: int, rows_in: list[int], min_rows_per_worker: int) -> int:
    """The processes to use (see :func:`_workers_to_use`), logged when fewer than ``workers``."""
    used = _workers_to_use(workers, rows_in, min_rows_per_worker)
    if used < workers:
        log.info(
            "--workers %d: using %d process(es) for %d rows in %d chunk(s) (a pool pays from ~%d rows per worker)",
            workers,
            used,
            sum(rows_in),
            len(rows_in),
            min_rows_per_worker,
        )
    return used


def _output_dirs(out: Path) -> tuple[Path, Path]:
    """``<out>/data`` (created) and an empty ``<out>/.spool`` for the chunks' lines (a leftover one
    from a killed run is removed)."""
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    spool = out / ".spool"
    if spool.exists():
        shutil.rmtree(spool)
    spool.mkdir()
    return data_dir, spool


def _workers_summary(results, requested: int, used: int, pool_start_s) -> dict:
    """summary.json's ``workers``: requested and used processes, pool start-up, chunk seconds."""
    pids = {r["pid"] for r in results}
    return {
        "requested": int(requested),
        "used": used,
        "pool_start_s": pool_start_s,
        "processes": len(pids),
        "in_this_process": os.getpid() in pids,
        "chunk_seconds_total": round(sum(r["seconds"] for r in results), 3),
    }


def _refuse_empty_splits(summary: dict, out: Path) -> None:
    """A split with no row cannot be trained on: say so, with the counts, instead of exiting 0."""
    rows = summary["rows"]
    empty = [name for name in ("train", "val", "test") if rows["written"][name] == 0]
    if not empty:
        return
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary["reject_reasons"].items(), key=lambda kv: -kv[1])[:5])
    raise DataError(
        f"no usable rows: split(s) {', '.join(empty)} empty after reading {rows['read']} row(s), "
        f"rejecting {rows['rejected']}"
        + (f" ({reasons})" if reasons else "")
        + f" and de-duplicating {rows['deduplicated']}; see {out / 'rejects.tsv'} and "
        f"{out / 'data' / 'summary.json'}"
    )


def _write_rejects(results, out: Path) -> tuple[int, dict[str, int]]:
    """rejects.tsv (one line per rejected row, every reason) and the count per first reason."""
    n_rej = 0
    reject_kinds: dict[str, int] = {}
    with open(out / "rejects.tsv", "w", encoding="utf-8") as fh:
        fh.write("file\trow\tindex\tsmiles\treason\n")
        for r in results:
            for p, i, label, smi, reason in r["rejects"]:
                fh.write(f"{_clean(p)}\t{i}\t{_clean(label)}\t{_clean(smi)}\t{_clean(reason)}\n")
                n_rej += 1
            for k, v in r["reject_kinds"].items():
                reject_kinds[k] = reject_kinds.get(k, 0) + v
    return n_rej, reject_kinds


def _write_splits(results, data_dir: Path, spool: Path, seed: int):
    """Copy the spooled lines into {src,tgt}-{train,val,test}.txt by the benchmark's split rule;
    returns the three index arrays and the row count."""
    # global row -> (chunk, byte range)
    chunk_of = []
    for c, r in enumerate(results):
        nk = r["rows_kept"]
        chunk_of.append(np.full(nk, c, dtype=np.int32))
    chunk_of = np.concatenate(chunk_of) if chunk_of else np.zeros(0, np.int32)
    side_off = {}
    for side in ("src", "tgt"):
        st, en = [], []
        for r in results:
            lens = r["lens"][side]
            e = np.cumsum(lens)
            st.append(e - lens)
            en.append(e)
        side_off[side] = (
            np.concatenate(st) if st else np.zeros(0, np.int64),
            np.concatenate(en) if en else np.zeros(0, np.int64),
        )
    n = int(len(chunk_of))
    try:
        train, val, test = split_indices(n, seed)
    except ValueError as e:
        raise DataError(f"{e} (after rejects and de-duplication)") from None

    maps = {}
    handles = []
    try:
        for side in ("src", "tgt"):
            mm = []
            for r in results:
                p = spool / f"{r['chunk']:06d}.{side}"
                if r["rows_kept"] == 0:
                    mm.append(None)
                    continue
                fh = open(p, "rb")
                handles.append(fh)
                mm.append(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
            maps[side] = mm
        # official write order: test, train, val (content is what matters)
        for name, idx in (("test", test), ("train", train), ("val", val)):
            for side in ("src", "tgt"):
                st, en = side_off[side]
                mm = maps[side]
                cs = chunk_of[idx].tolist()
                a = st[idx].tolist()
                b = en[idx].tolist()
                with open(data_dir / f"{side}-{name}.txt", "wb", buffering=1 << 20) as fh:
                    for c, x, y in zip(cs, a, b):
                        fh.write(mm[c][x:y])
    finally:
        for side in maps:
            for m in maps[side]:
                if m is not None:
                    m.close()
        for fh in handles:
            fh.close()
    return train, val, test, n


def _finish(results, out: Path, data_dir: Path, spool: Path, opt: Options, seed: int, kw: dict, mapping, files) -> dict:
    n_rej, reject_kinds = _write_rejects(results, out)
    train, val, test, n = _write_splits(results, data_dir, spool, seed)

    def cat(key):
        arrs = [r[key] for r in results]
        return np.concatenate(arrs) if arrs else np.zeros(0, np.int32)

    missing = {s: {"null": 0, "empty": 0, "partial": 0} for s in opt.sections}
    missing_segments: dict[str, int] = {}
    for r in results:
        for s, d in r["missing"].items():
            for k, v in d.items():
                missing[s][k] += v
        for k, v in r["missing_segments"].items():
            missing_segments[k] = missing_segments.get(k, 0) + v
    tok = {}
    for s in [s for s in SECTIONS if s in opt.sections]:
        a = np.concatenate([r["sec_ntok"][s] for r in results]) if results else np.zeros(0, np.int32)
        tok[s] = _stats(a[a > 0])
    spectra_ntok, smiles_ntok = cat("src_ntok"), cat("tgt_ntok")
    tok["source"] = _stats(spectra_ntok)
    tok["target"] = _stats(smiles_ntok)
    vs, vt = set(), set()
    for r in results:
        vs |= r["vocab"]["source"]
        vt |= r["vocab"]["target"]

    summary = {
        "format": opt.fmt,
        "sections": opt.sections,
        "pred_spectra": opt.pred_spectra,
        "seed": seed,
        "input_files": [
            {
                "path": r["path"],
                "rows_read": r["rows_read"],
                "msms_names": r["msms_names"],
                "seconds": r["seconds"],
                "cpu_seconds": r["cpu_seconds"],
            }
            for r in results
        ],
        "rows": {
            "read": int(sum(r["rows_read"] for r in results)),
            "rejected": n_rej,
            "deduplicated": int(sum(r["rows_deduplicated"] for r in results)),
            "over_max_src_tokens": int(sum(r["rows_over_max_src_tokens"] for r in results)),
            "written": {"train": int(len(train)), "val": int(len(val)), "test": int(len(test)), "total": n},
        },
        "reject_reasons": dict(sorted(reject_kinds.items())),
        "missing": missing,
        "token_lengths": tok,
        "token_lengths_note": (
            "source = spectra line, target = SMILES line (before any --pred_spectra swap); "
            "per-section stats over rows where the section is present"
        ),
        "vocab_size_estimate": {"source": len(vs), "target": len(vt)},
        "outputs": {"data_dir": str(data_dir), "rejects": str(out / "rejects.tsv")},
        # how each section was turned into tokens, in full (data.formatting.Formatting): start_training
        # stores it in every checkpoint and onmt_moe_predict formats a new sample with it
        "formatting": opt.formatting.to_dict(),
    }
    if opt.fmt == "tagged":
        summary["groups"] = mapping
        summary["missing_mode"] = opt.missing
        summary["missing_segments"] = missing_segments
    if opt.max_src_tokens is not None:
        summary["max_src_tokens"] = opt.max_src_tokens
        summary["long_rows"] = opt.long_rows
    return summary


# ------------------------------------------------------------------ CLI
def build_parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="generate_input.py", description="Spectra -> SMILES training files (benchmark or tagged format)."
    )
    p.add_argument(
        "--input",
        "--analytical_data",
        "-n",
        dest="input",
        required=True,
        help="a parquet file or a directory of *.parquet chunks",
    )
    p.add_argument(
        "--out_dir",
        "--out_path",
        "-o",
        dest="out_dir",
        required=True,
        help="writes <out_dir>/data/{src,tgt}-{train,val,test}.txt, summary.json, <out_dir>/rejects.tsv",
    )
    for sec in ("h_nmr", "c_nmr", "ir", "pos_msms", "neg_msms", "formula"):
        p.add_argument(f"--{sec}", action="store_true")
    p.add_argument("--pred_spectra", action="store_true", help="SMILES -> spectra (swap src/tgt)")
    p.add_argument("--seed", type=int, default=3245)
    p.add_argument("--format", choices=FORMATS, default="tagged")
    p.add_argument(
        "--groups",
        default="default",
        help="default | fine | explicit mapping e.g. h_nmr=HNMR,c_nmr=CNMR,ir=IR,pos_msms=MS,neg_msms=MS,formula=FORMULA",
    )
    p.add_argument("--missing", choices=MISSING_MODES, default="drop")
    p.add_argument("--ir_points", type=int, default=400)
    p.add_argument(
        "--msms_top_k", type=int, default=None, help="keep the k most intense peaks per MS/MS list (re-sorted by m/z)"
    )
    p.add_argument(
        "--nmr_decimals",
        default="2,2,1",
        help="tagged format: decimals of the 1H shifts, J values and 13C shifts (default 2,2,1 as the "
        "benchmark); coarser bins such as 1,0,0 give far fewer, better-trained source tokens",
    )
    p.add_argument(
        "--max_src_tokens",
        type=int,
        default=None,
        help="token cap of the spectra line (tags included; with --pred_spectra it still "
        "applies to the spectra side); see --long_rows",
    )
    p.add_argument(
        "--long_rows",
        choices=LONG_ROWS,
        default="reject",
        help="rows over --max_src_tokens: reject (to rejects.tsv) or keep (only counted)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="worker processes (an upper bound: see --min_rows_per_worker)"
    )
    p.add_argument(
        "--min_rows_per_worker",
        type=int,
        default=MIN_ROWS_PER_WORKER,
        help="use at most one worker per this many input rows (a pool's start-up costs about "
        "as much as formatting that many rows); 0 = always --workers",
    )
    p.add_argument("--strict", action="store_true", help="stop at the first bad row")
    p.add_argument("--limit_rows", type=int, default=None)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--rdkit_check",
        dest="rdkit_check",
        action="store_true",
        default=None,
        help="reject SMILES RDKit cannot parse (default: on for tagged, off for benchmark)",
    )
    g.add_argument("--no_rdkit_check", dest="rdkit_check", action="store_false")
    p.add_argument("--no_progress", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    kw = vars(args).copy()
    kw.pop("quiet")
    no_progress = kw.pop("no_progress")
    inp, out = kw.pop("input"), kw.pop("out_dir")
    try:
        summary = generate(
            inp,
            out,
            progress=False if no_progress else None,
            command=shlex.join(["benchmark/generate_input.py", *argv]),
            **kw,
        )
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    r = summary["rows"]
    log.info(
        "read %d, rejected %d, de-duplicated %d, written %s -> %s",
        r["read"],
        r["rejected"],
        r["deduplicated"],
        r["written"],
        summary["outputs"]["data_dir"],
    )
    return 0
