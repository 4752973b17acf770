"""Score structure predictions on real annotated LC-MS/MS, side by side with baselines.

Steps (benchmark/evaluate_real_glycan.py is the command):
1. read the spectra (spectra_io; charge/composition with the class list as prior) and the
   annotations (annotations.read_annotations), match them as CandyCrunch's tests do
   (annotations.match: 0.5 m/z, 1 min);
2. with a model (``StructureModel``; a run's checkpoint is driven by onmt_moe.runs.glycan_real_model,
   through OpenNMT's inference engine, what onmt_translate runs): decode every matched spectrum,
   source tokens written with the corpus' own settings except the mass tolerances and the reducing
   end, which are the instrument's
   (ion-trap defaults, masses.py); TEXT, when the corpus has it, is the glycan class
   ("n-linked glycan"), which CandyCrunch is given too;
3. per annotation: exact top-1 / top-k (identity.admits: the prediction is one of the structures
   the annotation allows), CandyCrunch's similarity of the top-1, and the two baselines
   (baselines.chance) on the same spectra: a random isomer of the true composition, and of the
   composition inferred from the precursor alone; the model's n-best is also scored after
   precursor-mass re-ranking (charge.mass_reranked: candidates whose reduced [M-zH]z- fits the
   observed m/z at some z = 1-3 first, beam order kept), which uses nothing but the spectrum;
4. with a model, closed-set identification as well (``library_ranked``): the class list's isomers of
   the composition inferred from the precursor — the pool the composition-only baseline draws from
   at random — ranked by the model's own log-likelihood of each (teacher-forced, as
   ``onmt_translate -tgt -with_score``), which is the setting of classifiers such as CandyCrunch.
Denominators: every annotation with a structure (unmatched ones are wrong for every method,
since no method gets a spectrum for them); ``*_matched`` rates use the matched ones only.
F1: CandyCrunch's bookkeeping over all annotations (unassigned peaks included); predictions are
made only for matched spectra, so there are no false positives and precision is 1 by construction
— this F1 is therefore not the number CandyCrunch reports on whole files (which counts its
predictions for unannotated peaks as false positives).

This module never imports torch or OpenNMT: the model comes in as a ``StructureModel``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import Protocol

from . import classlist
from .annotations import AnnotationError, match, read_annotations
from .baselines import chance
from .charge import mass_reranked
from .identity import admits, candycrunch_f1, similarity, wurcs_to_iupac
from .masses import ION_TRAP_FRAGMENT_TOL, ION_TRAP_PRECURSOR_TOL, MATCH_MZ_TOL, MATCH_RT_TOL
from .spectra_io import read_spectra

CLASS_TEXT = {"N": "N", "O": "O", "free": "free", "lipid": "lipid"}


@dataclass
class Options:
    reducing_end: str = "reduced"
    precursor_tol: float = ION_TRAP_PRECURSOR_TOL
    fragment_tol: float = ION_TRAP_FRAGMENT_TOL
    mz_tol: float = MATCH_MZ_TOL
    rt_tol: float = MATCH_RT_TOL
    n_best: int = 5
    beam_size: int = 5
    max_length: int = 250
    max_residues: int = 14
    sim_samples: int = 10
    seed: int = 0
    library_max: int = 200  # candidates scored per spectrum in the closed-set ranking (0 = no ranking)


# log P(candidate | source) of each candidate: (source tokens, [candidate tokens, …]) -> scores
Scorer = Callable[[list[str], list[list[str]]], Sequence[float]]


class StructureModel(Protocol):
    """What the scoring needs of a trained spectrum -> WURCS model (``onmt_moe.runs.glycan_real_model``
    drives a run's checkpoint). Each method is called once per :func:`evaluate`, in this order."""

    name: str  # recorded as ``run`` in the results

    def corpus_tokens(self) -> tuple[dict, bool]:
        """(the corpus' spectrum-token settings, ``SpecTokConfig`` fields; whether it has the TEXT segment)."""
        ...

    def decode(self, lines: list[str], n_best: int, beam_size: int, max_length: int) -> list[list[tuple[str, float]]]:
        """Beam search: per source line its n-best (target tokens, score)."""
        ...

    def scorer(self) -> Scorer:
        """Teacher-forced scoring of given candidates (the model loaded once)."""
        ...


def _composition(glycan: str) -> dict[str, int] | None:
    from glycowork.motif.tokenization import glycan_to_composition

    try:
        return {k: int(v) for k, v in glycan_to_composition(glycan).items() if v}
    except Exception:  # noqa: BLE001
        return None


def source_lines(rows: list[dict], glycan_class: str, opts: Options, corpus_tokens: dict, with_text: bool) -> list[str]:
    """The model's source line for each spectrum row (module doc, step 2): ``corpus_tokens`` are the
    corpus' spectrum-token settings, ``with_text`` whether its sources have the TEXT segment."""
    from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens
    from onmt_moe.glycan.text import describe, text_tokens

    known = set(SpecTokConfig.__dataclass_fields__)
    base = {k: v for k, v in corpus_tokens.items() if k in known}
    text = text_tokens(describe(CLASS_TEXT.get(glycan_class)))
    lines = []
    for r in rows:
        z = abs(int(r["charge"]))
        tok = SpecTokConfig(
            **{
                **base,
                "loss_tol": opts.fragment_tol,
                "diag_tol": opts.fragment_tol,
                "comp_tol": opts.precursor_tol * z,
                "reducing_end": opts.reducing_end,
            }
        )
        lines.append(
            " ".join(source_tokens(r["precursor_mz"], r["charge"], r["peaks"], text, tok, with_text=with_text))
        )
    return lines


def decode(model: StructureModel, lines: list[str], opts: Options) -> list[list[str | None]]:
    """n-best IUPAC per line (None where a candidate is not a structure glycowork reads)."""
    from onmt_moe.glycan.wurcs_tokenizer import detokenize

    nbest = model.decode(lines, opts.n_best, opts.beam_size, opts.max_length)
    return [[wurcs_to_iupac(detokenize(toks)) for toks, _ in cands] for cands in nbest]


@cache
def _library_tokens(iupac: str) -> tuple | None:
    """A class-list glycan as the model's target tokens (the dataset's strict conversion), or None
    where there is no verified WURCS (alternative linkages, floating residues, …)."""
    from onmt_moe.glycan.dataset import iupac_to_wurcs
    from onmt_moe.glycan.wurcs_tokenizer import tokenize

    try:
        return tuple(tokenize(iupac_to_wurcs(iupac)[0]))
    except Exception:  # noqa: BLE001 - ConversionError, and glycowork / glypy raise many kinds
        return None


def library_ranked(score: Scorer, lines: list[str], pools: list[list[str]], opts: Options) -> list[dict]:
    """Per spectrum ``{"ranked": [IUPAC, …] best first, "pool": n isomers, "scored": n with a WURCS}``:
    the pool's convertible candidates (at most ``opts.library_max``, class-list order) ranked by
    ``score``, the model's log P(candidate | source line)."""
    out = []
    for line, pool in zip(lines, pools):
        cands = [(g, t) for g in pool[: opts.library_max] if (t := _library_tokens(g)) is not None]
        if not cands:
            out.append({"ranked": [], "pool": len(pool), "scored": 0})
            continue
        ll = score(line.split(), [list(t) for _, t in cands])
        order = sorted(range(len(cands)), key=lambda i: -ll[i])
        out.append({"ranked": [cands[i][0] for i in order], "pool": len(pool), "scored": len(cands)})
    return out


def read_candycrunch(path: str) -> list[tuple]:
    """scripts/run_candycrunch.py output -> [(m/z, RT, |charge|, [IUPAC, …])]."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [
            (float(r["mz"]), float(r["RT"]), abs(int(float(r["charge"]))) or 1, json.loads(r["predictions"]))
            for r in rows
        ]
    except (OSError, KeyError, ValueError) as e:
        raise AnnotationError(f"{path}: not a run_candycrunch.py predictions csv ({type(e).__name__}: {e})") from None


def _rank(annotation: str, cands: list[str | None]) -> int:
    for i, c in enumerate(cands):
        if c and admits(annotation, c):
            return i
    return -1


def evaluate(
    spectra: str,
    annotations: str,
    glycan_class: str,
    model: StructureModel | None = None,
    opts: Options | None = None,
    out_dir: str | None = None,
    log=print,
    candycrunch: str | None = None,
) -> dict:
    """``model``: the structure model to score (None: the baselines only; its ``name`` is recorded as
    ``run``). ``candycrunch``: predictions of CandyCrunch on the same file (scripts/run_candycrunch.py),
    matched to the annotations by the same rule and scored the same way; its F1 counts its
    predictions for unannotated peaks as false positives, as CandyCrunch's tests do."""
    opts = opts or Options()
    anns = read_annotations(annotations, spectra)  # a bad csv fails before anything slow
    cc = read_candycrunch(candycrunch) if candycrunch else None
    cc_pairs = dict(match(anns, [c[:3] for c in cc], opts.mz_tol, opts.rt_tol)) if cc else {}
    cl = classlist.load(glycan_class)
    read = read_spectra(spectra, opts.reducing_end, opts.precursor_tol, opts.max_residues, glycan_class, cl.known)
    pairs = dict(match(anns, [(r["precursor_mz"], r["rt"], -r["charge"]) for r in read.rows], opts.mz_tol, opts.rt_tol))
    log(
        f"{spectra}: {len(read.rows)} spectra ({len(read.rejects)} rejected); {annotations}: {len(anns)} "
        f"annotations, {len(pairs)} matched"
    )
    preds: dict[int, list[str | None]] = {}
    library: dict[int, dict] = {}
    if model is not None:
        preds, library = _model_predictions(model, read.rows, pairs, glycan_class, cl, opts)
    per = []
    for i, a in enumerate(anns):
        j = pairs.get(i)
        row = read.rows[j] if j is not None else None
        rec = _baseline_record(a, row, cl, opts)
        if model is not None and row:
            rec.update(_model_fields(a.glycan, preds[i], row, opts))
        if library and row:
            rec.update(_library_fields(a.glycan, library[i], opts))
        if cc is not None:
            rec.update(_candycrunch_fields(a.glycan, cc_pairs.get(i), cc))
        per.append(rec)
    res = summarise(
        per,
        opts,
        model is not None,
        candycrunch_fp=len(cc) - len(cc_pairs) if cc is not None else None,
        library=bool(library),
    )
    res.update(
        spectra=spectra,
        annotations=annotations,
        glycan_class=glycan_class,
        run=model.name if model is not None else None,
        n_spectra=len(read.rows),
        n_spectra_rejected=len(read.rejects),
        options=asdict(opts),
    )
    if out_dir:
        write(out_dir, res, per)
    return res


def _model_predictions(
    model: StructureModel, spectra: list[dict], pairs: dict[int, int], glycan_class: str, cl, opts: Options
) -> tuple[dict[int, list[str | None]], dict[int, dict]]:
    """Per matched annotation (``pairs``: annotation -> spectrum): the model's n-best, and (with
    ``opts.library_max``) its ranking of the class list's isomers of the composition inferred from the
    precursor ({} without)."""
    matched = sorted(pairs)
    rows = [spectra[pairs[i]] for i in matched]
    lines = source_lines(rows, glycan_class, opts, *model.corpus_tokens())
    preds = dict(zip(matched, decode(model, lines, opts)))
    library: dict[int, dict] = {}
    if opts.library_max:
        pools = [cl.isomers(json.loads(r["composition"]) or {}) for r in rows]
        library = dict(zip(matched, library_ranked(model.scorer(), lines, pools, opts)))
    return preds, library


def _baseline_record(a, row: dict | None, cl, opts: Options) -> dict:
    """An annotation's record: its matched spectrum (if any), the true and inferred compositions and,
    when both a structure and a spectrum exist, the two chance baselines."""
    rec = {
        "row": a.row,
        "mass": a.mass,
        "rt": a.rt,
        "glycan": a.glycan or "",
        "matched": row is not None,
        "spectrum_row": row["source_row"] if row else "",
        "spectrum_mz": row["precursor_mz"] if row else "",
        "spectrum_rt": row["rt"] if row else "",
        "charge": row["charge"] if row else "",
    }
    true_comp = _composition(a.glycan) if a.glycan else None
    inferred = json.loads(row["composition"]) if row else None
    rec["composition_true"] = json.dumps(true_comp, sort_keys=True) if true_comp else ""
    rec["composition_inferred"] = json.dumps(inferred, sort_keys=True) if inferred else ""
    rec["composition_right"] = bool(true_comp and inferred == true_comp)
    if a.glycan and row:
        for name, comp in (("chance", true_comp), ("composition_only", inferred)):
            c = chance(a.glycan, cl.isomers(comp) if comp else [], (1, opts.n_best), opts.sim_samples, opts.seed)
            rec.update(
                {
                    f"{name}_top1": c["top1"],
                    f"{name}_top{opts.n_best}": c[f"top{opts.n_best}"],
                    f"{name}_similarity": c["similarity"],
                    f"{name}_pool": int(c["pool"]),
                }
            )
    return rec


def _model_fields(glycan: str | None, cands: list[str | None], row: dict, opts: Options) -> dict:
    """The model's top-1, rank and similarity, as decoded and after precursor-mass re-ranking."""
    rec = {}
    rec["model_top1"] = cands[0] or "" if cands else ""
    rec["model_rank"] = _rank(glycan, cands) if glycan else ""
    rec["model_similarity"] = similarity(glycan, cands[0]) if glycan and cands and cands[0] else 0.0
    # the same n-best, precursor-consistent candidates (reduced end, z = 1-3) first
    rr = mass_reranked(cands, row["precursor_mz"], opts.reducing_end, opts.precursor_tol)
    rec["model_reranked_top1"] = rr[0] or "" if rr else ""
    rec["model_reranked_rank"] = _rank(glycan, rr) if glycan else ""
    rec["model_reranked_similarity"] = similarity(glycan, rr[0]) if glycan and rr and rr[0] else 0.0
    return rec


def _library_fields(glycan: str | None, lib: dict, opts: Options) -> dict:
    """The model's closed-set ranking of the isomer pool, and a random pick among the same candidates."""
    ranked = lib["ranked"]
    rec = {"model_library_pool": lib["pool"], "model_library_scored": lib["scored"]}
    rec["model_library_top1"] = ranked[0] if ranked else ""
    rec["model_library_rank"] = _rank(glycan, ranked) if glycan else ""
    rec["model_library_similarity"] = similarity(glycan, ranked[0]) if glycan and ranked else 0.0
    if glycan:
        # the fair baseline of the ranking: a random pick among the same scored candidates
        # (the composition-only pool also holds isomers with no verified WURCS, never scored)
        c = chance(glycan, ranked, (1, opts.n_best), opts.sim_samples, opts.seed)
        rec.update(
            {
                "library_chance_top1": c["top1"],
                f"library_chance_top{opts.n_best}": c[f"top{opts.n_best}"],
                "library_chance_similarity": c["similarity"],
            }
        )
    return rec


def _candycrunch_fields(glycan: str | None, k: int | None, cc: list[tuple]) -> dict:
    """CandyCrunch's prediction for the annotation (``k``: its matched prediction, None if none)."""
    cands = cc[k][3] if k is not None else []
    return {
        "candycrunch_matched": k is not None,
        "candycrunch_top1": cands[0] if cands else "",
        "candycrunch_rank": _rank(glycan, cands) if glycan else "",
        "candycrunch_similarity": similarity(glycan, cands[0]) if glycan and cands else 0.0,
    }


def _mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def summarise(
    per: list[dict], opts: Options, with_model: bool, candycrunch_fp: int | None = None, library: bool = False
) -> dict:
    k = opts.n_best
    gold = [r for r in per if r["glycan"]]
    m = [r for r in gold if r["matched"]]
    res = {
        "n_annotations": len(per),
        "n_with_structure": len(gold),
        "n_matched": sum(r["matched"] for r in per),
        "n_matched_with_structure": len(m),
        "composition_inferred_right": _mean(r["composition_right"] for r in m),
    }
    methods = (
        ["chance", "composition_only"]
        + (["model", "model_reranked"] if with_model else [])
        + (["model_library", "library_chance"] if library else [])
        + (["candycrunch"] if candycrunch_fp is not None else [])
    )
    for name in methods:
        predicted = (lambda r: r["matched"]) if name != "candycrunch" else (lambda r: r["candycrunch_matched"])
        if name in ("model", "model_reranked", "model_library", "candycrunch"):
            mm = [r for r in gold if predicted(r)]
            t1 = [float(r[f"{name}_rank"] == 0) for r in mm]
            tk = [float(0 <= r[f"{name}_rank"] < k) for r in mm]
            sims = {id(r): r[f"{name}_similarity"] for r in mm}
        else:
            t1 = [r[f"{name}_top1"] for r in m]
            tk = [r[f"{name}_top{k}"] for r in m]
            sims = {id(r): r[f"{name}_similarity"] for r in m}
        n = len(gold) or 1
        f1 = candycrunch_f1(
            [r["glycan"] or None for r in per],
            ["x" if predicted(r) else None for r in per],
            n_unmatched_predictions=candycrunch_fp if name == "candycrunch" else 0,
            sims=[sims.get(id(r), 0.0) for r in per],
        )
        res[name] = {
            "top1": sum(t1) / n,
            f"top{k}": sum(tk) / n,
            "top1_matched": _mean(t1),
            f"top{k}_matched": _mean(tk),
            "f1": f1["f1"],
            "recall": f1["recall"],
            "precision": f1["precision"],
        }
    return res


def write(out_dir: str, res: dict, per: list[dict]) -> None:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "real_scores.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    cols = list(dict.fromkeys(k for r in per for k in r))
    with open(os.path.join(out_dir, "real_annotations.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(per)


def format_table(res: dict) -> str:
    k = res["options"]["n_best"]
    head = (
        f"{res['n_with_structure']} annotated structures, {res['n_matched_with_structure']} matched to a spectrum "
        f"({res['n_annotations']} annotation rows); composition from the precursor right for "
        f"{_pct(res['composition_inferred_right'])} of the matched"
    )
    lines = [head, f"{'method':<28}{'top-1':>8}{'top-' + str(k):>8}{'F1':>8}{'top-1 (matched)':>17}"]
    names = {
        "model": "ours (run)",
        "model_reranked": "ours, mass re-ranked",
        "model_library": "ours, library-ranked",
        "library_chance": "random scored isomer",
        "chance": "random isomer (true comp.)",
        "composition_only": "composition-only",
        "candycrunch": "CandyCrunch 0.6.3",
    }
    keys = ("model", "model_reranked", "model_library", "candycrunch", "library_chance", "chance", "composition_only")
    for key in keys:
        if key in res:
            r = res[key]
            lines.append(
                f"{names[key]:<28}{_pct(r['top1']):>8}{_pct(r[f'top{k}']):>8}{r['f1']:>8.3f}"
                f"{_pct(r['top1_matched']):>17}"
            )
    return "\n".join(lines)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"
