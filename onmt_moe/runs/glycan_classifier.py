"""A closed-set glycan structure classifier: CandyCrunch's idea (a network over a binned intensity vector,
one class per known structure) at CPU scale, on the demo's structure corpus.

The generative model has to write a WURCS string token by token; a classifier only has to say which of
the training structures a spectrum is. That is the closed-set protocol (``make demo-glycan
--split_mode library``: test spectra are new spectra of trained structures); on a de novo split no
test structure is a class, so it cannot be right there.

Input: the structure task's files (``<corpus>/data/struct/{src,tgt}-{train,test}.txt``). A source's
``<MS>`` segment (``PMZ_k CHARGE_z MZ_m INT_i …``, :func:`onmt_moe.glycan.demo_table.ms_spectrum`)
becomes a vector of ``N_BINS`` m/z bins holding ``(i + 1) / INT_LEVELS`` (0 where no peak): exactly what
the generative model reads. A two-layer MLP is trained on it with cross-entropy; at test time only the
classes seen with the query's precursor token compete (every class when none was), the mass filter every
glycan tool applies. Predictions are written as ``k`` WURCS lines per test source and scored by the run
scorer (graph identity), beside the ``nearest_spectrum`` look-up on the same files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from onmt_moe.evaluation.files import read_lines
from onmt_moe.glycan.demo_table import ms_spectrum, nearest_spectrum_targets, strip_prefix
from onmt_moe.runs import result_csv

N_BINS = 4096  # 1-Da bins: the corpus' m/z bin width, up to 4,096
INT_LEVELS = 10  # the corpus' intensity bins (INT_0 .. INT_9)
COLUMNS = ["corpus", "method", "n", "top1", "top3", "seconds", "machine"]
FILES = ("src-train.txt", "tgt-train.txt", "src-test.txt")  # of a structure task folder


@dataclass
class FitConfig:
    hidden: int = 512
    epochs: int = 40
    batch: int = 64
    lr: float = 1e-3
    dropout: float = 0.2
    seed: int = 0


def spectrum_vector(source: str) -> np.ndarray:
    """The binned intensity vector of a source line's ``<MS>`` segment (zeros when it has none)."""
    return _vector(ms_spectrum(source))


def _vector(sp) -> np.ndarray:
    v = np.zeros(N_BINS, dtype=np.float32)
    for mz, level in (sp[1] if sp else {}).items():
        if 0 <= mz < N_BINS:
            v[mz] = (level + 1) / INT_LEVELS
    return v


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, cfg: FitConfig):
    """A two-layer MLP over the vectors, trained with Adam on cross-entropy (CPU, seconds)."""
    import torch

    torch.manual_seed(cfg.seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], cfg.hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(cfg.dropout),
        torch.nn.Linear(cfg.hidden, n_classes),
    )
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(cfg.seed)
    net.train()
    for _ in range(cfg.epochs):
        for idx in torch.randperm(len(xs), generator=gen).split(cfg.batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xs[idx]), ys[idx]).backward()
            opt.step()
    return net.eval()


def top_classes(net, x: np.ndarray, allowed: Sequence[np.ndarray | None], k: int) -> list[list[int]]:
    """Per row, the ``k`` best classes among ``allowed`` (indices; None: every class)."""
    import torch

    with torch.no_grad():
        logits = net(torch.from_numpy(x)).numpy()
    out = []
    for row, ok in zip(logits, allowed, strict=True):
        if ok is not None:
            masked = np.full_like(row, -np.inf)
            masked[ok] = row[ok]
            row = masked
        order = [int(c) for c in np.argsort(-row, kind="stable") if np.isfinite(row[c])]
        out.append(order[:k])
    return out


def read_task(task_dir: str, prefix: str = "") -> tuple[list[str], list[str], list[str]]:
    """(training sources, training targets without ``prefix``, test sources) of a structure task folder."""
    src_train, tgt_train, src_test = (read_lines(os.path.join(task_dir, f)) for f in FILES)
    return src_train, [strip_prefix(t, prefix) for t in tgt_train], src_test


def classify(task_dir: str, k: int = 3, cfg: FitConfig | None = None, prefix: str = "") -> list[str]:
    """``k`` predicted WURCS lines per test source of a structure task folder (fewer classes: repeated)."""
    return classify_lines(*read_task(task_dir, prefix), k, cfg or FitConfig())


def classify_lines(src_train, tgt_train, src_test, k: int, cfg: FitConfig) -> list[str]:
    """:func:`classify` on the task's lines (targets without their task token)."""
    classes = sorted(set(tgt_train))
    index = {t: i for i, t in enumerate(classes)}
    train, test = [ms_spectrum(s) for s in src_train], [ms_spectrum(s) for s in src_test]
    by_prec: dict[str | None, set[int]] = {}
    for sp, t in zip(train, tgt_train, strict=True):
        by_prec.setdefault(sp[0] if sp else None, set()).add(index[t])
    x = np.stack([_vector(sp) for sp in train])
    net = fit(x, np.array([index[t] for t in tgt_train], dtype=np.int64), len(classes), cfg)
    precs = [sp[0] if sp else None for sp in test]
    allowed = [np.array(sorted(by_prec[p])) if p in by_prec else None for p in precs]
    tops = top_classes(net, np.stack([_vector(sp) for sp in test]), allowed, k)
    return [classes[c] for top in tops for c in (top + [top[-1]] * k)[:k]]


def score(task_dir: str, lines: list[str], n_best: int, out: str) -> dict:
    """The run scorer (``kind wurcs``) on prediction lines written to ``out``."""
    from onmt_moe.evaluation.scoring import score_files

    with open(out, "w", encoding="utf-8") as fh:
        fh.write("".join(ln + "\n" for ln in lines))
    src, tgt = os.path.join(task_dir, "src-test.txt"), os.path.join(task_dir, "tgt-test.txt")
    return score_files(out, tgt, n_best, src_path=src, kind="wurcs")


def run(corpus: str, work: str, prefix: str = "<TASK_STRUCT>", cfg: FitConfig | None = None) -> list[dict]:
    """The classifier and the nearest_spectrum look-up on one corpus' structure task: table rows."""
    task_dir = os.path.join(corpus, "data", "struct")
    os.makedirs(work, exist_ok=True)
    rows = []
    task = read_task(task_dir, prefix)
    t0 = time.time()
    preds = classify_lines(*task, 3, cfg or FitConfig())
    methods = {"classifier": (preds, 3, time.time() - t0)}
    t0 = time.time()
    methods["nearest_spectrum"] = (nearest_spectrum_targets(*task), 1, time.time() - t0)
    for method, (lines, n_best, secs) in methods.items():
        s = score(task_dir, lines, n_best, os.path.join(work, f"{method}.txt"))
        topk = s.get("topk") or {}
        row = {"corpus": corpus, "method": method, "n": s.get("n"), "top1": topk.get("1"), "top3": topk.get("3")}
        rows.append(dict(row, seconds=round(secs, 1)))
    return rows


def write_rows(path: str, rows: list[dict]) -> None:
    """Merge ``rows`` into the CSV at ``path`` (rows of the same corpus replaced), the machine on each."""
    result_csv.merge_rows(path, rows, "corpus", COLUMNS)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", required=True, help="a demo-glycan corpus folder (repeatable)")
    ap.add_argument("--work", default=os.path.join("runs", "glycan_classifier"))
    ap.add_argument("--results", default=os.path.join("benchmark", "results", "glycan_classifier.csv"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rows = []
    for corpus in a.corpus:
        if not os.path.isfile(os.path.join(corpus, "data", "struct", "src-train.txt")):
            print(f"error: {corpus}: no data/struct/src-train.txt (a demo-glycan corpus)", file=sys.stderr)
            return 2
        work = os.path.join(a.work, os.path.basename(os.path.normpath(corpus)))
        rows += run(corpus, work, cfg=FitConfig(seed=a.seed))
    for r in rows:
        print(f"{r['corpus']}: {r['method']} top-1 {r['top1']}, top-3 {r['top3']} (n {r['n']}, {r['seconds']} s)")
    write_rows(a.results, rows)
    print(f"wrote {a.results}")
    return 0
