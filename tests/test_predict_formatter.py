"""One formatter, stored with the model (issue 35 Build 1; issue 36 item 2).

The corpus builder (``generate_input``) and the predictor (``onmt_moe_predict``) share one settings
object (``onmt_moe.data.formatting.Formatting``: NMR binning, IR points, MS/MS top-k, missing style,
sections and tag layout) and one formatting path. A corpus binned with ``--nmr_decimals 1,0,0`` and a
spectrum typed by hand as a chemist would (``--c_nmr "166.9, 132.9, …"``) must give the corpus' own
source line, byte for byte, and no token unknown to the vocabulary. No model is trained here.
"""

import json
import os
import shlex

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from onmt_moe.data.formatting import Formatting, option_value
from onmt_moe.data.pipeline import generate
from onmt_moe.predict import InputError, settings
from onmt_moe.predict.cli import _vocab_report, read_sample
from onmt_moe.predict.source import build_source
from tests.conftest import FIXTURES, ROOT

EX1 = os.path.join(FIXTURES, "benchmark_examples", "example_data_1_slim.parquet")

# literature spectra typed as a chemist would (CDCl3, 400 MHz)
TYPED = {
    "COC(=O)c1ccccc1": dict(  # methyl benzoate
        formula="C8H8O2",
        h_nmr="8.03 (d, J = 7.6 Hz, 2H), 7.55 (t, J = 7.4 Hz, 1H), 7.43 (t, J = 7.6 Hz, 2H), 3.91 (s, 3H)",
        c_nmr="166.9, 132.9, 130.2, 129.6, 128.4, 52.1",
    ),
    "CC(=O)c1ccc(C)cc1": dict(  # 4-methylacetophenone
        formula="C9H10O",
        h_nmr="7.86 (d, J = 8.2 Hz, 2H), 7.25 (d, J = 8.0 Hz, 2H), 2.57 (s, 3H), 2.41 (s, 3H)",
        c_nmr="197.8, 143.9, 134.8, 129.3, 128.5, 26.5, 21.6",
    ),
}
SECTIONS = dict(formula=True, h_nmr=True, c_nmr=True)


def _rows_with_typed_spectra(tmp_path):
    """EX1 (100 molecules) with its first rows replaced by the typed spectra's values: the corpus holds
    exactly the numbers a chemist types (1H peaks as the predictor's reader turns the typed list into
    the benchmark's peak records)."""
    t = pq.read_table(EX1, columns=["smiles", "molecular_formula", "h_nmr_peaks", "c_nmr_peaks"])
    rows = t.to_pylist()
    for k, (smi, typed) in enumerate(TYPED.items()):
        s = read_sample("x", typed["formula"], h_nmr=typed["h_nmr"])
        peaks = [
            {**p, "centroid": (p["rangeMax"] + p["rangeMin"]) / 2, "delta": (p["rangeMax"] + p["rangeMin"]) / 2}
            for p in s.h_nmr.peaks
        ]
        shifts = [float(v) for v in typed["c_nmr"].split(",")]
        rows[k] = {
            "smiles": smi,
            "molecular_formula": typed["formula"],
            "h_nmr_peaks": peaks,
            "c_nmr_peaks": [{"delta (ppm)": v, "integral": 1.0, "intensity": 1.0, "width (ppm)": 0.01} for v in shifts],
        }
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), path)
    return str(path)


@pytest.fixture(scope="module")
def binned_corpus(tmp_path_factory):
    """A corpus built as ``make demo`` builds its own: tagged, --nmr_decimals 1,0,0, --missing token."""
    tmp = tmp_path_factory.mktemp("binned")
    inp = _rows_with_typed_spectra(tmp)
    out = tmp / "corpus"
    generate(
        inp,
        str(out),
        missing="token",
        nmr_decimals="1,0,0",
        progress=False,
        command=shlex.join(
            ["benchmark/generate_input.py", "--input", inp, "--out_dir", str(out), "--formula", "--h_nmr", "--c_nmr"]
            + ["--missing", "token", "--nmr_decimals", "1,0,0"]
        ),
        **SECTIONS,
    )
    data = out / "data"
    pairs, vocab = {}, set()
    for split in ("train", "val", "test"):
        src = (data / f"src-{split}.txt").read_text().splitlines()
        tgt = (data / f"tgt-{split}.txt").read_text().splitlines()
        pairs.update({"".join(t.split()): s for s, t in zip(src, tgt)})
        if split == "train":
            vocab |= {tok for s in src for tok in s.split()}
    return data, pairs, vocab


def _typed_line(smi, cfg):
    typed = TYPED[smi]
    s = read_sample(smi, typed["formula"], h_nmr=typed["h_nmr"], c_nmr=typed["c_nmr"])
    return build_source(s, cfg)


def _lines_match(cfg, pairs):
    for smi in TYPED:
        built = _typed_line(smi, cfg)
        assert built.line == pairs[smi], smi
        assert " 167 " in pairs["COC(=O)c1ccccc1"]  # the corpus bins 13C to whole ppm


# ------------------------------------------------------------------ (1) byte-identical source lines
def test_summary_records_the_full_formatting(binned_corpus):
    data, _, _ = binned_corpus
    rec = json.loads((data / "summary.json").read_text())["formatting"]
    assert rec["nmr_decimals"] == [1, 0, 0] and rec["version"] == 1
    assert rec["sections"] == ["formula", "h_nmr", "c_nmr"] and rec["missing"] == "token"
    assert rec["format"] == "tagged" and rec["groups"]["c_nmr"] == "NMR"
    assert {"ir_points", "msms_top_k"} <= set(rec)


def test_typed_inputs_give_the_corpus_line_byte_for_byte(binned_corpus, tmp_path):
    data, pairs, _ = binned_corpus
    cfg = settings.resolve(str(tmp_path / "model_step_1.pt"), corpus=str(data))
    assert cfg.nmr_decimals == (1, 0, 0)
    _lines_match(cfg, pairs)
    # the default (benchmark) binning -- what the predictor used before -- gives other tokens
    old = settings.CorpusSettings(
        kind="smiles", formatting=Formatting(**{**vars(cfg.formatting), "nmr_decimals": (2, 2, 1)})
    )
    assert _typed_line("COC(=O)c1ccccc1", old).line != pairs["COC(=O)c1ccccc1"]


# ------------------------------------------------------------------ (3) older summaries
def _rewrite_summary(data, tmp_path, edit):
    s = json.loads((data / "summary.json").read_text())
    edit(s)
    p = tmp_path / "summary.json"
    p.write_text(json.dumps(s))
    return str(p)


def test_legacy_summary_reads_the_binning_from_its_command_line(binned_corpus, tmp_path):
    data, pairs, _ = binned_corpus

    def old_record(s):  # what summaries held before: IR points and MS/MS top-k only
        s["formatting"] = {"ir_points": 400, "msms_top_k": None}

    cfg = settings.resolve(str(tmp_path / "m.pt"), corpus=_rewrite_summary(data, tmp_path, old_record))
    assert cfg.nmr_decimals == (1, 0, 0)
    _lines_match(cfg, pairs)

    def no_record(s):
        del s["formatting"]

    cfg = settings.resolve(str(tmp_path / "m.pt"), corpus=_rewrite_summary(data, tmp_path, no_record))
    _lines_match(cfg, pairs)


def test_legacy_command_without_the_flag_means_the_default(binned_corpus, tmp_path):
    data, _, _ = binned_corpus

    def default_cmd(s):
        del s["formatting"]
        s["command"] = "benchmark/generate_input.py --input x --out_dir y --formula --h_nmr --c_nmr --missing token"

    cfg = settings.resolve(str(tmp_path / "m.pt"), corpus=_rewrite_summary(data, tmp_path, default_cmd))
    assert cfg.nmr_decimals == (2, 2, 1)


def test_a_summary_that_cannot_tell_its_binning_is_refused(binned_corpus, tmp_path, capsys):
    data, _, _ = binned_corpus

    def mute(s):
        del s["formatting"]
        del s["command"]

    with pytest.raises(InputError, match="cannot tell the corpus' nmr_decimals") as exc:
        settings.resolve(str(tmp_path / "m.pt"), corpus=_rewrite_summary(data, tmp_path, mute))
    assert "\n" not in str(exc.value)

    def broken(s):
        s["formatting"] = {"version": 1, "format": "tagged"}

    with pytest.raises(InputError, match="lacks"):
        settings.resolve(str(tmp_path / "m.pt"), corpus=_rewrite_summary(data, tmp_path, broken))


# ------------------------------------------------------------------ (4) no unknown tokens
def test_typed_inputs_have_no_unknown_token(binned_corpus, tmp_path):
    data, _, vocab = binned_corpus
    cfg = settings.resolve(str(tmp_path / "m.pt"), corpus=str(data))
    for smi in TYPED:
        built = _typed_line(smi, cfg)
        _vocab_report(built, vocab, cfg)
        assert not [r for r in built.report if r.startswith(("WARNING", "note"))], built.report
    # the old predictor's formatting (default decimals) against the same vocabulary: numbers the
    # vocabulary lacks, now read as the nearest it has (and said so)
    old = settings.CorpusSettings(
        kind="smiles", formatting=Formatting(**{**vars(cfg.formatting), "nmr_decimals": (2, 2, 1)})
    )
    built = _typed_line("COC(=O)c1ccccc1", old)
    _vocab_report(built, vocab, old)
    assert any("unknown to the model read as the nearest known (8.06->8.1" in r for r in built.report)
    assert set(built.line.split()) <= vocab and "13CNMR 167 " in built.line  # 166.9 -> 167, as binned


# ------------------------------------------------------------------ the settings travel with the model
def test_checkpoint_record_wins_and_a_contradicting_corpus_is_refused(binned_corpus, tmp_path):
    data, pairs, _ = binned_corpus
    recorded = json.loads((data / "summary.json").read_text())["formatting"]
    run = tmp_path / "run"
    run.mkdir()
    ckpt = str(run / "model_step_5.pt")
    # the checkpoint alone (no run folder summary, no corpus): its record is enough
    cfg = settings.resolve(ckpt, recorded=json.dumps(recorded))
    assert cfg.nmr_decimals == (1, 0, 0) and "moe_corpus_formatting" in cfg.source
    _lines_match(cfg, pairs)
    # a run folder whose kept summary disagrees (e.g. the corpus was rebuilt): the checkpoint wins
    other = {**recorded, "nmr_decimals": [2, 2, 1]}
    s = json.loads((data / "summary.json").read_text())
    (run / "corpus_summary.json").write_text(json.dumps({**s, "formatting": other}))
    assert settings.resolve(ckpt, recorded=json.dumps(recorded)).nmr_decimals == (1, 0, 0)
    # the same summary in the run folder: agreed, and it adds the training source lengths
    (run / "corpus_summary.json").write_text(json.dumps(s))
    cfg = settings.resolve(ckpt, recorded=json.dumps(recorded))
    assert cfg.src_token_max == s["token_lengths"]["source"]["max"]
    # an explicit --corpus that formats differently from the checkpoint: refused, one line
    p = tmp_path / "other.json"
    p.write_text(json.dumps({**s, "formatting": other}))
    with pytest.raises(InputError, match="formats sources differently") as exc:
        settings.resolve(ckpt, corpus=str(p), recorded=json.dumps(recorded))
    assert "nmr_decimals" in str(exc.value) and "\n" not in str(exc.value)
    # a damaged record is refused, not guessed
    with pytest.raises(InputError, match="moe_corpus_formatting"):
        settings.resolve(ckpt, recorded='{"version": 1}')


def test_start_training_stores_the_record_in_the_config_onmt_reads(binned_corpus, tmp_path):
    """runner.resolve puts the corpus record into the onmt_train config; OpenNMT's own config parser
    reads it back as the plugin option, which onmt_train then saves in every checkpoint's opt."""
    from onmt_moe.runs import runner

    data, _, _ = binned_corpus
    want = option_value(str(data))
    assert Formatting.from_json(want).nmr_decimals == (1, 0, 0)
    cfg = yaml.safe_load(open(os.path.join(ROOT, "configs", "tiny_moe.yaml")))
    cfg["run"]["data_dir"] = str(data)
    tpl = tmp_path / "cfg.yaml"
    tpl.write_text(yaml.safe_dump(cfg))
    plan = runner.resolve(str(tpl), str(tmp_path / "run"))
    assert plan["train_config"]["moe_corpus_formatting"] == want
    runner.write_configs(plan)
    opt, _ = runner._train_parser().parse_known_args(["-config", str(tmp_path / "run" / "config.yaml")])
    assert opt.moe_corpus_formatting == want
    # a template may not set it by hand
    cfg["moe_corpus_formatting"] = "{}"
    tpl.write_text(yaml.safe_dump(cfg))
    with pytest.raises(runner.ConfigError, match="moe_corpus_formatting"):
        runner.resolve(str(tpl), str(tmp_path / "run2"))
