#!/usr/bin/env python
"""Glycan corpora for OpenNMT: tagged MS/MS (+ text) source -> tokenised WURCS target.

    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_corpus --text
    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_pred --pred_spectra

Writes ``<out_dir>/data/{src,tgt}-{train,val,test}.txt``, ``<out_dir>/summary.json`` and
``<out_dir>/rejects.tsv`` (row, split, reason).  Source line (default)::

    <MS> PMZ_1037 CHARGE_-2 MZ_163 INT_1 DIAG_dHex_C1 ... </MS> <TEXT> n-linked glycan ; ... </TEXT>

``--text`` adds the TEXT segment; a row without text gets ``<TEXT> <MISSING> </TEXT>`` with
``--missing token`` (default) or is dropped (``--missing drop``, reason ``missing_text``).
``--composition`` adds ``CMP_`` tokens after the charge: the compositions whose mass matches the
precursor (a GlycoMod-style search, onmt_moe/glycan/composition.py).
``--pred_spectra`` swaps direction: source = tokenised WURCS, target = MS tokens (no tags).
``--multitask struct,spec,text`` writes one multi-task corpus instead (a task token starts each
source; per-task folders, the mixed files, ``onmt_data.yaml`` with ``--task_weights``, ``tasks.json``);
``--target_task_token`` starts its train/val targets with the task token as well.
"""

import argparse
import json
import math
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan import multitask  # noqa: E402
from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens, spectrum_tokens  # noqa: E402
from onmt_moe.glycan.text import text_tokens  # noqa: E402
from onmt_moe.glycan.wurcs_tokenizer import WurcsTokenizeError, tokenize  # noqa: E402

SPLITS = ("train", "val", "test")
REQUIRED = ("wurcs", "precursor_mz", "charge", "peaks", "split")


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


def _multitask(a, df, path, cfg):
    """--multitask: <out_dir>/data/<task>/{src,tgt}-<split>.txt, the mixed data/{src,tgt}-<split>.txt,
    onmt_data.yaml (OpenNMT data section with the task weights, share_vocab) and tasks.json."""
    import yaml

    try:
        tasks = multitask.parse_tasks(a.multitask)
        weights = multitask.parse_weights(a.task_weights, tasks)
    except ValueError as e:
        sys.exit(f"error: {e}")
    data_dir = os.path.abspath(os.path.join(a.out_dir, "data"))
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
                task, *parsed, text, cfg, with_text=a.text, composition=row.get("composition") or ""
            )
            if isinstance(pair, str):
                rejects.append((i, split, task, pair))
                continue
            out[task][split][0].append(" ".join(pair[0]))
            out[task][split][1].append(" ".join(multitask.target_tokens(task, pair[1], split, a.target_task_token)))
    for task in tasks:
        os.makedirs(os.path.join(data_dir, task), exist_ok=True)
    for s in SPLITS:
        for k, kind in enumerate(("src", "tgt")):
            for task in tasks:
                _write_lines(os.path.join(data_dir, task, f"{kind}-{s}.txt"), out[task][s][k])
            _write_lines(os.path.join(data_dir, f"{kind}-{s}.txt"), [ln for t in tasks for ln in out[t][s][k]])
    with open(os.path.join(a.out_dir, "rejects.tsv"), "w") as fh:
        fh.write("row\tsplit\ttask\treason\n")
        for row, split, task, why in rejects:
            fh.write(f"{row}\t{split}\t{task}\t{str(why).replace(chr(9), ' ')}\n")
    onmt = {"data": multitask.data_section(data_dir, tasks, weights), "share_vocab": True}
    with open(os.path.join(a.out_dir, "onmt_data.yaml"), "w") as fh:
        fh.write(
            "# OpenNMT data section of a multi-task glycan corpus (benchmark/generate_glycan_input.py "
            "--multitask); merge into a training config. One shared vocabulary.\n"
        )
        yaml.safe_dump(onmt, fh, sort_keys=False)
    manifest = {
        t: {
            "token": multitask.TASKS[t].token,
            "score": multitask.TASKS[t].score,
            "weight": weights[t],
            # forced as the first decoded token and stripped before scoring (runs/runner.py)
            "target_prefix": multitask.TASKS[t].token if a.target_task_token else "",
            "data_dir": os.path.join(data_dir, t),
            "written": {s: len(out[t][s][0]) for s in SPLITS},
        }
        for t in tasks
    }
    with open(os.path.join(a.out_dir, "tasks.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
    summary = {
        "input": path,
        "rows": int(len(df)),
        "tasks": manifest,
        "rejected": len(rejects),
        "reject_reasons": dict(
            Counter(f"{t}:{w if w == 'missing_text' else w.split(':')[0].split(' ')[0]}" for _, _, t, w in rejects)
        ),
        "text": a.text,
        "spectrum_tokens": cfg.to_dict(),
    }
    with open(os.path.join(a.out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(json.dumps(summary, indent=2))
    if not any(n for t in manifest.values() for n in t["written"].values()):
        sys.exit(f"error: {path}: no usable rows (see {a.out_dir}/rejects.tsv)")


def _stats(lengths):
    if not lengths:
        return {}
    s = sorted(lengths)
    return {"mean": round(sum(s) / len(s), 1), "p95": s[int(0.95 * (len(s) - 1))], "max": s[-1]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="glycan.parquet or the directory holding it")
    ap.add_argument("--out_dir", required=True)
    ap.add_argument("--text", action="store_true", help="add the <TEXT> segment")
    ap.add_argument("--missing", choices=("drop", "token"), default="token")
    ap.add_argument("--pred_spectra", action="store_true", help="structure -> spectrum")
    ap.add_argument(
        "--multitask",
        default="",
        help="comma list of tasks for one multi-task corpus (struct,spec,text,align; onmt_moe/glycan/multitask.py)",
    )
    ap.add_argument(
        "--target_task_token",
        action="store_true",
        help="--multitask: train/val targets start with the task token too (a per-task decoder start)",
    )
    ap.add_argument("--task_weights", default="", help="OpenNMT corpus weight per task, e.g. struct=2,spec=1,text=1")
    d = SpecTokConfig()
    ap.add_argument("--mz_bin", type=float, default=d.mz_bin)
    ap.add_argument("--int_bins", type=int, default=d.int_bins)
    ap.add_argument("--max_peaks", type=int, default=d.max_peaks)
    ap.add_argument("--min_rel_int", type=float, default=d.min_rel_int)
    ap.add_argument("--loss_tol", type=float, default=d.loss_tol)
    ap.add_argument("--diag_tol", type=float, default=d.diag_tol)
    ap.add_argument("--no_losses", action="store_true")
    ap.add_argument("--no_peak_pairs", action="store_true")
    ap.add_argument("--no_diagnostics", action="store_true")
    ap.add_argument(
        "--composition",
        action="store_true",
        help="add CMP_ tokens: compositions matching the precursor mass (onmt_moe/glycan/composition.py)",
    )
    ap.add_argument("--comp_tol", type=float, default=d.comp_tol, help="mass tolerance of the composition search, Da")
    ap.add_argument("--comp_max", type=int, default=d.comp_max, help="at most this many candidate compositions")
    ap.add_argument("--comp_max_residues", type=int, default=d.comp_max_residues)
    ap.add_argument(
        "--reducing_end",
        default=d.reducing_end,
        help="reducing-end state of the precursors (free, reduced, 2AB, 2AA, ProA; "
        "onmt_moe/glycan/real/masses.py): its mass tag is taken off before the composition search",
    )
    a = ap.parse_args(argv)
    if a.mz_bin <= 0 or a.int_bins < 1 or a.max_peaks < 1:
        sys.exit("error: --mz_bin must be > 0, --int_bins and --max_peaks >= 1")
    if a.composition and (a.comp_tol <= 0 or a.comp_max < 1 or a.comp_max_residues < 1):
        sys.exit("error: --comp_tol must be > 0, --comp_max and --comp_max_residues >= 1")
    from onmt_moe.glycan.real.masses import REDUCING_END_FORMULA

    if a.reducing_end not in REDUCING_END_FORMULA:
        sys.exit(f"error: --reducing_end {a.reducing_end!r}: known {', '.join(REDUCING_END_FORMULA)}")
    if a.composition and a.pred_spectra:
        sys.exit("error: --composition adds source tokens for spectrum -> structure; not with --pred_spectra")
    if a.multitask and a.pred_spectra:
        sys.exit("error: --multitask writes every direction it names; not with --pred_spectra")
    cfg = SpecTokConfig(
        mz_bin=a.mz_bin,
        int_bins=a.int_bins,
        max_peaks=a.max_peaks,
        min_rel_int=a.min_rel_int,
        loss_tol=a.loss_tol,
        diag_tol=a.diag_tol,
        losses=not a.no_losses,
        peak_pairs=not a.no_peak_pairs,
        diagnostics=not a.no_diagnostics,
        composition=a.composition,
        comp_tol=a.comp_tol,
        comp_max=a.comp_max,
        comp_max_residues=a.comp_max_residues,
        reducing_end=a.reducing_end,
    )

    path = os.path.join(a.input, "glycan.parquet") if os.path.isdir(a.input) else a.input
    if not os.path.exists(path):
        sys.exit(f"error: {path}: no such file (build it with scripts/build_glycan_dataset.py)")
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001
        sys.exit(f"error: {path}: cannot read parquet ({type(e).__name__}: {str(e)[:120]})")
    missing_cols = [c for c in REQUIRED if c not in df.columns]
    if missing_cols:
        sys.exit(f"error: {path}: missing column(s) {', '.join(missing_cols)}")

    data_dir = os.path.join(a.out_dir, "data")
    os.makedirs(data_dir, exist_ok=True)
    out = {s: ([], []) for s in SPLITS}
    rejects = []
    has_text = "text" in df.columns
    if a.multitask:
        return _multitask(a, df, path, cfg)
    for i, r in enumerate(df.itertuples(index=False)):
        row = r._asdict()
        split = row.get("split")
        parsed = _parse_row(row)
        if isinstance(parsed, str):
            rejects.append((i, split, parsed))
            continue
        tgt_toks, pmz, ch, peaks = parsed
        if a.pred_spectra:
            src, tgt = tgt_toks, spectrum_tokens(pmz, ch, peaks, cfg)
        else:
            tt = text_tokens(row.get("text")) if has_text else []
            if a.text and not tt and a.missing == "drop":
                rejects.append((i, split, "missing_text"))
                continue
            src, tgt = source_tokens(pmz, ch, peaks, tt, cfg, with_text=a.text), tgt_toks
        out[split][0].append(" ".join(src))
        out[split][1].append(" ".join(tgt))

    for s in SPLITS:
        for kind, lines in zip(("src", "tgt"), out[s]):
            with open(os.path.join(data_dir, f"{kind}-{s}.txt"), "w") as fh:
                fh.write("".join(ln + "\n" for ln in lines))
    with open(os.path.join(a.out_dir, "rejects.tsv"), "w") as fh:
        fh.write("row\tsplit\treason\n")
        for row, split, why in rejects:
            fh.write(f"{row}\t{split}\t{str(why).replace(chr(9), ' ')}\n")
    src_vocab, tgt_vocab = Counter(), Counter()
    for s in SPLITS:
        for ln in out[s][0]:
            src_vocab.update(ln.split())
        for ln in out[s][1]:
            tgt_vocab.update(ln.split())
    summary = {
        "input": path,
        "rows": int(len(df)),
        "written": {s: len(out[s][0]) for s in SPLITS},
        "rejected": len(rejects),
        "reject_reasons": dict(
            Counter(w if w == "missing_text" else w.split(":")[0].split(" ")[0] + "..." for _, _, w in rejects)
        ),
        "direction": "wurcs->spectrum" if a.pred_spectra else "spectrum->wurcs",
        "text": a.text,
        "missing": a.missing,
        "spectrum_tokens": cfg.to_dict(),
        "src_len": _stats([len(ln.split()) for s in SPLITS for ln in out[s][0]]),
        "tgt_len": _stats([len(ln.split()) for s in SPLITS for ln in out[s][1]]),
        "src_vocab": len(src_vocab),
        "tgt_vocab": len(tgt_vocab),
    }
    with open(os.path.join(a.out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    print(json.dumps(summary, indent=2))
    if not any(summary["written"].values()):
        sys.exit(f"error: {path}: no usable rows (see {a.out_dir}/rejects.tsv)")


if __name__ == "__main__":
    main()
