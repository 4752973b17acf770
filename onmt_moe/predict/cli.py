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
from typing import List, Optional, Sequence, Tuple

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
        "h_nmr.csv, c_nmr.txt, msms.mgf, text.txt",
    )
    d = p.add_argument_group("decoding")
    d.add_argument("--n_best", type=int, default=10)
    d.add_argument("--beam_size", type=int, default=None, help="default: the run's translate.yaml, at least n_best")
    d.add_argument("--max_length", type=int, default=None, help="default: the run's translate.yaml, else 250")
    d.add_argument("--gpu", type=int, default=-1, help="GPU id (-1: CPU)")
    d.add_argument(
        "--precursor_tol",
        type=float,
        default=0.02,
        help="Da: a SMILES candidate is precursor-consistent when its [M+H]+ / [M-H]- is this close "
        "to the MS/MS precursor m/z (default 0.02)",
    )
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
        s.ir = rd.read_ir(ir)
    if h_nmr:
        s.h_nmr = rd.read_h_nmr(h_nmr, nmr_mhz, formula_h=f.counts.get("H") if f else None)
    if c_nmr:
        s.c_nmr = rd.read_c_nmr(c_nmr)
    if msms:
        s.msms = rd.read_msms(msms, msms_index, msms_mode, msms_energy)
    if text:
        s.text = rd.text_input(text)
    if not (f or s.ir or s.h_nmr or s.c_nmr or s.msms or s.text):
        raise InputError(f"{name}: no input given (--formula, --ir, --h_nmr, --c_nmr, --msms, --text)")
    return s


def _energy(value, where: str) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{where}: msms_energy {value!r} is not a number (eV)") from None


def batch_rows(path: str) -> List[Tuple[str, dict]]:
    """(sample name, read_sample keyword arguments) for every sample of a --batch CSV or folder."""
    if os.path.isdir(path):
        return _folder_rows(path)
    if not os.path.isfile(path):
        raise InputError(f"--batch {path}: no such file or folder")
    base = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        unknown = [c for c in (reader.fieldnames or []) if c not in BATCH_COLUMNS]
        if unknown or not reader.fieldnames:
            raise InputError(
                f"{path}: unknown column(s) {', '.join(unknown) or '(no header)'}; expected {', '.join(BATCH_COLUMNS)}"
            )
        rows = []
        for k, row in enumerate(reader, start=2):
            kw = {c: (v or "").strip() or None for c, v in row.items() if c != "sample"}
            for c in ("ir", "h_nmr", "c_nmr", "msms", "text"):
                v = kw.get(c)
                if v and os.path.exists(os.path.join(base, v)):
                    kw[c] = os.path.join(base, v)
            rows.append(((row.get("sample") or "").strip() or f"line {k}", kw))
    return rows


def _folder_rows(path: str) -> List[Tuple[str, dict]]:
    rows = []
    for sub in sorted(e for e in os.listdir(path) if os.path.isdir(os.path.join(path, e))):
        kw = {}
        for fn in sorted(os.listdir(os.path.join(path, sub))):
            key = FOLDER_STEMS.get(os.path.splitext(fn)[0].lower())
            if key:
                full = os.path.join(path, sub, fn)
                kw[key] = open(full, encoding="utf-8").read().strip() if key == "formula" else full
        rows.append((sub, kw))
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
    toks = built.line.split()
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


def _rank(sample: Sample, built: Built, nbest, cfg, tol: float) -> List[dict]:
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
    return rank.rank_smiles(
        sample.name,
        nbest,
        sample.formula.text if sample.formula else None,
        precursor=(p.precursor_mz, p.ionmode) if p else None,
        tol=tol,
    )


def _fmt_bool(v) -> str:
    return "-" if v is None else ("yes" if v else "no")


def print_table(sample: Sample, built: Built, rows: List[dict], kind: str, show: int, out=None) -> None:
    out = out or sys.stdout
    key, what, check = ("wurcs", "mass", "mass_match") if kind == "wurcs" else ("smiles", "formula", "formula_match")
    prec = kind != "wurcs" and built.precursor is not None  # SMILES: a precursor column too
    print(f"\n== {sample.name}", file=out)
    for line in built.report:
        print(f"  {line}", file=out)
    print(
        f"  {'rank':>4} {'beam':>4} {'logp/tok':>9} {'valid':>5} {what:>10} {'match':>5}"
        + (" prec." if prec else "")
        + f"  {key}",
        file=out,
    )
    for r in rows[:show]:
        rank = r["rank"] if r["rank"] != "" else f"={r['duplicate_of']}"
        print(
            f"  {rank!s:>4} {r['beam_rank']:>4} {r['log_prob']:>9.4f} {_fmt_bool(r['valid']):>5} "
            f"{r[what]!s:>10} {_fmt_bool(r[check]):>5}"
            + (f" {_fmt_bool(r['precursor_match']):>5}" if prec else "")
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
                    "candidates": [{c: r[c] for c in cols} for r in rows],
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
            w.writerows({c: ("" if r[c] is None else r[c]) for c in cols} for r in rows)


def _collect(args, cfg) -> Tuple[List[Tuple[Sample, Built]], List[Tuple[str, str]]]:
    """Read and format every sample; in --batch mode a bad sample is rejected, not fatal."""
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
        return [(s, build_source(s, cfg))], []
    ok, rejected = [], []
    for name, kw in batch_rows(args.batch):
        try:
            s = read_sample(name, nmr_mhz=args.nmr_mhz, **kw)
            ok.append((s, build_source(s, cfg)))
        except InputError as e:
            rejected.append((name, str(e)))
    return ok, rejected


def _write_rejects(args, rejected) -> Optional[str]:
    if not rejected:
        return None
    path = args.rejects or (
        os.path.splitext(args.out)[0] + ".rejects.tsv" if args.out else "onmt_moe_predict_rejects.tsv"
    )
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("sample\treason\n")
        for name, why in rejected:
            fh.write(f"{name}\t{why.replace(chr(9), ' ')}\n")
    return path


def run(args) -> int:
    from onmt_moe.predict import settings
    from onmt_moe.predict.decode import Decoder, checkpoint_info, checkpoint_path

    if args.n_best < 1:
        raise InputError("--n_best must be >= 1")
    ckpt = checkpoint_path(args.model)
    vocab, train_src = checkpoint_info(ckpt)
    cfg = settings.resolve(ckpt, args.corpus, train_src)
    samples, rejected = _collect(args, cfg)
    for name, why in rejected:
        print(f"error: {why}", file=sys.stderr)
    rej_path = _write_rejects(args, rejected)
    if not samples:
        raise InputError(f"no usable sample ({len(rejected)} rejected, see {rej_path})")
    vset = set(vocab)
    for _, b in samples:
        _vocab_report(b, vset, cfg)
    tr = _translate_defaults(ckpt)
    beam = args.beam_size or max(args.n_best, int(tr.get("beam_size", args.n_best)))
    try:
        dec = Decoder(
            ckpt,
            args.n_best,
            beam,
            args.max_length or int(tr.get("max_length", 250)),
            int(tr.get("min_length", 0)),
            args.gpu,
        )
        nbests = dec.decode([b.line for _, b in samples])
        dec.close()
    except (RuntimeError, ValueError, KeyError) as e:  # the model or OpenNMT failed, not the input
        print(f"error: {ckpt}: decoding failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})", file=sys.stderr)
        return 1
    results = [(s, b, _rank(s, b, nb, cfg, args.precursor_tol)) for (s, b), nb in zip(samples, nbests)]
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
