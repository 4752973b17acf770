"""The glycan track's scorers, registered with :mod:`onmt_moe.evaluation.registry` (which imports this
module by name): ``wurcs`` (graph identity), ``text`` (BLEU/chrF/fields) and ``spectrum`` on PMZ_/MZ_/INT_
token spectra. The scoring modules (glypy, sacrebleu) are imported only when a file is scored."""

from __future__ import annotations

from onmt_moe.evaluation import registry
from onmt_moe.evaluation.files import ScoringError
from onmt_moe.evaluation.scoring import GLYCAN_SPECTRUM_FORMAT


def _wurcs(pred_path, tgt_path, n_best, src_path=None, out_json=None, ranks_csv=None, **_unused):
    try:
        from onmt_moe.glycan.evaluate import score_wurcs_files
    except ImportError as exc:  # e.g. glypy missing
        raise ScoringError(
            f"kind=wurcs needs onmt_moe.glycan.evaluate.score_wurcs_files, which cannot be imported ({exc})"
        ) from None

    return score_wurcs_files(
        pred_path, tgt_path, n_best, out_json=out_json, ranks_csv=ranks_csv, src_path=src_path, verbose=False
    )


def _wurcs_report(result):
    from onmt_moe.glycan.evaluate import format_report

    return format_report(result)


def _text(pred_path, tgt_path, n_best, out_json=None, **_unused):
    from onmt_moe.glycan.text_score import score_text_files

    return score_text_files(pred_path, tgt_path, n_best, out_json=out_json)


def _text_report(result):
    from onmt_moe.evaluation.scoring import format_smiles_report  # top-k lines: the generic layout

    return format_smiles_report(result)


def _spectrum(pred_path, tgt_path, n_best, out_json=None, ranks_csv=None, **_unused):
    from onmt_moe.glycan.spectrum_score import score_spectrum_files

    return score_spectrum_files(pred_path, tgt_path, n_best, out_json=out_json, ranks_csv=ranks_csv)


def _spectrum_report(result):
    from onmt_moe.glycan.spectrum_score import format_report

    return format_report(result)


registry.register(registry.Scorer("wurcs", _wurcs, _wurcs_report))
registry.register(registry.Scorer("text", _text, _text_report))
registry.register(registry.Scorer("spectrum", _spectrum, _spectrum_report, target_format=GLYCAN_SPECTRUM_FORMAT))
