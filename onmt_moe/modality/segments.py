"""Modality segments of a tagged source: run indices, positions within a segment, attention masks.

Plain PyTorch, no OpenNMT. A *segment* is a maximal run of consecutive tokens with the same
modality id (:class:`onmt_moe.modality.lookup.ModalityLookup`; the tags belong to their segment, tokens
outside any tag pair form runs of modality 0 = OTHER). Masks follow OpenNMT's convention:
shape ``(B, 1, S, S)``, ``True`` = the query (row) may **not** attend to the key (column).
"""

from __future__ import annotations

import torch


def segment_index(modality: torch.Tensor) -> torch.Tensor:
    """``(B, S)`` modality ids -> ``(B, S)`` run index 0, 1, 2, … (a new run wherever the id changes)."""
    change = torch.zeros_like(modality, dtype=torch.long)
    change[:, 1:] = (modality[:, 1:] != modality[:, :-1]).long()
    return change.cumsum(dim=1)


def segment_positions(modality: torch.Tensor) -> torch.Tensor:
    """``(B, S)`` modality ids -> position of each token inside its segment (0 at every segment start)."""
    S = modality.size(1)
    pos = torch.arange(S, device=modality.device).expand_as(modality)
    starts = torch.ones_like(modality, dtype=torch.bool)
    starts[:, 1:] = modality[:, 1:] != modality[:, :-1]
    start_pos = torch.where(starts, pos, torch.zeros_like(pos)).cummax(dim=1).values
    return pos - start_pos


def _with_pad_rows(allowed: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Blocked-mask from ``allowed`` (B, S, S); pad queries see every real key (as OpenNMT's pad mask)."""
    real_keys = keep.unsqueeze(1).expand_as(allowed)
    allowed = torch.where(keep.unsqueeze(2), allowed, real_keys)
    return (~allowed).unsqueeze(1)


def within_segment_mask(segment: torch.Tensor, keep: torch.Tensor, global_keys: torch.Tensor = None) -> torch.Tensor:
    """Each real token attends only to the real tokens of its own segment, plus the ``global_keys``
    ``(B, S)`` (e.g. a task token, which every modality must see to know what is asked of it)."""
    same = segment.unsqueeze(2) == segment.unsqueeze(1)
    if global_keys is not None:
        same = same | global_keys.unsqueeze(1)
    return _with_pad_rows(same & keep.unsqueeze(1), keep)


def cross_segment_mask(segment: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Each real token attends to the real tokens of the *other* segments of its example.

    A token whose example has no other segment (a single-modality source) would have no key at
    all; it attends to every real token instead, so the softmax never sees an empty row.
    """
    other = (segment.unsqueeze(2) != segment.unsqueeze(1)) & keep.unsqueeze(1)
    has_other = other.any(dim=2, keepdim=True)
    allowed = torch.where(has_other, other, keep.unsqueeze(1).expand_as(other))
    return _with_pad_rows(allowed, keep)
