"""Glycan spectra written as numbers (``SpecTokConfig.numeric_peaks``) for the value embedding: the same
bins as the word tokens, the precursor first, targets always words, and the readers of source lines
(precursor re-ranking, the demo's corpus reuse) follow."""

import json

import torch

from onmt_moe.glycan.evaluate import _precursors
from onmt_moe.glycan.multitask import task_pair
from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens, spectrum_tokens
from onmt_moe.numbers import number_value

PEAKS = [[204.087, 50.0], [366.14, 100.0], [163.06, 3.0], [120.2, 0.1]]  # the last is below min_rel_int


def _words_and_numbers(precursor=1011.4, charge=-1):
    words = spectrum_tokens(precursor, charge, PEAKS, SpecTokConfig())
    numbers = spectrum_tokens(precursor, charge, PEAKS, SpecTokConfig(numeric_peaks=True))
    return words, numbers


def test_numeric_peaks_carry_the_same_bins_as_the_words():
    words, numbers = _words_and_numbers()
    assert numbers[0] == words[0].removeprefix("PMZ_") and number_value(numbers[0]) == 1011
    assert [t for t in words if t.startswith("MZ_")] == [
        f"MZ_{numbers[i + 1]}" for i, t in enumerate(numbers) if t == "PK"
    ]
    assert [t for t in words if t.startswith("INT_")] == [
        f"INT_{numbers[i + 2]}" for i, t in enumerate(numbers) if t == "PK"
    ]
    # the annotations stay words, in the same order
    keep = ("CHARGE_", "NLP_", "NLD_", "DIAG_")
    assert [t for t in words if t.startswith(keep)] == [t for t in numbers if t.startswith(keep)]
    assert not any(t.startswith(("MZ_", "INT_", "PMZ_")) for t in numbers)


def test_every_number_follows_its_field_marker_with_the_mz_before_the_intensity():
    _, numbers = _words_and_numbers()
    src = source_tokens(1011.4, -1, PEAKS, ["n-linked"], SpecTokConfig(numeric_peaks=True))
    assert src[:2] == ["<MS>", numbers[0]]  # the first token of the segment: the contrastive hard key
    for i, t in enumerate(numbers):
        if t == "PK":
            mz, q = number_value(numbers[i + 1]), number_value(numbers[i + 2])
            assert mz is not None and q is not None and 0 <= q <= 9 and mz > 100
    assert sum(1 for t in numbers if number_value(t) is not None) == 1 + 2 * numbers.count("PK")


def test_the_structure_to_spectrum_target_is_words_whatever_the_source():
    cfg = SpecTokConfig(numeric_peaks=True)
    wurcs = ["WURCS=2.0/1,1,0/", "a2122h-1b_1-5", "/1"]
    src, tgt = task_pair("spec", wurcs, 1011.4, -1, PEAKS, [], cfg, with_text=False)
    assert tgt == spectrum_tokens(1011.4, -1, PEAKS, SpecTokConfig())
    src, tgt = task_pair("struct", wurcs, 1011.4, -1, PEAKS, [], cfg, with_text=False)
    assert "PK" in src and tgt == wurcs


def test_precursor_bins_are_read_from_numeric_and_word_sources(tmp_path):
    lines = [
        " ".join(source_tokens(1011.4, -2, PEAKS, [], SpecTokConfig(numeric_peaks=True), with_text=False)),
        " ".join(source_tokens(1011.4, -2, PEAKS, [], SpecTokConfig(), with_text=False)),
        "<MS> CHARGE_-1 PK 204 5 </MS>",
    ]
    path = tmp_path / "src.txt"
    path.write_text("\n".join(lines) + "\n")
    assert _precursors(str(path), 3) == [(1011, 2), (1011, 2), None]


def test_the_value_embedding_reads_the_numeric_peaks_as_values():
    from onmt_moe.plugin.value_embedding import TokenValues

    _, numbers = _words_and_numbers()
    itos = ["<blank>", "<unk>", "<MS>", *dict.fromkeys(numbers)]
    table = TokenValues()
    table.attach(itos)
    values, is_number = table.on(torch.device("cpu"))
    for tok, v, num in zip(itos, values.tolist(), is_number.tolist(), strict=True):
        expected = number_value(tok)
        assert num == (expected is not None) and (expected is None or v == expected), tok
    assert sum(is_number.tolist()) >= 4  # the precursor, m/z and intensity bins


def test_demo_refuses_a_corpus_written_the_other_way(tmp_path, capsys):
    from onmt_moe.runs.demo_glycan import GlycanDemo, build_corpus

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tasks.json").write_text("{}")
    (corpus / "summary.json").write_text(json.dumps({"spectrum_tokens": {"numeric_peaks": False}}))
    assert build_corpus(GlycanDemo(data=str(tmp_path / "d"), corpus=str(corpus), numeric_peaks=False))
    assert not build_corpus(GlycanDemo(data=str(tmp_path / "d"), corpus=str(corpus), numeric_peaks=True))
    assert "numeric_peaks=False" in capsys.readouterr().err
    assert GlycanDemo(data=str(tmp_path / "d"), numeric_peaks=True).corpus.endswith("d_mt_values")
