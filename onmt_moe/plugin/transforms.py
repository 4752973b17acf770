"""OpenNMT transform ``modality_dropout``: randomly hide whole modality segments.

On a tagged source line (``<NMR> ... </NMR> <IR> ... </IR> ...``, see
``onmt_moe.modality.tags``) every segment that holds real data is, with its modality's
probability, either removed together with its tags (``--modality_dropout_mode
drop``) or emptied to ``<NAME> <MISSING> </NAME>`` (``token``, the default).
At least ``--modality_dropout_min_keep`` (default 1) data segments always
survive, so an example never loses all of its data. Only the training corpus is
touched (``is_train`` true); validation and inference lines pass unchanged, and
so do lines read by ``onmt_build_vocab`` (whose options are recognised), so that
vocabulary counts are not lowered by hidden segments.

Options::

    --modality_dropout_prob 0.15             default probability per segment
    --modality_dropout_probs "IR=0.3,MS=0.2" per-modality overrides (tag names)
    --modality_dropout_mode token|drop
    --modality_dropout_min_keep 1

Counts of seen/dropped segments per modality are kept on the instance
(``drop_counts``, ``seen_counts``) and in the module-level ``DROP_COUNTS`` /
``SEEN_COUNTS`` (per process: spawned data workers keep their own), and are
reported through OpenNMT's transform statistics when ``stats`` is given.

The class is top level so that data-loader workers can unpickle it; importing
this module twice does not register the name twice.
"""

from __future__ import annotations

import random
from collections import Counter

from onmt.transforms import AVAILABLE_TRANSFORMS, register_transform
from onmt.transforms.transform import ObservableStats, Transform

from onmt_moe.modality.tags import MISSING, has_data, parse_name_values, split_segments

NAME = "modality_dropout"
MODES = ("token", "drop")
# the option defaults, written once (add_options declares them; older configs may lack the keys)
DEFAULT_PROB = 0.15
DEFAULT_MODE = "token"
DEFAULT_MIN_KEEP = 1

DROP_COUNTS: Counter = Counter()
SEEN_COUNTS: Counter = Counter()


def parse_probs(spec: str | None) -> dict[str, float]:
    """``"IR=0.3,MS=0.2"`` -> ``{"IR": 0.3, "MS": 0.2}``; raises ValueError on bad text."""
    out: dict[str, float] = {}
    for name, val in parse_name_values(spec, "--modality_dropout_probs", "NAME", "P").items():
        try:
            p = float(val)
        except ValueError:
            p = None
        if p is None or not 0.0 <= p <= 1.0:
            raise ValueError(
                f"--modality_dropout_probs: bad item {name + '=' + val!r} (want NAME=P with 0 <= P <= 1, "
                f"e.g. 'IR=0.3,MS=0.2')"
            )
        out[name] = p
    return out


class ModalityDropoutStats(ObservableStats):
    """Per-modality numbers of hidden segments, for OpenNMT's transform report."""

    __slots__ = ["dropped", "examples_changed"]

    def __init__(self, dropped=None, examples_changed=1):
        self.dropped = dict(dropped or {})
        self.examples_changed = examples_changed

    def update(self, other: ModalityDropoutStats):
        for k, v in other.dropped.items():
            self.dropped[k] = self.dropped.get(k, 0) + v
        self.examples_changed += other.examples_changed


def _check_opts(opts):
    p = getattr(opts, "modality_dropout_prob", DEFAULT_PROB)
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"--modality_dropout_prob must be in [0, 1], got {p}")
    mode = getattr(opts, "modality_dropout_mode", DEFAULT_MODE)
    if mode not in MODES:
        raise ValueError(f"--modality_dropout_mode must be one of {MODES}, got {mode!r}")
    k = int(getattr(opts, "modality_dropout_min_keep", DEFAULT_MIN_KEEP))
    if k < 1:
        raise ValueError(f"--modality_dropout_min_keep must be >= 1, got {k}")
    parse_probs(getattr(opts, "modality_dropout_probs", ""))


class ModalityDropoutTransform(Transform):
    """Drop or mask whole modality segments of training sources."""

    def __init__(self, opts):
        super().__init__(opts)

    @classmethod
    def add_options(cls, parser):
        group = parser.add_argument_group("Transform/ModalityDropout")
        group.add(
            "--modality_dropout_prob",
            "-modality_dropout_prob",
            type=float,
            default=DEFAULT_PROB,
            help="Probability of hiding each modality segment of a training example.",
        )
        group.add(
            "--modality_dropout_probs",
            "-modality_dropout_probs",
            type=str,
            default="",
            help="Per-modality overrides, e.g. 'IR=0.3,MS=0.2' (tag names).",
        )
        group.add(
            "--modality_dropout_mode",
            "-modality_dropout_mode",
            type=str,
            default=DEFAULT_MODE,
            choices=list(MODES),
            help="token: keep the tags around a single <MISSING>; drop: remove the segment.",
        )
        group.add(
            "--modality_dropout_min_keep",
            "-modality_dropout_min_keep",
            type=int,
            default=DEFAULT_MIN_KEEP,
            help="Data segments that always survive (never all are hidden).",
        )

    @classmethod
    def _validate_options(cls, opts):
        _check_opts(opts)

    @classmethod
    def get_specials(cls, opts):
        if getattr(opts, "modality_dropout_mode", DEFAULT_MODE) == "token":
            return ([MISSING], [])
        return ([], [])

    def _parse_opts(self):
        _check_opts(self.opts)
        self.prob = float(getattr(self.opts, "modality_dropout_prob", DEFAULT_PROB))
        self.probs = parse_probs(getattr(self.opts, "modality_dropout_probs", ""))
        self.mode = getattr(self.opts, "modality_dropout_mode", DEFAULT_MODE)
        self.min_keep = int(getattr(self.opts, "modality_dropout_min_keep", DEFAULT_MIN_KEEP))
        self.rng = random.Random()
        # onmt_build_vocab also calls apply(is_train=True); hiding segments there would
        # lower token counts (rare tokens could fall out of the vocabulary), so the
        # transform passes lines through when the options are build_vocab's.
        self.building_vocab = hasattr(self.opts, "dump_samples") and not hasattr(self.opts, "dump_transforms")
        self.drop_counts: Counter = Counter()
        self.seen_counts: Counter = Counter()

    def _set_seed(self, seed):
        self.rng = random.Random(seed)

    def prob_of(self, name: str) -> float:
        return self.probs.get(name, self.prob)

    def choose(self, names: list[str]) -> list[int]:
        """Indices (into ``names``) of the data segments to hide."""
        hide = [i for i, n in enumerate(names) if self.rng.random() < self.prob_of(n)]
        keep_needed = min(self.min_keep, len(names))
        while len(names) - len(hide) < keep_needed:
            hide.pop(self.rng.randrange(len(hide)))
        return hide

    def apply(self, example, is_train=False, stats=None, **kwargs):
        if not is_train or example is None or self.building_vocab:
            return example
        src = example.get("src")
        if not src:
            return example
        try:
            segs = split_segments(src)
        except ValueError:
            return example  # not a tagged line: leave it alone
        data_idx = [i for i, (n, toks) in enumerate(segs) if n is not None and has_data(toks)]
        names = [segs[i][0] for i in data_idx]
        self.seen_counts.update(names)
        SEEN_COUNTS.update(names)
        hide = {data_idx[j] for j in self.choose(names)} if names else set()
        if not hide:
            return example
        dropped = Counter(segs[i][0] for i in hide)
        self.drop_counts.update(dropped)
        DROP_COUNTS.update(dropped)

        # Rebuild the token list, remembering where each new token came from so
        # that source features (if any) stay aligned.
        new_src: list[str] = []
        origin: list[int] = []
        pos = 0
        for i, (name, toks) in enumerate(segs):
            width = len(toks) + (0 if name is None else 2)
            if i not in hide:
                new_src.extend(src[pos : pos + width])
                origin.extend(range(pos, pos + width))
            elif self.mode == "token":
                new_src.extend([src[pos], MISSING, src[pos + width - 1]])
                origin.extend([pos, pos, pos + width - 1])
            pos += width
        example["src"] = new_src
        feats = example.get("src_feats")
        if feats:
            example["src_feats"] = [[f[j] for j in origin] if len(f) == len(src) else f for f in feats]
        if stats is not None:
            try:
                stats.update(ModalityDropoutStats(dict(dropped)))
            except Exception:  # a foreign stats object must never stop training
                pass
        return example

    def stats(self):
        return ", ".join(f"{k}: {self.drop_counts[k]}/{self.seen_counts[k]}" for k in sorted(self.seen_counts))

    def _repr_args(self):
        return f"prob={self.prob}, probs={self.probs}, mode={self.mode}, min_keep={self.min_keep}"


if NAME not in AVAILABLE_TRANSFORMS:
    register_transform(name=NAME)(ModalityDropoutTransform)
elif getattr(AVAILABLE_TRANSFORMS[NAME], "__module__", None) == __name__:
    # Re-import (importlib.reload): keep the class OpenNMT already knows, so that
    # pickling by reference (data workers) finds the very same object here.
    ModalityDropoutTransform = AVAILABLE_TRANSFORMS[NAME]  # noqa: F811
