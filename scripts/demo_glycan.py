#!/usr/bin/env python
"""`make demo-glycan`: one multi-task GlycoLLM-style model on CPU — structure, spectrum, text, retrieval.

0. build a small glycan set from glycowork's df_glycan (scripts/build_glycan_dataset.py: verified WURCS,
   SYNTHETIC negative-mode MS/MS, metadata text; skipped when the folder exists);
1. one multi-task corpus, one vocabulary (benchmark/generate_glycan_input.py --multitask
   struct,spec,text,align --text): spectra(+text) -> WURCS, WURCS -> spectrum, WURCS + spectrum -> text,
   spectrum + WURCS (+text) -> composition (the alignment task); every training target starts with
   its task token, which decoding forces (without it the decoder ignored the task at 600 steps);
2. train it with the stock OpenNMT commands (what benchmark/start_training.py does, in this process;
   configs/glycan_multitask.yaml):
   within-modality attention then one cross-modal fusion layer, modality type embeddings, per-segment
   positions, contrastive alignment MS<->WURCS, TEXT<->WURCS, MS<->TEXT (temperature 0.07, triplet
   margin 0.2, same-precursor-mass hard negatives); per-task rows in train_tasks.csv / valid_tasks.csv;
3. decode and score every task's test set with its own scorer, then benchmark/retrieve.py;
4. print the scores, and the table of every task against a baseline without a model and chance
   (benchmark/results/glycan_demo.csv and .md; --results).

    python scripts/demo_glycan.py [--structures 1500] [--steps 600] [--run_name glycan_demo] [--set k=v] [--fresh] [--results CSV]

Needs requirements-glycan.txt (glypy, glycowork). The spectra are simulated: the scores measure how
well the model inverts the simulator, not real-instrument accuracy (docs/glycan.md).
Thin CLI over onmt_moe.runs.demo_glycan.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from onmt_moe.runs.demo_glycan import GlycanDemo, run_demo  # noqa: E402


def parser() -> argparse.ArgumentParser:
    d = GlycanDemo()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="glycan set folder (default data/glycan_demo[_library<K>])")
    ap.add_argument("--structures", type=int, default=d.structures, help="structures to build (seeded, 80/10/10 split)")
    ap.add_argument("--max_residues", type=int, default=d.max_residues)
    ap.add_argument("--corpus", default=None, help="multi-task corpus folder (default <data>_mt)")
    ap.add_argument("--config", default=d.config)
    ap.add_argument("--runs_dir", default=d.runs_dir)
    ap.add_argument("--run_name", default=d.run_name)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--beam", type=int, default=d.beam)
    ap.add_argument("--max_candidates", type=int, default=d.max_candidates, help="closed-set candidates per query")
    ap.add_argument("--workers", type=int, default=d.workers)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="more start_training --set")
    ap.add_argument("--fresh", action="store_true", help="delete an existing run folder of the same name first")
    ap.add_argument(
        "--tasks",
        default=d.tasks,
        help="comma list of struct, spec, text, align (e.g. struct: the single-task model at the same budget)",
    )
    ap.add_argument(
        "--numeric_peaks",
        action="store_true",
        help="spectra as numbers (PK <m/z bin> <intensity bin>) read by -value_embedding replace",
    )
    ap.add_argument(
        "--split_mode",
        default=d.split_mode,
        choices=("structure", "library"),
        help="library (default): new spectra of trained structures; structure: test structures never trained on",
    )
    ap.add_argument(
        "--spectra_per_structure", type=int, default=None, help="simulated spectra per structure (3 library, 1 de novo)"
    )
    ap.add_argument("--results", default=d.results, help="the table's CSV (every task vs a baseline; .md beside it)")
    return ap


def main(argv=None) -> int:
    return run_demo(GlycanDemo(**vars(parser().parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main())
