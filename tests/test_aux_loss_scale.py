"""The aux losses enter the objective once, with the right scale (issue 4).

We run OpenNMT's own ``Trainer._gradient_accumulation`` (with our patched LossCompute) over an
accumulation group of two batches and compare every parameter gradient with the gradient of the
objective written by hand:

    J = Σ_b CE_b / N  +  Σ_i c_i · Σ_b units_b · aux_ib / N,      N = Σ_b units_b

where CE_b is the summed label-smoothed cross-entropy of batch b, units_b its token (or sentence)
count as the trainer normalises, and aux_ib the unweighted aux term i of batch b (mean over MoE
layers) — i.e. mean CE + Σ_i c_i × (normalisation-weighted mean of aux_i).
"""

import onmt.trainer
import onmt.utils
import pytest
import torch
from onmt.utils.optimizers import Optimizer

from tests import helpers_onmt as H


def _trainer_grads(opt, model, batches):
    optim = Optimizer.from_opt(model, opt)
    trainer = onmt.trainer.build_trainer(opt, -1, model, H.vocabs(), optim)
    trainer.accum_count = len(batches)
    pad = H.vocabs()["tgt"]["<blank>"]
    if opt.normalization == "tokens":
        norm = sum(int(b["tgt"][:, 1:, 0].ne(pad).sum()) - len(b["tgt"]) for b in batches)
    else:
        norm = sum(len(b["tgt"]) for b in batches)
    for p in model.parameters():  # freeze the update so the gradients can be read after step()
        p.requires_grad_(True)
    for g in optim._optimizer.param_groups:
        g["lr"] = 0.0
    optim._learning_rate = 0.0
    optim.learning_rate = lambda: 0.0
    total, report = onmt.utils.Statistics(), onmt.utils.Statistics()
    trainer._gradient_accumulation(batches, norm, total, report)
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}, total


def _hand_grads(opt, model, batches):
    model.zero_grad(set_to_none=True)
    pad = H.vocabs()["tgt"]["<blank>"]
    ce_fn = torch.nn.CrossEntropyLoss(ignore_index=pad, reduction="sum", label_smoothing=opt.label_smoothing)
    coef = model.encoder.aux_coefficients(model.encoder.step)
    ce_sum, aux_sum, N = 0.0, 0.0, 0
    ce_only = 0.0
    for b in batches:
        out, _ = model(b["src"], b["tgt"], b["srclen"])
        scores = model.generator(out.reshape(-1, out.size(-1)))
        target = b["tgt"][:, 1:, 0].reshape(-1)
        ce = ce_fn(scores.float(), target)
        units = (
            (int(b["tgt"][:, 1:, 0].ne(pad).sum()) - len(b["tgt"])) if opt.normalization == "tokens" else len(b["tgt"])
        )
        aux = model.encoder.aux_losses()
        ce_sum = ce_sum + ce
        ce_only += float(ce.detach())
        aux_sum = aux_sum + units * sum(coef[k] * v for k, v in aux.items())
        N += units
    J = ce_sum / N + aux_sum / N
    J.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}, ce_only


@pytest.mark.parametrize("normalization", ["tokens", "sents"])
def test_gradients_match_hand_objective(normalization):
    opt = H.opts(normalization=normalization, moe_lb_coef="0.5", moe_z_coef="0.05", moe_entropy_coef="0.1")
    v = H.vocabs()
    batches = [H.batch(v, H.SRC[:2], H.TGT[:2]), H.batch(v, H.SRC[2:], H.TGT[2:])]
    m1 = H.model(opt)
    g_trainer, stats = _trainer_grads(opt, m1, batches)
    m2 = H.model(opt)
    m2.encoder.set_step(m1.encoder.step)
    g_hand, ce_only = _hand_grads(opt, m2, batches)
    assert set(g_trainer) == set(g_hand)
    router = [n for n in g_hand if "router" in n]
    assert router, "the router must receive gradient"
    for n in g_hand:
        torch.testing.assert_close(g_trainer[n], g_hand[n], rtol=1e-4, atol=1e-6, msg=n)
    # the reported loss is pure cross-entropy: no aux inside the statistics
    assert stats.loss == pytest.approx(ce_only, rel=1e-5)


def test_aux_changes_the_gradient_so_the_test_can_fail():
    """With a different coefficient the trainer's gradient must differ: the comparison above is sensitive."""
    v = H.vocabs()
    batches = [H.batch(v, H.SRC, H.TGT)]
    opt_a = H.opts(moe_lb_coef="0.0", moe_z_coef="0.0")
    opt_b = H.opts(moe_lb_coef="1.0", moe_z_coef="0.0")
    ga, _ = _trainer_grads(opt_a, H.model(opt_a), batches)
    gb, _ = _trainer_grads(opt_b, H.model(opt_b), batches)
    diff = max(float((ga[n] - gb[n]).abs().max()) for n in ga if "router" in n)
    assert diff > 1e-6
