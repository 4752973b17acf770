"""``onmt_moe_predict``: spectra files of one sample (or a batch) -> ranked candidate structures.

    onmt_moe_predict --model runs/x/model_step_N.pt --formula C8H8O --ir sample_ir.jdx \\
        --h_nmr peaks_1h.csv --c_nmr "198.1, 137.1, 133.1, 128.6, 128.3, 26.6" --msms sample.mgf \\
        --n_best 10 [--out ranked.csv|ranked.json]
    onmt_moe_predict --model runs/glycan/model_step_N.pt --msms glycan.mgf [--text "n-linked glycan"]
    onmt_moe_predict --model runs/x --batch samples.csv|samples_folder/ --out ranked.csv

Exit codes: 0 all samples predicted; 2 bad input (one line naming the file and the problem;
in --batch mode the other samples are still predicted and the rejected ones listed in the
rejects file); 1 an internal failure of the model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence

from onmt_moe.inference import ModelError
from onmt_moe.numbers import nearest_known
from onmt_moe.predict import InputError
from onmt_moe.predict import readers as rd
from onmt_moe.predict.source import Built, Sample, build_source

BATCH_COLUMNS = ("sample", "formula", "ir", "h_nmr", "c_nmr", "msms", "msms_index", "msms_mode", "msms_energy", "text")
# file stems recognised in a --batch folder's per-sample subfolders
FOLDER_STEMS = {
    "formula": "formula",
    "ir": "ir",
    "h_nmr": "h_nmr",
    "1h": "h_nmr",
    "c_nmr": "c_nmr",
    "13c": "c_nmr",
    "msms": "msms",
    "ms2": "msms",
    "text": "text",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="onmt_moe_predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", required=True, help="checkpoint model_step_N.pt, or a run folder (newest checkpoint)")
    p.add_argument(
        "--corpus", help="the training corpus folder or its summary.json (default: found from the run folder)"
    )
    p.add_argument(
        "--trust_checkpoint",
        action="store_true",
        help="load --model as a full pickle (it can run code): only for a checkpoint you trust",
    )
    g = p.add_argument_group("one sample")
    g.add_argument("--formula", help="molecular formula, e.g. C8H8O")
    g.add_argument("--ir", help="IR spectrum, JCAMP-DX (absorbance or transmittance; 1/cm, µm or nm axis)")
    g.add_argument("--h_nmr", help="1H peaks: CSV/TSV table, literature-style list (inline or .txt), or JCAMP-DX")
    g.add_argument("--c_nmr", help="13C shifts: inline '198.1, 137.1, …', a text/CSV file, or JCAMP-DX")
    g.add_argument("--msms", help="MS/MS spectra: MGF, MSP or mzML")
    g.add_argument("--msms_index", help="which spectrum of the file (0-based; several as 0,2: one per energy)")
    g.add_argument(
        "--msms_mode",
        choices=("positive", "negative"),
        help="ion mode (overrides the file's; needed when it records none)",
    )
    g.add_argument(
        "--msms_energy", help="collision energy in eV (overrides the file's; default when it records none: 20)"
    )
    g.add_argument("--text", help="glycan models: a short description (inline or a text file)")
    g.add_argument(
        "--nmr_mhz",
        type=float,
        default=400.0,
        help="1H spectrometer frequency, to estimate multiplet ranges from J (default 400)",
    )
    p.add_argument(
        "--batch",
        help=f"a CSV with columns {', '.join(BATCH_COLUMNS)} (paths relative to it), "
        "or a folder with one subfolder per sample holding formula.txt, ir.jdx, "
        "h_nmr.csv, c_nmr.txt, msms.mgf, text.txt (also 1h.*, 13c.*, ms2.*); any other file "
        "is refused, naming it (hidden files such as .DS_Store are skipped); sample names must be unique",
    )
    d = p.add_argument_group("decoding")
    d.add_argument("--n_best", type=int, default=10)
    d.add_argument("--beam_size", type=int, default=None, help="default: the run's translate.yaml, at least n_best")
    d.add_argument("--max_length", type=int, default=None, help="default: the run's translate.yaml, else 250")
    d.add_argument("--gpu", type=int, default=-1, help="GPU id (-1: CPU)")
    d.add_argument(
        "--formula_beam",
        action="store_true",
        help="SMILES models: formula-guided beam search (onmt_translate -moe_formula_beam): no candidate "
        "goes past the formula's heavy-atom counts and every candidate matches them; without a formula "
        "the beam is unconstrained",
    )
    d.add_argument(
        "--precursor_tol",
        type=float,
        default=0.02,
        help="Da: a SMILES candidate is precursor-consistent when its [M+H]+ / [M-H]- is this close "
        "to the MS/MS precursor m/z (default 0.02)",
    )
    d.add_argument(
        "--rerank",
        choices=("auto", "formula", "simulate"),
        default="auto",
        help="SMILES models: 'formula' puts valid, formula-consistent candidates first; 'simulate' also "
        "orders them by how well each candidate's simulated 1H/13C NMR matches yours, with weights "
        "fitted on validation data (--simulate_weights, or forward_rank.json in the run folder); "
        "'auto' (default): simulate when such weights exist, else formula",
    )
    d.add_argument("--simulate_weights", help="forward_rank.json with the validation-fitted weights")
    o = p.add_argument_group("output")
    o.add_argument("--out", help="write the ranked candidates to a .csv or .json file")
    o.add_argument(
        "--rejects",
        help="--batch: where rejected samples go (default: <out>.rejects.tsv, else onmt_moe_predict_rejects.tsv)",
    )
    o.add_argument("--show", type=int, default=None, help="rows per sample on screen (default: n_best)")
    o.add_argument("-q", "--quiet", action="store_true", help="no table on screen")
    return p


# --------------------------------------------------------------------------- inputs
def read_sample(
    name: str,
    formula=None,
    ir=None,
    h_nmr=None,
    c_nmr=None,
    msms=None,
    msms_index=None,
    msms_mode=None,
    msms_energy=None,
    text=None,
    nmr_mhz: float = 400.0,
) -> Sample:
    """Read every given input of one sample (``msms_energy`` may be a number or its text)."""
    if msms_mode not in (None, "positive", "negative"):
        raise InputError(f"{name}: msms_mode {msms_mode!r} is not positive or negative")
    msms_energy = _energy(msms_energy, name)
    f = rd.read_formula(formula) if formula else None
    s = Sample(name=name, formula=f)
    if ir:
        s.ir = _reading(ir, rd.read_ir, ir)
    if h_nmr:
        s.h_nmr = _reading(h_nmr, rd.read_h_nmr, h_nmr, nmr_mhz, formula_h=f.counts.get("H") if f else None)
    if c_nmr:
        s.c_nmr = _reading(c_nmr, rd.read_c_nmr, c_nmr)
    if msms:
        s.msms = _reading(msms, rd.read_msms, msms, msms_index, msms_mode, msms_energy)
    if text:
        s.text = _reading(text, rd.text_input, text)
    if not (f or s.ir or s.h_nmr or s.c_nmr or s.msms or s.text):
        raise InputError(f"{name}: no input given (--formula, --ir, --h_nmr, --c_nmr, --msms, --text)")
    return s


def _reading(what: str, reader, *a, **kw):
    """``reader(*a, **kw)``; a file that is not UTF-8 text is one line naming it, not a traceback."""
    try:
        return reader(*a, **kw)
    except UnicodeDecodeError as e:
        raise _not_utf8(what, e) from None


def _energy(value, where: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{where}: msms_energy {value!r} is not a number (eV)") from None


def _not_utf8(path: str, e: UnicodeDecodeError) -> InputError:
    return InputError(f"{path}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); save it as UTF-8")


def _read_text_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            return fh.read()
    except UnicodeDecodeError as e:
        raise _not_utf8(path, e) from None
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None


def batch_rows(path: str) -> list[tuple[str, dict]]:
    """(sample name, read_sample keyword arguments) for every sample of a --batch CSV or folder.
    A sample whose own file cannot be read gets ``{'error': message}`` (rejected, the others run);
    a batch that cannot be read as a whole (not UTF-8, unknown columns or file names, duplicate
    sample names) raises InputError before any model is loaded."""
    if os.path.isdir(path):
        return _folder_rows(path)
    if not os.path.isfile(path):
        raise InputError(f"--batch {path}: no such file or folder")
    base = os.path.dirname(os.path.abspath(path))
    rows = []
    first_line = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            unknown = [c for c in (reader.fieldnames or []) if c not in BATCH_COLUMNS]
            if unknown or not reader.fieldnames:
                raise InputError(
                    f"{path}: unknown column(s) {', '.join(unknown) or '(no header)'}; "
                    f"expected {', '.join(BATCH_COLUMNS)}"
                )
            for row in reader:
                k = reader.line_num
                if None in row:
                    raise InputError(f"{path}: line {k} has more fields than the header")
                kw = {c: (v or "").strip() or None for c, v in row.items() if c != "sample"}
                for c in ("ir", "h_nmr", "c_nmr", "msms", "text"):
                    v = kw.get(c)
                    if v and os.path.exists(os.path.join(base, v)):
                        kw[c] = os.path.join(base, v)
                name = (row.get("sample") or "").strip() or f"line {k}"
                if name in first_line:
                    raise InputError(
                        f"{path}: sample name {name!r} on line {first_line[name]} and line {k}; "
                        "sample names must be unique"
                    )
                first_line[name] = k
                rows.append((name, kw))
    except UnicodeDecodeError as e:
        raise _not_utf8(path, e) from None
    except csv.Error as e:
        raise InputError(f"{path}: not a readable CSV ({e})") from None
    return rows


def _folder_rows(path: str) -> list[tuple[str, dict]]:
    """One sample per subfolder; every file must be one of FOLDER_STEMS (any extension), once.
    Hidden entries (names starting with '.', e.g. .DS_Store) are skipped."""
    rows = []
    entries = sorted(e for e in os.listdir(path) if not e.startswith("."))
    stray = [e for e in entries if not os.path.isdir(os.path.join(path, e))]
    if len(stray) == len(entries):
        raise InputError(
            f"--batch {path}: no sample subfolders"
            + (" (it holds files: give the folder above, one subfolder per sample)" if stray else "")
        )
    if stray:
        raise InputError(
            f"--batch {path}: {os.path.join(path, stray[0])} is a file; a batch folder holds one subfolder "
            "per sample" + (f" ({len(stray)} such files)" if len(stray) > 1 else "")
        )
    known = ", ".join(sorted(set(FOLDER_STEMS)))
    for sub in entries:
        kw, seen, err = {}, {}, None
        for fn in sorted(e for e in os.listdir(os.path.join(path, sub)) if not e.startswith(".")):
            full = os.path.join(path, sub, fn)
            key = FOLDER_STEMS.get(os.path.splitext(fn)[0].lower())
            if key is None or os.path.isdir(full):
                raise InputError(
                    f"--batch {path}: {full}: unrecognised {'folder' if os.path.isdir(full) else 'file name'} "
                    f"(sample files are named {known}, any extension)"
                )
            if key in seen:
                raise InputError(f"--batch {path}: {seen[key]} and {full} are both the {key} input of sample {sub!r}")
            seen[key] = full
            if key == "formula":
                try:
                    kw[key] = _read_text_file(full).strip()
                except InputError as e:
                    err = str(e)
            else:
                kw[key] = full
        rows.append((sub, {"error": err} if err else kw))
    if not rows:
        raise InputError(f"--batch {path}: no sample subfolders")
    return rows


# --------------------------------------------------------------------------- run
def _translate_defaults(checkpoint: str) -> dict:
    import yaml

    p = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "translate.yaml")
    try:
        with open(p, encoding="utf-8") as fh:
            return yaml.safe_load(fh) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _vocab_report(built: Built, vocab: set, cfg) -> None:
    """Map every number the model never saw to the nearest it knows (as a binned corpus would have
    written it, within the value embedding's resolution), and warn about any other unknown token."""
    toks, mapped = nearest_known(built.line.split(), vocab)
    if mapped:
        built.line = " ".join(toks)
        shown = ", ".join(f"{a}->{b}" for a, b in mapped[:5])
        built.report.append(
            f"note       {len(mapped)} numbers unknown to the model read as the nearest known ({shown})"
        )
    unk = sorted({t for t in toks if t not in vocab})
    if unk:
        built.report.append(
            f"WARNING    {sum(t in unk for t in toks)} of {len(toks)} source tokens are unknown "
            f"to the model (e.g. {', '.join(unk[:5])})"
        )
    if cfg.src_token_max and len(toks) > cfg.src_token_max:
        built.report.append(
            f"WARNING    the source has {len(toks)} tokens, longer than any training source ({cfg.src_token_max})"
        )


def simulate_weights(args, checkpoint: str):
    """The forward-simulation weights --rerank asks for (None: formula-first only)."""
    from onmt_moe.predict import forward_rank as fr

    if args.rerank == "formula":
        return None
    try:
        w = fr.Weights.load(args.simulate_weights) if args.simulate_weights else fr.weights_for(checkpoint)
    except ValueError as e:
        raise InputError(str(e)) from None
    if w is None and args.rerank == "simulate":
        raise InputError(
            f"--rerank simulate: no {fr.WEIGHTS_FILE} next to {checkpoint}; give --simulate_weights "
            "(fitted on validation data) or use --rerank formula"
        )
    return w


def _rank(sample: Sample, built: Built, nbest, cfg, tol: float, weights=None) -> list[dict]:
    from onmt_moe.predict import forward_rank as fr
    from onmt_moe.predict import rank

    if cfg.kind == "wurcs":
        from onmt_moe.predict.source import spec_charge

        p = built.precursor
        return rank.rank_wurcs(
            sample.name,
            nbest,
            p.precursor_mz if p else None,
            spec_charge(p) if p else 1,
            float(cfg.glycan_tokens.get("mz_bin", 1.0)),
        )
    p = built.precursor
    rows = rank.rank_smiles(
        sample.name,
        nbest,
        sample.formula.text if sample.formula else None,
        precursor=(p.precursor_mz, p.ionmode) if p else None,
        tol=tol,
    )
    c_used, h_used = "c_nmr" in cfg.sections and sample.c_nmr, "h_nmr" in cfg.sections and sample.h_nmr
    if c_used or h_used:  # how each candidate's simulated NMR matches the input: sim_c / sim_h columns
        query = fr.query_from_peaks(sample.c_nmr.shifts if c_used else None, sample.h_nmr.peaks if h_used else None)
        fr.annotate(rows, query)
        if weights is not None:
            rows = fr.rerank(rows, weights)
    return rows


def _fmt_sim(v) -> str:
    return "-" if v == "" else f"{float(v):.2f}"


def _fmt_bool(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


def print_table(sample: Sample, built: Built, rows: list[dict], kind: str, show: int, out=None) -> None:
    out = out or sys.stdout
    key, what, check = ("wurcs", "mass", "mass_match") if kind == "wurcs" else ("smiles", "formula", "formula_match")
    prec = kind != "wurcs" and built.precursor is not None  # SMILES: a precursor column too
    sim = any(r.get("sim_c", "") != "" or r.get("sim_h", "") != "" for r in rows)  # forward_rank cosines
    print(f"\n== {sample.name}", file=out)
    for line in built.report:
        print(f"  {line}", file=out)
    print(
        f"  {'rank':>4} {'beam':>4} {'logp/tok':>9} {'valid':>5} {what:>10} {'match':>5}"
        + (" prec." if prec else "")
        + (" sim13C sim1H" if sim else "")
        + f"  {key}",
        file=out,
    )
    for r in rows[:show]:
        rank = r["rank"] if r["rank"] != "" else f"={r['duplicate_of']}"
        print(
            f"  {rank!s:>4} {r['beam_rank']:>4} {r['log_prob']:>9.4f} {_fmt_bool(r['valid']):>5} "
            f"{r[what]!s:>10} {_fmt_bool(r[check]):>5}"
            + (f" {_fmt_bool(r['precursor_match']):>5}" if prec else "")
            + (f" {_fmt_sim(r.get('sim_c', '')):>6} {_fmt_sim(r.get('sim_h', '')):>5}" if sim else "")
            + f"  {r[key]}",
            file=out,
        )


def write_out(path: str, results, kind: str, meta: dict) -> None:
    from onmt_moe.predict.rank import COLUMNS_SMILES, COLUMNS_WURCS

    cols = COLUMNS_WURCS if kind == "wurcs" else COLUMNS_SMILES
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if path.lower().endswith(".json"):
        doc = dict(
            meta,
            samples=[
                {
                    "sample": s.name,
                    "inputs": b.report,
                    "source": b.line,
                    "candidates": [{c: r.get(c, "") for c in cols} for r in rows],
                }
                for s, b, rows in results
            ],
        )
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for _, _, rows in results:
            w.writerows({c: ("" if r.get(c) is None else r[c]) for c in cols} for r in rows)


def _read_all(args) -> tuple[list[Sample], list[tuple[str, str]]]:
    """Read every sample (before any model is loaded); in --batch mode a bad sample is rejected, not fatal."""
    if not args.batch:
        s = read_sample(
            "sample",
            args.formula,
            args.ir,
            args.h_nmr,
            args.c_nmr,
            args.msms,
            args.msms_index,
            args.msms_mode,
            args.msms_energy,
            args.text,
            args.nmr_mhz,
        )
        return [s], []
    ok, rejected = [], []
    for name, kw in batch_rows(args.batch):
        try:
            if "error" in kw:
                raise InputError(kw["error"])
            ok.append(read_sample(name, nmr_mhz=args.nmr_mhz, **kw))
        except InputError as e:
            rejected.append((name, str(e)))
    return ok, rejected


def _build_all(args, samples: list[Sample], cfg) -> tuple[list[tuple[Sample, Built]], list[tuple[str, str]]]:
    """Each sample's source line, formatted as the model's corpus was."""
    if not args.batch:
        return [(s, build_source(s, cfg)) for s in samples], []
    ok, rejected = [], []
    for s in samples:
        try:
            ok.append((s, build_source(s, cfg)))
        except InputError as e:
            rejected.append((s.name, str(e)))
    return ok, rejected


def _collect(args, cfg) -> tuple[list[tuple[Sample, Built]], list[tuple[str, str]]]:
    """Read and format every sample; in --batch mode a bad sample is rejected, not fatal."""
    samples, rejected = _read_all(args)
    ok, more = _build_all(args, samples, cfg)
    return ok, rejected + more


def _rejects_path(args) -> str:
    return args.rejects or (
        os.path.splitext(args.out)[0] + ".rejects.tsv" if args.out else "onmt_moe_predict_rejects.tsv"
    )


def _write_rejects(args, rejected) -> str | None:
    if not rejected:
        return None
    path = _rejects_path(args)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)  # --out may name a new folder
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("sample\treason\n")
        for name, why in rejected:
            fh.write(f"{name}\t{why.replace(chr(9), ' ')}\n")
    return path


# beam search keeps beam_size hypotheses of up to max_length tokens per sample: bounded, so that a
# typo (--n_best 100000) is one line, not a multi-GB allocation
MAX_BEAM = 1000


def check_output_path(path: str, option: str) -> None:
    """Refuse an output file that cannot be written (a folder, below a file, no permission) before any work."""
    if os.path.isdir(path):
        raise InputError(f"{option} {path}: is a folder; give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    p = parent
    while not os.path.exists(p):
        p = os.path.dirname(p)
    if not os.path.isdir(p):
        raise InputError(f"{option} {path}: {p} is a file, not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: cannot write in {p}")


def check_args(args) -> None:
    """Every check that needs no model: decoding bounds and output paths (run before any work)."""
    if args.n_best < 1:
        raise InputError("--n_best must be >= 1")
    if args.n_best > MAX_BEAM:
        raise InputError(f"--n_best {args.n_best}: at most {MAX_BEAM} (beam search keeps that many hypotheses)")
    if args.beam_size is not None:
        if not 1 <= args.beam_size <= MAX_BEAM:
            raise InputError(f"--beam_size {args.beam_size}: expected 1..{MAX_BEAM}")
        if args.n_best > args.beam_size:
            raise InputError(
                f"--n_best {args.n_best} is larger than --beam_size {args.beam_size} (a beam of "
                f"{args.beam_size} yields at most {args.beam_size} candidates)"
            )
    if args.max_length is not None and args.max_length < 1:
        raise InputError(f"--max_length {args.max_length}: expected >= 1")
    if args.show is not None and args.show < 0:
        raise InputError(f"--show {args.show}: expected >= 0")
    if args.out:
        check_output_path(args.out, "--out")
    if args.batch:
        check_output_path(_rejects_path(args), "--rejects" if args.rejects else "the rejects file")


def run(args) -> int:
    from onmt_moe.inference.decode import Decoder, checkpoint_info, checkpoint_path
    from onmt_moe.predict import settings

    check_args(args)  # bounds and output paths: refused before any reading or decoding
    ckpt = checkpoint_path(args.model)
    weights = simulate_weights(args, ckpt)
    read, rejected = _read_all(args)  # the inputs are checked before the model is loaded
    samples = []
    if read:
        vocab, train_src, recorded = checkpoint_info(ckpt, trust=args.trust_checkpoint)
        cfg = settings.resolve(ckpt, args.corpus, train_src, recorded)
        samples, more = _build_all(args, read, cfg)
        rejected += more
    for _name, why in rejected:
        print(f"error: {why}", file=sys.stderr)
    rej_path = _write_rejects(args, rejected)
    if not samples:
        raise InputError(f"no usable sample ({len(rejected)} rejected, see {rej_path})")
    vset = set(vocab)
    for _, b in samples:
        _vocab_report(b, vset, cfg)
    tr = _translate_defaults(ckpt)
    beam = args.beam_size or min(MAX_BEAM, max(args.n_best, int(tr.get("beam_size", args.n_best))))
    try:
        dec = Decoder(
            ckpt,
            args.n_best,
            beam,
            args.max_length or int(tr.get("max_length", 250)),
            int(tr.get("min_length", 0)),
            args.gpu,
            trust=args.trust_checkpoint,
            formula_beam=args.formula_beam,
        )
        nbests = dec.decode([b.line for _, b in samples])
        dec.close()
    except (RuntimeError, ValueError, KeyError) as e:  # the model or OpenNMT failed, not the input
        print(f"error: {ckpt}: decoding failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})", file=sys.stderr)
        return 1
    results = [(s, b, _rank(s, b, nb, cfg, args.precursor_tol, weights)) for (s, b), nb in zip(samples, nbests)]
    if not args.quiet:
        print(f"model  {ckpt}\ncorpus settings  {cfg.source} ({cfg.kind}, {cfg.fmt}, missing={cfg.missing})")
        for s, b, rows in results:
            print_table(s, b, rows, cfg.kind, args.show or args.n_best)
    if args.out:
        write_out(
            args.out,
            results,
            cfg.kind,
            {"model": ckpt, "corpus_settings": cfg.source, "kind": cfg.kind, "n_best": args.n_best, "beam_size": beam},
        )
        print(f"\nwrote {args.out}" + (f"; {len(rejected)} rejected sample(s) in {rej_path}" if rejected else ""))
    return 2 if rejected else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (InputError, ModelError) as e:  # ModelError: a checkpoint or run folder that cannot be used
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
