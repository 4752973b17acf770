#!/usr/bin/env python
"""`make model-real`: train a formula + 1H + 13C model on whole molecules chemists measure.

    python scripts/model_real.py [--moses 40000] [--run_name model_real]

See onmt_moe/runs/model_real.py. Resumes a stopped run; score it with `make bench-real`.
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
from onmt_moe.runs.model_real import RealModel, build  # noqa: E402


def main(argv=None) -> int:
    d = RealModel()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=d.data, help="simulated spectra (and the molecule list) go here")
    ap.add_argument("--moses", type=int, default=d.moses, help="whole MOSES molecules added to RDKit's")
    ap.add_argument("--config", default=d.config)
    ap.add_argument("--run_name", default=d.run_name)
    a = ap.parse_args(argv)
    return build(RealModel(data=a.data, moses=a.moses, config=a.config, run_name=a.run_name))


if __name__ == "__main__":
    sys.exit(main())
