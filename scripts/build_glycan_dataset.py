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

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.commands import build_main  # noqa: E402


def main(argv=None) -> int:
    """Thin CLI over onmt_moe.glycan.commands.build_main: 0, or 2 with one line on stderr."""
    return build_main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
