"""Spectra as patches (issue 32 item 2): runs of numbers in a named segment become one token per k points."""

import pytest
import torch

from onmt_moe.plugin.patches import PatchArgs, Patcher
from tests import helpers_onmt as H

ITOS = ["<unk>", "<blank>", "<FORMULA>", "</FORMULA>", "<IR>", "</IR>", "IR", "C", "5", "9", "0"]
IR = 2  # the modality id given to the patcher below


def _batch(lines):
    ids = [[ITOS.index(t) for t in line.split()] for line in lines]
    S = max(len(x) for x in ids)
    t = torch.full((len(ids), S), 1, dtype=torch.long)
    for i, x in enumerate(ids):
        t[i, : len(x)] = torch.tensor(x)
    # modality ids: 2 inside <IR> ... </IR>, 1 inside the formula, 0 at padding
    mod = torch.zeros_like(t)
    for i, line in enumerate(lines):
        cur = 0
        for j, tok in enumerate(line.split()):
            cur = {"<FORMULA>": 1, "<IR>": 2}.get(tok, cur)
            mod[i, j] = cur
            cur = 0 if tok.startswith("</") else cur
    return t, mod, torch.tensor([len(x) for x in ids])


def _patcher(k=2, d=4):
    torch.manual_seed(0)
    p = Patcher(PatchArgs(modalities=("IR",), size=k), d, [IR])
    p.attach_vocab(ITOS)
    return p


def test_args_refuse_bad_sizes_unknown_modalities_and_the_contrastive_alignment():
    assert PatchArgs(modalities=(), size=1).problems(["IR"], True) == []  # off: nothing to check
    probs = PatchArgs(modalities=("IR", "RAMAN"), size=1).problems(["IR", "NMR"], True)
    assert [p.split(":")[0] for p in probs] == ["patch_size", "patch_modalities", "patch_modalities"]
    assert "RAMAN" in probs[1] and "contrastive" in probs[2]


def test_a_run_becomes_one_token_per_k_points_and_other_segments_stay():
    p = _patcher(k=2)
    ids, mod, lens = _batch(["<FORMULA> C 9 </FORMULA> <IR> IR 5 9 5 5 9 </IR>"])
    x = torch.zeros(1, ids.size(1), 4)
    out = p(ids, x, mod, lens, pad_id=1, other_id=0)
    kept = [ITOS[i] for i in out.ids[0].tolist()]
    assert kept == ["<FORMULA>", "C", "9", "</FORMULA>", "<IR>", "IR", "5", "5", "9", "</IR>"]
    assert out.lengths.tolist() == [10] and out.modality[0].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]


def test_patch_values_are_the_runs_points_scaled_by_its_maximum():
    p = _patcher(k=2)
    ids, mod, lens = _batch(["<IR> IR 5 9 5 5 9 </IR>"])
    in_run, ordinal, start, v = p._runs(ids, mod, lens)
    vals = p._patch_values(v, in_run, ordinal, start)
    firsts = (in_run & (ordinal % 2 == 0))[0].nonzero().squeeze(1).tolist()
    got = [[round(float(a) * 9, 4) for a in vals[0, i]] for i in firsts]
    assert got == [[5, 9], [5, 5], [9, 0]]  # the last patch is padded with zeros past the run's end


def test_a_padded_batch_gives_each_row_what_it_gets_alone():
    p = _patcher(k=3)
    lines = ["<IR> IR 5 9 5 5 9 0 0 </IR>", "<FORMULA> C 9 </FORMULA> <IR> IR 9 0 </IR>"]
    ids, mod, lens = _batch(lines)
    torch.manual_seed(1)
    table = torch.randn(len(ITOS), 4)
    out = p(ids, table[ids], mod, lens, pad_id=1, other_id=0)
    for i, line in enumerate(lines):
        one_ids, one_mod, one_len = _batch([line])
        alone = p(one_ids, table[one_ids], one_mod, one_len, pad_id=1, other_id=0)
        n = int(alone.lengths[0])
        assert int(out.lengths[i]) == n
        assert torch.allclose(out.x[i, :n], alone.x[0, :n], atol=1e-6)
        assert out.ids[i, :n].tolist() == alone.ids[0, :n].tolist()
        assert (out.ids[i, n:] == 1).all()


def test_encoder_returns_source_length_states_with_shorter_lengths_and_learns():
    opt = H.opts(patch_modalities=["IR"], patch_size=2)
    model = H.model(opt)
    b = H.batch(H.vocabs(), H.SRC, H.TGT)
    enc_out, _, lengths = model.encoder(b["src"], b["srclen"])
    assert enc_out.shape[:2] == b["src"].shape[:2]
    # SRC[0]: IR 5 9 5 5 -> 2 patches (-2); SRC[1]: IR 9 -> 1 (same); SRC[2]: IR 5 5 9 9 9 5 -> 3 (-3)
    assert (b["srclen"] - lengths).tolist() == [2, 0, 3]
    for i, n in enumerate(lengths.tolist()):
        assert torch.all(enc_out[i, n:] == 0)
    dec_in = b["tgt"][:, :-1, :]
    out, _ = model(b["src"], dec_in, b["srclen"])
    out.sum().backward()
    assert model.encoder.patcher.proj.weight.grad.abs().sum() > 0


def test_patches_with_the_contrastive_alignment_are_refused():
    with pytest.raises(ValueError, match="patch_modalities"):
        H.model(H.opts(patch_modalities=["IR"], moe_contrastive_coef="0.1"))
