"""A trained SMILES model scored on *measured* NMR spectra (``make bench-real``).

Input: a TSV of measured spectra with known structures, in the layout of the real-NMR set
(``id, smiles, formula, heavy_atoms, h_nmr, c_nmr, h_shifts_nomult``; ``h_nmr`` literature style
with multiplicities, ``h_shifts_nomult`` ``shift (nH)`` pairs, ``c_nmr`` comma-separated ppm).
Every row is fed to ``onmt_moe_predict --batch`` exactly as a chemist would type it (the
predictor's readers and formatter, nothing of this module), once per input condition:

* ``c``  — ¹³C + formula;
* ``hc`` — ¹H + ¹³C + formula (``h_nmr`` where given, else the shift list without multiplicities);
* ``sim`` — the same molecules' ¹H + ¹³C from the project's own simulator (the fast estimate with its
  noise, as the training corpora have them), written in the same literature style
  (:func:`simulated_rows`) and typed in the same way: the distance between ``sim`` and ``hc`` is the
  distance between the simulator and the lab, on the same molecules.

The n-best is scored three ways: ``beam`` (the model's order), ``formula`` (valid,
formula-consistent candidates first: ``predict.rank``) and ``simulate`` (within those groups,
the forward-simulation score of ``predict.forward_rank``, with weights fitted on the ``val`` part
of the file, never on ``test``). Rows are split by a hash of their id (:func:`split_of`), so the
parts are the same on every machine and for every model. Results go to ``real_spectra.csv`` /
``.md``: top-1/5/10, the share of samples with a formula-consistent candidate, by heavy-atom bin
(≤ 14, 15–22, 23–30) and input.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from onmt_moe.evaluation.scoring import Canonicaliser
from onmt_moe.predict import forward_rank as fr

CONDITIONS = ("c", "hc", "sim")
DECODINGS = ("beam", "formula", "simulate")
BINS = ((0, 14, "<=14"), (15, 22, "15-22"), (23, 30, "23-30"))
SPLITS = (("finetune", 40), ("val", 10), ("test", 50))  # percent of rows, by id hash
COLUMNS = [
    "model",
    "split",
    "input",
    "heavy_atoms",
    "decoding",
    "n",
    "top1",
    "top5",
    "top10",
    "formula_candidate",
    "rejected",
]


class RealDataError(ValueError):
    """The measured-spectra file cannot be used: one line naming the file and row."""


@dataclass(frozen=True)
class Row:
    id: str
    smiles: str  # canonical
    formula: str
    heavy_atoms: int
    h_text: str  # what goes to --h_nmr ('' when the row has no 1H)
    c_text: str

    @property
    def bin(self) -> str:
        return next((name for lo, hi, name in BINS if lo <= self.heavy_atoms <= hi), ">30")


def split_of(row_id: str) -> str:
    """finetune / val / test by a stable hash of the id (40 / 10 / 50 %)."""
    bucket = int(hashlib.sha1(row_id.encode("utf-8")).hexdigest(), 16) % 100
    edge = 0
    for name, share in SPLITS:
        edge += share
        if bucket < edge:
            return name
    return SPLITS[-1][0]


def read_rows(path: str, rejects: list[tuple[str, str]]) -> list[Row]:
    """The usable rows; each unusable one goes to ``rejects`` as (id or line, reason)."""
    canon = Canonicaliser()
    need = ("id", "smiles", "formula", "heavy_atoms", "c_nmr")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            missing = [c for c in need if c not in (reader.fieldnames or [])]
            if missing:
                raise RealDataError(f"{path}: missing column(s) {', '.join(missing)}")
            out = []
            for row in reader:
                where = row.get("id") or f"line {reader.line_num}"
                can, _ = canon.lookup(row.get("smiles") or "")
                if can is None:
                    rejects.append((where, "the structure is not a valid SMILES"))
                    continue
                if not (row.get("c_nmr") or "").strip():
                    rejects.append((where, "no 13C shifts"))
                    continue
                try:
                    heavy = int(row["heavy_atoms"])
                except ValueError:
                    rejects.append((where, f"heavy_atoms {row['heavy_atoms']!r} is not a number"))
                    continue
                h = (row.get("h_nmr") or "").strip() or (row.get("h_shifts_nomult") or "").strip()
                out.append(Row(where, can, row["formula"].strip(), heavy, h, row["c_nmr"].strip()))
    except OSError as e:
        raise RealDataError(f"{path}: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise RealDataError(f"{path}: not UTF-8 text (byte {e.start})") from None
    return out


def batch_csv(rows: Sequence[Row], condition: str, path: str) -> list[Row]:
    """Write the --batch CSV of one input condition; returns the rows it holds."""
    kept = [r for r in rows if condition == "c" or r.h_text]
    with_h = condition in ("hc", "sim")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sample", "formula", "h_nmr", "c_nmr"])
        for r in kept:
            w.writerow([r.id, r.formula, r.h_text if with_h else "", r.c_text])
    return kept


def read_ranked(path: str) -> dict[str, list[dict]]:
    """The predictor's ranked CSV, rows grouped by sample (types restored)."""
    out: dict[str, list[dict]] = {}
    if not os.path.isfile(path):
        return out
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            r["beam_rank"] = int(r["beam_rank"])
            r["rank"] = int(r["rank"]) if r["rank"] else ""
            r["log_prob"] = float(r["log_prob"])
            r["valid"] = r["valid"] == "True"
            r["formula_match"] = {"True": True, "False": False}.get(r["formula_match"])
            out.setdefault(r["sample"], []).append(r)
    return out


def query_of(row: Row, condition: str) -> fr.Query:
    """The measured spectra as the forward re-ranker compares them (read by the predictor's readers)."""
    from onmt_moe.predict import readers as rd

    h_peaks = rd.read_h_nmr(row.h_text).peaks if condition in ("hc", "sim") and row.h_text else None
    return fr.query_from_peaks(rd.read_c_nmr(row.c_text).shifts, h_peaks)


def order(cands: list[dict], decoding: str, weights: fr.Weights | None) -> list[str]:
    """Distinct candidate SMILES in the order a decoding puts them."""
    if decoding == "beam":
        seq = sorted(cands, key=lambda r: r["beam_rank"])
        seen, out = set(), []
        for r in seq:
            if r["smiles"] not in seen:
                seen.add(r["smiles"])
                out.append(r["smiles"])
        return out
    ranked = fr.rerank([dict(r) for r in cands], weights) if decoding == "simulate" else cands
    return [r["smiles"] for r in sorted((r for r in ranked if r["rank"] != ""), key=lambda r: r["rank"])]


def hits(ordered: list[str], truth: str) -> dict[str, float]:
    pos = ordered.index(truth) + 1 if truth in ordered else None
    return {f"top{k}": float(pos is not None and pos <= k) for k in (1, 5, 10)}


def summarise(model: str, split: str, condition: str, samples, decoding: str, weights) -> list[dict]:
    """One result row per heavy-atom bin (and 'all') for a decoding; ``samples`` = [(Row, cands)]."""
    groups: dict[str, list[tuple[Row, list[dict]]]] = {"all": list(samples)}
    for s in samples:
        groups.setdefault(s[0].bin, []).append(s)
    rows = []
    for name in ["all"] + [b[2] for b in BINS]:
        members = groups.get(name, [])
        acc = {"top1": 0.0, "top5": 0.0, "top10": 0.0}
        with_formula = 0
        for row, cands in members:
            for k, v in hits(order(cands, decoding, weights), row.smiles).items():
                acc[k] += v
            with_formula += any(c["formula_match"] is True for c in cands)
        n = len(members)
        rows.append(
            {
                "model": model,
                "split": split,
                "input": condition,
                "heavy_atoms": name,
                "decoding": decoding,
                "n": n,
                **{k: round(v / n, 4) if n else "" for k, v in acc.items()},
                "formula_candidate": round(with_formula / n, 4) if n else "",
            }
        )
    return rows


def annotated(rows: Sequence[Row], ranked: dict[str, list[dict]], condition: str):
    """[(Row, candidates with sim_c/sim_h)] for the rows the predictor ranked."""
    out = []
    for r in rows:
        cands = ranked.get(r.id)
        if cands:
            fr.annotate(cands, query_of(r, condition))
            out.append((r, cands))
    return out


# --------------------------------------------------------------------------- the whole bench
def predict_batch(model: str, batch: str, out: str, n_best: int, beam_size: int, formula_beam: bool = False) -> None:
    """``onmt_moe_predict --batch`` in-process; rejected samples are listed by the predictor."""
    from onmt_moe.predict.cli import main as predict_main

    argv = ["--model", model, "--batch", batch, "--out", out, "--n_best", str(n_best)]
    argv += ["--beam_size", str(beam_size), "--quiet", *(["--formula_beam"] if formula_beam else [])]
    rc = predict_main(argv)
    if rc not in (0, 2):  # 2: some samples rejected (listed in <out stem>.rejects.tsv), the rest ranked
        raise RuntimeError(f"onmt_moe_predict exited with {rc} on {batch}")


def decoding_names(formula_beam: bool) -> list[str]:
    """The table's ``decoding`` labels: the orders of :func:`order`, after a formula-guided beam prefixed."""
    return [f"formula_beam+{d}" if formula_beam else d for d in DECODINGS]


def _condition(model, rows, condition, work, n_best, beam_size, name, formula_beam=False) -> list[dict]:
    batch = os.path.join(work, f"batch_{condition}.csv")
    kept = batch_csv(rows, condition, batch)
    ranked_path = os.path.join(work, f"ranked_{condition}{'_fbeam' if formula_beam else ''}.csv")
    predict_batch(model, batch, ranked_path, n_best, beam_size, formula_beam)
    samples = annotated(kept, read_ranked(ranked_path), condition)
    val = [(cands, r.smiles) for r, cands in samples if split_of(r.id) == "val"]
    weights, _ = fr.fit_weights(val, source=f"{os.path.basename(batch)} val part") if val else (fr.Weights(), 0.0)
    test = [s for s in samples if split_of(s[0].id) == "test"]
    n_rejected = len([r for r in kept if split_of(r.id) == "test"]) - len(test)
    out = []
    for decoding, label in zip(DECODINGS, decoding_names(formula_beam), strict=True):
        for res in summarise(name, "test", condition, test, decoding, weights):
            res["rejected"] = n_rejected if res["heavy_atoms"] == "all" else ""
            out.append(dict(res, decoding=label))
    return out


def run(
    model: str,
    data: str,
    out_dir: str,
    name: str,
    n_best: int = 10,
    beam_size: int = 10,
    limit=None,
    work=None,
    formula_beam: bool = False,
) -> dict:
    """Score ``model`` on ``data``; writes ``real_spectra.csv``/``.md`` and the rejects into ``out_dir``,
    the predictor's batch and ranked files into ``work`` (default ``<out_dir>/work_<name>``).
    ``formula_beam``: decode with the formula-guided beam (its rows' decodings are ``formula_beam+…``)."""
    os.makedirs(out_dir, exist_ok=True)
    rejects: list[tuple[str, str]] = []
    rows = [r for r in read_rows(data, rejects) if split_of(r.id) in ("val", "test")]
    rows = rows[:limit] if limit else rows
    work = work or os.path.join(out_dir, f"work_{name}")
    os.makedirs(work, exist_ok=True)
    results = []
    for condition in CONDITIONS:
        given = simulated_rows(rows) if condition == "sim" else rows
        results += _condition(model, given, condition, work, n_best, beam_size, name, formula_beam)
    write_tables(out_dir, results, rejects, data)
    return {"results": results, "rejects": len(rejects), "rows": len(rows)}


def literature_h(peaks: Sequence[dict]) -> str:
    """Simulated ¹H peaks (v2 schema) as a paper writes them: ``7.38 (t, J = 7.6 Hz, 2H), 3.70 (s, 3H)``."""
    out = []
    for p in sorted(peaks, key=lambda p: -p["centroid"]):
        js = [j for j in (p.get("j_values") or "").split("_") if j]
        if p["category"] == "m" or not js:
            where = f"{p['rangeMax']:.2f}–{p['rangeMin']:.2f}" if p["category"] == "m" else f"{p['centroid']:.2f}"
            out.append(f"{where} ({p['category']}, {p['nH']}H)")
        else:
            out.append(f"{p['centroid']:.2f} ({p['category']}, J = {', '.join(js)} Hz, {p['nH']}H)")
    return ", ".join(out)


def simulated_rows(rows: Sequence[Row]) -> list[Row]:
    """``rows`` with their spectra replaced by the simulator's of the same molecule (seeded by the id);
    a molecule the simulator cannot handle is left out (the ``sim`` rows then count fewer samples)."""
    from dataclasses import replace

    from rdkit import Chem

    from onmt_moe.simulate.nmr_fast import predict_fast
    from onmt_moe.simulate.rows import simulate_row

    out = []
    for r in rows:
        seed_idx = int(hashlib.sha1(r.id.encode()).hexdigest()[:8], 16)
        try:
            sim = simulate_row(seed_idx, r.smiles, predict_fast(Chem.MolFromSmiles(r.smiles)), 0, modalities="nmr")
        except Exception:  # noqa: BLE001 - the estimator has no answer for some exotic atoms: left out
            continue
        c_text = ", ".join(f"{p['delta (ppm)']:.1f}" for p in sim["c_nmr_peaks"])
        out.append(replace(r, h_text=literature_h(sim["h_nmr_peaks"]), c_text=c_text))
    return out


def write_tables(out_dir: str, results: list[dict], rejects, data: str) -> None:
    from onmt_moe.runs.runner import machine_line

    csv_path = os.path.join(out_dir, "real_spectra.csv")
    old = []
    if os.path.isfile(csv_path):  # other models' (and decodings') rows stay; this run's are replaced
        done = {(r["model"], r["decoding"]) for r in results}
        with open(csv_path, newline="", encoding="utf-8") as fh:
            old = [r for r in csv.DictReader(fh) if (r["model"], r["decoding"]) not in done]
    machine = machine_line()
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS + ["machine"], extrasaction="ignore")
        w.writeheader()
        w.writerows(old + [dict(r, machine=machine) for r in results])
    with open(os.path.join(out_dir, "real_spectra.rejects.tsv"), "w", encoding="utf-8") as fh:
        fh.write("row\treason\n" + "".join(f"{a}\t{b}\n" for a, b in rejects))
    _write_md(os.path.join(out_dir, "real_spectra.md"), old + results, data, machine)


def _pct(v) -> str:
    return "" if v in ("", None) else f"{100 * float(v):.1f} %"


def _write_md(path: str, rows: list[dict], data: str, machine: str) -> None:
    lines = [
        "# Measured NMR spectra: top-k by model, input and size",
        "",
        f"Data: `{os.path.basename(data)}`, test part (50 % of rows by id hash). Machine: {machine}.",
        "",
        "Inputs: `c` measured ¹³C + formula; `hc` measured ¹H + ¹³C + formula; `sim` the same molecules' "
        "¹H + ¹³C from the project's simulator, typed the same way (the gap between `sim` and `hc` is the "
        "simulator's distance from the lab). "
        "`formula in n-best`: share of the samples with at least one candidate of the right formula. "
        "`refused`: test rows the predictor rejected (reasons in the work folder's rejects file).",
        "",
        "| model | input | heavy atoms | decoding | n | top-1 | top-5 | top-10 | formula in n-best | refused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['input']} | {r['heavy_atoms']} | {r['decoding']} | {r['n']} | "
            f"{_pct(r['top1'])} | {_pct(r['top5'])} | {_pct(r['top10'])} | {_pct(r['formula_candidate'])} | "
            f"{r.get('rejected', '')} |"
        )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
