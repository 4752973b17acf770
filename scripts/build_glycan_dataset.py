#!/usr/bin/env python
"""Build the glycan MS/MS -> WURCS dataset (see docs/glycan.md).

python scripts/build_glycan_dataset.py --out data/glycan --limit 3000 --max_residues 12 --workers 2
python scripts/build_glycan_dataset.py --out data/glycan_yield --convert_only --workers 2  # yield only
# seen structures, new spectra (another noise seed) of 1,000 training structures, as a test set:
python scripts/build_glycan_dataset.py --resimulate data/glycan --out data/glycan_seen --limit 1000 --seed 99
# spectra nearer to real ion-trap LC-MS/MS of reduced N- and O-glycans (docs/glycan.md, issue 17):
python scripts/build_glycan_dataset.py --out data/glycan_reduced --limit 3000 --glycan_types N,O \
       --reducing_end reduced --mz_sigma 0.15 --sharpen 2
# a closed-set library: every N/O structure in train with 3 spectra, val/test new spectra of seen ones
python scripts/build_glycan_dataset.py --out data/glycan_library --glycan_types N,O --reducing_end reduced \
       --mz_sigma 0.15 --intensity_rules fitted --spectra_per_structure 3 --split_mode library
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.dataset import SPLIT_MODES, MissingDependency, build, resimulate  # noqa: E402
from onmt_moe.glycan.fragments import add_real_spectrum_options, real_spectrum_knobs  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0, help="stop after N accepted structures (seeded order); 0 = all")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max_residues", type=int, default=12, help="skip larger glycans; 0 = no limit")
    ap.add_argument("--seed", type=int, default=13, help="candidate order and spectrum noise")
    ap.add_argument("--split_seed", type=int, default=0)
    ap.add_argument("--convert_only", action="store_true", help="only convert+verify (writes wurcs.tsv)")
    ap.add_argument(
        "--resimulate",
        metavar="DATASET",
        help="instead of building: new spectra (noise --seed) of --from_split structures of DATASET",
    )
    ap.add_argument("--from_split", default="train", help="with --resimulate (default train)")
    ap.add_argument(
        "--spectra_per_structure",
        type=int,
        default=1,
        help="training spectra per structure, one noise seed each (--seed, --seed+1, ...)",
    )
    ap.add_argument(
        "--split_mode",
        choices=SPLIT_MODES,
        default="structure",
        help="structure: val/test structures never in train (de novo); library: every structure in train, "
        "val/test = new spectra of a hashed 10%%/10%% of them (closed set, as CandyCrunch)",
    )
    ap.add_argument(
        "--glycan_types", default="", help="only df_glycan rows of these glycan_type values, e.g. N,O (default all)"
    )
    add_real_spectrum_options(ap)
    a = ap.parse_args(argv)
    sim = real_spectrum_knobs(a)
    try:
        if a.resimulate:
            # the input dataset's simulator knobs, those given here overriding them
            resimulate(a.resimulate, a.out, from_split=a.from_split, limit=a.limit, seed=a.seed, sim=sim)
            return 0
        s = build(
            a.out,
            limit=a.limit,
            workers=a.workers,
            max_residues=a.max_residues,
            seed=a.seed,
            split_seed=a.split_seed,
            convert_only=a.convert_only,
            log=lambda m: print(m, flush=True),
            sim=sim,
            glycan_types=[t.strip() for t in a.glycan_types.split(",") if t.strip()],
            spectra_per_structure=a.spectra_per_structure,
            split_mode=a.split_mode,
        )
    except (MissingDependency, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s.pop("schema", None)
    print(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
