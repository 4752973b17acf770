"""n-best candidates -> checked, de-duplicated and re-ranked rows.

SMILES: RDKit canonical form and Hill formula (``scoring.Canonicaliser``), formula consistency
against the given formula (``scoring.parse_formula``) and, when an MS/MS precursor m/z is known,
precursor consistency ([M+H]+ or [M-H]- of the candidate's monoisotopic mass within ``tol`` Da).
Re-ranked list: valid and consistent first (the formula when one is given, else the precursor),
then valid, then invalid; beam order (log-probability) within each group; later duplicates of a
canonical SMILES are not ranked again.

WURCS: glypy parse (``glycan.evaluate.parse_wurcs``) or the WURCS graph (``wurcs_graph``);
duplicates by graph identity (``evaluate.same_structure`` / ``wurcs_graph.same_structure``);
precursor-mass consistency as in ``evaluate``'s re-ranking: [M-zH]z- falls in the same m/z
bin as the measured precursor (bin width = the corpus' ``mz_bin``) — valid and mass-consistent
first, then valid, then invalid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from onmt_moe.evaluation.scoring import Canonicaliser, parse_formula
from onmt_moe.masses import PROTON

COLUMNS_SMILES = [
    "sample",
    "rank",
    "beam_rank",
    "smiles",
    "log_prob",
    "valid",
    "formula",
    "formula_match",
    "precursor_match",
    "duplicate_of",
    "sim_c",  # cosine of the candidate's simulated 13C / 1H NMR with the input (predict.forward_rank)
    "sim_h",
]
COLUMNS_WURCS = ["sample", "rank", "beam_rank", "wurcs", "log_prob", "valid", "mass", "mass_match", "duplicate_of"]


def _rerank(rows: list[dict], consistent_key: str, has_reference: bool) -> None:
    """Fill ``rank`` (1-based) in place: valid+consistent, valid, invalid; duplicates unranked.
    Without a reference (no formula / no precursor) every valid candidate is in the first group."""

    def group(r):
        if not r["valid"]:
            return 2
        return 0 if r[consistent_key] is True or not has_reference else 1

    ranked = sorted((r for r in rows if r["duplicate_of"] == ""), key=lambda r: (group(r), r["beam_rank"]))
    for i, r in enumerate(ranked, start=1):
        r["rank"] = i
    for r in rows:
        r.setdefault("rank", "")


def monoisotopic_mass(counts) -> float:
    """Monoisotopic mass of a formula (Counter of elements; a 'charge' key is ignored), RDKit masses."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    return sum(n * table.GetMostCommonIsotopeMass(el) for el, n in counts.items() if el != "charge")


def precursor_consistent(formula: str | None, precursor: tuple[float, str] | None, tol: float):
    """Is [M+H]+ / [M-H]- of ``formula`` within ``tol`` Da of the precursor (m/z, ion mode)? None if unknown."""
    counts = parse_formula(formula) if formula else None
    if counts is None or precursor is None or not precursor[0]:
        return None
    mz, mode = precursor
    ion = monoisotopic_mass(counts) + (PROTON if mode == "positive" else -PROTON)
    return abs(ion - mz) <= tol


def rank_smiles(
    sample: str,
    nbest: Sequence[tuple[str, float]],
    formula: str | None,
    canon: Canonicaliser | None = None,
    precursor: tuple[float, str] | None = None,
    tol: float = 0.02,
) -> list[dict]:
    """``precursor``: (m/z, 'positive'|'negative') of the MS/MS precursor, if known."""
    canon = canon or Canonicaliser()
    want = parse_formula(formula) if formula else None
    rows, first = [], {}
    for k, (tokens, logp) in enumerate(nbest, start=1):
        raw = "".join(tokens.split())
        can, f = canon.lookup(raw)
        dup = first.get(can, "") if can is not None else ""
        if can is not None and can not in first:
            first[can] = k
        match = None if want is None or can is None else parse_formula(f or "") == want
        rows.append(
            {
                "sample": sample,
                "beam_rank": k,
                "smiles": can or raw,
                "log_prob": round(logp, 4),
                "valid": can is not None,
                "formula": f or "",
                "formula_match": match,
                "precursor_match": precursor_consistent(f, precursor, tol),
                "duplicate_of": dup,
            }
        )
    if want is not None or precursor is None:
        _rerank(rows, "formula_match", want is not None)
    else:
        _rerank(rows, "precursor_match", True)
    return sorted(rows, key=_order)


def _order(r: dict):
    return (r["rank"] == "", r["rank"] if r["rank"] != "" else r["beam_rank"])


def precursor_bin_match(mass: float | None, precursor_mz: float | None, charge: int, mz_bin: float) -> bool | None:
    """Does a glycan of neutral ``mass``, deprotonated z times, fall in the precursor's m/z bin?"""
    if mass is None or not precursor_mz:
        return None
    return math.floor((mass - charge * PROTON) / charge / mz_bin) == math.floor(precursor_mz / mz_bin)


def rank_wurcs(
    sample: str, nbest: Sequence[tuple[str, float]], precursor_mz: float | None, charge: int, mz_bin: float
) -> list[dict]:
    from onmt_moe.glycan import wurcs_graph
    from onmt_moe.glycan.evaluate import parse_wurcs, same_structure
    from onmt_moe.glycan.wurcs_tokenizer import detokenize

    rows, kept = [], []  # kept: (beam_rank, glypy glycan, wurcs graph) of the first of each structure
    for k, (tokens, logp) in enumerate(nbest, start=1):
        w = detokenize(tokens)
        g, wg = parse_wurcs(w), wurcs_graph.try_parse(w)
        dup = ""
        if g is not None or wg is not None:
            for k0, g0, wg0 in kept:
                same_graph = wg is not None and wg0 is not None and wurcs_graph.same_structure(wg, wg0)
                if same_structure(g, g0) or same_graph:
                    dup = k0
                    break
            if dup == "":
                kept.append((k, g, wg))
        try:
            mass = g.mass() if g is not None else None
        except Exception:  # noqa: BLE001 - glypy cannot weigh some residues
            mass = None
        rows.append(
            {
                "sample": sample,
                "beam_rank": k,
                "wurcs": w,
                "log_prob": round(logp, 4),
                "valid": g is not None or wg is not None,
                "mass": "" if mass is None else round(mass, 4),
                "mass_match": precursor_bin_match(mass, precursor_mz, charge, mz_bin),
                "duplicate_of": dup,
            }
        )
    _rerank(rows, "mass_match", bool(precursor_mz))
    return sorted(rows, key=_order)
