#!/usr/bin/env python
"""`make finetune-real` (thin CLI over onmt_moe.runs.real_finetune): the simulation-trained model
continued on the finetune part of measured spectra, validated on their val part (the test part,
which `make bench-real` scores, is never trained on). Resumable.

    python scripts/finetune_real.py [--model runs/model_real] [--data data/real_nmr/literature.tsv [more.tsv]]
        [--steps 600] [--run_dir runs/model_real_ft]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.predict import InputError  # noqa: E402
from onmt_moe.runs.real_finetune import RealFinetune, run  # noqa: E402
from onmt_moe.runs.real_spectra import RealDataError  # noqa: E402


def main(argv=None) -> int:
    d = RealFinetune()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=d.model, help="pretrained run folder (newest checkpoint) or checkpoint")
    ap.add_argument("--data", nargs="+", default=list(d.data), help="measured-spectra TSVs (real_nmr layout)")
    ap.add_argument("--scored", default=d.scored, help="the file bench-real scores (its test molecules held out)")
    ap.add_argument("--corpus", default=d.corpus)
    ap.add_argument("--run_dir", default=d.run_dir)
    ap.add_argument("--steps", type=int, default=d.steps)
    a = ap.parse_args(argv)
    ft = RealFinetune(a.model, a.data, a.scored, a.corpus, d.config, a.run_dir, a.steps)
    try:
        return run(ft)
    except (FileNotFoundError, ValueError, RealDataError, InputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
