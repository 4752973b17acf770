"""`onmt_moe/simulate/` imports one way: no cycle among its modules, lazy imports included.

Every ``import`` / ``from ... import`` in a module counts, at module level or inside a
function, relative or absolute.  The one exception is a top-level ``if __name__ == "__main__":``
block: it runs only when the file is the program (``python -m``), where the file is the module
``__main__`` and not the one the package imports, so it adds no edge to the package's graph.
Template *fitting* (``ir_fit``) sits on top: no simulate module imports it.
"""

from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIMULATE = os.path.join(ROOT, "onmt_moe", "simulate")
PACKAGE = "onmt_moe.simulate"


def _is_main_guard(node) -> bool:
    t = node.test if isinstance(node, ast.If) else None
    return (
        isinstance(t, ast.Compare)
        and isinstance(t.left, ast.Name)
        and t.left.id == "__name__"
        and len(t.comparators) == 1
        and isinstance(t.comparators[0], ast.Constant)
        and t.comparators[0].value == "__main__"
    )


def _imported_names(node, package: str) -> list[str]:
    """Absolute dotted names one import statement may load (``from a import b``: ``a`` and ``a.b``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        mod = ".".join(base + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    return [mod] + [f"{mod}.{a.name}" for a in node.names]


def module_imports(source: str, package: str = PACKAGE) -> set[str]:
    """Modules of ``package`` (short names) that ``source`` imports anywhere, lazily or not."""
    tree = ast.parse(source)
    skip = {id(n) for top in tree.body if _is_main_guard(top) for n in ast.walk(top)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for name in _imported_names(node, package):
            if name.startswith(package + "."):
                found.add(name[len(package) + 1 :].split(".")[0])
    return found


def import_graph(folder: str = SIMULATE, package: str = PACKAGE) -> dict[str, set[str]]:
    """{module: simulate modules it imports} for every ``*.py`` in ``folder``."""
    mods = {f[:-3]: os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".py")}
    graph = {}
    for name, path in mods.items():
        with open(path, encoding="utf-8") as fh:
            graph[name] = {m for m in module_imports(fh.read(), package) if m in mods and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is acyclic (depth-first search)."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


# ------------------------------------------------------------ the finder itself ---


def test_find_cycle_on_planted_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond is no cycle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


def test_import_parser_sees_lazy_relative_and_absolute_imports():
    src = """
from . import ir, nmr as n
from .rows import simulate_row
import onmt_moe.simulate.msms
from onmt_moe.simulate.schema import COLUMNS
from onmt_moe import masses
from ..runs import csvlog

def f():
    from . import compare

class C:
    def g(self):
        from .ir_templates import predict
"""
    assert module_imports(src) == {"ir", "nmr", "rows", "msms", "schema", "compare", "ir_templates"}


def test_import_parser_skips_only_the_main_guard():
    src = """
if __name__ == "__main__":
    from .ir_fit import main
if DEBUG:
    from . import compare
def f():
    if __name__ == "__main__":
        from . import rows
"""
    assert module_imports(src) == {"compare", "rows"}


def test_planted_lazy_cycle_is_found(tmp_path):
    (tmp_path / "ir.py").write_text("def simulate():\n    from . import templates\n")
    (tmp_path / "templates.py").write_text("from .ir import IR_GRID\n")
    (tmp_path / "rows.py").write_text("from . import ir\n")
    graph = import_graph(str(tmp_path))
    assert graph == {"ir": {"templates"}, "templates": {"ir"}, "rows": {"ir"}}
    assert find_cycle(graph) == ["ir", "templates", "ir"]


# ------------------------------------------------------------- the package ---


def test_simulate_imports_are_acyclic():
    graph = import_graph()
    assert {"ir", "ir_templates", "ir_fit", "compare", "rows", "nmr_fast", "groups"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in onmt_moe/simulate: " + " -> ".join(cycle)


def test_template_fitting_sits_on_top():
    graph = import_graph()
    assert {"ir_templates", "compare"} <= graph["ir_fit"]  # the graph does see the fitting module
    users = sorted(m for m, deps in graph.items() if "ir_fit" in deps)
    assert not users, f"prediction modules import the template fitting: {users}"


@pytest.mark.parametrize("module", ["groups", "ir_templates"])
def test_bottom_modules_import_no_spectrum_code(module):
    """The graph classifiers and the template predictor stand below ir / nmr_fast / compare."""
    assert import_graph()[module] <= {"groups"}
