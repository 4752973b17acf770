"""Every MoE knob, declared once: the command-line options and the ``MoEArgs`` object.

``add_moe_options(parser)`` adds the ``-moe_*`` options to an OpenNMT
(configargparse) parser; ``MoEArgs.from_opt(opt, ...)`` reads them back, using
the default of any option missing from ``opt`` (old checkpoints), and takes the
sizes the MoE shares with the rest of the encoder as keyword arguments.

Conventions (see docs/moe-reference.md):
* capacity C = max(min_capacity, ceil(CF * k * T / E)) assignments per expert
  (DeepSpeed/MegaBlocks, x k); CF <= 0 or overflow ``none`` means no limit;
* load balance = E * sum_e f_e P_e with f_e = assignments_e / (k T), counted
  before capacity, so it is 1 at uniform routing for every k.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .schedule import Schedule

ACTIVATIONS = ("relu", "gelu", "silu", "gated-gelu")  # OpenNMT names; silu and gated-gelu are gated (w_3)
ROUTER_TYPES = ("token_choice", "expert_choice")
GATE_NORMS = ("topk", "softmax")
MODALITY_ROUTING = ("bias", "embed", "both", "none")
NOISE_TYPES = ("none", "jitter", "gaussian")
OVERFLOW_POLICIES = ("none", "drop", "shared", "next_best")
PRIORITIES = ("prob", "position")
DISPATCH_PATHS = ("auto", "sorted", "padded")
LOAD_MODES = ("hard", "smooth")

# aux-loss name -> the MoEArgs field holding its coefficient schedule
AUX_COEFFICIENTS = {
    "load_balance": "lb_coef",
    "z_loss": "z_coef",
    "importance": "importance_coef",
    "load": "load_coef",
    "entropy": "entropy_coef",
    "limoe_local": "limoe_local_coef",
    "limoe_global": "limoe_global_coef",
    "compute_cost": "cost_coef",
}


@dataclass(frozen=True)
class Option:
    """One command-line option ``--NAME``/``-NAME``; a keyword left at None is not passed to argparse."""

    name: str
    help: str
    type: Callable | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    nargs: int | str | None = None
    action: str | None = None

    def register(self, add) -> None:
        """Declare the option through ``add`` (a group's ``add``/``add_argument``)."""
        keywords = {key: getattr(self, key) for key in ("type", "default", "choices", "nargs", "action")}
        keywords = {key: value for key, value in keywords.items() if value is not None}
        if isinstance(self.default, list):
            keywords["default"] = list(self.default)  # a fresh list per parser, as a literal default was
        add(f"--{self.name}", f"-{self.name}", help=self.help, **keywords)


def add_options(parser, title: str, options) -> None:
    """Declare ``options`` (:class:`Option` s, in ``-h`` order) in a new argument group ``title``."""
    group = parser.add_argument_group(title)
    add = group.add if hasattr(group, "add") else group.add_argument  # configargparse or argparse
    for option in options:
        option.register(add)


# the ``-moe_*`` options, in ``-h`` order; MoEArgs reads them back by name (without the ``moe_`` prefix)
MOE_OPTIONS = (
    # experts
    Option("moe_num_experts", type=int, default=8, help="Number of routed experts E."),
    Option(
        "moe_top_k",
        type=int,
        default=2,
        help="Experts per token k (token choice); also the default expert-choice factor.",
    ),
    Option(
        "moe_expert_d_ff",
        type=int,
        nargs="+",
        default=[],
        help="Per-expert hidden sizes (E values) for heterogeneous experts; empty = all use -transformer_ff.",
    ),
    Option(
        "moe_num_shared",
        type=int,
        default=0,
        help="Shared experts that every token goes through (added to the routed output).",
    ),
    Option(
        "moe_shared_d_ff", type=int, default=0, help="Hidden size of each shared/backup expert; 0 = -transformer_ff."
    ),
    # router
    Option(
        "moe_router_type",
        default="token_choice",
        choices=ROUTER_TYPES,
        help="token_choice: each token picks its top-k experts. expert_choice: each expert picks its "
        "top-C tokens of the group it is given (batch-dependent: a token's output depends on "
        "the other tokens; the group is whatever the caller passes).",
    ),
    Option(
        "moe_gate_norm",
        default="topk",
        choices=GATE_NORMS,
        help="topk: gates = softmax over the k chosen logits (sum 1); softmax: raw router probabilities.",
    ),
    Option(
        "moe_modality_routing",
        default="bias",
        choices=MODALITY_ROUTING,
        help="bias: learned per-modality bias on router logits; embed: learned modality embedding "
        "added to the router input; both; none. Both are zero-initialised.",
    ),
    Option(
        "moe_router_noise_type",
        default="none",
        choices=NOISE_TYPES,
        help="Training-only router noise: jitter multiplies the router input by U(1-eps, 1+eps); "
        "gaussian adds N(0, sigma^2) to the logits. Never applied in eval mode.",
    ),
    Option(
        "moe_router_noise",
        type=str,
        default="0.0",
        help="Noise size (eps or sigma) as a schedule: '0.01' or 'linear:START:END:STEPS[:DELAY]', "
        "'cosine:START:END:STEPS[:DELAY]', 'step:BEFORE:AFTER:AT'.",
    ),
    Option(
        "moe_router_temperature",
        type=str,
        default="1.0",
        help="Router softmax temperature (logits / tau) as a schedule, e.g. 'linear:2.0:1.0:10000'. "
        "Used in training and eval (eval uses the value at the last set_step).",
    ),
    Option(
        "moe_router_init_scale",
        type=float,
        default=0.1,
        help="Router weight init: normal with std sqrt(scale / d_model) (Switch uses 0.1).",
    ),
    Option(
        "moe_ec_capacity_factor",
        type=float,
        default=0.0,
        help="Expert choice: each expert takes ceil(c*T/E) tokens; 0 = c = k.",
    ),
    # capacity
    Option(
        "moe_capacity_factor",
        type=float,
        default=1.25,
        help="Training capacity factor CF: C = max(min_capacity, ceil(CF*k*T/E)); <=0 = unlimited.",
    ),
    Option("moe_eval_capacity_factor", type=float, default=2.0, help="Capacity factor in eval mode."),
    Option("moe_min_capacity", type=int, default=4, help="Lower bound on the per-expert capacity."),
    Option(
        "moe_overflow",
        default="none",
        choices=OVERFLOW_POLICIES,
        help="What happens past capacity. none: dropless (capacity ignored). drop: the assignment is "
        "skipped (gets 0; the residual carries the token). shared: the assignment goes, with its "
        "gate, to the shared experts (or, if -moe_num_shared 0, to a dedicated backup expert). "
        "next_best: it moves to the token's next-ranked expert that still has room, else is dropped.",
    ),
    Option(
        "moe_capacity_priority",
        default="prob",
        choices=PRIORITIES,
        help="Who keeps a slot when an expert is full: all first choices before second choices, and "
        "within a rank by router probability (prob, BPR) or by token position (position).",
    ),
    # dispatch and aux-loss coefficients
    Option(
        "moe_dispatch",
        default="auto",
        choices=DISPATCH_PATHS,
        help="Token-choice dispatch: sorted (expert-sorted rows, one matmul pair per expert; reads the "
        "per-expert counts on the host once per call), padded (E x C x d capacity buffers and "
        "batched matmuls, no host read; C = the capacity, or the token count when dropless, so "
        "dropless costs E/k times the expert arithmetic), auto (padded on CUDA when the capacity "
        "is finite, i.e. -moe_overflow is not none; sorted otherwise). Same outputs either way.",
    ),
    Option(
        "moe_lb_coef",
        type=str,
        default="0.01",
        help="Load-balance coefficient (schedule). LB = E*sum_e f_e P_e, f before capacity; 1 at balance.",
    ),
    Option(
        "moe_z_coef", type=str, default="0.001", help="Router z-loss coefficient (schedule): mean_t logsumexp(z_t)^2."
    ),
    Option(
        "moe_importance_coef", type=str, default="0", help="Importance loss coefficient (schedule): CV^2 of sum_t p_t."
    ),
    Option(
        "moe_load_coef",
        type=str,
        default="0",
        help="Load loss coefficient (schedule): CV^2 of the per-expert load (see -moe_load_mode).",
    ),
    Option(
        "moe_load_mode",
        default="hard",
        choices=LOAD_MODES,
        help="hard: top-k counts (no gradient, a monitor only); smooth: Shazeer's P(e in top-k under "
        "gaussian noise) with sigma = the current gaussian noise, or 1 if there is none.",
    ),
    Option(
        "moe_entropy_coef",
        type=str,
        default="0",
        help="Token routing entropy coefficient (schedule): mean_t H(p_t) (minimising sharpens routing).",
    ),
    Option(
        "moe_limoe_local_coef",
        type=str,
        default="0",
        help="LIMoE local entropy coefficient (schedule): mean over present modalities of mean_{t in m} H(p_t).",
    ),
    Option(
        "moe_limoe_global_coef",
        type=str,
        default="0",
        help="LIMoE global entropy coefficient (schedule): mean over present modalities of "
        "max(0, tau - H(mean_{t in m} p_t)).",
    ),
    Option("moe_limoe_tau", type=float, default=-1.0, help="LIMoE global-entropy threshold tau; < 0 means ln(E/2)."),
    Option(
        "moe_cost_coef",
        type=str,
        default="0",
        help="Compute-cost penalty coefficient (schedule): mean_t sum_e p_te d_ff_e / mean(d_ff).",
    ),
)


def add_moe_options(parser) -> None:
    """Declare the ``-moe_*`` options (OpenNMT configargparse parser or argparse)."""
    add_options(parser, "MoE encoder", MOE_OPTIONS)


@dataclass
class MoEArgs:
    d_model: int = 512
    d_ff: int = 2048
    activation: str = "relu"
    add_ffnbias: bool = True
    dropout: float = 0.1
    num_modalities: int = 1

    num_experts: int = 8
    top_k: int = 2
    expert_d_ff: list[int] = field(default_factory=list)
    num_shared: int = 0
    shared_d_ff: int = 0

    router_type: str = "token_choice"
    gate_norm: str = "topk"
    modality_routing: str = "bias"
    router_noise_type: str = "none"
    router_noise: str = "0.0"
    router_temperature: str = "1.0"
    router_init_scale: float = 0.1
    ec_capacity_factor: float = 0.0

    capacity_factor: float = 1.25
    eval_capacity_factor: float = 2.0
    min_capacity: int = 4
    overflow: str = "none"
    capacity_priority: str = "prob"
    dispatch: str = "auto"

    lb_coef: str = "0.01"
    z_coef: str = "0.001"
    importance_coef: str = "0"
    load_coef: str = "0"
    load_mode: str = "hard"
    entropy_coef: str = "0"
    limoe_local_coef: str = "0"
    limoe_global_coef: str = "0"
    limoe_tau: float = -1.0
    cost_coef: str = "0"

    # ------------------------------------------------------------------ building
    @classmethod
    def from_opt(
        cls, opt, d_model, d_ff, activation="relu", add_ffnbias=True, dropout=0.1, num_modalities=1
    ) -> MoEArgs:
        """Read every ``moe_*`` option of ``opt`` (missing ones keep their defaults)."""
        args = cls(
            d_model=d_model,
            d_ff=d_ff,
            activation=activation,
            add_ffnbias=bool(add_ffnbias),
            dropout=float(dropout),
            num_modalities=num_modalities,
        )
        for name in args.__dataclass_fields__:
            if name in ("d_model", "d_ff", "activation", "add_ffnbias", "dropout", "num_modalities"):
                continue
            value = getattr(opt, "moe_" + name, None)
            if value is not None:
                setattr(args, name, value)
        if isinstance(args.expert_d_ff, str):  # "1024,1024,512" from a config file
            args.expert_d_ff = [int(v) for v in args.expert_d_ff.replace(",", " ").split()]
        args.expert_d_ff = [int(v) for v in args.expert_d_ff]
        return args

    # ------------------------------------------------------------------ derived
    @property
    def expert_widths(self) -> list[int]:
        return list(self.expert_d_ff) if self.expert_d_ff else [self.d_ff] * self.num_experts

    @property
    def shared_width(self) -> int:
        return self.shared_d_ff or self.d_ff

    @property
    def has_backup_expert(self) -> bool:
        """A dedicated overflow expert exists only for overflow=shared without shared experts."""
        return self.overflow == "shared" and self.num_shared == 0

    @property
    def tau(self) -> float:
        return self.limoe_tau if self.limoe_tau >= 0 else math.log(max(self.num_experts / 2.0, 1.0))

    @functools.cached_property
    def aux_schedules(self) -> dict[str, Schedule]:
        """The schedule of each aux-loss coefficient, parsed once (the options do not change after
        :meth:`validate`; the loss asks for the coefficients on every batch)."""
        return {aux: Schedule(getattr(self, f)) for aux, f in AUX_COEFFICIENTS.items()}

    def aux_coefficients(self, step: int) -> dict[str, float]:
        """Coefficient of each aux loss at ``step`` (0 for disabled terms)."""
        return {aux: schedule(step) for aux, schedule in self.aux_schedules.items()}

    # ------------------------------------------------------------------ checks
    def validate(self) -> MoEArgs:  # noqa: C901 - a flat list of independent checks, one per option
        def bad(option, message):
            raise ValueError(f"-moe_{option}: {message}")

        _choice(self.activation, ACTIVATIONS, "activation (pos_ffn_activation_fn)")
        for option, choices in (
            ("router_type", ROUTER_TYPES),
            ("gate_norm", GATE_NORMS),
            ("modality_routing", MODALITY_ROUTING),
            ("router_noise_type", NOISE_TYPES),
            ("overflow", OVERFLOW_POLICIES),
            ("capacity_priority", PRIORITIES),
            ("load_mode", LOAD_MODES),
            ("dispatch", DISPATCH_PATHS),
        ):
            _choice(getattr(self, option), choices, "-moe_" + option)
        if self.num_experts < 1:
            bad("num_experts", f"must be >= 1, got {self.num_experts}")
        if not 1 <= self.top_k <= self.num_experts:
            bad("top_k", f"must be in [1, moe_num_experts={self.num_experts}], got {self.top_k}")
        if self.expert_d_ff and len(self.expert_d_ff) != self.num_experts:
            bad("expert_d_ff", f"needs {self.num_experts} values (one per expert), got {len(self.expert_d_ff)}")
        if any(w < 1 for w in self.expert_widths):
            bad("expert_d_ff", f"widths must be >= 1, got {self.expert_widths}")
        if self.num_shared < 0:
            bad("num_shared", f"must be >= 0, got {self.num_shared}")
        if self.shared_d_ff < 0:
            bad("shared_d_ff", f"must be >= 0, got {self.shared_d_ff}")
        if self.num_modalities < 1:
            raise ValueError(f"num_modalities must be >= 1, got {self.num_modalities}")
        if self.d_model < 1 or self.d_ff < 1:
            raise ValueError(f"d_model and d_ff must be >= 1, got {self.d_model}, {self.d_ff}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.min_capacity < 0:
            bad("min_capacity", f"must be >= 0, got {self.min_capacity}")
        if self.ec_capacity_factor < 0:
            bad("ec_capacity_factor", f"must be >= 0, got {self.ec_capacity_factor}")
        if self.router_init_scale < 0:
            bad("router_init_scale", f"must be >= 0, got {self.router_init_scale}")
        if self.overflow == "next_best" and self.top_k >= self.num_experts:
            bad("overflow", "next_best needs moe_top_k < moe_num_experts")
        if self.router_type == "expert_choice" and self.overflow not in ("none", "drop"):
            bad("overflow", "expert_choice has its own fixed capacity; use none or drop")
        for option in ("router_noise", "router_temperature") + tuple(AUX_COEFFICIENTS.values()):
            try:
                sched = Schedule(getattr(self, option))
            except ValueError as err:
                bad(option, str(err))
            if option == "router_temperature" and sched.min_value() <= 0:
                bad(option, "temperature must stay > 0")
            if option != "router_temperature" and sched.min_value() < 0:
                bad(option, "must stay >= 0")
        return self


def _choice(value, choices, option):
    if value not in choices:
        raise ValueError(f"{option}: {value!r} is not one of {list(choices)}")
