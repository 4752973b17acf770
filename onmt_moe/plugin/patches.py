"""Spectra as patches (``-patch_modalities IR -patch_size 5``): runs of consecutive numbers in the named
modality segments enter the encoder as one token per ``patch_size`` points.

An IR spectrum of the corpus is 50–400 intensity words; read one word at a time, its shape (a band's
position, width and height) must be rebuilt by attention. Here, inside each named segment, every run of
numeric tokens is cut into patches of ``k`` consecutive points (the last one shorter). A patch keeps
the embedding of its first token (word, value vector, position) and adds ``W · p / max|run|``, where
``p`` is the patch's ``k`` values (zeros past the run's end) and ``max|run|`` scales the run to [-1, 1]
so the projection sees the spectrum's shape, not its units. The other ``k - 1`` tokens are dropped: the
encoder layers run on the shorter sequence, which is what makes a 400-point IR affordable.

OpenNMT's decoder builds its memory mask from the *original* source length (``state["src"]``), so the
encoder returns its states padded back to that length with the new lengths: the decoder never attends
past them. Patches change which position holds which token, so they cannot be combined with the
contrastive alignment (its pooling reads the source ids per position); :class:`PatchArgs` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn

from onmt_moe.plugin.option_fields import option, to_int, to_strs
from onmt_moe.plugin.value_embedding import TokenValues


@dataclass(frozen=True)
class PatchArgs:
    modalities: tuple[str, ...] = option("patch_modalities", to_strs)
    size: int = option("patch_size", to_int)

    @property
    def enabled(self) -> bool:
        return bool(self.modalities)

    def problems(self, known: Sequence[str], contrastive: bool) -> list[str]:
        if not self.enabled:
            return []
        out = []
        if not 2 <= self.size <= 512:
            out.append(f"patch_size: must be in 2..512, got {self.size}")
        unknown = [m for m in self.modalities if known and m not in known]
        if unknown:
            out.append(f"patch_modalities: {unknown} not among the modalities ({', '.join(known)})")
        if contrastive:
            out.append("patch_modalities: not with moe_contrastive_coef > 0 (the alignment pools per source token)")
        return out


@dataclass
class Patched:
    """The shortened batch: ids, embeddings, modality ids, lengths (``S' <= S``)."""

    ids: torch.Tensor  # (B, S')
    x: torch.Tensor  # (B, S', D)
    modality: torch.Tensor  # (B, S')
    lengths: torch.Tensor  # (B,)


class Patcher(nn.Module):
    """See the module docstring; ``modality_ids``: the ids of the patched modalities."""

    def __init__(self, args: PatchArgs, d_model: int, modality_ids: Sequence[int]):
        super().__init__()
        self.k = args.size
        self.proj = nn.Linear(self.k, d_model)
        self.modality_ids = tuple(int(m) for m in modality_ids)
        self.token_values = TokenValues()

    @classmethod
    def build(cls, args: PatchArgs, d_model: int, modality_ids: Sequence[int]) -> Patcher | None:
        return cls(args, d_model, modality_ids) if args.enabled else None

    def attach_vocab(self, itos: Sequence[str]) -> None:
        self.token_values.attach(itos)

    def _runs(self, ids, modality, lengths):
        """``(in_run, ordinal, run_start, value)``: numeric tokens of a patched segment, their index in
        their run, the position just before the run (a run's id within its row), and each token's value."""
        values, numeric = self.token_values.on(ids.device)
        pos = torch.arange(ids.size(1), device=ids.device).expand_as(ids)
        wanted = torch.zeros_like(ids, dtype=torch.bool)
        for m in self.modality_ids:
            wanted |= modality == m
        in_run = wanted & numeric[ids] & (pos < lengths.unsqueeze(1))
        run_start = torch.where(in_run, torch.full_like(ids, -1), pos).cummax(dim=1).values
        return in_run, pos - run_start - 1, run_start, values[ids]

    def _patch_values(self, v, in_run, ordinal, run_start):
        """``(B, S, k)``: the ``k`` values from each position on, within its run, scaled by the run's max."""
        B, S = v.shape
        pos = torch.arange(S, device=v.device).expand(B, S)
        cols = []
        for j in range(self.k):
            at = (pos + j).clamp(max=S - 1)
            same = (pos + j < S) & in_run.gather(1, at) & (ordinal.gather(1, at) == ordinal + j)
            cols.append(torch.where(same, v.gather(1, at), torch.zeros_like(v)))
        p = torch.stack(cols, dim=-1)
        run_max = torch.zeros_like(v).scatter_reduce(1, run_start.clamp(min=0), v.abs() * in_run, "amax")
        scale = run_max.gather(1, run_start.clamp(min=0)).clamp(min=1e-6)
        return p / scale.unsqueeze(-1)

    def forward(self, ids, x, modality, lengths, pad_id: int, other_id: int) -> Patched:
        in_run, ordinal, run_start, v = self._runs(ids, modality, lengths)
        first = in_run & (ordinal % self.k == 0)
        patch = self.proj(self._patch_values(v, in_run, ordinal, run_start).to(x.dtype))
        x = x + patch * first.unsqueeze(-1).to(x.dtype)
        pos = torch.arange(ids.size(1), device=ids.device).expand_as(ids)
        keep = (~in_run | first) & (pos < lengths.unsqueeze(1))
        new_len = keep.sum(dim=1)
        S2 = int(new_len.max())
        rows, cols = keep.nonzero(as_tuple=True)
        dest = (keep.cumsum(dim=1) - 1)[rows, cols]
        out_x = x.new_zeros(x.size(0), S2, x.size(2))
        out_x[rows, dest] = x[rows, cols]
        out_ids = torch.full((ids.size(0), S2), pad_id, dtype=ids.dtype, device=ids.device)
        out_ids[rows, dest] = ids[rows, cols]
        out_mod = torch.full_like(out_ids, other_id)
        out_mod[rows, dest] = modality[rows, cols]
        return Patched(out_ids, out_x, out_mod, new_len)


__all__ = ["PatchArgs", "Patched", "Patcher"]
