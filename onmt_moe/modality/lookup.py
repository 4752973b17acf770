"""Which modality each source token belongs to, from the tag tokens of the tagged corpora.

Plain PyTorch, no OpenNMT. The ids are those of :class:`onmt_moe.modality.vocab.ModalityVocab`
(0 = OTHER: tokens outside any segment). Tag tokens belong to their segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from onmt_moe.modality.vocab import OTHER_ID


class ModalityLookup:
    """Turns token ids ``(B, S)`` into modality ids ``(B, S)``; vectorised, no Python loop over tokens.

    ``tag_ids``: the ``(open, close)`` token ids of modality 1, 2, … (``ModalityVocab.tag_ids``)."""

    def __init__(self, tag_ids: Sequence[Sequence[int]]):
        n = max([max(p) for p in tag_ids] + [0]) + 1
        open_tab = torch.full((n,), OTHER_ID, dtype=torch.long)
        close_tab = torch.full((n,), OTHER_ID, dtype=torch.long)
        for m, (o, c) in enumerate(tag_ids, start=OTHER_ID + 1):
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
            return torch.full_like(ids, OTHER_ID)
        open_tab, close_tab = self._tables(ids.device)
        in_range = ids < self.size
        safe = ids.clamp(max=self.size - 1)
        open_m = torch.where(in_range, open_tab[safe], OTHER_ID)
        close_m = torch.where(in_range, close_tab[safe], OTHER_ID)
        S = ids.size(1)
        pos = torch.arange(S, device=ids.device).expand_as(ids)
        minus1 = torch.full_like(ids, -1)
        last_open = torch.where(open_m != OTHER_ID, pos, minus1).cummax(dim=1).values
        close_pos = torch.where(close_m != OTHER_ID, pos, minus1).cummax(dim=1).values
        # closes strictly before t: a closing tag itself still belongs to its segment
        close_before = torch.cat([minus1[:, :1], close_pos[:, :-1]], dim=1)
        inside = (last_open >= 0) & (last_open > close_before)
        mod = open_m.gather(1, last_open.clamp(min=0))
        return torch.where(inside, mod, OTHER_ID)
