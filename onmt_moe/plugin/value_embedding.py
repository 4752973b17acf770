"""Value-aware embeddings of numeric source tokens (``-value_embedding add|replace``).

With word embeddings every number is its own word: ``128`` and ``129`` ppm are unrelated vectors
learned from their own few occurrences, and a number absent from the vocabulary is ``<unk>``. Here a
numeric token (a vocabulary entry that reads as a decimal number: ``128``, ``7.26``, ``-0.5``) is also
embedded **from its value**:

    v  = float(token)
    f  = [sin(w_k v), cos(w_k v)]_k  ++  [log1p(|v|) / 8]      (fixed frequencies, periods
                                                                 ``MIN_PERIOD`` … ``MAX_PERIOD``)
    e  = MLP(f ++ (P · word(marker) + parity_vector))        (d_model)

``marker`` is the last non-numeric token at or before the number (``13CNMR``, ``J``, ``|``, ``<IR>``,
``E0Pos``, an element symbol of the formula): it names the **field** the number belongs to, so the
same value means different things after ``J`` and after ``13CNMR``. ``parity`` is the number's index
since its marker modulo 2, which tells an MS/MS m/z from the intensity after it. The field vector is
the marker's own word embedding through a small projection ``P`` (no table of its own).

``add``: the token's word embedding plus ``e`` (the default for fine-tuning a word model);
``replace``: a numeric token is ``e`` alone, so it is embedded only from value and field, and a value
between two training values lies between their vectors. Non-numeric tokens (tags, multiplicities,
``2H``, SMILES characters, padding) keep their word embedding unchanged in both modes.

The value table is derived from the source vocabulary each time the model is built
(:meth:`ValueEmbedding.attach_vocab`, called by patch 4) and never saved: the checkpoint holds only
the MLP and projection weights. A number absent from the vocabulary still
arrives as ``<unk>``: ``onmt_moe_predict`` maps it to the nearest number the vocabulary has
(:func:`onmt_moe.numbers.nearest_known`), within the value embedding's resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn

from onmt_moe.numbers import token_values
from onmt_moe.plugin.option_fields import option, to_int, to_strs

MODES = ("none", "add", "replace")
MIN_PERIOD = 1.0  # a 0.1 step (1H shifts, m/z) still turns it by 0.6 rad; shorter periods make neighbours unlike
MAX_PERIOD = 2000.0  # longer than any shift, J, intensity or small-molecule m/z
FIELD_DIM = 16


def to_mode(v) -> str:
    """one of none, add, replace"""
    s = str(v).strip().lower()
    if s not in MODES:
        raise ValueError(v)
    return s


@dataclass(frozen=True)
class ValueArgs:
    mode: str = option("value_embedding", to_mode)
    frequencies: int = option("value_frequencies", to_int)
    modalities: tuple[str, ...] = option("value_modalities", to_strs)  # empty: the numbers of every segment

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def problems(self, known: Sequence[str] = ()) -> list[str]:
        out = []
        if self.enabled and not 1 <= self.frequencies <= 256:
            out.append(f"value_frequencies: must be in 1..256, got {self.frequencies}")
        unknown = [m for m in self.modalities if known and m not in known]
        if self.enabled and unknown:
            out.append(f"value_modalities: {unknown} not among the modalities ({', '.join(known)})")
        return out


def fourier_features(values: torch.Tensor, frequencies: torch.Tensor) -> torch.Tensor:
    """``(…, 2K + 1)``: sin and cos of ``values`` at each angular frequency, and a log magnitude."""
    v = values.unsqueeze(-1)
    angles = v * frequencies
    return torch.cat([torch.sin(angles), torch.cos(angles), torch.log1p(v.abs()) / 8.0], dim=-1)


def angular_frequencies(k: int) -> torch.Tensor:
    """``k`` frequencies, geometric between periods ``MAX_PERIOD`` and ``MIN_PERIOD``."""
    periods = torch.logspace(math.log10(MAX_PERIOD), math.log10(MIN_PERIOD), k) if k > 1 else torch.tensor([1.0])
    return 2 * math.pi / periods


class TokenValues:
    """Every source token's value (0 for a non-numeric token) and whether it is a number, ``(V,)`` each,
    per device. Derived from the vocabulary, never saved: plain attributes, not buffers (OpenNMT's
    checkpoint loader wants every buffer in the checkpoint)."""

    def __init__(self):
        self._tables: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def attach(self, itos: Sequence[str]) -> None:
        vals = torch.tensor(token_values(itos), dtype=torch.float32)
        self._tables = {torch.device("cpu"): (torch.nan_to_num(vals, nan=0.0), ~torch.isnan(vals))}

    def on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._tables:
            raise RuntimeError("value_embedding: the source vocabulary was never attached (attach_vocab)")
        if device not in self._tables:
            cpu = self._tables[torch.device("cpu")]
            self._tables[device] = (cpu[0].to(device), cpu[1].to(device))
        return self._tables[device]


class ValueEmbedding(nn.Module):
    """The value vectors of numeric tokens; see the module docstring."""

    def __init__(self, args: ValueArgs, d_model: int, modality_ids: Sequence[int] = ()):
        super().__init__()
        self.replace = args.mode == "replace"
        self.modality_ids = tuple(int(m) for m in modality_ids)  # () = every segment's numbers
        self.field = nn.Linear(d_model, FIELD_DIM)
        self.parity = nn.Embedding(2, FIELD_DIM)
        n_in = 2 * args.frequencies + 1 + FIELD_DIM
        self.mlp = nn.Sequential(nn.Linear(n_in, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.n_frequencies = args.frequencies
        self.token_values = TokenValues()

    @classmethod
    def build(cls, args: ValueArgs, d_model: int, modality_ids: Sequence[int] = ()) -> ValueEmbedding | None:
        """The module, or None when ``value_embedding`` is none (then the encoder has no such parameter);
        ``modality_ids``: the segments whose numbers get value vectors (empty: all)."""
        return cls(args, d_model, modality_ids) if args.enabled else None

    def attach_vocab(self, itos: Sequence[str]) -> None:
        """Read every source token's value from the vocabulary (:class:`TokenValues`)."""
        self.token_values.attach(itos)

    @property
    def is_number(self) -> torch.Tensor:
        """``(V,)`` True at the numeric tokens of the attached vocabulary."""
        return self.token_values.on(torch.device("cpu"))[1]

    def forward(
        self,
        word_vectors: torch.Tensor,
        ids: torch.Tensor,
        word_lut: nn.Embedding,
        modality: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``word_vectors (B, S, D)`` with the numeric tokens' value vectors added (or in their place);
        with ``value_modalities``, only the numbers inside those segments (``modality``: ``(B, S)`` ids)."""
        values, numeric = self.token_values.on(ids.device)
        frequencies = angular_frequencies(self.n_frequencies).to(ids.device)  # 32 numbers: not worth a cache
        is_num = numeric[ids]  # (B, S)
        if self.modality_ids:
            if modality is None:
                raise RuntimeError("value_modalities: the tokens' modality ids were not passed")
            is_num = is_num & torch.isin(modality, torch.tensor(self.modality_ids, device=ids.device))
        pos = torch.arange(ids.size(1), device=ids.device).expand_as(ids)
        # the last non-numeric token at or before each position: the number's field
        marker_pos = torch.where(is_num, torch.full_like(ids, -1), pos).cummax(dim=1).values
        marker = ids.gather(1, marker_pos.clamp(min=0))
        parity = (pos - marker_pos - 1).clamp(min=0) % 2
        field = self.field(word_lut(marker)) + self.parity(parity)
        feats = fourier_features(values[ids], frequencies)
        vec = self.mlp(torch.cat([feats.to(field.dtype), field], dim=-1))
        mask = is_num.unsqueeze(-1)
        if self.replace:
            return torch.where(mask, vec, word_vectors)
        return word_vectors + vec * mask.to(vec.dtype)


__all__ = ["MODES", "TokenValues", "ValueArgs", "ValueEmbedding", "angular_frequencies", "fourier_features"]
