#!/usr/bin/env python
"""`make bench-paper`: the MM-Spectrum paper's Table 1 at CPU scale (thin CLI over onmt_moe.runs.paper_table).

Dense transformer vs modality-aware MoE (and the MoE without tag routing) for every input row
NMR, IR, MS, NMR+IR, NMR+MS, IR+MS, NMR+IR+MS (formula in all), equal steps and active parameters.
Resumable: run it again to continue after --max_hours; finished cells are read back.

    python scripts/bench_paper.py --data data/large [--steps 2000] [--seeds 1,2] [--inputs NMR,NMR+IR+MS]
        [--models dense,moe,moe_notag] [--representation words|values|values_ms|...] [--out runs/bench_paper] [--results benchmark/results/paper_table.csv]
        [--decodings beam,formula_beam] [--max_hours 2.5] [--set key=value ...] [--read_only] [--merge]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package
from onmt_moe.runs.paper_table import (  # noqa: E402
    DECODINGS,
    INPUTS,
    MODELS,
    REPRESENTATIONS,
    ROOT,
    CorpusOptions,
    markdown,
    merge_rows,
    read_rows,
    run_table,
    write_outputs,
)


def _names(value: str, known, what: str) -> list[str]:
    """A comma list of names, each one of ``known``."""
    names = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in names if x not in known]
    if bad:
        raise ValueError(f"unknown {what} {bad[0]!r} (known: {', '.join(known)})")
    return names


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "demo"), help="parquet chunks (v2 schema)")
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "bench_paper"))
    ap.add_argument("--results", default=os.path.join(ROOT, "benchmark", "results", "paper_table.csv"))
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--inputs", default=",".join(INPUTS))
    ap.add_argument("--models", default="dense,moe,moe_notag")
    ap.add_argument(
        "--representation",
        default="words",
        choices=list(REPRESENTATIONS),
        help="how the spectra enter the encoder (onmt_moe.runs.paper_table.REPRESENTATIONS)",
    )
    ap.add_argument(
        "--decodings",
        default="beam",
        help=f"comma-separated, of {', '.join(DECODINGS)}: each finished cell's test split decoded each way",
    )
    ap.add_argument("--max_hours", type=float, default=None, help="stop before a cell that would not fit")
    ap.add_argument("--ir_points", type=int, default=CorpusOptions.ir_points)
    ap.add_argument("--msms_top_k", type=int, default=CorpusOptions.msms_top_k)
    ap.add_argument("--nmr_decimals", default=CorpusOptions.nmr_decimals)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra override for every cell")
    ap.add_argument("--read_only", action="store_true", help="only read finished cells back (the table), train nothing")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the cells already in --results that this run does not read back (same input/model/seed: replaced)",
    )
    return ap


def main(argv=None) -> int:
    a = _parser().parse_args(argv)
    try:
        inputs = _names(a.inputs, INPUTS, "input")
        models = _names(a.models, MODELS, "model")
        decodings = _names(a.decodings, DECODINGS, "decoding")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    copt = CorpusOptions(ir_points=a.ir_points, msms_top_k=a.msms_top_k, nmr_decimals=a.nmr_decimals)
    rows = run_table(
        a.data,
        a.out,
        inputs,
        models,
        seeds,
        a.steps,
        copt,
        a.set,
        a.max_hours,
        read_only=a.read_only,
        representation=a.representation,
        decodings=decodings,
    )
    if a.merge:
        try:
            rows = merge_rows(read_rows(a.results), rows)
        except (ValueError, KeyError) as e:
            print(f"error: --merge: {e}", file=sys.stderr)
            return 2
    write_outputs(rows, a.results, os.path.splitext(a.results)[0] + ".png")
    print("\n" + markdown(rows))
    print(f"\n{len(rows)} cell(s) -> {a.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
