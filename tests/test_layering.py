"""The package layout is a dependency rule: what a file may import follows from its folder.

Every ``import`` / ``from … import`` statement under ``onmt_moe/`` (module level or inside a
function: a lazy import is still a dependency) is read with :mod:`ast` and checked against
:data:`RULES` (see docs/architecture.md). Bare ``import onmt_moe`` registers the plugin with
OpenNMT, so it counts as an import of ``onmt``.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "onmt_moe"

# package (or module) -> (the modules of ours it may import, by prefix; third-party roots it must not import).
# The most specific key wins, so a leaf module can be stricter than its package. "onmt_moe" alone means the
# bare `import onmt_moe` (which registers the plugin); "onmt_moe.*" means anything of ours.
RULES = {
    "onmt_moe": ({"onmt_moe._hook", "onmt_moe.plugin.onmt_patches"}, {"torch", "onmt"}),
    "onmt_moe._hook": ({"onmt_moe"}, {"torch", "onmt"}),  # stdlib only; imports onmt_moe to register
    "onmt_moe.masses": (set(), {"torch", "onmt", "numpy"}),  # physical constants: imports nothing
    "onmt_moe.smiles": (set(), {"torch", "onmt", "numpy"}),  # the SMILES tokenizer: imports nothing
    "onmt_moe.wurcs_classes": (set(), {"torch", "onmt", "numpy"}),  # WURCS token classes: imports nothing
    "onmt_moe.formula": (set(), {"torch", "onmt", "numpy"}),  # the formula parser: imports nothing
    "onmt_moe.numbers": (set(), {"torch", "onmt", "numpy"}),  # numeric source tokens: imports nothing
    "onmt_moe.moe": ({"onmt_moe.moe"}, {"onmt"}),
    "onmt_moe.modality": ({"onmt_moe.modality"}, {"onmt"}),
    "onmt_moe.modality.tags": (set(), {"torch", "onmt"}),
    "onmt_moe.data": ({"onmt_moe.data", "onmt_moe.modality.tags"}, {"torch", "onmt"}),
    "onmt_moe.simulate": ({"onmt_moe.simulate", "onmt_moe.data"}, {"torch", "onmt"}),
    "onmt_moe.evaluation": ({"onmt_moe.evaluation", "onmt_moe.modality.tags"}, {"torch", "onmt"}),
    "onmt_moe.glycan": ({"onmt_moe.glycan", "onmt_moe.modality.tags", "onmt_moe.evaluation"}, {"torch", "onmt"}),
    # the run-folder format at the bottom: file names and CSV columns, run.json, CsvLog and atomic writes,
    # checkpoint listing and the one safe loader (pandas and torch inside functions, never OpenNMT)
    "onmt_moe.runfolder": ({"onmt_moe.runfolder"}, {"onmt"}),
    "onmt_moe.diagnostics": (
        {"onmt_moe.diagnostics", "onmt_moe.moe", "onmt_moe.modality", "onmt_moe.runfolder", "onmt_moe"},
        set(),
    ),
    "onmt_moe.plugin": (
        {"onmt_moe.plugin", "onmt_moe.moe", "onmt_moe.modality", "onmt_moe.runfolder", "onmt_moe._hook", "onmt_moe"},
        set(),
    ),
    # driving a checkpoint, below the tracks: OpenNMT's inference engine (beam search), teacher-forced
    # likelihoods, the run folder's checkpoint list and loader; bare onmt_moe registers the plugin
    "onmt_moe.inference": ({"onmt_moe.inference", "onmt_moe.runfolder", "onmt_moe"}, set()),
    "onmt_moe.runs": ({"onmt_moe", "onmt_moe.*"}, set()),  # the top: drives everything
    "onmt_moe.predict": (
        {
            "onmt_moe.predict",
            "onmt_moe.inference",  # the model is driven there; predict itself never imports torch/onmt
            "onmt_moe.data",
            "onmt_moe.modality.tags",
            "onmt_moe.glycan",
            "onmt_moe.evaluation",
            "onmt_moe.simulate",  # forward_rank simulates each candidate's NMR
            "onmt_moe.runfolder",  # the run folder's file names and run.json (corpus formatting)
        },
        {"torch", "onmt"},
    ),
}


# leaves every layer may import (they import nothing themselves)
SHARED_LEAVES = {"onmt_moe.masses", "onmt_moe.smiles", "onmt_moe.wurcs_classes", "onmt_moe.formula", "onmt_moe.numbers"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_our_module(name: str) -> bool:
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or path.is_dir()


def imported_names(source: str, package: str):
    """Every module an import statement names; ``from onmt_moe.x import y`` gives ``onmt_moe.x.y``
    when y is a module, else ``onmt_moe.x``. Relative imports are resolved against ``package``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base.split(".")[0] != "onmt_moe":
                yield base
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                yield sub if _is_our_module(sub) else base


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rule_for(module: str):
    """The rule of the most specific key that ``module`` falls under."""
    return RULES[max((k for k in RULES if _under(module, k)), key=len)]


def _allowed(name: str, ours) -> bool:
    if name == "onmt_moe":  # the bare package: only where listed (it registers the plugin)
        return "onmt_moe" in ours
    if name in SHARED_LEAVES:
        return True
    return "onmt_moe.*" in ours or any(p != "onmt_moe" and _under(name, p) for p in ours)


def violations(module: str, source: str, is_package: bool = False):
    """``(module, imported, why)`` for every import of ``source`` that the rule of ``module`` refuses."""
    ours, banned_roots = rule_for(module)
    package = module if is_package else module.rsplit(".", 1)[0]
    out = []
    for name in imported_names(source, package):
        root = name.split(".")[0]
        if root == "onmt_moe" and not _allowed(name, ours):
            out.append((module, name, "not among the packages this layer may import"))
        elif root in banned_roots:
            out.append((module, root, f"{root} is not allowed in this layer"))
    return out


def all_violations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        found += violations(module, path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return found


def test_every_module_follows_its_layer():
    bad = all_violations()
    assert not bad, "layering broken:\n" + "\n".join(f"  {m} imports {n}: {why}" for m, n, why in bad)


def test_every_package_has_a_rule():
    """A new package gets its own line in RULES (else it would silently inherit the top package's)."""
    packages = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    packages = {p for p in packages if p.count(".") == 1}  # onmt_moe.<package>
    assert packages <= set(RULES), sorted(packages - set(RULES))


@pytest.mark.parametrize(
    "module,source",
    [
        ("onmt_moe.moe.router", "import onmt.utils\n"),  # moe must stay free of OpenNMT
        ("onmt_moe.moe.router", "from onmt_moe.modality import tags\n"),  # ... and of the rest of ours
        ("onmt_moe.data.pipeline", "def f():\n    import torch\n"),  # data never imports torch, even lazily
        ("onmt_moe.evaluation.scoring", "from onmt_moe.glycan.evaluate import x\n"),
        ("onmt_moe.glycan.text", "import onmt_moe\n"),  # registering the plugin = onmt
        ("onmt_moe.diagnostics.plots", "from onmt_moe.plugin.encoder import X\n"),
        ("onmt_moe.plugin.loss", "from onmt_moe.runs.runner import x\n"),
        ("onmt_moe.runfolder.csvlog", "from onmt_moe.modality import tags\n"),  # the run-folder layer: nothing above
        ("onmt_moe.runfolder.layout", "from onmt_moe.runs import runner\n"),
        ("onmt_moe.moe.layer", "from ..modality import tags\n"),  # relative imports are resolved
        ("onmt_moe.runfolder.checkpoints", "def f():\n    import onmt\n"),  # the run-folder layer: no OpenNMT
        ("onmt_moe.runfolder.checkpoints", "import onmt_moe\n"),  # ... nor the plugin registration
        ("onmt_moe.runfolder.checkpoints", "from onmt_moe.runs.runner import x\n"),  # ... nor a layer above
        ("onmt_moe.inference.decode", "from onmt_moe.runs.runner import checkpoints\n"),  # the old edge
        ("onmt_moe.inference.decode", "from onmt_moe.predict import InputError\n"),  # inference is below predict
        ("onmt_moe.inference.likelihood", "def f():\n    from onmt_moe.glycan import retrieve\n"),  # ... every track
        ("onmt_moe.inference.decode", "from onmt_moe.simulate import nmr\n"),
        ("onmt_moe.glycan.real.evaluate", "def f():\n    from onmt_moe.inference.decode import Decoder\n"),
        ("onmt_moe.glycan.real.evaluate", "from onmt_moe.predict.settings import resolve\n"),  # the old edge
        ("onmt_moe.glycan.real.evaluate", "def f():\n    import torch\n"),  # glycan drives no model
        ("onmt_moe.predict.cli", "def f():\n    from onmt.inference_engine import InferenceEnginePY\n"),
    ],
)
def test_checker_catches_a_bad_import(module, source):
    assert violations(module, source), f"{source!r} in {module} should break the layering"


@pytest.mark.parametrize(
    "module,source",
    [
        ("onmt_moe.data.tagged", "from onmt_moe.modality import tags\n"),
        ("onmt_moe.plugin.encoder", "import torch\nfrom onmt_moe.moe import MoE\n"),
        ("onmt_moe.runs.runner", "from onmt_moe.plugin.encoder import X\nimport onmt_moe\n"),
        ("onmt_moe.moe.layer", "from .router import Router\nfrom . import experts\n"),
        ("onmt_moe.runfolder.checkpoints", "def f():\n    import torch\nfrom onmt_moe import masses\n"),
        ("onmt_moe.diagnostics.analysis", "from onmt_moe.runfolder import load_checkpoint\n"),
        ("onmt_moe.plugin.reporting", "from onmt_moe.runfolder.csvlog import CsvLog\n"),  # was a whitelisted edge
        ("onmt_moe.diagnostics.anomaly", "from onmt_moe.runfolder.layout import MOE_STEPS\n"),
        ("onmt_moe.runfolder.layout", "from onmt_moe.runfolder.csvlog import atomic_write_text\n"),
        (
            "onmt_moe.inference.decode",
            "import onmt_moe\nimport torch\nfrom onmt.inference_engine import X\nfrom onmt_moe.runfolder import load_checkpoint\n",
        ),
        ("onmt_moe.predict.cli", "def f():\n    from onmt_moe.inference.decode import Decoder\n"),
        (
            "onmt_moe.runs.glycan_real_model",
            "from onmt_moe.inference import likelihood\nfrom onmt_moe.predict import settings\n",
        ),
    ],
)
def test_checker_accepts_an_allowed_import(module, source):
    assert not violations(module, source)
