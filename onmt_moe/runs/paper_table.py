"""The MM-Spectrum paper's Table 1 at CPU scale: dense vs modality-aware MoE, per input combination.

Every cell is one ``runner.launch`` run (train -> decode -> score) on a tagged corpus built from the
same parquet set, at the same step budget and the same *active* parameter count: the MoE's routed
experts are half as wide as the dense FFN and top-2 of them fire, so a token sees as many FFN
weights in both. The formula is part of every input, as the data issue asks ("handled the same way
in every row"). Cells are resumable: a finished cell (``scores.json``) is read back, a half-trained
one resumes from its newest checkpoint, and ``max_hours`` stops before a cell that would not fit.

    from onmt_moe.runs.paper_table import run_table
    run_table(data="data/large", out="runs/bench_paper", inputs=INPUTS, models=("dense", "moe"), seeds=(1,))

This module imports no torch: each cell is trained in this process, its stages in OpenNMT's own
subprocesses (``onmt_build_vocab``, ``onmt_train``, ``onmt_translate``).
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import yaml

from onmt_moe.diagnostics.routing import run_routing_mi
from onmt_moe.runfolder.layout import (
    RANKS_CSV,
    SCORES_JSON,
    TRAIN_STEPS,
    TRANSLATE_YAML,
    VALID_SUMMARY,
    read_run_json,
)
from onmt_moe.runs import runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# the paper's input rows; the formula is added to each of them
INPUTS: dict[str, list[str]] = {
    "NMR": ["h_nmr", "c_nmr"],
    "IR": ["ir"],
    "MS": ["pos_msms", "neg_msms"],
    "NMR+IR": ["h_nmr", "c_nmr", "ir"],
    "NMR+MS": ["h_nmr", "c_nmr", "pos_msms", "neg_msms"],
    "IR+MS": ["ir", "pos_msms", "neg_msms"],
    "NMR+IR+MS": ["h_nmr", "c_nmr", "ir", "pos_msms", "neg_msms"],
}
# What MM-Spectrum says matters (the paper's ablations), at the table's active width: one shared
# expert of 64 that every token uses + top-2 of heterogeneous routed experts (two heavy of 160, two
# light of 32: 64 + 2 x mean 96 = 256 when balanced), the modality tag as router embedding *and* bias,
# capacity 1.25 with overflow to the shared expert, compute-cost and LIMoE entropy terms, and a router
# temperature annealed 2 -> 1 over the first 1,000 steps.
PAPER_MOE_SETS = [
    "moe_num_shared=1",
    "moe_shared_d_ff=64",
    "moe_expert_d_ff=[160, 160, 32, 32]",
    "moe_modality_routing=both",
    "moe_capacity_factor=1.25",
    "moe_overflow=shared",
    "moe_cost_coef=0.01",
    "moe_limoe_local_coef=0.001",
    "moe_limoe_global_coef=0.001",
    "moe_router_temperature=linear:2.0:1.0:1000",
]
# MM-Spectrum's "cross-attention fusion" baseline (42.2 % there vs its MoE's 76.0 %), at the MoE row's
# depth and active width: one MoE encoder layer that attends only within each modality, then one stock
# cross-modal fusion layer (dense FFN 256) where each modality attends to the others; modality type
# embedding and per-segment positions on. `layers` would override enc_layers, hence layers=-1.
FUSION_SETS = [
    "layers=-1",
    "enc_layers=1",
    "dec_layers=2",
    "within_modality_attention=true",
    "fusion_layers=1",
    "modality_type_embedding=true",
    "segment_positions=true",
]
# model name -> (config template, extra --set overrides). demo_moe.yaml has 4 experts of 128, top-2:
# the MoE rows keep the dense model's active FFN width (2 x 128 = demo_dense.yaml's transformer_ff 256)
MODELS: dict[str, tuple] = {
    "dense": ("configs/demo_dense.yaml", []),
    "moe": ("configs/demo_moe.yaml", []),
    "moe_notag": ("configs/demo_moe.yaml", ["moe_modality_routing=none"]),
    "moe_paper": ("configs/demo_moe.yaml", PAPER_MOE_SETS),
    "moe_fusion": ("configs/demo_moe.yaml", FUSION_SETS),
}
# How the spectra enter the encoder (issue 32), as extra overrides of every cell. words: every number is
# its own source word (every row before the value embedding); values: each number also embedded from its
# value and field (onmt_moe/plugin/value_embedding.py), numbers never looked up as words; patches: IR as
# 5-point patches (onmt_moe/plugin/patches.py); values+patches: both.
REPRESENTATIONS: dict[str, list[str]] = {
    "words": [],
    "values": ["value_embedding=replace"],
    "patches": ["patch_modalities=[IR]", "patch_size=5"],
    "values+patches": ["value_embedding=replace", "patch_modalities=[IR]", "patch_size=5"],
    # the word vector kept, the value vector added (a number keeps what its word learned)
    "values_add": ["value_embedding=add"],
    "values_add+patches": ["value_embedding=add", "patch_modalities=[IR]", "patch_size=5"],
    "patches10": ["patch_modalities=[IR]", "patch_size=10"],
    # values only where they won on their own (MS/MS); NMR and IR keep their words
    "values_ms": ["value_embedding=replace", "value_modalities=[MS]"],
}
# How a cell's test split is decoded. beam: the run's translate stage (plain beam search, every row
# before issue 32's lever table); formula_beam: the same checkpoint and translate.yaml decoded again
# with -moe_formula_beam (no hypothesis leaves the <FORMULA> segment's heavy atoms), into
# pred_formula_beam/ beside the run's own pred/.
DECODINGS: dict[str, tuple[str, ...]] = {"beam": (), "formula_beam": ("-moe_formula_beam",)}
# Every cell sees the same molecules per step, whatever its template says. Token batches (4,096) suit
# one input but not a table across inputs: an NMR source is ~60 tokens (65 molecules a step), a
# NMR+IR+MS source ~300 (13 a step), so at equal steps the all-modality cells would see a fifth of the
# data -- the main reason every all-modality cell of the old bench-quality sat near zero.
BATCH_SETS = ["batch_type=sents", "batch_size=64", "valid_batch_size=64"]
# The table's cells were trained with dropout 0.1, the demo recipe before its dropout lever (session 5);
# pinned so a resumed or new cell matches the finished ones whatever the demo templates say now.
TABLE_RECIPE_SETS = ["dropout=[0.1]", "attention_dropout=[0.1]"]
CHECKPOINT_EVERY = 500
COLUMNS = [
    "input",
    "model",
    "representation",
    "decoding",
    "seed",
    "steps",
    "top1",
    "top5",
    "top10",
    "invalid",
    "formula_top1",
    "val_acc",
    "routing_mi",
    "train_tok_per_s",
    "params_total",
    "params_active",
    "train_seconds",
    "machine",
    "run_dir",
]


@dataclass
class CorpusOptions:
    """generate_input settings shared by every cell (the same representation for dense and MoE)."""

    # A cell's CPU cost follows its source length: with 50 IR points and 8 peaks per MS/MS list the
    # all-modality source is ~160 tokens (NMR alone ~60); 100 points and 12 peaks make it ~225.
    ir_points: int = 50
    msms_top_k: int = 8
    nmr_decimals: str = "1,0,0"
    max_src_tokens: int = 1000


def corpus_key(sections: Sequence[str], copt: CorpusOptions) -> dict:
    """The options a corpus of these sections depends on (IR points mean nothing to an NMR corpus)."""
    key = asdict(copt)
    if "ir" not in sections:
        del key["ir_points"]
    if not {"pos_msms", "neg_msms"} & set(sections):
        del key["msms_top_k"]
    return key


def build_corpus(data: str, out: str, sections: Sequence[str], copt: CorpusOptions) -> str:
    """Tagged corpus (``--missing token``) for one input row; returns its data dir (built once)."""
    data_dir = os.path.join(out, "data")
    record = os.path.join(out, "corpus_options.json")
    wanted = {"data": os.path.abspath(data), "sections": list(sections), **corpus_key(sections, copt)}
    if os.path.exists(os.path.join(data_dir, "src-test.txt")):
        built = json.load(open(record)) if os.path.exists(record) else None
        if built != wanted:  # a resumed table must not mix representations across its cells
            raise ValueError(
                f"{out}: built with {built}, asked for {wanted}; use another --out "
                "or delete the folder (and the cells trained on it)"
            )
        return data_dir
    from onmt_moe.data.pipeline import generate

    flags = {s: True for s in ["formula", *sections]}
    generate(
        data,
        out,
        format="tagged",
        missing="token",
        ir_points=copt.ir_points,
        msms_top_k=copt.msms_top_k,
        nmr_decimals=copt.nmr_decimals,
        max_src_tokens=copt.max_src_tokens,
        progress=False,
        **flags,
    )
    with open(record, "w") as fh:
        json.dump(wanted, fh, indent=1)
    return data_dir


def _mean_tok_per_s(path: str) -> float | None:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))[1:]  # the first report includes start-up
    vals = [float(r["src_tok_per_s"]) + float(r["tgt_tok_per_s"]) for r in rows]
    return sum(vals) / len(vals) if vals else None


def last_validation_accuracy(run_dir: str) -> float | None:
    """Teacher-forced token accuracy of the last validation pass (valid_summary.csv's percent, as a fraction
    like the top-k columns), or None. It tells the input rows apart before beam search does."""
    path = os.path.join(run_dir, VALID_SUMMARY)
    if not os.path.exists(path):
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return float(rows[-1]["accuracy"]) / 100 if rows else None


def decoding_dir(run_dir: str, decoding: str) -> str:
    """Where a decoding's scores.json lives: the run folder itself for ``beam``, else pred_<decoding>/."""
    return run_dir if decoding == "beam" else os.path.join(run_dir, f"pred_{decoding}")


def decode_cell(run_dir: str, data_dir: str, decoding: str) -> None:
    """Decode a finished cell's test split again with ``decoding``'s flags and score it (once: a scored
    decoding is kept). The checkpoint and every other setting are the run's own translate.yaml."""
    from onmt_moe.evaluation.scoring import score_files

    where = decoding_dir(run_dir, decoding)
    if decoding == "beam" or os.path.exists(os.path.join(where, SCORES_JSON)):
        return
    config = os.path.join(run_dir, TRANSLATE_YAML)
    if not os.path.isfile(config):
        raise RuntimeError(f"{run_dir}: no {TRANSLATE_YAML} (the cell has not decoded yet)")
    os.makedirs(where, exist_ok=True)
    src, tgt = os.path.join(data_dir, "src-test.txt"), os.path.join(data_dir, "tgt-test.txt")
    pred = os.path.join(where, "test.txt")
    cmd = runner.onmt_command("onmt_translate") + ["-config", config, "-src", src, "-output", pred]
    runner.run_logged([*cmd, *DECODINGS[decoding]], os.path.join(where, "translate.log"), False)
    with open(config, encoding="utf-8") as fh:
        n_best = int(yaml.safe_load(fh).get("n_best", 1))
    out_json, ranks = os.path.join(where, SCORES_JSON), os.path.join(where, RANKS_CSV)
    score_files(pred, tgt, n_best, src_path=src, out_json=out_json, ranks_csv=ranks)


def cell_result(
    run_dir: str, inp: str, model: str, seed: int, steps: int, representation: str = "words", decoding: str = "beam"
) -> dict:
    """One row of the table from a finished run folder (and, for ``decoding``, its decoded test split)."""
    info = read_run_json(run_dir)
    scores = json.load(open(os.path.join(decoding_dir(run_dir, decoding), SCORES_JSON)))  # the scorer's report
    topk = scores["topk"]
    return {
        "input": inp,
        "model": model,
        "representation": representation,
        "decoding": decoding,
        "seed": seed,
        "steps": steps,
        "top1": topk.get("1"),
        "top5": topk.get("5"),
        "top10": topk.get("10"),
        "invalid": scores.get("invalid_rate_top1"),
        "formula_top1": scores.get("formula_consistent_topk", {}).get("1"),
        "val_acc": last_validation_accuracy(run_dir),
        # MoE cells: how much a token's expert says about its modality (0 none .. 1 one expert set each)
        "routing_mi": run_routing_mi(run_dir),
        "train_tok_per_s": _mean_tok_per_s(os.path.join(run_dir, TRAIN_STEPS)),
        "params_total": info.get("params_total"),
        "params_active": info.get("params_active"),
        "train_seconds": info.get("stages", {}).get("train", {}).get("seconds"),
        "machine": runner.machine_line(info["machine"]) if info.get("machine") else None,
        "run_dir": run_dir,
    }


def cell_job(
    data_dir: str, run_dir: str, model: str, seed: int, steps: int, extra_sets: Sequence[str]
) -> runner.Launch:
    """The training run of one cell."""
    template, sets = MODELS[model]
    cell_sets = [
        f"train_steps={steps}",
        # a killed cell (a 2-core session ends every process) resumes from at most 500 steps back
        f"save_checkpoint_steps={min(steps, CHECKPOINT_EVERY)}",
        f"seed={seed}",
        *BATCH_SETS,
        *TABLE_RECIPE_SETS,
        *sets,
        *extra_sets,
    ]
    stages = ("vocab", "train", "translate", "score")
    return runner.Launch(os.path.join(ROOT, template), run_dir, data_dir, cell_sets, stages)


def run_cell(data_dir: str, run_dir: str, model: str, seed: int, steps: int, extra_sets: Sequence[str]) -> None:
    """Train, decode and score one cell in this process (resumes a half-finished folder)."""
    if not runner.launch(cell_job(data_dir, run_dir, model, seed, steps, extra_sets)):
        raise RuntimeError(f"cell {os.path.basename(run_dir)} failed; see {run_dir}/train.log")


def run_table(
    data: str,
    out: str,
    inputs: Sequence[str],
    models: Sequence[str],
    seeds: Sequence[int],
    steps: int,
    copt: CorpusOptions | None = None,
    extra_sets: Sequence[str] = (),
    max_hours: float | None = None,
    log=print,
    read_only: bool = False,
    representation: str = "words",
    decodings: Sequence[str] = ("beam",),
) -> list[dict]:
    """Run (or read back) every cell; returns the rows of the cells that are finished, one per decoding.
    ``read_only``: only read back, never train or decode (an unfinished cell is named and left out).
    ``representation``: a key of :data:`REPRESENTATIONS` (its overrides join ``extra_sets``).
    ``decodings``: keys of :data:`DECODINGS`; each finished cell is decoded once more per extra one."""
    copt = copt or CorpusOptions()
    extra_sets = [*REPRESENTATIONS[representation], *extra_sets]
    tag = "" if representation == "words" else f"_{representation}"
    t0 = time.time()
    rows, cell_secs = [], []
    for inp in inputs:
        corpus = os.path.join(out, f"corpus_{inp}")
        # reading back needs no corpus (and must not build one from a data folder that may be absent)
        data_dir = corpus if read_only else build_corpus(data, corpus, INPUTS[inp], copt)
        for model in models:
            for seed in seeds:
                run_dir = os.path.join(out, f"{inp}_{model}{tag}_s{seed}")
                if not os.path.exists(os.path.join(run_dir, SCORES_JSON)):
                    if read_only:
                        log(f"==> {os.path.basename(run_dir)}: not finished, left out (--read_only)")
                        continue
                    est = max(cell_secs) if cell_secs else 0.0
                    if max_hours is not None and time.time() - t0 + est > max_hours * 3600:
                        log(
                            f"==> stopping before {os.path.basename(run_dir)}: the time budget "
                            f"({max_hours} h) is spent; run the same command again to continue"
                        )
                        return rows
                    log(f"==> {os.path.basename(run_dir)}")
                    t_cell = time.time()
                    run_cell(data_dir, run_dir, model, seed, steps, extra_sets)
                    cell_secs.append(time.time() - t_cell)
                for dec in decodings:
                    if read_only and not os.path.exists(os.path.join(decoding_dir(run_dir, dec), SCORES_JSON)):
                        continue
                    if not read_only:
                        decode_cell(run_dir, data_dir, dec)
                    rows.append(cell_result(run_dir, inp, model, seed, steps, representation, dec))
    return rows


def format_cell(v) -> str:
    """A markdown table cell: fractions to 4 places, large numbers as integers, None as a dash."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def summary_rows(rows: Sequence[dict]) -> list[dict]:
    """Mean and spread (max - min) of top-1/5/10 over seeds, one row per (input, model)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["input"], r["model"], r.get("representation") or "words", r.get("decoding") or "beam")
        groups.setdefault(key, []).append(r)
    out = []
    for (inp, model, rep, dec), rs in groups.items():
        row = {"input": inp, "model": model, "representation": rep, "decoding": dec, "seeds": len(rs)}
        for k in ("top1", "top5", "top10", "invalid", "formula_top1", "val_acc", "routing_mi"):
            vals = [r.get(k) for r in rs if r.get(k) is not None]
            row[k] = sum(vals) / len(vals) if vals else None
            row[f"{k}_spread"] = (max(vals) - min(vals)) if len(vals) > 1 else None
        row["params_total"], row["params_active"] = rs[0]["params_total"], rs[0]["params_active"]
        row["train_tok_per_s"] = rs[0]["train_tok_per_s"]
        out.append(row)
    return out


def markdown(rows: Sequence[dict]) -> str:
    cols = [
        "input",
        "model",
        "representation",
        "decoding",
        "seeds",
        "top1",
        "top1_spread",
        "top5",
        "top10",
        "formula_top1",
        "invalid",
        "val_acc",
        "routing_mi",
        "train_tok_per_s",
        "params_total",
        "params_active",
    ]
    return markdown_table(summary_rows(rows), cols)


def markdown_table(rows: Sequence[dict], cols: Sequence[str]) -> str:
    """A markdown table of ``cols`` (one line per row; cells by :func:`format_cell`)."""
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(format_cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_csv(rows: Sequence[dict], csv_path: str, columns: Sequence[str]) -> None:
    """One CSV line per row (None as an empty field); creates the folder."""
    os.makedirs(os.path.dirname(os.path.abspath(csv_path)), exist_ok=True)
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in columns})


def read_rows(csv_path: str) -> list[dict]:
    """The cells of a table written by :func:`write_csv` (numbers back as int/float, empty as None)."""
    if not os.path.exists(csv_path):
        return []
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in ("input", "model", "seed") if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"{csv_path}: not a paper table (no {missing[0]!r} column)")
    ints = {"seed", "steps", "params_total", "params_active"}
    text = {"input", "model", "representation", "decoding", "run_dir", "machine"}
    out = []
    for r in rows:
        cell = {}
        for k, v in r.items():
            if k in text or v == "":
                cell[k] = v if v != "" else None
            else:
                cell[k] = int(float(v)) if k in ints else float(v)
        cell["representation"] = cell.get("representation") or "words"  # rows from before the column
        cell["decoding"] = cell.get("decoding") or "beam"
        out.append(cell)
    return out


def cell_key(row: dict) -> tuple:
    """Where a cell sits in the table: input row order, model order, representation, decoding, then seed."""
    inputs, models, reps = list(INPUTS), list(MODELS), list(REPRESENTATIONS)
    rep, dec = row.get("representation") or "words", row.get("decoding") or "beam"
    return (inputs.index(row["input"]), models.index(row["model"]), reps.index(rep), dec, int(row["seed"]))


def merge_rows(kept: Sequence[dict], new: Sequence[dict]) -> list[dict]:
    """``new`` cells replace ``kept`` ones with the same (input, model, representation, decoding, seed); the
    others stay, in table order.
    Lets a session add cells to a committed table without the run folders of the cells already in it."""
    by_key = {cell_key(r): r for r in kept}
    by_key.update({cell_key(r): r for r in new})
    return [by_key[k] for k in sorted(by_key)]


def write_outputs(rows: Sequence[dict], csv_path: str, plot_path: str | None = None) -> None:
    """One CSV row per cell (and seed), a markdown table beside it, a grouped bar plot of top-1."""
    write_csv(rows, csv_path, COLUMNS)
    with open(os.path.splitext(csv_path)[0] + ".md", "w") as fh:
        fh.write(markdown(rows) + "\n")
    if plot_path and rows:
        plot_top1(summary_rows(rows), plot_path)


def plot_top1(summary: Sequence[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs = [i for i in INPUTS if any(r["input"] == i for r in summary)]
    label = {
        id(r): r["model"]
        + "".join(f" ({v})" for v in (r.get("representation"), r.get("decoding")) if v not in (None, "words", "beam"))
        for r in summary
    }
    models = sorted(set(label.values()))
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(1.4 * len(inputs) + 2, 3.5))
    for m_i, model in enumerate(models):
        xs, ys, err = [], [], []
        for i_i, inp in enumerate(inputs):
            r = next((r for r in summary if r["input"] == inp and label[id(r)] == model), None)
            if r and r["top1"] is not None:
                xs.append(i_i + (m_i - (len(models) - 1) / 2) * width)
                ys.append(100 * r["top1"])
                err.append(100 * (r["top1_spread"] or 0) / 2)
        ax.bar(xs, ys, width, yerr=err, label=model, capsize=2)
    ax.set_xticks(range(len(inputs)))
    ax.set_xticklabels(inputs)
    ax.set_ylabel("top-1 (%)")
    ax.set_title("dense vs modality-aware MoE\n(equal steps, equal active parameters)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
