"""WURCS-graph identity (wurcs_graph.py), the evaluator's fallback, unseen GlyTouCan strings and
precursor-mass re-ranking."""

import os
import random
import re

import pytest

pytest.importorskip("glypy")
pytest.importorskip("networkx")

from onmt_moe.evaluation.files import ScoringError
from onmt_moe.glycan import wurcs_graph as W  # noqa: E402
from onmt_moe.glycan.evaluate import parse_wurcs, score_wurcs_files  # noqa: E402
from onmt_moe.glycan.wurcs_tokenizer import detokenize, tokenize, tokenize_line  # noqa: E402
from tests.test_glycan_evaluate import LACNAC, A, B, C, D, E  # noqa: E402

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "glycan")
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
BRIDGE = "WURCS=2.0/1,2,1/[a1122h-1a_1-5]/1-1/a6-b1*OPO*/3O/3=O"
FLOATING = (
    "WURCS=2.0/4,5,4/[a2122h-1x_1-5_2*NCC/3=O][a1122h-1b_1-5][a1122h-1a_1-5]"
    "[Aad21122h-2a_2-6_5*NCC/3=O]/1-1-2-3-4/a4-b1_b4-c1_c?-d1_e2-a?|b?|c?|d?}"
)


def _lines(name):
    with open(os.path.join(FIX, name)) as fh:
        return [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]


def relabel(s: str, rng: random.Random) -> str:
    """The same structure written with the RES list permuted (letters in LIN rewritten) and the
    LIN list shuffled. RES ``a`` stays first: glypy reads the first RES as the root."""
    m = re.match(r"^(WURCS=2\.0)/([^/]*)/((?:\[[^\]]*\])*)/([^/]*)/?(.*)$", s)
    head, counts, codes, res, lin = m.groups()
    res = res.split("-")
    rest = list(range(1, len(res)))
    rng.shuffle(rest)
    perm = [0] + rest  # new position of old residue i
    new_res = [None] * len(res)
    for old, new in enumerate(perm):
        new_res[new] = res[old]
    out = []
    for glin in lin.split("_") if lin else []:
        core, star, mp = glin.partition("*")
        core = re.sub(r"[a-zA-Z](?=[\d?])", lambda x: LETTERS[perm[LETTERS.index(x.group(0))]], core)
        out.append(core + star + mp)
    rng.shuffle(out)
    tail = "/" + "_".join(out) if lin or s.endswith("/") else ""
    return f"{head}/{counts}/{codes}/{'-'.join(new_res)}{tail}"


def test_known_pairs_like_glypy():
    a, b, c, d, e = (W.parse(x) for x in (A, B, C, D, E))
    assert W.same_structure(a, b) and W.same_structure(a, c)
    assert not W.same_structure(a, d) and W.same_topology(a, d)  # only linkage positions differ
    assert not W.same_structure(a, e) and not W.same_topology(a, e)  # anomer is part of the residue
    assert not W.same_structure(a, W.parse(LACNAC))
    plain = W.parse("WURCS=2.0/1,2,1/[a1122h-1a_1-5]/1-1/a6-b1")
    assert not W.same_structure(plain, W.parse(BRIDGE))  # the phosphodiester bridge counts
    for bad, why in [
        ("CCO", "not a WURCS"),
        ("WURCS=2.0/2,2,1/[a2122h-1x_1-5]/1-2/a4-b1", "ResidueCodes"),
        ("WURCS=2.0/1,1,1/[a2122h-1x_1-5]/1/a4-z1", "residue reference"),
        ("WURCS=2.0/1,2,1/[a2122h-1x_1-5]/1-1/a4-b1_a6-b1", "linkages"),
    ]:
        with pytest.raises(W.WurcsParseError, match=why):
            W.parse(bad)


def test_unseen_glytoucan_strings_tokenize_and_score_against_themselves(tmp_path):
    ws = _lines("glytoucan_wurcs.txt")
    assert len(ws) >= 15
    for w in ws:
        assert detokenize(tokenize(w)) == w
    glypy_fails = [w for w in ws if parse_wurcs(w) is None]
    assert BRIDGE in glypy_fails and FLOATING in glypy_fails  # why the fallback exists
    tgt = tmp_path / "tgt.txt"
    tgt.write_text("".join(tokenize_line(w) + "\n" for w in ws))
    res = score_wurcs_files(str(tgt), str(tgt), 1, verbose=False)
    assert res["n_invalid_targets"] == 0 and res["n_scored"] == len(ws)
    assert res["n_wurcs_graph_targets"] == len(glypy_fails)
    assert res["topk"]["1"] == 1.0 and res["topology_topk"]["1"] == 1.0
    # a relabelled (RES/LIN order permuted) spelling still matches; a different structure does not
    rng = random.Random(0)
    pred = tmp_path / "pred.txt"
    pred.write_text("".join(tokenize_line(relabel(w, rng)) + "\n" + tokenize_line(LACNAC) + "\n" for w in ws))
    res = score_wurcs_files(str(pred), str(tgt), 2, verbose=False)
    lacnac_rows = sum(W.same_structure(W.parse(w), W.parse(LACNAC)) for w in ws)
    assert res["n_correct"]["1"] == len(ws) - lacnac_rows >= len(ws) - 1


def test_relabelling_property_and_agreement_with_glypy():
    """On the committed dataset sample: a permuted spelling is the same WURCS graph (glypy is not
    asked: it reads a non-canonical RES order as another tree), a shuffled LIN list is the same for
    both, and a one-digit linkage change is judged the same way by both."""
    ws = _lines("wurcs_sample.txt")[:120]
    rng = random.Random(1)
    n_changed = 0
    for w in ws:
        r = relabel(w, rng)
        assert W.same_structure(W.parse(w), W.parse(r)), (w, r)
        head, lin = w.rsplit("/", 1)
        shuffled = head + "/" + "_".join(rng.sample(lin.split("_"), len(lin.split("_"))))
        assert parse_wurcs(w) == parse_wurcs(shuffled), (w, shuffled)
        m = list(re.finditer(r"(?<=[a-zA-Z])[2-6](?=[-_]|$)", w.split("/")[-1]))
        if not m:
            continue
        lin_start = len(w) - len(w.split("/")[-1])
        j = lin_start + m[0].start()
        v = w[:j] + ("3" if w[j] != "3" else "4") + w[j + 1 :]
        gv = parse_wurcs(v)
        if gv is None or W.try_parse(v) is None:
            continue
        assert W.same_structure(W.parse(w), W.parse(v)) == (parse_wurcs(w) == gv), (w, v)
        n_changed += not W.same_structure(W.parse(w), W.parse(v))
    assert n_changed > 50


def _mz(w, z=1):
    return (parse_wurcs(w).mass() - z * 1.007276) / z


def test_precursor_mass_reranking(tmp_path):
    src = tmp_path / "src.txt"
    src.write_text(
        f"<MS> PMZ_{int(_mz(A))} CHARGE_-1 MZ_100 INT_3 </MS>\n<MS> PMZ_{int(_mz(LACNAC))} CHARGE_-1 </MS>\n"
    )
    tgt = tmp_path / "tgt.txt"
    tgt.write_text(tokenize_line(A) + "\n" + tokenize_line(LACNAC) + "\n")
    pred = tmp_path / "pred.txt"  # row 1: wrong mass first; row 2: right mass but wrong structure
    pred.write_text(
        "\n".join(
            [
                tokenize_line(LACNAC),
                tokenize_line(B),
                "garbage",
                tokenize_line(A),
                tokenize_line(E),
                tokenize_line(LACNAC),
            ]
        )
        + "\n"
    )
    res = score_wurcs_files(str(pred), str(tgt), 3, src_path=str(src), verbose=False)
    assert res["topk"] == {"1": 0.0, "2": 0.5, "3": 1.0}
    # row 1: B is the only candidate in the precursor bin -> first; row 2: LacNAc moves before A, E
    assert res["mass_reranked_topk"] == {"1": 1.0, "2": 1.0, "3": 1.0}
    assert res["mass_rerank"]["mz_bin"] == 1.0
    res2 = score_wurcs_files(str(pred), str(tgt), 3, verbose=False)
    assert "mass_reranked_topk" not in res2
    (tmp_path / "bad.txt").write_text("<MS> PMZ_1 </MS>\n")
    with pytest.raises(ScoringError, match="bad.txt"):
        score_wurcs_files(str(pred), str(tgt), 3, src_path=str(tmp_path / "bad.txt"), verbose=False)
