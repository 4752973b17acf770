"""The printed summary of ``make demo-glycan`` (scripts/demo_glycan.py): one multi-task model's
structure, spectrum, text, composition and retrieval scores. Plain Python."""

from __future__ import annotations


def _f(x, pct: bool = True) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.1f} %" if pct else f"{x:.1f}"


def summary_lines(scores: dict, retrieval: dict) -> list[str]:
    """``scores`` = the run's scores.json ``{"tasks": …}``; ``retrieval`` = benchmark/retrieve.py's JSON."""
    tasks = scores.get("tasks", {})
    out = []
    s = tasks.get("struct")
    if s:
        top = s.get("topk", {})
        out.append(
            f"  structure   {s.get('n')} unseen spectra -> WURCS: top-1 {_f(top.get('1'))}, "
            f"top-{max(top, key=int, default='?')} {_f(top.get(max(top, key=int))) if top else '-'}; "
            f"composition top-1 {_f(s.get('composition_topk', {}).get('1'))}, "
            f"topology top-1 {_f(s.get('topology_topk', {}).get('1'))}, "
            f"invalid top-1 {_f(s.get('invalid_rate_top1'))}"
        )
    s = tasks.get("spec")
    if s:
        t1 = s.get("top1", {})
        out.append(
            f"  spectrum    {s.get('n')} structures -> MS tokens: top-1 m/z-bin F1 {_f(t1.get('f1'))}, "
            f"cosine {_f(t1.get('cosine'))}"
        )
    for name, label in (("text", "text       "), ("align", "composition")):
        s = tasks.get(name)
        if s:
            fields = s.get("field_accuracy") or {}
            extra = (", fields " + ", ".join(f"{k} {_f(v)}" for k, v in fields.items())) if name == "text" else ""
            out.append(
                f"  {label} {s.get('n')} rows: BLEU {_f(s.get('bleu'), False)}, chrF {_f(s.get('chrf'), False)}, "
                f"exact top-1 {_f(s.get('topk', {}).get('1'))}{extra}"
            )
    for direction, m in (retrieval.get("embedding") or {}).items():
        out.append(
            f"  retrieval   {direction:<20} (library {m.get('library', '?')}): R@1 {_f(m.get('recall@1'))}, "
            f"R@5 {_f(m.get('recall@5'))}, R@10 {_f(m.get('recall@10'))}, MRR {m.get('mrr', 0):.3f}"
        )
    for setting, m in (retrieval.get("likelihood") or {}).items():
        if isinstance(m, dict) and m.get("n"):
            out.append(
                f"  identify    log-likelihood, {setting:<16} ({m['n']} queries, {m['mean_candidates']:.1f} "
                f"candidates): top-1 {_f(m.get('recall@1'))}, MRR {m.get('mrr', 0):.3f}"
            )
    return out


__all__ = ["summary_lines"]
