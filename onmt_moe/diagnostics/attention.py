"""Where the decoder looks: the share of cross-attention that each source modality receives.

Question it answers (issue 15): when IR and MS/MS are added to NMR, does the decoder keep reading the
NMR segment, or does it spread its attention over tokens that carry less? For each target token the
context attention over the source (every decoder layer, every head; softmax weights, so they sum to 1)
is summed per segment (``<NMR> … </NMR>``, tags included; tokens outside any segment are ``OTHER``),
then averaged over the real target tokens of the given molecules (teacher forcing on the reference,
as in training). Beside it, each segment's share of the source tokens: attention share / token share
above 1 means the decoder reads that modality more than its length alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from onmt_moe.modality.tags import split_segments
from onmt_moe.modality.vocab import OTHER


def segment_labels(tokens: Sequence[str]) -> list[str]:
    """The segment name of every source token, its open/close tags included (``OTHER`` outside)."""
    out: list[str] = []
    for name, inner in split_segments(list(tokens)):
        out += [OTHER] * len(inner) if name is None else [name] * (len(inner) + 2)
    return out


def _ids(vocab, lines: Sequence[Sequence[str]]) -> torch.Tensor:
    """(batch, len, 1) token ids padded with ``<blank>``."""
    pad = vocab["<blank>"]
    out = torch.full((len(lines), max(len(x) for x in lines), 1), pad, dtype=torch.long)
    for i, toks in enumerate(lines):
        out[i, : len(toks), 0] = torch.tensor([vocab[t] for t in toks])
    return out


class _ContextAttention:
    """Forward hooks on every decoder layer's ``context_attn``: the (batch, heads, tgt, src) weights
    it returns when the decoder is called with ``return_attn=True`` (OpenNMT's TransformerDecoder)."""

    def __init__(self, decoder):
        self.weights: list[torch.Tensor] = []
        self.handles = [layer.context_attn.register_forward_hook(self._keep) for layer in decoder.transformer_layers]

    def _keep(self, module, inputs, output):
        self.weights.append(output[1])

    def close(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def _batch_shares(model, vocabs, sources, labels, targets, names: list[str]) -> tuple:
    """Per-layer attention mass per segment summed over real target tokens, and that token count."""
    src, tgt = _ids(vocabs["src"], sources), _ids(vocabs["tgt"], [["<s>", *t, "</s>"] for t in targets])
    src_len = torch.tensor([len(s) for s in sources])
    seg = torch.zeros(len(sources), src.size(1), len(names))  # one-hot segment of each source position
    for i, row in enumerate(labels):
        for j, lab in enumerate(row):
            seg[i, j, names.index(lab)] = 1.0
    hooks = _ContextAttention(model.decoder)
    try:
        enc_out, enc_final, src_len = model.encoder(src, src_len)
        model.decoder.init_state(src, enc_out, enc_final)
        model.decoder(tgt[:, :-1], enc_out, src_len=src_len, with_align=False, return_attn=True)
    finally:
        hooks.close()
    real = tgt[:, 1:, 0].ne(vocabs["tgt"]["<blank>"]).float()  # target positions that predict a token
    per_layer = []
    for w in hooks.weights:  # (B, H, T, S) -> (B, T, M) mass per segment, mean over heads
        mass = torch.einsum("bhts,bsm->btm", w.float(), seg) / w.size(1)
        per_layer.append((mass * real.unsqueeze(-1)).sum((0, 1)))
    return torch.stack(per_layer), float(real.sum())


def cross_attention_share(
    model, vocabs, sources: Sequence[Sequence[str]], targets: Sequence[Sequence[str]], batch_size: int = 32
) -> dict:
    """``{"segments", "attention", "attention_by_layer", "tokens", "molecules"}``: the mean share of
    cross-attention per segment (all layers, and layer by layer) and the mean share of source tokens."""
    labels = [segment_labels(s) for s in sources]  # once per source: for the batches and the token shares
    names = sorted({lab for row in labels for lab in row})
    mass, n_tgt = torch.zeros(len(model.decoder.transformer_layers), len(names)), 0.0
    for i in range(0, len(sources), batch_size):
        batch = slice(i, i + batch_size)
        m, n = _batch_shares(model, vocabs, sources[batch], labels[batch], targets[batch], names)
        mass, n_tgt = mass + m, n_tgt + n
    by_layer = mass / n_tgt  # each row sums to 1: every target token's attention is a distribution
    tokens = torch.zeros(len(names))
    for row in labels:
        tokens += torch.tensor([row.count(nm) / len(row) for nm in names])
    return {
        "segments": names,
        "attention": dict(zip(names, by_layer.mean(0).tolist())),
        "attention_by_layer": [dict(zip(names, row.tolist())) for row in by_layer],
        "tokens": dict(zip(names, (tokens / len(sources)).tolist())),
        "molecules": len(sources),
    }


__all__ = ["segment_labels", "cross_attention_share"]
