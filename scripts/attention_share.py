#!/usr/bin/env python
"""Share of the decoder's cross-attention that each source modality gets, for trained runs.

    python scripts/attention_share.py runs/bench_paper/NMR+IR+MS_moe_s1 [more run folders] \\
        [--split val] [--n 300] [--csv benchmark/results/attention_share.csv]

Each run folder's newest readable checkpoint and its corpus (run.json ``data_dir``) are used; the first
``--n`` molecules of ``--split`` are teacher-forced on their reference SMILES. Prints one row per run
and segment: attention share (all decoder layers and heads), share of source tokens, their ratio, and
the attention share layer by layer. Thin CLI over onmt_moe.diagnostics.attention.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.diagnostics.analysis import ModelLoadError, load_onmt_model  # noqa: E402
from onmt_moe.diagnostics.attention import cross_attention_share  # noqa: E402
from onmt_moe.runfolder import read_run_json, trusting_checkpoints  # noqa: E402
from onmt_moe.runs.paper_table import markdown_table, write_csv  # noqa: E402
from onmt_moe.runs.runner import latest_good_checkpoint  # noqa: E402


def _lines(path: str, n: int):
    with open(path, encoding="utf-8") as f:
        return [ln.split() for _, ln in zip(range(n), f)]


def run_rows(run_dir: str, split: str, n: int) -> list:
    data_dir = read_run_json(run_dir)["data_dir"]
    ckpt = latest_good_checkpoint(run_dir)
    if ckpt is None:
        raise ModelLoadError(f"{run_dir}: no readable checkpoint")
    model, vocabs, _, _ = load_onmt_model(ckpt)
    src = _lines(os.path.join(data_dir, f"src-{split}.txt"), n)
    tgt = _lines(os.path.join(data_dir, f"tgt-{split}.txt"), n)
    res = cross_attention_share(model, vocabs, src, tgt)
    rows = []
    for seg in res["segments"]:
        att, tok = res["attention"][seg], res["tokens"][seg]
        row = {"run": os.path.basename(run_dir.rstrip("/")), "segment": seg, "attention": round(att, 4)}
        row.update({"tokens": round(tok, 4), "ratio": round(att / tok, 2) if tok else ""})
        row.update({f"layer{i}": round(d[seg], 4) for i, d in enumerate(res["attention_by_layer"])})
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders (start_training.py / bench_paper cells)")
    ap.add_argument("--split", default="val", choices=["train", "val", "test"])
    ap.add_argument("--n", type=int, default=300, help="molecules")
    ap.add_argument("--csv", default="", help="also write the rows here")
    ap.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load the checkpoints as full pickles (they can run code): only for runs you trust",
    )
    a = ap.parse_args(argv)
    rows = []
    for run_dir in a.runs:
        try:
            with trusting_checkpoints(a.trust_checkpoint):
                rows += run_rows(run_dir, a.split, a.n)
        except (OSError, KeyError, ValueError) as e:  # ModelLoadError is a ValueError
            print(f"error: {run_dir}: {e}", file=sys.stderr)
            return 2
    cols = list(dict.fromkeys(k for r in rows for k in r))
    print(markdown_table(rows, cols))
    if a.csv:
        write_csv(rows, a.csv, cols)
    return 0


if __name__ == "__main__":
    sys.exit(main())
