#!/usr/bin/env python
"""Benchmark of the MoE block (onmt_moe.moe.MoE).

1. Forward+backward of one block at d_model 512, d_ff 2048, 2048 tokens, for
   E in {4, 8} and k in {1, 2}: ours vs a dense FFN with the same d_ff, and vs
   OpenNMT's built-in ``onmt.modules.moe.MoE`` (same E, k, d_ff). With its
   default options each of its experts is a full PositionwiseFeedForward (own
   layer norm and residual), so the speedup in the last line compares it with
   the same function built from ours, x + MoE(LayerNorm(x)); the bare ours vs
   its parallel_residual=True variant (no layer norm) is printed too.
2. Training throughput of a small encoder-decoder (plain torch) on
   benchmark-length sources (~600 src, ~40 tgt tokens): MoE top-1 (E=8, same
   d_ff) and MoE top-2 (E=8, each expert d_ff/2) as the encoder FFN vs dense.

Timings are the minimum over rounds; the variants are interleaved inside each
round so that load from other processes hits them alike. The last line is:
ratios top1_vs_dense=R top2_vs_dense=R top2_speedup_vs_onmt=R train_tps_top1=R train_tps_top2=R
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.filterwarnings("ignore", category=FutureWarning)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from onmt_moe.moe import MoE, MoEArgs  # noqa: E402
from onmt_moe.moe.experts import ExpertFFN  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


CLOCK = time.perf_counter


def time_variants(variants, device, rounds, reps, warmup=2):
    """variants: name -> step function. Returns name -> min seconds per step."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    sync(device)
    best = {name: float("inf") for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            sync(device)
            t0 = CLOCK()
            for _ in range(reps):
                fn()
            sync(device)
            best[name] = min(best[name], (CLOCK() - t0) / reps)
    return best


# --------------------------------------------------------------------------- 1. block
class PreNormResidual(nn.Module):
    """x + MoE(LayerNorm(x)): the function OpenNMT's MoE computes with its default options
    (each of its experts is a PositionwiseFeedForward with its own layer norm and residual)."""

    def __init__(self, moe, d):
        super().__init__()
        self.norm, self.moe = nn.LayerNorm(d, eps=1e-6), moe

    def forward(self, x, modality=None):
        y, aux = self.moe(self.norm(x), modality)
        return x + y, aux


ONMT_MODULES_DIR = ""


def onmt_moe_class():
    """onmt.modules.moe.MoE; where the onmt package cannot be imported (e.g. a GPU box
    without OpenNMT's dependencies) its three source files are loaded from
    --onmt_modules_dir (moe.py, position_ffn.py, rmsnorm.py need only torch)."""
    try:
        from onmt.modules.moe import MoE as OnmtMoE

        return OnmtMoE
    except ImportError:
        if not ONMT_MODULES_DIR:
            raise
    import importlib.util
    import types

    for name in ("onmt", "onmt.modules"):
        pkg = types.ModuleType(name)
        pkg.__path__ = []
        sys.modules[name] = pkg
    for leaf in ("rmsnorm", "position_ffn", "moe"):
        name = "onmt.modules." + leaf
        spec = importlib.util.spec_from_file_location(name, os.path.join(ONMT_MODULES_DIR, leaf + ".py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules["onmt.modules.moe"].MoE


def build_onmt_moe(E, k, d, dff, parallel_residual):
    OnmtMoE = onmt_moe_class()
    m = OnmtMoE(E, k, d, dff, 0.0, "relu", True, parallel_residual, "standard", 1e-6)
    for name, p in m.named_parameters():  # its Linear layers are skip_init (garbage memory)
        with torch.no_grad():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
            elif "layer_norm.weight" in name:
                p.fill_(1.0)
            else:
                p.zero_()
    return m


def block_step(module, x, grad_out, kind):
    def step():
        for p in module.parameters():
            p.grad = None
        x.grad = None
        if kind == "ours":
            y, aux = module(x, None)
            loss = (y * grad_out).sum() + 0.01 * aux["load_balance"] + 0.001 * aux["z_loss"]
        else:
            y = module(x)
            loss = (y * grad_out).sum()
        loss.backward()

    return step


def bench_block(
    device,
    rounds,
    reps,
    T=2048,
    d=512,
    dff=2048,
    configs=((4, 1), (4, 2), (8, 1), (8, 2)),
    dispatches=("auto",),
    overflow="none",
):
    torch.manual_seed(0)
    x = torch.randn(T, d, device=device, requires_grad=True)
    g = torch.randn(T, d, device=device)
    dense = ExpertFFN(d, dff, "relu", True, 0.0).to(device)
    variants = {"dense": block_step(dense, x, g, "dense")}
    for E, k in configs:
        models = {
            disp: MoE(
                MoEArgs(d_model=d, d_ff=dff, dropout=0.0, num_experts=E, top_k=k, overflow=overflow, dispatch=disp)
            ).to(device)
            for disp in dispatches
        }
        ours = models[dispatches[0]]  # the first dispatch is "ours" in the ratios
        variants[f"ours E{E} k{k}"] = block_step(ours, x, g, "ours")
        for disp in dispatches[1:]:
            variants[f"ours/{disp} E{E} k{k}"] = block_step(models[disp], x, g, "ours")
        wrapped = PreNormResidual(ours, d).to(device)
        variants[f"ours+ln E{E} k{k}"] = block_step(wrapped, x, g, "ours")
        for pr, tag in ((False, "onmt"), (True, "onmt-noln")):
            onmt = build_onmt_moe(E, k, d, dff, pr).to(device)
            variants[f"{tag} E{E} k{k}"] = block_step(onmt, x.unsqueeze(0), g.unsqueeze(0), "onmt")
    t = time_variants(variants, device, rounds, reps)
    print(f"\n== MoE block fwd+bwd, T={T} d={d} d_ff={dff} ({device}) ==")
    print(f"dense FFN: {t['dense'] * 1e3:8.2f} ms")
    print(
        "ours = the bare MoE (the FFN replacement); ours+ln = x + ours(LayerNorm(x)), the same function as\n"
        "onmt = onmt.modules.moe.MoE with OpenNMT's defaults (layer norm + residual inside each expert);\n"
        "onmt-noln = the same built with parallel_residual=True (no layer norm, residual kept)."
    )
    res = {}
    for E, k in configs:
        c = f"E{E} k{k}"
        ours, ours_ln = t[f"ours {c}"], t[f"ours+ln {c}"]
        onmt, onmt_noln = t[f"onmt {c}"], t[f"onmt-noln {c}"]
        res[(E, k)] = (ours / t["dense"], onmt / ours_ln)
        print(
            f"E={E} k={k}: ours {ours * 1e3:7.1f} ms = {ours / t['dense']:.3f}x dense | "
            f"ours+ln {ours_ln * 1e3:7.1f} | onmt {onmt * 1e3:7.1f} ({onmt / t['dense']:.3f}x dense) "
            f"-> {onmt / ours_ln:.3f}x slower than ours+ln | onmt-noln {onmt_noln * 1e3:7.1f} "
            f"-> {onmt_noln / ours:.3f}x slower than ours"
        )
        for disp in dispatches[1:]:
            other = t[f"ours/{disp} {c}"]
            print(
                f"       dispatch {disp}: {other * 1e3:7.1f} ms = {other / t['dense']:.3f}x dense, "
                f"{ours / other:.3f}x the speed of dispatch {dispatches[0]}"
            )
    return res


# --------------------------------------------------------------------------- 2. training
class EncoderLayer(nn.Module):
    """Pre-norm layer; the FFN is dense or MoE on the non-pad tokens only."""

    def __init__(self, d, heads, ffn):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ffn = ffn

    def forward(self, h, pad_mask, flat_idx, modality):
        a = self.norm1(h)
        h = h + self.attn(a, a, a, key_padding_mask=pad_mask, need_weights=False)[0]
        B, S, d = h.shape
        tokens = self.norm2(h).reshape(B * S, d).index_select(0, flat_idx)
        if isinstance(self.ffn, MoE):
            out, aux = self.ffn(tokens, modality)
        else:
            out, aux = self.ffn(tokens), {}
        ffn_out = torch.zeros(B * S, d, device=h.device, dtype=out.dtype).index_copy(0, flat_idx, out)
        return h + ffn_out.view(B, S, d), aux


class Seq2Seq(nn.Module):
    def __init__(self, vocab, d, heads, ffns, dec_layers, dff):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(vocab, d), nn.Embedding(vocab, d)
        self.enc = nn.ModuleList(EncoderLayer(d, heads, f) for f in ffns)
        self.enc_norm = nn.LayerNorm(d)
        layer = nn.TransformerDecoderLayer(d, heads, dff, dropout=0.0, batch_first=True, norm_first=True)
        self.dec = nn.TransformerDecoder(layer, dec_layers)
        self.out = nn.Linear(d, vocab)

    def forward(self, src, src_pad, tgt_in, modality):
        B, S = src.shape
        flat_idx = (~src_pad).reshape(-1).nonzero().squeeze(1)
        h = self.src_emb(src)
        aux_total = h.new_zeros(())
        for layer in self.enc:
            h, aux = layer(h, src_pad, flat_idx, modality)
            if aux:
                aux_total = aux_total + 0.01 * aux["load_balance"] + 0.001 * aux["z_loss"]
        mem = self.enc_norm(h)
        L = tgt_in.shape[1]
        causal = torch.triu(torch.full((L, L), float("-inf"), device=src.device), 1)
        dec = self.dec(self.tgt_emb(tgt_in), mem, tgt_mask=causal, memory_key_padding_mask=src_pad)
        return self.out(dec), aux_total


def make_batch(B, S, L, vocab, M, device, gen):
    lengths = torch.randint(int(S * 0.9), S + 1, (B,), generator=gen)
    src = torch.randint(4, vocab, (B, S), generator=gen)
    src_pad = torch.arange(S)[None, :] >= lengths[:, None]
    modality = torch.randint(0, M, (B, S), generator=gen)[~src_pad]
    tgt = torch.randint(4, vocab, (B, L + 1), generator=gen)
    n_tokens = int(lengths.sum()) + B * L
    return [t.to(device) for t in (src, src_pad, tgt, modality)], n_tokens


def bench_training(device, rounds, reps, quick, dispatch="auto", overflow="none"):
    d, heads, dff, E, M, vocab = 256, 4, 1024, 8, 4, 128
    enc_layers, dec_layers, B, S, L = (2, 1, 4, 600, 40) if not quick else (1, 1, 2, 600, 40)
    gen = torch.Generator().manual_seed(0)
    batch, n_tokens = make_batch(B, S, L, vocab, M, device, gen)

    def ffns(kind):
        if kind == "dense":
            return [ExpertFFN(d, dff, "relu", True, 0.1) for _ in range(enc_layers)]
        k, width = (1, dff) if kind == "top1" else (2, dff // 2)
        return [
            MoE(
                MoEArgs(
                    d_model=d,
                    d_ff=width,
                    dropout=0.1,
                    num_experts=E,
                    top_k=k,
                    num_modalities=M,
                    overflow=overflow,
                    dispatch=dispatch,
                )
            )
            for _ in range(enc_layers)
        ]

    variants = {}
    for kind in ("dense", "top1", "top2"):
        torch.manual_seed(0)
        model = Seq2Seq(vocab, d, heads, ffns(kind), dec_layers, dff).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step(model=model, opt=opt):
            src, src_pad, tgt, modality = batch
            logits, aux = model(src, src_pad, tgt[:, :-1], modality)
            loss = F.cross_entropy(logits.reshape(-1, vocab), tgt[:, 1:].reshape(-1)) + aux
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        variants[kind] = step
    t = time_variants(variants, device, rounds, reps)
    tps = {k: n_tokens / v for k, v in t.items()}
    print(
        f"\n== training step, {enc_layers} enc + {dec_layers} dec layers, d={d}, batch {B} x "
        f"~{S} src + {L} tgt ({device}) =="
    )
    for k in ("dense", "top1", "top2"):
        print(
            f"{k:6s}: {t[k] * 1e3:8.1f} ms/step, {tps[k]:9.0f} tokens/s, {tps[k] / tps['dense']:.3f}x dense throughput"
        )
    return tps["top1"] / tps["dense"], tps["top2"] / tps["dense"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--reps", type=int, default=0, help="steps per round (0 = 3 on cpu, 20 on cuda)")
    p.add_argument("--quick", action="store_true", help="fewer rounds and a smaller training model")
    p.add_argument(
        "--timer",
        default="wall",
        choices=["wall", "process"],
        help="wall clock (default) or this process's CPU time (steadier on a busy "
        "machine with --threads 1; meaningless on cuda)",
    )
    p.add_argument(
        "--part",
        default="all",
        choices=["all", "block", "train"],
        help="run only one part (the other ratios print as nan)",
    )
    p.add_argument(
        "--onmt_modules_dir",
        default="",
        help="fallback folder with OpenNMT's modules/{moe,position_ffn,rmsnorm}.py if onmt can't be imported",
    )
    p.add_argument(
        "--dispatch",
        nargs="+",
        default=["auto"],
        choices=["auto", "sorted", "padded"],
        help="-moe_dispatch of our MoE; several (e.g. sorted padded) time each in the block part "
        "(the first one is 'ours' in the ratios and the training part)",
    )
    p.add_argument(
        "--overflow",
        default="none",
        choices=["none", "drop", "shared", "next_best"],
        help="-moe_overflow of our MoE (capacity 1.25 in training when not none)",
    )
    return p


def main():
    a = parser().parse_args()
    global CLOCK, ONMT_MODULES_DIR
    ONMT_MODULES_DIR = a.onmt_modules_dir
    CLOCK = time.process_time if a.timer == "process" else time.perf_counter
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    reps = a.reps or (20 if device.type == "cuda" else 3)
    rounds = a.rounds
    if a.quick:
        rounds, reps = min(rounds, 3), max(1, reps // 3) if device.type == "cpu" else reps
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
        f"rounds {rounds}, reps {reps}, timer {a.timer}"
    )
    nan = float("nan")
    print(f"dispatch {' '.join(a.dispatch)}, overflow {a.overflow}")
    block = (
        bench_block(device, rounds, reps, dispatches=tuple(a.dispatch), overflow=a.overflow)
        if a.part in ("all", "block")
        else {(8, 1): (nan, nan), (8, 2): (nan, nan)}
    )
    tps1, tps2 = (
        bench_training(device, rounds, reps, a.quick, a.dispatch[0], a.overflow)
        if a.part in ("all", "train")
        else (nan, nan)
    )
    print(
        f"ratios top1_vs_dense={block[(8, 1)][0]:.3f} top2_vs_dense={block[(8, 2)][0]:.3f} "
        f"top2_speedup_vs_onmt={block[(8, 2)][1]:.3f} train_tps_top1={tps1:.3f} train_tps_top2={tps2:.3f}"
    )


if __name__ == "__main__":
    main()
