"""The documentation: a short README, a results page that cannot drift, and no broken links.

* ``docs/results.md`` must equal what ``onmt_moe.runs.results_doc`` makes of ``benchmark/results/*.csv``
  (`make docs` rebuilds it), and the generator must notice a changed CSV;
* every relative link and ``#anchor`` of README.md, CHANGELOG.md and docs/*.md must resolve (`make lint`
  runs the same check), and the checker must catch a broken one;
* the README stays a front page: under 12 KB, no development history, commands that paste as written.
"""

import csv
import glob
import os
import re
import runpy
import shutil
import subprocess
import sys

import pytest

from onmt_moe.runs import doc_links, results_doc

ROOT = results_doc.ROOT
README = os.path.join(ROOT, "README.md")


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _code_blocks(text, langs=("bash", "sh", "")):
    """The lines of the fenced code blocks whose info string is one of ``langs``."""
    blocks, cur, lang = [], None, None
    for line in text.splitlines():
        m = re.match(r"^\s*```(\S*)", line)
        if m and cur is None:
            cur, lang = [], m.group(1)
        elif m:
            if lang in langs:
                blocks.append(cur)
            cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


# ------------------------------------------------------------------------------------- results page


def test_results_page_is_current():
    assert results_doc.is_current(), "docs/results.md is out of date with benchmark/results/: run `make docs`"


@pytest.fixture
def results_copy(tmp_path):
    d = tmp_path / "results"
    shutil.copytree(results_doc.RESULTS_DIR, d, ignore=shutil.ignore_patterns("*.png", "*.md"))
    doc = tmp_path / "results.md"
    results_doc.write(str(d), str(doc))
    return d, doc


def _write_rows(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_a_changed_csv_makes_the_page_stale(results_copy):
    d, doc = results_copy
    assert results_doc.is_current(str(d), str(doc))
    path = d / "paper_table.csv"
    rows = list(csv.DictReader(open(path, newline="")))
    assert [rows[0][k] for k in ("input", "model", "seed")] == ["NMR", "dense", "1"]
    rows[0]["top1"] = "0.5"  # top1 of the first cell
    _write_rows(path, rows)
    assert not results_doc.is_current(str(d), str(doc))
    page = results_doc.render(str(d))
    assert "50.0 %" in page
    assert results_doc.write(str(d), str(doc)) is True
    assert results_doc.is_current(str(d), str(doc))
    assert results_doc.write(str(d), str(doc)) is False  # unchanged the second time


def test_an_unknown_csv_appears_with_its_machine(results_copy):
    d, doc = results_copy
    (d / "new_bench.csv").write_text("name,score,machine,run_dir\nx,0.25,Intel Xeon (2 cores),runs/x\n")
    page = results_doc.render(str(d))
    assert "## new_bench" in page and "From `benchmark/results/new_bench.csv`." in page
    assert "| x | 0.25 |" in page and "runs/x" not in page
    assert "Machine: Intel Xeon (2 cores)." in page
    assert not results_doc.is_current(str(d), str(doc))


def test_the_paper_relations_follow_the_csv(results_copy):
    d, _ = results_copy
    page = results_doc.render(str(d))
    # two hold; two do not with words, nor the one with values + IR patches, nor values added on both sides
    # (beam, and formula-guided beam)
    assert page.count("holds here") == 2 and page.count("does **not** hold here") == 5
    # make the all-modality MoE beat dense (and MoE) on NMR in every seed: both relations flip
    path = d / "paper_table.csv"
    rows = list(csv.DictReader(open(path, newline="")))
    for r in rows:
        if (r["input"], r["model"], r.get("representation", "words")) == ("NMR+IR+MS", "moe", "words"):
            r["top1"] = "0.9"
    _write_rows(path, rows)
    page = results_doc.render(str(d))
    still_not = [line for line in page.splitlines() if "does **not** hold here" in line]
    assert len(still_not) == 3 and "when numbers are values" in still_not[0]  # those read the values cells
    assert "value vectors added on both sides" in still_not[1] and "formula-guided beam" in still_not[2]


def test_a_decoding_other_than_beam_is_its_own_cell_of_the_paper_table():
    row = {"input": "NMR", "model": "moe", "seed": "1", "top1": "0.2"}
    rows = [
        dict(row, representation="values_add", decoding="beam"),
        dict(row, representation="values_add", decoding="formula_beam", top1="0.3"),
        dict(row, representation="", decoding=""),  # rows from before both columns: words, beam
    ]
    cells = results_doc._paper_cells(rows)
    assert set(cells) == {("NMR", "moe + values_add"), ("NMR", "moe + values_add + formula_beam"), ("NMR", "moe")}
    assert results_doc._model_name("moe + values_add + formula_beam") == "MoE + values_add + formula_beam"


def test_make_results_doc_check_mode(results_copy, tmp_path):
    d, doc = results_copy
    script = os.path.join(ROOT, "scripts", "make_results_doc.py")
    argv = sys.argv
    try:
        sys.argv = [script, "--results", str(d), "--out", str(doc), "--check"]
        with pytest.raises(SystemExit) as e:
            runpy.run_path(script, run_name="__main__")
        assert e.value.code == 0
        (d / "glycan_real.csv").write_text((d / "glycan_real.csv").read_text().replace("0.2063", "0.9999"))
        with pytest.raises(SystemExit) as e:
            runpy.run_path(script, run_name="__main__")
        assert e.value.code == 1
    finally:
        sys.argv = argv


# ---------------------------------------------------------------------------------------------- links


def test_no_broken_links_in_the_docs():
    problems = doc_links.check()
    assert not problems, "\n".join(map(str, problems))
    checked = {os.path.relpath(p, ROOT) for p in doc_links.default_files()}
    assert {"README.md", "CHANGELOG.md", "docs/results.md", "docs/glycan.md"} <= checked


@pytest.mark.parametrize(
    "heading, slug",
    [
        (
            "Predict: your spectra files → ranked structures (`onmt_moe_predict`)",
            "predict-your-spectra-files--ranked-structures-onmt_moe_predict",
        ),
        ("2. Train, decode, score: `benchmark/start_training.py`", "2-train-decode-score-benchmarkstart_trainingpy"),
        ("The paper's Table 1 at CPU scale (`make bench-paper`)", "the-papers-table-1-at-cpu-scale-make-bench-paper"),
        (
            "Closed-set identification — ranking the known isomers",
            "closed-set-identification--ranking-the-known-isomers",
        ),
        ("A [link](x.md) and **bold**", "a-link-and-bold"),
    ],
)
def test_github_anchor_slugs(heading, slug):
    assert doc_links.slugify(heading) == slug


def test_the_link_checker_catches_broken_links_and_anchors(tmp_path):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# Title\n\n## Same\n\n## Same\n\ntext\n")
    (root / "README.md").write_text(
        "# Readme\n\n"
        "[good file](docs/a.md) [good anchor](docs/a.md#title) [repeat](docs/a.md#same-1) [self](#readme)\n"
        "[web](https://example.org/nothing) ![img](docs/a.md)\n"
        "[missing file](docs/nothing.md)\n"
        "[missing anchor](docs/a.md#no-such-heading)\n"
        "[outside](../elsewhere/x.md)\n"
        "[missing self anchor](#nope)\n"
        "`[in code](docs/nothing.md)`\n"
        "```\n[in a block](docs/nothing.md)\n```\n"
    )
    problems = doc_links.check([str(root / "README.md")], root=str(root))
    got = {(p.line, p.target) for p in problems}
    assert got == {
        (5, "docs/nothing.md"),
        (6, "docs/a.md#no-such-heading"),
        (7, "../elsewhere/x.md"),
        (8, "#nope"),
    }, problems
    reasons = {p.target: p.reason for p in problems}
    assert reasons["docs/nothing.md"] == "no such file"
    assert reasons["../elsewhere/x.md"] == "points outside the repository"
    assert "no heading" in reasons["docs/a.md#no-such-heading"]


def test_check_links_script_exit_codes(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("[x](nothing_here.md)\n")
    script = os.path.join(ROOT, "scripts", "check_links.py")
    env = dict(os.environ, PYTHONPATH=ROOT)
    ok = subprocess.run([sys.executable, script, README], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    r = subprocess.run([sys.executable, script, str(bad)], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "nothing_here.md" in r.stderr


# --------------------------------------------------------------------------------------------- README


# a line that tells development history: "session 5 measured …", a date, "issue 17"
HISTORY = re.compile(r"\bsessions?\s+\d+|\b20\d\d-\d\d-\d\d\b|\bissue\s+\d+", re.I)


def _history_lines(path):
    return [line for line in _read(path).splitlines() if HISTORY.search(line)]


def test_readme_is_a_front_page():
    size = os.path.getsize(README)
    assert size < 12 * 1024, f"README.md is {size} bytes; keep it under 12 KB (details go to docs/)"
    bad = _history_lines(README)
    assert not bad, f"development history belongs in CHANGELOG.md: {bad}"


# Every page, docs/results.md included: it is generated from the CSVs, and its machine lines name CPUs,
# not dates, so it passes as it is; if a generated table ever needs a date, exclude it here and say why.
@pytest.mark.parametrize("page", sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))), ids=os.path.basename)
def test_docs_describe_the_current_state(page):
    bad = _history_lines(page)
    assert not bad, f"{os.path.relpath(page, ROOT)}: development history belongs in CHANGELOG.md: {bad}"


@pytest.mark.parametrize("name", ["glycan.md", "demo_recipe.md"])
def test_long_docs_pages_stay_short(name):
    size = os.path.getsize(os.path.join(ROOT, "docs", name))
    assert size <= 24 * 1024, f"docs/{name} is {size} bytes; keep it under 24 KB (measurements go to CHANGELOG.md)"


def test_readme_commands_paste_as_written():
    text = _read(README)
    assert "source .venv/bin/activate" in text
    assert "<out stem>.rejects.tsv" in text and "<out>.rejects.tsv" not in text
    for block in _code_blocks(text, langs=("bash", "sh")):
        for line in block:
            assert not re.search(r"\[\s*-", line), f"optional-argument brackets in a command: {line}"
            assert not re.search(r"\b(N|NAME|FILE|PATH)\b", line), f"placeholder in a command: {line}"


def test_docs_command_blocks_have_no_optional_brackets():
    for path in doc_links.default_files():
        for block in _code_blocks(_read(path), langs=("bash", "sh")):
            for line in block:
                assert not re.search(r"\[\s*--", line), f"{path}: optional-argument brackets: {line}"


def test_readme_percentages_come_from_the_results_page():
    """A one-decimal percentage in the README is a measured number: it must be on docs/results.md."""
    page = _read(results_doc.DOC_PATH)
    quoted = set(re.findall(r"\b\d+\.\d %", _read(README)))
    assert quoted, "the README quotes no result at all"
    missing = sorted(q for q in quoted if q not in page)
    assert not missing, f"README numbers not in docs/results.md: {missing}"


# ------------------------------------------------------------------------------------ real glycan sets


def test_real_glycan_sets_are_in_the_repository():
    from onmt_moe.runs.glycan_real import REAL_SETS

    base = os.path.join(ROOT, "data", "real_glycan")
    for name in ("LICENSE-CandyCrunch.txt", "README.md"):
        assert os.path.isfile(os.path.join(base, name))
    paths = []
    for folder, spectra, annotations, _ in REAL_SETS:
        for f in (spectra, annotations):
            paths.append(os.path.join(base, folder, f))
            assert os.path.isfile(paths[-1]), paths[-1]
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as fh:
        assert re.search(r"^REAL_GLYCAN \?= data/real_glycan$", fh.read(), re.M)
    if shutil.which("git") and os.path.isdir(os.path.join(ROOT, ".git")):
        r = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 1 and not r.stdout.strip(), f"git ignores: {r.stdout}"
