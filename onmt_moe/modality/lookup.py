"""Which modality each source token belongs to, from the tag tokens of the tagged corpora.

Plain PyTorch, no OpenNMT. Modality 0 is OTHER (tokens outside any segment, e.g. untagged
benchmark-format input); modality i >= 1 is ``names[i - 1]``. Tag tokens belong to their segment.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch

from onmt_moe.modality import tags


def find_tags(itos: Sequence[str], names: Sequence[str] | None = None) -> Tuple[List[str], List[List[int]]]:
    """Return (names, [[open_id, close_id], …]) for the modality tags of a vocabulary.

    ``names`` fixes the order (and so the modality ids); by default every ``<X>``/``</X>`` pair found
    in the vocabulary is used, sorted by name. A requested name absent from the vocabulary gets ids
    ``[-1, -1]`` (no token can carry it) so ids stay stable across vocabularies.
    """
    index = {tok: i for i, tok in enumerate(itos)}
    if names is None or len(names) == 0:
        names = tags.tags_in_vocab(itos)
    ids = [[index.get(tags.open_tag(n), -1), index.get(tags.close_tag(n), -1)] for n in names]
    return list(names), ids


class ModalityLookup:
    """Turns token ids ``(B, S)`` into modality ids ``(B, S)``; vectorised, no Python loop over tokens."""

    def __init__(self, tag_ids: Sequence[Sequence[int]]):
        n = max([max(p) for p in tag_ids] + [0]) + 1
        open_tab = torch.zeros(n, dtype=torch.long)
        close_tab = torch.zeros(n, dtype=torch.long)
        for m, (o, c) in enumerate(tag_ids, start=1):
            if o >= 0:
                open_tab[o] = m
            if c >= 0:
                close_tab[c] = m
        self.size = n
        self._tabs = {torch.device("cpu"): (open_tab, close_tab)}
        self.num_modalities = len(tag_ids) + 1

    def _tables(self, device):
        if device not in self._tabs:
            o, c = self._tabs[torch.device("cpu")]
            self._tabs[device] = (o.to(device), c.to(device))
        return self._tabs[device]

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.num_modalities == 1:
            return torch.zeros_like(ids)
        open_tab, close_tab = self._tables(ids.device)
        in_range = ids < self.size
        safe = ids.clamp(max=self.size - 1)
        open_m = torch.where(in_range, open_tab[safe], 0)
        close_m = torch.where(in_range, close_tab[safe], 0)
        S = ids.size(1)
        pos = torch.arange(S, device=ids.device).expand_as(ids)
        minus1 = torch.full_like(ids, -1)
        last_open = torch.where(open_m > 0, pos, minus1).cummax(dim=1).values
        close_pos = torch.where(close_m > 0, pos, minus1).cummax(dim=1).values
        # closes strictly before t: a closing tag itself still belongs to its segment
        close_before = torch.cat([minus1[:, :1], close_pos[:, :-1]], dim=1)
        inside = (last_open >= 0) & (last_open > close_before)
        mod = open_m.gather(1, last_open.clamp(min=0))
        return torch.where(inside, mod, 0)
