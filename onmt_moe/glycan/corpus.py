"""Glycan corpora for OpenNMT (what ``benchmark/generate_glycan_input.py`` writes): tagged MS/MS
(+ text) source -> tokenised WURCS target, the reverse direction (``pred_spectra``), or one
multi-task corpus (:func:`write_multitask`).

:func:`write_corpus` writes ``<out_dir>/data/{src,tgt}-{train,val,test}.txt``, ``<out_dir>/summary.json``
(also printed) and ``<out_dir>/rejects.tsv``; a bad option, an unreadable input or a corpus with no
usable row is a one-line :class:`CorpusError`.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass

from onmt_moe.glycan import multitask
from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens, spectrum_tokens
from onmt_moe.glycan.text import text_tokens
from onmt_moe.glycan.wurcs_tokenizer import WurcsTokenizeError, tokenize

SPLITS = ("train", "val", "test")
REQUIRED = ("wurcs", "precursor_mz", "charge", "peaks", "split")


class CorpusError(ValueError):
    """A glycan corpus that cannot be written, in one line."""


@dataclass
class CorpusOptions:
    """What goes into the corpus besides the spectrum tokens (``generate_glycan_input.py`` flags)."""

    text: bool = False  # add the <TEXT> segment
    missing: str = "token"  # a row without text: <TEXT> <MISSING> </TEXT> (token) or dropped (drop)
    pred_spectra: bool = False  # structure -> spectrum
    multitask: str = ""  # comma list of tasks for one multi-task corpus
    task_weights: str = ""  # OpenNMT corpus weight per task, e.g. struct=2,spec=1
    target_task_token: bool = False  # multitask: train/val targets start with the task token too


def check_options(cfg: SpecTokConfig, opt: CorpusOptions) -> None:
    """The option combinations the corpus cannot be written with (CorpusError)."""
    from onmt_moe.glycan.real.masses import REDUCING_END_FORMULA

    if cfg.mz_bin <= 0 or cfg.int_bins < 1 or cfg.max_peaks < 1:
        raise CorpusError("--mz_bin must be > 0, --int_bins and --max_peaks >= 1")
    if cfg.composition and (cfg.comp_tol <= 0 or cfg.comp_max < 1 or cfg.comp_max_residues < 1):
        raise CorpusError("--comp_tol must be > 0, --comp_max and --comp_max_residues >= 1")
    if cfg.reducing_end not in REDUCING_END_FORMULA:
        raise CorpusError(f"--reducing_end {cfg.reducing_end!r}: known {', '.join(REDUCING_END_FORMULA)}")
    if cfg.composition and opt.pred_spectra:
        raise CorpusError("--composition adds source tokens for spectrum -> structure; not with --pred_spectra")
    if opt.multitask and opt.pred_spectra:
        raise CorpusError("--multitask writes every direction it names; not with --pred_spectra")


def _peaks_ok(peaks) -> str:
    if peaks is None:
        return "peaks missing"
    try:
        n = 0
        for p in peaks:
            if len(p) != 2:
                return f"peak {n} has {len(p)} values, expected [mz, intensity]"
            mz, it = float(p[0]), float(p[1])
            if not (math.isfinite(mz) and math.isfinite(it)) or mz <= 0 or it < 0:
                return f"peak {n} is not finite/positive: {p!r}"
            n += 1
    except (TypeError, ValueError) as e:
        return f"peaks malformed: {e}"
    return "" if n else "no peaks"


def _parse_row(row):
    """(wurcs tokens, precursor m/z, charge, peaks) of a parquet row, or the reason it is rejected."""
    split = row.get("split")
    if split not in SPLITS:
        return f"bad split {split!r}"
    try:
        wurcs_toks = tokenize(str(row["wurcs"]))
    except WurcsTokenizeError as e:
        return f"bad wurcs: {e}"
    why = _peaks_ok(row["peaks"])
    try:
        pmz, ch = float(row["precursor_mz"]), int(row["charge"])
    except (TypeError, ValueError):
        pmz, ch = float("nan"), 0
    if not why and (not math.isfinite(pmz) or pmz <= 0 or ch not in (-1, -2)):
        why = f"bad precursor_mz/charge {row['precursor_mz']!r}/{row['charge']!r}"
    if why:
        return why
    return wurcs_toks, pmz, ch, [[float(p[0]), float(p[1])] for p in row["peaks"]]


def _write_lines(path, lines):
    with open(path, "w") as fh:
        fh.write("".join(ln + "\n" for ln in lines))


def _write_json(path: str, obj) -> None:
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=2)


def _write_rejects(out_dir: str, header: str, rejects) -> None:
    """rejects.tsv: one row per reject; the reason is the last field (tabs in it become spaces)."""
    with open(os.path.join(out_dir, "rejects.tsv"), "w") as fh:
        fh.write(header + "\n")
        for *fields, why in rejects:
            fh.write("\t".join(str(f) for f in fields) + f"\t{str(why).replace(chr(9), ' ')}\n")


def read_input(input_path: str):
    """(parquet path, DataFrame) of ``glycan.parquet`` or the directory holding it."""
    path = os.path.join(input_path, "glycan.parquet") if os.path.isdir(input_path) else input_path
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file (build it with scripts/build_glycan_dataset.py)")
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001
        raise CorpusError(f"{path}: cannot read parquet ({type(e).__name__}: {str(e)[:120]})") from None
    missing_cols = [c for c in REQUIRED if c not in df.columns]
    if missing_cols:
        raise CorpusError(f"{path}: missing column(s) {', '.join(missing_cols)}")
    return path, df


def _multitask_pairs(df, tasks, cfg: SpecTokConfig, opt: CorpusOptions):
    """{task: {split: (sources, targets)}} and the rejects (row, split, task, reason)."""
    out = {t: {s: ([], []) for s in SPLITS} for t in tasks}
    rejects = []
    has_text = "text" in df.columns
    for i, r in enumerate(df.itertuples(index=False)):
        row = r._asdict()
        split = row.get("split")
        parsed = _parse_row(row)
        if isinstance(parsed, str):
            rejects.append((i, split, "all", parsed))
            continue
        text = text_tokens(row.get("text")) if has_text else []
        for task in tasks:
            pair = multitask.task_pair(
                task, *parsed, text, cfg, with_text=opt.text, composition=row.get("composition") or ""
            )
            if isinstance(pair, str):
                rejects.append((i, split, task, pair))
                continue
            out[task][split][0].append(" ".join(pair[0]))
            tgt = multitask.target_tokens(task, pair[1], split, opt.target_task_token)
            out[task][split][1].append(" ".join(tgt))
    return out, rejects


def _write_onmt_data(out_dir: str, data_dir: str, tasks, weights) -> None:
    import yaml

    onmt = {"data": multitask.data_section(data_dir, tasks, weights), "share_vocab": True}
    with open(os.path.join(out_dir, "onmt_data.yaml"), "w") as fh:
        fh.write(
            "# OpenNMT data section of a multi-task glycan corpus (benchmark/generate_glycan_input.py "
            "--multitask); merge into a training config. One shared vocabulary.\n"
        )
        yaml.safe_dump(onmt, fh, sort_keys=False)


def _task_manifest(out, tasks, weights, data_dir: str, target_task_token: bool) -> dict:
    return {
        t: {
            "token": multitask.TASKS[t].token,
            "score": multitask.TASKS[t].score,
            "weight": weights[t],
            # forced as the first decoded token and stripped before scoring (runs/runner.py)
            "target_prefix": multitask.TASKS[t].token if target_task_token else "",
            "data_dir": os.path.join(data_dir, t),
            "written": {s: len(out[t][s][0]) for s in SPLITS},
        }
        for t in tasks
    }


def write_multitask(out_dir: str, path: str, df, cfg: SpecTokConfig, opt: CorpusOptions) -> dict:
    """<out_dir>/data/<task>/{src,tgt}-<split>.txt, the mixed data/{src,tgt}-<split>.txt,
    onmt_data.yaml (OpenNMT data section with the task weights, share_vocab) and tasks.json."""
    try:
        tasks = multitask.parse_tasks(opt.multitask)
        weights = multitask.parse_weights(opt.task_weights, tasks)
    except ValueError as e:
        raise CorpusError(str(e)) from None
    data_dir = os.path.abspath(os.path.join(out_dir, "data"))
    out, rejects = _multitask_pairs(df, tasks, cfg, opt)
    for task in tasks:
        os.makedirs(os.path.join(data_dir, task), exist_ok=True)
    for s in SPLITS:
        for k, kind in enumerate(("src", "tgt")):
            for task in tasks:
                _write_lines(os.path.join(data_dir, task, f"{kind}-{s}.txt"), out[task][s][k])
            _write_lines(os.path.join(data_dir, f"{kind}-{s}.txt"), [ln for t in tasks for ln in out[t][s][k]])
    _write_rejects(out_dir, "row\tsplit\ttask\treason", rejects)
    _write_onmt_data(out_dir, data_dir, tasks, weights)
    manifest = _task_manifest(out, tasks, weights, data_dir, opt.target_task_token)
    _write_json(os.path.join(out_dir, "tasks.json"), manifest)
    reasons = Counter(f"{t}:{w if w == 'missing_text' else w.split(':')[0].split(' ')[0]}" for _, _, t, w in rejects)
    summary = {"input": path, "rows": int(len(df)), "tasks": manifest, "rejected": len(rejects)}
    summary.update(reject_reasons=dict(reasons), text=opt.text, spectrum_tokens=cfg.to_dict())
    _write_json(os.path.join(out_dir, "summary.json"), summary)
    print(json.dumps(summary, indent=2))
    if not any(n for t in manifest.values() for n in t["written"].values()):
        raise CorpusError(f"{path}: no usable rows (see {out_dir}/rejects.tsv)")
    return summary


def _stats(lengths):
    if not lengths:
        return {}
    s = sorted(lengths)
    return {"mean": round(sum(s) / len(s), 1), "p95": s[int(0.95 * (len(s) - 1))], "max": s[-1]}


def _single_pairs(df, cfg: SpecTokConfig, opt: CorpusOptions):
    """{split: (sources, targets)} and the rejects (row, split, reason)."""
    out = {s: ([], []) for s in SPLITS}
    rejects = []
    has_text = "text" in df.columns
    for i, r in enumerate(df.itertuples(index=False)):
        row = r._asdict()
        split = row.get("split")
        parsed = _parse_row(row)
        if isinstance(parsed, str):
            rejects.append((i, split, parsed))
            continue
        tgt_toks, pmz, ch, peaks = parsed
        if opt.pred_spectra:
            src, tgt = tgt_toks, spectrum_tokens(pmz, ch, peaks, cfg.as_target())
        else:
            tt = text_tokens(row.get("text")) if has_text else []
            if opt.text and not tt and opt.missing == "drop":
                rejects.append((i, split, "missing_text"))
                continue
            src, tgt = source_tokens(pmz, ch, peaks, tt, cfg, with_text=opt.text), tgt_toks
        out[split][0].append(" ".join(src))
        out[split][1].append(" ".join(tgt))
    return out, rejects


def _single_summary(path: str, df, out, rejects, cfg: SpecTokConfig, opt: CorpusOptions) -> dict:
    src_vocab, tgt_vocab = Counter(), Counter()
    for s in SPLITS:
        for ln in out[s][0]:
            src_vocab.update(ln.split())
        for ln in out[s][1]:
            tgt_vocab.update(ln.split())
    reasons = Counter(w if w == "missing_text" else w.split(":")[0].split(" ")[0] + "..." for _, _, w in rejects)
    return {
        "input": path,
        "rows": int(len(df)),
        "written": {s: len(out[s][0]) for s in SPLITS},
        "rejected": len(rejects),
        "reject_reasons": dict(reasons),
        "direction": "wurcs->spectrum" if opt.pred_spectra else "spectrum->wurcs",
        "text": opt.text,
        "missing": opt.missing,
        "spectrum_tokens": cfg.to_dict(),
        "src_len": _stats([len(ln.split()) for s in SPLITS for ln in out[s][0]]),
        "tgt_len": _stats([len(ln.split()) for s in SPLITS for ln in out[s][1]]),
        "src_vocab": len(src_vocab),
        "tgt_vocab": len(tgt_vocab),
    }


def write_corpus(input_path: str, out_dir: str, cfg: SpecTokConfig, opt: CorpusOptions) -> dict:
    """Check the options, read the parquet set and write the corpus; returns (and prints) its summary."""
    check_options(cfg, opt)
    path, df = read_input(input_path)
    data_dir = os.path.join(out_dir, "data")
    os.makedirs(data_dir, exist_ok=True)
    if opt.multitask:
        return write_multitask(out_dir, path, df, cfg, opt)
    out, rejects = _single_pairs(df, cfg, opt)
    for s in SPLITS:
        for kind, lines in zip(("src", "tgt"), out[s]):
            _write_lines(os.path.join(data_dir, f"{kind}-{s}.txt"), lines)
    _write_rejects(out_dir, "row\tsplit\treason", rejects)
    summary = _single_summary(path, df, out, rejects, cfg, opt)
    _write_json(os.path.join(out_dir, "summary.json"), summary)
    print(json.dumps(summary, indent=2))
    if not any(summary["written"].values()):
        raise CorpusError(f"{path}: no usable rows (see {out_dir}/rejects.tsv)")
    return summary


__all__ = ["CorpusError", "CorpusOptions", "SPLITS", "check_options", "read_input", "write_corpus", "write_multitask"]
