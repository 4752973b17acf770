"""Column names of the multimodal spectroscopic dataset and their v1/v2 detection.

Only the MS/MS columns differ between dataset versions:
v1 ``msms_{positive,negative}_{10,20,40}ev``, v2 ``msms_cfmid_{positive,negative}_{10,20,40}ev``.
The version is detected per file from its parquet schema, so a directory may mix both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Official section order of a source line; also the order of tagged segments.
SECTIONS: Sequence[str] = ("formula", "h_nmr", "c_nmr", "ir", "pos_msms", "neg_msms")

SMILES_COLUMN = "smiles"
SINGLE_COLUMNS: dict[str, str] = {
    "formula": "molecular_formula",
    "h_nmr": "h_nmr_peaks",
    "c_nmr": "c_nmr_peaks",
    "ir": "ir_spectra",
}
ENERGIES = (10, 20, 40)
_POLARITY = {"pos_msms": "positive", "neg_msms": "negative"}
# Section headers of the MS/MS blocks, one per collision energy (10, 20, 40 eV).
MSMS_HEADERS: dict[str, Sequence[str]] = {
    "pos_msms": ("E0Pos", "E1Pos", "E2Pos"),
    "neg_msms": ("E0Neg", "E1Neg", "E2Neg"),
}


class DataError(ValueError):
    """Bad input that stops the run; the message is one line naming file/row/column."""


def msms_names(section: str, version: str) -> list[str]:
    pol = _POLARITY[section]
    if version == "v1":
        return [f"msms_{pol}_{e}ev" for e in ENERGIES]
    if version == "v2":
        return [f"msms_cfmid_{pol}_{e}ev" for e in ENERGIES]
    raise ValueError(f"unknown MS/MS column version {version!r}")


def detect_msms_version(names: Iterable[str], section: str, file: str = "?") -> str:
    """'v2' or 'v1' for the MS/MS columns of ``section`` present in ``names``.

    Raises DataError naming the first missing column when neither full set is present.
    """
    have = set(names)
    for version in ("v2", "v1"):
        if all(c in have for c in msms_names(section, version)):
            return version
    # Report against the set that is partly there (v1 if any v1 name exists, else v2).
    version = "v1" if any(c in have for c in msms_names(section, "v1")) else "v2"
    missing = [c for c in msms_names(section, version) if c not in have]
    other = msms_names(section, "v1" if version == "v2" else "v2")[0]
    raise DataError(
        f"{file}: missing column '{missing[0]}' needed for --{section} "
        f"(neither v2 nor v1 MS/MS names found, e.g. '{other}')"
    )


def needed_columns(names: Iterable[str], sections: Iterable[str], file: str = "?") -> dict[str, list[str]]:
    """Map each selected section (and 'smiles') to the column(s) it reads in this file.

    Raises DataError naming the missing column and the file.
    """
    have = set(names)
    out: dict[str, list[str]] = {}
    if SMILES_COLUMN not in have:
        raise DataError(f"{file}: missing column '{SMILES_COLUMN}' (needed for the target)")
    out["smiles"] = [SMILES_COLUMN]
    for sec in sections:
        if sec in SINGLE_COLUMNS:
            col = SINGLE_COLUMNS[sec]
            if col not in have:
                raise DataError(f"{file}: missing column '{col}' needed for --{sec}")
            out[sec] = [col]
        elif sec in _POLARITY:
            out[sec] = msms_names(sec, detect_msms_version(have, sec, file))
        else:
            raise DataError(f"unknown section {sec!r}; expected one of {', '.join(SECTIONS)}")
    return out
