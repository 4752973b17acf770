"""Formula-guided beam search: translate option ``-moe_formula_beam`` (patch 16 of ``onmt_patches``).

With the option on, OpenNMT's beam search (``BeamSearch``, any ``-beam_size``, 1 included) decodes
every example whose source carries a molecular formula under that formula's heavy-atom counts:

* **budget** (:func:`formula_from_tokens`): the inner tokens of the ``<FORMULA>`` segment (tagged
  format, ``<FORMULA> C 8 H 8 O 2 </FORMULA> …``), or the tokens before the first section header
  (benchmark format, ``C 8 H 8 O 2 1HNMR …``): element symbols, counts, an optional charge. A source
  without one (or with ``<MISSING>``, an ``<unk>`` or an unparseable formula) is decoded unconstrained.
* **atoms per target token** (:class:`AtomTable`): each target-vocabulary token is split by the one
  SMILES tokenizer (``onmt_moe.smiles``); organic-subset atoms (``C``, ``Cl``, aromatic ``c``, …)
  and bracket atoms (``[nH]`` -> N and 1 H, ``[C@@H]``, ``[N+]``, ``[13C]``) count towards their element,
  hydrogens written inside brackets towards H; anything else (bonds, ring digits, specials) is zero.
* **masking** (:meth:`FormulaConstraint.mask`, before each step's top-k): a token that would take a
  hypothesis past the budget of any heavy element -- or past the formula's H with the explicit
  bracket hydrogens, which can only add to the total -- gets ``-inf``; EOS is allowed only when every
  heavy-atom count equals the budget. After the step (:meth:`FormulaConstraint.after_advance`) the
  running counts are reordered with the beam's ``select_indices`` and the chosen tokens added; a
  hypothesis that finished anyway (the beam had to fill its width with ``-inf`` candidates, ``-min_length``
  overwrote the EOS mask, or ``-max_length`` cut it) without matching is not finished but dropped
  (its score set to ``-inf``), so every hypothesis that is stored matches the heavy-atom formula.
* **rings and branches** (:func:`token_syntax`, same masking step): each hypothesis also carries the
  parity of every ring-closure label (``0``..``9``, ``%NN``, ``%(NNN)``, by number: writing a label
  toggles it open/closed) and its branch depth (``(`` +1, ``)`` -1). EOS is allowed only when no
  label is open and the depth is 0; ``)`` is forbidden at depth 0; a token that opens a new label or
  a ``(`` is forbidden once the formula has no heavy atom left (a ring bond needs a later atom to
  close on, a branch an atom inside it). A finished hypothesis with an open label or branch is
  dropped like one with the wrong atoms. Not checked: the order of pieces inside a token (the
  project's targets have one SMILES piece per token), empty branches, ring bonds closing on their own
  or an adjacent atom, dangling bonds: a candidate can still be an invalid SMILES.
* **hydrogens** (:meth:`FormulaConstraint.finalize`, after decoding): candidates whose total H count
  (RDKit, implicit + explicit) differs from the formula, or that RDKit cannot parse, are *kept* and
  moved after the ones that match, beam order within both groups (so ``-with_score`` scores are not
  monotone then). Kept rather than dropped: the n-best stays full and ``onmt_moe_predict`` ranks
  formula-consistent candidates first anyway (``predict/rank.py``).
* **fewer than n_best matches**: when ``-max_length`` is reached before n_best matching hypotheses
  finished, the missing places hold an empty prediction with score ``-inf`` (OpenNMT writes exactly
  n_best lines per source); counted as ``padded``.
* **fallback**: a formula with an element that no target token carries (e.g. Si with a vocabulary
  without ``[Si]``) cannot be completed: that example is decoded unconstrained and counted as
  ``fallback`` (a warning names the elements).

Counts per translator are in ``translator.moe_formula_stats`` (a Counter: ``examples``,
``constrained``, ``no_formula``, ``fallback``, ``padded``, ``h_moved``). Random sampling
(``-random_sampling_topk``/``-topp``, OpenNMT's ``GreedySearch``) is refused with the option. Sources
without a formula (and fallbacks) get none of the masks above, ring/branch rules included.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence

import torch

from onmt_moe import formula
from onmt_moe.modality.tags import MISSING, split_segments, tag_name
from onmt_moe.smiles import SMILES_RE

LOG = logging.getLogger("onmt")
H = "H"
NEG_INF = float("-inf")

_ORGANIC = {
    "B": "B",
    "C": "C",
    "N": "N",
    "O": "O",
    "S": "S",
    "P": "P",
    "F": "F",
    "I": "I",
    "Cl": "Cl",
    "Br": "Br",
    "b": "B",
    "c": "C",
    "n": "N",
    "o": "O",
    "s": "S",
    "p": "P",
}
# [isotope] symbol [chirality] [H count] [charge] [:class]
_BRACKET_RE = re.compile(
    r"\[(\d+)?([A-Z][a-z]?|se|as|te|[bcnops]|\*)(@(?:@|TH\d|AL\d|SP\d|TB\d+|OH\d+)?)?(H\d*)?([+-]+\d*)?(:\d+)?\]"
)
_FORMULA_PIECE_RE = re.compile(r"[A-Z][a-z]?|\d+|[+-]")


# ----------------------------------------------------------------------------- atoms of a token
def token_atoms(token: str) -> Counter:
    """Element -> count of the atoms a target token writes (``'H'``: hydrogens inside brackets).

    Empty for anything that is not a sequence of SMILES tokens (bonds, ring digits, ``<s>``, ``<unk>``)."""
    pieces = SMILES_RE.findall(token)
    out: Counter = Counter()
    if not pieces or "".join(pieces) != token:
        return out
    for p in pieces:
        if p in _ORGANIC:
            out[_ORGANIC[p]] += 1
        elif p.startswith("["):
            m = _BRACKET_RE.fullmatch(p)
            if m is None:
                continue
            sym = m.group(2)
            if sym != "*":
                out[sym.capitalize()] += 1
            if m.group(4):
                out[H] += int(m.group(4)[1:] or 1)
    return out


def token_syntax(token: str) -> tuple[frozenset[int], int, int]:
    """(ring labels, ``)`` closing, ``(`` left open) of a target token: the labels it writes an odd number
    of times (``1`` -> 1, ``%10`` -> 10, ``%(123)`` -> 123), the ``)`` that close a branch opened before
    the token, the ``(`` still open after it. ``(frozenset(), 0, 0)`` for anything that is not SMILES."""
    pieces = SMILES_RE.findall(token)
    if not pieces or "".join(pieces) != token:
        return frozenset(), 0, 0
    labels: set[int] = set()
    close = open_ = 0
    for p in pieces:
        if p == "(":
            open_ += 1
        elif p == ")":
            if open_:
                open_ -= 1  # closes a ( of the same token
            else:
                close += 1
        elif p[0] == "%" or p.isdigit():  # bracket atoms ([13C]) are one piece starting with [
            labels ^= {int(p.strip("%()"))}
    return frozenset(labels), close, open_


class AtomTable:
    """Atom counts of every target-vocabulary token: ``table[token_id, column]`` (LongTensor ``(V, C)``),
    columns = the heavy elements some token carries (sorted), then H. Ring/branch effect of every token
    (:func:`token_syntax`): ``ring`` (BoolTensor ``(V, L)``, ``labels`` = the L ring labels some token
    writes, sorted), ``close`` and ``open`` (LongTensor ``(V,)``); ``syntax_ids``: the tokens with any."""

    def __init__(self, tokens: Sequence[str]):
        per_token = [token_atoms(t) for t in tokens]
        heavy = sorted({e for c in per_token for e in c if e != H})
        self.columns: tuple[str, ...] = (*heavy, H)
        self.n_heavy = len(heavy)
        col = {e: i for i, e in enumerate(self.columns)}
        table = torch.zeros(len(tokens), len(self.columns), dtype=torch.long)
        for i, c in enumerate(per_token):
            for e, n in c.items():
                table[i, col[e]] = n
        self.table = table
        self.atom_ids = torch.nonzero(table.any(-1)).view(-1)  # tokens that write some atom
        self._syntax(tokens)
        self._on: dict[torch.device, dict[str, torch.Tensor]] = {}

    def _syntax(self, tokens: Sequence[str]) -> None:
        per_token = [token_syntax(t) for t in tokens]
        self.labels: tuple[int, ...] = tuple(sorted({n for lab, _, _ in per_token for n in lab}))
        col = {n: i for i, n in enumerate(self.labels)}
        self.ring = torch.zeros(len(tokens), len(self.labels), dtype=torch.bool)
        for i, (lab, _, _) in enumerate(per_token):
            for n in lab:
                self.ring[i, col[n]] = True
        self.close = torch.tensor([c for _, c, _ in per_token], dtype=torch.long).view(-1)
        self.open = torch.tensor([o for _, _, o in per_token], dtype=torch.long).view(-1)
        has = self.ring.any(-1) | (self.close > 0) | (self.open > 0)
        self.syntax_ids = torch.nonzero(has).view(-1)

    def on(self, device) -> dict[str, torch.Tensor]:
        """The tables (``table``, ``atom_ids``, ``ring``, ``close``, ``open``, ``syntax_ids``) on ``device``
        (cached)."""
        device = torch.device(device)
        if device not in self._on:
            names = ("table", "atom_ids", "ring", "close", "open", "syntax_ids")
            self._on[device] = {n: getattr(self, n).to(device) for n in names}
        return self._on[device]

    def vector(self, formula: Counter) -> tuple[list[int] | None, list[str]]:
        """(budget per column, []) or (None, the heavy elements of ``formula`` no token carries)."""
        missing = sorted(e for e, n in formula.items() if n > 0 and e != H and e not in self.columns)
        if missing:
            return None, missing
        return [int(formula.get(e, 0)) for e in self.columns], []

    def counts(self, ids: Sequence[int]) -> list[int]:
        """Column counts of a token-id sequence."""
        if len(ids) == 0:
            return [0] * len(self.columns)
        return self.table[torch.as_tensor(list(ids), dtype=torch.long)].sum(0).tolist()


# ----------------------------------------------------------------------------- formula of a source
def parse_formula(pieces: Sequence[str]) -> Counter | None:
    """``['C', '8', 'H', '8', 'O', '2']`` (or ``['C8H8O2']``) -> Counter(C=8, H=8, O=2); a charge is
    ignored; None when the text is not a formula (``onmt_moe.formula``, the one parser)."""
    counts = formula.parse_formula("".join(pieces))
    if counts is None:
        return None
    counts.pop("charge", None)
    return counts or None


def formula_from_tokens(tokens: Sequence[str]) -> Counter | None:
    """The formula a source token list carries (see the module doc), or None.

    Tagged lines (any modality tag present): the inner tokens of ``<FORMULA> … </FORMULA>``.
    Benchmark lines: the leading run of element symbols, counts and charge signs (the formula section
    comes first; every other section starts with a header such as ``1HNMR``, ``IR``, ``E0Pos``)."""
    toks = list(tokens)
    if any(tag_name(t) is not None for t in toks):
        try:
            segs = split_segments(toks)
        except ValueError:
            return None
        for name, inner in segs:
            if name == "FORMULA":
                return None if MISSING in inner else parse_formula(inner)
        return None
    head = []
    for t in toks:
        if not _FORMULA_PIECE_RE.fullmatch(t):
            break
        head.append(t)
    return parse_formula(head)


# ----------------------------------------------------------------------------- the constraint
class FormulaConstraint:
    """Per-batch state of a formula-guided ``BeamSearch`` (see the module doc).

    ``budget``: LongTensor ``(batch, C)``; ``active``: BoolTensor ``(batch,)`` (False: unconstrained);
    ``counts``: LongTensor ``(alive rows, C)``, the atoms each alive hypothesis has written; ``rings``:
    BoolTensor ``(alive rows, L)``, its open ring labels; ``depth``: LongTensor ``(alive rows,)``, its
    branch depth (negative only in a dead row that wrote a ``)`` too many)."""

    def __init__(self, table: AtomTable, budget, active, beam_size: int, eos: int, device=None):
        device = torch.device(device or "cpu")
        t = table.on(device)
        self.atoms, self.atom_ids = t["table"], t["atom_ids"]
        self.ring, self.close, self.open, self.syntax_ids = t["ring"], t["close"], t["open"], t["syntax_ids"]
        self.n_heavy = table.n_heavy
        self.budget = torch.as_tensor(budget, dtype=torch.long, device=device).view(-1, len(table.columns))
        self.active = torch.as_tensor(active, dtype=torch.bool, device=device).view(-1)
        self.beam_size = beam_size
        self.eos = eos
        rows = self.budget.shape[0] * beam_size
        self.counts = torch.zeros(rows, self.budget.shape[1], dtype=torch.long, device=device)
        self.rings = torch.zeros(rows, self.ring.shape[1], dtype=torch.bool, device=device)
        self.depth = torch.zeros(rows, dtype=torch.long, device=device)
        self.stats: Counter = Counter()

    @classmethod
    def for_batch(cls, table: AtomTable, src_tokens: Sequence[Sequence[str]], beam_size: int, eos: int, device=None):
        """From each example's source tokens; counts ``constrained``/``no_formula``/``fallback``."""
        stats, budget, active, missing = Counter(examples=len(src_tokens)), [], [], set()
        for toks in src_tokens:
            f = formula_from_tokens(toks)
            vec, lacking = (None, []) if f is None else table.vector(f)
            if vec is None:
                stats["fallback" if lacking else "no_formula"] += 1
                missing.update(lacking)
            else:
                stats["constrained"] += 1
            budget.append(vec or [0] * len(table.columns))
            active.append(vec is not None)
        self = cls(table, budget, active, beam_size, eos, device)
        self.stats = stats
        if missing:
            LOG.warning(
                "moe_formula_beam: %d example(s) decoded unconstrained: no target token carries %s",
                stats["fallback"],
                ", ".join(sorted(missing)),
            )
        return self

    def _rows(self, batch_offset) -> tuple[torch.Tensor, torch.Tensor]:
        """(budget, active) of the alive rows: examples ``batch_offset`` (original indices), beam-major."""
        idx = torch.as_tensor(batch_offset, device=self.budget.device)
        return (
            self.budget[idx].repeat_interleave(self.beam_size, 0),
            self.active[idx].repeat_interleave(self.beam_size, 0),
        )

    def mask(self, log_probs: torch.Tensor, batch_offset) -> None:
        """In place, on ``(alive rows, V)`` log-probabilities: -inf for tokens that exceed the budget
        or break the ring/branch rules, and for EOS while a heavy-atom count is below the budget or a
        ring label or branch is open (unconstrained rows untouched)."""
        budget, active = self._rows(batch_offset)
        if not bool(active.any()):
            return
        room = budget - self.counts  # (R, C)
        need = self.atoms[self.atom_ids]  # (K, C)
        over = (need.unsqueeze(0) > room.unsqueeze(1)).any(-1) & active.unsqueeze(1)  # (R, K)
        sub = log_probs[:, self.atom_ids]
        log_probs[:, self.atom_ids] = sub.masked_fill(over, NEG_INF)
        incomplete = ((room[:, : self.n_heavy] != 0).any(-1) | ~self.closed_rows(self.rings, self.depth)) & active
        log_probs[:, self.eos] = log_probs[:, self.eos].masked_fill(incomplete, NEG_INF)
        self._mask_syntax(log_probs, room[:, : self.n_heavy].sum(-1), active)

    def _mask_syntax(self, log_probs: torch.Tensor, heavy_left: torch.Tensor, active: torch.Tensor) -> None:
        """-inf for a ``)`` beyond the branch depth, and for a new ring label or ``(`` with no heavy atom
        left (``heavy_left``: ``(R,)``), on the few tokens that write a label or a parenthesis."""
        ids = self.syntax_ids
        if len(ids) == 0:
            return
        # (R, K): the token writes a label that is not open yet in this row, i.e. opens it
        opens_ring = (self.ring[ids].unsqueeze(0) & ~self.rings.unsqueeze(1)).any(-1)
        needs_atom = opens_ring | (self.open[ids] > 0).unsqueeze(0)
        bad = (self.close[ids].unsqueeze(0) > self.depth.unsqueeze(1)) | (needs_atom & (heavy_left <= 0).unsqueeze(1))
        log_probs[:, ids] = log_probs[:, ids].masked_fill(bad & active.unsqueeze(1), NEG_INF)

    def valid_rows(self, counts: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
        """Rows whose heavy atoms equal the budget and whose bracket hydrogens stay within it."""
        heavy = (counts[:, : self.n_heavy] == budget[:, : self.n_heavy]).all(-1)
        return heavy & (counts[:, self.n_heavy] <= budget[:, self.n_heavy])

    @staticmethod
    def closed_rows(rings: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Rows with no ring label and no branch open."""
        return ~rings.any(-1) & (depth == 0)

    def balanced(self, pred: torch.Tensor) -> bool:
        """Whether a token-id sequence closes every ring label and branch it opens, no ``)`` too many."""
        pred = pred.to(self.ring.device)
        if bool((self.ring[pred].long().sum(0) % 2).any()):
            return False
        close, step = self.close[pred], self.open[pred] - self.close[pred]
        before = torch.cumsum(step, 0) - step  # branch depth before each token
        return bool((before >= close).all()) and int(step.sum()) == 0

    def after_advance(self, beam) -> None:
        """After ``BeamSearchBase.advance``: reorder the counts with ``select_indices``, add the chosen
        tokens; un-finish (and kill: score -inf) finished rows that do not match or leave a ring label or
        branch open, kill rows past the budget or with a ``)`` too many."""
        sel, ids = beam.select_indices, beam.topk_ids.reshape(-1)
        self.counts = self.counts[sel] + self.atoms[ids]
        self.rings = self.rings[sel] ^ self.ring[ids]  # writing a label toggles it open/closed
        depth = self.depth[sel]
        broken = depth < self.close[ids]  # the token closes a branch that was never opened
        self.depth = depth - self.close[ids] + self.open[ids]
        budget, active = self._rows(beam._batch_offset)
        over = ((self.counts > budget).any(-1) | broken) & active
        finished = torch.tensor(beam.is_finished_list, dtype=torch.bool, device=self.counts.device).view(-1)
        ok = self.valid_rows(self.counts, budget) & self.closed_rows(self.rings, self.depth)
        bad_finish = finished & active & (~ok | torch.isinf(beam.topk_scores.reshape(-1)))
        dead = over | bad_finish
        if bool(dead.any()):
            beam.topk_log_probs.view(-1).masked_fill_(dead, NEG_INF)
        if bool(bad_finish.any()):
            for r in torch.nonzero(bad_finish).view(-1).tolist():
                beam.is_finished_list[r // self.beam_size][r % self.beam_size] = False

    def after_update_finished(self, beam, old_offset: torch.Tensor) -> None:
        """After ``BeamSearchBase.update_finished``: keep the state of the examples still decoding."""
        if beam.done:
            return
        keep = torch.isin(old_offset, beam._batch_offset).to(self.counts.device)
        self.counts, self.rings, self.depth = (
            x.view(len(old_offset), self.beam_size, *x.shape[1:])[keep].reshape(-1, *x.shape[1:])
            for x in (self.counts, self.rings, self.depth)
        )

    # ------------------------------------------------------------------------- after decoding
    def finalize(self, beam, n_best: int, tgt_tokens: Sequence[str]) -> None:
        """The n-best of every constrained example: matching hypotheses with every ring label and branch
        closed only (from the hypotheses when the example never finished normally), H-mismatching ones
        after the others, empty ``-inf`` predictions for missing places. Edits
        ``beam.predictions/scores/attention`` in place."""
        for b in range(beam.batch_size):
            if not bool(self.active[b]):
                continue
            budget = self.budget[b]
            if beam.predictions[b]:
                cands = list(zip(beam.scores[b], beam.predictions[b], beam.attention[b]))
            else:
                hyps = sorted(beam.hypotheses[b], key=lambda x: float(x[0]), reverse=True)
                cands = [(s, p, a if a is not None else []) for s, p, a in hyps]
            keep = []
            for score, pred, attn in cands:
                c = self.atoms[pred.to(self.atoms.device)].sum(0, keepdim=True)
                valid = bool(self.valid_rows(c, budget.view(1, -1))[0]) and self.balanced(pred)
                if valid and float(score) != NEG_INF:
                    keep.append((score, pred, attn))
            keep = keep[:n_best]
            h_ok = [hydrogens(_smiles(pred, tgt_tokens, self.eos)) == int(budget[-1]) for _, pred, _ in keep]
            ordered = [k for k, ok in zip(keep, h_ok) if ok] + [k for k, ok in zip(keep, h_ok) if not ok]
            self.stats["h_moved"] += sum(1 for i, ok in enumerate(h_ok) if not ok and any(h_ok[i:]))
            pad = n_best - len(ordered)
            if pad > 0:
                self.stats["padded"] += 1
                empty = torch.tensor([self.eos], dtype=torch.long, device=self.atoms.device)
                ordered += [(NEG_INF, empty, [])] * pad
            beam.scores[b][:] = [s for s, _, _ in ordered]
            beam.predictions[b][:] = [p for _, p, _ in ordered]
            beam.attention[b][:] = [a for _, _, a in ordered]


def _smiles(pred, tgt_tokens: Sequence[str], eos: int) -> str:
    return "".join(tgt_tokens[i] for i in pred.tolist() if i != eos)


def hydrogens(smiles: str) -> int | None:
    """Total hydrogen count (implicit + explicit) of a SMILES, None when RDKit cannot parse it."""
    if not smiles:
        return None
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises on some pathological inputs
        return None
    if mol is None:
        return None
    return sum(a.GetTotalNumHs() for a in mol.GetAtoms())


# ----------------------------------------------------------------------------- translator side
def begin_batch(translator, batch, decode_strategy) -> None:
    """Attach a :class:`FormulaConstraint` to ``decode_strategy`` (called by patch 16 when the
    translator has ``-moe_formula_beam``)."""
    from onmt.translate.beam_search import BeamSearchBase

    if not isinstance(decode_strategy, BeamSearchBase):
        raise ValueError(
            "-moe_formula_beam works with beam search only: drop -random_sampling_topk/-random_sampling_topp"
        )
    table = getattr(translator, "_moe_atom_table", None)
    if table is None:
        table = translator._moe_atom_table = AtomTable(list(translator.vocabs["tgt"].ids_to_tokens))
    itos = translator.vocabs["src"].ids_to_tokens
    src, srclen = batch["src"], batch["srclen"]
    rows = [[itos[i] for i in src[b, : int(srclen[b]), 0].tolist()] for b in range(src.shape[0])]
    fc = FormulaConstraint.for_batch(table, rows, decode_strategy.beam_size, translator._tgt_eos_idx, src.device)
    decode_strategy._moe_formula = fc


def end_batch(translator, decode_strategy) -> None:
    """Finalize the n-best lists and add the batch's counts to ``translator.moe_formula_stats``."""
    fc = decode_strategy._moe_formula
    fc.finalize(decode_strategy, decode_strategy.n_best, translator.vocabs["tgt"].ids_to_tokens)
    if fc.stats["padded"]:
        LOG.warning(
            "moe_formula_beam: %d example(s) with fewer than %d formula-matching hypotheses within "
            "max_length; the rest are empty",
            fc.stats["padded"],
            decode_strategy.n_best,
        )
    stats = getattr(translator, "moe_formula_stats", None)
    if stats is None:
        stats = translator.moe_formula_stats = Counter()
    stats.update(fc.stats)
