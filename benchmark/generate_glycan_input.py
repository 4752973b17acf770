#!/usr/bin/env python
"""Glycan corpora for OpenNMT: tagged MS/MS (+ text) source -> tokenised WURCS target.

    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_corpus --text
    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_pred --pred_spectra

Writes ``<out_dir>/data/{src,tgt}-{train,val,test}.txt``, ``<out_dir>/summary.json`` and
``<out_dir>/rejects.tsv`` (row, split, reason).  Source line (default)::

    <MS> PMZ_1037 CHARGE_-2 MZ_163 INT_1 DIAG_dHex_C1 ... </MS> <TEXT> n-linked glycan ; ... </TEXT>

``--text`` adds the TEXT segment; a row without text gets ``<TEXT> <MISSING> </TEXT>`` with
``--missing token`` (default) or is dropped (``--missing drop``, reason ``missing_text``).
``--composition`` adds ``CMP_`` tokens after the charge: the compositions whose mass matches the
precursor (a GlycoMod-style search, onmt_moe/glycan/composition.py).
``--pred_spectra`` swaps direction: source = tokenised WURCS, target = MS tokens (no tags).
``--multitask struct,spec,text`` writes one multi-task corpus instead (a task token starts each
source; per-task folders, the mixed files, ``onmt_data.yaml`` with ``--task_weights``, ``tasks.json``);
``--target_task_token`` starts its train/val targets with the task token as well.
Thin CLI over onmt_moe.glycan.corpus.write_corpus.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.corpus import CorpusError, CorpusOptions, write_corpus  # noqa: E402
from onmt_moe.glycan.spectra_tokens import SpecTokConfig  # noqa: E402


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="glycan.parquet or the directory holding it")
    ap.add_argument("--out_dir", required=True)
    ap.add_argument("--text", action="store_true", help="add the <TEXT> segment")
    ap.add_argument("--missing", choices=("drop", "token"), default="token")
    ap.add_argument("--pred_spectra", action="store_true", help="structure -> spectrum")
    ap.add_argument(
        "--multitask",
        default="",
        help="comma list of tasks for one multi-task corpus (struct,spec,text,align; onmt_moe/glycan/multitask.py)",
    )
    ap.add_argument(
        "--target_task_token",
        action="store_true",
        help="--multitask: train/val targets start with the task token too (a per-task decoder start)",
    )
    ap.add_argument("--task_weights", default="", help="OpenNMT corpus weight per task, e.g. struct=2,spec=1,text=1")
    d = SpecTokConfig()
    ap.add_argument("--mz_bin", type=float, default=d.mz_bin)
    ap.add_argument("--int_bins", type=int, default=d.int_bins)
    ap.add_argument("--max_peaks", type=int, default=d.max_peaks)
    ap.add_argument("--min_rel_int", type=float, default=d.min_rel_int)
    ap.add_argument("--loss_tol", type=float, default=d.loss_tol)
    ap.add_argument("--diag_tol", type=float, default=d.diag_tol)
    ap.add_argument("--no_losses", action="store_true")
    ap.add_argument("--no_peak_pairs", action="store_true")
    ap.add_argument("--no_diagnostics", action="store_true")
    ap.add_argument(
        "--composition",
        action="store_true",
        help="add CMP_ tokens: compositions matching the precursor mass (onmt_moe/glycan/composition.py)",
    )
    ap.add_argument("--comp_tol", type=float, default=d.comp_tol, help="mass tolerance of the composition search, Da")
    ap.add_argument("--comp_max", type=int, default=d.comp_max, help="at most this many candidate compositions")
    ap.add_argument("--comp_max_residues", type=int, default=d.comp_max_residues)
    ap.add_argument(
        "--reducing_end",
        default=d.reducing_end,
        help="reducing-end state of the precursors (free, reduced, 2AB, 2AA, ProA; "
        "onmt_moe/glycan/real/masses.py): its mass tag is taken off before the composition search",
    )
    return ap


def main(argv=None):
    a = parser().parse_args(argv)
    cfg = SpecTokConfig(
        mz_bin=a.mz_bin,
        int_bins=a.int_bins,
        max_peaks=a.max_peaks,
        min_rel_int=a.min_rel_int,
        loss_tol=a.loss_tol,
        diag_tol=a.diag_tol,
        losses=not a.no_losses,
        peak_pairs=not a.no_peak_pairs,
        diagnostics=not a.no_diagnostics,
        composition=a.composition,
        comp_tol=a.comp_tol,
        comp_max=a.comp_max,
        comp_max_residues=a.comp_max_residues,
        reducing_end=a.reducing_end,
    )
    opt = CorpusOptions(a.text, a.missing, a.pred_spectra, a.multitask, a.task_weights, a.target_task_token)
    try:
        write_corpus(a.input, a.out_dir, cfg, opt)
    except CorpusError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
