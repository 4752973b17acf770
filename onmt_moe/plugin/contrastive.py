"""Cross-modal contrastive alignment of pooled modality segments (plain PyTorch, no OpenNMT).

For each pair of modalities (``MS:WURCS``, ``TEXT:WURCS``, ``MS:TEXT``, …) the examples of a batch that
have both segments are aligned: the mean-pooled encoder states of the two segments of one example are
the positive pair, every other example of the batch a negative (symmetric InfoNCE at temperature τ).
An optional triplet term ``max(0, margin − cos(a, b⁺) + cos(a, b⁻))`` uses the hardest negative of
each anchor; with a *hard key* (the first token inside a segment of a chosen modality — for the glycan
corpus ``MS``, whose first token is the precursor m/z bin, i.e. the mass, which same-composition
structures share) the hardest negative is taken among the examples with the same key when the batch
has one, so same-composition structures are the negatives to beat. The loss is the mean over pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def pool(enc_out: torch.Tensor, modality: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the states of the tokens of modality ``m`` per example -> ``(B, D)``, and ``(B,)`` has-it."""
    w = (modality == m).to(enc_out.dtype)
    n = w.sum(1)
    return (w.unsqueeze(-1) * enc_out).sum(1) / n.clamp(min=1).unsqueeze(-1), n > 0


def segment_keys(src_ids: torch.Tensor, modality: torch.Tensor, m: int) -> torch.Tensor:
    """``(B,)`` the token id right after the first token of modality ``m`` (its open tag); examples
    without such a token get a distinct negative key, so they never count as the same key."""
    B, S = modality.shape
    is_m = modality == m
    first = torch.where(is_m.any(1), is_m.float().argmax(1), torch.full((B,), S, device=modality.device))
    pos = (first + 1).clamp(max=S - 1)
    key = src_ids.gather(1, pos.unsqueeze(1)).squeeze(1)
    ok = (first + 1 < S) & is_m.gather(1, pos.unsqueeze(1)).squeeze(1)
    return torch.where(ok, key, -1 - torch.arange(B, device=modality.device))


def info_nce(za: torch.Tensor, zb: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE of L2-normalised rows: row i of ``za`` and row i of ``zb`` are the positives."""
    logits = za @ zb.t() / temperature
    target = torch.arange(logits.size(0), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def triplet(za: torch.Tensor, zb: torch.Tensor, margin: float, key: torch.Tensor | None = None) -> torch.Tensor:
    """Mean hinge ``max(0, margin − s(i, i) + s(i, j*))`` over both directions, j* the hardest negative
    (among same-key examples where the anchor has any, else among all other examples)."""
    sim = za @ zb.t()
    off = ~torch.eye(sim.size(0), dtype=torch.bool, device=sim.device)
    losses = []
    for s in (sim, sim.t()):
        candidates = off
        if key is not None:
            same = (key.unsqueeze(0) == key.unsqueeze(1)) & off
            candidates = torch.where(same.any(1, keepdim=True), same, off)
        hardest = s.masked_fill(~candidates, float("-inf")).max(1).values
        losses.append(F.relu(margin - s.diagonal() + hardest).mean())
    return 0.5 * (losses[0] + losses[1])


def alignment_loss(
    enc_out: torch.Tensor,
    modality: torch.Tensor,
    src_ids: torch.Tensor,
    pairs: Sequence[tuple[int, int]],
    temperature: float,
    margin: float = 0.0,
    key_modality: int = -1,
) -> torch.Tensor:
    """Mean over ``pairs`` (modality ids) of InfoNCE (+ the triplet term when ``margin > 0``) over the
    examples with both segments; pairs with fewer than 2 such examples are left out (0 if none is left).
    ``modality`` must hold -1 at pad positions."""
    key_all = segment_keys(src_ids, modality, key_modality) if key_modality >= 0 else None
    terms: list[torch.Tensor] = []
    for a, b in pairs:
        za, ha = pool(enc_out, modality, a)
        zb, hb = pool(enc_out, modality, b)
        both = ha & hb
        if int(both.sum()) < 2:
            continue
        za = F.normalize(za[both].float(), dim=-1)
        zb = F.normalize(zb[both].float(), dim=-1)
        term = info_nce(za, zb, temperature)
        if margin > 0:
            term = term + triplet(za, zb, margin, None if key_all is None else key_all[both])
        terms.append(term)
    if not terms:
        return enc_out.new_zeros((), dtype=torch.float32)
    return torch.stack(terms).mean()


def parse_pairs(spec: str) -> list[tuple[str, str]]:
    """``"MS:WURCS,TEXT:WURCS"`` -> ``[("MS", "WURCS"), ("TEXT", "WURCS")]``; a malformed item raises ValueError."""
    pairs = []
    for item in filter(None, (x.strip() for x in spec.split(","))):
        a, sep, b = item.partition(":")
        if not sep or not a or not b or a == b:
            raise ValueError(f"moe_contrastive_pairs: {item!r} is not A:B with two different modality names")
        pairs.append((a.strip(), b.strip()))
    return pairs


__all__ = ["pool", "segment_keys", "info_nce", "triplet", "alignment_loss", "parse_pairs"]
