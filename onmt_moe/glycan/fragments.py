"""Negative-mode MS/MS simulation from glypy fragments (SYNTHETIC intensities).

No forward intensity model for glycan MS/MS exists in glypy/glycowork, so intensities
are produced by documented rules (see ``intensity_rules`` and docs/glycan.md):

  * fragment ions: glypy ``fragments(kind='ABCXYZ', max_cleavages=1)`` (glycosidic B/C/Y/Z +
    cross-ring A/X) plus double glycosidic cleavages ``fragments(kind='BY', max_cleavages=2)``
    for glycans with <= ``max_res_double`` residues;
  * base weight per cleavage type: Y 1.0, C 0.7, B 0.45, Z 0.35, A 0.30 (0,2A / 2,4A x1.5), X 0.15;
    a fragment with two cleavages gets the product of both weights x 0.5;
  * labile losses favoured: a glycosidic cleavage releasing a sialic acid (NeuAc/NeuGc/Kdn)
    x3.0, a fucose (dHex) x2.0;
  * negative mode: ions are deprotonated, m/z = (M - z*1.007276)/z; precursor [M-H]- (z=1) or
    [M-2H]2- (z=2 when M > ``z2_mass``); when z=2, fragments heavier than ``z2_frag_mass`` also
    appear as 2- ions (x0.5); the precursor itself is kept at 0.2 of the base peak;
  * seeded noise: multiplicative log-normal (sigma ``noise_sigma``), peak dropout (p ``dropout``,
    the base peak is never dropped), and a Poisson(``n_noise``) number of random noise peaks with
    intensity <= 3 % of the base peak; intensities scaled to base peak = 100.
The random stream is seeded from (seed, WURCS) so each spectrum is reproducible on its own.

``SimParams(intensity_rules="fitted")`` replaces the textbook weights above by a table measured on
real annotated spectra (``data/intensity_rules.json``, written by ``scripts/fit_glycan_intensities.py``
from GPST000017 only; onmt_moe/glycan/real/intensity_fit.py): the mean relative intensity a real
spectrum shows at the m/z of each fragment *class* (``fragment_class``: cleavage, released labile
residue, reducing end kept or not) per charge state, and the precursor's own mean intensity. Every
fragment then appears at each charge up to the precursor's with its class's weight.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from onmt_moe.masses import PROTON

BASE_WEIGHT = {"Y": 1.0, "C": 0.7, "B": 0.45, "Z": 0.35, "A": 0.30, "X": 0.15}
CROSSRING_BOOST = {"0,2A": 1.5, "2,4A": 1.5}
LABILE = {"NeuAc": 3.0, "NeuGc": 3.0, "Kdn": 3.0, "dHex": 2.0}


@dataclass
class SimParams:
    seed: int = 13
    max_res_double: int = 10
    z2_mass: float = 1500.0
    z2_frag_mass: float = 1000.0
    noise_sigma: float = 0.35
    dropout: float = 0.15
    n_noise: float = 3.0
    min_mz: float = 100.0
    max_peaks: int = 150
    precursor_rel: float = 0.2
    # real-spectrum knobs (issue 17; defaults keep the original simulator bit for bit):
    reducing_end: str = "free"  # mass tag on the precursor and every fragment keeping the reducing end
    mz_sigma: float = 0.0  # Gaussian m/z error (Da), e.g. an ion trap's ~0.1-0.2
    sharpen: float = 1.0  # intensity exponent: > 1 lets a few ions dominate, as in real spectra
    intensity_rules: str = "textbook"  # or "fitted" (the packaged table) or the path of such a JSON table

    def to_dict(self):
        return asdict(self)


# the real-spectrum knobs of SimParams, as command-line options (one definition for every script)
def add_real_spectrum_options(ap, sharpen: bool = True) -> None:
    from .real.masses import REDUCING_END_FORMULA

    d = SimParams()
    g = ap.add_argument_group("real-spectrum simulator knobs (issue 17; defaults = the original simulator)")
    g.add_argument("--reducing_end", default=d.reducing_end, choices=sorted(REDUCING_END_FORMULA))
    g.add_argument("--mz_sigma", type=float, default=d.mz_sigma, help="Gaussian m/z error, Da (ion trap ~0.15)")
    if sharpen:
        g.add_argument("--sharpen", type=float, default=d.sharpen, help="intensity exponent (> 1: few ions dominate)")
    g.add_argument(
        "--intensity_rules",
        default=d.intensity_rules,
        help="textbook | fitted (measured on real spectra, data/intensity_rules.json) | a fitted table's path",
    )


def real_spectrum_knobs(args) -> dict:
    """The knobs of ``add_real_spectrum_options`` that differ from the default simulator."""
    d = SimParams()
    names = ("reducing_end", "mz_sigma", "sharpen", "intensity_rules")
    return {k: getattr(args, k) for k in names if hasattr(args, k) and getattr(args, k) != getattr(d, k)}


def residue_class(res) -> str:
    """Generic class of a glypy monosaccharide: Hex, HexNAc, HexN, HexA, dHex, Pen, NeuAc, NeuGc, Kdn, other."""
    subs = [s.name for _, s in res.substituents()]
    mods = {str(m) for _, m in res.modifications.items()}
    sc = str(res.superclass).lower()
    if sc == "non":
        if "n_glycolyl" in subs:
            return "NeuGc"
        if "n_acetyl" in subs:
            return "NeuAc"
        return "Kdn"
    if sc == "hex":
        if "d" in mods and not subs:
            return "dHex"
        if "n_acetyl" in subs:
            return "HexNAc"
        if "amino" in subs:
            return "HexN"
        if "a" in mods:
            return "HexA"
        return "Hex" if not subs else "other"
    if sc == "pen":
        return "Pen"
    return "other"


def _rng_for(wurcs: str, seed: int) -> np.random.Generator:
    h = hashlib.sha1(f"{seed}|{wurcs}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def _cleavage_letters(frag) -> list[tuple[str, str]]:
    """[(type, detail)] for each cleavage: ('Y','') ... or ('A','0,2A')."""
    out = []
    for _, (_, letter) in frag.link_ids.items():
        out.append((letter, ""))
    for _, (ring, letter) in frag.crossring_cleavages.items():
        out.append((letter, f"{ring}{letter}"))
    return out


def fragment_weight(glycan, frag) -> float:
    w = 1.0
    cls = _cleavage_letters(frag)
    for letter, detail in cls:
        w *= BASE_WEIGHT.get(letter, 0.2) * CROSSRING_BOOST.get(detail, 1.0)
    for link_id in frag.link_ids:
        try:
            child = glycan.get_link(link_id).child
        except Exception:
            continue
        w *= LABILE.get(residue_class(child), 1.0)
    if len(cls) > 1:
        w *= 0.5
    return w


def fragment_class(glycan, frag) -> str:
    """The intensity-rule class of a fragment, ``cut:labile:end``: the cleavage (``Y``, ``Z``, ``0,4X``, …;
    ``double`` for two cleavages), the labile residue a glycosidic cut releases (``NeuAc``, ``dHex``, …
    or ``-``) and whether the fragment keeps the reducing end (``red``) or not (``nonred``)."""
    cuts = _cleavage_letters(frag)
    cut = "double" if len(cuts) > 1 else (cuts[0][1] or cuts[0][0])
    labile = "-"
    for link_id in frag.link_ids:
        try:
            child = residue_class(glycan.get_link(link_id).child)
        except Exception:  # noqa: BLE001  (glypy raises several types for a missing link)
            continue
        labile = child if child in LABILE else labile
    return f"{cut}:{labile}:{'red' if glycan.root.id in frag.included_nodes else 'nonred'}"


def theoretical_fragments(glycan, params: SimParams) -> list:
    """glypy fragments of the simulator: single cleavages of every kind, double B/Y for small glycans."""
    frags = list(glycan.fragments(kind="ABCXYZ", max_cleavages=1))
    n_res = sum(1 for _ in glycan.iternodes())
    if n_res <= params.max_res_double:
        frags += [f for f in glycan.fragments(kind="BY", max_cleavages=2) if f.break_count >= 2]
    return frags


def enumerate_fragments(glycan, params: SimParams) -> list[tuple[float, float, str, str]]:
    """[(neutral mass incl. the reducing-end tag, textbook weight, name, class)] of the fragments."""
    tag, root = reducing_end_tag(params), glycan.root.id
    return [
        (
            float(f.mass) + (tag if root in f.included_nodes else 0.0),
            fragment_weight(glycan, f),
            f.name,
            fragment_class(glycan, f),
        )
        for f in theoretical_fragments(glycan, params)
    ]


RULES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "intensity_rules.json")


@lru_cache(maxsize=4)
def load_rules(name: str) -> dict:
    """The fitted table of ``intensity_rules`` (``"fitted"`` = the packaged one, else a path)."""
    path = RULES_FILE if name == "fitted" else name
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"intensity_rules {name!r}: cannot read {path} ({type(e).__name__})") from None


def rule_weight(rules: dict, cls: str, charge: int) -> float:
    """Fitted weight of a fragment class at charge ``charge`` (1, 2, …); a class too rare to fit takes
    the weight of the same cut without the labile residue, else the table's pooled ``other`` value."""
    table = rules["classes"]
    cut, _, end = cls.split(":")
    for key in (f"{cls}:z{charge}", f"{cut}:-:{end}:z{charge}"):
        if key in table:
            return table[key]["mean"]
    return rules["other"].get(f"z{charge}", 0.0)


def reducing_end_tag(params: SimParams) -> float:
    """Mass the reducing-end tag adds to the precursor and to every fragment that keeps the reducing end."""
    if params.reducing_end == "free":
        return 0.0
    from .real.masses import tag_mass

    return tag_mass(params.reducing_end)


def simulate_spectrum(glycan, wurcs: str, params: SimParams | None = None) -> dict:
    """Simulated negative-mode MS/MS of a glypy glycan.

    Returns {'precursor_mz', 'charge' (-1/-2), 'mass', 'peaks' [[mz, intensity], ...] sorted by m/z,
    'n_theoretical'}.
    """
    p = params or SimParams()
    rng = _rng_for(wurcs, p.seed)
    mass = float(glycan.mass())
    z = 2 if mass > p.z2_mass else 1
    prec_mz = (mass + reducing_end_tag(p) - z * PROTON) / z
    ions: dict[float, float] = {}

    def add(mz, inten):
        if mz < p.min_mz or inten <= 0.0:  # a fitted class never seen in real spectra adds no peak
            return
        key = round(mz, 4)
        ions[key] = ions.get(key, 0.0) + inten

    theo = enumerate_fragments(glycan, p)
    rules = load_rules(p.intensity_rules) if p.intensity_rules != "textbook" else None
    for fmass, w, _, cls in theo:
        if rules:  # every charge up to the precursor's, each with its measured class weight
            for k in range(1, z + 1):
                add((fmass - k * PROTON) / k, rule_weight(rules, cls, k))
            continue
        add(fmass - PROTON, w)
        if z == 2 and fmass > p.z2_frag_mass:
            add((fmass - 2 * PROTON) / 2, 0.5 * w)
    precursor_rel = rules["precursor"].get(f"z{z}", 0.0) / 100.0 if rules else p.precursor_rel
    if not ions:
        ions[round(prec_mz, 4)] = 1.0
    mzs = np.array(sorted(ions))
    ints = np.array([ions[m] for m in mzs])
    ints = ints * rng.lognormal(0.0, p.noise_sigma, size=len(ints))
    keep = rng.random(len(ints)) >= p.dropout
    keep[int(np.argmax(ints))] = True
    mzs, ints = mzs[keep], ints[keep]
    base = ints.max()
    # precursor peak (unfragmented) and random noise peaks
    n_noise = rng.poisson(p.n_noise)
    noise_mz = rng.uniform(p.min_mz, max(prec_mz, p.min_mz + 1.0), size=n_noise)
    noise_int = rng.uniform(0.0, 0.03, size=n_noise) * base
    prec = [prec_mz] if precursor_rel > 0 else []  # real ion-trap MS2 often shows no precursor at all
    mzs = np.concatenate([mzs, prec, noise_mz])
    ints = np.concatenate([ints, [precursor_rel * base] if prec else [], noise_int])
    if len(ints) > p.max_peaks:
        top = np.argsort(-ints, kind="stable")[: p.max_peaks]
        mzs, ints = mzs[top], ints[top]
    if p.sharpen != 1.0:
        ints = ints**p.sharpen
    if p.mz_sigma > 0:
        mzs = mzs + rng.normal(0.0, p.mz_sigma, size=len(mzs))
    order = np.argsort(mzs, kind="stable")
    mzs, ints = mzs[order], ints[order]
    ints = 100.0 * ints / ints.max()
    peaks = [[round(float(m), 4), round(float(i), 3)] for m, i in zip(mzs, ints)]
    return {"precursor_mz": round(prec_mz, 5), "charge": -z, "mass": mass, "peaks": peaks, "n_theoretical": len(theo)}
