#!/usr/bin/env python
"""The simulated twin of a real annotated set: its annotated structures simulated, written as real sets are.

    python scripts/simulate_real_twin.py --spectra data/real_glycan/GPST000350/JC_200217P1N_200218002345.xlsx \\
        --annotations data/real_glycan/GPST000350/df_mz_GPST000350.csv --glycan_class N \\
        --reducing_end reduced --mz_sigma 0.15 --intensity_rules fitted --out_dir data/twin_GPST000350

With --real the matched real spectra themselves are written the same way (<stem>_real.*), the control
on the same annotations. Writes <out_dir>/<stem>_sim.xlsx (CandyCrunch layout: reducing_mass, peak_d, RT, intensity; the real
spectrum's RT) and <out_dir>/df_mz_<stem>_sim.csv (simulated precursor m/z, RT, the annotation), for
each annotation that matches a spectrum and converts strictly to WURCS (onmt_moe/glycan/real/realism.py).
Run CandyCrunch (scripts/run_candycrunch.py) or benchmark/evaluate_real_glycan.py on the twin to see
how a tool that knows real spectra judges the simulator: its score on the twin vs on the real set.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.commands import twin_main  # noqa: E402


def main(argv=None) -> int:
    """Thin CLI over onmt_moe.glycan.commands.twin_main: 0, or 2 with one line on stderr."""
    return twin_main(argv, description=__doc__)


if __name__ == "__main__":
    sys.exit(main())
