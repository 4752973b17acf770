"""One sample's inputs -> the source line the model was trained on.

The section texts come from the corpus builder's own formatting path
(``onmt_moe.data.formatting.format_section``, fed one-row Arrow arrays in the benchmark's column
layout, with the corpus' :class:`~onmt_moe.data.formatting.Formatting`: NMR binning, IR points, MS/MS
top-k) and the line is assembled by ``formatting.source_line`` with the corpus' segment plan, so every
formatting rule has one definition. Glycan sources use ``glycan.spectra_tokens.source_tokens`` with the corpus' settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from onmt_moe.data import benchmark_format as bf
from onmt_moe.data.formatting import Formatting, format_section, source_line
from onmt_moe.predict import InputError
from onmt_moe.predict.readers import MSMS_SLOTS, CPeaks, Formula, HPeaks, IRSpectrum, MSMSSpectrum
from onmt_moe.predict.settings import CorpusSettings

LABELS = {
    "formula": "formula",
    "h_nmr": "1H NMR",
    "c_nmr": "13C NMR",
    "ir": "IR",
    "pos_msms": "MS/MS (+)",
    "neg_msms": "MS/MS (-)",
    "text": "text",
}


@dataclass
class Sample:
    name: str = "sample"
    formula: Formula | None = None
    ir: IRSpectrum | None = None
    h_nmr: HPeaks | None = None
    c_nmr: CPeaks | None = None
    msms: list[MSMSSpectrum] = field(default_factory=list)
    text: str | None = None


@dataclass
class Built:
    line: str
    report: list[str]  # one line per input: used how / not used / missing
    precursor: MSMSSpectrum | None = None


_H_TYPE = pa.list_(
    pa.struct(
        [
            ("rangeMax", pa.float64()),
            ("rangeMin", pa.float64()),
            ("category", pa.string()),
            ("nH", pa.int64()),
            ("j_values", pa.string()),
        ]
    )
)
_MSMS_TYPE = pa.list_(pa.list_(pa.float64()))


def _one(section: str, st: bf.SectionText, where: str) -> str:
    if st.status[0] == bf.BAD:
        raise InputError(f"{where}: {st.reasons[0]}")
    return st.texts[0]


def msms_texts(
    spectra: list[MSMSSpectrum], top_k: int | None = None, formatting: Formatting | None = None
) -> dict[str, str]:
    """{'pos_msms': 'E0Pos … E1Pos … E2Pos …', …} of the given spectra (one per energy slot), formatted
    as ``formatting`` says (else: the defaults with ``top_k`` peaks per list)."""
    f = formatting or Formatting(msms_top_k=top_k)
    out = {}
    for sec, mode in (("pos_msms", "positive"), ("neg_msms", "negative")):
        mine = [s for s in spectra if s.ionmode == mode]
        if not mine:
            continue
        slots: dict[float, MSMSSpectrum] = {}
        for s in mine:
            if s.energy_ev in slots:
                raise InputError(
                    f"{s.source}: a second {mode} spectrum for the {s.energy_ev:g} eV block "
                    f"(first: {slots[s.energy_ev].source})"
                )
            slots[s.energy_ev] = s
        cols = [
            pa.array(
                [[[float(m), float(i)] for m, i in zip(slots[e].mz, slots[e].intensity)] if e in slots else []],
                _MSMS_TYPE,
            )
            for e in MSMS_SLOTS
        ]
        st = format_section(sec, cols, f, [f"{sec} {e:g} eV" for e in MSMS_SLOTS])
        out[sec] = _one(sec, st, mine[0].source)
    return out


def section_texts(sample: Sample, cfg: CorpusSettings) -> dict[str, str]:
    """The text of every section the sample has, formatted exactly as the corpus builder did
    (``cfg.formatting``: the same ``format_section`` the builder calls)."""
    f = cfg.formatting
    out: dict[str, str] = {}
    if sample.formula:
        # the predictor always checks the formula strictly (a typo must not become tokens)
        st = format_section("formula", [pa.array([sample.formula.text])], Formatting(fmt="tagged"))
        out["formula"] = _one("formula", st, "--formula")
    if sample.h_nmr:
        st = format_section("h_nmr", [pa.array([sample.h_nmr.peaks], _H_TYPE)], f)
        out["h_nmr"] = _one("h_nmr", st, sample.h_nmr.source)
    if sample.c_nmr:
        st = format_section("c_nmr", [pa.array([sample.c_nmr.shifts], pa.list_(pa.float64()))], f)
        out["c_nmr"] = _one("c_nmr", st, sample.c_nmr.source)
    if sample.ir:
        arr = pa.array([sample.ir.absorbance], pa.list_(pa.float32()))
        out["ir"] = _one("ir", format_section("ir", [arr], f, ir_n_in=len(sample.ir.absorbance)), sample.ir.source)
    out.update(msms_texts(sample.msms, formatting=f))
    return out


def _given(sample: Sample) -> dict[str, object]:
    g = {
        "formula": sample.formula,
        "h_nmr": sample.h_nmr,
        "c_nmr": sample.c_nmr,
        "ir": sample.ir,
        "pos_msms": [s for s in sample.msms if s.ionmode == "positive"] or None,
        "neg_msms": [s for s in sample.msms if s.ionmode == "negative"] or None,
    }
    return {k: v for k, v in g.items() if v}


def _notes(obj) -> list[str]:
    items = obj if isinstance(obj, list) else [obj]
    return [n for it in items for n in getattr(it, "notes", [])]


def _missing_how(sec: str, plan, texts: dict[str, str], cfg: CorpusSettings) -> str:
    """What happens to a section the sample lacks, as the corpus did it (tagged.tagged_line)."""
    if cfg.fmt == "benchmark":
        return "left out (the benchmark format has no placeholder)"
    name, members = next((n, m) for n, m in plan if sec in m)
    if any(m in texts for m in members):
        return f"left out of the <{name}> segment, which holds the other inputs"
    return f"<{name}> <MISSING> </{name}>" if cfg.missing == "token" else f"the <{name}> segment is dropped"


def build_smiles_source(sample: Sample, cfg: CorpusSettings) -> Built:
    given = _given(sample)
    report = []
    for sec in given:
        if sec not in cfg.sections:
            report.append(f"{LABELS[sec]:<10} given but NOT USED: the model was not trained on it")
    if sample.text:
        report.append(f"{'text':<10} given but NOT USED: SMILES models take no text")
    usable = Sample(
        name=sample.name,
        formula=sample.formula if "formula" in cfg.sections else None,
        ir=sample.ir if "ir" in cfg.sections else None,
        h_nmr=sample.h_nmr if "h_nmr" in cfg.sections else None,
        c_nmr=sample.c_nmr if "c_nmr" in cfg.sections else None,
        msms=[s for s in sample.msms if ("pos_msms" if s.ionmode == "positive" else "neg_msms") in cfg.sections],
    )
    texts = section_texts(usable, cfg)
    if not texts:
        raise InputError(
            f"{sample.name}: none of the given inputs is one the model was trained on "
            f"({', '.join(LABELS[s] for s in cfg.sections)})"
        )
    plan = cfg.formatting.plan()
    line = source_line(cfg.formatting, {s: texts.get(s) for s in cfg.sections}, plan)
    for sec in cfg.sections:
        if sec in texts:
            ntok = len(texts[sec].split())
            detail = "; ".join(_notes(given[sec]))
            report.append(f"{LABELS[sec]:<10} used: {ntok} tokens" + (f" ({detail})" if detail else ""))
        else:
            report.append(f"{LABELS[sec]:<10} not given: {_missing_how(sec, plan, texts, cfg)}")
    prec = next((s for s in usable.msms if s.precursor_mz), None)
    return Built(line, report, prec)


def build_glycan_source(sample: Sample, cfg: CorpusSettings) -> Built:
    from onmt_moe.glycan.spectra_tokens import SpecTokConfig, source_tokens
    from onmt_moe.glycan.text import text_tokens

    report = []
    for sec in _given(sample):
        if sec not in ("neg_msms", "pos_msms"):
            report.append(f"{LABELS[sec]:<10} given but NOT USED: the glycan model reads MS/MS and text only")
    if len(sample.msms) != 1:
        raise InputError(f"{sample.name}: the glycan model takes exactly one MS/MS spectrum ({len(sample.msms)} given)")
    spec = sample.msms[0]
    if spec.ionmode != "negative":
        report.append("MS/MS      WARNING: the glycan model was trained on negative-mode spectra")
    if not spec.precursor_mz:
        raise InputError(f"{spec.source}: no precursor m/z recorded; the glycan source starts with it")
    charge = spec_charge(spec)
    known = set(SpecTokConfig.__dataclass_fields__)
    tok_cfg = SpecTokConfig(**{k: v for k, v in cfg.glycan_tokens.items() if k in known})
    tt = text_tokens(sample.text) if sample.text else []
    toks = source_tokens(
        spec.precursor_mz,
        charge,
        [[m, i] for m, i in zip(spec.mz, spec.intensity)],
        tt,
        tok_cfg,
        with_text=cfg.glycan_text,
    )
    if cfg.glycan_text and not tt and cfg.missing == "drop":
        report.append("text       not given: the corpus dropped rows without text (<MISSING> used)")
    n_ms = toks.index("</MS>") - 1
    report.append(
        f"MS/MS      used: {n_ms} tokens (precursor m/z {spec.precursor_mz:.4f}, charge -{charge}; "
        + "; ".join(spec.notes)
        + ")"
    )
    if cfg.glycan_text:
        report.append(f"text       {'used: ' + str(len(tt)) + ' tokens' if tt else 'not given: <MISSING>'}")
    elif sample.text:
        report.append("text       given but NOT USED: the model was trained without text")
    return Built(" ".join(toks), report, spec)


def spec_charge(spec: MSMSSpectrum) -> int:
    """|charge| of the precursor (1 when not recorded; the glycan corpus has 1 and 2)."""
    z = abs(int(spec.charge or 0))
    return z if z in (1, 2) else 1


def build_source(sample: Sample, cfg: CorpusSettings) -> Built:
    return build_glycan_source(sample, cfg) if cfg.kind == "wurcs" else build_smiles_source(sample, cfg)
