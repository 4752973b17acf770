"""Reading and writing the files every scorer shares: targets, n-best predictions, the JSON result
and the per-row ranks CSV. One reader, one line-count check, one error type (:class:`ScoringError`,
a one-line message naming the file)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path


class ScoringError(ValueError):
    """Bad input for a scorer; the message is one line naming file and line."""


def read_lines(path) -> list[str]:
    """The lines of a UTF-8 text file, without their line ends."""
    p = Path(path)
    if not p.is_file():
        raise ScoringError(f"{p}: no such file")
    try:
        with open(p, encoding="utf-8") as fh:
            return [ln.rstrip("\n").rstrip("\r") for ln in fh]
    except UnicodeDecodeError as exc:
        raise ScoringError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ScoringError(f"{p}: {exc.strerror}") from None


def read_targets_and_nbest(pred_path, tgt_path, n_best: int) -> tuple[list[str], list[list[str]]]:
    """``(target lines, [the n_best prediction lines of each target])``; the prediction file must hold
    exactly ``n_best`` lines per target."""
    if n_best < 1:
        raise ScoringError(f"n_best must be >= 1, got {n_best}")
    targets, preds = read_lines(tgt_path), read_lines(pred_path)
    if len(preds) != n_best * len(targets):
        raise ScoringError(
            f"{pred_path}: {len(preds)} lines, expected {n_best * len(targets)} "
            f"(= {len(targets)} targets of {tgt_path} x n_best {n_best})"
        )
    return targets, [preds[i * n_best : (i + 1) * n_best] for i in range(len(targets))]


def write_result(
    result: Mapping,
    out_json=None,
    rows: Sequence[Mapping] = (),
    ranks_csv=None,
    columns: Sequence[str] | None = None,
) -> None:
    """The result as indented JSON and the rows as CSV (``columns`` default: the first row's keys; a
    missing or None value is written empty), each only where a path is given."""
    if out_json:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        with open(out_json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
            fh.write("\n")
    if ranks_csv:
        Path(ranks_csv).parent.mkdir(parents=True, exist_ok=True)
        cols = list(columns) if columns is not None else (list(rows[0]) if rows else ["line"])
        with open(ranks_csv, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in cols})
