"""Entry points stay thin (issue 34): every ``benchmark/*.py`` and ``scripts/*.py`` function is at most
``MAX_LINES`` long (a ``main`` parses arguments and calls the library), and the library never runs
``benchmark/start_training.py`` as a subprocess (training goes through ``runs.runner.launch``, in process;
only OpenNMT's own ``onmt_*`` commands are subprocesses)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_LINES = 60
# "folder/file.py:function" -> why it may stay longer (each one a debt, named here)
EXCEPTIONS = {
    "benchmark/evaluate_real_glycan.py:main": "61 lines, under rework with the inference move (issue 34, item 1); "
    "its scoring belongs in runs.glycan_real_model",
    "scripts/simulate_dataset.py:simulate": "the simulator driver; moves into onmt_moe/simulate with its split "
    "(issue 34, item 4)",
}


def entry_point_files():
    return sorted([*ROOT.glob("benchmark/*.py"), *ROOT.glob("scripts/*.py")])


def long_functions(path: pathlib.Path):
    """(name, lines) of every top-level function (and method of a top-level class) over MAX_LINES."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        for fn in members:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = fn.end_lineno - fn.lineno + 1
                if lines > MAX_LINES:
                    yield fn.name, lines


def test_every_entry_point_function_is_short():
    assert entry_point_files(), "no entry points found"
    found = {f"{p.relative_to(ROOT)}:{name}": lines for p in entry_point_files() for name, lines in long_functions(p)}
    bad = {k: v for k, v in found.items() if k not in EXCEPTIONS}
    assert not bad, f"functions over {MAX_LINES} lines (move the logic into onmt_moe/): {bad}"
    stale = sorted(set(EXCEPTIONS) - set(found))
    assert not stale, f"exceptions no longer needed (remove them): {stale}"


PROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen", "system", "execv", "execvp", "spawnv"}
# what names the start_training command: its file, the runner's path to it, the equivalent command line
START_MARKS = ("start_training.py", "START_TRAINING", "start_training_command", ".command()")


def _names_start_training(node: ast.AST) -> bool:
    return any(mark in ast.unparse(node) for mark in START_MARKS)


def _own_nodes(scope: ast.AST):
    """The nodes of ``scope`` outside the functions defined in it (each function is its own scope)."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        n = todo.pop()
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield n
            todo.extend(ast.iter_child_nodes(n))


def _runs_start_training(tree: ast.AST) -> bool:
    """Whether a process-starting call (subprocess.*, os.system, os.exec*) gets a command naming
    start_training, directly or through a variable assigned (or extended) in the same function."""
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
        assigned = {}  # variable -> the expressions assigned or added to it in this scope
        nodes = list(_own_nodes(scope))
        for n in nodes:
            if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                    assigned.setdefault(ast.unparse(t), []).append(n.value)
        for call in (n for n in nodes if isinstance(n, ast.Call)):
            fn = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if fn not in PROCESS_CALLS or not call.args:
                continue
            arg = call.args[0]
            exprs = [arg, *assigned.get(ast.unparse(arg), [])]
            if any(_names_start_training(e) for e in exprs):
                return True
    return False


def test_no_library_module_runs_start_training_as_a_subprocess():
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "onmt_moe").rglob("*.py"))
        if _runs_start_training(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert not offenders, f"these modules start benchmark/start_training.py; call runner.launch instead: {offenders}"


def test_the_check_catches_a_planted_subprocess_launch():
    planted = (
        "import subprocess, sys\n"
        "def f():\n"
        "    subprocess.run([sys.executable, os.path.join(ROOT, 'benchmark', 'start_training.py')])\n"
    )
    assert _runs_start_training(ast.parse(planted))
    assert _runs_start_training(ast.parse("import subprocess\nsubprocess.call([py, runner.START_TRAINING])\n"))
    assert _runs_start_training(ast.parse("def f(job):\n    cmd = job.command()\n    subprocess.run(cmd)\n"))
    assert not _runs_start_training(ast.parse("from onmt_moe.runs import runner\nrunner.launch(job)\n"))
    assert not _runs_start_training(ast.parse("def f(job):\n    print(' '.join(job.command()))\n"))
