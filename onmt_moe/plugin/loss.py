"""Training loss = OpenNMT's label-smoothed cross-entropy + Σ coefficient × MoE aux loss, added once.

OpenNMT's trainer (``Trainer._gradient_accumulation``) divides each batch's summed loss by
``normalization``, the token (or sentence) count of the whole accumulation group, then calls backward.
To end up with ``mean CE + Σ_i c_i · aux_i`` we add ``c_i · aux_i · units`` to the summed loss, where
``units`` is this batch's share of ``normalization`` computed exactly as the trainer does
(``Trainer._accum_batches``): non-pad ``tgt[:, 1:]`` tokens minus one EOS per sentence for
``normalization: tokens``, the number of sentences for ``sents``. The trainer's division then yields
the normalisation-weighted mean of the aux terms over the group, for any ``accum_count``.

The aux terms never enter :class:`onmt.utils.Statistics`, so the reported xent/ppl stay pure
cross-entropy; they go to :class:`AuxMeter`, which the CSV reporter reads.

Optional structure-aware loss (glycan track): ``struct_loss_weights`` gives per-class weights for
target tokens; the summed CE becomes ``Σ_t w(y_t) · CE_t`` (on top of label smoothing); the reported
statistics still use the unweighted CE.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from onmt.utils.loss import LossCompute

from onmt_moe.modality.tags import parse_name_values
from onmt_moe.plugin.task_metrics import METERS, TaskMeter, example_tasks, task_lookup, task_names, task_weight_vector


class AuxMeter:
    """Accumulates aux-loss values on device between two reports (no host sync per step)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.raw: dict[str, torch.Tensor] = {}
        self.weighted: dict[str, torch.Tensor] = {}
        self.coef: dict[str, float] = {}
        self.n = 0

    def add(self, raw: dict[str, torch.Tensor], coef: dict[str, float]) -> None:
        for k, v in raw.items():
            v = v.detach().float()
            c = float(coef.get(k, 0.0))
            self.raw[k] = self.raw.get(k, 0.0) + v
            self.weighted[k] = self.weighted.get(k, 0.0) + c * v
            self.coef[k] = c
        self.n += 1

    def all_reduce_(self, device) -> None:
        """Sum the meters of every rank of the default process group into each rank (a collective),
        so the snapshot is the mean over all the ranks' batches, as on one process."""
        import torch.distributed as dist

        keys = sorted(self.raw)
        vals = [torch.as_tensor(self.raw[k], dtype=torch.float64, device=device) for k in keys]
        vals += [torch.as_tensor(self.weighted[k], dtype=torch.float64, device=device) for k in keys]
        packed = torch.stack(vals + [torch.tensor(float(self.n), dtype=torch.float64, device=device)])
        dist.all_reduce(packed)
        for i, k in enumerate(keys):
            self.raw[k], self.weighted[k] = packed[i], packed[len(keys) + i]
        self.n = int(round(float(packed[-1])))

    def snapshot(self, reset: bool = True) -> dict[str, dict[str, float]]:
        """{component: {"raw": mean, "coef": c, "weighted": mean}} over the batches since the last reset."""
        out = {}
        if self.n:
            keys = sorted(self.raw)
            vals = torch.stack([torch.stack([self.raw[k], self.weighted[k]]) for k in keys]).cpu() / self.n
            for k, (r, w) in zip(keys, vals.tolist()):
                out[k] = {"raw": r, "coef": self.coef[k], "weighted": w}
        if reset:
            self.reset()
        return out


def parse_weights(spec, option: str = "struct_loss_weights", key: str = "class") -> dict[str, float]:
    """``"monosaccharide=2,linkage=1.5"`` (or a list of such items) → dict; ``option`` names the key in errors."""
    out = {}
    for name, value in parse_name_values(spec, option, key, "weight").items():
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"{option}: {name + '=' + value!r}: the weight is not a number") from None
    return out


def _setup_tasks(compute, opt, vocab, train: bool) -> None:
    """Multi-task runs (task tokens in a shared vocabulary): per-task statistics (train_tasks.csv,
    valid_tasks.csv) and the optional ``moe_task_loss_weights``; nothing otherwise."""
    compute.task_lookup = compute.task_weights = compute.task_meter = None
    itos = list(vocab.ids_to_tokens)
    names = task_names(itos)
    weights = parse_weights(getattr(opt, "moe_task_loss_weights", None), "moe_task_loss_weights", "task")
    if not names or not getattr(opt, "share_vocab", False):
        if weights:
            raise ValueError(
                "moe_task_loss_weights needs task tokens (<TASK_…>) in a shared vocabulary "
                "(share_vocab: true; benchmark/generate_glycan_input.py --multitask)"
            )
        return
    if opt.copy_attn or opt.lambda_align or opt.lm_prior_model or opt.generator_function == "sparsemax":
        if weights:
            raise ValueError("moe_task_loss_weights works with the plain softmax generator only")
        return  # per-task statistics need the plain cross-entropy path
    compute.task_lookup = task_lookup(itos)
    compute.task_weights = task_weight_vector(names, weights) if weights else None
    compute.task_meter = METERS["train" if train else "valid"] = TaskMeter(names)


class MoELossCompute(LossCompute):
    """OpenNMT's LossCompute plus the MoE aux losses and the optional structure-aware weights."""

    @classmethod
    def from_opts(cls, opt, model, vocab, train=True):
        compute = super().from_opts(opt, model, vocab, train=train)
        # The encoder's aux values reach the loss through the plain object (not a Module) that a moe_transformer
        # encoder leaves them in (onmt_moe.plugin.encoder_aux.AuxLink): OpenNMT's model returns only
        # (dec_out, attns) to the trainer. None for any other encoder.
        compute.aux_link = getattr(getattr(model, "encoder", None), "aux_link", None)
        compute.is_train_loss = bool(train)
        compute.norm_method = getattr(opt, "normalization", "sents")
        compute.token_weights: torch.Tensor | None = None
        weights = parse_weights(getattr(opt, "struct_loss_weights", None))
        if weights:
            if opt.copy_attn or opt.lambda_align or opt.lm_prior_model or opt.generator_function == "sparsemax":
                raise ValueError("struct_loss_weights works with the plain softmax generator only")
            from onmt_moe.wurcs_classes import token_weight_vector

            itos = list(vocab.ids_to_tokens)
            compute.token_weights = torch.tensor(token_weight_vector(itos, weights), dtype=torch.float32)
        _setup_tasks(compute, opt, vocab, train)
        return compute

    # ------------------------------------------------------------------ helpers
    def batch_units(self, batch) -> int:
        """This batch's share of the trainer's ``normalization`` (see module docstring)."""
        if self.norm_method == "tokens":
            return int(batch["tgt"][:, 1:, 0].ne(self.padding_idx).sum().item()) - len(batch["tgt"])
        return len(batch["tgt"])

    def _weighted_ce(self, batch, output, trunc_start, trunc_size):
        """Summed, label-smoothed, per-token-weighted CE; stats from the unweighted CE."""
        if trunc_size is None:
            trunc_size = batch["tgt"].size(1) - trunc_start
        lo, hi = trunc_start + self.tgt_shift_index, trunc_start + trunc_size
        target = batch["tgt"][:, lo:hi, 0].contiguous().view(-1)
        output = output[:, trunc_start:hi, :].contiguous()
        scores = self.generator(self._bottle(output)).float()
        ce = F.cross_entropy(
            scores,
            target,
            ignore_index=self.padding_idx,
            reduction="none",
            label_smoothing=self.criterion.label_smoothing,
        )
        w = torch.ones_like(ce) if self.token_weights is None else self.token_weights.to(scores.device)[target]
        if self.task_lookup is not None:  # per-task weights and statistics (onmt_moe.plugin.task_metrics)
            row_task = example_tasks(batch["src"], self.task_lookup).repeat_interleave(output.size(1))
            if self.task_weights is not None:
                w = w * self.task_weights.to(scores.device)[row_task]  # index -1 = the no-task slot
            self.task_meter.add(row_task, ce, scores.argmax(-1).eq(target), target.ne(self.padding_idx))
        loss = (ce * w).sum()
        n_sents = len(batch["srclen"]) if trunc_start == 0 else 0
        stats = self._stats(n_sents, ce.sum().item(), scores, target)
        return loss, stats

    # ------------------------------------------------------------------ forward
    def forward(self, batch, output, attns, trunc_start=0, trunc_size=None):
        if self.token_weights is not None or self.task_lookup is not None:
            loss, stats = self._weighted_ce(batch, output, trunc_start, trunc_size)
        else:
            loss, stats = super().forward(batch, output, attns, trunc_start=trunc_start, trunc_size=trunc_size)
        link = self.aux_link
        if link is None or not self.is_train_loss or trunc_start != 0 or not torch.is_grad_enabled():
            return loss, stats
        aux = link.last  # the EncoderAux of the forward whose output this is
        if aux is None or not aux.losses:
            return loss, stats
        raw, coef = aux.losses, aux.coefficients
        link.meter.add(raw, coef)
        total = sum(float(coef.get(k, 0.0)) * v for k, v in raw.items() if coef.get(k, 0.0))
        if isinstance(total, torch.Tensor):
            loss = loss + total.to(loss.dtype) * self.batch_units(batch)
        return loss, stats
