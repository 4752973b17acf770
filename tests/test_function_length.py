"""Functions short enough to read at once: none in ``onmt_moe/`` is longer than MAX_LINES.

A function's length is its ``def`` statement's lines, signature and docstring included (decorators
not): ``end_lineno - lineno + 1``. Nested functions and methods count on their own (and inside the
function around them). The functions still over the limit are listed in ALLOWED with the reason each
stays; the list only shrinks: the test also fails when an allowed function is gone or got short, so
its entry is removed with the change that shortened it. ``python -m tests.test_function_length``
prints the current list.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "onmt_moe"
MAX_LINES = 60

# "path:qualified name" -> why it is still longer than MAX_LINES
ALLOWED = {
    # argparse declaration lists of the command-line entry points (one add_argument per option, help
    # texts included); candidates for option specs + a loop, as add_moe_options/add_plugin_options
    "onmt_moe/data/pipeline.py:build_parser": "declaration list: generate_input.py's options",
    "onmt_moe/predict/cli.py:build_parser": "declaration list: onmt_moe_predict's options",
    # OpenNMT monkey patches: each wraps several upstream functions in closures that share state
    "onmt_moe/plugin/onmt_patches.py:_install_cpu_distributed": "one closure per upstream CUDA use, sharing state",
    "onmt_moe/plugin/onmt_patches.py:_patch_formula_beam": "closures over the patched BeamSearch, sharing state",
    # not split yet (issue 34): each is one procedure, written top to bottom
    "onmt_moe/data/pipeline.py:_finish": "not split yet: summary.json assembled from the chunk results",
    "onmt_moe/diagnostics/anomaly.py:_check_moe": "not split yet: one check per MoE anomaly, in a loop over layers",
    "onmt_moe/diagnostics/anomaly.py:analyze_run": "not split yet: reads every CSV of a run, then checks each",
    "onmt_moe/diagnostics/analysis.py:parameter_table": "not split yet: one pass over the modules, then the table",
    "onmt_moe/diagnostics/plots.py:plot_runs": "not split yet: one figure after another",
    "onmt_moe/glycan/dataset.py:build": "not split yet: the dataset build, step by step",
    "onmt_moe/glycan/dataset.py:resimulate": "not split yet: re-simulation of a split, step by step",
    "onmt_moe/glycan/real/spectra_io.py:to_row": "not split yet: one raw spectrum -> one row, check by check",
    "onmt_moe/moe/routing_stats.py:RoutingStats.snapshot": "not split yet: the one host transfer, then the stats",
    "onmt_moe/predict/readers.py:h_peaks_from_spectrum": "not split yet: peak picking, multiplets, integrals",
    "onmt_moe/runs/modality_benchmark.py:run_benchmark": "not split yet: the benchmark's steps in order",
    "onmt_moe/runs/runner.py:resolve": "not split yet (being edited for --init_from): the run plan, key by key",
}


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function in ``tree``, nested ones and methods included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from _functions(node, name + ".")
        else:
            yield from _functions(node, prefix)


def function_lengths() -> dict[str, int]:
    """``path:qualified name`` -> lines, for every function in the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name, node in _functions(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            out[f"{rel}:{name}"] = node.end_lineno - node.lineno + 1
    return out


def long_functions() -> dict[str, int]:
    return {k: n for k, n in function_lengths().items() if n > MAX_LINES}


def _listing(functions: dict[str, int]) -> str:
    return "\n".join(f"  {n:4d}  {k}" for k, n in sorted(functions.items(), key=lambda kv: (-kv[1], kv[0])))


def test_no_function_over_the_limit_outside_the_allowlist():
    long = long_functions()
    new = {k: n for k, n in long.items() if k not in ALLOWED}
    assert not new, (
        f"functions over {MAX_LINES} lines: split them into helpers with one job each "
        f"(or, with a reason, add them to ALLOWED):\n{_listing(new)}\nall functions over the limit:\n{_listing(long)}"
    )


def test_allowlist_only_shrinks():
    lengths = function_lengths()
    stale = {k: lengths.get(k, 0) for k in ALLOWED if lengths.get(k, 0) <= MAX_LINES}
    assert not stale, (
        f"remove these from ALLOWED (gone, renamed or now at most {MAX_LINES} lines; 0 = not found):\n{_listing(stale)}"
    )


def test_length_counts_signature_docstring_and_nested_functions():
    tree = ast.parse("class A:\n    def m(self):\n        def inner():\n            pass\n\n        return 1\n")
    found = {name: node.end_lineno - node.lineno + 1 for name, node in _functions(tree)}
    assert found == {"A.m": 5, "A.m.inner": 2}


if __name__ == "__main__":
    print(_listing(long_functions()))
