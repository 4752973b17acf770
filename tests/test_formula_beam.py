"""Formula-guided beam search (-moe_formula_beam, plugin/formula_beam.py, patch 16): token atom counts,
ring labels and branches per token, formula budgets from sources, the masking step on hand-made tensors
and on token sequences fed one step at a time (atoms, ring labels, branch depth), a real BeamSearch driven by random
log-probabilities, and a tiny trained model decoded with and without the option (the constraint is
never violated; without the option the output is byte for byte that of OpenNMT without patch 16)."""

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

import onmt_moe  # noqa: F401  registers the plugin
from onmt_moe.plugin import formula_beam as fb
from onmt_moe.smiles import SMILES_RE
from tests.conftest import FIXTURES

EX1 = os.path.join(FIXTURES, "benchmark_examples", "example_data_1_slim.parquet")
ENV = dict(os.environ, OMP_NUM_THREADS="1")
NEG = float("-inf")


# ----------------------------------------------------------------------------- atoms of a token
@pytest.mark.parametrize(
    "token, atoms",
    [
        ("C", {"C": 1}),
        ("c", {"C": 1}),
        ("Cl", {"Cl": 1}),
        ("Br", {"Br": 1}),
        ("n", {"N": 1}),
        ("[nH]", {"N": 1, "H": 1}),
        ("[C@@H]", {"C": 1, "H": 1}),
        ("[C@H]", {"C": 1, "H": 1}),
        ("[N+]", {"N": 1}),
        ("[NH3+]", {"N": 1, "H": 3}),
        ("[O-]", {"O": 1}),
        ("[13C]", {"C": 1}),
        ("[se]", {"Se": 1}),
        ("[Si]", {"Si": 1}),
        ("[H]", {"H": 1}),
        ("=", {}),
        ("(", {}),
        ("1", {}),
        ("%10", {}),
        ("*", {}),
        ("<unk>", {}),
        ("</s>", {}),
        ("1HNMR", {}),  # a shared vocabulary's source token: not SMILES
    ],
)
def test_token_atoms(token, atoms):
    assert dict(fb.token_atoms(token)) == atoms


@pytest.mark.parametrize(
    "token, syntax",
    [
        ("1", ({1}, 0, 0)),
        ("9", ({9}, 0, 0)),
        ("%10", ({10}, 0, 0)),
        ("%(123)", ({123}, 0, 0)),
        ("(", (set(), 0, 1)),
        (")", (set(), 1, 0)),
        ("C", (set(), 0, 0)),
        ("[13C]", (set(), 0, 0)),  # a bracket atom's digits are no ring label
        ("[nH]", (set(), 0, 0)),
        ("=", (set(), 0, 0)),
        ("</s>", (set(), 0, 0)),
        ("1HNMR", (set(), 0, 0)),  # not SMILES
        # several pieces in one token: parity per label, a ) closing the token's own ( counts for neither
        ("11", (set(), 0, 0)),
        ("c1", ({1}, 0, 0)),
        ("()", (set(), 0, 0)),
        (")(", (set(), 1, 1)),
    ],
)
def test_token_syntax(token, syntax):
    labels, close, open_ = fb.token_syntax(token)
    assert (set(labels), close, open_) == syntax


def test_atom_table_syntax_columns():
    toks = ["<unk>", "</s>", "C", "(", ")", "1", "%10", "2", "[13C]"]
    t = fb.AtomTable(toks)
    assert t.labels == (1, 2, 10)
    assert t.ring[toks.index("%10")].tolist() == [False, False, True]
    assert t.ring[toks.index("1")].tolist() == [True, False, False]
    assert t.close.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0] and t.open.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert sorted(t.syntax_ids.tolist()) == [3, 4, 5, 6, 7]
    assert set(t.on("cpu")) == {"table", "atom_ids", "ring", "close", "open", "syntax_ids"}
    none = fb.AtomTable(["</s>", "C"])  # no ring digits in the vocabulary: zero label columns
    assert none.ring.shape == (2, 0) and len(none.syntax_ids) == 0


def test_atom_table_columns_and_counts():
    toks = ["<unk>", "<blank>", "<s>", "</s>", "C", "c", "[nH]", "O", "=", "(", ")", "1", "Cl", "[C@@H]"]
    t = fb.AtomTable(toks)
    assert t.columns == ("C", "Cl", "N", "O", "H") and t.n_heavy == 4
    assert t.table[toks.index("[nH]")].tolist() == [0, 0, 1, 0, 1]
    assert t.table[toks.index("[C@@H]")].tolist() == [1, 0, 0, 0, 1]
    assert sorted(t.atom_ids.tolist()) == sorted(toks.index(x) for x in ("C", "c", "[nH]", "O", "Cl", "[C@@H]"))
    assert t.counts([toks.index(x) for x in "C c O".split()]) == [2, 0, 0, 1, 0]
    assert t.vector(Counter(C=8, H=8, O=2)) == ([8, 0, 0, 2, 8], [])
    assert t.vector(Counter(C=8, H=8, Si=1, S=1)) == (None, ["S", "Si"])


# ----------------------------------------------------------------------------- budgets
@pytest.mark.parametrize(
    "line, formula",
    [
        ("<FORMULA> C 8 H 8 O 2 </FORMULA> <NMR> 1HNMR 7.95 7.93 d 2H </NMR>", {"C": 8, "H": 8, "O": 2}),
        ("<FORMULA> C 8 H 8 O </FORMULA> <IR> IR 3 4 </IR>", {"C": 8, "H": 8, "O": 1}),
        ("<TASK_STRUCT> <FORMULA> C 2 H 7 N + </FORMULA> <MS> E0Pos 46.1 </MS>", {"C": 2, "H": 7, "N": 1}),
        ("<NMR> 1HNMR 7.95 7.93 d 2H </NMR> <FORMULA> Cl 2 C 9 </FORMULA>", {"Cl": 2, "C": 9}),
        ("C 9 H 11 Cl 2 N 3 O 4 1HNMR 7.82 7.78 dd 1H J 1.83 6.22", {"C": 9, "H": 11, "Cl": 2, "N": 3, "O": 4}),
        ("C 16 H 29 N 7 S IR 3 4", {"C": 16, "H": 29, "N": 7, "S": 1}),
        # no formula: unconstrained
        ("<FORMULA> <MISSING> </FORMULA> <NMR> 1HNMR 7.95 </NMR>", None),
        ("<NMR> 1HNMR 7.95 7.93 d 2H </NMR>", None),
        ("<FORMULA> C <unk> H 8 </FORMULA> <NMR> 1HNMR 7.95 </NMR>", None),
        ("1HNMR 7.82 7.78 dd 1H J 1.83", None),
        ("13CNMR 198.1 26.6", None),
        ("IR 3 4 5", None),
        ("E0Pos 112.1 1.1", None),
        ("", None),
    ],
)
def test_formula_from_source_tokens(line, formula):
    got = fb.formula_from_tokens(line.split())
    assert (dict(got) if got is not None else None) == formula


def test_formula_of_the_benchmark_format_matches_format_formula():
    """The formula section as the corpus builder writes it (both formats) parses back."""
    import pyarrow as pa

    from onmt_moe.data.benchmark_format import format_formula

    cases = {"C11H15FN2O2": dict(C=11, H=15, F=1, N=2, O=2), "C8H8O": dict(C=8, H=8, O=1), "CH4": dict(C=1, H=4)}
    cases["C2H8N+"] = dict(C=2, H=8, N=1)
    for f, want in cases.items():
        (text,) = format_formula(pa.array([f])).texts
        assert dict(fb.formula_from_tokens((text + " 1HNMR 7.1 7.0 s 1H").split())) == want
        assert dict(fb.formula_from_tokens(f"<FORMULA> {text} </FORMULA> <NMR> 1HNMR </NMR>".split())) == want


def test_budgets_of_a_batch_count_fallbacks():
    table = fb.AtomTable(["<unk>", "</s>", "C", "O", "N", "("])
    rows = [
        "<FORMULA> C 2 H 6 O </FORMULA> <NMR> 1HNMR </NMR>".split(),
        "<NMR> 1HNMR 7.1 </NMR>".split(),  # no formula
        "<FORMULA> C 2 H 6 Si </FORMULA>".split(),  # no target token carries Si: unconstrained, counted
    ]
    fc = fb.FormulaConstraint.for_batch(table, rows, beam_size=2, eos=1)
    assert fc.active.tolist() == [True, False, False]
    assert fc.budget[0].tolist() == [2, 0, 1, 6]  # columns C N O H
    assert fc.stats == Counter(examples=3, constrained=1, no_formula=1, fallback=1)
    assert fc.counts.shape == (6, 4)


# ----------------------------------------------------------------------------- the masking step
VOCAB = ["<unk>", "<blank>", "<s>", "</s>", "C", "O", "(", ")", "=", "1", "[nH]", "N", "Cl", "c", "%10"]
ID = {t: i for i, t in enumerate(VOCAB)}
EOS = ID["</s>"]


def _constraint(budgets, active, beam):
    table = fb.AtomTable(VOCAB)  # columns C Cl N O H
    return fb.FormulaConstraint(table, budgets, active, beam, EOS)


def test_mask_budget_reached_and_eos_until_complete():
    # example 0: C2 O1 H6 (constrained); example 1: unconstrained; beam 2
    fc = _constraint([[2, 0, 0, 1, 6], [0, 0, 0, 0, 0]], [True, False], beam=2)
    fc.counts = torch.tensor(
        [
            [2, 0, 0, 0, 0],  # C full, O missing
            [2, 0, 0, 1, 0],  # complete
            [9, 9, 9, 9, 9],  # unconstrained rows: anything goes
            [0, 0, 0, 0, 0],
        ]
    )
    lp = torch.zeros(4, len(VOCAB))
    fc.mask(lp, torch.tensor([0, 1]))
    inf = {t for t in VOCAB if lp[0, ID[t]] == NEG}
    # carbon full, no N/Cl in the formula, O missing; no branch open to close
    assert inf == {"C", "c", "</s>", "[nH]", "N", "Cl", ")"}
    inf = {t for t in VOCAB if lp[1, ID[t]] == NEG}
    # complete: only EOS and tokens that neither write an atom nor open a ring label or branch
    assert inf == {"C", "c", "O", "[nH]", "N", "Cl", ")", "(", "1", "%10"}
    assert torch.isfinite(lp[2:]).all()
    # only the alive examples' rows are given: example 1 alone (example 0 finished)
    fc.counts = torch.zeros(2, 5, dtype=torch.long)
    lp = torch.zeros(2, len(VOCAB))
    fc.mask(lp, torch.tensor([1]))
    assert torch.isfinite(lp).all()


def test_mask_hydrogens_in_brackets_bounded_by_the_formula():
    fc = _constraint([[0, 0, 2, 0, 1]], [True], beam=1)  # N2 H1
    fc.counts = torch.tensor([[0, 0, 1, 0, 1]])  # one [nH] written
    lp = torch.zeros(1, len(VOCAB))
    fc.mask(lp, torch.tensor([0]))
    assert lp[0, ID["[nH]"]] == NEG and lp[0, ID["N"]] == 0 and lp[0, EOS] == NEG


def test_after_advance_reorders_by_select_indices_and_drops_bad_finishes():
    fc = _constraint([[2, 0, 0, 1, 6]], [True], beam=3)
    fc.counts = torch.tensor([[1, 0, 0, 0, 0], [2, 0, 0, 0, 0], [2, 0, 0, 1, 0]])
    beam = SimpleNamespace(
        beam_size=3,
        _batch_offset=torch.tensor([0]),
        select_indices=torch.tensor([2, 0, 1]),  # new row r continues old row select_indices[r]
        topk_ids=torch.tensor([[EOS, ID["C"], EOS]]),
        topk_scores=torch.tensor([[-1.0, -2.0, -3.0]]),
        topk_log_probs=torch.tensor([[-1.0, -2.0, -3.0]]),
        is_finished_list=[[True, False, True]],
    )
    fc.after_advance(beam)
    # row 0: old row 2 (complete) + EOS; row 1: old row 0 + C; row 2: old row 1 (O missing) + EOS
    assert fc.counts.tolist() == [[2, 0, 0, 1, 0], [2, 0, 0, 0, 0], [2, 0, 0, 0, 0]]
    assert beam.is_finished_list == [[True, False, False]]  # the incomplete EOS is not a hypothesis
    assert beam.topk_log_probs.tolist() == [[-1.0, -2.0, NEG]]  # and that row is dead


def test_after_update_finished_keeps_the_counts_of_the_examples_still_decoding():
    fc = _constraint([[1, 0, 0, 0, 0]] * 3, [True] * 3, beam=2)
    fc.counts = torch.arange(6).view(6, 1).repeat(1, 5)
    fc.depth = torch.arange(6)
    fc.rings = torch.tensor([[i % 2 == 0, i > 3] for i in range(6)])
    beam = SimpleNamespace(done=False, _batch_offset=torch.tensor([0, 2]))
    fc.after_update_finished(beam, torch.tensor([0, 1, 2]))
    assert fc.counts[:, 0].tolist() == [0, 1, 4, 5]
    assert fc.depth.tolist() == [0, 1, 4, 5]
    assert fc.rings.tolist() == [[True, False], [False, False], [True, True], [False, True]]


# ----------------------------------------------------------------------------- ring labels, branches
def _forbidden(fc):
    lp = torch.zeros(1, len(VOCAB))
    fc.mask(lp, torch.tensor([0]))
    return {t for t in VOCAB if lp[0, ID[t]] == NEG}


def _feed(fc, tokens: str):
    """Write ``tokens`` into the one hypothesis of a beam-1 constraint, step by step as the beam does
    (each token must be allowed by the mask), then return the tokens its mask forbids next."""
    for t in tokens.split():
        assert t not in _forbidden(fc), (tokens, t)
        beam = SimpleNamespace(
            beam_size=1,
            _batch_offset=torch.tensor([0]),
            select_indices=torch.tensor([0]),
            topk_ids=torch.tensor([[ID[t]]]),
            topk_scores=torch.tensor([[-1.0]]),
            topk_log_probs=torch.tensor([[-1.0]]),
            is_finished_list=[[False]],
        )
        fc.after_advance(beam)
        assert beam.topk_log_probs.item() == -1.0, t  # the mask allowed it, so nothing kills it
    return _forbidden(fc)


def _c(n):
    """A beam-1 constraint with the budget C n (H left open)."""
    return _constraint([[n, 0, 0, 0, 9]], [True], beam=1)


def test_eos_only_when_every_ring_label_is_closed():
    assert "</s>" in _feed(_c(3), "C 1 C C")  # the atoms match, ring bond 1 is open
    assert "1" not in _feed(_c(3), "C 1 C C")  # closing it needs no atom
    assert "</s>" not in _feed(_c(3), "C 1 C C 1")
    assert "</s>" not in _feed(_c(5), "C 1 C C 1 C 1 C 1")  # a label reused after closing
    assert "</s>" in _feed(_c(4), "C 1 C C 1 1")  # reopened


def test_percent_labels_are_labels_of_their_own():
    assert "</s>" in _feed(_c(3), "C %10 C C")
    assert "</s>" in _feed(_c(3), "C 1 C %10 C 1")  # %10 still open, 1 closed
    assert "</s>" not in _feed(_c(3), "C 1 C %10 C 1 %10")
    assert fb.FormulaConstraint.closed_rows(torch.tensor([[False, True]]), torch.tensor([0])).tolist() == [False]


def test_close_paren_only_inside_a_branch():
    assert ")" in _feed(_c(3), "C")
    assert ")" not in _feed(_c(3), "C ( C")
    assert ")" in _feed(_c(3), "C ( C )")
    assert ")" not in _feed(_c(4), "C ( C ( C")


def test_eos_forbidden_while_a_branch_is_open():
    assert "</s>" in _feed(_c(3), "C ( C C")
    assert "</s>" not in _feed(_c(3), "C ( C ) C")
    assert "</s>" in _feed(_c(4), "C ( C ( C ) C")
    assert "</s>" not in _feed(_c(4), "C ( C ( C ) ) C")


def test_no_new_ring_label_or_branch_without_a_heavy_atom_left():
    left = _feed(_c(4), "C 1 C C")  # one carbon left: anything may open
    assert not left & {"%10", "(", "1"}
    full = _feed(_c(3), "C 1 C C")  # none left: only closing
    assert {"%10", "("} <= full and "1" not in full
    assert "1" in _feed(_c(3), "C 1 C C 1")  # 1 would open again


def test_rows_without_a_formula_are_free():
    fc = _constraint([[0, 0, 0, 0, 0]], [False], beam=1)
    assert _feed(fc, "C 1 C ( C") == set()
    assert _feed(_constraint([[0, 0, 0, 0, 0]], [False], beam=1), ")") == set()  # nothing kills it either


def test_after_advance_drops_unclosed_finishes_and_kills_extra_close_parens():
    fc = _constraint([[3, 0, 0, 0, 9]], [True], beam=3)
    fc.counts = torch.tensor([[3, 0, 0, 0, 0]] * 3)
    fc.rings = torch.tensor([[True, False], [False, False], [False, False]])  # labels (1, 10)
    fc.depth = torch.tensor([0, 0, 1])
    beam = SimpleNamespace(
        beam_size=3,
        _batch_offset=torch.tensor([0]),
        select_indices=torch.tensor([0, 1, 2]),
        topk_ids=torch.tensor([[EOS, ID[")"], EOS]]),  # ring open + EOS; ) at depth 0; branch open + EOS
        topk_scores=torch.tensor([[-1.0, -2.0, -3.0]]),
        topk_log_probs=torch.tensor([[-1.0, -2.0, -3.0]]),
        is_finished_list=[[True, False, True]],
    )
    fc.after_advance(beam)
    assert beam.is_finished_list == [[False, False, False]]
    assert beam.topk_log_probs.tolist() == [[NEG, NEG, NEG]]
    assert fc.depth.tolist() == [0, -1, 1]


def test_balanced():
    fc = _c(3)
    ids = lambda s: torch.tensor([ID[t] for t in s.split()] + [EOS])  # noqa: E731
    assert fc.balanced(ids("C 1 C C 1")) and fc.balanced(ids("C ( C ) C")) and fc.balanced(ids("C"))
    assert fc.balanced(ids("C %10 C ( C 1 ) C %10 1"))
    assert not fc.balanced(ids("C 1 C C")) and not fc.balanced(ids("C %10 C C"))
    assert not fc.balanced(ids("C ( C C")) and not fc.balanced(ids("C ) C ( C"))


def _beam(batch, beam_size, n_best, max_length, min_length=0):
    from onmt.translate.beam_search import BeamSearch, GNMTGlobalScorer

    return BeamSearch(
        beam_size,
        batch_size=batch,
        pad=ID["<blank>"],
        bos=ID["<s>"],
        eos=EOS,
        unk=ID["<unk>"],
        start=ID["<s>"],
        n_best=n_best,
        global_scorer=GNMTGlobalScorer(0.0, 0.0, None, "none"),
        min_length=min_length,
        max_length=max_length,
        return_attention=False,
        block_ngram_repeat=0,
        exclusion_tokens=set(),
        stepwise_penalty=False,
        ratio=0.0,
        ban_unk_token=False,
    )


def _run_beam(beam, seed, src_tokens, with_constraint=True):
    """Drive a real (patched) BeamSearch with random log-probabilities, the way
    Translator._translate_batch_with_strategy does; check the running counts against alive_seq."""
    table = fb.AtomTable(VOCAB)
    B = len(src_tokens)
    if with_constraint:
        beam._moe_formula = fb.FormulaConstraint.for_batch(table, src_tokens, beam.beam_size, EOS)
    beam.initialize(torch.zeros(B, 5, 8), torch.full((B,), 5))
    g = torch.Generator().manual_seed(seed)
    bias = torch.zeros(len(VOCAB))
    bias[EOS] = 2.0  # eager to stop: the mask must hold it back
    for _ in range(beam.max_length):
        lp = torch.log_softmax(torch.randn(beam.alive_seq.shape[0], len(VOCAB), generator=g) + bias, -1)
        beam.advance(lp, None)
        if any(any(x) for x in beam.is_finished_list):
            beam.update_finished()
            if beam.done:
                break
        if with_constraint:
            fc = beam._moe_formula
            assert fc.counts.tolist() == [table.counts(s[1:].tolist()) for s in beam.alive_seq]
            rings = [{table.labels[i] for i in torch.nonzero(r).view(-1).tolist()} for r in fc.rings]
            assert list(zip(rings, fc.depth.tolist())) == [_syntax(s[1:].tolist()) for s in beam.alive_seq]
    return table


def _syntax(ids):
    """(open ring labels, branch depth) of a token-id sequence, from token_syntax alone."""
    labels, depth = set(), 0
    for i in ids:
        lab, close, open_ = fb.token_syntax(VOCAB[i])
        labels ^= set(lab)
        depth += open_ - close
    return labels, depth


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("beam_size, n_best, min_length", [(4, 2, 0), (1, 1, 0), (5, 5, 3)])
def test_real_beam_search_never_violates_the_formula(seed, beam_size, n_best, min_length):
    rows = [
        "<FORMULA> C 3 H 5 N O </FORMULA>".split(),
        "<NMR> 1HNMR 1.0 </NMR>".split(),  # unconstrained
        "<FORMULA> C 2 Cl H 3 </FORMULA>".split(),
        "C 1 H 4 1HNMR 1.0".split(),  # benchmark format
    ]
    beam = _beam(len(rows), beam_size, n_best, max_length=25, min_length=min_length)
    table = _run_beam(beam, seed, rows)
    tr = SimpleNamespace(vocabs={"tgt": SimpleNamespace(ids_to_tokens=VOCAB)})
    fb.end_batch(tr, beam)  # what the patched Inference.report_results runs first
    found = 0
    for b, toks in enumerate(rows):
        assert len(beam.predictions[b]) == n_best and len(beam.scores[b]) == n_best
        f = fb.formula_from_tokens(toks)
        if f is None:
            continue
        want = table.vector(f)[0]
        for score, pred in zip(beam.scores[b], beam.predictions[b]):
            got = table.counts(pred.tolist())
            if pred.tolist() == [EOS]:  # an empty place: no further matching hypothesis
                assert score == NEG
                continue
            assert got[: table.n_heavy] == want[: table.n_heavy] and got[-1] <= want[-1]
            assert EOS not in pred.tolist()[:-1]
            depths = [_syntax(pred.tolist()[:k])[1] for k in range(len(pred) + 1)]
            assert _syntax(pred.tolist()) == (set(), 0) and min(depths) == 0  # rings and branches closed
            found += 1
    assert found  # not only empty places
    assert tr.moe_formula_stats["examples"] == 4 and tr.moe_formula_stats["constrained"] == 3


def test_without_the_constraint_a_beam_is_upstreams():
    rows = ["<FORMULA> C 3 H 5 N O </FORMULA>".split()] * 2
    a, b = _beam(2, 3, 3, 20), _beam(2, 3, 3, 20)
    _run_beam(a, 1, rows, with_constraint=False)
    import onmt.translate.beam_search as bs

    advance, update = bs.BeamSearchBase.advance, bs.BeamSearchBase.update_finished
    try:  # OpenNMT's own functions, without patch 16
        bs.BeamSearchBase.advance, bs.BeamSearchBase.update_finished = advance.__wrapped__, update.__wrapped__
        _run_beam(b, 1, rows, with_constraint=False)
    finally:
        bs.BeamSearchBase.advance, bs.BeamSearchBase.update_finished = advance, update
    assert a.scores == b.scores
    assert [[p.tolist() for p in x] for x in a.predictions] == [[p.tolist() for p in x] for x in b.predictions]


def test_hydrogens_after_decoding():
    assert fb.hydrogens("CCO") == 6
    assert fb.hydrogens("c1cc[nH]c1") == 5
    assert fb.hydrogens("[H]OC") == 4
    assert fb.hydrogens("C1CC") is None and fb.hydrogens("") is None


def test_finalize_moves_wrong_hydrogen_counts_last():
    table = fb.AtomTable(VOCAB)
    fc = fb.FormulaConstraint(table, [table.vector(Counter(C=2, O=1, H=6))[0]], [True], 3, EOS)
    ids = lambda s: torch.tensor([ID[t] for t in s.split()] + [EOS])  # noqa: E731
    beam = SimpleNamespace(
        batch_size=1,
        predictions=[[ids("C = C O"), ids("C C O"), ids("C ( ) C O")]],  # C2H4O, C2H6O, invalid
        scores=[[-1.0, -2.0, -3.0]],
        attention=[[[], [], []]],
        hypotheses=[[]],
    )
    fc.finalize(beam, 3, VOCAB)
    assert ["".join(VOCAB[i] for i in p.tolist()[:-1]) for p in beam.predictions[0]] == ["CCO", "C=CO", "C()CO"]
    assert beam.scores[0] == [-2.0, -1.0, -3.0] and fc.stats["h_moved"] == 1


def test_finalize_drops_open_rings_and_branches():
    table = fb.AtomTable(VOCAB)
    fc = fb.FormulaConstraint(table, [table.vector(Counter(C=2, O=1, H=6))[0]], [True], 3, EOS)
    ids = lambda s: torch.tensor([ID[t] for t in s.split()] + [EOS])  # noqa: E731
    beam = SimpleNamespace(
        batch_size=1,
        predictions=[[ids("C 1 C O"), ids("C C ( O"), ids("C C O")]],
        scores=[[-1.0, -2.0, -3.0]],
        attention=[[[], [], []]],
        hypotheses=[[]],
    )
    fc.finalize(beam, 3, VOCAB)
    assert [p.tolist() for p in beam.predictions[0]] == [ids("C C O").tolist(), [EOS], [EOS]]
    assert beam.scores[0] == [-3.0, NEG, NEG] and fc.stats["padded"] == 1


def test_random_sampling_is_refused():
    from onmt.translate.greedy_search import GreedySearch

    tr = SimpleNamespace(vocabs={"tgt": SimpleNamespace(ids_to_tokens=VOCAB)})
    with pytest.raises(ValueError, match="beam search only"):
        fb.begin_batch(tr, {}, GreedySearch.__new__(GreedySearch))


# ----------------------------------------------------------------------------- options
def test_option_in_onmt_translate_and_the_runner():
    from onmt.opts import translate_opts
    from onmt.utils.parse import ArgumentParser

    from onmt_moe.runs import runner

    p = ArgumentParser()
    translate_opts(p)
    assert p.parse_args(["-model", "m.pt", "-src", "s"]).moe_formula_beam is False
    assert p.parse_args(["-model", "m.pt", "-src", "s", "-moe_formula_beam"]).moe_formula_beam is True
    assert "moe_formula_beam" in runner.known_translate_options()
    runner.validate_run_section({"translate": {"moe_formula_beam": True, "beam_size": 5}}, "x.yaml")
    with pytest.raises(runner.ConfigError, match="moe_formula_beam"):
        runner.validate_run_section({"translate": {"moe_formula_beam": "yes"}}, "x.yaml")


def test_predict_cli_has_formula_beam():
    from onmt_moe.predict import cli

    assert cli.build_parser().parse_args(["--model", "m", "--formula_beam"]).formula_beam is True
    assert cli.build_parser().parse_args(["--model", "m"]).formula_beam is False


# ----------------------------------------------------------------------------- a tiny trained model
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """configs/tiny_moe.yaml on the example corpus, 100 steps (10 give only runaway hypotheses)."""
    from onmt_moe.data.pipeline import generate
    from tests.test_predict_end_to_end import _train

    tmp = tmp_path_factory.mktemp("formula_beam")
    generate(
        EX1,
        str(tmp / "corpus"),
        h_nmr=True,
        c_nmr=True,
        ir=True,
        pos_msms=True,
        neg_msms=True,
        formula=True,
        missing="token",
        ir_points=50,
        msms_top_k=5,
        progress=False,
    )
    data = tmp / "corpus" / "data"
    _train(tmp, data, "m", "--set", "train_steps=100", "--set", "save_checkpoint_steps=100", "--set", "valid_steps=100")
    lines = (data / "src-test.txt").read_text().splitlines() + (data / "src-val.txt").read_text().splitlines()
    lines.append("<NMR> 1HNMR 7.26 7.24 s 5H </NMR>")  # no formula: unconstrained
    return SimpleNamespace(ckpt=str(tmp / "m" / "model_step_100.pt"), lines=lines, tmp=tmp)


def _decode(model, formula_beam, n_best=5):
    from onmt_moe.inference.decode import Decoder

    dec = Decoder(model.ckpt, n_best=n_best, beam_size=n_best, max_length=80, formula_beam=formula_beam)
    try:
        out = dec.decode(model.lines)
        stats = Counter(getattr(dec.engine.translator, "moe_formula_stats", Counter()))
    finally:
        dec.close()
    return out, stats


def _heavy(smiles_tokens: str) -> Counter:
    """Heavy atoms of a candidate: RDKit when it parses, else counted from its tokens."""
    from rdkit import Chem

    smi = "".join(smiles_tokens.split())
    mol = Chem.MolFromSmiles(smi) if smi else None
    if mol is not None:
        return Counter(a.GetSymbol() for a in mol.GetAtoms() if a.GetSymbol() != "H")
    out = Counter()
    for t in SMILES_RE.findall(smi):
        out.update(fb.token_atoms(t))
    out.pop("H", None)
    return out


def test_trained_model_never_violates_the_formula(model):
    out, stats = _decode(model, True)
    assert stats["examples"] == len(model.lines) and stats["no_formula"] == 1
    assert stats["constrained"] == len(model.lines) - 1
    checked = 0
    for line, cands in zip(model.lines, out):
        f = fb.formula_from_tokens(line.split())
        if f is None:
            assert len(cands) == 5
            continue
        want = Counter({e: n for e, n in f.items() if e != "H"})
        for tokens, _score in cands:
            assert _heavy(tokens) == want, (line[:60], tokens)
            labels, depth = set(), [0]
            for t in tokens.split():
                lab, close, open_ = fb.token_syntax(t)
                labels ^= set(lab)
                depth.append(depth[-1] + open_ - close)
            assert not labels and depth[-1] == 0 and min(depth) == 0, tokens  # rings and branches closed
            checked += 1
    assert checked >= len(model.lines)  # most examples reach matching hypotheses at 100 steps


def test_without_the_option_the_output_is_upstreams_byte_for_byte(model, monkeypatch):
    import onmt.opts
    import onmt.translate.beam_search as bs
    import onmt.translate.translator as tr

    ours, stats = _decode(model, False)
    assert not stats
    # OpenNMT without patch 16 (the wrappers keep the upstream functions in __wrapped__)
    monkeypatch.setattr(bs.BeamSearchBase, "advance", bs.BeamSearchBase.advance.__wrapped__)
    monkeypatch.setattr(bs.BeamSearchBase, "update_finished", bs.BeamSearchBase.update_finished.__wrapped__)
    monkeypatch.setattr(
        tr.Translator, "_translate_batch_with_strategy", tr.Translator._translate_batch_with_strategy.__wrapped__
    )
    monkeypatch.setattr(tr.Inference, "report_results", tr.Inference.report_results.__wrapped__)
    monkeypatch.setattr(tr.Inference, "from_opt", classmethod(tr.Inference.from_opt.__func__.__wrapped__))
    monkeypatch.setattr(onmt.opts, "translate_opts", onmt.opts.translate_opts.__wrapped__)
    upstream, _ = _decode(model, False)
    assert json.dumps(ours) == json.dumps(upstream)


def test_stock_onmt_translate_with_the_runners_translate_config(model, tmp_path):
    """What the runner's translate stage runs: onmt_translate -config translate.yaml (moe_formula_beam: true)."""
    import yaml

    cfg = tmp_path / "translate.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "model": model.ckpt,
                "beam_size": 3,
                "n_best": 3,
                "max_length": 80,
                "with_score": True,
                "moe_formula_beam": True,
            }
        )
    )
    src, out = tmp_path / "src.txt", tmp_path / "pred.txt"
    src.write_text("\n".join(model.lines[:4]) + "\n")
    exe = os.path.join(os.path.dirname(sys.executable), "onmt_translate")
    r = subprocess.run(
        [exe, "-config", str(cfg), "-src", str(src), "-output", str(out)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    preds = [ln.rsplit("\t", 1) for ln in out.read_text().splitlines()]
    assert len(preds) == 4 * 3
    for i, line in enumerate(model.lines[:4]):
        want = Counter({e: n for e, n in fb.formula_from_tokens(line.split()).items() if e != "H"})
        for tokens, score in preds[3 * i : 3 * i + 3]:
            assert float(score) == NEG and tokens == "" or _heavy(tokens) == want


def test_predict_cli_formula_beam(model, tmp_path):
    from onmt_moe.predict import cli

    out = tmp_path / "ranked.csv"
    args = ["--model", model.ckpt, "--formula", "C8H8O", "--c_nmr", "198.1, 137.1, 133.1, 128.6, 128.3, 26.6"]
    assert cli.main([*args, "--n_best", "3", "--formula_beam", "--out", str(out), "-q"]) == 0
    rows = list(csv.DictReader(open(out)))
    assert 1 <= len(rows) <= 3
    assert all(_heavy(r["smiles"]) == Counter(C=8, O=1) for r in rows)
