#!/usr/bin/env python
"""Check a run folder for training anomalies.

    python scripts/anomaly_report.py runs/<run> [--json out.json] [--fail_on error|warning|none]
                                     [--window N] [--cv_max X] ...

Prints a summary, writes runs/<run>/anomaly_report.txt and anomaly_report.json.
Exit status: 0 ok, 1 findings at --fail_on severity, 2 bad input.
See onmt_moe/diagnostics/anomaly.py for the checks and thresholds.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# this tool only reads CSVs: skip registering the plugin with OpenNMT (faster, no torch import)

from onmt_moe.diagnostics.anomaly import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
