"""What makes the CPU demo learn: one recipe lever at a time, same corpus, same step budget.

Each lever is the demo model (``configs/demo_moe.yaml``) with a few ``--set`` overrides (or another
template), trained by ``runner.launch`` (stages vocab + train only), then decoded twice with beam
search: the corpus' **validation** split (the selection split: a lever is never chosen on the test
split, which only ``make demo`` decodes) and the first 400 **training** molecules (train ≈ val means
under-fitted, train ≫ val over-fitted). One row per lever in ``demo_levers.csv`` and a markdown table.
Resumable: a lever whose scores exist is read back; a half-trained one resumes from its checkpoint.

    from onmt_moe.runs.levers import run_levers
    run_levers("data/demo_small_tagged/data", "runs/levers", ["baseline", "dropout_0.1"])

This module imports no torch: training and decoding run in OpenNMT's own subprocesses.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from onmt_moe.modality.tags import join_segments, split_segments
from onmt_moe.runfolder.layout import read_run_json
from onmt_moe.runs import runner
from onmt_moe.runs.demo import Demo, prepare_data
from onmt_moe.runs.paper_table import last_validation_accuracy, markdown_table, write_csv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_CONFIG = "configs/demo_moe.yaml"
TRAIN_PROBE = 400  # training molecules re-decoded per lever
# Every committed lever row was trained with 64-molecule batches (the demo's recipe until session 13);
# pinned so a new or resumed lever is read against the same baseline whatever the demo template says now.
LEVER_RECIPE_SETS = ["batch_size=64", "valid_batch_size=64"]


class Lever(NamedTuple):
    """A demo model with ``--set`` overrides (or another template), optionally on a derived corpus."""

    template: str
    sets: list[str]
    corpus: str | None = None  # a key of CORPUS_CHANGES: the demo corpus rewritten before training


def _drop_formula(line: str) -> str:
    """A tagged source line without its ``<FORMULA> ... </FORMULA>`` segment."""
    return " ".join(join_segments([seg for seg in split_segments(line.split()) if seg[0] != "FORMULA"]))


class CorpusChange(NamedTuple):
    """How a lever's corpus differs from the demo corpus (validation and test splits are never changed)."""

    description: str
    rewrite: Callable[[str], str] | None = None  # applied to every source line
    keep: float | None = None  # the first fraction of the training lines kept
    extra: str | None = None  # a tagged corpus folder (under ROOT) whose other molecules join training
    sources: str | None = None  # a key of SPECTRA_CORPORA: that corpus' sources of the same molecules replace ours


ALL_MOLECULES_CORPUS = "data/demo_small_all_tagged/data"
PAPER_DATA = "data/paper_small"  # `make data-paper`: every modality for the demo's molecules
# The demo's molecules with IR or MS/MS added (`make data-paper` simulates every modality for them;
# same NMR draws and binning): name -> (generate_input sections, IR points, MS/MS peaks per list).
SPECTRA_CORPORA: dict[str, tuple[str, int, int]] = {
    "ir_50": ("formula,h_nmr,c_nmr,ir", 50, 8),
    "ir_25": ("formula,h_nmr,c_nmr,ir", 25, 8),
    "msms_8": ("formula,h_nmr,c_nmr,pos_msms,neg_msms", 50, 8),
    "msms_4": ("formula,h_nmr,c_nmr,pos_msms,neg_msms", 50, 4),
}


def spectra_corpus(name: str) -> str:
    """The tagged corpus of ``SPECTRA_CORPORA[name]`` (absolute), built from ``PAPER_DATA`` when missing."""
    data_dir = os.path.join(ROOT, f"data/paper_small_nmr_{name}_tagged/data")
    if os.path.exists(os.path.join(data_dir, "src-test.txt")):
        return data_dir
    from onmt_moe.data.pipeline import DataError, list_inputs

    parquet = os.path.join(ROOT, PAPER_DATA)
    try:  # demo.py would simulate NMR-only data into an empty folder, so the spectra must be there first
        list_inputs(parquet)
    except DataError:
        raise ValueError(
            f"lever corpus {name} needs {PAPER_DATA} (every modality); build it with `make data-paper`"
        ) from None
    sections, ir_points, top_k = SPECTRA_CORPORA[name]
    d = Demo(data=parquet, corpus=os.path.dirname(data_dir), modalities=sections, ir_points=ir_points, msms_top_k=top_k)
    if prepare_data(d) != 0:  # scripts/demo.py --data_only
        raise RuntimeError(f"building lever corpus {name} failed (from {parquet})")
    return data_dir


def _spectra_change(name: str) -> CorpusChange:
    sections, ir_points, top_k = SPECTRA_CORPORA[name]
    what = f"{ir_points} IR points" if "ir" in sections.split(",") else f"MS/MS, {top_k} peaks per list"
    return CorpusChange(f"the same molecules with {what} added to formula + NMR", sources=name)


CORPUS_CHANGES: dict[str, CorpusChange] = {
    "quarter": CorpusChange("the first quarter of the training molecules; validation unchanged", keep=0.25),
    "no_formula": CorpusChange(
        "every source without its formula segment (re-ranking still uses the formula)", rewrite=_drop_formula
    ),
    "all_molecules": CorpusChange(
        "training adds every molecule of the whole bundled list that is not in the demo corpus",
        extra=ALL_MOLECULES_CORPUS,
    ),
    **{name: _spectra_change(name) for name in SPECTRA_CORPORA},
}

# The recipe levers of issue 15, each against the same baseline; the tier and NMR binning need a
# simulated corpus of their own and are findings of docs/demo_recipe.md instead (all_molecules reads one
# that only adds training molecules, so it stays a row here).
LEVERS: dict[str, Lever] = {
    "baseline": Lever(DEMO_CONFIG, []),
    "baseline_seed2": Lever(DEMO_CONFIG, ["seed=2"]),  # the seed spread every other row is read against
    "dense": Lever("configs/demo_dense.yaml", []),
    "label_smoothing_0": Lever(DEMO_CONFIG, ["label_smoothing=0.0"]),
    "warmup_1000": Lever(DEMO_CONFIG, ["warmup_steps=1000"]),
    "learning_rate_1": Lever(DEMO_CONFIG, ["learning_rate=1.0"]),
    "batch_128": Lever(DEMO_CONFIG, ["batch_size=128", "valid_batch_size=128"]),
    "batch_96": Lever(DEMO_CONFIG, ["batch_size=96", "valid_batch_size=96"]),  # 1.5x compute: fits make demo
    "batch_96_seed2": Lever(DEMO_CONFIG, ["batch_size=96", "valid_batch_size=96", "seed=2"]),
    "depth_3": Lever(DEMO_CONFIG, ["layers=3"]),
    "random_smiles": Lever(DEMO_CONFIG, ["transforms=[random_smiles]", "random_smiles_prob=0.5"]),
    "quarter_data": Lever(DEMO_CONFIG, [], "quarter"),
    "no_formula": Lever(DEMO_CONFIG, [], "no_formula"),
    "all_molecules": Lever(DEMO_CONFIG, [], "all_molecules"),
    **{f"with_{name}": Lever(DEMO_CONFIG, [], name) for name in SPECTRA_CORPORA},  # IR compression, MS/MS top-k
    "width_256": Lever(
        DEMO_CONFIG, ["hidden_size=256", "word_vec_size=256", "moe_expert_d_ff=[256,256,256,256]", "heads=8"]
    ),
    "dropout_0.1": Lever(DEMO_CONFIG, ["dropout=[0.1]", "attention_dropout=[0.1]"]),  # the recipe before session 5
}
COLUMNS = [
    "lever",
    "sets",
    "corpus",
    "steps",
    "val_top1",
    "val_top5",
    "val_top10",
    "val_reranked_top1",
    "val_invalid_top1",
    "train400_top1",
    "train400_top10",
    "val_acc",
    "train_seconds",
    "run_dir",
]


def _translate_options(template: str) -> dict:
    """The template's run.translate over start_training's defaults (what its translate stage would use)."""
    run = runner.load_template(os.path.join(ROOT, template)).get("run") or {}
    return dict(runner.DEFAULT_TRANSLATE, **(run.get("translate") or {}))


def _first_lines(src: str, dst: str, n: int) -> str:
    if not os.path.exists(dst):
        with open(src, encoding="utf-8") as fh, open(dst + ".tmp", "w", encoding="utf-8") as out:
            for i, line in enumerate(fh):
                if i == n:
                    break
                out.write(line)
        os.replace(dst + ".tmp", dst)
    return dst


def _read_split(data_dir: str, split: str) -> tuple[list[str], list[str]]:
    """The (source, target) lines of one split of a corpus folder."""
    return tuple(
        open(os.path.join(data_dir, f"{side}-{split}.txt"), encoding="utf-8").read().splitlines()
        for side in ("src", "tgt")
    )


def _extra_molecules(extra_dir: str, seen: set) -> tuple[list[str], list[str]]:
    """Every (source, target) pair of ``extra_dir`` (all splits) whose target is not in ``seen``."""
    if not os.path.exists(os.path.join(extra_dir, "src-test.txt")):
        raise ValueError(
            f"lever corpus {extra_dir} is missing; build it with "
            "`python scripts/demo.py --data data/demo_small_all --molecules 44432 --data_only`"
        )
    src, tgt = [], []
    for split in ("train", "val", "test"):
        for s, t in zip(*_read_split(extra_dir, split)):
            if t not in seen:  # one row per molecule: a demo validation/test molecule never joins training
                seen.add(t)
                src.append(s)
                tgt.append(t)
    return src, tgt


def _swap_sources(splits: dict[str, tuple[list[str], list[str]]], name: str) -> None:
    """Replace every split's sources by those ``spectra_corpus(name)`` holds for the same target molecules."""
    sources_dir = spectra_corpus(name)
    by_target = {}
    for split in ("train", "val", "test"):
        by_target.update({t: s for s, t in zip(*_read_split(sources_dir, split))})
    for split, (_src, tgt) in splits.items():
        missing = [t for t in tgt if t not in by_target]
        if missing:  # a changed split would make the lever's validation score incomparable
            raise ValueError(
                f"{sources_dir}: {len(missing)} {split} molecule(s) of the demo corpus missing, e.g. {missing[0]!r}"
            )
        splits[split] = ([by_target[t] for t in tgt], tgt)


def derive_corpus(data_dir: str, out_dir: str, change: str) -> str:
    """The demo corpus with ``CORPUS_CHANGES[change]`` applied, written once under ``out_dir``."""
    rule = CORPUS_CHANGES[change]
    if os.path.exists(os.path.join(out_dir, "done")):
        return out_dir
    splits = {split: _read_split(data_dir, split) for split in ("train", "val", "test")}
    src, tgt = splits["train"]
    if rule.keep is not None:
        n = int(len(tgt) * rule.keep)
        splits["train"] = (src[:n], tgt[:n])
    if rule.extra is not None:
        seen = {t for _, tgts in splits.values() for t in tgts}
        more_src, more_tgt = _extra_molecules(os.path.join(ROOT, rule.extra), seen)
        splits["train"] = (src + more_src, tgt + more_tgt)  # appended: the demo molecules stay first
    if rule.sources is not None:
        _swap_sources(splits, rule.sources)
    os.makedirs(out_dir, exist_ok=True)
    for split, (src, tgt) in splits.items():  # a corpus folder holds all three (levers never decode test)
        if rule.rewrite is not None:
            src = [rule.rewrite(line) for line in src]
        for side, lines in (("src", src), ("tgt", tgt)):
            with open(os.path.join(out_dir, f"{side}-{split}.txt"), "w", encoding="utf-8") as out:
                out.write("".join(line + "\n" for line in lines))
    open(os.path.join(out_dir, "done"), "w").write(rule.description + "\n")
    return out_dir


def decode_and_score(ckpt: str, src: str, tgt: str, out_dir: str, topts: dict, score_src: str | None = None) -> dict:
    """Beam-decode ``src`` with ``onmt_translate`` and score it (SMILES; re-ranked by the formula that
    ``score_src``, default ``src``, carries)."""
    from onmt_moe.evaluation.scoring import score_files

    os.makedirs(out_dir, exist_ok=True)
    pred = os.path.join(out_dir, "pred.txt")
    cmd = runner.onmt_command("onmt_translate") + ["-model", ckpt, "-src", src, "-output", pred]
    for key in ("beam_size", "n_best", "min_length", "max_length", "batch_size"):
        cmd += [f"-{key}", str(topts[key])]
    runner.run_logged(cmd, os.path.join(out_dir, "translate.log"), echo=False)
    scores = os.path.join(out_dir, "scores.json")
    return score_files(pred, tgt, topts["n_best"], src_path=score_src or src, out_json=scores)


def lever_row(name: str, run_dir: str, steps: int) -> dict:
    """One row of the lever table from a finished lever folder."""
    val = json.load(open(os.path.join(run_dir, "val", "scores.json")))
    train = json.load(open(os.path.join(run_dir, "train400", "scores.json")))
    info = read_run_json(run_dir)
    lever = LEVERS[name]
    return {
        "lever": name,
        "sets": " ".join(lever.sets),
        "corpus": CORPUS_CHANGES[lever.corpus].description if lever.corpus else "",
        "steps": steps,
        "val_top1": val["topk"].get("1"),
        "val_top5": val["topk"].get("5"),
        "val_top10": val["topk"].get("10"),
        "val_reranked_top1": (val.get("formula_consistent_topk") or {}).get("1"),
        "val_invalid_top1": val.get("invalid_rate_top1"),
        "train400_top1": train["topk"].get("1"),
        "train400_top10": train["topk"].get("10"),
        "val_acc": last_validation_accuracy(run_dir),
        "train_seconds": info.get("stages", {}).get("train", {}).get("seconds"),
        "run_dir": os.path.relpath(run_dir),  # relative, so a committed table names no machine's paths
    }


def run_lever(data_dir: str, run_dir: str, name: str, steps: int, seed: int) -> None:
    """Train one lever (resuming a half-trained folder), then decode the validation and train probes."""
    lever = LEVERS[name]
    corpus = data_dir
    if lever.corpus:  # beside the lever folders, shared by every lever on the same change
        corpus = derive_corpus(
            data_dir, os.path.join(os.path.dirname(run_dir), f"_corpus_{lever.corpus}"), lever.corpus
        )
    job = runner.Launch(
        os.path.join(ROOT, lever.template),
        run_dir,
        corpus,
        [f"train_steps={steps}", f"seed={seed}", *LEVER_RECIPE_SETS, *lever.sets],  # the lever's own sets win
        ("vocab", "train"),
    )
    if not runner.launch(job):
        raise RuntimeError(f"lever {name} failed; see {run_dir}/train.log")
    ckpt = runner.latest_good_checkpoint(run_dir)
    if not ckpt or runner.checkpoint_step(ckpt) < steps:
        raise RuntimeError(f"lever {name}: no checkpoint at step {steps} in {run_dir}")
    topts = _translate_options(lever.template)
    train400 = os.path.join(run_dir, "{}-train400.txt").format
    src_probe = _first_lines(os.path.join(corpus, "src-train.txt"), train400("src"), TRAIN_PROBE)
    tgt_probe = _first_lines(os.path.join(corpus, "tgt-train.txt"), train400("tgt"), TRAIN_PROBE)
    # re-ranking reads the formula from the demo corpus' sources, whatever the lever's sources hold
    formula_src = src_probe
    if corpus != data_dir:
        formula_src = _first_lines(os.path.join(data_dir, "src-train.txt"), train400("demo-src"), TRAIN_PROBE)
    decode_and_score(ckpt, src_probe, tgt_probe, os.path.join(run_dir, "train400"), topts, score_src=formula_src)
    # the validation split last: its scores.json marks the lever finished
    decode_and_score(
        ckpt,
        os.path.join(corpus, "src-val.txt"),
        os.path.join(corpus, "tgt-val.txt"),
        os.path.join(run_dir, "val"),
        topts,
        score_src=os.path.join(data_dir, "src-val.txt"),
    )


def run_levers(
    data_dir: str,
    out: str,
    names: Sequence[str],
    steps: int = 2000,
    seed: int = 3245,
    max_hours: float | None = None,
    log=print,
) -> list[dict]:
    """Run (or read back) every lever; returns the rows of the finished ones."""
    unknown = [n for n in names if n not in LEVERS]
    if unknown:
        raise ValueError(f"unknown lever(s) {', '.join(unknown)}; known: {', '.join(LEVERS)}")
    t0, rows, secs = time.time(), [], []
    for name in names:
        run_dir = os.path.join(out, name)
        if not os.path.exists(os.path.join(run_dir, "val", "scores.json")):
            if max_hours is not None and time.time() - t0 + (max(secs) if secs else 0.0) > max_hours * 3600:
                log(f"==> stopping before {name}: the time budget ({max_hours} h) is spent; run again to continue")
                break
            log(f"==> lever {name}")
            t_lever = time.time()
            run_lever(data_dir, run_dir, name, steps, seed)
            secs.append(time.time() - t_lever)
        rows.append(lever_row(name, run_dir, steps))
    return rows


def write_outputs(rows: Sequence[dict], csv_path: str) -> str:
    """``demo_levers.csv`` (one row per lever) and the markdown table beside it; returns the markdown."""
    write_csv(rows, csv_path, COLUMNS)
    md = markdown_table(rows, [c for c in COLUMNS if c != "run_dir"])
    with open(os.path.splitext(csv_path)[0] + ".md", "w") as fh:
        fh.write(md + "\n")
    return md
