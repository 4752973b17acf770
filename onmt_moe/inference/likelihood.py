"""Teacher-forced scoring of given targets with a checkpoint: log P(target | source), the quantity
``onmt_translate -tgt … -with_score`` reports as gold scores, computed in one batched forward pass
per source so that a whole candidate library can be ranked (closed-set identification: the
glycan retrieval benchmark, and real spectra against a class list of known glycans)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch


def load_model(checkpoint: str, trust: bool = False):
    """(model in eval mode on CPU, vocabs) of an OpenNMT checkpoint, loaded as onmt_translate does:
    OpenNMT's own load, torch's ``weights_only`` default with the plugin's allowlist; a refused global
    is reported by the one safe loader (``runfolder.load_checkpoint``; ``trust``: ``--trust_checkpoint``)."""
    import pickle

    from onmt.model_builder import load_test_model
    from onmt.opts import translate_opts
    from onmt.utils.parse import ArgumentParser

    import onmt_moe  # noqa: F401  (registers the encoder and the checkpoint-loading fix)
    from onmt_moe.runfolder import load_checkpoint, trusting_checkpoints

    parser = ArgumentParser()
    translate_opts(parser)
    opt = parser.parse_args(["-model", checkpoint, "-src", os.devnull])
    with trusting_checkpoints(trust):
        try:
            vocabs, model, _ = load_test_model(opt)
        except pickle.UnpicklingError:
            load_checkpoint(checkpoint, trust=trust)  # raises the one-line CheckpointError naming it
            raise
    return model.eval(), vocabs


def token_ids(vocab, lines: Sequence[Sequence[str]], bos_eos: bool = False):
    seqs = [
        ([vocab["<s>"]] if bos_eos else []) + [vocab[t] for t in toks] + ([vocab["</s>"]] if bos_eos else [])
        for toks in lines
    ]
    pad = vocab["<blank>"]
    out = torch.full((len(seqs), max(len(s) for s in seqs), 1), pad, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s), 0] = torch.tensor(s)
    return out, torch.tensor([len(s) for s in seqs])


@torch.no_grad()
def log_likelihood(model, vocabs, source: list[str], candidates: list[list[str]], prefix: str = "") -> np.ndarray:
    """log P(candidate | source) for each candidate (one encoder pass, the decoder over all candidates).
    A ``prefix`` (the task's target token) is fed before every candidate and, being forced, not counted."""
    head = [prefix] if prefix else []
    src, src_len = token_ids(vocabs["src"], [source] * len(candidates))
    tgt, _ = token_ids(vocabs["tgt"], [head + list(c) for c in candidates], bos_eos=True)
    dec_out, _ = model(src, tgt, src_len)
    logp = torch.log_softmax(model.generator(dec_out).float(), dim=-1)
    gold = tgt[:, 1:, 0]
    lp = logp.gather(2, gold.unsqueeze(-1)).squeeze(-1)
    counted = gold.ne(vocabs["tgt"]["<blank>"]).float()
    counted[:, : len(head)] = 0.0
    return (lp * counted).sum(1).numpy()


__all__ = ["load_model", "token_ids", "log_likelihood"]
