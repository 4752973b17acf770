#!/usr/bin/env python
"""Benchmark the vectorised benchmark-format preprocessing against a row-by-row
reference implementation of the official algorithm.

* builds a ``--rows`` (default 5,000) row chunk by tiling the example rows (each copy
  gets a little IR noise so that the rows stay distinct after de-duplication);
* times ``onmt_moe.data.pipeline.generate(format='benchmark')`` with all modalities
  against ``reference()`` below (pandas ``iloc`` per row, scipy ``interp1d`` per
  spectrum when scipy is installed, else ``np.interp``), both on one core;
* checks the six output files are byte-identical, prints the speed ratio, rows/s and
  our peak memory (tracemalloc peak of a separate run, and the process max RSS);
* times ``--workers 1`` vs ``--workers 2`` on ``--chunks`` chunks of ``--chunk_rows`` rows
  repeated from the example rows (``onmt_moe.data.synthetic.repeat_rows``), with the pool's
  start-up and the per-chunk work printed apart, and projects the time of the real set
  (~790k rows). ``--full_scale`` = 245 chunks of 3,225 rows, the official set's shape.

    nice python scripts/bench_generate_input.py [--rows 5000] [--chunks 4] [--full_scale]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from onmt_moe.data.pipeline import generate  # noqa: E402
from onmt_moe.data.synthetic import FULL_SET_CHUNKS, FULL_SET_ROWS, repeat_rows  # noqa: E402


# pandas and scipy (the reference's libraries) are imported only when the reference runs: every
# --workers process imports this script again (see _mp_context in onmt_moe.data.pipeline), and
# those imports would be most of a worker's start-up.
def _interp1d():
    try:
        from scipy.interpolate import interp1d
    except ImportError:  # pragma: no cover
        return None
    return interp1d


DEFAULT_SOURCES = [
    Path("/work/shared/data/benchmark_examples/example_data_1.parquet"),
    Path("/work/shared/data/benchmark_examples/example_data_2.parquet"),
]
FIXTURES = [
    ROOT / "tests/fixtures/benchmark_examples/example_data_1_slim.parquet",
    ROOT / "tests/fixtures/benchmark_examples/example_data_2_head20_slim.parquet",
]
MSMS = [f"msms_cfmid_{p}_{e}ev" for p in ("positive", "negative") for e in (10, 20, 40)]
COLUMNS = ["smiles", "molecular_formula", "h_nmr_peaks", "c_nmr_peaks", "ir_spectra", *MSMS]
FILES = [f"{s}-{p}.txt" for s in ("src", "tgt") for p in ("train", "val", "test")]


# ---------------------------------------------------------------- reference (row by row)
_SMILES_RE = re.compile(
    r"(\%\([0-9]{3}\)|\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\||\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>>?|\*|\$|\%[0-9]{2}|[0-9])"
)


def _ref_formula(f):
    return " ".join(re.findall(r"[A-Z][a-z]?|\d+|.", f)) + " "


def _ref_h(peaks):
    groups = []
    for pk in peaks:
        g = "{:.2f} {:.2f} {} {}H".format(float(pk["rangeMax"]), float(pk["rangeMin"]), pk["category"], pk["nH"])
        j = pk["j_values"]
        if j is not None:
            vals = [v for v in str(j).split("_") if v]
            if vals:
                g += " J " + " ".join(f"{float(v):.2f}" for v in vals)
        groups.append(g)
    return "1HNMR " + " | ".join(groups) + " "


def _ref_c(peaks):
    return "13CNMR " + "".join(str(round(float(p["delta (ppm)"]), 1)) + " " for p in peaks)


def _ref_ir(ir, points=400):
    x = np.linspace(400, 4000, len(ir))
    xn = np.linspace(400, 4000, points)
    interp1d = _interp1d()
    y = interp1d(x, ir)(xn) if interp1d is not None else np.interp(xn, x, ir)
    y = y + abs(min(y))
    y = (y / max(y)) * 100
    return "IR " + " ".join(np.round(y, decimals=0).astype(int).astype(str)) + " "


def _ref_ms(peaks):
    return "".join(f"{round(p[0], 1):.1f} {round(p[1], 1):.1f} " for p in peaks)


def reference(parquet: Path, out: Path, seed: int = 3245) -> None:
    import pandas as pd

    data = pd.read_parquet(parquet, columns=COLUMNS)
    rows = []
    for i in range(len(data)):
        s = _ref_formula(data.iloc[i]["molecular_formula"])
        s += _ref_h(data.iloc[i]["h_nmr_peaks"])
        s += _ref_c(data.iloc[i]["c_nmr_peaks"])
        s += _ref_ir(data.iloc[i]["ir_spectra"])
        for heads, cols in ((("E0Pos", "E1Pos", "E2Pos"), MSMS[:3]), (("E0Neg", "E1Neg", "E2Neg"), MSMS[3:])):
            for h, c in zip(heads, cols):
                s += h + " " + _ref_ms(data.iloc[i][c])
        smi = data.iloc[i]["smiles"]
        toks = _SMILES_RE.findall(smi)
        assert "".join(toks) == smi
        rows.append({"source": s.strip(), "target": " ".join(toks)})
    df = pd.DataFrame(rows).drop_duplicates(subset="source")
    n = len(df)
    n_test = math.ceil(0.1 * n)
    p = np.random.RandomState(seed).permutation(n)
    test, train_full = df.iloc[p[:n_test]], df.iloc[p[n_test:]]
    m = len(train_full)
    n_val = math.ceil(0.05 * m)
    q = np.random.RandomState(seed).permutation(m)
    val, train = train_full.iloc[q[:n_val]], train_full.iloc[q[n_val:]]
    d = out / "data"
    d.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("val", val), ("test", test)):
        with open(d / f"src-{name}.txt", "w") as fh:
            for x in part.source:
                fh.write(f"{x}\n")
        with open(d / f"tgt-{name}.txt", "w") as fh:
            for x in part.target:
                fh.write(f"{x}\n")


# ---------------------------------------------------------------- data
def build_chunk(n_rows: int, path: Path, seed: int = 0) -> None:
    srcs = [p for p in DEFAULT_SOURCES if p.exists()] or FIXTURES
    made = repeat_rows(srcs, path.parent / f".build_{path.stem}", 1, n_rows, columns=COLUMNS, seed=seed)[0]
    made.replace(path)
    made.parent.rmdir()


def _same(a: Path, b: Path) -> bool:
    return all((a / "data" / f).read_bytes() == (b / "data" / f).read_bytes() for f in FILES)


def time_single(args, chunk: Path, tmp: Path, kw: dict) -> bool:
    """Ours against the reference on one chunk, best of --repeat; whether the outputs are identical."""
    generate(chunk, tmp / "warm", limit_rows=500, **kw)  # warm caches / imports
    ours, ref, ours_cpu, ref_cpu = [], [], [], []
    for _ in range(args.repeat):  # interleaved, best of --repeat (shared machine)
        t0, c0 = time.perf_counter(), time.process_time()
        s = generate(chunk, tmp / "ours", **kw)
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        reference(chunk, tmp / "ref")
        ref.append(time.perf_counter() - t0)
        ref_cpu.append(time.process_time() - c0)
    same = _same(tmp / "ours", tmp / "ref")
    t_ours, t_ref = min(ours), min(ref)
    print(f"rows written: {s['rows']['written']}")
    print(
        f"ours (1 core):      wall best {t_ours:6.2f} s ({args.rows / t_ours:6.0f} rows/s)  cpu best "
        f"{min(ours_cpu):6.2f} s   wall all: " + " ".join(f"{t:.2f}" for t in ours)
    )
    print(
        f"reference (1 core): wall best {t_ref:6.2f} s ({args.rows / t_ref:6.0f} rows/s)  cpu best "
        f"{min(ref_cpu):6.2f} s   wall all: " + " ".join(f"{t:.2f}" for t in ref)
    )
    print(
        f"speed ratio: wall {t_ref / t_ours:.1f}x, cpu {min(ref_cpu) / min(ours_cpu):.1f}x; wall per pair: "
        + " ".join(f"{b / a:.1f}x" for a, b in zip(ours, ref))
        + f"   outputs identical: {same}"
    )
    return same


def time_workers(args, tmp: Path, kw: dict) -> None:
    """1 vs 2 workers on several chunks (--full_scale: the real set's chunk layout)."""
    n_chunks = FULL_SET_CHUNKS if args.full_scale else args.chunks
    rows = -(-FULL_SET_ROWS // FULL_SET_CHUNKS) if args.full_scale else (args.chunk_rows or args.rows)
    srcs = [p for p in DEFAULT_SOURCES if p.exists()] or FIXTURES
    d = tmp / "chunks"
    repeat_rows(srcs, d, n_chunks, rows, columns=COLUMNS, seed=1)
    times = {}
    for w in (1, 2, 1, 2):
        t0 = time.perf_counter()
        s = generate(d, tmp / f"w{w}", workers=w, min_rows_per_worker=0, **kw)
        wall = time.perf_counter() - t0
        times[w] = min(times.get(w, 1e9), wall)
        info = s["workers"]
        print(
            f"workers={w}: {n_chunks} chunks x {rows} rows in {wall:.2f} s wall "
            f"({n_chunks * rows / wall:.0f} rows/s); pool start-up {info['pool_start_s']} s; chunk work "
            f"{info['chunk_seconds_total']:.2f} s in total, {info['chunk_seconds_total'] / n_chunks:.3f} s "
            f"per chunk; projected for the real set ({FULL_SET_ROWS} rows): "
            f"{FULL_SET_ROWS / (n_chunks * rows / wall) / 60:.1f} min"
        )
    print(
        f"scaling workers 2 vs 1 (best wall): {times[1] / times[2]:.2f}x; load average "
        f"{os.getloadavg()[0]:.1f}; identical output: {_same(tmp / 'w1', tmp / 'w2')}"
        f" (cpus available: {len(os.sched_getaffinity(0))})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--chunk_rows", type=int, default=0, help="rows per chunk of the workers test (0 = --rows)")
    ap.add_argument(
        "--full_scale",
        action="store_true",
        help=f"workers test on {FULL_SET_CHUNKS} chunks x {-(-FULL_SET_ROWS // FULL_SET_CHUNKS)} rows",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each implementation")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    kw = dict(
        h_nmr=True, c_nmr=True, ir=True, pos_msms=True, neg_msms=True, formula=True, format="benchmark", progress=False
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench_gi_"))
    try:
        chunk = tmp / "aligned_chunk_0.parquet"
        build_chunk(args.rows, chunk)
        print(
            f"chunk: {args.rows} rows, {chunk.stat().st_size / 1e6:.1f} MB; "
            f"reference IR interpolation: {'scipy interp1d' if _interp1d() else 'np.interp'}"
        )

        same = time_single(args, chunk, tmp, kw)

        tracemalloc.start()
        generate(chunk, tmp / "mem", **kw)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"our peak traced memory (tracemalloc): {peak / 2**20:.1f} MiB; "
            f"process max RSS so far (incl. reference): {rss:.0f} MiB"
        )

        time_workers(args, tmp, kw)
        return 0 if same else 1
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
