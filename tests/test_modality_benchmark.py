"""Modality-subset benchmark: subset building (no model), the table with a fake
translator, --train_each with a fake trainer, and compare_runs on synthetic runs."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from onmt_moe.modality.tags import MISSING, present_modalities
from onmt_moe.runs import modality_benchmark as mb

REPO = Path(__file__).resolve().parents[1]

FULL = "<FORMULA> C 2 H 6 O </FORMULA> <NMR> 1HNMR 1.2 t 3H </NMR> <IR> IR 1 2 </IR> <MS> E0Pos 46.0 100.0 </MS>"
NO_NMR = "<FORMULA> C 3 H 8 </FORMULA> <NMR> <MISSING> </NMR> <IR> IR 3 4 </IR> <MS> E0Pos 44.0 100.0 </MS>"
ONLY_MS = "<MS> E0Pos 30.0 100.0 </MS>"


def test_restrict_line_drop_and_token():
    toks = FULL.split()
    d = mb.restrict_line(toks, ("NMR", "IR"), "drop")
    assert present_modalities(d) == ["NMR", "IR"] and "<MS>" not in d and MISSING not in d
    t = mb.restrict_line(toks, ("NMR", "IR"), "token")
    assert present_modalities(t) == ["NMR", "IR"]
    assert t[:3] == ["<FORMULA>", MISSING, "</FORMULA>"] and t[-3:] == ["<MS>", MISSING, "</MS>"]
    k = mb.restrict_line(toks, ("IR",), "drop", keep=("FORMULA",))
    assert present_modalities(k) == ["FORMULA", "IR"]
    # a <MISSING> segment is no data: NMR alone gives nothing for this line
    assert mb.restrict_line(NO_NMR.split(), ("NMR",), "drop") is None
    # keep alone does not make a line usable
    assert mb.restrict_line(ONLY_MS.split(), ("IR",), "drop", keep=("MS",)) is None
    with pytest.raises(mb.BenchmarkError, match="unknown mode"):
        mb.restrict_line(toks, ("IR",), "blank")


def test_subsets_enumeration_and_parsing():
    mods = mb.modalities_in([NO_NMR, FULL, ONLY_MS])
    assert mods == ["FORMULA", "IR", "MS", "NMR"]
    subs = mb.all_subsets(["NMR", "IR", "MS"])
    assert len(subs) == 7 and subs[:3] == [("NMR",), ("IR",), ("MS",)] and subs[-1] == ("NMR", "IR", "MS")
    assert len(mb.all_subsets(["FORMULA", "NMR", "IR", "MS"], keep=("FORMULA",))) == 7
    assert mb.parse_subsets("IR+NMR, MS", ["NMR", "IR", "MS"]) == [("NMR", "IR"), ("MS",)]
    with pytest.raises(mb.BenchmarkError, match="HSQC"):
        mb.parse_subsets("NMR+HSQC", ["NMR", "IR", "MS"])
    assert mb.subset_name(("NMR", "IR")) == "NMR+IR" and mb.subset_slug(("NMR", "IR")) == "NMR-IR"


def test_build_subset_counts_and_errors():
    src = [FULL, NO_NMR, ONLY_MS]
    tgt = ["C C O", "C C C", "C O"]
    d = mb.build_subset(src, tgt, ("NMR",), "drop")
    assert d.n_skipped == 2 and d.indices == [0] and d.tgt == ["C C O"]
    d = mb.build_subset(src, tgt, ("MS",), "token")
    assert d.n_skipped == 0 and len(d.src) == 3
    assert all(MISSING in s for s in d.src[:2])
    with pytest.raises(mb.BenchmarkError, match=r"src-test.txt:2: malformed"):
        mb.build_subset([FULL, "<NMR> 1HNMR"], ["C", "C"], ("NMR",), path="src-test.txt")


def make_run(tmp_path, name="r1", n_best=5, mode="drop"):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    src = [FULL, NO_NMR, ONLY_MS, FULL.replace("1.2", "2.4")]
    tgt = ["C C O", "C C C", "C O", "C C N"]
    for split in ("train", "val", "test"):
        (data / f"src-{split}.txt").write_text("\n".join(src) + "\n")
        (data / f"tgt-{split}.txt").write_text("\n".join(tgt) + "\n")
    run = tmp_path / "runs" / name
    run.mkdir(parents=True)
    (run / "run.json").write_text(
        json.dumps(
            {
                "run_name": name,
                "data_dir": str(data),
                "src_test": str(data / "src-test.txt"),
                "tgt_test": str(data / "tgt-test.txt"),
                "n_best": n_best,
                "missing_mode": mode,
            }
        )
    )
    return run


def fake_translator(calls):
    """A 'model' that knows the answer iff NMR data is given, else guesses 'C' then the answer
    at position 3 when IR is given. Reads the targets next to the subset source (test only)."""

    def translate(src_path, out_path, run_info):
        calls.append((src_path, run_info.get("run_dir")))
        n_best = 5
        srcs = Path(src_path).read_text().splitlines()
        tgts = (
            (Path(src_path).parent / ("tgt.txt" if Path(src_path).name == "src.txt" else "tgt-test.txt"))
            .read_text()
            .splitlines()
        )
        out = []
        for s, t in zip(srcs, tgts):
            assert s.strip(), "empty source translated"
            mods = present_modalities(s.split())
            cands = ["C"] * n_best
            if "NMR" in mods:
                cands[0] = t
            elif "IR" in mods:
                cands[2] = t
            out += [f"{c}\t{-i:.1f}" for i, c in enumerate(cands)]
        Path(out_path).write_text("\n".join(out) + "\n")

    return translate


def read_table(path):
    return {r["subset"]: r for r in csv.DictReader(open(path))}


def test_run_benchmark_with_fake_translator(tmp_path):
    run = make_run(tmp_path)
    calls = []
    res = mb.run_benchmark(run, translate_fn=fake_translator(calls), keep=("FORMULA",), log=lambda m: None)
    table = read_table(run / "modality" / "modality_table.csv")
    assert list(table) == ["NMR", "IR", "MS", "NMR+IR", "NMR+MS", "IR+MS", "NMR+IR+MS"]
    # NMR: rows 0 and 3 have NMR data -> both right at rank 0
    assert table["NMR"]["n"] == "2" and table["NMR"]["n_skipped"] == "2"
    assert float(table["NMR"]["top-1"]) == 1.0
    # IR: rows 0, 1, 3; answer at rank 2 -> top-1 0, top-5 1
    assert table["IR"]["n"] == "3" and float(table["IR"]["top-1"]) == 0.0
    assert float(table["IR"]["top-5"]) == 1.0
    # MS: all 4 rows, never right
    assert table["MS"]["n"] == "4" and float(table["MS"]["top-5"]) == 0.0
    # NMR+IR: rows 0, 1, 3: NMR rows rank 0, row 1 (IR only) rank 2
    assert float(table["NMR+IR"]["top-1"]) == pytest.approx(2 / 3, abs=1e-4)
    assert "top-10" not in table["NMR"]  # n_best 5
    assert len(calls) == 7 and all(c[1] == str(run) for c in calls)
    md = (run / "modality" / "modality_table.md").read_text()
    assert "| NMR+IR |" in md and "66.67" in md
    assert res["png"] is not None and Path(res["png"]).stat().st_size > 1000
    # drop mode (the run's missing_mode): the other segments are gone
    assert "<MS>" not in (run / "modality" / "subsets" / "NMR-IR" / "src.txt").read_text()


def test_run_benchmark_subsets_token_mode_and_skipped_rows(tmp_path):
    run = make_run(tmp_path, mode="drop")
    calls = []
    mb.run_benchmark(run, subsets="NMR", mode="token", translate_fn=fake_translator(calls), log=lambda m: None)
    src = (run / "modality" / "subsets" / "NMR" / "src.txt").read_text().splitlines()
    assert len(src) == 2 and all("<IR> <MISSING> </IR>" in s for s in src)
    assert len(calls) == 1


def test_train_each_with_fake_trainer(tmp_path):
    run = make_run(tmp_path)
    trained = []

    def fake_train(run_name, data_dir):
        trained.append((run_name, data_dir))
        d = tmp_path / "runs" / run_name
        d.mkdir()
        (d / "run.json").write_text(json.dumps({"run_name": run_name}))
        return str(d)

    calls = []
    mb.run_benchmark(
        run, subsets="NMR,IR+MS", translate_fn=fake_translator(calls), train_fn=fake_train, log=lambda m: None
    )
    assert [t[0] for t in trained] == ["r1_NMR", "r1_IR-MS"]
    nmr_dir = Path(trained[0][1])
    assert len((nmr_dir / "src-train.txt").read_text().splitlines()) == 2
    info = json.loads((nmr_dir / "subset_info.json").read_text())
    assert info["train"] == {"n": 2, "n_skipped": 2}
    table = read_table(run / "modality" / "modality_table.csv")
    assert table["NMR"]["own_model:run"] == "r1_NMR"
    assert float(table["NMR"]["own_model:top-1"]) == 1.0
    # IR+MS model: rows 0, 1, 3 have IR (rank 2), row 2 only MS (never) -> top-5 = 3/4
    assert float(table["IR+MS"]["own_model:top-5"]) == 0.75
    # the per-subset models were asked to translate with their own run folders
    assert calls[-1][1] == str(tmp_path / "runs" / "r1_IR-MS")


def test_benchmark_cli_errors(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("mb_cli", REPO / "benchmark" / "modality_benchmark.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--run", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert "run.json: no such file" in err and "\n" not in err
    run = make_run(tmp_path)
    (tmp_path / "data" / "src-test.txt").write_text("C 2 H 6 O 1HNMR 1.2\n" * 4)
    assert cli.main(["--run", str(run)]) == 2
    assert "tagged source format" in capsys.readouterr().err


# ------------------------------------------------------------ compare_runs
def load_compare():
    spec = importlib.util.spec_from_file_location("compare_runs", REPO / "benchmark" / "compare_runs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_runs(tmp_path):
    a = tmp_path / "runs" / "moe"
    (a / "modality").mkdir(parents=True)
    (a / "run.json").write_text(
        json.dumps(
            {"run_name": "moe", "params_total": 450_000_000, "params_active": 135_000_000, "decode_sents_per_s": 12.5}
        )
    )
    (a / "modality" / "modality_table.csv").write_text(
        "subset,n,top-1,top-5,top-10,own_model:run,own_model:top-1,own_model:top-5,own_model:top-10\n"
        "NMR,10,0.5,0.7,0.8,moe_NMR,0.4,0.6,0.7\n"
        "NMR+IR,10,0.6,0.8,0.9,,,,\n"
    )
    (a / "train_steps.csv").write_text(
        "step,xent,ppl,accuracy,lr,src_tok_per_s,tgt_tok_per_s,elapsed_s,aux_total\n"
        "100,2.0,7.4,40,0.001,1000,300,10,0.1\n"
        "200,1.5,4.5,50,0.001,3000,500,20,\n"
    )
    b = tmp_path / "runs" / "dense"
    b.mkdir()
    (b / "run.json").write_text(json.dumps({"run_name": "dense"}))
    (b / "scores.json").write_text(json.dumps({"topk": {"1": 0.25, "5": 0.5}}))
    return a, b


def test_compare_runs_long_and_wide(tmp_path, capsys):
    cr = load_compare()
    a, b = synthetic_runs(tmp_path)
    ra = cr.run_summary(a, [1, 5, 10])
    assert ra["train_tok_per_s"] == pytest.approx((1300 + 3500) / 2)
    assert ra["train_src_tok_per_s"] == pytest.approx(2000)
    assert ra["subsets"]["NMR [own model]"][1] == pytest.approx(0.4)
    assert "NMR+IR [own model]" not in ra["subsets"]
    rb = cr.run_summary(b, [1, 5, 10])
    assert rb["subsets"] == {"all": {1: 0.25, 5: 0.5, 10: None}} and rb["params_total"] is None

    out = tmp_path / "cmp"
    assert cr.main([str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = list(csv.DictReader(open(str(out) + ".csv")))
    # long layout: every subset x every run, missing values as '-'
    assert [(r["subset"], r["run"]) for r in rows][:2] == [("NMR", "moe"), ("NMR", "dense")]
    assert len(rows) == 4 * 2
    dense_nmr = rows[1]
    assert dense_nmr["top-1"] == "-" and dense_nmr["params_total"] == "-"
    assert rows[0]["params_total"] == "450000000" and float(rows[0]["top-5"]) == pytest.approx(0.7)
    all_dense = [r for r in rows if r["subset"] == "all" and r["run"] == "dense"][0]
    assert float(all_dense["top-1"]) == 0.25 and all_dense["top-10"] == "-"
    md = Path(str(out) + ".md").read_text()
    assert md in printed and "450.0M" in md and "135.0M" in md and "| NMR | moe | 50.00 |" in md

    assert cr.main([str(a), str(b), "--out", str(out), "--layout", "wide", "--k", "1"]) == 0
    rows = list(csv.DictReader(open(str(out) + ".csv")))
    assert [r["run"] for r in rows] == ["moe", "dense"]
    assert rows[0]["NMR top-1"] == "0.500000" and rows[1]["NMR top-1"] == "-"
    assert rows[1]["all top-1"] == "0.250000" and "NMR top-5" not in rows[0]


def test_compare_runs_errors(tmp_path, capsys):
    cr = load_compare()
    assert cr.main([str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "run.json").write_text('{\n  "run_name": \n')
    assert cr.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "run.json:3: invalid JSON" in err and "\n" not in err


def test_glycan_run_is_scored_as_wurcs(tmp_path):
    """MS only vs MS+TEXT on a glycan run: the subsets are scored by graph identity (kind wurcs
    from run.json), not as SMILES."""
    pytest.importorskip("glypy")
    from onmt_moe.glycan.wurcs_tokenizer import tokenize_line

    w = [
        "WURCS=2.0/2,2,1/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5]/1-2/a4-b1",
        "WURCS=2.0/3,3,2/[a2122h-1x_1-5_2*NCC/3=O][a2112h-1b_1-5][a1221m-1a_1-5]/1-2-3/a4-b1_a3-c1",
    ]
    src = [
        "<MS> PMZ_382 CHARGE_-1 MZ_179 INT_9 </MS> <TEXT> n-linked glycan </TEXT>",
        "<MS> PMZ_528 CHARGE_-1 MZ_220 INT_9 </MS> <TEXT> <MISSING> </TEXT>",
    ]
    data = tmp_path / "data"
    data.mkdir()
    (data / "src-test.txt").write_text("\n".join(src) + "\n")
    (data / "tgt-test.txt").write_text("\n".join(tokenize_line(x) for x in w) + "\n")
    run = tmp_path / "runs" / "g"
    run.mkdir(parents=True)
    (run / "run.json").write_text(
        json.dumps(
            {
                "run_name": "g",
                "data_dir": str(data),
                "src_test": str(data / "src-test.txt"),
                "tgt_test": str(data / "tgt-test.txt"),
                "n_best": 1,
                "missing_mode": "token",
                "kind": "wurcs",
            }
        )
    )

    def translate(src_path, out_path, run_info):  # right iff TEXT data is given
        srcs = Path(src_path).read_text().splitlines()
        tgts = (Path(src_path).parent / "tgt.txt").read_text().splitlines()
        out = [t if "TEXT" in present_modalities(s.split()) else tokenize_line(w[0]) for s, t in zip(srcs, tgts)]
        Path(out_path).write_text("\n".join(out) + "\n")

    mb.run_benchmark(run, subsets="MS,MS+TEXT", translate_fn=translate, log=lambda m: None)
    table = read_table(run / "modality" / "modality_table.csv")
    assert float(table["MS"]["top-1"]) == 0.5  # the first structure is guessed right
    assert table["MS+TEXT"]["n"] == "2" and float(table["MS+TEXT"]["top-1"]) == pytest.approx(0.5)
    scores = json.loads((run / "modality" / "subsets" / "MS" / "scores.json").read_text())
    assert scores["kind"] == "wurcs"


def test_compare_runs_shows_secondary_topk_families(tmp_path):
    cr = load_compare()
    d = tmp_path / "g"
    d.mkdir()
    (d / "scores.json").write_text(
        json.dumps(
            {
                "kind": "wurcs",
                "topk": {"1": 0.1, "5": 0.2},
                "mass_reranked_topk": {"1": 0.15, "5": 0.2},
                "composition_topk": {"1": 0.6, "5": 0.8},
                "mass_tol": 0.01,
            }
        )
    )
    r = cr.run_summary(d, [1, 5])
    assert r["subsets"] == {
        "all": {1: 0.1, 5: 0.2},
        "all, mass re-ranked": {1: 0.15, 5: 0.2},
        "all, composition": {1: 0.6, 5: 0.8},
    }
