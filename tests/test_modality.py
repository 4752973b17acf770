"""Token → modality ids from tag tokens (onmt_moe.modality.lookup), without OpenNMT."""

import torch

from onmt_moe.modality.lookup import ModalityLookup
from onmt_moe.modality.vocab import ModalityVocab


def find_tags(itos, names=None):
    v = ModalityVocab.from_tokens(itos, names)
    return list(v.names), [list(p) for p in v.tag_ids]


ITOS = [
    "<unk>",
    "<blank>",
    "<s>",
    "</s>",
    "<NMR>",
    "</NMR>",
    "<IR>",
    "</IR>",
    "1HNMR",
    "7.1",
    "IR",
    "5",
    "<MISSING>",
    "C",
]


def test_find_tags_sorted_and_explicit_order():
    names, ids = find_tags(ITOS)
    assert names == ["IR", "NMR"]  # <MISSING> has no closing tag: not a modality
    assert ids == [[6, 7], [4, 5]]
    names, ids = find_tags(ITOS, ["NMR", "IR", "MS"])
    assert names == ["NMR", "IR", "MS"] and ids == [[4, 5], [6, 7], [-1, -1]]


def test_lookup_segments_tags_and_outside_tokens():
    names, ids = find_tags(ITOS, ["NMR", "IR"])  # NMR=1, IR=2, OTHER=0
    look = ModalityLookup(ids)
    seq = ["C", "<NMR>", "1HNMR", "7.1", "</NMR>", "C", "<IR>", "IR", "5", "</IR>", "<blank>"]
    tok = torch.tensor([[ITOS.index(t) for t in seq]])
    got = look(tok)[0].tolist()
    assert got == [0, 1, 1, 1, 1, 0, 2, 2, 2, 2, 0]


def test_lookup_batch_rows_are_independent_and_unknown_ids_are_other():
    _, ids = find_tags(ITOS)
    look = ModalityLookup(ids)
    a = torch.tensor([[6, 10, 11, 7, 999]])  # id 999 beyond every tag id
    b = torch.tensor([[4, 8, 9, 5, 1]])
    both = look(torch.cat([a, b]))
    assert torch.equal(both[0], look(a)[0]) and torch.equal(both[1], look(b)[0])
    assert both[0].tolist() == [1, 1, 1, 1, 0] and both[1].tolist() == [2, 2, 2, 2, 0]


def test_untagged_input_is_one_modality():
    look = ModalityLookup([])
    assert look.num_modalities == 1
    assert look(torch.tensor([[5, 6, 7]])).tolist() == [[0, 0, 0]]


def test_unclosed_segment_runs_to_the_end():
    _, ids = find_tags(ITOS, ["NMR"])
    look = ModalityLookup(ids)
    assert look(torch.tensor([[13, 4, 9, 9]])).tolist() == [[0, 1, 1, 1]]


def test_one_name_value_reader_for_every_option():
    import pytest

    from onmt_moe.data.columns import DataError
    from onmt_moe.data.tagged import parse_groups
    from onmt_moe.modality.tags import has_data, parse_name_values

    assert parse_name_values(" IR=0.3, ,MS=0.2", "--x") == {"IR": "0.3", "MS": "0.2"}
    assert parse_name_values(["a=1", "b=2,c=3"], "--x") == {"a": "1", "b": "2", "c": "3"}
    assert parse_name_values(None, "--x") == {} and parse_name_values("", "--x") == {}
    with pytest.raises(ValueError, match=r"^--x: expected NAME=P, got 'IR'$"):
        parse_name_values("IR", "--x", value="P")
    with pytest.raises(ValueError, match="got '=1'"):
        parse_name_values("=1", "--x")
    # the callers keep their own checks and error types
    with pytest.raises(DataError, match="--groups: expected section=NAME, got 'h_nmr'"):
        parse_groups("h_nmr")
    assert parse_groups("h_nmr=HNMR, c_nmr=CNMR") == {"h_nmr": "HNMR", "c_nmr": "CNMR"}
    assert has_data(["7.1"]) and not has_data(["<MISSING>"]) and not has_data([])
