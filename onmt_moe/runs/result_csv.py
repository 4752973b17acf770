"""A result table that several runs add to: rows of one key replace that key's rows, every row carries
the machine it was measured on."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence


def merge_rows(path: str, rows: list[dict], key: str, columns: Sequence[str]) -> None:
    """Write ``rows`` into the CSV at ``path``: the rows already there whose ``key`` none of ``rows`` has
    are kept first; ``machine`` (this machine) is added to the new rows and to the columns if missing."""
    from onmt_moe.runs.runner import machine_line  # imports torch: only when a table is written

    new_keys = {r[key] for r in rows}
    old = []
    if os.path.isfile(path):
        with open(path, newline="", encoding="utf-8") as fh:
            old = [r for r in csv.DictReader(fh) if r[key] not in new_keys]
    machine = machine_line()
    fields = [*columns, *(["machine"] if "machine" not in columns else [])]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(old + [dict(r, machine=machine) for r in rows])
