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

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.fragments import SimParams, add_real_spectrum_options, real_spectrum_knobs  # noqa: E402
from onmt_moe.glycan.real.annotations import AnnotationError  # noqa: E402
from onmt_moe.glycan.real.realism import add_annotated_set_options, annotated_pairs, write_twin  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_annotated_set_options(ap)
    ap.add_argument("--out_dir", required=True)
    ap.add_argument("--seed", type=int, default=SimParams.seed, help="simulator noise seed")
    ap.add_argument("--real", action="store_true", help="write the matched real spectra instead (the control)")
    add_real_spectrum_options(ap)
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    try:
        pairs, skipped = annotated_pairs(a.spectra, a.annotations, a.glycan_class)
    except (AnnotationError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.splitext(os.path.basename(a.spectra))[0] + ("_real" if a.real else "_sim")
    xlsx = os.path.join(a.out_dir, f"{stem}.xlsx")
    csv = os.path.join(a.out_dir, f"df_mz_{stem}.csv")
    params = SimParams(seed=a.seed, **real_spectrum_knobs(a))
    n = write_twin(pairs, None if a.real else params, xlsx, csv)
    info = {
        "spectra": a.spectra,
        "written": n,
        "not_simulated": skipped,
        "sim_params": None if a.real else params.to_dict(),
    }
    with open(os.path.join(a.out_dir, "twin.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    print(
        f"{n} {'real' if a.real else 'simulated'} spectra ({sum(skipped.values())} annotations skipped) -> {xlsx}, {csv}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
