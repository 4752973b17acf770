"""One of our entry points run in this process: the library ``main(argv)`` that its script wraps, and the
equivalent command line (printed, so that the step can be repeated by hand; never run). The demos and
benchmarks chain such steps; only OpenNMT's own ``onmt_*`` commands are subprocesses (:mod:`runner`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class Step:
    script: str  # the entry point, relative to the repository root, e.g. "scripts/build_glycan_dataset.py"
    argv: Sequence[str]
    main: Callable[[list[str]], int | None]  # the library function the script calls

    def command(self) -> list[str]:
        """The equivalent command line (the script's path, then ``argv``)."""
        return [os.path.join(ROOT, self.script), *self.argv]

    def run(self) -> bool:
        """``main(argv)`` in this process; True when it returns (or exits with) 0 or None. An exit with a
        message (``sys.exit("error: …")``) prints it on stderr, as the script would have; an exit never
        ends the caller."""
        try:
            rc = self.main(list(self.argv))
        except SystemExit as exc:
            rc = exc.code
            if rc is not None and not isinstance(rc, int):
                print(rc, file=sys.stderr, flush=True)
                rc = 1
        sys.stdout.flush()
        return rc in (0, None)


__all__ = ["Step"]
