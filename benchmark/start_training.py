#!/usr/bin/env python
"""Train, decode and score one run from a config template (see onmt_moe/runs/runner.py for the format).

python benchmark/start_training.py --config configs/demo_moe.yaml [--run_name NAME] [--runs_dir runs]
    [--set key=value ...] [--resume] [--init_from CHECKPOINT] [--dry_run] [--stages vocab,train,...]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package
from onmt_moe.runs import runner  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="config template (onmt_train YAML + a run: section)")
    ap.add_argument("--run_name", default=None, help="run folder name (default: <config name>_<timestamp>)")
    ap.add_argument("--runs_dir", default="runs")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable); dotted keys reach into sections, e.g. run.data_dir=…",
    )
    ap.add_argument("--resume", action="store_true", help="continue the run from its newest checkpoint")
    ap.add_argument(
        "--init_from",
        metavar="CHECKPOINT",
        help="fine-tune this pretrained model on the corpus (its vocabulary kept, new tokens added; docs/usage.md)",
    )
    ap.add_argument("--dry_run", action="store_true", help="resolve and validate, print the plan, run nothing")
    ap.add_argument(
        "--stages",
        default=",".join(runner.STAGES),
        help="comma-separated subset of " + ",".join(runner.ALL_STAGES) + " (rerank: only when named)",
    )
    ap.add_argument("--quiet", action="store_true", help="do not echo the OpenNMT logs (they still go to train.log)")
    a = ap.parse_args(argv)
    try:
        stages = runner.parse_stages(a.stages)
        runner.start(a.config, a.runs_dir, a.run_name, a.set, a.resume, stages, a.quiet, a.dry_run, a.init_from)
    except runner.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except runner.StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
