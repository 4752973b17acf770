"""Real MS/MS spectra -> rows of the glycan parquet schema (``dataset.SCHEMA_DOC`` + REAL_FIELDS).

Inputs:
* CandyCrunch-style extracted spectra (``.xlsx``, one row per MS/MS spectrum): ``reducing_mass``
  (observed precursor m/z), ``peak_d`` (a dict string ``{m/z: intensity, …}``, read with
  ``ast.literal_eval`` — never ``eval``), ``RT`` (minutes), optional ``intensity`` (precursor
  abundance).  Read with pandas/openpyxl.
* raw ``.mzML`` / ``.mzXML``: read with **pyteomics** (``pyteomics.mzml`` / ``pyteomics.mzxml``).
  Why pyteomics and not matchms (which the predict readers use, and which wraps pyteomics for
  these two formats): matchms keeps the scan start time without its unit and, when a file gives
  no charge state, sets the charge to ±1 from the polarity — a charge we must infer instead; it
  also pulls in its numba/filtering stack.  pyteomics gives the raw CV terms: ms level, polarity,
  selected ion m/z, charge state (when recorded), peak intensity and the start time with its unit.

Each spectrum becomes a row: precursor m/z, charge (recorded, else inferred from candidate
compositions over z = 1-3, ``charge.py``), neutral glycan mass (free-reducing-end equivalent:
z·(m/z + H+) minus the reducing-end tag), peaks sorted by m/z scaled to base peak 100,
retention time, reducing-end state.  A spectrum that cannot be used goes to the rejects list
as (file, row, reason, detail), never silently dropped.
"""

from __future__ import annotations

import ast
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from .charge import infer
from .masses import ION_TRAP_PRECURSOR_TOL, tag_mass

REAL_FIELD_DOC = {
    "rt": "double: retention time, minutes",
    "precursor_intensity": "double or null: precursor abundance as the file records it",
    "reducing_end": "string: free | reduced | 2AB | … (masses.REDUCING_END_FORMULA)",
    "source_file": "string: the spectra file (basename)",
    "charge_source": "string: file (recorded) | inferred (candidate compositions)",
    "charge_candidates": "string: JSON [[z, composition, m/z error], …] best first",
}


class SpectraFileError(ValueError):
    """A spectra file that cannot be read at all (one line naming the file)."""


@dataclass
class RawSpectrum:
    row: int  # row (xlsx, 0-based data row) or spectrum index (mzML/mzXML)
    precursor_mz: float
    rt: float  # minutes
    peaks: list[list[float]]  # [[mz, intensity], …] as in the file
    precursor_intensity: float | None = None
    charge: int | None = None  # |z| when the file records it
    scan_id: str = ""


@dataclass
class ReadResult:
    rows: list[dict] = field(default_factory=list)
    rejects: list[tuple[str, int, str, str]] = field(default_factory=list)  # file, row, reason, detail
    skipped: dict[str, int] = field(default_factory=dict)  # not MS/MS (MS1 scans …)


def real_fields():
    import pyarrow as pa

    return [
        ("rt", pa.float64()),
        ("precursor_intensity", pa.float64()),
        ("reducing_end", pa.string()),
        ("source_file", pa.string()),
        ("charge_source", pa.string()),
        ("charge_candidates", pa.string()),
    ]


def _finite(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def parse_peak_dict(text) -> list[list[float]]:
    """``"{mz: intensity, …}"`` -> [[mz, intensity], …]; raises ValueError with the reason."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("peak_d is empty")
    try:
        d = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"peak_d is not a dict literal ({type(e).__name__})") from None
    if not isinstance(d, dict):
        raise ValueError(f"peak_d is a {type(d).__name__}, not a dict")
    return [[k, v] for k, v in d.items()]


def _clean_peaks(peaks: Sequence[Sequence]) -> list[list[float]]:
    """Finite, m/z > 0, intensity > 0, sorted by m/z, base peak 100; ValueError if none is left."""
    out = []
    for p in peaks:
        mz, it = _finite(p[0]), _finite(p[1])
        if mz is not None and it is not None and mz > 0 and it > 0:
            out.append((mz, it))
    if not out:
        raise ValueError("no peak with finite positive m/z and intensity")
    base = max(it for _, it in out)
    return [[round(mz, 5), round(100.0 * it / base, 4)] for mz, it in sorted(out)]


def read_xlsx(path: str) -> tuple[list[RawSpectrum], list[tuple[int, str, str]]]:
    import pandas as pd

    try:
        df = pd.read_excel(path)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds of errors on bad files
        raise SpectraFileError(f"{path}: cannot read the spreadsheet ({type(e).__name__}: {str(e)[:100]})") from None
    missing = [c for c in ("reducing_mass", "peak_d", "RT") if c not in df.columns]
    if missing:
        raise SpectraFileError(
            f"{path}: missing column(s) {', '.join(missing)} (expected reducing_mass, peak_d, RT[, intensity])"
        )
    spectra, bad = [], []
    has_int = "intensity" in df.columns
    for i, rec in enumerate(df.to_dict("records")):
        try:
            peaks = parse_peak_dict(rec["peak_d"])
        except ValueError as e:
            bad.append((i, "bad_peaks", str(e)))
            continue
        spectra.append(
            RawSpectrum(
                row=i,
                precursor_mz=_finite(rec["reducing_mass"]) or float("nan"),
                rt=_finite(rec["RT"]) if _finite(rec["RT"]) is not None else float("nan"),
                peaks=peaks,
                precursor_intensity=_finite(rec["intensity"]) if has_int else None,
            )
        )
    return spectra, bad


def _rt_minutes(value) -> float:
    """pyteomics unitfloat (``unit_info`` 'minute' / 'second') -> minutes; plain floats are minutes."""
    v = _finite(value)
    if v is None:
        return float("nan")
    unit = str(getattr(value, "unit_info", "minute") or "minute").lower()
    return v / 60.0 if unit.startswith("s") else v


def _mzml_spectrum(i: int, s: dict) -> tuple[RawSpectrum | None, str]:
    if int(s.get("ms level", 0) or 0) != 2:
        return None, "not_ms2"
    if "positive scan" in s:
        return None, "positive_mode"
    try:
        ion = s["precursorList"]["precursor"][0]["selectedIonList"]["selectedIon"][0]
    except (KeyError, IndexError, TypeError):
        return RawSpectrum(row=i, precursor_mz=float("nan"), rt=float("nan"), peaks=[], scan_id=s.get("id", "")), ""
    scan = ((s.get("scanList") or {}).get("scan") or [{}])[0]
    z = ion.get("charge state")
    return RawSpectrum(
        row=i,
        precursor_mz=_finite(ion.get("selected ion m/z")) or float("nan"),
        rt=_rt_minutes(scan.get("scan start time")),
        peaks=list(zip(s.get("m/z array", []), s.get("intensity array", []))),
        precursor_intensity=_finite(ion.get("peak intensity")),
        charge=abs(int(z)) if _finite(z) else None,
        scan_id=str(s.get("id", "")),
    ), ""


def _mzxml_spectrum(i: int, s: dict) -> tuple[RawSpectrum | None, str]:
    if int(s.get("msLevel", 0) or 0) != 2:
        return None, "not_ms2"
    if s.get("polarity") == "+":
        return None, "positive_mode"
    prec = (s.get("precursorMz") or [{}])[0]
    z = prec.get("precursorCharge")
    # pyteomics.mzxml converts retentionTime (xs:duration) to minutes
    return RawSpectrum(
        row=i,
        precursor_mz=_finite(prec.get("precursorMz")) or float("nan"),
        rt=_finite(s.get("retentionTime")) if _finite(s.get("retentionTime")) is not None else float("nan"),
        peaks=list(zip(s.get("m/z array", []), s.get("intensity array", []))),
        precursor_intensity=_finite(prec.get("precursorIntensity")),
        charge=abs(int(z)) if _finite(z) else None,
        scan_id=str(s.get("num", "")),
    ), ""


def read_raw(path: str) -> tuple[list[RawSpectrum], list[tuple[int, str, str]], dict[str, int]]:
    """MS/MS spectra of an mzML / mzXML file (negative mode; MS1 and positive scans are skipped, counted)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".mzml":
        from pyteomics import mzml as reader

        convert = _mzml_spectrum
    else:
        from pyteomics import mzxml as reader

        convert = _mzxml_spectrum
    spectra, bad, skipped = [], [], {}
    try:
        with reader.read(path, use_index=False) as it:
            for i, s in enumerate(it):
                spec, why = convert(i, s)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                elif spec is not None:
                    spectra.append(spec)
    except Exception as e:  # noqa: BLE001 - lxml / pyteomics raise many kinds on a broken file
        raise SpectraFileError(f"{path}: cannot parse as {ext[1:]} ({type(e).__name__}: {str(e)[:100]})") from None
    return spectra, bad, skipped


def to_row(
    spec: RawSpectrum,
    source_file: str,
    reducing_end: str,
    tol_mz: float,
    max_residues: int,
    glycan_class: str | None = None,
    known=None,
) -> tuple[dict | None, str, str]:
    """(row, "", "") or (None, reason, detail)."""
    if spec.precursor_mz != spec.precursor_mz or spec.precursor_mz <= 0:
        return None, "bad_precursor", "precursor m/z missing or not a positive number"
    if spec.rt != spec.rt:
        return None, "bad_rt", "retention time missing or not a number"
    try:
        peaks = _clean_peaks(spec.peaks)
    except ValueError as e:
        return None, "bad_peaks", str(e)
    cands = infer(
        spec.precursor_mz,
        peaks,
        reducing_end,
        tol_mz,
        max_residues,
        charges=(spec.charge,) if spec.charge else (1, 2, 3),
        known=known,
    )
    if not cands:
        zs = f"z = {spec.charge}" if spec.charge else "z = 1-3"
        return (
            None,
            "no_composition",
            (f"no composition within {tol_mz} m/z of {spec.precursor_mz:.3f} ({zs}, reducing end {reducing_end})"),
        )
    best = cands[0]
    return (
        {
            "wurcs": "",
            "iupac": "",
            "glytoucan_id": None,
            "precursor_mz": float(spec.precursor_mz),
            "charge": -best.z,
            "mass": best.glycan_mass,
            "peaks": peaks,
            "text": "",
            "composition": json.dumps(best.composition, sort_keys=True),
            "n_residues": best.n_residues,
            "glycan_type": glycan_class,
            "conversion": "real",
            "source_row": spec.row,
            "split": "test",
            "rt": float(spec.rt),
            "precursor_intensity": spec.precursor_intensity,
            "reducing_end": reducing_end,
            "source_file": source_file,
            "charge_source": "file" if spec.charge else "inferred",
            "charge_candidates": json.dumps([[c.z, c.composition, round(c.mz_error, 4)] for c in cands[:5]]),
        },
        "",
        "",
    )


def read_spectra(
    path: str,
    reducing_end: str = "reduced",
    tol_mz: float = ION_TRAP_PRECURSOR_TOL,
    max_residues: int = 14,
    glycan_class: str | None = None,
    known=None,
) -> ReadResult:
    """All spectra of ``path`` (.xlsx, .mzML, .mzXML) as parquet rows + rejects (see module doc).
    ``known``: compositions of the class (classlist.py) to rank first; None = de novo only."""
    tag_mass(reducing_end)  # an unknown reducing end is an error before any file is read
    if not os.path.isfile(path):
        raise SpectraFileError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".xlsx", ".xls"):
        spectra, bad = read_xlsx(path)
        skipped: dict[str, int] = {}
    elif ext in (".mzml", ".mzxml"):
        spectra, bad, skipped = read_raw(path)
    else:
        raise SpectraFileError(f"{path}: unknown spectra file type {ext!r} (expected .xlsx, .mzML or .mzXML)")
    name = os.path.basename(path)
    res = ReadResult(skipped=skipped)
    res.rejects += [(name, row, why, detail) for row, why, detail in bad]
    for spec in spectra:
        row, why, detail = to_row(spec, name, reducing_end, tol_mz, max_residues, glycan_class, known)
        if row is None:
            res.rejects.append((name, spec.row, why, detail))
        else:
            res.rows.append(row)
    return res


def write(res: ReadResult, out_dir: str, meta: dict) -> dict:
    """``glycan.parquet`` (rows), ``rejects.tsv`` (file, row, reason, detail), ``summary.json``."""
    from collections import Counter

    from ..dataset import SCHEMA_DOC, write_parquet

    os.makedirs(out_dir, exist_ok=True)
    write_parquet(res.rows, os.path.join(out_dir, "glycan.parquet"), extra_fields=real_fields())
    with open(os.path.join(out_dir, "rejects.tsv"), "w") as fh:
        fh.write("file\trow\treason\tdetail\n")
        for r in res.rejects:
            fh.write("\t".join(str(x).replace("\t", " ").replace("\n", " ") for x in r) + "\n")
    summary = {
        **meta,
        "rows": len(res.rows),
        "rejected": len(res.rejects),
        "reject_reasons": dict(Counter(r[2] for r in res.rejects)),
        "skipped": res.skipped,
        "charge": {str(k): v for k, v in sorted(Counter(r["charge"] for r in res.rows).items())},
        "charge_source": dict(Counter(r["charge_source"] for r in res.rows)),
        "schema": {**SCHEMA_DOC, **REAL_FIELD_DOC},
    }
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(summary, fh, indent=2)
    return summary
