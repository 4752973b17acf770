"""Crash-safe CSV logs and atomic file writes for run folders (the run-folder layer: standard library
only, pandas inside ``read_csv``).

Durability model
----------------
``CsvLog`` is an *append-only* log:

* the header is written once, atomically (temp file + ``os.replace``), when the
  file is created;
* every ``append`` formats all of its rows into one string and hands it to the
  kernel with a single ``os.write`` on an ``O_APPEND`` descriptor, followed by
  ``fsync`` (``fsync=False`` skips the sync for very hot loops).  Appending is
  O(rows appended), so a log with 10^5+ rows stays cheap to extend;
* a process killed in the middle of a write can at worst leave one partial
  line at the end of the file.  Opening the log again (``CsvLog(path, ...)``)
  cuts the file back to its last complete line, and ``read_csv`` ignores such
  a trailing fragment, so readers never see a half-written row.

``truncate_after_step`` (used on ``--resume``) and the ``atomic_write_*``
helpers rewrite the whole file into a temporary sibling and ``os.replace`` it,
so the file is either the old or the new version, never a mix.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PathLike = str | os.PathLike

__all__ = [
    "CsvLog",
    "CsvLogError",
    "read_csv",
    "truncate_file_after_step",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "format_value",
    "jsonable",
]


class CsvLogError(ValueError):
    """A CSV log (or run file) is missing, empty, corrupt or inconsistent.

    ``str(err)`` is a one-line message that names the file.
    """


# --------------------------------------------------------------------------- #
# atomic whole-file writes
# --------------------------------------------------------------------------- #
def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(str(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask, read without changing it where Linux tells it (``/proc/self/status``);
    elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder + ``os.replace``. The file gets
    the mode a plain ``open(path, "w")`` would give it (``0o666`` less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Atomically replace ``path`` with ``text``."""
    return atomic_write_bytes(path, text.encode(encoding))


def jsonable(obj: Any) -> Any:
    """Convert ``obj`` into strict-JSON data: NaN/Inf -> None, numpy/torch
    scalars -> Python numbers, tuples/sets -> lists, Paths -> str."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "tolist"):  # numpy arrays/scalars, torch tensors
        return jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return jsonable(obj.item())
    return str(obj)


def atomic_write_json(path: PathLike, obj: Any, indent: int = 2) -> Path:
    """Atomically write ``obj`` as strict JSON (NaN/Inf become ``null``)."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


# --------------------------------------------------------------------------- #
# value formatting
# --------------------------------------------------------------------------- #
def format_value(value: Any) -> str:
    """Render one cell: floats with full precision (``nan``/``inf`` spelled out
    so pandas reads them back), ints as ints, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()  # numpy / torch scalar
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------- #
# CsvLog
# --------------------------------------------------------------------------- #
def _last_newline_offset(fh, size: int, chunk: int = 1 << 16) -> int:
    """Offset just past the last b'\\n' in a binary file handle (0 if none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - chunk)
        fh.seek(start)
        block = fh.read(pos - start)
        idx = block.rfind(b"\n")
        if idx >= 0:
            return start + idx + 1
        pos = start
    return 0


def _csv_line(cells: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


class CsvLog:
    """Append-only CSV log with a fixed header.

    Args:
        path: the CSV file (parent folders are created).
        columns: column names, in order.  An existing file must have this
            header; a header that is a strict subset of ``columns`` (optional
            columns added on resume) is migrated by an atomic rewrite that leaves
            the new cells of old rows empty; anything else is a :class:`CsvLogError`.
        fsync: call ``os.fsync`` after each append (default True).
        extrasaction: ``"raise"`` (default) rejects row keys that are not
            columns; ``"ignore"`` drops them.  Missing keys become empty cells.

    Opening an existing file cuts off a trailing partial line left by a crash.
    """

    def __init__(
        self,
        path: PathLike,
        columns: Sequence[str],
        fsync: bool = True,
        extrasaction: str = "raise",
    ):
        if extrasaction not in ("raise", "ignore"):
            raise ValueError("extrasaction must be 'raise' or 'ignore'")
        self.path = Path(path)
        self.columns: list[str] = [str(c) for c in columns]
        if not self.columns:
            raise ValueError("CsvLog needs at least one column")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"duplicate column names for {self.path}: {self.columns}")
        self.fsync = fsync
        self.extrasaction = extrasaction
        self._colset = set(self.columns)
        self._header = _csv_line(self.columns)
        self._open()

    # -- file management ---------------------------------------------------- #
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        if size == 0:
            atomic_write_text(self.path, self._header)
        else:
            self._repair_and_check(size)

    def _repair_and_check(self, size: int) -> None:
        with open(self.path, "rb+") as fh:
            end = _last_newline_offset(fh, size)
            if end == 0:
                # not even a complete header: the file was never usable
                fh.close()
                atomic_write_text(self.path, self._header)
                return
            if end < size:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
            fh.seek(0)
            first = fh.readline().decode("utf-8", errors="replace")
        header = next(csv.reader([first.rstrip("\r\n")]), [])
        if header == self.columns:
            return
        if set(header) < self._colset:
            self._migrate(header)
            return
        raise CsvLogError(f"{self.path}: header {header} does not match expected columns {self.columns}")

    def _migrate(self, old_columns: list[str]) -> None:
        """Rewrite an existing log whose columns are a subset of ours (e.g. optional
        columns switched on when resuming): old rows get empty new cells."""
        with open(self.path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            rows = [dict(zip(old_columns, cells)) for cells in reader if cells]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.columns)
        for r in rows:
            writer.writerow([r.get(c, "") for c in self.columns])
        atomic_write_text(self.path, buf.getvalue())

    def _format_rows(self, rows: Iterable[Mapping[str, Any]]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        cols = self.columns
        for row in rows:
            if self.extrasaction == "raise":
                extra = [k for k in row.keys() if k not in self._colset]
                if extra:
                    raise ValueError(f"{self.path.name}: unknown column(s) {extra}")
            writer.writerow([format_value(row.get(c)) for c in cols])
        return buf.getvalue()

    # -- public API --------------------------------------------------------- #
    def append(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append complete rows with one write (+ fsync). Returns rows written."""
        rows = list(rows)
        if not rows:
            return 0
        data = self._format_rows(rows).encode("utf-8")
        fd = os.open(str(self.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            view = memoryview(data)
            while view:  # os.write may be partial for huge buffers; loop until done
                n = os.write(fd, view)
                view = view[n:]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        return len(rows)

    def append_row(self, row: Mapping[str, Any]) -> int:
        """Append one row (see :meth:`append`)."""
        return self.append([row])

    def truncate_after_step(self, step: int, step_column: str = "step") -> int:
        """Drop rows whose ``step`` is greater than ``step`` (atomic rewrite).

        Rows whose step cell cannot be parsed are dropped too.  Returns the
        number of rows removed.
        """
        if step_column not in self._colset:
            raise CsvLogError(f"{self.path}: no '{step_column}' column to truncate on")
        idx = self.columns.index(step_column)
        with open(self.path, encoding="utf-8", newline="") as fh:
            text = fh.read()
        end = text.rfind("\n")
        text = text[: end + 1] if end >= 0 else ""
        lines = text.splitlines(keepends=True)
        kept = [self._header]
        removed = 0
        for line in lines[1:]:
            cells = next(csv.reader([line.rstrip("\r\n")]), [])
            try:
                ok = float(cells[idx]) <= step
            except (IndexError, ValueError):
                ok = False
            if ok:
                kept.append(line)
            else:
                removed += 1
        if removed:
            atomic_write_text(self.path, "".join(kept))
        return removed

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"CsvLog({str(self.path)!r}, columns={self.columns})"


def truncate_file_after_step(path: PathLike, step: int) -> int:
    """Drop rows logged after ``step`` from an existing log, keeping the file's own header
    (a restarted or resumed run logs those steps again). Returns the rows removed."""
    with open(path, encoding="utf-8") as f:
        header = next(csv.reader([f.readline().rstrip("\r\n")]), [])
    if not header or "step" not in header:
        return 0
    return CsvLog(path, header).truncate_after_step(step)


# --------------------------------------------------------------------------- #
# reading
# --------------------------------------------------------------------------- #
def read_csv(
    path: PathLike,
    required_columns: Iterable[str] | None = None,
    allow_empty: bool = True,
    **pandas_kwargs,
):
    """Read a run CSV into a ``pandas.DataFrame``.

    A trailing partial line (a writer killed mid-append, or a reader racing a
    writer) is ignored.  Raises :class:`CsvLogError` with a one-line message
    naming the file when it is missing, has no header, cannot be parsed, or
    lacks one of ``required_columns``.  A header-only file gives an empty frame
    (or an error when ``allow_empty`` is False).  Extra keyword arguments go
    to ``pandas.read_csv``.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise CsvLogError(f"{path}: file not found")
    if path.is_dir():
        raise CsvLogError(f"{path}: is a folder, expected a CSV file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CsvLogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise CsvLogError(f"{path}: empty file (no CSV header)")
    end = raw.rfind(b"\n")
    if end < 0:
        # a single unterminated line: treat as header only if it parses
        body = raw + b"\n"
    else:
        body = raw[: end + 1]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise CsvLogError(f"{path}: corrupt CSV (not UTF-8 text)") from None
    if "\x00" in text:
        raise CsvLogError(f"{path}: corrupt CSV (contains NUL bytes)")
    try:
        df = pd.read_csv(io.StringIO(text), **pandas_kwargs)
    except pd.errors.EmptyDataError:
        raise CsvLogError(f"{path}: empty file (no CSV header)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise CsvLogError(f"{path}: corrupt CSV ({msg})") from None
    if not isinstance(df.index, pd.RangeIndex):
        # pandas silently turns surplus leading fields into an index
        raise CsvLogError(f"{path}: corrupt CSV (rows have more fields than the header)")
    df.columns = [str(c).strip() for c in df.columns]
    if required_columns is not None:
        missing = [c for c in required_columns if c not in df.columns]
        if missing:
            raise CsvLogError(f"{path}: missing column(s) {', '.join(missing)}")
    if not allow_empty and df.empty:
        raise CsvLogError(f"{path}: no data rows")
    return df
