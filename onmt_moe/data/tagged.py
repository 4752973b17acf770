"""Tagged source lines: benchmark sections grouped into modality segments.

``<FORMULA> C 8 H 8 O </FORMULA> <NMR> 1HNMR … 13CNMR … </NMR> <IR> IR … </IR> <MS> E0Pos … E0Neg … </MS>``

Sections keep their inner headers (``1HNMR``, ``13CNMR``, ``IR``, ``E0Pos`` …).
Tag spelling comes from :mod:`onmt_moe.modality.tags`.

Missing modalities: a segment with no present section is dropped
(``missing='drop'``) or written as ``<NAME> <MISSING> </NAME>`` (``missing='token'``).
With ``token`` every segment of the grouping is written, including those whose
sections were not selected on the command line, so all lines share one layout.
A segment with some sections present and others missing holds the present ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from onmt_moe.data.columns import SECTIONS, DataError
from onmt_moe.modality import tags

MISSING_MODES = ("drop", "token")


def parse_groups(spec) -> dict[str, str]:
    """``'default'`` / ``'fine'`` / ``'h_nmr=HNMR,c_nmr=CNMR,…'`` / a dict -> {section: NAME}."""
    if isinstance(spec, Mapping):
        mapping = dict(spec)
    elif spec in (None, "default"):
        mapping = dict(tags.DEFAULT_GROUPS)
    elif spec == "fine":
        mapping = dict(tags.FINE_GROUPS)
    else:
        try:
            mapping = tags.parse_name_values(str(spec), "--groups", "section", "NAME")
        except ValueError as exc:
            raise DataError(str(exc)) from None
    for sec, name in mapping.items():
        if sec not in SECTIONS:
            raise DataError(f"--groups: unknown section {sec!r} (sections: {', '.join(SECTIONS)})")
        t = tags.tag_name(tags.open_tag(name))
        if t is None or name == tags.MISSING.strip("<>"):
            raise DataError(f"--groups: bad segment name {name!r} (upper-case letters, digits, _)")
    return mapping


def segment_plan(mapping: Mapping[str, str], selected: Sequence[str], missing: str) -> list[tuple[str, list[str]]]:
    """[(NAME, [selected sections in official order])…] in first-appearance order."""
    if missing not in MISSING_MODES:
        raise DataError(f"--missing must be one of {MISSING_MODES}, got {missing!r}")
    for sec in selected:
        if sec not in mapping:
            raise DataError(f"section {sec!r} is selected but has no group in --groups")
    order: list[str] = []
    members: dict[str, list[str]] = {}
    for sec in SECTIONS:
        if sec not in mapping:
            continue
        name = mapping[sec]
        if name not in members:
            order.append(name)
            members[name] = []
        if sec in selected:
            members[name].append(sec)
    plan = [(name, members[name]) for name in order]
    if missing == "drop":
        plan = [(n, m) for n, m in plan if m]
    return plan


def tagged_line(
    plan: Sequence[tuple[str, Sequence[str]]],
    parts: Mapping[str, str | None],
    missing: str,
    missing_counter: dict[str, int] | None = None,
) -> str:
    """Assemble one tagged line from the per-section texts (None = modality absent)."""
    out: list[str] = []
    for name, secs in plan:
        body = [parts[s] for s in secs if parts.get(s)]
        if body:
            out.extend(tags.wrap(name, [" ".join(body)]))
        else:
            if missing_counter is not None and secs:
                missing_counter[name] = missing_counter.get(name, 0) + 1
            if missing == "token":
                out.extend(tags.wrap(name, []))
    return " ".join(out)
