"""Build the glycan dataset: glycowork df_glycan -> verified WURCS + simulated MS/MS + text.

Pipeline per df_glycan row (see docs/glycan.md):
  1. pre-filter: IUPAC with ``/`` (alternative linkages) or ``{`` (floating residues) is rejected
     (no verified conversion exists); more than ``max_residues`` residues (glycowork
     Composition) is skipped as ``too_large`` when a limit is set.
  2. IUPAC -> GlycoCT (glycowork) -> glypy -> WURCS (glypy); fallback glypy IUPAC 'simple'.
  3. strict round trip: canonicalize_iupac(WURCS) must have the same multiset of residue and
     linkage tokens as the IUPAC *and* glycowork compare_glycans must agree.
  4. the WURCS must re-parse with glypy and tokenize losslessly.
  5. negative-mode MS/MS simulated from the re-parsed glypy structure (fragments.py).
Duplicated WURCS keep the first row.  Split by structure: a seeded hash of the WURCS string puts
each structure in exactly one of train/val/test (80/10/10 by default), independent of --limit.
A :class:`SpectraPlan` may simulate several spectra per structure (noise seeds ``seed``, ``seed+1``, …)
and, in ``library`` mode, put every structure in train (see :func:`spectrum_splits`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

SCHEMA_DOC = {
    "wurcs": "string: glypy WURCS 2.0 of the glycowork-canonical IUPAC (the target)",
    "iupac": "string: glycowork IUPAC-condensed (df_glycan.glycan)",
    "glytoucan_id": "string or null",
    "precursor_mz": "double: [M-H]- (charge -1) or [M-2H]2- (charge -2) m/z",
    "charge": "int8: -1 or -2",
    "mass": "double: neutral monoisotopic mass (glypy)",
    "peaks": "list<list<double>>: [[mz, relative intensity (base=100)], ...] sorted by m/z (SYNTHETIC)",
    "text": "string: metadata description ('' if nothing known)",
    "composition": 'string: JSON of glycowork Composition, e.g. {"Hex": 5, "HexNAc": 4}',
    "n_residues": "int16: monosaccharide count (glypy)",
    "glycan_type": "string or null: N, O, free, lipid, repeat",
    "conversion": "string: glycoct | iupac_simple",
    "source_row": "int32: row index in glycowork df_glycan",
    "split": "string: train | val | test",
}

_TOK_RE = re.compile(r"\([^)]*\)|[^()\[\]]+")


def split_of(wurcs: str, seed: int = 0, frac=(0.8, 0.1)) -> str:
    u = int.from_bytes(hashlib.sha1(f"split{seed}|{wurcs}".encode()).digest()[:8], "little") / 2**64
    if u < frac[0]:
        return "train"
    if u < frac[0] + frac[1]:
        return "val"
    return "test"


SPLIT_MODES = ("structure", "library")


@dataclass(frozen=True)
class SpectraPlan:
    """How many spectra each structure gets, and which split each one goes to.

    ``per_structure``: training spectra per structure, one noise seed each (``seed + j``).
    ``split_mode``: ``structure`` (default) — all of a structure's spectra in its hashed split, so
    val/test structures are never seen in training (de novo prediction); ``library`` — every
    structure's spectra in train, and the structures hashed to val/test get one more spectrum (the
    next noise seed) there: seen structures, new spectra, the closed-set protocol of classifiers such
    as CandyCrunch, whose test glycans are in their training library."""

    per_structure: int = 1
    split_mode: str = "structure"
    split_seed: int = 0

    def __post_init__(self):
        if self.per_structure < 1:
            raise ValueError(f"spectra per structure must be >= 1, got {self.per_structure}")
        if self.split_mode not in SPLIT_MODES:
            raise ValueError(f"unknown split mode {self.split_mode!r} (known: {', '.join(SPLIT_MODES)})")

    @property
    def is_default(self) -> bool:
        return self.per_structure == 1 and self.split_mode == "structure"


def spectrum_splits(wurcs: str, plan: SpectraPlan) -> list[str]:
    """The split of each spectrum simulated for one structure, in noise-seed order."""
    split = split_of(wurcs, plan.split_seed)
    if plan.split_mode == "structure":
        return [split] * plan.per_structure
    return ["train"] * plan.per_structure + ([split] if split != "train" else [])


def _one_line(e: BaseException) -> str:
    msg = f"{type(e).__name__}: {e}".replace("\n", " ").replace("\t", " ")
    return msg[:200]


def iupac_to_wurcs(iupac: str) -> tuple[str, str, object]:
    """Convert + strictly verify.  Returns (wurcs, via, glypy glycan); raises ConversionError."""
    from glycowork.motif.graph import compare_glycans
    from glycowork.motif.processing import canonicalize_iupac, glycan_to_glycoct
    from glypy.io import glycoct, wurcs
    from glypy.io import iupac as giupac

    if "/" in iupac:
        raise ConversionError("alternative_linkage", "IUPAC contains '/'")
    if "{" in iupac:
        raise ConversionError("floating_residue", "IUPAC contains '{'")
    w = via = None
    first_err = None
    try:
        w = wurcs.dumps(glycoct.loads(glycan_to_glycoct(iupac)))
        via = "glycoct"
    except Exception as e:  # noqa: BLE001 (third-party parsers raise anything)
        first_err = e
        try:
            w = wurcs.dumps(giupac.loads(iupac, dialect="simple"))
            via = "iupac_simple"
        except Exception as e2:  # noqa: BLE001
            raise ConversionError("conversion_failed", f"{_one_line(first_err)} | {_one_line(e2)}") from None
    try:
        back = canonicalize_iupac(w)
    except Exception as e:  # noqa: BLE001
        raise ConversionError("roundtrip_canonicalize_error", _one_line(e)) from None
    if Counter(_TOK_RE.findall(back)) != Counter(_TOK_RE.findall(iupac)):
        raise ConversionError("roundtrip_token_mismatch", f"back={back[:120]}")
    try:
        same = compare_glycans(back, iupac)
    except Exception as e:  # noqa: BLE001
        raise ConversionError("roundtrip_compare_error", _one_line(e)) from None
    if not same:
        raise ConversionError("roundtrip_graph_mismatch", f"back={back[:120]}")
    try:
        g = wurcs.loads(w)
    except Exception as e:  # noqa: BLE001
        raise ConversionError("wurcs_reparse_error", _one_line(e)) from None
    return w, via, g


class ConversionError(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def process_row(item) -> dict:
    """Worker: one df_glycan row -> record dict (its spectra under ``"spectra"``: one
    ``(split, noise_seed, fields)`` per :func:`spectrum_splits` entry) or {'reject': reason, 'detail': ...}."""
    import warnings

    from .text import describe
    from .wurcs_tokenizer import detokenize, tokenize

    warnings.filterwarnings("ignore", category=UserWarning)  # glypy stereocode chatter
    idx, rec, sim_kw, convert_only, plan = item
    iupac = rec["glycan"]
    out = {"source_row": idx, "iupac": iupac, "glytoucan_id": rec.get("glytoucan_id")}
    try:
        w, via, g = iupac_to_wurcs(iupac)
    except ConversionError as e:
        return {**out, "reject": e.reason, "detail": e.detail}
    except Exception as e:  # noqa: BLE001
        return {**out, "reject": "unexpected_error", "detail": _one_line(e)}
    out.update(wurcs=w, conversion=via)
    try:
        tok_ok = detokenize(tokenize(w)) == w
    except Exception as e:  # noqa: BLE001
        return {**out, "reject": "tokenize_error", "detail": _one_line(e)}
    if not tok_ok:
        return {**out, "reject": "tokenize_roundtrip", "detail": w[:120]}
    n_res = sum(1 for _ in g.iternodes())
    out["n_residues"] = n_res
    if convert_only:
        return out
    sim_kw = dict(sim_kw)
    max_res = sim_kw.pop("max_residues", 0)
    if max_res and n_res > max_res:
        return {**out, "reject": "too_large_glypy", "detail": f"{n_res} residues > {max_res}"}
    try:
        out["spectra"] = _simulate_plan(g, w, sim_kw, plan)
    except Exception as e:  # noqa: BLE001
        return {**out, "reject": "simulation_error", "detail": _one_line(e)}
    comp = rec.get("Composition")
    out.update(
        text=describe(rec.get("glycan_type"), rec.get("Kingdom"), rec.get("Species"), rec.get("tissue_sample")),
        composition=json.dumps(dict(comp), sort_keys=True) if isinstance(comp, dict) else "",
        glycan_type=rec.get("glycan_type") if isinstance(rec.get("glycan_type"), str) else None,
    )
    return out


def _simulate_plan(g, wurcs: str, sim_kw: dict, plan: SpectraPlan) -> list[tuple[str, int, dict]]:
    from .fragments import SimParams, simulate_spectrum

    out = []
    for j, split in enumerate(spectrum_splits(wurcs, plan)):
        seed = sim_kw["seed"] + j  # the noise generator is seeded by (seed, WURCS): a new seed, new noise
        spec = simulate_spectrum(g, wurcs, SimParams(**{**sim_kw, "seed": seed}))
        fields = {k: spec[k] for k in ("precursor_mz", "charge", "mass", "peaks")}
        out.append((split, seed, fields))
    return out


def _expand(res: dict) -> list[dict]:
    """One dataset row per simulated spectrum of a process_row record (convert-only: the record)."""
    spectra = res.pop("spectra", None)
    if spectra is None:
        return [res]
    return [{**res, **fields, "split": split, "noise_seed": seed} for split, seed, fields in spectra]


def _composition_size(comp) -> int | None:
    if isinstance(comp, dict) and comp:
        try:
            return int(sum(comp.values()))
        except (TypeError, ValueError):
            return None
    return None


class MissingDependency(RuntimeError):
    """An optional package the dataset build needs is not installed (one-line message with the fix)."""


def require_glycowork() -> None:
    try:
        import glycowork  # noqa: F401
    except ImportError:
        raise MissingDependency(
            "the glycan dataset build needs glycowork, which is not installed: "
            "run `make install-extras` (or pip install -r requirements-glycan.txt)"
        ) from None


def load_df_glycan():
    require_glycowork()
    from glycowork.glycan_data.loader import df_glycan

    return df_glycan


_META_COLUMNS = ("glycan", "glytoucan_id", "glycan_type", "Kingdom", "Species", "tissue_sample", "Composition")


def _candidates(
    df,
    limit: int,
    seed: int,
    max_residues: int,
    convert_only: bool,
    rejects: list[tuple],
    sim=None,
    glycan_types=(),
    plan: SpectraPlan = SpectraPlan(),
) -> list:
    """process_row jobs for the df_glycan rows worth converting (a seeded order when ``limit``);
    ``sim``: extra SimParams fields, ``glycan_types``: keep only these df_glycan ``glycan_type`` values."""
    import numpy as np

    df = df.reset_index(drop=True)  # source_row = the row's position in df_glycan
    rows = df.index[df["glycan_type"].isin(list(glycan_types))] if glycan_types else df.index
    sim_kw = {"seed": seed, "max_residues": max_residues, **(sim or {})}
    cols = [c for c in _META_COLUMNS if c in df.columns]
    order = list(np.random.default_rng(seed).permutation(np.asarray(rows))) if limit else list(rows)
    all_recs = df[cols].to_dict("records")
    items = []
    for i in order:
        rec = all_recs[i]
        if not isinstance(rec.get("glycan"), str) or not rec["glycan"].strip():
            rejects.append((i, "", "", "empty_iupac", "missing glycan string"))
            continue
        size = _composition_size(rec.get("Composition"))
        if max_residues and not convert_only and size is not None and size > max_residues:
            detail = f"composition has {size} residues > {max_residues}"
            rejects.append((i, rec.get("glytoucan_id") or "", rec["glycan"], "too_large", detail))
            continue
        items.append((int(i), rec, sim_kw, convert_only, plan))
    return items


def _convert(items, workers: int, limit: int, split_seed: int, rejects: list[tuple], log) -> tuple[list, int, int]:
    """Run process_row over ``items`` (a fork pool when ``workers`` > 1); keep the first of each WURCS
    (``limit`` counts structures, not spectra). Returns ``(records, attempted, tokenizer-checked)``."""
    t1 = time.time()
    records, seen = [], set()
    n_attempted = n_tok_checked = 0
    if workers > 1:
        import multiprocessing as mp

        pool = mp.get_context("fork").Pool(workers)
        it = pool.imap(process_row, items, chunksize=8)
    else:
        pool, it = None, map(process_row, items)
    try:
        for res in it:
            n_attempted += 1
            n_tok_checked += int("wurcs" in res)
            head = (res["source_row"], res.get("glytoucan_id") or "", res["iupac"])
            if "reject" in res:
                rejects.append((*head, res["reject"], res.get("detail", "")))
            elif res["wurcs"] in seen:
                rejects.append((*head, "duplicate_wurcs", res["wurcs"][:120]))
            else:
                seen.add(res["wurcs"])
                res["split"] = split_of(res["wurcs"], split_seed)
                records.extend(_expand(res))
            if n_attempted % 500 == 0:
                log(f"[glycan] {n_attempted}/{len(items)} attempted, {len(seen)} kept ({time.time() - t1:.0f}s)")
            if limit and len(seen) >= limit:
                break
    finally:
        if pool is not None:
            pool.terminate()
    return records, n_attempted, n_tok_checked


def _record_stats(records: list, convert_only: bool) -> dict:
    """Split sizes, residue / WURCS-length / peak-count spread of the kept records."""
    import numpy as np

    if not records:
        return {}
    n_res = np.array([r.get("n_residues", 0) for r in records])
    wl = np.array([len(r["wurcs"]) for r in records])
    out = {
        "splits": dict(Counter(r["split"] for r in records)),
        "n_residues": {"median": float(np.median(n_res)), "max": int(n_res.max())},
        "wurcs_chars": {"median": float(np.median(wl)), "p95": float(np.percentile(wl, 95)), "max": int(wl.max())},
    }
    if not convert_only:
        npk = np.array([len(r["peaks"]) for r in records])
        out["peaks_per_spectrum"] = {"median": float(np.median(npk)), "max": int(npk.max())}
        out["charge"] = {str(k): v for k, v in Counter(r["charge"] for r in records).items()}
        out["with_text"] = int(sum(1 for r in records if r["text"]))
    return out


def _write_outputs(out_dir: str, records: list, rejects: list[tuple], convert_only: bool, extra_fields=()) -> None:
    """rejects.tsv, and glycan.parquet (or wurcs.tsv with ``convert_only``)."""
    with open(os.path.join(out_dir, "rejects.tsv"), "w") as fh:
        fh.write("source_row\tglytoucan_id\tiupac\treason\tdetail\n")
        for r in sorted(rejects, key=lambda x: x[0]):
            fh.write("\t".join(str(x).replace("\t", " ").replace("\n", " ") for x in r) + "\n")
    if not convert_only:
        write_parquet(records, os.path.join(out_dir, "glycan.parquet"), extra_fields)
        return
    with open(os.path.join(out_dir, "wurcs.tsv"), "w") as fh:
        fh.write("source_row\tglytoucan_id\tiupac\twurcs\tconversion\tn_residues\tsplit\n")
        for r in records:
            fh.write(
                f"{r['source_row']}\t{r.get('glytoucan_id') or ''}\t{r['iupac']}\t"
                f"{r['wurcs']}\t{r['conversion']}\t{r['n_residues']}\t{r['split']}\n"
            )


def build(
    out_dir: str,
    limit: int = 0,
    workers: int = 1,
    max_residues: int = 12,
    seed: int = 13,
    split_seed: int = 0,
    convert_only: bool = False,
    df=None,
    log=print,
    sim: dict | None = None,
    glycan_types: Sequence[str] = (),
    spectra_per_structure: int = 1,
    split_mode: str = "structure",
) -> dict:
    """``sim``: SimParams fields beyond the seed (the real-spectrum knobs ``reducing_end``, ``mz_sigma``,
    ``sharpen``); ``glycan_types``: only df_glycan rows of these types (e.g. ``("N", "O")``);
    ``spectra_per_structure`` / ``split_mode``: the :class:`SpectraPlan` (defaults: one spectrum,
    structure-disjoint splits, the original dataset bit for bit)."""
    plan = SpectraPlan(spectra_per_structure, split_mode, split_seed)  # bad values fail before the slow part
    t0 = time.time()
    require_glycowork()  # the IUPAC conversion uses it even when df is given
    df = load_df_glycan() if df is None else df
    t_load = time.time() - t0
    os.makedirs(out_dir, exist_ok=True)
    rejects: list[tuple] = []
    items = _candidates(df, limit, seed, max_residues, convert_only, rejects, sim, glycan_types, plan)
    log(f"[glycan] {len(df)} df_glycan rows, {len(items)} candidates after pre-filter ({time.time() - t0:.1f}s)")
    t1 = time.time()
    records, n_attempted, n_tok_checked = _convert(items, workers, limit, split_seed, rejects, log)
    t_conv = time.time() - t1
    reasons = Counter(r[3] for r in rejects)
    summary = {
        "df_glycan_rows": len(df),
        "candidates": len(items),
        "attempted": n_attempted,
        "kept": len({r["wurcs"] for r in records}),  # structures; "spectra" counts the rows
        "spectra": len(records),
        "rejected": len(rejects),
        "reject_reasons": dict(reasons.most_common()),
        "conversion_via": dict(Counter(r["conversion"] for r in records)),
        "limit": limit,
        "max_residues": max_residues,
        "seed": seed,
        "split_seed": split_seed,
        "workers": workers,
        "convert_only": convert_only,
        "simulator": dict(sim or {}),
        "glycan_types": list(glycan_types),
        "spectra_per_structure": plan.per_structure,
        "split_mode": plan.split_mode,
        "tokenizer_roundtrip": {
            "checked": n_tok_checked,
            "failed": reasons.get("tokenize_error", 0) + reasons.get("tokenize_roundtrip", 0),
        },
        "timings_s": {"load_df_glycan": round(t_load, 2), "convert_and_simulate": round(t_conv, 2)},
        **_record_stats(records, convert_only),
    }
    _write_outputs(out_dir, records, rejects, convert_only, () if plan.is_default else _noise_seed_field())
    summary["timings_s"]["total"] = round(time.time() - t0, 2)
    summary["schema"] = SCHEMA_DOC
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary


def resimulate(
    in_path: str,
    out_dir: str,
    from_split: str = "train",
    limit: int = 1000,
    seed: int = 99,
    log=print,
    sim: dict | None = None,
) -> dict:
    """New spectra (another noise seed) of structures already in the dataset, as a test set of
    *seen structures, new spectra* — the setting of classifiers such as CandyCrunch, where test
    spectra come from glycans seen in training.  Rows keep everything but ``peaks`` (and the
    precursor fields, recomputed); ``split`` becomes ``test``.  The simulator settings are the input
    dataset's (its ``summary.json`` ``simulator`` entry: reducing end, m/z error, intensity rules),
    ``sim`` overriding any of them.  Writes ``glycan.parquet`` and ``summary.json`` in ``out_dir``; a
    row that fails to re-parse or simulate goes to ``rejects.tsv``."""
    import warnings

    from .evaluate import parse_wurcs
    from .fragments import SimParams, simulate_spectrum

    sim = {**dataset_simulator(in_path), **(sim or {})}
    df = read_dataset(in_path)
    if from_split not in set(df["split"]):
        sys.exit(f"error: {in_path}: no row with split {from_split!r}")
    rows = df[df["split"] == from_split].sample(frac=1.0, random_state=seed)
    if limit:
        rows = rows.head(limit)
    os.makedirs(out_dir, exist_ok=True)
    records, rejects, t0 = [], [], time.time()
    for rec in rows.to_dict("records"):
        rec = {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}  # NaN -> null
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = parse_wurcs(rec["wurcs"])
            if g is None:
                rejects.append((rec["source_row"], "wurcs_reparse_error"))
                continue
            try:
                spec = simulate_spectrum(g, rec["wurcs"], SimParams(**{**sim, "seed": seed}))
            except Exception as e:  # noqa: BLE001
                rejects.append((rec["source_row"], f"simulation_error: {_one_line(e)}"))
                continue
        rec.update(
            precursor_mz=spec["precursor_mz"],
            charge=spec["charge"],
            mass=spec["mass"],
            peaks=spec["peaks"],
            split="test",
            noise_seed=seed,
        )
        rec["peaks"] = [list(map(float, p)) for p in rec["peaks"]]
        records.append(rec)
    write_parquet(records, os.path.join(out_dir, "glycan.parquet"), _noise_seed_field())
    with open(os.path.join(out_dir, "rejects.tsv"), "w") as fh:
        fh.write("source_row\treason\n" + "".join(f"{r}\t{why}\n" for r, why in rejects))
    summary = {
        "input": in_path,
        "from_split": from_split,
        "seed": seed,
        "simulator": sim,
        "requested": int(len(rows)),
        "written": len(records),
        "rejected": len(rejects),
        "seconds": round(time.time() - t0, 1),
        "note": "seen structures, new spectra: every row's structure is in split "
        f"{from_split!r} of the input; spectra re-simulated with noise seed {seed}",
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    log(f"resimulated {len(records)} / {len(rows)} structures in {summary['seconds']} s -> {out_dir}")
    return summary


def dataset_simulator(path: str) -> dict:
    """The real-spectrum simulator knobs a dataset was built with (``summary.json`` next to its
    parquet; ``{}`` = the default simulator, also for a dataset without a summary)."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    try:
        with open(os.path.join(folder, "summary.json")) as fh:
            return dict(json.load(fh).get("simulator") or {})
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError) as e:
        sys.exit(f"error: {os.path.join(folder, 'summary.json')}: unreadable dataset summary ({_one_line(e)})")


def _noise_seed_field():
    import pyarrow as pa

    return [("noise_seed", pa.int32())]


def parquet_fields():
    """The (name, pyarrow type) columns of glycan.parquet (see SCHEMA_DOC)."""
    import pyarrow as pa

    return [
        ("wurcs", pa.string()),
        ("iupac", pa.string()),
        ("glytoucan_id", pa.string()),
        ("precursor_mz", pa.float64()),
        ("charge", pa.int8()),
        ("mass", pa.float64()),
        ("peaks", pa.list_(pa.list_(pa.float64()))),
        ("text", pa.string()),
        ("composition", pa.string()),
        ("n_residues", pa.int16()),
        ("glycan_type", pa.string()),
        ("conversion", pa.string()),
        ("source_row", pa.int32()),
        ("split", pa.string()),
    ]


def write_parquet(records: list[dict], path: str, extra_fields=()) -> None:
    """Rows sorted by source_row; ``extra_fields``: more (name, pyarrow type) columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(parquet_fields() + list(extra_fields))
    cols = {f.name: [] for f in schema}
    for r in sorted(records, key=lambda r: r["source_row"]):
        for name in cols:
            v = r.get(name)
            if name == "glytoucan_id" and not isinstance(v, str):
                v = None
            cols[name].append(v)
    pq.write_table(pa.table(cols, schema=schema), path)


def read_dataset(path: str):
    """Read glycan.parquet (``path`` may be the file or its directory) into a pandas DataFrame."""
    import pandas as pd

    if os.path.isdir(path):
        path = os.path.join(path, "glycan.parquet")
    if not os.path.exists(path):
        sys.exit(f"error: {path}: no such file (build it with scripts/build_glycan_dataset.py)")
    return pd.read_parquet(path)
