"""onmt_moe_predict refuses bad batches and bad options with one line and rc 2, before any model is
loaded or any decoding starts (issue 36 items 8 and 12). No model is needed: the checkpoint given is a
file of junk bytes, which would be refused only later (so reaching it would show in the message)."""

import os

import pytest

from onmt_moe.predict import InputError
from onmt_moe.predict.cli import MAX_BEAM, batch_rows, main

LATIN1 = "C8H8O\n# méthyl\n".encode("latin-1")


@pytest.fixture
def junk_model(tmp_path):
    p = tmp_path / "model_step_1.pt"
    p.write_bytes(b"not a checkpoint")
    return str(p)


def _one_error(capsys, *needles):
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and "Traceback" not in err[0]
    for n in needles:
        assert n in err[0], err[0]
    assert "not a readable OpenNMT checkpoint" not in err[0]  # refused before the model was read
    return err[0]


def _folder(tmp_path, **samples):
    root = tmp_path / "batch"
    for name, files in samples.items():
        (root / name).mkdir(parents=True)
        for fn, text in files.items():
            (root / name / fn).write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


# ------------------------------------------------------------------ item 8: batch folders
def test_unrecognised_file_in_a_batch_folder_is_named(tmp_path, junk_model, capsys):
    root = _folder(tmp_path, s1={"formula.txt": "C8H8O", "c_nmr.txt": "198.1\n26.6\n", "c13.txt": "1"})
    assert main(["--model", junk_model, "--batch", str(root)]) == 2
    _one_error(capsys, os.path.join(str(root), "s1", "c13.txt"), "unrecognised file name")


def test_a_stray_file_or_folder_in_a_batch_folder_is_named(tmp_path, junk_model, capsys):
    root = _folder(tmp_path, s1={"formula.txt": "C8H8O"})
    (root / "README.txt").write_text("my samples")
    assert main(["--model", junk_model, "--batch", str(root)]) == 2
    _one_error(capsys, "README.txt", "one subfolder per sample")
    os.remove(root / "README.txt")
    (root / "s1" / "raw").mkdir()
    assert main(["--model", junk_model, "--batch", str(root)]) == 2
    _one_error(capsys, os.path.join("s1", "raw"), "unrecognised folder")


def test_hidden_files_are_not_samples(tmp_path):
    root = _folder(tmp_path, s1={"formula.txt": "C8H8O", ".DS_Store": b"\x00\x01"})
    (root / ".DS_Store").write_bytes(b"\x00")
    assert batch_rows(str(root)) == [("s1", {"formula": "C8H8O"})]


def test_two_files_for_one_input_are_both_named(tmp_path, junk_model, capsys):
    root = _folder(tmp_path, s1={"h_nmr.csv": "shift,nH\n7.2,5\n", "1h.txt": "7.26 (s, 5H)"})
    assert main(["--model", junk_model, "--batch", str(root)]) == 2
    _one_error(capsys, "1h.txt", "h_nmr.csv", "both the h_nmr input")


def test_duplicate_sample_names_in_a_batch_csv_are_both_named(tmp_path, junk_model, capsys):
    csv = tmp_path / "samples.csv"
    csv.write_text("sample,formula,c_nmr\nacetophenone,C8H8O,198.1\nmb,C8H8O2,166.9\nacetophenone,C8H8O,26.6\n")
    assert main(["--model", junk_model, "--batch", str(csv)]) == 2
    _one_error(capsys, "'acetophenone'", "line 2", "line 4", "unique")
    # an unnamed row is called "line N": a sample named so on purpose collides too
    csv.write_text("sample,formula\n,C8H8O\nline 2,C8H8O2\n")
    with pytest.raises(InputError, match="'line 2' on line 2 and line 3"):
        batch_rows(str(csv))


# ------------------------------------------------------------------ item 12: one line, rc 2
def test_non_utf8_batch_csv_is_one_line(tmp_path, junk_model, capsys):
    csv = tmp_path / "samples.csv"
    csv.write_bytes(b"sample,formula\nm\xe9thyl benzoate,C8H8O2\n")
    assert main(["--model", junk_model, "--batch", str(csv)]) == 2
    _one_error(capsys, "samples.csv", "not UTF-8", "0xe9")


def test_non_utf8_formula_txt_rejects_that_sample(tmp_path, junk_model, capsys):
    root = _folder(tmp_path, s1={"formula.txt": LATIN1})
    rows = dict(batch_rows(str(root)))
    assert "not UTF-8" in rows["s1"]["error"] and "formula.txt" in rows["s1"]["error"]
    out = tmp_path / "res" / "ranked.csv"
    assert main(["--model", junk_model, "--batch", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "Traceback" not in "\n".join(err)
    assert any("formula.txt: not UTF-8 text" in e for e in err)
    assert err[-1].startswith("error: no usable sample (1 rejected")
    assert "formula.txt: not UTF-8" in (tmp_path / "res" / "ranked.rejects.tsv").read_text()


@pytest.mark.parametrize("where", ["folder", "below_a_file", "rejects_below_a_file"])
def test_out_is_checked_before_any_work(tmp_path, junk_model, capsys, where):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    args = ["--model", junk_model, "--formula", "C8H8O"]
    if where == "folder":
        args += ["--out", str(tmp_path)]
        needle = "is a folder"
    elif where == "below_a_file":
        args += ["--out", str(a_file / "ranked.csv")]
        needle = "is a file, not a folder"
    else:
        root = _folder(tmp_path, s1={"formula.txt": "C8H8O"})
        args = ["--model", junk_model, "--batch", str(root), "--rejects", str(a_file / "r.tsv")]
        needle = "--rejects"
    assert main(args) == 2
    _one_error(capsys, needle)


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--n_best", "100000"], f"at most {MAX_BEAM}"),
        (["--beam_size", "100000"], f"expected 1..{MAX_BEAM}"),
        (["--n_best", "20", "--beam_size", "5"], "larger than --beam_size 5"),
        (["--n_best", "0"], "--n_best must be >= 1"),
        (["--max_length", "0"], "--max_length 0"),
    ],
)
def test_decoding_bounds_are_refused_before_allocating(tmp_path, junk_model, capsys, extra, needle):
    assert main(["--model", junk_model, "--formula", "C8H8O", *extra]) == 2
    _one_error(capsys, needle)


def test_bad_input_is_refused_before_the_model_is_read(tmp_path, junk_model, capsys):
    bad = tmp_path / "c.txt"
    bad.write_bytes("198.1\n26.6 \u00b5\n".encode("utf-16"))
    assert main(["--model", junk_model, "--formula", "C8H8O", "--c_nmr", str(bad)]) == 2
    _one_error(capsys, "c.txt")
