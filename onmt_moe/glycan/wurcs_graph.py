"""A WURCS 2.0 string as a labelled graph, for graph identity where glypy cannot parse.

glypy (the evaluator's first choice) rejects some valid GlyTouCan WURCS: bridge MAPs in LIN
(``a6-b1*OPO*/3O/3=O``), floating residues with unknown parents (``e2-a?|b?|c?}``), some
ambiguous linkages.  This module reads any syntactically valid WURCS 2.0 into a graph that
networkx compares up to isomorphism:

* one node per RES (label: its ResidueCode string, e.g. ``a2122h-1b_1-5_2*NCC/3=O``);
* one node per GLIN of the LIN section (label: the linkage's shape — group count, ``{``/``}``
  markers, bridge MAP, repeat ``~…`` and probability ``%…%`` suffixes), joined to every
  residue it names, the edge labelled with the linkage position (and the group index when the
  linkage has a direction: repeats, bridges, braces).  A plain two-sided linkage ``a4-b1`` is
  undirected, so ``b1-a4`` is the same linkage.

Two strings are the same structure when the graphs are isomorphic with equal labels: this
ignores the order of the RES list, of the uniqueRES list and of the LIN list, and the residue
letters.  It assumes both strings spell each residue with the same ResidueCode (true within one
writer, e.g. glypy's, and for GlyTouCan-canonical strings); it does not reason about chemistry.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .wurcs_tokenizer import HEADER

_RES_ID = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_GLIP_RE = re.compile(r"^([a-zA-Z])(.*)$")


class WurcsParseError(ValueError):
    pass


@dataclass
class WurcsGraph:
    codes: list[str]  # ResidueCode per RES (without brackets)
    links: list[dict] = field(default_factory=list)  # {"label": str, "ends": [(res, label)]}

    def composition(self) -> Counter:
        return Counter(self.codes)

    def to_networkx(self, positions: bool = True):
        import networkx as nx

        g = nx.Graph()
        for i, code in enumerate(self.codes):
            g.add_node(("r", i), label=code)
        for j, link in enumerate(self.links):
            g.add_node(("l", j), label=link["label"] if positions else link["topology_label"])
            for res, lab, topo_lab in link["ends"]:
                key = (("r", res), ("l", j))
                new = lab if positions else topo_lab
                if g.has_edge(*key):  # a residue named twice in one linkage (e.g. a cyclic repeat)
                    new = "+".join(sorted([g.edges[key]["label"], new]))
                g.add_edge(*key, label=new)
        return g


def _split_top(s: str) -> tuple[str, str, str, str]:
    """GLIN -> (glips part, MAP, repeat, probability)."""
    prob = "".join(re.findall(r"%[^%]*%", s))
    s = re.sub(r"%[^%]*%", "", s)
    rep = ""
    if "~" in s:
        s, rep = s.split("~", 1)
    mp = ""
    if "*" in s:
        s, mp = s.split("*", 1)
        mp = "*" + mp
    return s, mp, rep, prob


def parse(s: str) -> WurcsGraph:
    """Parse a WURCS 2.0 string (tokenised with spaces or not); raises WurcsParseError."""
    s = "".join(str(s).split())
    if not s.startswith(HEADER + "/"):
        raise WurcsParseError("not a WURCS 2.0 string")
    body = s[len(HEADER) + 1 :]
    m = re.match(r"^([^/]*)/((?:\[[^\]]*\])*)/([^/]*)(?:/(.*))?$", body)
    if not m:
        raise WurcsParseError("sections are not <counts>/<[codes]>/<RES>/<LIN>")
    counts, codes_s, res_s, lin_s = m.group(1), m.group(2), m.group(3), m.group(4) or ""
    try:
        n_unique, n_res, n_lin = (int(x) for x in counts.replace("+", "").split(","))
    except ValueError:
        raise WurcsParseError(f"bad counts {counts!r}") from None
    uniq = re.findall(r"\[([^\]]*)\]", codes_s)
    if len(uniq) != n_unique or any(not c for c in uniq):
        raise WurcsParseError(f"{len(uniq)} ResidueCodes, counts say {n_unique}")
    try:
        res = [int(x) for x in res_s.split("-")] if res_s else []
    except ValueError:
        raise WurcsParseError(f"bad RES list {res_s!r}") from None
    if len(res) != n_res or any(not 1 <= r <= n_unique for r in res):
        raise WurcsParseError(f"RES list {res_s!r} does not match counts {counts!r}")
    g = WurcsGraph(codes=[uniq[r - 1] for r in res])
    glins = [x for x in lin_s.split("_") if x] if lin_s else []
    if len(glins) != n_lin:
        raise WurcsParseError(f"{len(glins)} linkages, counts say {n_lin}")
    for glin in glins:
        g.links.append(_parse_glin(glin, n_res))
    return g


def _parse_glin(glin: str, n_res: int) -> dict:
    core, mp, rep, prob = _split_top(glin)
    groups = core.split("-")
    if len(groups) < 1 or any(not x for x in groups):
        raise WurcsParseError(f"bad linkage {glin!r}")
    desc, ends = [], []
    for gi, grp in enumerate(groups):
        pre = "{" if grp.startswith("{") else ""
        post = "}" if grp.endswith("}") else ""
        grp = grp.strip("{}")
        poss = []
        alts = grp.split("|")
        for alt in alts:
            mm = _GLIP_RE.match(alt)
            if not mm or mm.group(1) not in _RES_ID or _RES_ID[mm.group(1)] >= n_res:
                raise WurcsParseError(f"bad residue reference {alt!r} in linkage {glin!r}")
            poss.append(mm.group(2))
            ends.append((gi, _RES_ID[mm.group(1)], mm.group(2), len(alts) > 1))
        desc.append(pre + "|".join(sorted(poss)) + post)
    directed = bool(mp or rep or any("{" in d or "}" in d for d in desc)) or len(groups) != 2
    if directed:
        label = "-".join(desc) + mp + ("~" + rep if rep else "") + prob
        topo = "-".join(re.sub(r"[^{}|]", "", d) for d in desc) + mp + ("~" + rep if rep else "") + prob
        out = [(r, f"{gi}:{pos}{'|' if alt else ''}", f"{gi}{'|' if alt else ''}") for gi, r, pos, alt in ends]
    else:
        label = "-".join(sorted(desc)) + prob
        topo = "-".join(sorted(re.sub(r"[^|]", "", d) for d in desc)) + prob
        out = [(r, f"{pos}{'|' if alt else ''}", "|" if alt else "") for _, r, pos, alt in ends]
    return {"label": label, "topology_label": topo, "ends": out}


def _iso(a: WurcsGraph, b: WurcsGraph, positions: bool) -> bool:
    import networkx as nx

    if a.composition() != b.composition() or len(a.links) != len(b.links):
        return False
    eq = lambda x, y: x["label"] == y["label"]  # noqa: E731
    return nx.is_isomorphic(a.to_networkx(positions), b.to_networkx(positions), node_match=eq, edge_match=eq)


def same_structure(a: WurcsGraph, b: WurcsGraph) -> bool:
    """Graph identity: residues (ResidueCodes) and linkages with their positions."""
    return _iso(a, b, positions=True)


def same_topology(a: WurcsGraph, b: WurcsGraph) -> bool:
    """Same residues connected the same way, linkage positions ignored."""
    return _iso(a, b, positions=False)


def try_parse(s: str):
    try:
        return parse(s)
    except WurcsParseError:
        return None
