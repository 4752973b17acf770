"""A full-scale synthetic input for timing ``generate_input.py``: the example rows, repeated.

The official set is 245 parquet chunks (~790k rows). :func:`repeat_rows` writes ``chunks`` files
``aligned_chunk_<i>.parquet`` of ``rows_per_chunk`` rows each, tiled from the example rows; every
copy's IR spectrum is scaled by (1 + U(0, 0.02)) so that the rows stay distinct after the
pipeline's de-duplication (the scale keeps the sign of the spectrum's negative minimum, as in the
real data). No torch here (data code).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FULL_SET_CHUNKS = 245
FULL_SET_ROWS = 790_000


def _noisy_ir(table: pa.Table, rng: np.random.RandomState) -> pa.Table:
    ir = table.column("ir_spectra").combine_chunks()
    vals = ir.values.to_numpy(zero_copy_only=False).copy()
    vals *= (1 + rng.rand(len(vals)) * 0.02).astype(vals.dtype)
    new_ir = pa.ListArray.from_arrays(ir.offsets, pa.array(vals))
    return table.set_column(table.column_names.index("ir_spectra"), "ir_spectra", new_ir)


def repeat_rows(
    sources: Sequence[Path],
    out_dir: Path,
    chunks: int,
    rows_per_chunk: int,
    columns: list[str] | None = None,
    seed: int = 0,
) -> list[Path]:
    """Write ``chunks`` parquet files of ``rows_per_chunk`` rows tiled from ``sources``; return them."""
    if chunks < 1 or rows_per_chunk < 1:
        raise ValueError(f"chunks and rows_per_chunk must be >= 1, got {chunks}, {rows_per_chunk}")
    base = pa.concat_tables([pq.read_table(p, columns=columns) for p in sources])
    if base.num_rows == 0:
        raise ValueError(f"no rows in {', '.join(str(p) for p in sources)}")
    if "ir_spectra" not in base.column_names:
        raise ValueError("the sources need an ir_spectra column (its noise keeps the copies distinct)")
    tiled = pa.concat_tables([base] * -(-rows_per_chunk // base.num_rows)).slice(0, rows_per_chunk)
    tiled = tiled.replace_schema_metadata(None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(chunks):
        path = out_dir / f"aligned_chunk_{k}.parquet"
        pq.write_table(_noisy_ir(tiled, np.random.RandomState(seed + k)), path)
        paths.append(path)
    return paths
