"""Model analysis: parameter tables (with MoE active parameters) and per-module forward/backward
timing, and the ``scripts/analyze_model.py`` command that prints them for a checkpoint.

Parameter table
---------------
``parameter_table(model)`` returns a DataFrame with one row per summary
category (``total``, ``encoder``, ``decoder``, ``embeddings``, ``generator``,
``other``, ``active_per_token``), one row per detected MoE block and one row
per module group (parameter names cut to ``depth`` components).  Shared
(tied) parameters are counted once, under their first name.

*Active* parameters per token: a token runs every parameter except the routed
experts of an MoE block, of which it uses ``k`` of ``E``.  An MoE block is
detected generically: a module that exposes ``top_k`` (directly or as
``args``/``cfg``/``config``/``moe_args`` ``.top_k``, or ``num_experts_per_tok``)
and owns an ``experts`` ``nn.ModuleList`` -- on itself or on a direct child whose
name does not contain ``shared`` (shared experts are always active).  Each
routed-expert parameter then counts ``k / E`` (so the block contributes
``k x mean expert size``); everything else (router, shared experts, backup
expert, attention, embeddings) counts fully.  Experts stored as one batched
tensor (leading dimension ``num_experts``) under a non-ModuleList ``experts``
module are handled the same way. ``parameter_counts(model)`` gives the two
numbers a run records in ``run.json`` (``params_total``, ``params_active``).

Gradient norms: :class:`onmt_moe.plugin.gradients.GradientNormLogger` logs them while training;
:mod:`onmt_moe.diagnostics.run_analysis` (``analyze_model.py --run RUN_DIR``) summarises them.

Module profiling
----------------
``profile_modules(model, sample_inputs, backward=True)`` times every module with
hooks:

* forward: a forward-pre hook stamps the start, a forward hook the end of each
  call (inclusive of children; summed over calls in one pass);
* backward start: a tensor hook on each module output fires when the gradient
  with respect to that output is complete, i.e. when the module's backward can
  begin (earliest such time);
* backward end: inputs that require grad are routed through an identity
  autograd function whose backward stamps the time the module has produced
  its input gradients; parameter hooks stamp when each parameter gradient is
  ready (latest of these times).

Only modules invoked through ``module(...)`` are seen (a parent that calls a
child's ``.forward`` or its sub-modules directly hides that child).  The sample
pass is repeated (``warmup`` + ``repeats``) and the median per module
is reported.  Times are inclusive wall-clock (a parent includes its children).
On CUDA each stamp calls ``torch.cuda.synchronize()``, which removes
asynchronous overlap: compare modules with each other rather than with the
un-instrumented step time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "parameter_table",
    "parameter_summary",
    "parameter_counts",
    "find_moe_blocks",
    "format_table",
    "profile_modules",
    "ProfileOptions",
    "profile_onmt_model",
]


# --------------------------------------------------------------------------- #
# parameter counting
# --------------------------------------------------------------------------- #
def _get_top_k(module: nn.Module) -> int | None:
    for holder in (
        module,
        getattr(module, "args", None),
        getattr(module, "cfg", None),
        getattr(module, "config", None),
        getattr(module, "moe_args", None),
    ):
        if holder is None:
            continue
        for attr in ("top_k", "num_experts_per_tok"):
            v = getattr(holder, attr, None)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                return v
    return None


def _get_num_experts(module: nn.Module) -> int | None:
    for holder in (
        module,
        getattr(module, "args", None),
        getattr(module, "cfg", None),
        getattr(module, "config", None),
        getattr(module, "moe_args", None),
    ):
        v = getattr(holder, "num_experts", None) if holder is not None else None
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def find_moe_blocks(model: nn.Module) -> list[dict[str, Any]]:
    """Detect MoE blocks (see module docstring).

    Returns dicts: ``name``, ``top_k``, ``num_experts``, ``experts_name`` (module
    path of the routed experts), ``expert_params`` (list of per-expert counts),
    ``param_ids`` (ids of routed-expert parameters), ``params`` (whole block).
    """
    blocks: list[dict[str, Any]] = []
    claimed: set = set()
    for name, mod in model.named_modules():
        k = _get_top_k(mod)
        if k is None:
            continue
        n_exp = _get_num_experts(mod)
        candidates: list[tuple[str, nn.Module]] = []
        if getattr(mod, "experts", None) is not None:
            candidates.append(("experts", mod.experts))
        for child_name, child in mod.named_children():
            if "shared" in child_name.lower() or "backup" in child_name.lower():
                continue
            if isinstance(getattr(child, "experts", None), nn.Module):
                candidates.append((f"{child_name}.experts", child.experts))
        chosen = None
        for rel, experts in candidates:
            size = len(experts) if isinstance(experts, nn.ModuleList) else n_exp
            if size and (n_exp is None or size == n_exp):
                chosen = (rel, experts, size)
                break
        if chosen is None:
            continue
        rel, experts, size = chosen
        ids = {id(p) for p in experts.parameters()}
        if ids & claimed or not ids:
            continue
        if isinstance(experts, nn.ModuleList):
            per_expert = [sum(p.numel() for p in e.parameters()) for e in experts]
        else:  # batched tensors: leading dim = number of experts
            batched = [p for p in experts.parameters() if p.dim() >= 1 and p.shape[0] == size]
            ids = {id(p) for p in batched}
            per_expert = [sum(p.numel() for p in batched) // size] * size
        claimed |= ids
        blocks.append(
            {
                "name": name,
                "top_k": int(k),
                "num_experts": int(size),
                "experts_name": f"{name}.{rel}" if name else rel,
                "expert_params": per_expert,
                "param_ids": ids,
                "params": sum(p.numel() for p in mod.parameters()),
            }
        )
    return blocks


def _category(name: str) -> str:
    parts = name.split(".")
    if "embeddings" in parts[:2] or parts[0] in ("src_emb", "tgt_emb"):
        return "embeddings"
    if parts[0] in ("encoder", "decoder", "generator"):
        return parts[0]
    return "other"


def _group(name: str, depth: int) -> str:
    parts = name.split(".")[:-1] or name.split(".")
    return ".".join(parts[:depth])


def _mb(n: float, nbytes: int) -> float:
    return n * nbytes / 1e6


def _routed_inactive(blocks: Sequence[dict[str, Any]]) -> float:
    """Parameters of the routed experts a token does not use: per block, all experts less ``top_k`` ×
    the mean expert (exact for equal experts; the expectation under uniform routing for unequal widths)."""
    out = 0.0
    for b in blocks:
        experts = b["expert_params"]
        out += sum(experts) - min(b["top_k"], b["num_experts"]) * (sum(experts) / len(experts))
    return out


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """``{"params_total", "params_active"}``: all parameters (tied ones once) and those a token
    uses (everything but the routed experts, plus ``top_k`` × the mean routed expert per MoE block).
    The one active-parameter count: ``run.json`` (runner), ``parameter_table`` and ``param_count``."""
    total = sum(p.numel() for p in model.parameters())
    return {"params_total": int(total), "params_active": int(total - _routed_inactive(find_moe_blocks(model)))}


def parameter_table(model: nn.Module, depth: int = 3):
    """Parameter counts as a ``pandas.DataFrame`` (see module docstring).

    Columns: ``name, kind, params, trainable, active_params, fp32_mb, fp16_mb,
    pct_total, num_experts, top_k, expert_params_mean``.  ``kind`` is
    ``summary``, ``moe`` or ``module``.
    """
    import pandas as pd

    blocks = find_moe_blocks(model)
    weight: dict[int, float] = {}
    for b in blocks:
        w = min(1.0, b["top_k"] / b["num_experts"])
        for pid in b["param_ids"]:
            weight[pid] = w
    named = list(model.named_parameters())  # de-duplicated (tied weights once)
    total = sum(p.numel() for _, p in named)

    def row(name, kind, params_list, **extra):
        n = sum(p.numel() for p in params_list)
        active = sum(p.numel() * weight.get(id(p), 1.0) for p in params_list)
        return {
            "name": name,
            "kind": kind,
            "params": int(n),
            "trainable": int(sum(p.numel() for p in params_list if p.requires_grad)),
            "active_params": float(active),
            "fp32_mb": _mb(n, 4),
            "fp16_mb": _mb(n, 2),
            "pct_total": 100.0 * n / total if total else float("nan"),
            "num_experts": extra.get("num_experts"),
            "top_k": extra.get("top_k"),
            "expert_params_mean": extra.get("expert_params_mean"),
        }

    rows = [row("total", "summary", [p for _, p in named])]
    cats: dict[str, list] = OrderedDict((c, []) for c in ("encoder", "decoder", "embeddings", "generator", "other"))
    for n, p in named:
        cats[_category(n)].append(p)
    for c, ps in cats.items():
        if ps or c != "other":
            rows.append(row(c, "summary", ps))
    active_total = total - _routed_inactive(blocks)  # = rows[0]["active_params"], the per-parameter weights summed
    r = row("active_per_token", "summary", [p for _, p in named])
    r["params"] = int(round(active_total))
    r["fp32_mb"], r["fp16_mb"] = _mb(active_total, 4), _mb(active_total, 2)
    r["pct_total"] = 100.0 * active_total / total if total else float("nan")
    rows.append(r)

    by_id = {id(p): p for _, p in named}
    for b in blocks:
        mod = model.get_submodule(b["name"]) if b["name"] else model
        ps = [by_id[id(p)] for p in mod.parameters() if id(p) in by_id]
        rows.append(
            row(
                b["name"] or "(model)",
                "moe",
                ps,
                num_experts=b["num_experts"],
                top_k=b["top_k"],
                expert_params_mean=float(sum(b["expert_params"]) / len(b["expert_params"])),
            )
        )

    groups: dict[str, list] = OrderedDict()
    for n, p in named:
        groups.setdefault(_group(n, depth), []).append(p)
    for g, ps in groups.items():
        rows.append(row(g, "module", ps))
    return pd.DataFrame(rows)


def parameter_summary(model: nn.Module) -> dict[str, float]:
    """``{category: params}`` for the summary rows (incl. ``active_per_token``)."""
    df = parameter_table(model, depth=1)
    s = df[df["kind"] == "summary"]
    return {
        r["name"]: (r["active_params"] if r["name"] == "active_per_token" else r["params"]) for _, r in s.iterrows()
    }


def _human(n) -> str:
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "-"
    n = float(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return f"{n:.0f}"


def format_table(df, columns: Sequence[str] | None = None, max_rows: int = 200) -> str:
    """Plain-text rendering of a parameter or profile table."""
    import pandas as pd

    if columns is None:
        columns = list(df.columns)
    d = df[list(columns)].head(max_rows).copy()
    for c in d.columns:
        if c in ("params", "trainable", "active_params", "expert_params_mean"):
            d[c] = d[c].map(_human)
        elif c in ("num_experts", "top_k", "calls", "depth"):
            d[c] = d[c].map(lambda v: "-" if v is None or pd.isna(v) else str(int(v)))
        elif c.endswith("_pct"):
            d[c] = d[c].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
        elif pd.api.types.is_float_dtype(d[c]):
            d[c] = d[c].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}")
        else:
            d[c] = d[c].map(lambda v: "-" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    widths = {c: max(len(c), *(len(s) for s in d[c])) if len(d) else len(c) for c in d.columns}
    lines = ["  ".join(c.ljust(widths[c]) if i == 0 else c.rjust(widths[c]) for i, c in enumerate(d.columns))]
    for _, r in d.iterrows():
        lines.append(
            "  ".join(
                str(r[c]).ljust(widths[c]) if i == 0 else str(r[c]).rjust(widths[c]) for i, c in enumerate(d.columns)
            )
        )
    if len(df) > max_rows:
        lines.append(f"... ({len(df) - max_rows} more rows)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# profiling
# --------------------------------------------------------------------------- #
class _Stamp(torch.autograd.Function):
    """Identity whose backward calls ``cb()`` (records when a gradient leaves a module)."""

    @staticmethod
    def forward(ctx, x, cb):
        ctx.cb = cb
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        ctx.cb()
        return grad, None


def _tensors(obj) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _tensors(getattr(obj, f.name))


def _default_loss(output) -> torch.Tensor:
    for t in _tensors(output):
        if t.is_floating_point() and t.requires_grad:
            return t.float().mean()
    raise ValueError("profile_modules: model output has no differentiable tensor; pass loss_fn")


def _median(v: list[float]) -> float:
    v = sorted(x for x in v if not math.isnan(x))
    if not v:
        return float("nan")
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else 0.5 * (v[mid - 1] + v[mid])


class _ModuleTimer:
    """Forward pre/post hooks on every module and gradient hooks on their inputs, outputs and
    parameters: a module's forward time is post - pre; its backward time runs from the first
    gradient reaching its outputs to the last one leaving its inputs or reaching its parameters."""

    def __init__(self, model: nn.Module, backward: bool):
        self.backward = backward
        self.cuda = any(p.is_cuda for p in model.parameters())
        self.modules = [(n or "model", m) for n, m in model.named_modules()]
        self.names = {id(m): n for n, m in self.modules}
        self.own_params = {n: [id(p) for p in m.parameters()] for n, m in self.modules}
        self.rec: dict[str, dict[str, Any]] = {}
        self.starts: dict[str, list[float]] = defaultdict(list)
        self.param_time: dict[int, float] = {}
        self.handles = []

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()  # CUDA kernels are asynchronous: time what has run
        return time.perf_counter()

    def reset(self) -> None:
        self.starts.clear()
        self.param_time.clear()
        self.rec = {n: {"fwd": 0.0, "calls": 0, "bwd_start": math.inf, "bwd_end": -math.inf} for n, _ in self.modules}

    def _stamp(self, x, cb):
        return _Stamp.apply(x, cb) if isinstance(x, torch.Tensor) and x.requires_grad else x

    def pre_hook(self, mod, a, kw):
        n = self.names[id(mod)]
        if self.backward and torch.is_grad_enabled():
            r = self.rec[n]

            def cb(r=r):  # a gradient leaves this module through one of its inputs
                r["bwd_end"] = max(r["bwd_end"], self.now())

            a = tuple(self._stamp(x, cb) for x in a)
            kw = {k: self._stamp(v, cb) for k, v in kw.items()}
        self.starts[n].append(self.now())  # a stack: a module may be re-entered (shared layers)
        return a, kw

    def post_hook(self, mod, a, kw, out):
        n = self.names[id(mod)]
        r = self.rec[n]
        r["fwd"] += self.now() - self.starts[n].pop()
        r["calls"] += 1
        if self.backward and torch.is_grad_enabled():

            def on_grad(g, r=r):  # a gradient reaches this module's output
                r["bwd_start"] = min(r["bwd_start"], self.now())
                return None

            for x in _tensors(out):
                if x.requires_grad:
                    x.register_hook(on_grad)
        return None

    def install(self, params) -> None:
        for _, m in self.modules:
            self.handles.append(m.register_forward_pre_hook(self.pre_hook, with_kwargs=True))
            self.handles.append(m.register_forward_hook(self.post_hook, with_kwargs=True))
        if self.backward:
            for p in params:
                if p.requires_grad:
                    hook = lambda g, pid=id(p): (self.param_time.__setitem__(pid, self.now()), None)[1]  # noqa: E731, B008 (binds this p)
                    self.handles.append(p.register_hook(hook))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()

    def collect(self, results) -> None:
        """Append this pass's per-module times (ms) to ``results``."""
        for n, _ in self.modules:
            r = self.rec[n]
            end = max([r["bwd_end"]] + [self.param_time[i] for i in self.own_params[n] if i in self.param_time])
            ok = math.isfinite(end) and math.isfinite(r["bwd_start"]) and end >= r["bwd_start"]
            results[n]["fwd"].append(r["fwd"] * 1e3)
            results[n]["bwd"].append((end - r["bwd_start"]) * 1e3 if ok else float("nan"))
            results[n]["calls"].append(r["calls"])


def _profile_table(modules, results, backward: bool, max_depth: int | None):
    import pandas as pd

    rows = []
    for n, m in modules:
        depth = 0 if n == "model" else n.count(".") + 1
        if max_depth is not None and depth > max_depth:
            continue
        res = results[n]
        calls = int(max(res["calls"])) if res["calls"] else 0
        if calls == 0 and n != "model":
            continue  # module not used by this forward
        rows.append(
            {
                "module": n,
                "type": type(m).__name__,
                "depth": depth,
                "calls": calls,
                "params": sum(p.numel() for p in m.parameters()),
                "forward_ms": _median(res["fwd"]),
                "backward_ms": _median(res["bwd"]) if backward else float("nan"),
            }
        )
    df = pd.DataFrame(rows)
    root_f = float(df.loc[df["module"] == "model", "forward_ms"].iloc[0]) if len(df) else float("nan")
    root_b = float(df.loc[df["module"] == "model", "backward_ms"].iloc[0]) if len(df) else float("nan")
    df["forward_pct"] = 100.0 * df["forward_ms"] / root_f if root_f else float("nan")
    df["backward_pct"] = 100.0 * df["backward_ms"] / root_b if root_b and not math.isnan(root_b) else float("nan")
    return df


def profile_modules(
    model: nn.Module,
    sample_inputs,
    backward: bool = True,
    loss_fn: Callable[[Any], torch.Tensor] | None = None,
    repeats: int = 3,
    warmup: int = 1,
    max_depth: int | None = None,
):
    """Per-module forward/backward wall-clock time on one sample batch.

    Args:
        model: module to run (its train/eval mode is left as is).
        sample_inputs: tuple/list of positional arguments, a dict of keyword
            arguments, or a single tensor.
        backward: also time the backward pass of ``loss_fn(output)``
            (default: mean of the first differentiable output tensor).
        loss_fn: maps the model output to a scalar; modules it calls (e.g. an
            OpenNMT ``generator``) are timed too.
        repeats / warmup: timed and untimed passes; the median is reported.
        max_depth: only report modules at most this deep (root = 0).

    Returns a DataFrame with columns ``module, type, depth, calls, params,
    forward_ms, backward_ms, forward_pct, backward_pct`` (inclusive times;
    ``*_pct`` relative to the root module ``model``).  Existing ``.grad`` values
    are restored afterwards.
    """
    if isinstance(sample_inputs, dict):
        args, kwargs = (), dict(sample_inputs)
    elif isinstance(sample_inputs, (list, tuple)):
        args, kwargs = tuple(sample_inputs), {}
    else:
        args, kwargs = (sample_inputs,), {}
    loss_fn = loss_fn or _default_loss
    timer = _ModuleTimer(model, backward)
    params = list(model.parameters())
    saved_grads = [p.grad for p in params]
    timer.install(params)
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"fwd": [], "bwd": [], "calls": []})
    try:
        for it in range(warmup + max(1, repeats)):
            timer.reset()
            if backward:
                loss_fn(model(*args, **kwargs)).backward()
            else:
                with torch.no_grad():
                    model(*args, **kwargs)
            for p in params:
                p.grad = None
            if it >= warmup:
                timer.collect(results)
    finally:
        timer.remove()
        for p, g in zip(params, saved_grads):
            p.grad = g
    return _profile_table(timer.modules, results, backward, max_depth)


# --------------------------------------------------------------------------- #
# OpenNMT checkpoints
# --------------------------------------------------------------------------- #
class ModelLoadError(ValueError):
    """The checkpoint cannot be read or rebuilt (one-line message naming it)."""


_OPT_DEFAULTS = {  # options added to OpenNMT after older checkpoints were written
    "num_kv": 0,
    "add_ffnbias": False,
    "parallel_residual": False,
    "shared_layer_norm": False,
    "use_ckpting": [],
    "relative_positions_buckets": 0,
    "parallel_mode": "data_parallel",
    "norm_eps": 1e-6,
}


def _load(path: Path, trust: bool = False):
    """The one safe loader (``runfolder.load_checkpoint``); a refused global is an error, never a
    silent full unpickle (``trust``: ``--trust_checkpoint``)."""
    from onmt_moe.runfolder import CheckpointError, load_checkpoint

    try:
        return load_checkpoint(path, trust=trust)
    except CheckpointError as exc:
        raise ModelLoadError(str(exc)) from None


def load_onmt_model(path, warn: Callable[[str], None] | None = None, trust: bool = False):
    """Load an OpenNMT-py 3.5 checkpoint and rebuild its model on CPU (fp32, eval mode).

    Returns ``(model, vocabs, model_opt, checkpoint_without_weights)``.  Raises
    :class:`ModelLoadError` with a one-line message on any problem (a global outside the plugin's
    allowlist included, unless ``trust``).
    """
    warn = warn or (lambda msg: None)
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: checkpoint not found")
    # importing OpenNMT first lets the onmt_moe import hook register the plugin, including
    # the safe-unpickling allowance for the checkpoint's argparse.Namespace
    import onmt.model_builder  # noqa: F401

    ckpt = _load(path, trust)
    if not isinstance(ckpt, dict) or not {"opt", "vocab"} <= set(ckpt):
        keys = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ModelLoadError(f"{path}: not an OpenNMT checkpoint (expected keys opt, vocab, model; got {keys})")
    try:
        from onmt.inputters.inputter import dict_to_vocabs
        from onmt.model_builder import build_base_model
        from onmt.utils.parse import ArgumentParser

        for k, v in _OPT_DEFAULTS.items():
            if not hasattr(ckpt["opt"], k):
                setattr(ckpt["opt"], k, v)
        if "generator" in ckpt and ckpt["generator"]:
            for old, new in (("0.weight", "weight"), ("0.bias", "bias")):
                if old in ckpt["generator"]:
                    ckpt["generator"][new] = ckpt["generator"].pop(old)
        model_opt = ArgumentParser.ckpt_model_opts(ckpt["opt"])
        ArgumentParser.update_model_opts(model_opt)
        ArgumentParser.validate_model_opts(model_opt)
        vocabs = dict_to_vocabs(ckpt["vocab"])
        model = build_base_model(model_opt, vocabs)
        if "model" in ckpt:
            model.load_state_dict(ckpt, precision=torch.float32, device=torch.device("cpu"), strict=True)
        else:
            base = str(path)[:-3] if str(path).endswith(".pt") else str(path)
            model.load_safe_state_dict(base, precision=torch.float32, device=torch.device("cpu"), strict=True)
    except ModelLoadError:
        raise
    except KeyError as exc:
        raise ModelLoadError(
            f"{path}: cannot rebuild the model (unknown {exc}; is the plugin that defines it importable?)"
        ) from None
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: cannot rebuild the model ({type(exc).__name__}: {first[:200]})") from None
    model.eval()
    info = {k: v for k, v in ckpt.items() if k not in ("model", "generator", "optim")}
    return model, vocabs, model_opt, info


def sample_batch(vocabs, batch_size: int = 8, src_len: int = 64, tgt_len: int = 32, seed: int = 0):
    """A random OpenNMT batch ``(src, tgt, src_len)`` from the vocabularies.

    Source lines follow the tagged-corpus layout (``<TAG> ... </TAG>`` segments)
    when the source vocab has modality tags, so modality-aware encoders see
    realistic segments; other tokens are drawn uniformly from non-special ones.
    """
    from onmt_moe.modality import tags as _tags

    gen = torch.Generator().manual_seed(seed)
    src_tokens = list(vocabs["src"].ids_to_tokens)
    tgt_tokens = list(vocabs["tgt"].ids_to_tokens)
    special = {"<unk>", "<blank>", "<s>", "</s>", _tags.MISSING}

    def plain_ids(tokens):
        ids = [i for i, t in enumerate(tokens) if t not in special and _tags.tag_name(t) is None]
        return ids or list(range(len(tokens)))

    s_ids, t_ids = plain_ids(src_tokens), plain_ids(tgt_tokens)
    names = _tags.tags_in_vocab(src_tokens)
    lookup = {t: i for i, t in enumerate(src_tokens)}

    def draw(pool, n):
        idx = torch.randint(len(pool), (n,), generator=gen)
        return [pool[i] for i in idx.tolist()]

    rows = []
    for _ in range(batch_size):
        if names:
            seg = max(1, src_len // len(names) - 2)
            line = []
            for nm in names:
                line += [lookup[_tags.open_tag(nm)]] + draw(s_ids, seg) + [lookup[_tags.close_tag(nm)]]
            line = (line + draw(s_ids, src_len))[:src_len]
        else:
            line = draw(s_ids, src_len)
        rows.append(line)
    src = torch.tensor(rows, dtype=torch.long).unsqueeze(-1)
    n_feats = len(vocabs.get("src_feats", []) or [])
    if n_feats:
        src = torch.cat([src, torch.zeros(batch_size, src_len, n_feats, dtype=torch.long)], dim=-1)
    bos = vocabs["tgt"].lookup_token(vocabs.get("decoder_start_token", "<s>"))
    tgt = torch.tensor([[bos] + draw(t_ids, tgt_len - 1) for _ in range(batch_size)], dtype=torch.long).unsqueeze(-1)
    return src, tgt, torch.full((batch_size,), src_len, dtype=torch.long)


@dataclasses.dataclass
class ProfileOptions:
    """The sample batch and passes of ``--profile`` (``analyze_model.py`` flags of the same names)."""

    batch_size: int = 8
    src_len: int = 64
    tgt_len: int = 32
    repeats: int = 3
    backward: bool = True
    max_depth: int = 4

    def header(self) -> str:
        return (
            f"per-module time, batch {self.batch_size} x src {self.src_len} x tgt {self.tgt_len}, "
            f"median of {self.repeats} (inclusive; ms):"
        )


PROFILE_COLUMNS = ["module", "type", "calls", "params", "forward_ms", "backward_ms", "forward_pct", "backward_pct"]


def profile_onmt_model(model: nn.Module, vocabs, opts: ProfileOptions):
    """:func:`profile_modules` of a loaded OpenNMT model on a random batch of its vocabularies
    (:func:`sample_batch`); the backward pass is that of the generator's log-partition."""
    src, tgt, src_len = sample_batch(vocabs, opts.batch_size, opts.src_len, opts.tgt_len)
    if opts.backward:
        model.train()

    def loss_fn(out):
        return model.generator(out[0]).float().logsumexp(-1).mean()

    batch = (src, tgt, src_len)
    return profile_modules(model, batch, opts.backward, loss_fn, repeats=opts.repeats, max_depth=opts.max_depth)


def build_parser():
    import argparse

    p = argparse.ArgumentParser(
        description="Parameter table (incl. MoE active parameters) and optional per-module timing of an "
        "OpenNMT checkpoint; with --run RUN_DIR, of a run folder's last checkpoint, plus a summary of its "
        "gradient norms, all written into RUN_DIR/analysis/."
    )
    p.add_argument("checkpoint", nargs="?", help="OpenNMT .pt checkpoint (or --run)")
    p.add_argument("--run", metavar="RUN_DIR", help="a run folder: its last checkpoint, output in RUN_DIR/analysis/")
    p.add_argument("--depth", type=int, default=3, help="module grouping depth of the table (default 3)")
    p.add_argument("--csv", default=None, help="write the parameter table to this CSV (checkpoint only)")
    p.add_argument("--profile", action="store_true", help="time forward/backward per module on a sample batch")
    p.add_argument("--profile_csv", default=None, help="write the timing table to this CSV (checkpoint only)")
    p.add_argument("--profile_depth", type=int, default=4, help="deepest module level shown (default 4)")
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--src_len", type=int, default=64)
    p.add_argument("--tgt_len", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no_backward", action="store_true", help="profile the forward pass only")
    p.add_argument(
        "--grad_max",
        type=float,
        default=None,
        help="--run: a gradient norm above this counts as exploding (default: the anomaly report's, 1e3)",
    )
    p.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load the checkpoint as a full pickle (it can run code): only for a file you trust",
    )
    return p


def profile_options(args) -> ProfileOptions:
    return ProfileOptions(
        args.batch_size, args.src_len, args.tgt_len, args.repeats, not args.no_backward, args.profile_depth
    )


def exception_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters of it)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def _checkpoint_main(args) -> int:
    """Print the parameter table (and the profile) of ``args.checkpoint``; the CSVs if asked."""
    import sys

    from onmt_moe.runfolder.csvlog import atomic_write_text

    def warn(msg):
        print(f"warning: {msg}", file=sys.stderr)

    try:
        model, vocabs, model_opt, _ = load_onmt_model(args.checkpoint, warn, trust=args.trust_checkpoint)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = parameter_table(model, depth=args.depth)
    enc = getattr(model_opt, "encoder_type", "?")
    print(
        f"checkpoint: {args.checkpoint}  (encoder_type={enc}, "
        f"src vocab {len(vocabs['src'])}, tgt vocab {len(vocabs['tgt'])})"
    )
    print(format_table(table, table_columns(table)))
    try:
        if args.csv:
            atomic_write_text(args.csv, table.to_csv(index=False))
        if args.profile:
            opts = profile_options(args)
            prof = profile_onmt_model(model, vocabs, opts)
            print(f"\n{opts.header()}")
            print(format_table(prof, PROFILE_COLUMNS))
            if args.profile_csv:
                atomic_write_text(args.profile_csv, prof.to_csv(index=False))
    except OSError as exc:
        print(f"error: cannot write output: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - profiling a foreign model: report in one line
        print(f"error: profiling {args.checkpoint} failed ({exception_line(exc)})", file=sys.stderr)
        return 2
    return 0


def table_columns(table) -> list[str]:
    """The columns of a parameter table worth showing (the MoE ones only where there are MoE blocks)."""
    cols = ["name", "kind", "params", "active_params", "fp32_mb", "fp16_mb", "pct_total"]
    if table["num_experts"].notna().any():
        cols += ["num_experts", "top_k", "expert_params_mean"]
    return cols


def main(argv=None) -> int:
    """``scripts/analyze_model.py``: a checkpoint (printed) or ``--run RUN_DIR`` (into RUN_DIR/analysis/)."""
    p = build_parser()
    args = p.parse_args(argv)
    if (args.checkpoint is None) == (args.run is None):
        p.error("give exactly one of CHECKPOINT or --run RUN_DIR")
    if args.run is None:
        return _checkpoint_main(args)
    if args.csv or args.profile_csv:
        p.error("--csv and --profile_csv are for a checkpoint; --run writes its tables into RUN_DIR/analysis/")
    from onmt_moe.diagnostics.run_analysis import run_main  # it imports this module

    return run_main(args)
