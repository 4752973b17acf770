#!/usr/bin/env python
"""Train, decode and score one run from a config template (see onmt_moe/runs/runner.py for the format).

python benchmark/start_training.py --config configs/demo_moe.yaml [--run_name NAME] [--runs_dir runs]
    [--set key=value ...] [--resume] [--dry_run] [--stages vocab,train,translate,score,report]
"""

import argparse
import datetime
import json
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
    ap.add_argument("--dry_run", action="store_true", help="resolve and validate, print the plan, run nothing")
    ap.add_argument(
        "--stages", default=",".join(runner.STAGES), help="comma-separated subset of " + ",".join(runner.STAGES)
    )
    ap.add_argument("--quiet", action="store_true", help="do not echo the OpenNMT logs (they still go to train.log)")
    a = ap.parse_args(argv)

    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    bad = [s for s in stages if s not in runner.STAGES]
    if bad:
        print(f"error: unknown stage(s) {bad}; choose from {list(runner.STAGES)}", file=sys.stderr)
        return 2
    name = a.run_name
    if name is None:
        name = f"{os.path.splitext(os.path.basename(a.config))[0]}_{datetime.datetime.now():%Y%m%d_%H%M%S}"
    try:
        run_dir = runner.check_run_location(a.runs_dir, name)  # before anything is written
        plan = runner.resolve(a.config, run_dir, runner.parse_set(a.set), resume=a.resume)
        if a.dry_run:
            print(json.dumps({k: v for k, v in plan.items()}, indent=2, default=str))
            print(f"dry run: config valid; stages {stages} would run in {plan['run_dir']}")
            return 0
        with runner.lock_run_dir(plan["run_dir"]):  # one writer per run folder
            runner.prepare_run_dir(plan, fresh=True)
            info = runner.execute(plan, stages, echo=not a.quiet)
    except runner.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except runner.StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\nrun folder: {plan['run_dir']}")
    for st, v in info.get("stages", {}).items():
        print(f"  {st:<10} {v['seconds']:8.1f} s  {v['status']}")
    scores = info.get("scores") or {}
    for task, res in (scores.get("tasks") or {None: scores}).items():  # a multi-task run: one block per task
        if task is not None:
            extra = "".join(f"  {k} {res[k]:.2f}" for k in ("bleu", "chrf") if res.get(k) is not None)
            print(f"  task {task}:{extra}")
        for k, v in (res.get("topk") or {}).items():
            print(f"  top-{k}: {v:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
