"""ModalityVocab: the one definition of the modality ids, carried by a declared, hidden model option."""

import argparse
import pickle

import pytest
import torch

from onmt_moe.modality.vocab import ABSENT, OTHER, OTHER_ID, ModalityVocab

ITOS = ["<unk>", "<blank>", "<NMR>", "</NMR>", "<IR>", "</IR>", "<MISSING>", "C"]


def test_ids_names_and_absent_tags():
    v = ModalityVocab.from_tokens(ITOS)
    assert v.names == ("IR", "NMR") and v.tag_ids == ((4, 5), (2, 3))
    assert v.all_names == [OTHER, "IR", "NMR"] and v.num_modalities == 3
    assert v.id_of(OTHER) == OTHER_ID == 0 and v.id_of("NMR") == 2 and v.id_of("MS") == -1
    assert v.name_of(1) == "IR" and v.name_of(7) == "M7"
    ordered = ModalityVocab.from_tokens(ITOS, ["NMR", "MS"])
    assert ordered.names == ("NMR", "MS") and ordered.tag_ids == ((2, 3), (ABSENT, ABSENT))


def test_option_value_is_plain_strings_and_round_trips():
    v = ModalityVocab.from_tokens(ITOS, ["NMR", "IR", "MS"])
    value = v.to_option()
    assert value == ["NMR:2:3", "IR:4:5", "MS:-1:-1"] and all(type(x) is str for x in value)
    assert ModalityVocab.from_option(value) == v
    # what a checkpoint pickles: no class of ours
    assert b"onmt_moe" not in pickle.dumps(argparse.Namespace(moe_modality_vocab=value))


def test_bad_option_items_and_other_as_a_tag_name_are_refused():
    with pytest.raises(ValueError, match="'NMR:2'"):
        ModalityVocab.from_option(["NMR:2"])
    with pytest.raises(ValueError, match="OTHER"):
        ModalityVocab(("OTHER",), ((1, 2),))


def test_from_opt_reads_the_option_and_the_attributes_of_older_checkpoints():
    new = argparse.Namespace(moe_modality_vocab=["FORMULA:4:5", "NMR:6:7"])
    old = argparse.Namespace(moe_modality_names=["FORMULA", "NMR"], moe_modality_tag_ids=[[4, 5], [6, 7]])
    assert (
        ModalityVocab.from_opt(new)
        == ModalityVocab.from_opt(old)
        == ModalityVocab(("FORMULA", "NMR"), ((4, 5), (6, 7)))
    )
    assert ModalityVocab.from_opt(argparse.Namespace()).num_modalities == 1  # no tags: every token OTHER


def test_the_option_is_declared_hidden_and_an_old_checkpoint_opt_builds_the_same_encoder():
    from onmt.model_builder import build_base_model
    from onmt.utils.parse import ArgumentParser

    from tests import helpers_onmt as H

    opt = H.opts()
    assert opt.moe_modality_vocab == []  # declared: every parsed opt has it, empty until the model is built
    parser = ArgumentParser()
    from onmt.opts import train_opts

    train_opts(parser)
    assert "moe_modality_vocab" not in parser.format_help()
    opt = H.opts(moe_modalities=["NMR", "FORMULA", "IR"])  # not the sorted order: ids must come from the opt
    model = H.model(opt)
    assert opt.moe_modality_vocab == ["NMR:6:7", "FORMULA:4:5", "IR:8:9"]

    # an opt as saved before the option existed: the two undeclared attributes, no moe_modality_vocab
    old = argparse.Namespace(
        **{k: v for k, v in vars(opt).items() if k not in ("moe_modality_vocab", "moe_modalities")}
    )
    old.moe_modality_names = ["NMR", "FORMULA", "IR"]
    old.moe_modality_tag_ids = [[6, 7], [4, 5], [8, 9]]
    old = ArgumentParser.ckpt_model_opts(old)  # what OpenNMT does with a checkpoint's opt
    again = build_base_model(old, H.vocabs())
    assert again.encoder.modality_names == model.encoder.modality_names == [OTHER, "NMR", "FORMULA", "IR"]
    again.load_state_dict(
        {
            "model": {k: t for k, t in model.state_dict().items() if "generator" not in k},
            "generator": model.generator.state_dict(),
        },
        strict=True,
    )
    src = torch.tensor([[4, 10, 5, 6, 12, 13, 7]]).unsqueeze(-1)
    assert torch.equal(again.encoder.modality_lookup(src[:, :, 0]), model.encoder.modality_lookup(src[:, :, 0]))
