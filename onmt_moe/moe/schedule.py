"""Step schedules for router noise, router temperature and aux-loss coefficients.

A schedule is written as a string (or a plain number), so it can be saved in an
OpenNMT checkpoint and given on the command line:

    "0.01"                         constant 0.01
    "linear:START:END:STEPS"       START at step 0, straight line to END at STEPS, END after
    "linear:START:END:STEPS:DELAY" START until DELAY, then the line reaches END at DELAY+STEPS
    "cosine:START:END:STEPS"       half-cosine from START to END over STEPS, END after
    "step:BEFORE:AFTER:AT"         BEFORE while step < AT, AFTER from AT on

Example: ``linear:2.0:1.0:10000`` anneals a router temperature from 2 to 1 over
the first 10k steps.
"""

from __future__ import annotations

import math

_KINDS = {"linear": (3, 4), "cosine": (3, 4), "step": (3, 3)}


class Schedule:
    """A parsed schedule; ``schedule(step) -> float``."""

    def __init__(self, spec: str | int | float):
        self.spec = str(spec).strip()
        parts = self.spec.split(":")
        if len(parts) == 1:
            self.kind, self.values = "const", [_number(parts[0], self.spec)]
            return
        self.kind = parts[0].lower()
        if self.kind not in _KINDS:
            raise ValueError(
                f"unknown schedule kind {parts[0]!r} in {self.spec!r}; use a number or one of {sorted(_KINDS)}"
            )
        lo, hi = _KINDS[self.kind]
        if not lo <= len(parts) - 1 <= hi:
            raise ValueError(f"schedule {self.spec!r}: {self.kind} takes {lo} to {hi} numbers")
        self.values = [_number(p, self.spec) for p in parts[1:]]
        if self.kind in ("linear", "cosine") and self.values[2] <= 0:
            raise ValueError(f"schedule {self.spec!r}: STEPS must be > 0")

    def __call__(self, step: int) -> float:
        v = self.values
        if self.kind == "const":
            return v[0]
        if self.kind == "step":
            return v[0] if step < v[2] else v[1]
        start, end, steps = v[0], v[1], v[2]
        delay = v[3] if len(v) > 3 else 0.0
        frac = min(max((step - delay) / steps, 0.0), 1.0)
        if self.kind == "cosine":
            frac = 0.5 * (1.0 - math.cos(math.pi * frac))
        return start + (end - start) * frac

    def is_zero(self) -> bool:
        """True when the value is 0 at every step (the term can be skipped)."""
        if self.kind == "const":
            return self.values[0] == 0.0
        return self.values[0] == 0.0 and self.values[1] == 0.0

    def min_value(self) -> float:
        return min(self.values[:1] if self.kind == "const" else self.values[:2])

    def __repr__(self) -> str:
        return f"Schedule({self.spec!r})"


def _number(text: str, spec: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"schedule {spec!r}: {text!r} is not a number") from None
