#!/usr/bin/env python
"""`make lint`'s link check: relative links and #anchors of README.md, CHANGELOG.md and docs/*.md.

    python scripts/check_links.py [FILE.md ...]

One line per broken link (file:line: target: reason); exit code 1 if there is any.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's package

from onmt_moe.runs import doc_links  # noqa: E402


def main(argv=None) -> int:
    files = sys.argv[1:] if argv is None else argv
    problems = doc_links.check(files or None)
    for p in problems:
        print(p, file=sys.stderr)
    n = len(files) if files else len(doc_links.default_files())
    print(f"links: {n} file(s), {len(problems)} broken", file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
