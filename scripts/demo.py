#!/usr/bin/env python
"""`make demo`: spectra in, SMILES out, routing plots — on simulated small molecules, on CPU.

0. simulate formula + 1H/13C NMR for the bundled small-molecule list (data/demo/small_tier_molecules.smi.gz,
   BRICS pieces of MOSES molecules, 6-14 heavy atoms) into data/demo_small (scripts/simulate_dataset.py's
   code, in this process: --fast --modalities nmr; about a minute on 2 cores, skipped when the folder exists);
1. → tagged corpora (benchmark/generate_input.py's code, in this process; formula + 1H + 13C NMR with
   0.1 ppm / 1 Hz / 1 ppm bins, which a small model learns fastest on CPU). `--data data/demo` uses the bundled 8,231-molecule
   full-modality set instead (every modality; slower to learn);
2. train a small modality-aware MoE model, decode the test split with beam search + n-best, score
   top-1/5/10, write the routing CSVs, the anomaly report and the plots (what benchmark/start_training.py
   does, in this process: onmt_moe.runs.runner.launch);
3. print a short summary pointing at them.

    python scripts/demo.py [--data data/demo_small] [--molecules N] [--config configs/demo_moe.yaml]
                           [--run_name demo] [--set key=value ...] [--modalities formula,h_nmr,c_nmr,...]
                           [--nmr_decimals 1,0,0] [--fresh]
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# the demo's children use every core unless OMP_NUM_THREADS says otherwise (set before numpy/torch load)
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
from onmt_moe.runs.demo import Demo, run_demo  # noqa: E402


def parser() -> argparse.ArgumentParser:
    d = Demo()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--data", default=d.data, help="parquet chunks; simulated from --molecule_list when the folder has none"
    )
    ap.add_argument("--molecule_list", default=d.molecule_list)
    ap.add_argument("--molecules", type=int, default=d.molecules, help="molecules to simulate from the list")
    ap.add_argument("--corpus", default=None, help="tagged corpus folder (default: <data>_tagged)")
    ap.add_argument("--config", default=d.config)
    ap.add_argument("--runs_dir", default=d.runs_dir)
    ap.add_argument("--run_name", default=d.run_name)
    ap.add_argument(
        "--modalities",
        default=d.modalities,
        help="generate_input sections; the default (formula + 1H + 13C NMR) learns fastest on CPU; "
        "formula,h_nmr,c_nmr,ir,pos_msms,neg_msms gives every modality",
    )
    ap.add_argument(
        "--ir_points",
        type=int,
        default=d.ir_points,
        help="IR tokens per spectrum (the benchmark uses 400; 100 keeps the CPU demo fast)",
    )
    ap.add_argument("--msms_top_k", type=int, default=d.msms_top_k, help="most intense MS/MS peaks kept per spectrum")
    ap.add_argument(
        "--nmr_decimals",
        default=d.nmr_decimals,
        help="decimals of 1H shifts, J values, 13C shifts in the tagged source (benchmark: 2,2,1)",
    )
    ap.add_argument(
        "--max_src_tokens",
        type=int,
        default=d.max_src_tokens,
        help="rows with longer sources are rejected to rejects.tsv (and counted), never truncated",
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--fresh", action="store_true", help="delete an existing run folder of the same name first")
    ap.add_argument(
        "--no_formula_beam",
        dest="formula_beam",
        action="store_false",
        help="decode with the plain beam (default: the formula-guided beam, onmt_translate -moe_formula_beam)",
    )
    ap.add_argument("--data_only", action="store_true", help="build the simulated data and tagged corpus, then stop")
    return ap


def main(argv=None) -> int:
    return run_demo(Demo(**vars(parser().parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main())
