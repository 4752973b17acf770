"""A glycan run's model on real annotated LC-MS/MS (``benchmark/evaluate_real_glycan.py``).

:mod:`onmt_moe.glycan.real.evaluate` scores any :class:`~onmt_moe.glycan.real.evaluate.StructureModel`
and imports neither torch nor OpenNMT; :class:`RunModel` is that model for a run folder (its newest
checkpoint) or a checkpoint file: the corpus' spectrum-token settings found as ``onmt_moe_predict``
finds them (:func:`onmt_moe.predict.settings.resolve`), beam search with OpenNMT's inference engine and
teacher-forced likelihoods (:mod:`onmt_moe.inference`). Each is read or loaded only when asked for, so a
bad spectra or annotations file fails before anything slow.
"""

from __future__ import annotations

from onmt_moe.glycan.real import evaluate as ev


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
