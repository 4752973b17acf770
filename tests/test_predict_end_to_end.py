"""onmt_moe_predict end to end: a tiny checkpoint trained in seconds on an all-modality corpus,
then predictions from real spectra files; the glycan track likewise."""

import csv
import json
import os
import subprocess
import sys

import pytest

from onmt_moe.predict import cli
from tests.conftest import FIXTURES, ROOT

F = os.path.join(FIXTURES, "predict")
EX1 = os.path.join(FIXTURES, "benchmark_examples", "example_data_1_slim.parquet")
ENV = dict(os.environ, OMP_NUM_THREADS="1")
START = [sys.executable, os.path.join(ROOT, "benchmark", "start_training.py")]


def _train(tmp, data, name, *extra):
    r = subprocess.run(
        START
        + [
            "--config",
            os.path.join(ROOT, "configs", "tiny_moe.yaml"),
            "--runs_dir",
            str(tmp),
            "--run_name",
            name,
            "--quiet",
            "--stages",
            "vocab,train",
            "--set",
            f"run.data_dir={data}",
            "--set",
            "train_steps=10",
            "--set",
            "save_checkpoint_steps=10",
            "--set",
            "valid_steps=10",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp / name / "model_step_10.pt"


@pytest.fixture(scope="module")
def smiles_model(tmp_path_factory):
    from onmt_moe.data.pipeline import generate

    tmp = tmp_path_factory.mktemp("predict")
    generate(
        EX1,
        str(tmp / "corpus"),
        h_nmr=True,
        c_nmr=True,
        ir=True,
        pos_msms=True,
        neg_msms=True,
        formula=True,
        missing="token",
        ir_points=50,
        msms_top_k=5,
        progress=False,
    )
    return _train(tmp, tmp / "corpus" / "data", "m")


def _h_csv(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("shift,multiplicity,J,nH\n7.95,d,7.5,2\n7.55,t,7.4,1\n7.45,t,7.6,2\n2.60,s,,3\n")
    return str(p)


def test_one_sample_from_real_files_table_csv_and_json(smiles_model, tmp_path, capsys):
    out_csv, out_json = tmp_path / "ranked.csv", tmp_path / "ranked.json"
    args = [
        "--model",
        str(smiles_model),
        "--formula",
        "C8H8O",
        "--ir",
        os.path.join(F, "ethanol2.jdx"),
        "--h_nmr",
        _h_csv(tmp_path),
        "--c_nmr",
        "198.1, 137.1, 133.1, 128.6, 128.3, 26.6",
        "--msms",
        os.path.join(F, "save_as_msp_from_mgf.mgf"),
        "--n_best",
        "3",
    ]
    assert cli.main([*args, "--out", str(out_csv)]) == 0
    shown = capsys.readouterr().out
    for needle in (
        "formula    used: 5 tokens",
        "1H NMR     used: 26 tokens",
        "13C NMR    used: 7 tokens",
        "IR         used: 51 tokens",
        "transmittance converted",
        "MS/MS (+)  used: 13 tokens",
        "MS/MS (-)  not given: left out of the <MS> segment",
        "rank beam  logp/tok valid    formula match prec.  smiles",
    ):
        assert needle in shown
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 3 and set(rows[0]) == {
        "sample",
        "rank",
        "beam_rank",
        "smiles",
        "log_prob",
        "valid",
        "formula",
        "formula_match",
        "precursor_match",
        "duplicate_of",
        "sim_c",
        "sim_h",
    }
    assert sorted(int(x["beam_rank"]) for x in rows) == [1, 2, 3]
    # the sample has 1H and 13C: every valid candidate carries its simulated-NMR cosines
    assert all(x["sim_c"] != "" and x["sim_h"] != "" for x in rows if x["valid"] == "True")
    assert all(float(x["log_prob"]) <= 0 for x in rows)
    assert cli.main([*args, "--out", str(out_json), "-q"]) == 0
    doc = json.loads(out_json.read_text())
    (sample,) = doc["samples"]
    # centroid 7.95, d, J 7.5 Hz at 400 MHz -> range 7.98-7.92 (see readers.estimated_range)
    assert sample["source"].startswith(
        "<FORMULA> C 8 H 8 O </FORMULA> <NMR> 1HNMR 7.98 7.92 d 2H J 7.50 | 7.59 7.51 t 1H J 7.40 |"
    )
    assert "13CNMR 198.1 137.1 133.1 128.6 128.3 26.6 </NMR> <IR> IR " in sample["source"]
    # one positive spectrum, energy not recorded -> the 20 eV block; no negative spectrum -> no E*Neg;
    # m/z 112.1 and 238.1 are unknown to the tiny model: read as the nearest numbers it knows
    assert sample["source"].endswith(
        "<MS> E0Pos E1Pos 112.0 1.1 112.0 100.0 127.0 35.6 193.0 87.1 237.0 32.8 E2Pos </MS>"
    )
    assert [c["beam_rank"] for c in sample["candidates"]] == [int(x["beam_rank"]) for x in rows]


def test_decoder_gives_what_stock_onmt_translate_gives(smiles_model, tmp_path):
    from onmt_moe.inference.decode import Decoder

    line = (
        "<FORMULA> C 8 H 8 O </FORMULA> <NMR> 13CNMR 198.1 137.1 26.6 </NMR> <IR> <MISSING> </IR> <MS> <MISSING> </MS>"
    )
    dec = Decoder(str(smiles_model), n_best=3, beam_size=3, max_length=40)
    (ours,) = dec.decode([line])
    dec.close()
    src, out = tmp_path / "src.txt", tmp_path / "pred.txt"
    src.write_text(line + "\n")
    exe = os.path.join(os.path.dirname(sys.executable), "onmt_translate")
    r = subprocess.run(
        [
            exe,
            "-model",
            str(smiles_model),
            "-src",
            str(src),
            "-output",
            str(out),
            "-beam_size",
            "3",
            "-n_best",
            "3",
            "-max_length",
            "40",
            "-with_score",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    stock = [ln.rsplit("\t", 1) for ln in out.read_text().splitlines()]
    assert [t for t, _ in ours] == [t for t, _ in stock]
    assert [s for _, s in ours] == pytest.approx([float(s) for _, s in stock], abs=1e-4)


def test_batch_csv_keeps_good_samples_and_rejects_bad_ones(smiles_model, tmp_path, capsys):
    h = _h_csv(tmp_path)
    batch = tmp_path / "samples.csv"
    batch.write_text(
        "sample,formula,h_nmr,c_nmr,msms\n"
        f"acetophenone,C8H8O,{h},198.1 137.1 26.6,\n"
        "bad_formula,C8Xx,,26.6,\n"
        f"two_spectra,C8H8O,,26.6,{os.path.join(F, 'massbank_five_spectra.msp')}\n"
    )
    out = tmp_path / "ranked.csv"
    rc = cli.main(["--model", str(smiles_model), "--batch", str(batch), "--n_best", "2", "--out", str(out), "-q"])
    assert rc == 2
    rows = list(csv.DictReader(open(out)))
    assert {r["sample"] for r in rows} == {"acetophenone"} and len(rows) == 2
    rejects = (tmp_path / "ranked.rejects.tsv").read_text().splitlines()
    assert rejects[0] == "sample\treason" and len(rejects) == 3
    assert "bad_formula\t--formula 'C8Xx': RDKit does not know the element 'Xx'" in rejects
    assert any(r.startswith("two_spectra\t") and "5 spectra" in r for r in rejects)
    err = capsys.readouterr().err
    assert err.count("error: ") == 2


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--formula", "C8H8Q"], "--formula 'C8H8Q': RDKit does not know the element 'Q'"),
        (["--msms", os.path.join(F, "massbank_five_spectra.msp")], "massbank_five_spectra.msp: 5 spectra in the file"),
        (["--ir", os.path.join(F, "ethanol_ms.jdx")], "ethanol_ms.jdx: XUNITS 'm/z' is not an IR axis"),
        (["--c_nmr", os.path.join(F, "missing.csv")], "missing.csv: no such file"),
        (["--msms", os.path.join(F, "save_as_msp_from_mgf.mgf"), "--msms_energy", "high"], "msms_energy 'high'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(smiles_model, capsys, extra, needle):
    assert cli.main(["--model", str(smiles_model), "--formula", "C8H8O", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]


# ------------------------------------------------------------------ glycan track
def _glycan_mgf(path, row):
    peaks = "\n".join(f"{m:.5f} {i:.3f}" for m, i in row["peaks"])
    path.write_text(
        f"BEGIN IONS\nTITLE={row['glytoucan_id']}\nPEPMASS={row['precursor_mz']}\n"
        f"CHARGE={abs(int(row['charge']))}-\nIONMODE=negative\n{peaks}\nEND IONS\n"
    )


def test_glycan_msms_to_ranked_wurcs(tmp_path):
    pytest.importorskip("glypy")
    import pandas as pd

    sample = os.path.join(FIXTURES, "glycan", "sample.parquet")
    r = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "benchmark", "generate_glycan_input.py"),
            "--input",
            sample,
            "--out_dir",
            str(tmp_path / "gc"),
            "--text",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = _train(tmp_path, tmp_path / "gc" / "data", "g", "--set", "run.kind=wurcs")
    row = pd.read_parquet(sample).iloc[0]
    mgf = tmp_path / "glycan.mgf"
    _glycan_mgf(mgf, row)
    out = tmp_path / "ranked.json"
    rc = cli.main(
        ["--model", str(ckpt), "--msms", str(mgf), "--text", row["text"], "--n_best", "3", "--out", str(out), "-q"]
    )
    assert rc == 0
    (s,) = json.loads(out.read_text())["samples"]
    from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens
    from onmt_moe.glycan.text import text_tokens

    want = source_tokens(
        float(row["precursor_mz"]),
        int(row["charge"]),
        [[float(m), float(i)] for m, i in row["peaks"]],
        text_tokens(row["text"]),
        SpecTokConfig(),
    )
    # MGF m/z are written with 5 decimals: the source is the corpus' own tokens
    assert s["source"] == " ".join(want)
    assert len(s["candidates"]) == 3 and {"wurcs", "mass", "mass_match"} <= set(s["candidates"][0])


def test_run_folder_keeps_the_corpus_settings(smiles_model, tmp_path):
    import shutil

    from onmt_moe.predict import settings

    run = smiles_model.parent
    kept = json.loads((run / "corpus_summary.json").read_text())
    assert (kept["formatting"]["ir_points"], kept["formatting"]["msms_top_k"]) == (50, 5)
    assert kept["formatting"]["nmr_decimals"] == [2, 2, 1] and kept["missing_mode"] == "token"
    # the checkpoint carries the same record (-moe_corpus_formatting), so it formats inputs alone
    from onmt_moe.inference.decode import checkpoint_info

    assert json.loads(checkpoint_info(str(smiles_model))[2]) == kept["formatting"]
    moved = tmp_path / "shipped_run"  # only the checkpoint and the kept summary travel
    moved.mkdir()
    shutil.copy(smiles_model, moved / smiles_model.name)
    shutil.copy(run / "corpus_summary.json", moved / "corpus_summary.json")
    cfg = settings.resolve(str(moved / smiles_model.name))
    assert cfg.source == str(moved / "corpus_summary.json") and (cfg.ir_points, cfg.msms_top_k) == (50, 5)
    assert cli.main(["--model", str(moved), "--c_nmr", "198.1, 26.6", "--n_best", "2", "-q"]) == 0
