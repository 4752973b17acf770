"""Is a predicted structure one the expert annotation admits?  And CandyCrunch's F1.

Annotations use glycowork's IUPAC-condensed with ambiguity: alternative positions
(``a2-3/6``), unknown ones (``?``), floating residues (``{…}``).  glycowork's ``compare_glycans``
is wildcard-tolerant on *both* sides (checked: ``Gal(b1-3/4)GlcNAc`` = ``Gal(b1-4)GlcNAc``,
≠ ``Gal(b1-6)GlcNAc``), so alone it would also accept a *prediction* that does not commit to a
linkage.  ``admits(annotation, prediction)``: every concrete structure the prediction stands for
(its ``?`` and ``x/y`` linkage options expanded, ``expansions``) must compare equal to one of
the structures the annotation stands for (glycowork ``get_possible_topologies`` when it has
floating residues, else the annotation itself, wildcards kept).  A concrete prediction is thus
right iff it is one of the structures the annotation allows; nothing is skipped.

``similarity``: CandyCrunch's partial credit (tests/test_CandyCrunch.py): 1 when
``compare_glycans``, else glycowork ``get_glycan_similarity``; the best over the topologies of a
floating-residue annotation.  ``candycrunch_f1``: their TP / FP / FN bookkeeping.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

_LINK = re.compile(r"\(([ab?])(\d|\?)-([0-9/?]+)\)")
ANOMERS, DONOR_POS, ACCEPTOR_POS = ("a", "b"), ("1", "2"), tuple(str(i) for i in range(1, 10))


def wurcs_to_iupac(wurcs: str) -> str | None:
    """glycowork IUPAC-condensed of a WURCS string (None when glycowork cannot read it)."""
    from glycowork.motif.processing import canonicalize_iupac

    try:
        return canonicalize_iupac(wurcs)
    except Exception:  # noqa: BLE001 - glycowork raises many kinds on unreadable input
        return None


def is_concrete(iupac: str) -> bool:
    return "?" not in iupac and "/" not in iupac and "{" not in iupac


def expansions(iupac: str, cap: int = 512) -> list[str] | None:
    """The concrete spellings of ``iupac`` (each ``?`` / ``x/y`` linkage option), None above ``cap``."""
    parts = _LINK.split(iupac)
    # split -> [text, anomer, donor, acceptor, text, anomer, …]
    options = []
    for k in range(1, len(parts), 4):
        an, dp, ap = parts[k], parts[k + 1], parts[k + 2]
        options.append(
            [
                f"({a}{d}-{p})"
                for a in (ANOMERS if an == "?" else (an,))
                for d in (DONOR_POS if dp == "?" else (dp,))
                for p in (ACCEPTOR_POS if ap == "?" else tuple(ap.split("/")))
            ]
        )
    n = 1
    for o in options:
        n *= len(o)
        if n > cap:
            return None
    texts = parts[0::4]
    return (
        ["".join(t + (c[i] if i < len(c) else "") for i, t in enumerate(texts)) for c in itertools.product(*options)]
        if options
        else [iupac]
    )


@lru_cache(maxsize=4096)
def _annotation_forms(annotation: str, cap: int = 256) -> tuple[str, ...]:
    """The annotation, or every placement of its floating residues.  glycowork's
    ``get_possible_topologies`` places one ``{…}`` residue per call, so it is applied until none is left."""
    if "{" not in annotation:
        return (annotation,)
    from glycowork.motif.graph import get_possible_topologies, graph_to_string

    done, todo = [], [annotation]
    while todo and len(done) + len(todo) <= cap:
        g = todo.pop()
        try:
            placed = {graph_to_string(t) for t in get_possible_topologies(g, exhaustive=True)}
        except Exception:  # noqa: BLE001
            placed = set()
        if not placed:
            done.append(g)
        for t in placed:
            (todo if "{" in t else done).append(t)
    return tuple(dict.fromkeys(done + todo))


def _same(a: str, b: str) -> bool:
    from glycowork.motif.graph import compare_glycans

    try:
        return bool(compare_glycans(a, b))
    except Exception:  # noqa: BLE001 - unparsable strings are simply not the same structure
        return False


@lru_cache(maxsize=65536)
def admits(annotation: str, prediction: str) -> bool:
    """Is every structure ``prediction`` stands for one that ``annotation`` allows? (module doc)"""
    if not annotation or not prediction or "{" in prediction:
        return False
    concrete = expansions(prediction)
    if concrete is None:  # too unspecific to be one structure
        return False
    forms = _annotation_forms(annotation)
    return all(any(_same(f, c) for f in forms) for c in concrete)


@lru_cache(maxsize=65536)
def similarity(annotation: str, prediction: str) -> float:
    """CandyCrunch's partial credit in [0, 1] (module doc); 0 for an unreadable prediction."""
    from glycowork.motif.annotate import get_glycan_similarity

    best = 0.0
    for f in _annotation_forms(annotation):
        if _same(f, prediction):
            return 1.0
        try:
            best = max(best, float(get_glycan_similarity(f, prediction)))
        except Exception:  # noqa: BLE001
            pass
    return best


def candycrunch_f1(
    gold: Sequence[str | None],
    pred: Sequence[str | None],
    n_unmatched_predictions: int = 0,
    sims: Sequence[float] | None = None,
) -> dict:
    """F1 over annotations, CandyCrunch's bookkeeping.  ``gold[i]`` None: an unassigned peak;
    ``pred[i]`` None: no prediction for annotation i; ``n_unmatched_predictions``: predictions
    matching no annotation (false positives); ``sims``: precomputed similarity per annotation."""
    tp = fn = 0.0
    unevaluable = 0
    for i, (g, p) in enumerate(zip(gold, pred)):
        if g is None:
            if p is None:
                fn += 1
            else:
                unevaluable += 1
            continue
        s = (sims[i] if sims is not None else similarity(g, p)) if p is not None else 0.0
        tp += s
        fn += 1.0 - s
    tp += 0.5 * unevaluable
    fp = float(n_unmatched_predictions)
    precision = tp / (tp + fp + 1e-8)
    recall = tp / (tp + fn + 1e-8)
    return {
        "f1": 2 * precision * recall / (precision + recall + 1e-8),
        "precision": precision,
        "recall": recall,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "unevaluable": unevaluable,
    }
