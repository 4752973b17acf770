"""The plugin's command-line options are frozen: names, dest, defaults, types, choices, nargs, help, order.

``add_moe_options`` and ``add_plugin_options`` are declaration lists; refactoring them (e.g. into option
specs and a loop) must not change what ``onmt_train -h`` shows or what a config key parses to. The
snapshot in ``fixtures/option_snapshot.json`` was taken from the declarations before they were turned
into data; regenerate it only for a deliberate option change:
``python -m tests.test_option_snapshot > tests/fixtures/option_snapshot.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import configargparse

from onmt_moe.moe import add_moe_options
from onmt_moe.plugin.opts import add_plugin_options, add_segment_options, add_translate_options

SNAPSHOT = Path(__file__).parent / "fixtures" / "option_snapshot.json"
DECLARERS = {
    "add_moe_options": add_moe_options,
    "add_plugin_options": add_plugin_options,
    "add_segment_options": add_segment_options,
    "add_translate_options": add_translate_options,
}


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def describe(declare) -> dict:
    """Every action the declarer adds, in order, with its group, plus the full ``-h`` text."""
    parser = configargparse.ArgumentParser(
        prog="onmt_train",
        add_help=False,
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100),  # not $COLUMNS
    )
    declare(parser)
    groups = {id(a): g.title for g in parser._action_groups for a in g._group_actions}
    actions = [
        {
            "option_strings": list(a.option_strings),
            "dest": a.dest,
            "action": type(a).__name__,
            "default": _jsonable(a.default),
            "type": getattr(a.type, "__name__", repr(a.type)) if a.type is not None else None,
            "choices": _jsonable(a.choices),
            "nargs": a.nargs,
            "const": _jsonable(a.const),
            "required": a.required,
            "metavar": _jsonable(a.metavar),
            "help": a.help,
            "group": groups.get(id(a)),
        }
        for a in parser._actions
    ]
    return {"actions": actions, "help": parser.format_help()}


def snapshot() -> dict:
    return {name: describe(declare) for name, declare in DECLARERS.items()}


def test_options_match_snapshot():
    expected = json.loads(SNAPSHOT.read_text())
    actual = json.loads(json.dumps(snapshot()))
    assert actual.keys() == expected.keys()
    for name in expected:
        assert actual[name]["actions"] == expected[name]["actions"], name
        assert actual[name]["help"] == expected[name]["help"], name


def test_snapshot_is_not_empty():
    expected = json.loads(SNAPSHOT.read_text())
    assert len(expected["add_moe_options"]["actions"]) == 29
    assert len(expected["add_plugin_options"]["actions"]) > len(expected["add_moe_options"]["actions"])


if __name__ == "__main__":
    print(json.dumps(snapshot(), indent=1, sort_keys=True))
