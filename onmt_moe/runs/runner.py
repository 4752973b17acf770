"""Run orchestration behind ``benchmark/start_training.py``: resolve a config template into a run
folder, validate every key, then run the stages vocab → train → translate → score → report (and,
when ``--stages`` names it, ``rerank``: forward-simulation re-ranking, :mod:`onmt_moe.runs.rerank`).

A config template is an ``onmt_train`` YAML file plus one extra section, ``run:``, read only here::

    run:
      data_dir: data/demo_small_tagged/data  # src-train.txt, tgt-train.txt, src-val.txt, … src-test.txt, tgt-test.txt
      kind: smiles                        # scorer: smiles | wurcs | spectrum | text
      multitask: false                    # true: data_dir is a generate_glycan_input.py --multitask corpus
      translate: {beam_size: 10, n_best: 10, min_length: 5, max_length: 250, batch_size: 64}
    encoder_type: moe_transformer
    …                                     # any onmt_train option, including the plugin's moe_* options

A relative ``run.data_dir`` in a template is looked up from the template's folder upwards (so
``configs/tiny_moe.yaml`` finds ``tests/fixtures/…`` of the repository from any working directory);
one given with ``--set run.data_dir=…`` is relative to the current directory. The run folder gets
``config.yaml`` (resolved onmt_train config with a provenance header), ``translate.yaml``,
``run.json`` (plan, paths, stage timings, results), ``train.log``, checkpoints, the CSV logs
(``moe_log_dir`` is set to the run folder) and ``vocab.sources.json`` (the corpus files the
vocabulary was built from: a changed corpus rebuilds it, or is refused once checkpoints exist).
``--init_from CHECKPOINT`` fine-tunes a pretrained model on the corpus (:mod:`onmt_moe.runs.finetune`:
the checks, the union vocabulary, ``-update_vocab -reset_optim all``).
``--resume`` uses the newest checkpoint that reads back whole; an unreadable newer one is moved aside;
one already at ``train_steps`` skips training. ``.run.lock`` keeps the folder to one start_training
at a time (:func:`lock_run_dir`; a second is refused, naming the holder).
With ``run.multitask: true`` the ``tasks.json`` next to ``data_dir`` gives one weighted OpenNMT corpus
per task (mixed validation set, ``share_vocab``); each task's test set is decoded into
``pred/<task>/test.txt`` and scored with its own scorer (``pred/<task>/scores.json``, gathered in
``scores.json`` as ``{"tasks": …}``). A task with a ``target_prefix`` (its train targets start with
that token) is decoded with the prefix forced (``onmt_translate -tgt <prefix file> -tgt_file_prefix``)
and the prefix is stripped from every hypothesis before scoring (the raw output stays in
``pred/<task>/test.prefixed.txt``).
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from onmt_moe import _hook
from onmt_moe.evaluation.files import read_lines
from onmt_moe.runfolder.checkpoints import (  # noqa: F401  (checkpoints, checkpoint_step: re-exported)
    CheckpointError,
    checkpoint_step,
    checkpoints,
    load_checkpoint,
)
from onmt_moe.runfolder.csvlog import atomic_write_text
from onmt_moe.runfolder.layout import (  # noqa: F401  (CORPUS_SUMMARY, VOCAB_RECORD, write_json: re-exported)
    CONFIG_YAML,
    CORPUS_SUMMARY,
    RANKS_CSV,
    SCORES_JSON,
    TRAIN_LOG,
    TRANSLATE_YAML,
    VOCAB_RECORD,
    read_run_json,
    write_json,
    write_run_json,
)

STAGES = ("vocab", "train", "translate", "score", "report")
OPTIONAL_STAGES = ("rerank",)  # run only when --stages names them (onmt_moe.runs.rerank), after the others
ALL_STAGES = STAGES + OPTIONAL_STAGES
DEFAULT_TRANSLATE = {"beam_size": 10, "n_best": 10, "min_length": 5, "max_length": 250, "batch_size": 64}
# keys start_training fills in itself (a template may not set them)
MANAGED_KEYS = {
    "data",
    "src_vocab",
    "tgt_vocab",
    "save_model",
    "save_data",
    "train_from",
    "overwrite",
    "n_sample",
    "moe_log_dir",
    "moe_trained_step",
    "moe_corpus_formatting",
}
# OpenNMT 3.5.1 declares these but never reads them, or reads them only inside a transform.
IGNORED_OPTIONS = {
    "src_seq_length_trunc": "declared by OpenNMT 3.5.1 but never used; cap source lengths with "
    "generate_input --max_src_tokens, or src_seq_length + the filtertoolong transform",
    "tgt_seq_length_trunc": "declared by OpenNMT 3.5.1 but never used; drop long targets with tgt_seq_length "
    "+ the filtertoolong transform",
}
TRANSFORM_OPTIONS = {"src_seq_length": "filtertoolong", "tgt_seq_length": "filtertoolong"}


class ConfigError(ValueError):
    """A problem with the config: printed as one clear message, no traceback."""


# ----------------------------------------------------------------------------- options / validation
def _train_parser():
    from onmt.opts import train_opts
    from onmt.utils.parse import ArgumentParser

    import onmt_moe  # noqa: F401  (plugin options must be registered)

    parser = ArgumentParser(description="onmt_train")
    train_opts(parser)
    return parser


def known_options() -> dict[str, object]:
    """dest → argparse action for every onmt_train option (plugin and transform options included)."""
    parser = _train_parser()
    return {a.dest: a for a in parser._actions if a.dest not in ("help", "config", "save_config")}


def known_translate_options() -> dict[str, object]:
    """YAML key (the long option name) → argparse action for every onmt_translate option."""
    from onmt.opts import translate_opts
    from onmt.utils.parse import ArgumentParser

    import onmt_moe  # noqa: F401

    parser = ArgumentParser(description="onmt_translate")
    translate_opts(parser)
    out = {}
    for a in parser._actions:
        for name in a.option_strings:
            if name.startswith("--") and a.dest not in ("help", "config", "save_config"):
                out[name[2:]] = a
    return out


def _convert(v, action):
    """The value argparse would store for ``v`` (YAML already typed it); int options refuse 10.5."""
    if action.type is int and isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not a whole number")
        return int(v)
    if action.type is not None and not isinstance(v, (dict, list)):
        return action.type(v) if not isinstance(v, bool) or action.type is bool else v
    return v


def _check_value(key, value, action) -> str | None:
    if value is None:
        return None
    nargs = action.nargs
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and nargs in (None, "?") and not isinstance(action.default, list):
        return f"{key}: expected a single value, got a list {value!r}"
    for v in values:
        try:
            conv = _convert(v, action)
        except (TypeError, ValueError) as exc:
            return f"{key}: {v!r} is not a valid {getattr(action.type, '__name__', action.type)} ({exc})"
        if action.choices is not None and conv not in action.choices:
            return f"{key}: {v!r} is not one of {sorted(map(str, action.choices))}"
    if nargs == 0 and not isinstance(value, bool):  # store_true flags
        return f"{key}: expected true/false, got {value!r}"
    return None


def _unknown_key(key: str, names, prefix: str = "") -> str:
    near = difflib.get_close_matches(key, list(names), n=3, cutoff=0.6)
    hint = f" (did you mean: {', '.join(prefix + n for n in near)}?)" if near else ""
    return f"unknown key '{prefix}{key}'{hint}"


def _check_keys(cfg: dict, opts: dict[str, object], prefix: str = "", skip=()) -> list[str]:
    problems: list[str] = []
    for key, value in cfg.items():
        if key in skip:
            continue
        if key not in opts:
            problems.append(_unknown_key(key, opts, prefix))
            continue
        msg = _check_value(prefix + key, value, opts[key])
        if msg:
            problems.append(msg)
    return problems


def _length_option_problems(cfg: dict) -> list[str]:
    """Options OpenNMT accepts but ignores (or applies only inside a transform): refused, with the fix."""
    problems = [f"{k}: {why}" for k, why in IGNORED_OPTIONS.items() if cfg.get(k) is not None]
    transforms = cfg.get("transforms") or []
    transforms = [transforms] if isinstance(transforms, str) else list(transforms)
    for key, transform in TRANSFORM_OPTIONS.items():
        if key in cfg and transform not in transforms:
            problems.append(
                f"{key}: has no effect without the {transform} transform; add {transform} to "
                f"transforms (or cap lengths with generate_input --max_src_tokens)"
            )
    return problems


def _model_problems(cfg: dict, opts: dict[str, object]) -> list[str]:
    """Checks OpenNMT makes only when it builds the model: encoder/decoder names, the MoE knobs."""
    from onmt.decoders import str2dec
    from onmt.encoders import str2enc

    problems = []
    for key, registry in (("encoder_type", str2enc), ("decoder_type", str2dec)):
        if key in cfg and cfg[key] not in registry:
            problems.append(f"{key}: {cfg[key]!r} is not one of {', '.join(sorted(registry))}")
    if cfg.get("encoder_type") != "moe_transformer":
        return problems
    import argparse

    from onmt_moe.plugin.encoder_config import EncoderConfig

    opt = argparse.Namespace(**{dest: a.default for dest, a in opts.items()})
    for key, value in cfg.items():
        if key in opts and value is not None:
            setattr(opt, key, value)
    try:  # the encoder's own config object: every option it reads, checked as when it is built
        problems += EncoderConfig.from_opt(opt).problems()
    except (TypeError, ValueError) as exc:
        problems.append(str(exc))
    return problems


def validate_config(cfg: dict) -> None:
    """Raise ConfigError listing unknown keys (with the closest known names), bad values, options
    OpenNMT would ignore, and model settings OpenNMT only checks once training starts."""
    opts = known_options()
    problems = _check_keys(cfg, opts, skip=("run", "data"))
    if not problems:  # the model checks need well-typed values
        problems += _length_option_problems(cfg) + _model_problems(cfg, opts)
    if problems:
        raise ConfigError("config has errors:\n  - " + "\n  - ".join(problems))


RUN_KEYS = ("data_dir", "kind", "translate", "missing_mode", "seed", "multitask")
KINDS = ("smiles", "wurcs", "spectrum", "text")
# run.translate keys start_training fills in itself
MANAGED_TRANSLATE_KEYS = ("model", "src", "output")


def validate_run_section(run: dict, where: str) -> None:
    """The ``run:`` section: known keys only, a scorer kind / missing mode that exist, and
    ``run.translate`` keys that onmt_translate knows — checked before training, not after it."""
    problems = []
    for key in run:
        if key not in RUN_KEYS:
            problems.append(_unknown_key(key, RUN_KEYS, "run.") + f"; known: {', '.join(RUN_KEYS)}")
    for key, allowed, default in (("kind", KINDS, "smiles"), ("missing_mode", ("token", "drop"), "token")):
        value = run.get(key, default)
        if value not in allowed:
            problems.append(f"run.{key}: {value!r} is not one of {', '.join(allowed)}")
    tr = run.get("translate")
    if tr is not None and not isinstance(tr, dict):
        problems.append("run.translate: expected a mapping of onmt_translate options")
    elif tr:
        managed = [k for k in tr if k in MANAGED_TRANSLATE_KEYS]
        problems += [f"run.translate.{k}: filled in by start_training; remove it" for k in managed]
        problems += _check_keys(
            {k: v for k, v in tr.items() if k not in managed}, known_translate_options(), prefix="run.translate."
        )
    if problems:
        raise ConfigError(f"{where}: run section has errors:\n  - " + "\n  - ".join(problems))


# ----------------------------------------------------------------------------- resolve
def parse_set(items: Sequence[str]) -> list[tuple]:
    out = []
    for it in items or []:
        if "=" not in it:
            raise ConfigError(f"--set expects key=value, got {it!r}")
        k, v = it.split("=", 1)
        k = k.strip()
        if not v.strip():  # YAML would read it as null, i.e. OpenNMT's default: never what was meant
            raise ConfigError(f"--set {it}: empty value for {k} (write {k}=null to ask for OpenNMT's default)")
        try:
            out.append((k, yaml.safe_load(v)))
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {it}: not a valid YAML value ({str(exc).splitlines()[0]})") from None
    return out


def apply_overrides(cfg: dict, overrides: Sequence[tuple]) -> dict:
    cfg = copy.deepcopy(cfg)
    for key, value in overrides:
        node = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{p}' is not a section")
        node[parts[-1]] = value
    return cfg


def load_template(path: str) -> dict:
    if not os.path.exists(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({where}{what})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options")
    return cfg


def template_data_dir(data_dir: str, template_path: str) -> str:
    """A template's relative ``run.data_dir``: the first match from the template's folder upwards,
    so it does not depend on the current directory. Only when nothing matches there does a folder
    under the current directory count (said on stderr); otherwise the template's folder is named."""
    if os.path.isabs(data_dir):
        return data_dir
    base = os.path.dirname(os.path.abspath(template_path))
    folder = base
    while True:
        candidate = os.path.join(folder, data_dir)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if os.path.isdir(data_dir):
        print(
            f"note: run.data_dir {data_dir} is not under {base} or a folder above it; using "
            f"{os.path.abspath(data_dir)} (relative to the current directory)",
            file=sys.stderr,
        )
        return os.path.abspath(data_dir)
    return os.path.join(base, data_dir)


def _is_empty(path: str) -> bool:
    """True when a text file holds no non-blank line (reads only up to the first one)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return not any(line.strip() for line in f)


def _git_commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except OSError:
        return "unknown"


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "OpenNMT-py", "onmt_moe", "rdkit", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _machine() -> dict[str, object]:
    """What a run's numbers may depend on beyond code and seed: the same seeded run gave validation
    top-1 0.7-6 points apart on two machines (CHANGELOG.md), so the CPU goes on record."""
    import platform

    import torch  # already imported by every stage that trains or decodes

    cpu = platform.processor() or platform.machine()
    try:  # Linux names the model here; platform.processor() is often empty there
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the SIMD kernels torch picked
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def machine_line(m: dict | None = None) -> str:
    """The machine in one line, for result tables: CPU, cores, torch threads and kernels, GPU
    (``m``: a run.json ``machine`` record; default this machine)."""
    m = m or _machine()
    gpu = f", GPU {m['cuda']}" if m.get("cuda") else ""
    return f"{m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads ({m['torch_cpu_capability']}){gpu}"


def resolve(template_path: str, run_dir: str, overrides=(), resume: bool = False) -> dict:
    """Build the plan: the resolved onmt_train config and everything start_training needs."""
    template = load_template(template_path)
    if isinstance(template.get("run"), dict) and isinstance(template["run"].get("data_dir"), str):
        template["run"]["data_dir"] = template_data_dir(template["run"]["data_dir"], template_path)
    cfg = apply_overrides(template, overrides)
    run = dict(cfg.pop("run", {}) or {})
    clash = sorted(MANAGED_KEYS & set(cfg))
    if clash:
        hint = "; start from a checkpoint with --init_from or --resume" if "train_from" in clash else ""
        raise ConfigError(
            f"{template_path}: keys {clash} are filled in by start_training; remove them "
            f"(set the corpus folder with run.data_dir{hint})"
        )
    validate_config(cfg)
    validate_run_section(run, template_path)
    data_dir = run.get("data_dir")
    if not data_dir:
        raise ConfigError(f"{template_path}: run.data_dir is required (the folder with src-train.txt …)")
    data_dir = os.path.abspath(data_dir)
    files = {
        f"{s}_{p}": os.path.join(data_dir, f"{s}-{p}.txt") for s in ("src", "tgt") for p in ("train", "val", "test")
    }
    missing = [p for p in files.values() if not os.path.exists(p)]
    if missing:
        raise ConfigError(f"run.data_dir {data_dir}: missing {', '.join(os.path.basename(m) for m in missing)}")
    empty = [os.path.basename(p) for p in files.values() if _is_empty(p)]
    if empty:
        raise ConfigError(
            f"run.data_dir {data_dir}: empty split file(s) {', '.join(empty)} (a 0-row or "
            "all-rejected corpus: see the rejects.tsv and summary.json next to it)"
        )
    run_dir = os.path.abspath(run_dir)
    tcfg = dict(cfg)
    tcfg["data"] = {
        "corpus_1": {"path_src": files["src_train"], "path_tgt": files["tgt_train"]},
        "valid": {"path_src": files["src_val"], "path_tgt": files["tgt_val"]},
    }
    tcfg["save_data"] = os.path.join(run_dir, "vocab")
    tcfg["src_vocab"] = os.path.join(run_dir, "vocab.src")
    tcfg["tgt_vocab"] = os.path.join(run_dir, "vocab.tgt")
    tasks = task_files(data_dir) if run.get("multitask") else {}
    if tasks:  # one weighted corpus per task, the mixed validation set, one shared vocabulary
        tcfg["data"] = {
            t: {"path_src": f["src_train"], "path_tgt": f["tgt_train"], "weight": f["weight"]} for t, f in tasks.items()
        }
        tcfg["data"]["valid"] = {"path_src": files["src_val"], "path_tgt": files["tgt_val"]}
        tcfg["share_vocab"] = True
        tcfg["tgt_vocab"] = tcfg["src_vocab"]
    from onmt_moe.runs import corpus_checks  # imports the plugin (torch, OpenNMT): only when resolving

    names = corpus_checks.loss_option_problems(tcfg)
    names += corpus_checks.name_problems(tcfg, [c["path_src"] for k, c in tcfg["data"].items() if k != "valid"])
    if names:
        raise ConfigError(f"{template_path}: config has errors:\n  - " + "\n  - ".join(names))
    tcfg["save_model"] = os.path.join(run_dir, "model")
    tcfg["moe_log_dir"] = run_dir  # switches the plugin's CSV logs on (stock onmt_train runs write none)
    from onmt_moe.data.formatting import option_value  # the corpus' formatting, kept in every checkpoint

    tcfg["moe_corpus_formatting"] = option_value(data_dir)
    tcfg.setdefault("seed", int(run.get("seed", 3245)))
    tcfg.setdefault("num_workers", 0)
    tr = dict(DEFAULT_TRANSLATE)
    tr.update(run.get("translate", {}) or {})
    gpu = 0 if tcfg.get("gpu_ranks") else -1
    translate_cfg = {"model": None, "gpu": gpu, "with_score": True, **tr}
    return {
        "template": os.path.abspath(template_path),
        "run_dir": run_dir,
        "run_name": os.path.basename(run_dir),
        "data_dir": data_dir,
        **{k: v for k, v in files.items()},
        "kind": run.get("kind", "smiles"),
        "tasks": tasks,
        "n_best": int(tr["n_best"]),
        "missing_mode": run.get("missing_mode", "token"),
        "train_config": tcfg,
        "translate_config": translate_cfg,
        "overrides": [f"{k}={v}" for k, v in overrides],
        "resume": resume,
    }


def task_files(data_dir: str) -> dict[str, dict]:
    """``run.multitask``: per task its train/test files, scorer kind and corpus weight, from the
    ``tasks.json`` next to ``data_dir`` (benchmark/generate_glycan_input.py --multitask)."""
    manifest = os.path.join(os.path.dirname(data_dir), "tasks.json")
    try:
        with open(manifest, encoding="utf-8") as f:
            tasks = json.load(f)
    except OSError:
        raise ConfigError(
            f"run.multitask: {manifest} not found (write the corpus with "
            "benchmark/generate_glycan_input.py --multitask)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{manifest}: not valid JSON ({exc})") from None
    out = {}
    for name, task in tasks.items():
        files = {
            f"{s}_{p}": os.path.join(data_dir, name, f"{s}-{p}.txt") for s in ("src", "tgt") for p in ("train", "test")
        }
        bad = [os.path.basename(p) for p in files.values() if not os.path.exists(p) or _is_empty(p)]
        if bad:
            raise ConfigError(f"run.multitask: task {name}: missing or empty {', '.join(bad)} in {data_dir}/{name}")
        if task.get("score") not in KINDS:
            raise ConfigError(f"{manifest}: task {name}: score {task.get('score')!r} is not one of {', '.join(KINDS)}")
        out[name] = {
            **files,
            "kind": task["score"],
            "weight": int(task.get("weight", 1)),
            "target_prefix": str(task.get("target_prefix") or ""),
        }
    return out


# ----------------------------------------------------------------------------- run folder helpers
def unreadable_reason(path: str) -> str | None:
    """Why a checkpoint cannot be loaded (a kill during OpenNMT's non-atomic save leaves a truncated
    file), or None. torch.save writes a zip archive: its CRCs check every byte without unpickling."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
        return None if bad is None else f"corrupt entry {bad}"
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        zip_error = f"{type(exc).__name__}: {exc}"
    try:  # not a zip: maybe torch's legacy format, which only torch can check (the one safe loader)
        load_checkpoint(path)
        return None
    except CheckpointError as exc:  # a refused global is named; anything else: the zip's complaint
        return str(exc) if "refused to load" in str(exc) else zip_error


def latest_good_checkpoint(run_dir: str) -> str | None:
    """The newest checkpoint that loads. Unreadable newer ones are named and moved aside
    (``….pt.unreadable``) so that neither OpenNMT nor a later stage picks them up."""
    for path in reversed(checkpoints(run_dir)):
        why = unreadable_reason(path)
        if why is None:
            return path
        os.replace(path, path + ".unreadable")
        print(
            f"[checkpoint] {path} is unreadable ({why}); moved to {os.path.basename(path)}.unreadable, "
            "using the previous checkpoint",
            flush=True,
        )
    return None


# ----------------------------------------------------------------------------- vocabulary provenance
def _file_record(path: str, with_hash: bool = True) -> dict:
    st = os.stat(path)
    rec = {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if with_hash:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        rec["sha256"] = h.hexdigest()
    return rec


def corpus_record(plan: dict) -> dict:
    """What onmt_build_vocab reads: the training corpus files."""
    return {"src_train": _file_record(plan["src_train"]), "tgt_train": _file_record(plan["tgt_train"])}


def _same_file(old: dict, path: str) -> bool:
    now = _file_record(path, with_hash=False)
    if all(old.get(k) == now[k] for k in ("path", "size", "mtime_ns")):
        return True  # untouched: no need to hash again
    return old.get("sha256") == _file_record(path)["sha256"]


def vocab_mismatch(plan: dict) -> str | None:
    """None when the run folder's vocabulary was built from this plan's corpus, else what changed
    (``'unrecorded'`` for a vocabulary built before this record existed)."""
    path = os.path.join(plan["run_dir"], VOCAB_RECORD)
    if not os.path.exists(path):
        return "unrecorded"
    with open(path, encoding="utf-8") as f:
        record = json.load(f)
    built = record.get("corpus", {})
    changed = [
        f"{k} was {built.get(k, {}).get('path')}"
        for k in ("src_train", "tgt_train")
        if not _same_file(built.get(k, {}), plan[k])
    ]
    was, now = record.get("init_from") or {}, plan.get("init_from") or {}
    if was.get("sha256") != now.get("sha256"):  # a fine-tuning vocabulary: the union with that checkpoint's
        changed.append(f"init_from was {was.get('path') or 'none'}")
    return "; ".join(changed) or None


def write_configs(plan: dict) -> None:
    d = plan["run_dir"]
    os.makedirs(d, exist_ok=True)
    header = [
        f"# Resolved by benchmark/start_training.py on {_dt.datetime.now().isoformat(timespec='seconds')}",
        f"# template: {plan['template']}",
        f"# overrides: {' '.join(plan['overrides']) or '-'}",
        f"# onmt_moe git commit: {_git_commit()}",
        "# versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
        "",
    ]
    body = yaml.safe_dump(plan["train_config"], sort_keys=False, default_flow_style=None)
    atomic_write_text(os.path.join(d, CONFIG_YAML), "\n".join(header) + body)


def _autoload_active() -> bool:
    """Whether a stock onmt_* command started from here loads the plugin by itself."""
    import importlib.util

    if os.environ.get("ONMT_MOE_AUTOLOAD", "1") == "0":
        return False
    return importlib.util.find_spec(_hook.SITE_MODULE) is not None


def onmt_command(name: str) -> list[str]:
    """The stock OpenNMT command next to this interpreter when the autoload hook makes it load the
    plugin; otherwise the wrapper that imports the plugin first (ONMT_MOE_AUTOLOAD=0, no hook)."""
    exe = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(exe) and _autoload_active():
        return [exe]
    return [sys.executable, "-m", "onmt_moe.plugin.cli", name.replace("onmt_", "")]


class StageError(RuntimeError):
    pass


def run_logged(cmd: list[str], log_path: str, echo: bool = True, env=None, on_line=None) -> None:
    """Run a command, tee its output to ``log_path`` (appending, line by line: the log never lags
    behind the command) and the console; ``on_line(line)`` sees every line; raise StageError."""
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("ONMT_MOE_AUTOLOAD", "1")
    env["PYTHONUNBUFFERED"] = "1"  # a Python child writing to a pipe would otherwise hold its prints back
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            pass_fds=tuple(_HELD_LOCKS),  # the run-folder lock outlives this process while the command runs
        )
        tail: list[str] = []
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
            if on_line is not None:
                on_line(line)
            tail.append(line)
            del tail[:-40]
        rc = proc.wait()
    if rc != 0:
        text = "".join(tail[-20:])
        hint = f"\n{_hook.PLUGIN_MISSING_HINT}" if _hook.plugin_missing(text) else ""
        raise StageError(f"{os.path.basename(cmd[0])} exited with {rc}; last lines of {log_path}:\n{text}{hint}")


# ----------------------------------------------------------------------------- stages
def stage_vocab(plan: dict, log: str, echo: bool) -> None:
    tc = plan["train_config"]
    if os.path.exists(tc["src_vocab"]) and os.path.exists(tc["tgt_vocab"]):
        why = vocab_mismatch(plan)
        if why is None:
            print(f"[vocab] built from this corpus, skipped: {tc['src_vocab']}")
            return
        if checkpoints(plan["run_dir"]):
            if why == "unrecorded":
                print(f"[vocab] kept (built before {VOCAB_RECORD} existed; its corpus is not recorded)")
                return
            raise ConfigError(
                f"run folder {plan['run_dir']} holds checkpoints trained on a vocabulary built from "
                f"another corpus ({why}; now {plan['data_dir']}): use another --run_name"
            )
        print(
            f"[vocab] rebuilding: the vocabulary in {plan['run_dir']} was built from another corpus ({why})"
            if why != "unrecorded"
            else "[vocab] rebuilding: its corpus was not recorded"
        )
    cfg = os.path.join(plan["run_dir"], CONFIG_YAML)
    record = {"corpus": corpus_record(plan)}
    run_logged(onmt_command("onmt_build_vocab") + ["-config", cfg, "-n_sample", "-1", "-overwrite"], log, echo)
    if plan.get("init_from"):  # fine-tuning: the pretrained vocabulary first, then this corpus' new tokens
        from onmt_moe.runs import finetune

        finetune.merge_vocab(plan)
        record["init_from"] = {k: plan["init_from"][k] for k in ("path", "sha256")}
    write_json(os.path.join(plan["run_dir"], VOCAB_RECORD), record)


def stage_train(plan: dict, log: str, echo: bool) -> None:
    """Train (or resume). CSV rows past the starting step are dropped by the plugin when the first
    update starts (onmt_moe.plugin.reporting.begin_training), i.e. only once the checkpoint has loaded."""
    why = vocab_mismatch(plan)
    if why not in (None, "unrecorded"):
        raise ConfigError(
            f"the vocabulary in {plan['run_dir']} was built from another corpus ({why}); "
            "run the vocab stage (or use another --run_name)"
        )
    cfg = os.path.join(plan["run_dir"], CONFIG_YAML)
    tc = plan["train_config"]
    opts = known_options()
    train_steps = int(tc["train_steps"] if tc.get("train_steps") is not None else opts["train_steps"].default)
    extra, start = [], 0
    if plan["resume"]:
        ckpt = latest_good_checkpoint(plan["run_dir"])
        if ckpt:
            start = checkpoint_step(ckpt)
            if 0 < train_steps <= start:  # onmt_train -train_from would still take one more step
                print(
                    f"[train] {os.path.basename(ckpt)} is at step {start} of train_steps {train_steps}: "
                    "training is complete, skipped (raise train_steps to train further)",
                    flush=True,
                )
                return
            extra = ["-train_from", ckpt]
            if plan.get("init_from"):  # its saved options are the pretrained run's: the optimizer's come from here
                extra += ["-reset_optim", "keep_states"]
            print(f"[train] resuming from {ckpt} (step {start})")
        else:
            print("[train] no readable checkpoint to resume from: training starts at step 0")
    if not extra and plan.get("init_from"):  # fine-tuning from the pretrained checkpoint (onmt_moe.runs.finetune)
        from onmt_moe.runs import finetune

        extra = finetune.train_arguments(plan)
    every = tc.get("report_every") or opts["report_every"].default
    print(f"[train] training to step {train_steps}: a progress line every {every} steps (full log: {log})", flush=True)
    run_logged(onmt_command("onmt_train") + ["-config", cfg] + extra, log, echo, on_line=TrainProgress(start))


# OpenNMT's report line (onmt.utils.statistics.Statistics.output), e.g.
# "Step 400/ 2000; acc: 61.2; ppl:  3.4; xent: 1.2; lr: 0.00100; sents: 512; bsz: …; 9876/4321 tok/s;  321 sec;"
_REPORT_LINE = re.compile(
    r"Step\s+(\d+)\s*/\s*(\d+);.*?xent:\s*(\S+);.*?([\d.]+)\s*/\s*([\d.]+)\s+tok/s;\s*([\d.]+)\s+sec"
)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class TrainProgress:
    """Turns each OpenNMT report line into one console line, ``[train] step 400/2000  loss 1.2
    12,345 tok/s  ETA 6 min`` (loss: the train xent; tok/s: source + target tokens; ETA from the rate
    since this training started at ``start_step``), so a quiet run still shows it is moving."""

    def __init__(self, start_step: int = 0):
        self.start_step = start_step
        self.first: tuple | None = None  # (time, step) of the first report line

    def __call__(self, line: str) -> None:
        m = _REPORT_LINE.search(line)
        if not m:
            return
        now, step, total = time.time(), int(m.group(1)), int(m.group(2))
        tok_s = float(m.group(4)) + float(m.group(5))
        secs, done = float(m.group(6)), step - self.start_step  # OpenNMT's seconds since training began
        self.first = self.first or (now, step)
        if step >= total:
            eta = "done"
        elif secs >= 1 and done > 0:
            eta = f"ETA {_duration(secs / done * (total - step))}"
        elif step > self.first[1]:  # OpenNMT rounds short times to 0 s: this process's own clock
            eta = f"ETA {_duration((now - self.first[0]) / (step - self.first[1]) * (total - step))}"
        else:
            eta = "ETA ?"
        print(f"[train] step {step}/{total}  loss {m.group(3)}  {tok_s:,.0f} tok/s  {eta}", flush=True)


def strip_target_prefix(line: str, prefix: str) -> str:
    """One decoded line (``tokens[\tscore]``) without the forced first token ``prefix``."""
    if not prefix:
        return line
    if line == prefix or line.startswith(prefix + "\t"):
        return line[len(prefix) :]  # an empty hypothesis (the score column, if any, stays)
    return line[len(prefix) + 1 :] if line.startswith(prefix + " ") else line


def _translate_with_prefix(cmd: list[str], src: str, out: str, prefix: str, log: str, echo: bool) -> None:
    """``onmt_translate`` with ``prefix`` forced as every hypothesis' first token, then stripped."""
    with open(src, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    prefix_file = os.path.join(os.path.dirname(out), "prefix.txt")
    atomic_write_text(prefix_file, (prefix + "\n") * n)
    raw = os.path.splitext(out)[0] + ".prefixed.txt"
    run_logged(cmd + ["-output", raw, "-tgt", prefix_file, "-tgt_file_prefix"], log, echo)
    with open(raw, encoding="utf-8") as f:
        lines = f.read().splitlines()
    atomic_write_text(out, "".join(strip_target_prefix(ln, prefix) + "\n" for ln in lines))


def _test_sets(plan: dict) -> dict[str | None, tuple]:
    """task (None for a single-task run) -> (src test file, tgt test file, prediction file, scorer kind)."""
    pred = os.path.join(plan["run_dir"], "pred")
    if not plan.get("tasks"):
        return {None: (plan["src_test"], plan["tgt_test"], os.path.join(pred, "test.txt"), plan["kind"])}
    return {
        t: (f["src_test"], f["tgt_test"], os.path.join(pred, t, "test.txt"), f["kind"])
        for t, f in plan["tasks"].items()
    }


def _translate_tasks_at_once(cmd: list[str], sets: dict, prefixes: dict, n_best: int, log: str, echo: bool) -> None:
    """Every task's test split in one ``onmt_translate`` (the model loads once): the sources one after
    the other, each line's task token forced by the prefix file, the output cut back into each task's
    ``test.prefixed.txt`` (``n_best`` lines a source) and ``test.txt`` (token stripped)."""
    srcs = {t: read_lines(src) for t, (src, _, _, _) in sets.items()}
    work = os.path.join(os.path.dirname(os.path.dirname(next(iter(sets.values()))[2])), "all_tasks")
    os.makedirs(work, exist_ok=True)
    src_all, prefix_all, raw_all = (os.path.join(work, f) for f in ("src.txt", "prefix.txt", "test.prefixed.txt"))
    atomic_write_text(src_all, "".join(ln + "\n" for t in sets for ln in srcs[t]))
    atomic_write_text(prefix_all, "".join((prefixes[t] + "\n") * len(srcs[t]) for t in sets))
    run_logged(cmd + ["-src", src_all, "-output", raw_all, "-tgt", prefix_all, "-tgt_file_prefix"], log, echo)
    raw, at = read_lines(raw_all), 0
    if len(raw) != n_best * sum(map(len, srcs.values())):
        raise StageError(f"{raw_all}: {len(raw)} lines, expected {n_best} per source of {src_all}")
    for t, (_, _, out, _) in sets.items():
        mine, at = raw[at : at + n_best * len(srcs[t])], at + n_best * len(srcs[t])
        os.makedirs(os.path.dirname(out), exist_ok=True)
        atomic_write_text(os.path.splitext(out)[0] + ".prefixed.txt", "".join(ln + "\n" for ln in mine))
        atomic_write_text(out, "".join(strip_target_prefix(ln, prefixes[t]) + "\n" for ln in mine))


def _translate_one(cmd: list[str], src: str, out: str, prefix: str, log: str, echo: bool) -> None:
    """One test split: ``onmt_translate`` of ``src`` into ``out`` (``prefix`` forced, then stripped)."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    try:
        if prefix:
            _translate_with_prefix(cmd + ["-src", src], src, out, prefix, log, echo)
        else:
            run_logged(cmd + ["-src", src, "-output", out], log, echo)
    except StageError:
        if os.path.exists(out) and os.path.getsize(out) == 0:
            os.remove(out)  # onmt_translate opens its output before it loads the model
        raise


def stage_translate(plan: dict, log: str, echo: bool) -> dict:
    ckpt = latest_good_checkpoint(plan["run_dir"])
    if not ckpt:
        raise StageError(f"no readable checkpoint model_step_*.pt in {plan['run_dir']}")
    tcfg = dict(plan["translate_config"], model=ckpt)
    path = os.path.join(plan["run_dir"], TRANSLATE_YAML)
    atomic_write_text(path, yaml.safe_dump(tcfg, sort_keys=False))
    t0 = time.time()
    sets = _test_sets(plan)
    prefixes = {t: plan["tasks"][t].get("target_prefix", "") for t in sets if t is not None}
    cmd = onmt_command("onmt_translate") + ["-config", path]
    if len(sets) > 1 and all(prefixes.values()):  # a multi-task run whose targets start with their task token
        _translate_tasks_at_once(cmd, sets, prefixes, int(plan["n_best"]), log, echo)
    else:
        for task, (src, _, out, _) in sets.items():
            _translate_one(cmd, src, out, prefixes.get(task, ""), log, echo)
    secs = time.time() - t0
    n = sum(len(read_lines(src)) for src, _, _, _ in sets.values())
    outs = {task: out for task, (_, _, out, _) in sets.items()}
    return {
        "checkpoint": ckpt,
        "pred_test": outs.get(None, outs),
        "decode_seconds": secs,
        "decode_sents_per_s": n / max(secs, 1e-9),
    }


def stage_score(plan: dict) -> dict:
    """scores.json (+ ranks.csv); a multi-task run scores each task with its own scorer into
    pred/<task>/scores.json and gathers them in scores.json as ``{"tasks": {task: scores}}``."""
    from onmt_moe.evaluation.scoring import ScoringError, score_files

    res = {}
    for task, (src, tgt, pred, kind) in _test_sets(plan).items():
        where = plan["run_dir"] if task is None else os.path.dirname(pred)
        try:
            res[task] = score_files(
                pred,
                tgt,
                plan["n_best"],
                src_path=src,
                out_json=os.path.join(where, SCORES_JSON),
                ranks_csv=os.path.join(where, RANKS_CSV),
                kind=kind,
            )
        except ScoringError as exc:  # a short or foreign prediction file: one line, not a traceback
            raise ConfigError(f"cannot score: {exc} (run the translate stage again)") from None
    if None in res:
        return res[None]
    write_json(os.path.join(plan["run_dir"], SCORES_JSON), {"tasks": res})
    return {"tasks": res}


def stage_rerank(plan: dict, log: str, echo: bool) -> dict:
    """The optional stage: forward-simulation re-ranking (:mod:`onmt_moe.runs.rerank`), weights fitted
    on the validation split; a run it does not apply to (no NMR, not SMILES) is skipped with one line."""
    from onmt_moe.runs import rerank

    try:
        res = rerank.rerank_run(plan["run_dir"], record=plan, log=log, echo=echo)
    except rerank.RerankError as exc:
        print(f"[rerank] skipped: {exc}", flush=True)
        return {"rerank": f"skipped: {exc}"}
    print(rerank.report(res), flush=True)
    return {"rerank": {"topk": res["topk"], "weights": res["weights"]}}


def model_params(checkpoint: str) -> dict:
    """``{"params_total", "params_active"}`` of a checkpoint's model, built by OpenNMT from the
    checkpoint's options (weights not loaded) and counted by ``diagnostics.analysis.parameter_counts``."""
    from onmt.inputters.inputter import dict_to_vocabs
    from onmt.model_builder import build_base_model
    from onmt.utils.parse import ArgumentParser

    import onmt_moe  # noqa: F401
    from onmt_moe.diagnostics.analysis import parameter_counts

    ckpt = load_checkpoint(checkpoint)
    opt = ArgumentParser.ckpt_model_opts(ckpt["opt"])
    return parameter_counts(build_base_model(opt, dict_to_vocabs(ckpt["vocab"])))


def stage_report(plan: dict) -> dict:
    out = {}
    try:
        from onmt_moe.diagnostics.anomaly import analyze_run, write_report

        report = analyze_run(plan["run_dir"])
        write_report(report, plan["run_dir"])
        out["anomalies"] = {
            s: sum(1 for f in report.get("findings", []) if f.get("severity") == s)
            for s in ("error", "warning", "info")
        }
    except ImportError as exc:  # pragma: no cover
        out["anomalies"] = f"not available: {exc}"
    try:
        from onmt_moe.diagnostics.plots import plot_runs

        out["plots"] = [str(p) for p in plot_runs([plan["run_dir"]], os.path.join(plan["run_dir"], "plots"))]
    except ImportError as exc:  # pragma: no cover
        out["plots"] = f"not available: {exc}"
    return out


def copy_corpus_summary(plan: dict) -> None:
    """Keep the corpus' summary.json (how its sources were tokenised) in the run folder, so that
    onmt_moe_predict can format new samples the same way when the corpus is not at hand."""
    data_dir = plan["data_dir"]
    for src in (os.path.join(data_dir, "summary.json"), os.path.join(os.path.dirname(data_dir), "summary.json")):
        if os.path.isfile(src):
            with open(src, encoding="utf-8") as fh:
                atomic_write_text(os.path.join(plan["run_dir"], CORPUS_SUMMARY), fh.read())
            return


def execute(plan: dict, stages: Sequence[str] = STAGES, echo: bool = True) -> dict:
    d = plan["run_dir"]
    info = read_run_json(d, missing_ok=True) if plan["resume"] else {}
    info.update(
        {
            k: plan[k]
            for k in ("run_name", "data_dir", "src_test", "tgt_test", "n_best", "kind", "missing_mode", "template")
        }
    )
    if plan.get("init_from"):
        info["init_from"] = plan["init_from"]
    info.setdefault("stages", {})
    info["versions"] = _versions()
    info["machine"] = _machine()
    info["git_commit"] = _git_commit()
    write_configs(plan)
    copy_corpus_summary(plan)
    write_run_json(d, info)
    log = os.path.join(d, TRAIN_LOG)
    for st in ALL_STAGES:
        if st not in stages:
            continue
        print(f"==> [{plan['run_name']}] stage {st}", flush=True)
        t0 = time.time()
        try:
            if st == "vocab":
                stage_vocab(plan, log, echo)
            elif st == "train":
                stage_train(plan, log, echo)
                ck = checkpoints(d)
                if ck:
                    info["checkpoint"] = ck[-1]
                    info.update(model_params(ck[-1]))
            elif st == "translate":
                info.update(stage_translate(plan, log, echo))
            elif st == "score":
                res = stage_score(plan)
                keys = ("topk", "invalid_rate", "n", "bleu", "chrf")
                if "tasks" in res:
                    info["scores"] = {
                        "tasks": {t: {k: r.get(k) for k in keys if k in r} for t, r in res["tasks"].items()}
                    }
                else:
                    info["scores"] = {k: res.get(k) for k in keys if k in res}
            elif st == "report":
                info.update(stage_report(plan))
            elif st == "rerank":
                info.update(stage_rerank(plan, log, echo))
        except Exception:
            info["stages"][st] = {"seconds": round(time.time() - t0, 2), "status": "failed"}
            write_run_json(d, info)
            raise
        info["stages"][st] = {"seconds": round(time.time() - t0, 2), "status": "ok"}
        write_run_json(d, info)
    return info


def check_run_location(runs_dir: str, run_name: str) -> str:
    """``runs_dir/run_name``, checked before anything is written: the name must be one plain folder
    name (not empty, ``.``, ``..``, absolute or with a ``/``), so the run stays inside ``runs_dir``,
    and ``runs_dir`` must be a folder or creatable as one."""
    seps = [sep for sep in (os.sep, os.altsep) if sep]
    if not run_name or run_name in (".", "..") or "\0" in run_name or any(sep in run_name for sep in seps):
        raise ConfigError(
            f"--run_name {run_name!r}: give a plain folder name (no '/', not empty, '.' or '..'); "
            "the run folder goes inside --runs_dir"
        )
    if not runs_dir or "\0" in runs_dir:
        raise ConfigError(f"--runs_dir {runs_dir!r}: not a usable folder name")
    folder = os.path.abspath(runs_dir)
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        where = "is a file" if folder == os.path.abspath(runs_dir) else f"lies below the file {folder}"
        raise ConfigError(f"--runs_dir {runs_dir} {where}, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--runs_dir {runs_dir}: {folder} is not writable")
    run_dir = os.path.join(runs_dir, run_name)
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise ConfigError(f"run folder {run_dir} is a file, not a folder: use another --run_name")
    return run_dir


LOCK_FILE = ".run.lock"
_HELD_LOCKS: set = set()  # descriptors of the run-folder locks this process holds (run_logged passes them on)


class RunLock:
    """This process's hold on a run folder (see :func:`lock_run_dir`); ``release()`` or leave the ``with``."""

    def __init__(self, fd: int | None, path: str):
        self.fd, self.path = fd, path
        if fd is not None:
            _HELD_LOCKS.add(fd)

    def release(self) -> None:
        if self.fd is not None:
            _HELD_LOCKS.discard(self.fd)
            os.close(self.fd)  # closing the descriptor drops the flock (once no child holds a copy)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _lock_holder(fd: int, path: str) -> str:
    try:
        rec = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        pid, host, started = int(rec["pid"]), rec["host"], rec["started"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"another process (its record in {path} is not written yet)"
    import socket

    gone = ""
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:  # killed alone: the onmt_train it started still writes here
            gone = " (that process has ended; a command it started still holds the folder)"
        except OSError:
            pass
    return f"pid {pid} on host {host}, started {started}{gone}"


def lock_run_dir(run_dir: str) -> RunLock:
    """One writer per run folder: an exclusive ``flock`` on ``<run_dir>/.run.lock`` for as long as
    the returned lock is held. The kernel drops it when the holder ends, however it ends (a killed
    run leaves no stale lock). The file records the holder (pid, host, start time, command) so that
    a second start_training on the folder is refused with one line naming it. The commands
    :func:`run_logged` starts inherit the lock: an onmt_train left running by a killed runner still
    holds the folder until it ends."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, LOCK_FILE)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        return RunLock(None, path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigError(f"cannot open the run folder's lock file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _lock_holder(fd, path)
        os.close(fd)
        raise ConfigError(
            f"run folder {run_dir} is in use by {holder}; wait for that run to end, or use another --run_name"
        ) from None
    except OSError as exc:  # a file system without flock (some network mounts): run unlocked, say so
        print(f"warning: cannot lock {path} ({exc.strerror}): two runs on this folder would mix", file=sys.stderr)
        return RunLock(fd, path)
    import socket

    rec = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": _dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(rec) + "\n").encode("utf-8"), 0)
    return RunLock(fd, path)


def prepare_run_dir(plan: dict, fresh: bool) -> None:
    d = plan["run_dir"]
    if fresh and os.path.exists(d) and checkpoints(d) and not plan["resume"]:
        raise ConfigError(
            f"run folder {d} already holds checkpoints: use --resume to continue it, or another --run_name"
        )
    os.makedirs(d, exist_ok=True)


# ----------------------------------------------------------------------------- launching a run
def parse_stages(text: str) -> list[str]:
    """``"vocab,train"`` → ``["vocab", "train"]``; an unknown stage is a ConfigError."""
    stages = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in stages if s not in ALL_STAGES]
    if bad:
        raise ConfigError(f"unknown stage(s) {bad}; choose from {list(ALL_STAGES)}")
    return stages


def default_run_name(config: str) -> str:
    """``<config name>_<timestamp>``: the run folder name when none is given."""
    return f"{os.path.splitext(os.path.basename(config))[0]}_{_dt.datetime.now():%Y%m%d_%H%M%S}"


def print_summary(run_dir: str, info: dict) -> None:
    """The closing lines of a run: its folder, each stage's time and status, the scores."""
    print(f"\nrun folder: {run_dir}")
    for st, v in info.get("stages", {}).items():
        print(f"  {st:<10} {v['seconds']:8.1f} s  {v['status']}")
    scores = info.get("scores") or {}
    for task, res in (scores.get("tasks") or {None: scores}).items():  # a multi-task run: one block per task
        if task is not None:
            extra = "".join(f"  {k} {res[k]:.2f}" for k in ("bleu", "chrf") if res.get(k) is not None)
            print(f"  task {task}:{extra}")
        for k, v in (res.get("topk") or {}).items():
            print(f"  top-{k}: {v:.4f}")


def start(
    config: str,
    runs_dir: str = "runs",
    run_name: str | None = None,
    overrides: Sequence[str] = (),
    resume: bool = False,
    stages: Sequence[str] = STAGES,
    quiet: bool = False,
    dry_run: bool = False,
    init_from: str | None = None,
) -> dict:
    """Train, decode and score one run in this process (what ``benchmark/start_training.py`` does):
    check the location, resolve and validate the config (``overrides``: ``KEY=VALUE`` strings), then,
    holding the run folder's lock (:func:`lock_run_dir`; the caller must not hold it), write the
    configs and run ``stages`` (each a stock ``onmt_*`` subprocess) and print the summary.

    ``init_from``: a checkpoint to fine-tune (:mod:`onmt_moe.runs.finetune`; a resumed fine-tuning run
    continues from its own checkpoints).

    Returns the run's record (``run.json``), or the resolved plan with ``dry_run`` (printed, nothing run).
    Raises ConfigError before any work for a bad name, key or value; StageError when a stage fails."""
    stages = parse_stages(",".join(stages))
    name = default_run_name(config) if run_name is None else run_name
    run_dir = check_run_location(runs_dir, name)  # before anything is written
    plan = resolve(config, run_dir, parse_set(overrides), resume=resume)
    if init_from or resume:
        from onmt_moe.runs import finetune

        finetune.attach(plan, init_from)
    if dry_run:
        print(json.dumps(dict(plan), indent=2, default=str))
        print(f"dry run: config valid; stages {stages} would run in {plan['run_dir']}")
        return plan
    with lock_run_dir(plan["run_dir"]):  # one writer per run folder
        prepare_run_dir(plan, fresh=True)
        info = execute(plan, stages, echo=not quiet)
    print_summary(plan["run_dir"], info)
    return info


@dataclass
class Launch:
    """One training run as the demos and benchmarks start it: ``config`` on the corpus in ``data_dir``
    (``run.data_dir``, before ``sets``, so a caller's own ``run.data_dir`` wins), into ``run_dir``."""

    config: str
    run_dir: str
    data_dir: str
    sets: Sequence[str] = ()
    stages: Sequence[str] = STAGES
    quiet: bool = True
    init_from: str | None = None  # a checkpoint to fine-tune (start_training --init_from)

    @property
    def overrides(self) -> list[str]:
        return [f"run.data_dir={self.data_dir}", *self.sets]

    @property
    def resume(self) -> bool:
        """A folder that already holds a checkpoint is resumed: a killed run (a session ends every
        process) restarts from its last save instead of refusing the non-empty folder."""
        return os.path.isdir(self.run_dir) and bool(checkpoints(self.run_dir))

    def command(self) -> list[str]:
        """The equivalent ``benchmark/start_training.py`` command line: printed, so that a run can be
        repeated by hand. Never run from here (:func:`launch` runs it in this process)."""
        runs_dir, run_name = os.path.split(os.path.abspath(self.run_dir))
        cmd = [sys.executable, START_TRAINING, "--config", self.config, "--runs_dir", runs_dir, "--run_name", run_name]
        if self.quiet:
            cmd.append("--quiet")
        if tuple(self.stages) != STAGES:
            cmd += ["--stages", ",".join(self.stages)]
        for s in self.overrides:
            cmd += ["--set", s]
        if self.init_from:
            cmd += ["--init_from", self.init_from]
        return cmd + (["--resume"] if self.resume else [])


# the command-line entry point (named in Launch.command's printed line only)
START_TRAINING = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "benchmark", "start_training.py"
)


def launch(job: Launch) -> bool:
    """Run ``job`` in this process (:func:`start`; resumed when its folder holds a checkpoint). True when
    it finished; a ConfigError or StageError is printed as ``error: …`` (as start_training prints it)
    and gives False: the caller names the run that failed."""
    runs_dir, run_name = os.path.split(os.path.abspath(job.run_dir))
    try:
        more = {"init_from": job.init_from} if job.init_from else {}
        start(job.config, runs_dir, run_name, job.overrides, job.resume, job.stages, job.quiet, **more)
    except (ConfigError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return False
    return True


__all__ = [
    "ConfigError",
    "StageError",
    "resolve",
    "execute",
    "validate_config",
    "parse_set",
    "prepare_run_dir",
    "check_run_location",
    "lock_run_dir",
    "checkpoints",
    "start",
    "Launch",
    "launch",
]
