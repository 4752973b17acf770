"""Schedules, command-line options, MoEArgs validation."""

import argparse

import pytest

from onmt_moe.moe import MoEArgs, Schedule, add_moe_options


def test_schedules():
    assert Schedule("0.5")(123) == 0.5 and Schedule(2)(0) == 2.0
    s = Schedule("linear:2.0:1.0:100")
    assert [s(0), s(50), s(100), s(1000)] == pytest.approx([2.0, 1.5, 1.0, 1.0])
    d = Schedule("linear:1:0:10:5")
    assert [d(0), d(5), d(10), d(15), d(30)] == pytest.approx([1, 1, 0.5, 0, 0])
    c = Schedule("cosine:1:0:10")
    assert [c(0), c(5), c(10)] == pytest.approx([1, 0.5, 0])
    st = Schedule("step:0:1:7")
    assert (st(6), st(7)) == (0, 1)
    assert Schedule("0").is_zero() and not Schedule("linear:0:1:5").is_zero()


@pytest.mark.parametrize("bad", ["abc", "linear:1:2", "warm:1:2:3", "linear:1:2:0", "linear:a:1:3"])
def test_bad_schedules(bad):
    with pytest.raises(ValueError):
        Schedule(bad)


def parse(argv):
    try:
        from onmt.utils.parse import ArgumentParser

        parser = ArgumentParser()
    except Exception:  # noqa: BLE001 - plain argparse also works
        parser = argparse.ArgumentParser()
    add_moe_options(parser)
    return parser.parse_known_args(argv)[0]


def test_options_round_trip():
    opt = parse(
        [
            "-moe_num_experts",
            "6",
            "-moe_top_k",
            "1",
            "-moe_expert_d_ff",
            "8",
            "8",
            "8",
            "8",
            "4",
            "4",
            "-moe_overflow",
            "next_best",
            "-moe_lb_coef",
            "linear:0.1:0.01:1000",
        ]
    )
    args = MoEArgs.from_opt(
        opt, d_model=16, d_ff=32, activation="gelu", add_ffnbias=False, dropout=0.2, num_modalities=5
    ).validate()
    assert args.num_experts == 6 and args.top_k == 1 and args.expert_widths == [8, 8, 8, 8, 4, 4]
    assert args.overflow == "next_best" and args.activation == "gelu" and not args.add_ffnbias
    assert args.num_modalities == 5 and args.aux_coefficients(0)["load_balance"] == pytest.approx(0.1)
    defaults = vars(parse([]))
    for name, value in defaults.items():
        if name.startswith("moe_"):
            assert isinstance(value, (int, float, str, list)), name
            assert getattr(MoEArgs(), name[4:]) == value, name  # one set of defaults


def test_from_opt_with_missing_options_uses_defaults():
    args = MoEArgs.from_opt(argparse.Namespace(), d_model=8, d_ff=16)
    assert args.num_experts == 8 and args.top_k == 2 and args.lb_coef == "0.01"


@pytest.mark.parametrize(
    "field,value,option",
    [
        ("top_k", 9, "moe_top_k"),
        ("expert_d_ff", [4, 4], "moe_expert_d_ff"),
        ("overflow", "spill", "moe_overflow"),
        ("router_temperature", "0", "moe_router_temperature"),
        ("lb_coef", "linear:1:x:3", "moe_lb_coef"),
        ("num_experts", 0, "moe_num_experts"),
        ("activation", "tanh", "activation"),
    ],
)
def test_validate_names_the_option(field, value, option):
    args = MoEArgs(**{field: value})
    with pytest.raises(ValueError, match=option):
        args.validate()
