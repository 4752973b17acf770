"""Entry points stay thin (issue 34): every ``benchmark/*.py`` and ``scripts/*.py`` function is at most
``MAX_LINES`` long (a ``main`` parses arguments and calls the library), and the library never runs a
Python script of ours as a subprocess: not ``benchmark/start_training.py`` (training goes through
``runs.runner.launch``, in process) and no other ``scripts/`` or ``benchmark/`` file (the demos and
benchmarks call the library ``main`` those scripts wrap, ``runs.steps.Step``); only OpenNMT's own
``onmt_*`` commands are subprocesses."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_LINES = 60
# "folder/file.py:function" -> why it may stay longer (each one a debt, named here)
EXCEPTIONS: dict[str, str] = {}


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


# ------------------------------------------------ no module under onmt_moe/ starts a script of ours ---
# what starts a process, by module: subprocess.run(...), os.system(...), runpy.run_path(...) (a script by
# path in this process is the same bypass of the library), asyncio.create_subprocess_exec(...)
STARTERS = {
    "subprocess": {"run", "call", "check_call", "check_output", "Popen"},
    "os": {"system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "execlp", "spawnv", "spawnvp"},
    "runpy": {"run_path"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
}

PY_FILE = re.compile(r"\.py(\s|$)")  # a .py file named, alone or at the start of a shell command line


def _scope_nodes(scope: ast.AST):
    """The nodes of ``scope`` outside the functions defined in it (lambdas and class bodies included)."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        n = todo.pop()
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield n
            todo.extend(ast.iter_child_nodes(n))


def _names(target: ast.AST):
    """Every plain name bound by an assignment or loop target (tuples unpacked)."""
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def _starters(tree: ast.AST) -> set[str]:
    """Names that start a process when called bare (``from subprocess import run``)."""
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module in STARTERS:
            out |= {a.asname or a.name for a in n.names if a.name in STARTERS[n.module]}
    return out


def _starts_a_process(call: ast.Call, bare: set[str]) -> bool:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f.attr in STARTERS.get(f.value.id, ())
    return isinstance(f, ast.Name) and f.id in bare


class _Taint:
    """Which expressions may hold a command naming a ``.py`` file: the string itself, a variable assigned,
    extended or looped over from one, a function returning one, a parameter some call passes one to
    (propagated over the whole module until nothing changes; names per function, module names global)."""

    def __init__(self, tree: ast.AST):
        self.scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]
        self.nodes = {id(s): list(_scope_nodes(s)) for s in self.scopes}
        self.defs = {}  # function name -> its definitions (methods by name too)
        for s in self.scopes[1:]:
            self.defs.setdefault(s.name, []).append(s)
        self.names: set[tuple[int, str]] = set()  # (scope, variable)
        self.returns: set[str] = set()  # functions whose result may hold a script
        self.module = id(tree)
        while self._spread():
            pass

    def holds_script(self, expr: ast.AST, scope: ast.AST) -> bool:
        for n in ast.walk(expr):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and PY_FILE.search(n.value):
                return True
            if isinstance(n, ast.Name) and ({(id(scope), n.id), (self.module, n.id)} & self.names):
                return True
            if isinstance(n, ast.Call) and _callee(n) in self.returns:
                return True
        return False

    def _mark(self, scope_id: int, names) -> bool:
        new = {(scope_id, n) for n in names} - self.names
        self.names |= new
        return bool(new)

    def _spread(self) -> bool:
        changed = False
        for scope in self.scopes:
            for n in self.nodes[id(scope)]:
                changed |= self._spread_node(n, scope)
        return changed

    def _spread_node(self, n: ast.AST, scope: ast.AST) -> bool:
        bound = []  # (target, value) pairs that bind a name
        if isinstance(n, ast.Assign):
            bound = [(t, n.value) for t in n.targets]
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
            bound = [(n.target, n.value)]
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
            bound = [(n.target, n.iter)]
        elif isinstance(n, ast.withitem) and n.optional_vars is not None:
            bound = [(n.optional_vars, n.context_expr)]
        changed = any(self._mark(id(scope), _names(t)) for t, v in bound if self.holds_script(v, scope))
        if isinstance(n, ast.Return) and n.value is not None and scope is not self.scopes[0]:
            if scope.name not in self.returns and self.holds_script(n.value, scope):
                self.returns.add(scope.name)
                changed = True
        if isinstance(n, ast.Call):
            changed |= self._spread_call(n, scope)
        return changed

    def _spread_call(self, call: ast.Call, scope: ast.AST) -> bool:
        changed = False
        f = call.func  # cmd.extend(script) / cmd.append(script) / cmd.insert(0, script)
        if isinstance(f, ast.Attribute) and f.attr in ("extend", "append", "insert") and isinstance(f.value, ast.Name):
            if any(self.holds_script(a, scope) for a in call.args):
                changed |= self._mark(id(scope), [f.value.id])
        for fn in self.defs.get(_callee(call), []):  # a script passed on: the parameter holds it
            params = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
            if params and params[0] in ("self", "cls") and isinstance(f, ast.Attribute):
                params = params[1:]
            hit = [p for p, a in zip(params, call.args) if self.holds_script(a, scope)]
            hit += [k.arg for k in call.keywords if k.arg and self.holds_script(k.value, scope)]
            changed |= self._mark(id(fn), hit)
        return changed


def scripts_started(source: str) -> list[int]:
    """Line numbers of the process-starting calls in ``source`` whose command may name a ``.py`` file."""
    tree = ast.parse(source)
    taint, bare = _Taint(tree), _starters(tree)
    hits = []
    for scope in taint.scopes:
        for n in taint.nodes[id(scope)]:
            if isinstance(n, ast.Call) and _starts_a_process(n, bare):
                args = [*n.args[:1], *(k.value for k in n.keywords if k.arg in ("args", "path", "path_name"))]
                if any(taint.holds_script(a, scope) for a in args):
                    hits.append(n.lineno)
    return sorted(hits)


def test_no_library_module_starts_a_script_of_ours():
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in sorted((ROOT / "onmt_moe").rglob("*.py"))
        if (lines := scripts_started(p.read_text(encoding="utf-8")))
    }
    assert not offenders, (
        f"these modules run a Python script as a process (file: lines); call the library function the "
        f"script wraps instead (runs.steps.Step): {offenders}"
    )


# the shapes the library used before (issue 34): each must be caught
PLANTED_STARTS = {
    "direct": (
        "import os, subprocess, sys\n"
        "def simulate(d):\n"
        "    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'simulate_dataset.py'), '--out', d])\n"
    ),
    "a variable built up": (
        "import subprocess, sys\n"
        "def simulate(d):\n"
        "    cmd = [sys.executable, os.path.join(ROOT, 'scripts', 'simulate_dataset.py'), '--out', d.data]\n"
        "    cmd += ['--n', str(d.molecules)]\n"
        "    cmd += d.simulate_args\n"
        "    return subprocess.run(cmd).returncode\n"
    ),
    "through a helper's parameter": (
        "import subprocess, sys\n"
        "def run_command(cmd):\n"
        "    env = dict(os.environ)\n"
        "    return subprocess.run(cmd, env=env).returncode == 0\n"
        "def build_data(d):\n"
        "    cmd = [sys.executable, os.path.join(ROOT, 'scripts', 'build_glycan_dataset.py')]\n"
        "    return run_command(cmd + ['--out', d.data])\n"
    ),
    "a command builder, a stage list, a loop": (
        "import subprocess, sys\n"
        "def evaluate_command(p):\n"
        "    ev = os.path.join(ROOT, 'benchmark', 'evaluate_real_glycan.py')\n"
        "    cmd = [ev, '--run', p.run]\n"
        "    return [sys.executable, *cmd, '--out', p.out]\n"
        "def stages(p):\n"
        "    out = [('train', 'done', train_job(p))]\n"
        "    out.append(('real', 'done', evaluate_command(p)))\n"
        "    return out\n"
        "def run_stages(todo):\n"
        "    for name, done, cmd in todo:\n"
        "        if not subprocess.run(cmd).returncode == 0:\n"
        "            return 1\n"
        "def run(p):\n"
        "    return run_stages(stages(p))\n"
    ),
    "a module constant, a method, from-import": (
        "from subprocess import Popen as P\n"
        "import sys\n"
        "SCRIPT = os.path.join(ROOT, 'benchmark', 'retrieve.py')\n"
        "class Job:\n"
        "    def command(self):\n"
        "        return [sys.executable, SCRIPT, '--run', self.run]\n"
        "def go(job):\n"
        "    P(job.command())\n"
    ),
    "os.system and runpy": (
        "import os, runpy\n"
        "def a():\n"
        "    os.system(f'python {ROOT}/scripts/demo.py --fresh')\n"
        "def b():\n"
        "    runpy.run_path('scripts/build_glycan_dataset.py', run_name='__main__')\n"
    ),
}


def test_the_check_catches_planted_script_starts():
    for shape, source in PLANTED_STARTS.items():
        assert scripts_started(source), f"not caught: {shape}"
    assert len(scripts_started(PLANTED_STARTS["os.system and runpy"])) == 2


def test_the_check_lets_onmt_commands_and_printed_command_lines_pass():
    allowed = (
        "import subprocess, sys\n"
        "START = os.path.join(ROOT, 'benchmark', 'start_training.py')\n"
        "def onmt_command(name):\n"
        "    return [sys.executable, '-m', 'onmt_moe.plugin.cli', name.replace('onmt_', '')]\n"
        "class Launch:\n"
        "    def command(self):\n"
        "        return [sys.executable, START, '--config', self.config]\n"
        "def launch(job):\n"
        "    print(' '.join(job.command()[1:]))\n"  # printed, never run
        "    proc = subprocess.Popen(onmt_command('onmt_train') + ['-config', job.config])\n"
        "    subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'])\n"
        "    return library_main(['--out', 'x.py'])\n"  # a library main called in process
    )
    assert scripts_started(allowed) == []
