"""Benchmark v2 columns produced by the simulator, their Arrow types, and a writer.

The continuous spectra (h_nmr_spectra, c_nmr_spectra, hsqc_*) and the
fragment-annotation columns are not produced (size); readers must treat them
as absent.
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

H_PEAK = pa.struct(
    [
        ("category", pa.string()),
        ("centroid", pa.float64()),
        ("delta", pa.float64()),
        ("j_values", pa.string()),
        ("nH", pa.int64()),
        ("rangeMax", pa.float64()),
        ("rangeMin", pa.float64()),
    ]
)
C_PEAK = pa.struct(
    [
        ("delta (ppm)", pa.float64()),
        ("integral", pa.float64()),
        ("intensity", pa.float64()),
        ("width (ppm)", pa.float64()),
    ]
)
MSMS_COLUMNS = [f"msms_cfmid_{m}_{e}ev" for m in ("positive", "negative") for e in (10, 20, 40)]
MSMS_TYPE = pa.list_(pa.list_(pa.float64()))

SCHEMA = pa.schema(
    [
        ("smiles", pa.string()),
        ("molecular_formula", pa.string()),
        ("h_nmr_peaks", pa.list_(H_PEAK)),
        ("c_nmr_peaks", pa.list_(C_PEAK)),
        ("ir_spectra", pa.list_(pa.float32())),
    ]
    + [(c, MSMS_TYPE) for c in MSMS_COLUMNS]
    + [("__index_level_0__", pa.int64())]
)
COLUMNS = [f.name for f in SCHEMA]


def rows_to_table(rows: list[dict]) -> pa.Table:
    cols = {name: [r[name] for r in rows] for name in COLUMNS}
    return pa.Table.from_pydict(cols, schema=SCHEMA)


def write_chunk(rows: list[dict], path: str, compression: str = "zstd", level: int = 19) -> int:
    """Write rows to one parquet file; returns the file size in bytes."""
    table = rows_to_table(rows)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pq.write_table(table, path, compression=compression, compression_level=level)
    return os.path.getsize(path)


def validate_row(row: dict) -> list[str]:
    """Cheap structural checks; returns a list of problems (empty = fine)."""
    probs = []
    if row["ir_spectra"] is not None and len(row["ir_spectra"]) != 1800:  # None: an NMR-only row
        probs.append("ir length")
    if not row["h_nmr_peaks"] and "H" in row["molecular_formula"]:
        probs.append("no 1H peaks")
    if not row["c_nmr_peaks"]:
        probs.append("no 13C peaks")
    for c in MSMS_COLUMNS:
        if row[c] is not None and not row[c]:
            probs.append(f"empty {c}")
    return probs
