"""Glycan MS/MS spectrum -> source tokens, tagged ``<MS> ... </MS> <TEXT> ... </TEXT>``.

Tokens inside <MS> (in order):
  ``PMZ_<k>``        precursor m/z bin (k = floor(m/z / mz_bin)); the first token
  ``CHARGE_-1|-2``   precursor charge
  ``CMP_…``          (optional, ``composition``) compositions matching the precursor mass
                     (less the ``reducing_end`` tag: ``reduced`` alditols carry +H2)
                     (composition.py: ``CMP_Hex_5 CMP_HexNAc_4 CMP_OR …``, ``CMP_NONE``)
  per peak (the ``max_peaks`` most intense above ``min_rel_int`` %, listed by increasing m/z):
  ``MZ_<k>``         m/z bin
  ``INT_<q>``        intensity bin q = min(int_bins-1, floor(I/100*int_bins)) (I relative to base=100)
  ``NLP_<X>``        (optional) precursor neutral mass - fragment neutral mass matches loss X
                     (fragment taken as 1- and, for a 2- precursor, also as 2-)
  ``NLD_<X>``        (optional) this peak minus a lower listed peak matches residue X (1- ions)
  ``DIAG_<ion>``     (optional) m/z matches a diagnostic negative-mode ion (table DIAGNOSTIC)
Losses X: H2O, dHex, Hex, HexNAc, NeuAc, NeuGc (monoisotopic, see LOSSES).

``numeric_peaks`` (source side only) writes the same bins as numbers a value embedding reads
(``onmt_moe/plugin/value_embedding.py``): the precursor bin ``<k>`` first (its field is the ``<MS>``
tag, and it stays the segment's first token, the contrastive hard key) and ``PK <k> <q>`` per peak (field
``PK``; the parity tells the m/z bin from the intensity bin).
Targets (the structure -> spectrum task) always use the word tokens: their scorer reads them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from onmt_moe.masses import PROTON
from onmt_moe.modality.tags import wrap

H2O = 18.010565
LOSSES: dict[str, float] = {
    "H2O": H2O,
    "dHex": 146.057909,
    "Hex": 162.052824,
    "HexNAc": 203.079373,
    "NeuAc": 291.095417,
    "NeuGc": 307.090331,
}


def _b(*names: str) -> float:  # [B - H]- of a non-reducing-end oligosaccharide fragment
    return sum(LOSSES[n] for n in names) - PROTON


DIAGNOSTIC: dict[str, float] = {
    "NeuAc_B1": _b("NeuAc"),
    "NeuAc_C1": _b("NeuAc") + H2O,
    "NeuGc_B1": _b("NeuGc"),
    "NeuGc_C1": _b("NeuGc") + H2O,
    "Hex_C1": _b("Hex") + H2O,
    "HexNAc_C1": _b("HexNAc") + H2O,
    "dHex_C1": _b("dHex") + H2O,
    "HexHexNAc_B2": _b("Hex", "HexNAc"),
    "HexHexNAc_C2": _b("Hex", "HexNAc") + H2O,
    "NeuAcHex_B2": _b("NeuAc", "Hex"),
    "NeuAcHex_C2": _b("NeuAc", "Hex") + H2O,
    "NeuAcHexHexNAc_B3": _b("NeuAc", "Hex", "HexNAc"),
    "dHexHexHexNAc_B3": _b("dHex", "Hex", "HexNAc"),
}


@dataclass
class SpecTokConfig:
    mz_bin: float = 1.0
    int_bins: int = 10
    max_peaks: int = 50
    min_rel_int: float = 0.5
    loss_tol: float = 0.02
    diag_tol: float = 0.02
    losses: bool = True
    peak_pairs: bool = True
    diagnostics: bool = True
    composition: bool = False
    comp_tol: float = 0.005
    comp_max: int = 2
    comp_max_residues: int = 12
    reducing_end: str = "free"  # mass tag of the precursor's reducing end (glycan/real/masses.py)
    numeric_peaks: bool = False  # source spectra as numbers (module doc); targets never

    def as_target(self) -> SpecTokConfig:
        """The settings for a spectrum that is a decoder target: word tokens, whatever the source uses."""
        return replace(self, numeric_peaks=False)

    def to_dict(self):
        return asdict(self)


def mz_token(mz: float, width: float) -> str:
    return f"MZ_{int(math.floor(mz / width))}"


def int_token(rel: float, bins: int) -> str:
    return f"INT_{min(bins - 1, max(0, int(math.floor(rel / 100.0 * bins))))}"


def _match(diff: float, table: dict[str, float], tol: float) -> list[str]:
    return [name for name, m in table.items() if abs(diff - m) <= tol]


def spectrum_tokens(
    precursor_mz: float, charge: int, peaks: Sequence[Sequence[float]], cfg: SpecTokConfig | None = None
) -> list[str]:
    """Tokens of one spectrum (without the <MS> tags). ``peaks``: [[mz, intensity], ...]."""
    c = cfg or SpecTokConfig()
    z = abs(int(charge)) or 1
    prec_mass = precursor_mz * z + z * PROTON  # neutral
    pmz_bin = int(math.floor(precursor_mz / c.mz_bin))
    toks = [str(pmz_bin) if c.numeric_peaks else f"PMZ_{pmz_bin}"]
    toks.append(f"CHARGE_-{z}")
    if c.composition:
        from .composition import composition_tokens

        glycan_mass = prec_mass
        if c.reducing_end != "free":  # e.g. reduced (alditol) precursors of real LC-MS/MS: +H2
            from .real.masses import tag_mass

            glycan_mass -= tag_mass(c.reducing_end)
        toks += composition_tokens(glycan_mass, c.comp_tol, c.comp_max, c.comp_max_residues)
    if len(peaks) == 0:
        return toks
    base = max(float(p[1]) for p in peaks) or 1.0
    rel = [(float(mz), 100.0 * float(i) / base) for mz, i in peaks]
    rel = [p for p in rel if p[1] >= c.min_rel_int]
    rel = sorted(sorted(rel, key=lambda p: -p[1])[: c.max_peaks])
    for j, (mz, inten) in enumerate(rel):
        if c.numeric_peaks:  # "PK 204 7": the same bins, as numbers
            toks += ["PK", mz_token(mz, c.mz_bin)[3:], int_token(inten, c.int_bins)[4:]]
        else:
            toks += [mz_token(mz, c.mz_bin), int_token(inten, c.int_bins)]
        if c.losses:
            found = _match(prec_mass - (mz + PROTON), LOSSES, c.loss_tol)
            if z == 2:
                found += _match(prec_mass - (2 * mz + 2 * PROTON), LOSSES, c.loss_tol)
            toks += [f"NLP_{n}" for n in dict.fromkeys(found)]
        if c.peak_pairs:
            found = []
            for mz2, _ in rel[:j]:
                found += _match(mz - mz2, LOSSES, c.loss_tol)
            toks += [f"NLD_{n}" for n in dict.fromkeys(found) if n != "H2O"]
        if c.diagnostics:
            toks += [f"DIAG_{n}" for n in _match(mz, DIAGNOSTIC, c.diag_tol)]
    return toks


def source_tokens(
    precursor_mz: float,
    charge: int,
    peaks,
    text_tokens: Sequence[str] | None,
    cfg: SpecTokConfig | None = None,
    with_text: bool = True,
) -> list[str]:
    """``<MS> … </MS>`` and, if with_text, ``<TEXT> … </TEXT>`` (``<MISSING>`` when no text)."""
    out = wrap("MS", spectrum_tokens(precursor_mz, charge, peaks, cfg))
    if with_text:
        out += wrap("TEXT", list(text_tokens or []))
    return out
