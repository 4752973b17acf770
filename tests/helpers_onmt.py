"""Small builders for OpenNMT objects used by several tests (tiny vocab, opts, model, batches)."""

import torch
from onmt.inputters.inputter import dict_to_vocabs
from onmt.model_builder import build_base_model
from onmt.opts import train_opts
from onmt.utils.parse import ArgumentParser

import onmt_moe  # noqa: F401  (registers the plugin)

SRC_TOKENS = ["<FORMULA>", "</FORMULA>", "<NMR>", "</NMR>", "<IR>", "</IR>", "C", "H", "1HNMR", "7.2", "IR", "5", "9"]
TGT_TOKENS = ["C", "O", "N", "(", ")", "=", "1", "c"]


def vocabs():
    specials = ["<unk>", "<blank>", "<s>", "</s>"]
    return dict_to_vocabs(
        {
            "src": specials + SRC_TOKENS,
            "tgt": specials + TGT_TOKENS,
            "data_task": "seq2seq",
            "decoder_start_token": "<s>",
        }
    )


def opts(**kw):
    parser = ArgumentParser()
    train_opts(parser)
    opt = parser.parse_args(["-data", "{}", "-src_vocab", "x"])
    base = dict(
        encoder_type="moe_transformer",
        decoder_type="transformer",
        layers=2,
        hidden_size=16,
        word_vec_size=16,
        transformer_ff=32,
        heads=2,
        dropout=[0.0],
        attention_dropout=[0.0],
        position_encoding=True,
        param_init=0.0,
        param_init_glorot=True,
        batch_type="sents",
        normalization="tokens",
        label_smoothing=0.1,
        moe_num_experts=4,
        moe_top_k=2,
        src_vocab="x",
        tgt_vocab="x",
        save_model="/tmp/x",
        data={},
    )
    base.update(kw)
    for k, v in base.items():
        setattr(opt, k, v)
    ArgumentParser.update_model_opts(opt)
    ArgumentParser.validate_model_opts(opt)
    return opt


def model(opt, seed=0):
    torch.manual_seed(seed)
    m = build_base_model(opt, vocabs())
    for p in m.parameters():
        torch.nn.init.uniform_(p, -0.3, 0.3)
    return m


def batch(v, src_lines, tgt_lines):
    """OpenNMT-style batch dict from whitespace-tokenised lines (pads with <blank>)."""

    def encode(voc, lines, bos_eos):
        seqs = []
        for line in lines:
            ids = [voc[t] for t in line.split()]
            if bos_eos:
                ids = [voc["<s>"]] + ids + [voc["</s>"]]
            seqs.append(ids)
        L = max(len(s) for s in seqs)
        pad = voc["<blank>"]
        t = torch.full((len(seqs), L, 1), pad, dtype=torch.long)
        for i, s in enumerate(seqs):
            t[i, : len(s), 0] = torch.tensor(s)
        return t, torch.tensor([len(s) for s in seqs])

    src, srclen = encode(v["src"], src_lines, False)
    tgt, _ = encode(v["tgt"], tgt_lines, True)
    return {"src": src, "srclen": srclen, "tgt": tgt, "indices": torch.arange(len(src_lines))}


SRC = [
    "<FORMULA> C 9 H 5 </FORMULA> <NMR> 1HNMR 7.2 7.2 </NMR> <IR> IR 5 9 5 5 </IR>",
    "<NMR> 1HNMR 7.2 </NMR> <IR> IR 9 </IR>",
    "<FORMULA> C 5 </FORMULA> <IR> IR 5 5 9 9 9 5 </IR>",
]
TGT = ["C C O", "c 1 c c c c 1", "C ( = O ) N"]


def tiny_checkpoint(path, src_tokens, settings) -> torch.nn.Module:
    """Write a genuine OpenNMT checkpoint of a tiny model (``settings``: model options over OpenNMT's
    defaults; ``src_tokens`` after the specials) to ``path``; returns the model. Weights uniform in
    ±0.1: ``build_base_model`` leaves them uninitialised (the trainer inits them)."""
    import pyonmttok
    from onmt import opts as onmt_opts
    from onmt.inputters.inputter import vocabs_to_dict

    opt = ArgumentParser.defaults(
        onmt_opts.model_opts, onmt_opts._add_train_general_opts, onmt_opts.distributed_opts, onmt_opts._add_quant_opts
    )
    for k, v in settings.items():
        setattr(opt, k, v)
    ArgumentParser.update_model_opts(opt)
    ArgumentParser.validate_model_opts(opt)
    specials = ["<unk>", "<blank>", "<s>", "</s>"]
    vocabs = {
        "src": pyonmttok.build_vocab_from_tokens(specials + list(src_tokens)),
        "tgt": pyonmttok.build_vocab_from_tokens(specials + [f"t{i}" for i in range(15)]),
        "data_task": "seq2seq",
        "decoder_start_token": "<s>",
    }
    torch.manual_seed(0)
    model = build_base_model(opt, vocabs)
    with torch.no_grad():
        for prm in model.parameters():
            prm.uniform_(-0.1, 0.1)
    state = {k: v for k, v in model.state_dict().items() if "generator" not in k}
    ckpt = {"model": state, "generator": model.generator.state_dict(), "vocab": vocabs_to_dict(vocabs), "opt": opt}
    torch.save({**ckpt, "optim": None}, path)
    return model
