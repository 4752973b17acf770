"""MoEEncoderLayer: every encoder layer owns its forward; parameter names and outputs are those of before."""

import os

import pytest
import torch
from onmt.encoders.transformer import TransformerEncoderLayer
from onmt.utils.misc import sequence_mask

from onmt_moe.plugin import segment_positions
from onmt_moe.plugin.encoder_layer import MoEEncoderLayer, MoEFeedForward
from tests import helpers_onmt as H

KEYS = os.path.join(os.path.dirname(__file__), "fixtures", "moe_encoder_state_keys.tsv")
CONFIGS = {"all": {}, "layer1": {"moe_layers": [1]}, "fusion": {"fusion_layers": 1, "modality_type_embedding": True}}


def _old_keys(config):
    with open(KEYS, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if not line.startswith("#")]
    return [(k, shape) for name, k, shape in rows if name == config]


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_state_dict_keys_and_shapes_are_those_of_older_checkpoints(config):
    enc = H.model(H.opts(**CONFIGS[config])).encoder
    assert [(k, str(tuple(t.shape))) for k, t in enc.state_dict().items()] == _old_keys(config)
    assert all(isinstance(layer, MoEEncoderLayer) for layer in enc.transformer)


def _reference_forward(enc, src, src_len):
    """The encoder loop as it was written before MoEEncoderLayer (attention re-implemented for MoE layers)."""
    modality_bs = enc.modality_lookup(src[:, :, 0])
    x = segment_positions.embed(enc.embeddings, src, modality_bs, enc.config.embedding, enc.modality_embedding)
    pad = sequence_mask(src_len).unsqueeze(1)
    mask = pad.unsqueeze(1).expand(-1, -1, pad.size(2), -1)
    keep = ~pad.squeeze(1)
    token_index = keep.reshape(-1).nonzero().squeeze(1)
    modality = modality_bs.reshape(-1).index_select(0, token_index)
    for layer in enc.transformer:
        if isinstance(layer.feed_forward, MoEFeedForward):
            h = layer.layer_norm(x)
            context, _ = layer.self_attn(h, h, h, mask=mask)
            x, _ = layer.feed_forward(layer.dropout(context) + x, token_index, modality)
        else:
            x = TransformerEncoderLayer.forward(layer, x, mask)  # upstream's own layer forward
    return enc.layer_norm(x)


@pytest.mark.parametrize("config", ["all", "layer1"])
def test_outputs_equal_the_old_loop_and_an_old_state_dict_loads(config):
    v = H.vocabs()
    old = H.model(H.opts(**CONFIGS[config]), seed=3).eval()
    new = H.model(H.opts(**CONFIGS[config]), seed=4).eval()
    new.encoder.load_state_dict(old.encoder.state_dict(), strict=True)
    b = H.batch(v, H.SRC, H.TGT)
    with torch.no_grad():
        got, _, _ = new.encoder(b["src"], b["srclen"])
        want = _reference_forward(old.encoder, b["src"], b["srclen"])
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    dense = [i for i, layer in enumerate(new.encoder.transformer) if not isinstance(layer.feed_forward, MoEFeedForward)]
    assert dense == ([0] if config == "layer1" else [])
