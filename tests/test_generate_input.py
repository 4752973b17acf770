"""Tests of the data pipeline (onmt_moe.data, benchmark/generate_input.py).

Fixtures: tests/fixtures/benchmark_examples (see LICENSE.md there).
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onmt_moe.data import benchmark_format as bf
from onmt_moe.data import textbuf as tx
from onmt_moe.data.columns import DataError, detect_msms_version, msms_names
from onmt_moe.data.pipeline import generate, list_inputs, main
from onmt_moe.data.split import split_indices
from onmt_moe.modality import tags

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "benchmark_examples"
EX1 = FIX / "example_data_1_slim.parquet"
EX2 = FIX / "example_data_2_head20_slim.parquet"
EXPECTED = FIX / "expected_ex1"
ALL = dict(h_nmr=True, c_nmr=True, ir=True, pos_msms=True, neg_msms=True, formula=True)
COMBOS = {
    "all": ALL,
    "hnmr_formula": dict(h_nmr=True, formula=True),
    "cnmr": dict(c_nmr=True),
    "ir": dict(ir=True),
    "msms": dict(pos_msms=True, neg_msms=True),
    "predspec": dict(h_nmr=True, c_nmr=True, ir=True, pred_spectra=True),
}
FILES = [f"{s}-{p}.txt" for s in ("src", "tgt") for p in ("train", "val", "test")]


def _to_v1(src: Path, dst: Path) -> Path:
    t = pq.read_table(src)
    t = t.rename_columns([c.replace("msms_cfmid_", "msms_") for c in t.column_names])
    pq.write_table(t, dst)
    return dst


def _read(out: Path, name: str) -> bytes:
    return (out / "data" / name).read_bytes()


# ------------------------------------------------------------------ byte identity
@pytest.mark.parametrize("combo", sorted(COMBOS))
def test_benchmark_format_byte_identical(tmp_path, combo):
    inp = EX1
    if combo == "msms":  # the golden MS/MS files were made from v1-named columns
        inp = _to_v1(EX1, tmp_path / "ex1_v1.parquet")
    out = tmp_path / "out"
    s = generate(inp, out, format="benchmark", progress=False, **COMBOS[combo])
    for name in FILES:
        assert _read(out, name) == (EXPECTED / combo / "data" / name).read_bytes(), f"{combo}/{name}"
    assert s["rows"]["written"] == {"train": 85, "val": 5, "test": 10, "total": 100}
    assert s["rows"]["rejected"] == 0
    assert (out / "rejects.tsv").read_text().splitlines() == ["file\trow\tindex\tsmiles\treason"]


@pytest.mark.parametrize("combo", ["msms", "all"])
def test_v1_and_v2_msms_names_give_same_output(tmp_path, combo):
    v1 = _to_v1(EX1, tmp_path / "v1.parquet")
    s1 = generate(v1, tmp_path / "o1", format="benchmark", progress=False, **COMBOS[combo])
    s2 = generate(EX1, tmp_path / "o2", format="benchmark", progress=False, **COMBOS[combo])
    assert s1["input_files"][0]["msms_names"] == "v1"
    assert s2["input_files"][0]["msms_names"] == "v2"
    for name in FILES:
        assert _read(tmp_path / "o1", name) == _read(tmp_path / "o2", name)


def test_cli_benchmark_matches_golden(tmp_path):
    out = tmp_path / "cli"
    cmd = [
        sys.executable,
        str(ROOT / "benchmark" / "generate_input.py"),
        "--input",
        str(EX1),
        "--out_dir",
        str(out),
        "--format",
        "benchmark",
        "--h_nmr",
        "--formula",
        "-q",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "1"})
    assert r.returncode == 0, r.stderr
    for name in FILES:
        assert _read(out, name) == (EXPECTED / "hnmr_formula" / "data" / name).read_bytes()
    summary = json.loads((out / "data" / "summary.json").read_text())
    assert "--h_nmr" in summary["command"]


# ------------------------------------------------------------------ pieces
def test_split_rule():
    tr, va, te = split_indices(100, 3245)
    assert (len(tr), len(va), len(te)) == (85, 5, 10)
    p = np.random.RandomState(3245).permutation(100)
    assert list(te) == list(p[:10])
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(100))
    # sklearn's ceil of the float product: 0.1 * 30 = 3.0000000000000004 -> 4 test rows
    assert len(split_indices(30, 1)[2]) == math.ceil(0.1 * 30)
    assert len(split_indices(0, 1)[0]) == 0
    with pytest.raises(ValueError):
        split_indices(2, 1)


def test_formula_and_smiles_tokens():
    st = bf.format_formula(pa.array(["C11H15FN2O2", "CH4", None, "", "c1x"]), strict=True)
    assert st.texts[0] == "C 11 H 15 F N 2 O 2"
    assert st.texts[1] == "C H 4"
    assert list(st.status[2:]) == [bf.NULL, bf.EMPTY, bf.BAD]
    assert bf.tokenize_smiles("CC(C)Br") == "C C ( C ) Br"
    assert bf.tokenize_smiles("C[C@@H](O)/C=C/Cl") == "C [C@@H] ( O ) / C = C / Cl"
    with pytest.raises(ValueError):
        bf.tokenize_smiles("CC R")


def test_ir_interpolation_matches_scipy_and_numpy():
    rng = np.random.RandomState(0)
    y32 = rng.randn(6, 1800).astype(np.float32)
    x = np.linspace(400, 4000, 1800)
    for n_out in (400, 57, 1800):
        xn = np.linspace(400, 4000, n_out)
        got64 = bf.interpolate_rows(y32.astype(np.float64), n_out)
        want64 = np.stack([np.interp(xn, x, r) for r in y32.astype(np.float64)])
        assert np.array_equal(got64, want64)
    scipy = pytest.importorskip("scipy.interpolate")
    for n_out in (400, 57):
        xn = np.linspace(400, 4000, n_out)
        want = np.stack([scipy.interp1d(x, r)(xn) for r in y32])
        assert np.array_equal(bf.interpolate_rows(y32, n_out), want)


def test_msms_value_format_is_numpy_round_then_1f():
    rng = np.random.RandomState(1)
    vals = np.concatenate([rng.rand(2000) * 900, [0.35, 0.25, 2.675, 0.05, 99.95, 5000.05, 1e6 + 0.05, -0.04, -1.26]])
    got = tx.join_rows(*tx.np_round1_tokens(vals), np.ones(len(vals), np.int64))
    want = [f"{round(np.float64(v), 1):.1f}" for v in vals]
    assert got == want


def test_fixed_point_tokens_match_python_format():
    rng = np.random.RandomState(2)
    x = np.concatenate(
        [
            rng.randn(3000) * 50,
            rng.randint(-2000, 2000, 500) / 200.0,  # exact ties
            [0.125, -0.001, -0.0, 0.0, 1e9 + 0.005, 2.675, 1.005, 123456.785],
        ]
    )
    for d in (1, 2):
        got = tx.join_rows(*tx.fixed_tokens(x, d), np.ones(len(x), np.int64))
        assert got == [f"{v:.{d}f}" for v in x.tolist()]
    got = tx.join_rows(*tx.fixed_tokens(x, 1, lambda v: str(round(v, 1))), np.ones(len(x), np.int64))
    assert got == [str(round(v, 1)) for v in x.tolist()]
    k = np.array([0, 7, 10, 123, 99999])
    assert tx.join_rows(*tx.int_tokens(k, k == 7, 0, b"H"), np.array([2, 3])) == ["0H -7H", "10H 123H 99999H"]


def test_natural_sort_of_chunks(tmp_path):
    for i in (10, 2, 1):
        shutil.copy(EX2, tmp_path / f"aligned_chunk_{i}.parquet")
    assert [p.name for p in list_inputs(tmp_path)] == [
        "aligned_chunk_1.parquet",
        "aligned_chunk_2.parquet",
        "aligned_chunk_10.parquet",
    ]


def test_workers_give_identical_output_and_cross_chunk_duplicates_survive(tmp_path):
    d = tmp_path / "chunks"
    d.mkdir()
    t = pq.read_table(EX1).slice(0, 40)
    for i, (a, b) in enumerate([(0, 15), (15, 30), (25, 40)]):  # rows 25..29 repeat in chunk 2
        pq.write_table(t.slice(a, b - a), d / f"aligned_chunk_{i}.parquet")
    kw = dict(h_nmr=True, c_nmr=True, ir=True, pos_msms=True, formula=True, format="benchmark", progress=False)
    s1 = generate(d, tmp_path / "w1", workers=1, **kw)
    s2 = generate(d, tmp_path / "w2", workers=2, min_rows_per_worker=0, **kw)  # a real pool on 45 rows
    assert s2["workers"]["used"] == 2 and s2["workers"]["pool_start_s"] is not None
    assert not s2["workers"]["in_this_process"] and s1["workers"]["in_this_process"]
    for name in FILES:
        assert _read(tmp_path / "w1", name) == _read(tmp_path / "w2", name)
    assert s1["rows"]["read"] == 45 and s1["rows"]["written"]["total"] == 45
    assert s1["rows"]["written"] == s2["rows"]["written"]
    # within one chunk duplicates are dropped (keep first)
    pq.write_table(pa.concat_tables([t.slice(0, 5), t.slice(0, 5)]), tmp_path / "dup.parquet")
    s3 = generate(tmp_path / "dup.parquet", tmp_path / "w3", ir=True, format="benchmark", progress=False)
    assert s3["rows"]["deduplicated"] == 5 and s3["rows"]["written"]["total"] == 5


def test_limit_rows(tmp_path):
    s = generate(EX1, tmp_path / "o", formula=True, format="benchmark", limit_rows=30, progress=False)
    assert s["rows"]["read"] == 30
    assert sum(s["rows"]["written"][k] for k in ("train", "val", "test")) == 30


# ------------------------------------------------------------------ tagged
def test_tagged_default_groups_structure(tmp_path):
    sb = generate(EX1, tmp_path / "b", format="benchmark", progress=False, **ALL)
    st = generate(EX1, tmp_path / "t", format="tagged", progress=False, **ALL)
    assert sb["rows"]["written"] == st["rows"]["written"]
    bench = _read(tmp_path / "b", "src-train.txt").decode().splitlines()
    tagged = _read(tmp_path / "t", "src-train.txt").decode().splitlines()
    assert _read(tmp_path / "b", "tgt-train.txt") == _read(tmp_path / "t", "tgt-train.txt")
    for b, t in zip(bench, tagged):
        segs = tags.split_segments(t.split(" "))
        assert [n for n, _ in segs] == ["FORMULA", "NMR", "IR", "MS"]
        inner = dict(segs)
        assert inner["NMR"][0] == "1HNMR" and "13CNMR" in inner["NMR"]
        assert inner["IR"][0] == "IR" and len(inner["IR"]) == 401
        assert inner["MS"][0] == "E0Pos" and "E0Neg" in inner["MS"]
        # stripping the tags gives back the benchmark line
        assert " ".join(tags.join_segments([(None, v) for _, v in segs])) == b


def test_tagged_fine_explicit_and_missing_token(tmp_path):
    s = generate(EX2, tmp_path / "f", c_nmr=True, ir=True, groups="fine", missing="token", progress=False)
    line = _read(tmp_path / "f", "src-train.txt").decode().splitlines()[0].split(" ")
    segs = tags.split_segments(line)
    assert [n for n, _ in segs] == ["FORMULA", "HNMR", "CNMR", "IR", "MSPOS", "MSNEG"]
    assert dict(segs)["HNMR"] == [tags.MISSING]
    assert tags.present_modalities(line) == ["CNMR", "IR"]
    assert s["groups"]["c_nmr"] == "CNMR"
    generate(
        EX2,
        tmp_path / "e",
        h_nmr=True,
        c_nmr=True,
        pos_msms=True,
        neg_msms=True,
        groups="h_nmr=SPEC,c_nmr=SPEC,pos_msms=MSX,neg_msms=MSX",
        progress=False,
    )
    line = _read(tmp_path / "e", "src-test.txt").decode().splitlines()[0].split(" ")
    assert [n for n, _ in tags.split_segments(line)] == ["SPEC", "MSX"]
    with pytest.raises(DataError, match="no group"):
        generate(EX2, tmp_path / "x", ir=True, groups="h_nmr=HNMR", progress=False)


def test_msms_top_k(tmp_path):
    generate(EX1, tmp_path / "k", pos_msms=True, msms_top_k=3, format="benchmark", progress=False)
    generate(EX1, tmp_path / "a", pos_msms=True, format="benchmark", progress=False)
    # the split depends on the row count only, so the lines align
    full = _read(tmp_path / "a", "src-train.txt").decode().splitlines()
    top = _read(tmp_path / "k", "src-train.txt").decode().splitlines()
    assert len(full) == len(top)

    def blocks(line):
        out, cur = [], None
        for tok in line.split(" "):
            if tok.startswith("E") and tok.endswith("Pos"):
                cur = []
                out.append(cur)
            else:
                cur.append(float(tok))
        return [list(zip(b[0::2], b[1::2])) for b in out]

    for f, t in zip(full, top):
        for bf_, bt in zip(blocks(f), blocks(t)):
            assert len(bt) == min(3, len(bf_))
            assert [p[0] for p in bt] == sorted(p[0] for p in bt)
            assert sorted(p[1] for p in bt) == sorted(p[1] for p in bf_)[::-1][: len(bt)][::-1]


def test_max_src_tokens_reject_and_keep(tmp_path):
    s = generate(EX1, tmp_path / "r", format="benchmark", max_src_tokens=700, progress=False, **ALL)
    ref = generate(EX1, tmp_path / "ref", format="benchmark", progress=False, **ALL)
    long_rows = ref["token_lengths"]["source"]
    assert s["rows"]["over_max_src_tokens"] > 0
    assert s["rows"]["rejected"] == s["rows"]["over_max_src_tokens"]
    assert s["rows"]["written"]["total"] == 100 - s["rows"]["rejected"]
    assert s["token_lengths"]["source"]["max"] <= 700 < long_rows["max"]
    lines = (tmp_path / "r" / "rejects.tsv").read_text().splitlines()[1:]
    assert len(lines) == s["rows"]["rejected"] and all("max_src_tokens" in ln for ln in lines)
    k = generate(EX1, tmp_path / "k", format="benchmark", max_src_tokens=700, long_rows="keep", progress=False, **ALL)
    assert k["rows"]["rejected"] == 0 and k["rows"]["over_max_src_tokens"] == s["rows"]["over_max_src_tokens"]


# ------------------------------------------------------------------ bad input
def _bad_table(tmp_path) -> Path:
    t = pq.read_table(EX2).slice(0, 14)
    rows = t.to_pylist()
    rows[0]["h_nmr_peaks"] = None  # null peak list
    rows[1]["h_nmr_peaks"] = []  # empty peak list
    rows[2]["h_nmr_peaks"][0]["j_values"] = "1.5_abc_"  # malformed j_values
    rows[3]["ir_spectra"] = rows[3]["ir_spectra"][:1000]  # wrong IR length
    rows[4]["ir_spectra"] = None  # null spectrum
    rows[5]["molecular_formula"] = None  # null formula
    rows[6]["molecular_formula"] = "C6H6?x"  # unparseable formula
    rows[7]["smiles"] = "CC(C)Ä"  # tokenizer does not reproduce
    rows[8]["smiles"] = "C1CC(C"  # RDKit cannot parse
    rows[9]["msms_cfmid_positive_20ev"] = None  # one null MS/MS energy
    rows[10]["c_nmr_peaks"][0]["delta (ppm)"] = float("nan")  # non-finite shift
    rows[11]["ir_spectra"] = []  # empty spectrum
    # rows 12, 13 are good
    p = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), p)
    return p


def test_bad_rows_benchmark_and_tagged(tmp_path):
    p = _bad_table(tmp_path)
    sb = generate(p, tmp_path / "b", format="benchmark", progress=False, **ALL)
    rej = [ln.split("\t") for ln in (tmp_path / "b" / "rejects.tsv").read_text().splitlines()[1:]]
    # benchmark: row 1 (empty list) is defined ("1HNMR" alone), row 8 passes (no RDKit in the
    # official script); every other bad row is rejected
    assert sorted(int(r[1]) for r in rej) == [0, 2, 3, 4, 5, 7, 9, 10, 11]
    assert sb["rows"]["rejected"] == 9 and sb["rows"]["written"]["total"] == 5
    assert sb["reject_reasons"]["ir:empty"] == 1 and sb["reject_reasons"]["ir:null"] == 1
    assert sb["missing"]["h_nmr"] == {"null": 1, "empty": 1, "partial": 0}
    assert sb["reject_reasons"]["h_nmr:null"] == 1 and sb["reject_reasons"]["smiles"] == 1
    assert all(r[0].endswith("bad.parquet") and r[4] for r in rej)
    assert any("j_values" in r[4] for r in rej) and any("1000 points" in r[4] for r in rej)
    labels = pq.read_table(EX2, columns=["__index_level_0__"]).column(0).to_pylist()
    assert [int(r[2]) for r in rej] == [labels[int(r[1])] for r in rej]  # stored pandas index
    lines = [ln for n in ("train", "val", "test") for ln in _read(tmp_path / "b", f"src-{n}.txt").decode().splitlines()]
    assert any(" 1HNMR 13CNMR " in ln for ln in lines)  # empty 1H list -> bare header, no "1HNM"
    assert not any("1HNM " in ln for ln in lines)

    st = generate(p, tmp_path / "t", format="tagged", progress=False, **ALL)
    rej = [ln.split("\t") for ln in (tmp_path / "t" / "rejects.tsv").read_text().splitlines()[1:]]
    # tagged: null/empty modalities are missing (rows 0, 1, 4, 5, 11 kept; row 9 keeps the other
    # energies); malformed content and both bad SMILES are rejected
    assert sorted(int(r[1]) for r in rej) == [2, 3, 6, 7, 8, 10]
    assert st["rows"]["rejected"] == 6 and st["rows"]["written"]["total"] == 8
    assert st["missing_segments"] == {"FORMULA": 1, "IR": 2}  # NMR still has 13C in rows 0/1
    assert st["missing"]["ir"] == {"null": 1, "empty": 1, "partial": 0}
    assert st["missing"]["pos_msms"]["partial"] == 1

    tok = generate(p, tmp_path / "tok", format="tagged", missing="token", progress=False, **ALL)
    assert tok["rows"]["written"] == st["rows"]["written"]
    lines = [
        ln for n in ("train", "val", "test") for ln in _read(tmp_path / "tok", f"src-{n}.txt").decode().splitlines()
    ]
    layouts = {tuple(n for n, _ in tags.split_segments(ln.split(" "))) for ln in lines}
    assert layouts == {("FORMULA", "NMR", "IR", "MS")}
    assert sum("<IR> <MISSING> </IR>" in ln for ln in lines) == 2
    assert sum("<FORMULA> <MISSING> </FORMULA>" in ln for ln in lines) == 1

    with pytest.raises(DataError, match=r"bad\.parquet: row 0 .*h_nmr_peaks is null"):
        generate(p, tmp_path / "s", format="benchmark", strict=True, progress=False, **ALL)


def test_missing_column_is_one_line_error(tmp_path, capsys):
    t = pq.read_table(EX2).drop_columns(["ir_spectra", "msms_cfmid_negative_40ev"])
    p = tmp_path / "nocol.parquet"
    pq.write_table(t, p)
    with pytest.raises(DataError, match=r"nocol\.parquet: missing column 'ir_spectra'"):
        generate(p, tmp_path / "o", ir=True, progress=False)
    with pytest.raises(DataError, match="msms_cfmid_negative_40ev"):
        generate(p, tmp_path / "o", neg_msms=True, progress=False)
    assert detect_msms_version(msms_names("pos_msms", "v1"), "pos_msms") == "v1"
    rc = main(["--input", str(p), "--out_dir", str(tmp_path / "o"), "--ir", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "ir_spectra" in err and "Traceback" not in err
    assert main(["--input", str(tmp_path / "nope"), "--out_dir", str(tmp_path / "o"), "--ir", "-q"]) == 2


def test_summary_contents(tmp_path):
    s = generate(EX1, tmp_path / "o", format="tagged", pred_spectra=True, progress=False, **ALL)
    on_disk = json.loads((tmp_path / "o" / "data" / "summary.json").read_text())
    assert on_disk["rows"] == s["rows"]
    for key in ("command", "input_files", "missing", "token_lengths", "vocab_size_estimate", "reject_reasons"):
        assert key in on_disk
    assert on_disk["token_lengths"]["ir"]["max"] == 401
    assert on_disk["vocab_size_estimate"]["target"] < on_disk["vocab_size_estimate"]["source"]
    # pred_spectra: SMILES in src
    src = _read(tmp_path / "o", "src-val.txt").decode().splitlines()[0]
    assert not src.startswith("<") and bf.tokenize_smiles(src.replace(" ", "")) == src
    assert _read(tmp_path / "o", "tgt-val.txt").decode().startswith("<FORMULA>")


# ------------------------------------------------------------------ NMR binning (tagged only)
def _number_kinds(tokens):
    """Label each token of a tagged NMR line: 'h' (1H shift), 'j' (J value), 'c' (13C shift) or None."""
    kinds, mode, in_j = [], None, False
    for t in tokens:
        if t in ("1HNMR", "13CNMR"):
            mode, in_j = t, False
        elif t == "|":
            in_j = False
        elif t == "J":
            in_j = True
        is_num = t.replace(".", "").replace("-", "").isdigit()
        kinds.append(None if not is_num else ("c" if mode == "13CNMR" else "j" if in_j else "h"))
    return kinds


def test_nmr_decimals_bins_tagged_nmr_and_keeps_default_exact(tmp_path):
    generate(EX1, tmp_path / "exact", h_nmr=True, c_nmr=True, progress=False)
    generate(EX1, tmp_path / "binned", h_nmr=True, c_nmr=True, nmr_decimals="1,0,0", progress=False)
    exact = _read(tmp_path / "exact", "src-train.txt").decode().splitlines()
    binned = _read(tmp_path / "binned", "src-train.txt").decode().splitlines()
    assert len(exact) == len(binned) > 50
    seen = set()
    for e, b in zip(exact, binned):
        et, bt = e.split(), b.split()
        assert len(et) == len(bt)  # same layout, only the numbers change
        for kind, x, y in zip(_number_kinds(et), et, bt):
            if kind is None:
                assert x == y
            elif kind == "h":  # 0.1 ppm bins
                assert len(y.split(".")[1]) == 1 and abs(float(y) - float(x)) <= 0.05 + 1e-9
            else:  # J and 13C: integers, never "-0"
                assert "." not in y and y != "-0" and abs(int(y) - float(x)) <= 0.5 + 1e-9
            seen.add(kind)
    assert seen == {None, "h", "j", "c"}
    vocab = lambda lines: {t for line in lines for t in line.split()}  # noqa: E731
    assert len(vocab(binned)) < len(vocab(exact)) / 2


def test_nmr_decimals_refused_for_benchmark_format_and_bad_spec(tmp_path):
    with pytest.raises(DataError, match="tagged format only"):
        generate(EX1, tmp_path / "b", h_nmr=True, format="benchmark", nmr_decimals="1,0,0", progress=False)
    with pytest.raises(DataError, match="three integers"):
        generate(EX1, tmp_path / "c", h_nmr=True, nmr_decimals="1,x", progress=False)


def test_binned_folds_negative_zero():
    assert [f"{v:.0f}" for v in bf.binned(np.array([-0.4, 0.4, -1.6, 2.5]), 0)] == ["0", "0", "-2", "2"]


# ------------------------------------------------------------------ issue 12
def _msms_table(tmp_path) -> Path:
    t = pq.read_table(EX2).slice(0, 14)
    rows = t.to_pylist()
    rows[0]["msms_cfmid_positive_10ev"][0] = [rows[0]["msms_cfmid_positive_10ev"][0][0], -5.0]  # negative intensity
    rows[1]["msms_cfmid_negative_20ev"][1] = [150.0, 3.0, 7.0]  # three values
    rows[2]["msms_cfmid_positive_40ev"][0] = [-1.0, 10.0]  # m/z <= 0
    p = tmp_path / "msms_bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), p)
    return p


@pytest.mark.parametrize("fmt", ["benchmark", "tagged"])
def test_issue12_bad_msms_values_are_rejected(tmp_path, fmt):
    """Issue 12 item 5: a negative intensity became a '-5.0' token and [mz, 3, 7] lost its 7."""
    p = _msms_table(tmp_path)
    s = generate(p, tmp_path / fmt, format=fmt, pos_msms=True, neg_msms=True, progress=False)
    rej = {
        int(r.split("\t")[1]): r.split("\t")[4] for r in (tmp_path / fmt / "rejects.tsv").read_text().splitlines()[1:]
    }
    assert rej[0] == "msms_cfmid_positive_10ev: peak 0: negative intensity"
    assert rej[1] == "msms_cfmid_negative_20ev: peak 1: peak with more than two values (only [m/z, intensity] is read)"
    assert rej[2] == "msms_cfmid_positive_40ev: peak 0: m/z <= 0"
    assert s["rows"]["rejected"] == 3
    assert s["reject_reasons"]["pos_msms:malformed"] == 2 and s["reject_reasons"]["neg_msms:malformed"] == 1
    text = "".join(_read(tmp_path / fmt, f).decode() for f in FILES)
    assert " -5.0 " not in text and " -1.0 " not in text


def test_issue12_empty_corpus_is_an_error(tmp_path, capsys):
    """Issue 12 item 10: a 0-row / all-rejected input exited 0 with six empty files."""
    t = pq.read_table(EX2).slice(0, 4)
    rows = t.to_pylist()
    for r in rows:
        r["ir_spectra"] = None
    p = tmp_path / "allbad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), p)
    with pytest.raises(
        DataError,
        match=r"no usable rows: split\(s\) train, val, test empty after reading 4 row\(s\), "
        r"rejecting 4 \(ir:null 4\)",
    ):
        generate(p, tmp_path / "o", format="benchmark", ir=True, progress=False)
    assert (tmp_path / "o" / "rejects.tsv").read_text().count("\n") == 5  # the reasons are kept
    rc = main(
        ["--input", str(p), "--out_dir", str(tmp_path / "o2"), "--ir", "--format", "benchmark", "-q", "--no_progress"]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no usable rows" in err and "Traceback" not in err


def test_issue12_corrupt_data_page_is_one_line_error(tmp_path, capsys):
    """Issue 12 item 12: a corrupt data page gave a raw OSError traceback (rc 1)."""
    p = tmp_path / "corrupt.parquet"
    pq.write_table(pq.read_table(EX2), p, compression="snappy")
    data = bytearray(p.read_bytes())
    col = next(
        c
        for c in (
            pq.ParquetFile(p).metadata.row_group(0).column(i) for i in range(pq.ParquetFile(p).metadata.num_columns)
        )
        if c.path_in_schema == "smiles"
    )
    for k in range(col.data_page_offset + 8, col.data_page_offset + col.total_compressed_size - 4):
        data[k] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"corrupt\.parquet: corrupt parquet data"):
        generate(p, tmp_path / "o", ir=True, progress=False)
    rc = main(["--input", str(p), "--out_dir", str(tmp_path / "o"), "--ir", "-q", "--no_progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "corrupt.parquet" in err and "Traceback" not in err


def test_small_input_runs_in_process_despite_workers(tmp_path):
    """Issue 19: a pool's start-up exceeds the work of a small input; --workers is an upper bound."""
    d = tmp_path / "chunks"
    d.mkdir()
    for i in range(2):
        shutil.copy(EX1, d / f"aligned_chunk_{i}.parquet")
    s = generate(d, tmp_path / "o", formula=True, format="benchmark", workers=2, progress=False)
    w = s["workers"]
    assert (w["requested"], w["used"], w["pool_start_s"], w["processes"], w["in_this_process"]) == (2, 1, None, 1, True)


def test_workers_to_use():
    from onmt_moe.data.pipeline import _workers_to_use

    assert _workers_to_use(2, [3000] * 245, 20_000) == 2
    assert _workers_to_use(4, [5000] * 4, 20_000) == 1
    assert _workers_to_use(4, [30_000] * 3, 20_000) == 3  # one per chunk at most
    assert _workers_to_use(2, [10], 0) == 1
    assert _workers_to_use(2, [10, 10], 0) == 2


def test_synthetic_full_scale_set_repeats_example_rows(tmp_path):
    from onmt_moe.data.synthetic import repeat_rows

    paths = repeat_rows([EX2], tmp_path / "syn", chunks=3, rows_per_chunk=50, seed=1)
    assert [p.name for p in paths] == [f"aligned_chunk_{i}.parquet" for i in range(3)]
    base = pq.read_table(EX2)
    tables = [pq.read_table(p) for p in paths]
    assert all(t.num_rows == 50 for t in tables)
    assert tables[0].column("smiles").to_pylist() == (base.column("smiles").to_pylist() * 50)[:50]
    irs = [ir for t in tables for ir in t.column("ir_spectra").to_pylist()]
    assert len({tuple(v) for v in irs}) == len(irs)  # every copy distinct, so none is de-duplicated
    s = generate(tmp_path / "syn", tmp_path / "out", ir=True, formula=True, format="benchmark", progress=False)
    assert s["rows"]["deduplicated"] == 0 and s["rows"]["read"] == 150
