"""The glycan track's command lines, as library functions: each ``*_main(argv, description)`` parses the
options of one entry point and runs it, in the caller's process. The scripts are thin mains over them
(``scripts/build_glycan_dataset.py``, ``benchmark/generate_glycan_input.py``,
``scripts/simulate_real_twin.py``), and ``make bench-glycan-real`` / ``make demo-glycan``
(``onmt_moe.runs``) call them directly with the same options.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from onmt_moe.glycan.corpus import CorpusError, CorpusOptions, write_corpus
from onmt_moe.glycan.dataset import SPLIT_MODES, MissingDependency, build, resimulate
from onmt_moe.glycan.fragments import SimParams, add_real_spectrum_options, real_spectrum_knobs
from onmt_moe.glycan.real.annotations import AnnotationError
from onmt_moe.glycan.real.realism import add_annotated_set_options, annotated_pairs, write_twin
from onmt_moe.glycan.spectra_tokens import SpecTokConfig


def _parser(description: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


# ------------------------------------------------------------- scripts/build_glycan_dataset.py ---
def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    ap = _parser(description)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0, help="stop after N accepted structures (seeded order); 0 = all")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max_residues", type=int, default=12, help="skip larger glycans; 0 = no limit")
    ap.add_argument("--seed", type=int, default=13, help="candidate order and spectrum noise")
    ap.add_argument("--split_seed", type=int, default=0)
    ap.add_argument("--convert_only", action="store_true", help="only convert+verify (writes wurcs.tsv)")
    ap.add_argument(
        "--resimulate",
        metavar="DATASET",
        help="instead of building: new spectra (noise --seed) of --from_split structures of DATASET",
    )
    ap.add_argument("--from_split", default="train", help="with --resimulate (default train)")
    ap.add_argument(
        "--spectra_per_structure",
        type=int,
        default=1,
        help="training spectra per structure, one noise seed each (--seed, --seed+1, ...)",
    )
    ap.add_argument(
        "--split_mode",
        choices=SPLIT_MODES,
        default="structure",
        help="structure: val/test structures never in train (de novo); library: every structure in train, "
        "val/test = new spectra of a hashed 10%%/10%% of them (closed set, as CandyCrunch)",
    )
    ap.add_argument(
        "--glycan_types", default="", help="only df_glycan rows of these glycan_type values, e.g. N,O (default all)"
    )
    add_real_spectrum_options(ap)
    return ap


def _build(a) -> dict | None:
    """Build (or re-simulate) the set; its summary (None after --resimulate)."""
    sim = real_spectrum_knobs(a)
    if a.resimulate:
        # the input dataset's simulator knobs, those given here overriding them
        resimulate(a.resimulate, a.out, from_split=a.from_split, limit=a.limit, seed=a.seed, sim=sim)
        return None
    return build(
        a.out,
        limit=a.limit,
        workers=a.workers,
        max_residues=a.max_residues,
        seed=a.seed,
        split_seed=a.split_seed,
        convert_only=a.convert_only,
        log=lambda m: print(m, flush=True),
        sim=sim,
        glycan_types=[t.strip() for t in a.glycan_types.split(",") if t.strip()],
        spectra_per_structure=a.spectra_per_structure,
        split_mode=a.split_mode,
    )


def build_main(argv=None, description: str | None = None) -> int:
    """Build the glycan MS/MS -> WURCS set and print its summary: 0, or 2 with one line on stderr."""
    a = build_parser(description).parse_args(argv)
    try:
        s = _build(a)
    except (MissingDependency, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if s is not None:
        s.pop("schema", None)
        print(json.dumps(s, indent=2))
    return 0


# --------------------------------------------------------- benchmark/generate_glycan_input.py ---
def corpus_parser(description: str | None = None) -> argparse.ArgumentParser:
    ap = _parser(description)
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
    _add_token_options(ap)
    return ap


def _add_token_options(ap) -> None:
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
        "--numeric_peaks",
        action="store_true",
        help="source spectra as numbers (PMZ <bin>, PK <m/z bin> <intensity bin>) for -value_embedding",
    )
    ap.add_argument(
        "--reducing_end",
        default=d.reducing_end,
        help="reducing-end state of the precursors (free, reduced, 2AB, 2AA, ProA; "
        "onmt_moe/glycan/real/masses.py): its mass tag is taken off before the composition search",
    )


def token_config(a) -> SpecTokConfig:
    """The source-token settings of parsed :func:`corpus_parser` options."""
    return SpecTokConfig(
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
        numeric_peaks=a.numeric_peaks,
    )


def corpus_main(argv=None, description: str | None = None) -> None:
    """Write the corpus; a bad input exits with one line (``SystemExit("error: …")``, status 1)."""
    a = corpus_parser(description).parse_args(argv)
    opt = CorpusOptions(a.text, a.missing, a.pred_spectra, a.multitask, a.task_weights, a.target_task_token)
    try:
        write_corpus(a.input, a.out_dir, token_config(a), opt)
    except CorpusError as e:
        sys.exit(f"error: {e}")


# ----------------------------------------------------------------- scripts/simulate_real_twin.py ---
def twin_parser(description: str | None = None) -> argparse.ArgumentParser:
    ap = _parser(description)
    add_annotated_set_options(ap)
    ap.add_argument("--out_dir", required=True)
    ap.add_argument("--seed", type=int, default=SimParams.seed, help="simulator noise seed")
    ap.add_argument("--real", action="store_true", help="write the matched real spectra instead (the control)")
    add_real_spectrum_options(ap)
    return ap


def twin_main(argv=None, description: str | None = None) -> int:
    """Write a real set's simulated twin (or, with --real, its matched real subset): 0, or 2 with one line."""
    a = twin_parser(description).parse_args(argv)
    with warnings.catch_warnings():  # the readers' and glypy's chatter, not the caller's other warnings
        warnings.simplefilter("ignore")
        try:
            pairs, skipped = annotated_pairs(a.spectra, a.annotations, a.glycan_class)
        except (AnnotationError, OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        xlsx, csv, n, params = _write_twin(a, pairs)
    info = {
        "spectra": a.spectra,
        "written": n,
        "not_simulated": skipped,
        "sim_params": None if a.real else params.to_dict(),
    }
    with open(os.path.join(a.out_dir, "twin.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    print(
        f"{n} {'real' if a.real else 'simulated'} spectra ({sum(skipped.values())} annotations skipped) -> {xlsx}, {csv}"
    )
    return 0


def _write_twin(a, pairs) -> tuple:
    """(xlsx, csv, spectra written, simulator parameters) of the twin (or real subset) in --out_dir."""
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(a.spectra))[0] + ("_real" if a.real else "_sim")
    xlsx = os.path.join(a.out_dir, f"{stem}.xlsx")
    csv = os.path.join(a.out_dir, f"df_mz_{stem}.csv")
    params = SimParams(seed=a.seed, **real_spectrum_knobs(a))
    return xlsx, csv, write_twin(pairs, None if a.real else params, xlsx, csv), params
