"""`make finetune-real`: the simulation-trained model (``make model-real``) continued on measured spectra.

The fine-tuning corpus is made of the rows of a measured-spectra TSV (the layout of
:mod:`onmt_moe.runs.real_spectra`) in its ``finetune`` part, validated on its ``val`` part; the
``test`` part, which ``make bench-real`` scores, is never read for training. Rows whose molecule
(InChIKey connectivity block) is in the test part of the scored file are left out as well, so a
molecule measured twice cannot leak. Every row becomes one example per input condition (¹³C only,
and ¹H + ¹³C where it has ¹H), its source line made by the predictor's own reader and formatter
(:func:`onmt_moe.predict.source.build_source` with the pretrained model's corpus settings): the
model is fine-tuned on exactly the lines ``onmt_moe_predict`` will give it. The corpus'
``summary.json`` records the pretrained corpus' formatting, which the checkpoint carries.

Training is ``start_training --init_from`` (:mod:`onmt_moe.runs.finetune`) with a constant learning
rate (docs/usage.md, fine-tuning), resumable; ``make bench-real MODEL=runs/model_real_ft`` scores it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field

from onmt_moe.predict import InputError
from onmt_moe.runs import real_spectra as rs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the fine-tuning recipe (docs/usage.md): a constant rate about a tenth of where pretraining ended
FINETUNE_SETS = [
    "decay_method=none",
    "learning_rate=0.0003",
    "warmup_steps=1",
    "dropout=[0.1]",  # a few hundred spectra seen ~20 times: the pretraining's dropout 0 would memorise them
    "attention_dropout=[0.1]",
    "batch_type=sents",
    "batch_size=32",
    "valid_batch_size=32",
    "valid_steps=100",
    "save_checkpoint_steps=100",
    "keep_checkpoint=-1",
]


@dataclass
class RealFinetune:
    model: str = os.path.join(ROOT, "runs", "model_real")  # a run folder (newest checkpoint) or a .pt
    data: Sequence[str] = field(default_factory=lambda: [os.path.join(ROOT, "data", "real_nmr", "literature.tsv")])
    scored: str = os.path.join(ROOT, "data", "real_nmr", "literature.tsv")  # the file bench-real scores
    corpus: str = os.path.join(ROOT, "data", "real_nmr_ft")
    config: str = os.path.join(ROOT, "configs", "real_moe.yaml")
    run_dir: str = os.path.join(ROOT, "runs", "model_real_ft")
    steps: int = 600


def connectivity(smiles: str) -> str:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToInchiKey(mol).split("-")[0] if mol is not None else ""


def test_keys(path: str) -> set[str]:
    """The connectivity keys of the test part of the scored file."""
    return {connectivity(r.smiles) for r in rs.read_rows(path, []) if rs.split_of(r.id) == "test"}


def examples(rows: Sequence[rs.Row], cfg) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(source line, target)`` per row and condition, and the ``(id, reason)`` of rows the predictor
    refuses (kept out, counted)."""
    from onmt_moe.predict.cli import read_sample
    from onmt_moe.predict.source import build_source
    from onmt_moe.smiles import tokenize_smiles

    pairs, rejects = [], []
    for r in rows:
        for cond in ("c", "hc") if r.h_text else ("c",):
            try:
                h = r.h_text if cond == "hc" else None
                sample = read_sample(r.id, formula=r.formula, h_nmr=h, c_nmr=r.c_text)
                pairs.append((build_source(sample, cfg).line, tokenize_smiles(r.smiles)))
            except InputError as e:
                rejects.append((f"{r.id} ({cond})", str(e)))
    return pairs, rejects


def _write(path: str, lines: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_corpus(ft: RealFinetune, checkpoint: str, log=print) -> dict:
    """The fine-tuning corpus in ``ft.corpus`` (``data/src-train.txt`` …, ``summary.json``); its counts."""
    from onmt_moe.inference.decode import checkpoint_info
    from onmt_moe.predict import settings

    _, train_src, recorded = checkpoint_info(checkpoint)
    cfg = settings.resolve(checkpoint, None, train_src, recorded)
    held_out = test_keys(ft.scored)
    parts: dict[str, list[rs.Row]] = {"finetune": [], "val": []}
    rejects: list[tuple[str, str]] = []
    seen: set[str] = set()  # a row in two files (the literature rows are also in the full set) once
    for path in ft.data:
        for r in rs.read_rows(path, rejects):
            part = rs.split_of(r.id)
            if part in parts and r.id not in seen and connectivity(r.smiles) not in held_out:
                parts[part].append(r)
            seen.add(r.id)
    data = os.path.join(ft.corpus, "data")
    os.makedirs(data, exist_ok=True)
    counts = {}
    for part, name in (("finetune", "train"), ("val", "val")):
        pairs, bad = examples(parts[part], cfg)
        rejects += bad
        _write(os.path.join(data, f"src-{name}.txt"), [s for s, _ in pairs])
        _write(os.path.join(data, f"tgt-{name}.txt"), [t for _, t in pairs])
        counts[name] = len(pairs)
    for name in ("src", "tgt"):  # the runner wants a test split: the val part (bench-real scores test)
        shutil.copyfile(os.path.join(data, f"{name}-val.txt"), os.path.join(data, f"{name}-test.txt"))
    f = cfg.formatting  # the pretrained corpus' record: what start_training --init_from compares
    summary = {"format": f.fmt, "sections": list(f.sections), "missing_mode": f.missing, "groups": f.groups}
    with open(os.path.join(data, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump({**summary, "formatting": f.to_dict(), "built_by": "onmt_moe.runs.real_finetune"}, fh, indent=1)
    with open(os.path.join(ft.corpus, "rejects.tsv"), "w", encoding="utf-8") as fh:
        fh.writelines(f"{i}\t{why}\n" for i, why in rejects)
    counts["rejected"] = len(rejects)
    with open(os.path.join(ft.corpus, "counts.json"), "w", encoding="utf-8") as fh:
        json.dump(counts, fh, indent=1)
    log(f"fine-tuning corpus {data}: {counts['train']} train / {counts['val']} val examples, {len(rejects)} rejected")
    return counts


def run(ft: RealFinetune, log=print) -> int:
    """Build the corpus (again: it is cheap) and fine-tune, resuming a killed run."""
    from onmt_moe.runfolder.checkpoints import checkpoints
    from onmt_moe.runs import runner

    ckpt = ft.model
    if os.path.isdir(ckpt):
        found = checkpoints(ckpt)
        if not found:
            raise FileNotFoundError(f"{ckpt}: no checkpoint; run `make model-real` first")
        ckpt = found[-1]
    counts = write_corpus(ft, ckpt, log)
    if counts["train"] == 0:
        raise ValueError(f"no fine-tuning example in the finetune part of {', '.join(ft.data)}")
    sets = [*FINETUNE_SETS, f"train_steps={ft.steps}"]
    job = runner.Launch(ft.config, ft.run_dir, os.path.join(ft.corpus, "data"), sets, init_from=ckpt)
    return 0 if runner.launch(job) else 1


__all__ = ["FINETUNE_SETS", "RealFinetune", "examples", "run", "test_keys", "write_corpus"]
