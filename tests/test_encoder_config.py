"""One config object for moe_transformer (issue 34 item 2): declared once, built once, validated once,
used by the encoder and by ``--dry_run`` alike; the encoder split by job; aux values returned."""

import argparse
import ast
import dataclasses
import pathlib

import pytest
import torch
from onmt.utils.parse import ArgumentParser

from onmt_moe.moe import MoEArgs
from onmt_moe.plugin.alignment import AlignmentArgs
from onmt_moe.plugin.encoder_config import NOT_ENCODER_OPTIONS, EncoderConfig, declared_defaults
from onmt_moe.plugin.fusion import FusionArgs
from onmt_moe.plugin.option_fields import option_fields
from onmt_moe.plugin.patches import PatchArgs
from onmt_moe.plugin.segment_positions import EmbeddingArgs
from onmt_moe.plugin.value_embedding import ValueArgs
from tests import helpers_onmt as H

PLUGIN = pathlib.Path(__file__).resolve().parents[1] / "onmt_moe" / "plugin"
ENCODER_MODULES = [
    "encoder.py",
    "encoder_config.py",
    "encoder_layer.py",
    "encoder_aux.py",
    "fusion.py",
    "segment_positions.py",
    "alignment.py",
    "option_fields.py",
]
PARTS = {
    "": EncoderConfig,
    "fusion": FusionArgs,
    "embedding": EmbeddingArgs,
    "alignment": AlignmentArgs,
    "value": ValueArgs,
    "patch": PatchArgs,
}


def _without_plugin_options(opt):
    """``opt`` as an older checkpoint (or a bare namespace) has it: no plugin option at all."""
    old = argparse.Namespace(**vars(opt))
    for name in declared_defaults():
        if name != "moe_modality_vocab":  # written by the vocabulary patch when the model is built
            delattr(old, name)
    return old


def _part(cfg, attr):
    return getattr(cfg, attr) if attr else cfg


def test_every_declared_plugin_option_is_read_by_the_config_or_declared_not_an_encoder_option():
    read = {opt for cls in PARTS.values() for opt in option_fields(cls).values()}
    read |= {"moe_" + f.name for f in dataclasses.fields(MoEArgs)} & set(declared_defaults())
    read.add("moe_modality_vocab")  # ModalityVocab.from_opt
    assert read.isdisjoint(NOT_ENCODER_OPTIONS)
    assert read | set(NOT_ENCODER_OPTIONS) == set(declared_defaults())


def test_every_field_defaults_to_the_declaration_in_opts():
    declared = declared_defaults()
    cfg = EncoderConfig.from_opt(_without_plugin_options(H.opts()))
    for attr, cls in PARTS.items():
        for field in dataclasses.fields(cls):
            if "option" in field.metadata:
                want = field.metadata["convert"](declared[field.metadata["option"]])
                assert getattr(_part(cfg, attr), field.name) == want, field.metadata["option"]
    for field in dataclasses.fields(MoEArgs):
        if "moe_" + field.name in declared:
            assert getattr(cfg.moe, field.name) == declared["moe_" + field.name], field.name
    assert cfg.problems() == []
    # and the config read from a full training opt holding the parser's defaults is the same
    assert EncoderConfig.from_opt(H.opts(moe_num_experts=declared["moe_num_experts"])) == cfg


def test_an_old_checkpoint_without_the_plugin_options_builds_the_same_encoder():
    opt = H.opts(moe_num_experts=8)  # helpers_onmt's opts set 4; 8 is the declared default
    old = ArgumentParser.ckpt_model_opts(_without_plugin_options(opt))  # how OpenNMT loads a checkpoint
    a, b = H.model(opt, seed=3).eval(), H.model(old, seed=3).eval()
    assert list(a.state_dict()) == list(b.state_dict())
    batch = H.batch(H.vocabs(), H.SRC, H.TGT)
    b.encoder.load_state_dict(a.encoder.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(
            a.encoder(batch["src"], batch["srclen"])[0], b.encoder(batch["src"], batch["srclen"])[0], rtol=0, atol=0
        )


BAD = [
    ("fusion_layers", {"fusion_layers": -1}),
    ("fusion_heads", {"fusion_heads": -2}),
    ("fusion_heads", {"fusion_layers": 1, "fusion_heads": 3}),  # 3 does not divide 16
    ("fusion_layers", {"fusion_layers": "two"}),
    ("within_modality_attention", {"within_modality_attention": "maybe"}),
    ("modality_type_embedding", {"modality_type_embedding": [1]}),
    ("segment_positions", {"segment_positions": True, "position_encoding": False, "max_relative_positions": -1}),
    ("moe_layers", {"moe_layers": [0, 5]}),
    ("moe_layers", {"moe_layers": ["first"]}),
    ("moe_modalities", {"moe_modalities": ["OTHER", "IR"]}),
    ("moe_modalities", {"moe_modalities": ["IR", "IR"]}),
    ("moe_trained_step", {"moe_trained_step": -5}),
    ("moe_contrastive_coef", {"moe_contrastive_coef": "ramp:0:1"}),
    ("moe_contrastive_coef", {"moe_contrastive_coef": "-0.1"}),
    ("moe_contrastive_temperature", {"moe_contrastive_temperature": 0.0}),
    ("moe_contrastive_temperature", {"moe_contrastive_temperature": "warm"}),
    ("moe_contrastive_margin", {"moe_contrastive_margin": -0.2}),
    ("moe_contrastive_pair", {"moe_contrastive_pair": ["MS", "MS"]}),
    ("moe_contrastive_pairs", {"moe_contrastive_pairs": "MS-WURCS"}),
    ("moe_num_experts", {"moe_num_experts": 0}),
    ("moe_top_k", {"moe_top_k": 9}),
    ("moe_router_temperature", {"moe_router_temperature": "linear:2:1"}),
    ("moe_expert_d_ff", {"moe_expert_d_ff": [8, 8]}),
    ("parallel_residual", {"parallel_residual": True}),
    ("use_ckpting", {"use_ckpting": ["ffn"]}),
]


def _problems(kw):
    opt = H.opts()
    for k, v in kw.items():
        setattr(opt, k, v)
    try:
        return EncoderConfig.from_opt(opt).problems()
    except ValueError as exc:  # a value of the wrong type: refused while reading
        return [str(exc)]


@pytest.mark.parametrize("option,kw", BAD, ids=[f"{o}={list(kw.values())[-1]}" for o, kw in BAD])
def test_the_config_refuses_each_bad_value_naming_the_option(option, kw):
    problems = _problems(kw)
    assert len(problems) == 1, problems
    msg = problems[0]
    onmt_option = option in ("parallel_residual", "use_ckpting")
    assert msg.lstrip("-").startswith(option) or (onmt_option and f"does not support {option}" in msg), msg
    opt = H.opts()
    for k, v in kw.items():
        setattr(opt, k, v)
    # building the model refuses it too, with the config's message (an OTHER in moe_modalities is refused
    # earlier, by the vocabulary patch of onmt_patches, in its own words)
    with pytest.raises(ValueError, match=None if kw.get("moe_modalities") == ["OTHER", "IR"] else option):
        H.model(opt)


@pytest.mark.parametrize("option,kw", BAD, ids=[f"{o}={list(kw.values())[-1]}" for o, kw in BAD])
def test_dry_run_refuses_each_bad_value(option, kw):
    from onmt_moe.runs import runner

    cfg = dict(encoder_type="moe_transformer", hidden_size=16, heads=2, layers=2, transformer_ff=32, moe_num_experts=4)
    cfg.update(kw)
    problems = runner._model_problems(cfg, runner.known_options())
    assert any(option in p for p in problems), problems


def test_valid_values_pass_the_dry_run():
    from onmt_moe.runs import runner

    cfg = dict(encoder_type="moe_transformer", hidden_size=16, heads=2, layers=2, transformer_ff=32)
    cfg.update(fusion_layers=2, fusion_heads=4, within_modality_attention=True, segment_positions=True)
    cfg.update(position_encoding=True, moe_layers=[1], moe_contrastive_coef="linear:0:0.1:100", moe_modalities=["MS"])
    assert runner._model_problems(cfg, runner.known_options()) == []


def _module(name):
    return ast.parse((PLUGIN / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ENCODER_MODULES)
def test_no_getattr_on_the_options_in_the_encoder_modules(name):
    for node in ast.walk(_module(name)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
            first = node.args[0] if node.args else None
            assert not (isinstance(first, ast.Name) and first.id in ("opt", "model_opt")), (
                f"{name}:{node.lineno}: {node.func.id}({first.id}, …): read options through EncoderConfig"
            )


@pytest.mark.parametrize("name", ENCODER_MODULES)
def test_no_class_over_150_lines_in_the_encoder_modules(name):
    for node in ast.walk(_module(name)):
        if isinstance(node, ast.ClassDef):
            assert node.end_lineno - node.lineno + 1 <= 150, f"{name}: {node.name}"


def test_only_the_config_reads_the_options():
    """Outside encoder_config.py, ``opt`` appears only where OpenNMT hands it over (from_opt) to the config."""
    for name in ENCODER_MODULES:
        if name == "encoder_config.py":
            continue
        for fn in ast.walk(_module(name)):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name != "from_opt":
                names = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
                assert "opt" not in names, f"{name}: {fn.name}"


def test_forward_returns_the_aux_values_and_leaves_them_on_one_link_for_the_loss():
    from onmt_moe.plugin.loss import MoELossCompute

    opt = H.opts(moe_contrastive_coef="0.5", moe_contrastive_pair=["FORMULA", "IR"])
    model = H.model(opt).train()
    enc = model.encoder
    b = H.batch(H.vocabs(), H.SRC, H.TGT)
    torch.manual_seed(1)
    out, aux, _ = enc.encode(b["src"], b["srclen"])
    assert "contrastive" in aux.losses and "load_balance" in aux.losses
    assert aux.coefficients == enc.aux_coefficients(enc.step)
    assert aux.align_states is not None  # the alignment ran, on these states
    torch.manual_seed(1)
    again, _, _ = enc(b["src"], b["srclen"])
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    assert set(enc.aux_link.last.losses) == set(aux.losses)
    # the loss holds the encoder's plain link, not the model (nothing registered twice, no hidden attribute)
    lc = MoELossCompute.from_opts(opt, model, H.vocabs()["tgt"], train=True)
    assert lc.aux_link is enc.aux_link and "_model_ref" not in vars(lc)
    assert not any(m is model or m is enc for m in lc.modules())
    # eval: the retrieval states without any flag on the encoder
    enc.eval()
    with torch.no_grad():
        states = enc.align_states(b["src"], b["srclen"])
    assert states.shape == out.shape and not hasattr(enc, "keep_align_states")
