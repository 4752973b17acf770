#!/usr/bin/env python
"""Score a glycan run on real annotated LC-MS/MS, beside the baselines on the same spectra.

    python benchmark/evaluate_real_glycan.py --run runs/glycan --spectra JC_141128PGMa.xlsx \\
        --annotations df_mz_GPST000017.csv --glycan_class O [--out runs/glycan/real_GPST000017]

Without --run only the baselines are scored (random isomer of the true composition; random
isomer of the composition inferred from the precursor).  Matching, identity under ambiguous
annotations and the F1 are documented in onmt_moe/glycan/real/evaluate.py.  Writes
real_scores.json and real_annotations.csv (one row per annotation) into --out.
Exit 2 with one line on bad input.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.real import masses  # noqa: E402
from onmt_moe.glycan.real.annotations import AnnotationError  # noqa: E402
from onmt_moe.glycan.real.evaluate import Options, format_table  # noqa: E402
from onmt_moe.glycan.real.realism import add_annotated_set_options  # noqa: E402
from onmt_moe.glycan.real.spectra_io import SpectraFileError  # noqa: E402
from onmt_moe.inference import ModelError  # noqa: E402
from onmt_moe.predict import InputError  # noqa: E402
from onmt_moe.runfolder import trusting_checkpoints  # noqa: E402
from onmt_moe.runs.glycan_real_model import evaluate_run  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="run folder (newest checkpoint) or a checkpoint; omit for baselines only")
    ap.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load --run's checkpoint as a full pickle (it can run code): only for a checkpoint you trust",
    )
    add_annotated_set_options(ap)  # --spectra, --annotations, --glycan_class
    ap.add_argument("--out", help="output folder (default: <run>/real_<spectra stem>, else no files)")
    ap.add_argument("--candycrunch", help="CandyCrunch's predictions on the same file (scripts/run_candycrunch.py csv)")
    d = Options()
    ap.add_argument("--reducing_end", default=d.reducing_end, choices=sorted(masses.REDUCING_END_FORMULA))
    ap.add_argument("--precursor_tol", type=float, default=d.precursor_tol, help="m/z, composition search")
    ap.add_argument("--fragment_tol", type=float, default=d.fragment_tol, help="m/z, loss / diagnostic tokens")
    ap.add_argument("--mz_tol", type=float, default=d.mz_tol, help="annotation matching, m/z")
    ap.add_argument("--rt_tol", type=float, default=d.rt_tol, help="annotation matching, minutes")
    ap.add_argument("--n_best", type=int, default=d.n_best)
    ap.add_argument("--beam_size", type=int, default=d.beam_size)
    ap.add_argument("--max_residues", type=int, default=d.max_residues)
    ap.add_argument(
        "--sim_samples",
        type=int,
        default=d.sim_samples,
        help="baselines: non-admitted pool members sampled for the expected similarity",
    )
    ap.add_argument(
        "--library_max",
        type=int,
        default=d.library_max,
        help="closed set: class-list isomers of the inferred composition ranked by the model's likelihood, "
        "at most this many per spectrum (0 = off)",
    )
    a = ap.parse_args(argv)
    opts = Options(
        reducing_end=a.reducing_end,
        precursor_tol=a.precursor_tol,
        fragment_tol=a.fragment_tol,
        mz_tol=a.mz_tol,
        rt_tol=a.rt_tol,
        n_best=a.n_best,
        beam_size=max(a.beam_size, a.n_best),
        max_residues=a.max_residues,
        sim_samples=a.sim_samples,
        library_max=a.library_max,
    )
    out = a.out
    if out is None and a.run:
        base = a.run if os.path.isdir(a.run) else os.path.dirname(a.run)
        out = os.path.join(base, "real_" + os.path.splitext(os.path.basename(a.spectra))[0])
    try:
        with trusting_checkpoints(a.trust_checkpoint):  # every load of --run's checkpoint, OpenNMT's included
            res = evaluate_run(a.spectra, a.annotations, a.glycan_class, a.run, opts, out, candycrunch=a.candycrunch)
    except (SpectraFileError, AnnotationError, InputError, ModelError) as e:
        # InputError: the corpus settings of --run (predict.settings); ModelError: no usable checkpoint
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(res))
    if out:
        print(f"-> {out}/real_scores.json, {out}/real_annotations.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
