"""Run orchestration behind ``benchmark/start_training.py``: resolve a config template into a run
folder, validate every key, then run the stages vocab → train → translate → score → report.

A config template is an ``onmt_train`` YAML file plus one extra section, ``run:``, read only here::

    run:
      data_dir: data/demo_tagged/data     # src-train.txt, tgt-train.txt, src-val.txt, … src-test.txt, tgt-test.txt
      kind: smiles                        # scorer: smiles | wurcs | spectrum
      translate: {beam_size: 10, n_best: 10, min_length: 5, max_length: 250, batch_size: 64}
    encoder_type: moe_transformer
    …                                     # any onmt_train option, including the plugin's moe_* options

Paths in ``run.data_dir`` are relative to the current directory. The run folder gets
``config.yaml`` (resolved onmt_train config with a provenance header), ``translate.yaml``,
``run.json`` (plan, paths, stage timings, results), ``train.log``, checkpoints and the CSV logs.
"""
from __future__ import annotations

import copy
import csv
import datetime as _dt
import difflib
import glob
import json
import os
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import yaml

from onmt_moe.csvlog import CsvLog, atomic_write_text

STAGES = ("vocab", "train", "translate", "score", "report")
DEFAULT_TRANSLATE = {"beam_size": 10, "n_best": 10, "min_length": 5, "max_length": 250, "batch_size": 64}
# keys start_training fills in itself (a template may not set them)
MANAGED_KEYS = {"data", "src_vocab", "tgt_vocab", "save_model", "save_data", "train_from", "overwrite", "n_sample"}


class ConfigError(ValueError):
    """A problem with the config: printed as one clear message, no traceback."""


# ----------------------------------------------------------------------------- options / validation
def _train_parser():
    import onmt_moe  # noqa: F401  (plugin options must be registered)
    from onmt.opts import train_opts
    from onmt.utils.parse import ArgumentParser

    parser = ArgumentParser(description="onmt_train")
    train_opts(parser)
    return parser


def known_options() -> Dict[str, object]:
    """dest → argparse action for every onmt_train option (plugin and transform options included)."""
    parser = _train_parser()
    return {a.dest: a for a in parser._actions if a.dest not in ("help", "config", "save_config")}


def _check_value(key, value, action) -> Optional[str]:
    if value is None:
        return None
    nargs = action.nargs
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and nargs in (None, "?") and not isinstance(action.default, list):
        return f"{key}: expected a single value, got a list {value!r}"
    for v in values:
        if action.type is not None and not isinstance(v, (dict, list)):
            try:
                conv = action.type(v) if not isinstance(v, bool) or action.type is bool else v
            except (TypeError, ValueError) as exc:
                return f"{key}: {v!r} is not a valid {getattr(action.type, '__name__', action.type)} ({exc})"
        else:
            conv = v
        if action.choices is not None and conv not in action.choices:
            return f"{key}: {v!r} is not one of {sorted(map(str, action.choices))}"
    if nargs == 0 and not isinstance(value, bool):  # store_true flags
        return f"{key}: expected true/false, got {value!r}"
    return None


def validate_config(cfg: dict) -> None:
    """Raise ConfigError listing unknown keys (with the closest known names) and bad values."""
    opts = known_options()
    problems: List[str] = []
    for key, value in cfg.items():
        if key in ("run", "data"):
            continue
        if key not in opts:
            near = difflib.get_close_matches(key, list(opts), n=3, cutoff=0.6)
            hint = f" (did you mean: {', '.join(near)}?)" if near else ""
            problems.append(f"unknown key '{key}'{hint}")
            continue
        msg = _check_value(key, value, opts[key])
        if msg:
            problems.append(msg)
    if problems:
        raise ConfigError("config has errors:\n  - " + "\n  - ".join(problems))


RUN_KEYS = ("data_dir", "kind", "translate", "missing_mode", "seed")
KINDS = ("smiles", "wurcs", "spectrum")


def validate_run_section(run: dict, where: str) -> None:
    """The ``run:`` section: known keys only, and a scorer kind / missing mode that exist —
    checked before training, not found out at the score stage."""
    problems = []
    for key in run:
        if key not in RUN_KEYS:
            near = difflib.get_close_matches(key, RUN_KEYS, n=2, cutoff=0.6)
            problems.append(f"unknown key 'run.{key}'" + (f" (did you mean: run.{', run.'.join(near)}?)" if near else "")
                            + f"; known: {', '.join(RUN_KEYS)}")
    for key, allowed, default in (("kind", KINDS, "smiles"), ("missing_mode", ("token", "drop"), "token")):
        value = run.get(key, default)
        if value not in allowed:
            problems.append(f"run.{key}: {value!r} is not one of {', '.join(allowed)}")
    if "translate" in run and not isinstance(run["translate"], (dict, type(None))):
        problems.append("run.translate: expected a mapping of onmt_translate options")
    if problems:
        raise ConfigError(f"{where}: run section has errors:\n  - " + "\n  - ".join(problems))


# ----------------------------------------------------------------------------- resolve
def parse_set(items: Sequence[str]) -> List[tuple]:
    out = []
    for it in items or []:
        if "=" not in it:
            raise ConfigError(f"--set expects key=value, got {it!r}")
        k, v = it.split("=", 1)
        out.append((k.strip(), yaml.safe_load(v)))
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
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})")
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of options")
    return cfg


def _git_commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except OSError:
        return "unknown"


def _versions() -> Dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "OpenNMT-py", "onmt_moe", "rdkit", "numpy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def resolve(template_path: str, run_dir: str, overrides=(), resume: bool = False) -> dict:
    """Build the plan: the resolved onmt_train config and everything start_training needs."""
    cfg = apply_overrides(load_template(template_path), overrides)
    run = dict(cfg.pop("run", {}) or {})
    clash = sorted(MANAGED_KEYS & set(cfg))
    if clash:
        raise ConfigError(f"{template_path}: keys {clash} are filled in by start_training; remove them "
                          "(set the corpus folder with run.data_dir)")
    validate_config(cfg)
    validate_run_section(run, template_path)
    data_dir = run.get("data_dir")
    if not data_dir:
        raise ConfigError(f"{template_path}: run.data_dir is required (the folder with src-train.txt …)")
    data_dir = os.path.abspath(data_dir)
    files = {f"{s}_{p}": os.path.join(data_dir, f"{s}-{p}.txt") for s in ("src", "tgt") for p in ("train", "val", "test")}
    missing = [p for p in files.values() if not os.path.exists(p)]
    if missing:
        raise ConfigError(f"run.data_dir {data_dir}: missing {', '.join(os.path.basename(m) for m in missing)}")
    run_dir = os.path.abspath(run_dir)
    tcfg = dict(cfg)
    tcfg["data"] = {
        "corpus_1": {"path_src": files["src_train"], "path_tgt": files["tgt_train"]},
        "valid": {"path_src": files["src_val"], "path_tgt": files["tgt_val"]},
    }
    tcfg["save_data"] = os.path.join(run_dir, "vocab")
    tcfg["src_vocab"] = os.path.join(run_dir, "vocab.src")
    tcfg["tgt_vocab"] = os.path.join(run_dir, "vocab.tgt")
    tcfg["save_model"] = os.path.join(run_dir, "model")
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
        "n_best": int(tr["n_best"]),
        "missing_mode": run.get("missing_mode", "token"),
        "train_config": tcfg,
        "translate_config": translate_cfg,
        "overrides": [f"{k}={v}" for k, v in overrides],
        "resume": resume,
    }


# ----------------------------------------------------------------------------- run folder helpers
def write_json(path: str, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def truncate_csv_after_step(path: str, step: int) -> None:
    """Drop rows logged after ``step`` (a resumed run re-logs them), keeping the file's own header."""
    with open(path, encoding="utf-8") as f:
        header = next(csv.reader([f.readline().rstrip("\r\n")]), [])
    if header:
        CsvLog(path, header).truncate_after_step(step)


def checkpoints(run_dir: str) -> List[str]:
    found = glob.glob(os.path.join(run_dir, "model_step_*.pt"))
    return sorted(found, key=lambda p: int(re.search(r"model_step_(\d+)\.pt$", p).group(1)))


def checkpoint_step(path: str) -> int:
    return int(re.search(r"model_step_(\d+)\.pt$", path).group(1))


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
    atomic_write_text(os.path.join(d, "config.yaml"), "\n".join(header) + body)


def _bin(name: str) -> List[str]:
    """The stock OpenNMT command next to this interpreter (the plugin loads itself there)."""
    exe = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-m", "onmt_moe.cli", name.replace("onmt_", "")]


class StageError(RuntimeError):
    pass


def run_logged(cmd: List[str], log_path: str, echo: bool = True, env=None) -> None:
    """Run a command, tee its output to ``log_path`` (appending) and the console; raise StageError."""
    env = dict(os.environ if env is None else env)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("ONMT_MOE_AUTOLOAD", "1")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        tail: List[str] = []
        for line in proc.stdout:
            log.write(line)
            if echo:
                sys.stdout.write(line)
            tail.append(line)
            del tail[:-40]
        rc = proc.wait()
    if rc != 0:
        raise StageError(f"{os.path.basename(cmd[0])} exited with {rc}; last lines of {log_path}:\n" + "".join(tail[-20:]))


# ----------------------------------------------------------------------------- stages
def stage_vocab(plan: dict, log: str, echo: bool) -> None:
    tc = plan["train_config"]
    if os.path.exists(tc["src_vocab"]) and os.path.exists(tc["tgt_vocab"]):
        print(f"[vocab] exists, skipped: {tc['src_vocab']}")
        return
    cfg = os.path.join(plan["run_dir"], "config.yaml")
    run_logged(_bin("onmt_build_vocab") + ["-config", cfg, "-n_sample", "-1", "-overwrite"], log, echo)


def stage_train(plan: dict, log: str, echo: bool) -> None:
    cfg = os.path.join(plan["run_dir"], "config.yaml")
    extra = []
    if plan["resume"]:
        ckpts = checkpoints(plan["run_dir"])
        if ckpts:
            step = checkpoint_step(ckpts[-1])
            for name in ("train_steps.csv", "valid_summary.csv", "moe_steps.csv", "moe_aux.csv", "grad_norms.csv"):
                p = os.path.join(plan["run_dir"], name)
                if os.path.exists(p):
                    truncate_csv_after_step(p, step)
            extra = ["-train_from", ckpts[-1]]
            print(f"[train] resuming from {ckpts[-1]} (step {step})")
    run_logged(_bin("onmt_train") + ["-config", cfg] + extra, log, echo)


def stage_translate(plan: dict, log: str, echo: bool) -> dict:
    ckpts = checkpoints(plan["run_dir"])
    if not ckpts:
        raise StageError(f"no checkpoint model_step_*.pt in {plan['run_dir']}")
    tcfg = dict(plan["translate_config"], model=ckpts[-1])
    path = os.path.join(plan["run_dir"], "translate.yaml")
    atomic_write_text(path, yaml.safe_dump(tcfg, sort_keys=False))
    os.makedirs(os.path.join(plan["run_dir"], "pred"), exist_ok=True)
    out = os.path.join(plan["run_dir"], "pred", "test.txt")
    t0 = time.time()
    run_logged(_bin("onmt_translate") + ["-config", path, "-src", plan["src_test"], "-output", out], log, echo)
    secs = time.time() - t0
    n = sum(1 for _ in open(plan["src_test"], encoding="utf-8"))
    return {"checkpoint": ckpts[-1], "pred_test": out, "decode_seconds": secs, "decode_sents_per_s": n / max(secs, 1e-9)}


def stage_score(plan: dict) -> dict:
    from onmt_moe.scoring import score_files

    res = score_files(os.path.join(plan["run_dir"], "pred", "test.txt"), plan["tgt_test"], plan["n_best"],
                      src_path=plan["src_test"],
                      out_json=os.path.join(plan["run_dir"], "scores.json"),
                      ranks_csv=os.path.join(plan["run_dir"], "ranks.csv"), kind=plan["kind"])
    return res


def model_params(checkpoint: str) -> dict:
    """Total and active-per-token parameter counts of a checkpoint's model.

    Active = everything but the routed experts, plus top_k × the mean routed expert (exact for
    homogeneous experts; the expectation under uniform routing for heterogeneous widths)."""
    import torch

    import onmt_moe  # noqa: F401
    from onmt.inputters.inputter import dict_to_vocabs
    from onmt.model_builder import build_base_model
    from onmt.utils.parse import ArgumentParser

    ckpt = torch.load(checkpoint, map_location="cpu")
    opt = ArgumentParser.ckpt_model_opts(ckpt["opt"])
    model = build_base_model(opt, dict_to_vocabs(ckpt["vocab"]))
    total = sum(p.numel() for p in model.parameters())
    active = total
    enc = model.encoder
    if hasattr(enc, "moe_blocks"):
        for b in enc.moe_blocks():
            moe = b.moe
            experts = [sum(p.numel() for p in e.parameters()) for e in moe.routed.experts]
            active -= sum(experts) - moe.args.top_k * (sum(experts) / len(experts))
    return {"params_total": int(total), "params_active": int(active)}


def stage_report(plan: dict) -> dict:
    out = {}
    try:
        from onmt_moe.anomaly import analyze_run, write_report

        report = analyze_run(plan["run_dir"])
        write_report(report, plan["run_dir"])
        out["anomalies"] = {s: sum(1 for f in report.get("findings", []) if f.get("severity") == s)
                            for s in ("error", "warning", "info")}
    except ImportError as exc:  # pragma: no cover
        out["anomalies"] = f"not available: {exc}"
    try:
        from onmt_moe.plots import plot_runs

        out["plots"] = [str(p) for p in plot_runs([plan["run_dir"]], os.path.join(plan["run_dir"], "plots"))]
    except ImportError as exc:  # pragma: no cover
        out["plots"] = f"not available: {exc}"
    return out


CORPUS_SUMMARY = "corpus_summary.json"


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
    info_path = os.path.join(d, "run.json")
    info = json.load(open(info_path)) if (plan["resume"] and os.path.exists(info_path)) else {}
    info.update({k: plan[k] for k in ("run_name", "data_dir", "src_test", "tgt_test", "n_best", "kind", "missing_mode", "template")})
    info.setdefault("stages", {})
    info["versions"] = _versions()
    info["git_commit"] = _git_commit()
    write_configs(plan)
    copy_corpus_summary(plan)
    write_json(info_path, info)
    log = os.path.join(d, "train.log")
    for st in STAGES:
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
                info["scores"] = {k: res.get(k) for k in ("topk", "invalid_rate", "n") if k in res}
            elif st == "report":
                info.update(stage_report(plan))
        except Exception:
            info["stages"][st] = {"seconds": round(time.time() - t0, 2), "status": "failed"}
            write_json(info_path, info)
            raise
        info["stages"][st] = {"seconds": round(time.time() - t0, 2), "status": "ok"}
        write_json(info_path, info)
    return info


def prepare_run_dir(plan: dict, fresh: bool) -> None:
    d = plan["run_dir"]
    if fresh and os.path.exists(d) and checkpoints(d) and not plan["resume"]:
        raise ConfigError(f"run folder {d} already holds checkpoints: use --resume to continue it, "
                          "or another --run_name")
    os.makedirs(d, exist_ok=True)


__all__ = ["ConfigError", "StageError", "resolve", "execute", "validate_config", "parse_set", "prepare_run_dir",
           "checkpoints"]
