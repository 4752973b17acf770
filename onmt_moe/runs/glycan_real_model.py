"""A glycan run's model on real annotated LC-MS/MS (``benchmark/evaluate_real_glycan.py``: :func:`main`).

:mod:`onmt_moe.glycan.real.evaluate` scores any :class:`~onmt_moe.glycan.real.evaluate.StructureModel`
and imports neither torch nor OpenNMT; :class:`RunModel` is that model for a run folder (its newest
checkpoint) or a checkpoint file: the corpus' spectrum-token settings found as ``onmt_moe_predict``
finds them (:func:`onmt_moe.predict.settings.resolve`), beam search with OpenNMT's inference engine and
teacher-forced likelihoods (:mod:`onmt_moe.inference`). Each is read or loaded only when asked for, so a
bad spectra or annotations file fails before anything slow.
"""

from __future__ import annotations

import argparse
import os
import sys

from onmt_moe.glycan.real import evaluate as ev
from onmt_moe.glycan.real import masses
from onmt_moe.glycan.real.annotations import AnnotationError
from onmt_moe.glycan.real.realism import add_annotated_set_options
from onmt_moe.glycan.real.spectra_io import SpectraFileError
from onmt_moe.inference import ModelError
from onmt_moe.predict import InputError
from onmt_moe.runfolder import trusting_checkpoints


class RunModel:
    """``run``: a run folder (its newest ``model_step_N.pt``) or a checkpoint file."""

    def __init__(self, run: str):
        self.name = run

    def corpus_tokens(self) -> tuple[dict, bool]:
        from onmt_moe.inference.decode import checkpoint_info, checkpoint_path
        from onmt_moe.predict.settings import resolve

        ckpt = checkpoint_path(self.name)
        cfg = resolve(ckpt, train_src=checkpoint_info(ckpt)[1])
        return cfg.glycan_tokens, cfg.glycan_text

    def decode(self, lines: list[str], n_best: int, beam_size: int, max_length: int) -> list[list[tuple[str, float]]]:
        from onmt_moe.inference.decode import Decoder, checkpoint_path

        dec = Decoder(checkpoint_path(self.name), n_best, beam_size, max_length)
        try:
            return dec.decode(lines) if lines else []
        finally:
            dec.close()

    def scorer(self) -> ev.Scorer:
        from onmt_moe.inference.decode import checkpoint_path
        from onmt_moe.inference.likelihood import load_model, log_likelihood

        model, vocabs = load_model(checkpoint_path(self.name))
        return lambda source, candidates: log_likelihood(model, vocabs, source, candidates)


def evaluate_run(
    spectra: str,
    annotations: str,
    glycan_class: str,
    run: str | None = None,
    opts: ev.Options | None = None,
    out_dir: str | None = None,
    log=print,
    candycrunch: str | None = None,
) -> dict:
    """:func:`onmt_moe.glycan.real.evaluate.evaluate` with ``run``'s model (None: the baselines only)."""
    model = RunModel(run) if run else None
    return ev.evaluate(spectra, annotations, glycan_class, model, opts, out_dir, log, candycrunch)


def parser(description: str | None = None) -> argparse.ArgumentParser:
    """The options of ``benchmark/evaluate_real_glycan.py``."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="run folder (newest checkpoint) or a checkpoint; omit for baselines only")
    ap.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load --run's checkpoint as a full pickle (it can run code): only for a checkpoint you trust",
    )
    add_annotated_set_options(ap)  # --spectra, --annotations, --glycan_class
    ap.add_argument("--out", help="output folder (default: <run>/real_<spectra stem>, else no files)")
    ap.add_argument("--candycrunch", help="CandyCrunch's predictions on the same file (scripts/run_candycrunch.py csv)")
    d = ev.Options()
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
    return ap


def options(a) -> ev.Options:
    """The scoring options of parsed :func:`parser` arguments (the beam at least ``--n_best`` wide)."""
    return ev.Options(
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


def default_out(run: str | None, spectra: str) -> str | None:
    """``<run>/real_<spectra stem>`` (the folder of a checkpoint file), None without a run."""
    if not run:
        return None
    base = run if os.path.isdir(run) else os.path.dirname(run)
    return os.path.join(base, "real_" + os.path.splitext(os.path.basename(spectra))[0])


def main(argv=None, description: str | None = None) -> int:
    """Score a run (or only the baselines) on one real set and print the table: 0, or 2 with one line."""
    a = parser(description).parse_args(argv)
    out = a.out if a.out is not None else default_out(a.run, a.spectra)
    try:
        with trusting_checkpoints(a.trust_checkpoint):  # every load of --run's checkpoint, OpenNMT's included
            res = evaluate_run(
                a.spectra, a.annotations, a.glycan_class, a.run, options(a), out, candycrunch=a.candycrunch
            )
    except (SpectraFileError, AnnotationError, InputError, ModelError) as e:
        # InputError: the corpus settings of --run (predict.settings); ModelError: no usable checkpoint
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(ev.format_table(res))
    if out:
        print(f"-> {out}/real_scores.json, {out}/real_annotations.csv")
    return 0
