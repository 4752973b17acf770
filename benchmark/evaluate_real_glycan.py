#!/usr/bin/env python
"""Score a glycan run on real annotated LC-MS/MS, beside the baselines on the same spectra.

    python benchmark/evaluate_real_glycan.py --run runs/glycan --spectra JC_141128PGMa.xlsx \\
        --annotations df_mz_GPST000017.csv --glycan_class O [--out runs/glycan/real_GPST000017]

Without --run only the baselines are scored (random isomer of the true composition; random
isomer of the composition inferred from the precursor).  Matching, identity under ambiguous
annotations and the F1 are documented in onmt_moe/glycan/real/evaluate.py.  Writes
real_scores.json and real_annotations.csv (one row per annotation) into --out.
Exit 2 with one line on bad input.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.runs.glycan_real_model import main as evaluate_main  # noqa: E402


def main(argv=None) -> int:
    """Thin CLI over onmt_moe.runs.glycan_real_model.main: 0, or 2 with one line on stderr."""
    return evaluate_main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
