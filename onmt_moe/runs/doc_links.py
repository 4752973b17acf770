"""Check the relative links and ``#anchors`` of the project's markdown files.

``scripts/check_links.py`` (run by `make lint`) and ``tests/test_docs.py`` call :func:`check`. A link is
broken when its file does not exist, when it leaves the repository (``../shared/…`` exists on one
machine only), or when its ``#anchor`` names no heading of the target page. Anchors follow GitHub's
rule: the heading's text without markup, lower-cased, punctuation dropped, spaces to hyphens, and
``-1``, ``-2``, … appended to repeats. Web links (``http:``, ``https:``, ``mailto:``) are not fetched.
Links inside code blocks and inline code are not links, and are skipped.

Standard library only.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the user-facing pages (relative to the repository root)
DEFAULT_PATTERNS = ("README.md", "CHANGELOG.md", "docs/*.md", "data/real_glycan/README.md")

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and ![alt](target); the text may hold one level of brackets
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(\S+)")
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.I)
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


class Problem(NamedTuple):
    path: str
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.target}: {self.reason}"


def slugify(heading: str) -> str:
    """GitHub's anchor for a heading's text (markdown as written)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _lines_outside_code(text: str) -> Iterable[tuple]:
    """(line number, line) of the lines not inside a fenced code block."""
    fence: str | None = None
    for i, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1) == fence:
                fence = None
            continue
        if fence is None:
            yield i, line


def anchors(text: str) -> set:
    """Every anchor a page defines: its headings (with GitHub's -1, -2 … for repeats) and HTML anchors."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _lines_outside_code(text):
        for name in _HTML_ANCHOR.findall(line):
            out.add(name)
        m = _HEADING.match(line)
        if not m:
            continue
        slug = slugify(m.group(2))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(text: str) -> list[tuple]:
    """(line number, target) of every link and image outside code."""
    out = []
    for i, line in _lines_outside_code(text):
        line = _INLINE_CODE.sub("", line)
        for m in _LINK.finditer(line):
            out.append((i, m.group(1).strip("<>")))
        m = _REF_DEF.match(line)
        if m:
            out.append((i, m.group(1).strip("<>")))
    return out


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def check_file(path: str, root: str = ROOT, _cache: dict[str, set] | None = None) -> list[Problem]:
    """The broken relative links and anchors of one markdown file."""
    cache = {} if _cache is None else _cache
    root = os.path.realpath(root)
    rel = os.path.relpath(path, root)
    problems = []
    for line, target in links(_read(path)):
        if _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = os.path.realpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        dest = os.path.realpath(dest)
        if file_part.startswith("/") or os.path.commonpath([root, dest]) != root:
            problems.append(Problem(rel, line, target, "points outside the repository"))
            continue
        if not os.path.exists(dest):
            problems.append(Problem(rel, line, target, "no such file"))
            continue
        if not anchor:
            continue
        if not dest.endswith(".md") or os.path.isdir(dest):
            problems.append(Problem(rel, line, target, "an anchor into a file that is not markdown"))
            continue
        if dest not in cache:
            cache[dest] = anchors(_read(dest))
        if anchor not in cache[dest]:
            problems.append(Problem(rel, line, target, f"no heading with the anchor #{anchor}"))
    return problems


def default_files(root: str = ROOT, patterns: Sequence[str] = DEFAULT_PATTERNS) -> list[str]:
    files: list[str] = []
    for pat in patterns:
        files += sorted(glob.glob(os.path.join(root, pat)))
    return files


def check(files: Sequence[str] | None = None, root: str = ROOT) -> list[Problem]:
    """The broken links of ``files`` (default: README.md, CHANGELOG.md, docs/*.md, data/real_glycan/README.md)."""
    cache: dict[str, set] = {}
    problems: list[Problem] = []
    for path in default_files(root) if files is None else files:
        problems += check_file(path, root, cache)
    return problems
