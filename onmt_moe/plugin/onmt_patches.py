"""Every change onmt_moe makes to OpenNMT-py 3.5.1, in one place. ``install()`` is idempotent.

Each patch names the upstream function it wraps and why:

1. ``torch.serialization.add_safe_globals(runfolder.SAFE_GLOBALS)`` (``argparse.Namespace``) — torch
   >= 2.6 loads with ``weights_only=True``; OpenNMT checkpoints hold the training ``Namespace``. Allow
   exactly that class instead of switching the safety off globally (translate, train_from,
   onmt_average_models); ``runfolder.load_checkpoint``, the package's one loader, uses the same tuple.
2. ``onmt.opts.model_opts`` — wrapped to add the plugin's options (MoE knobs, modalities, logging),
   so they appear in ``onmt_train -h``, are saved in checkpoints, and get defaults through
   ``ArgumentParser.ckpt_model_opts`` for older checkpoints.
3. ``onmt.encoders.str2enc`` — registers ``moe_transformer`` (via ``register_encoder``).
4. ``onmt.model_builder.build_encoder_with_embeddings`` — wrapped to look up the modality tag ids in
   the source vocabulary (the encoder itself never sees the vocabulary) and store them in the hidden
   model option ``moe_modality_vocab`` as plain strings, so the checkpoint carries them; and to hand
   the source vocabulary to the encoder (the value embedding's number table, rebuilt at every build).
5. ``onmt.train_single.build_model`` (imported there by name) — wrapped to re-initialise the routers
   after OpenNMT's glorot init (which xaviers every ``weight`` with dim > 1: the modality bias must
   start at zero) on fresh starts (not with ``-update_vocab``: OpenNMT then loads the checkpoint's
   routers after its init), and to hand the model to the CSV reporter.
6. ``onmt.trainer.LossCompute`` — rebound to :class:`onmt_moe.plugin.loss.MoELossCompute` (looked up at call
   time by ``build_trainer``): adds the aux losses once, with the right scale.
7. ``onmt.trainer.Trainer._gradient_accumulation`` — wrapped to tell the MoE layers the training step
   (noise/temperature/coefficient schedules), to arm the gradient-norm logger and, before the first
   update of the process, to drop CSV rows newer than the step training starts from.
8. ``onmt.utils.optimizers.Optimizer.step`` — wrapped to run the armed gradient-norm logger right
   before the update, while the gradients of the whole accumulation group are present.
9. ``onmt.utils.build_report_manager`` — wrapped to return the CSV-writing report manager on rank 0
   when ``-moe_log_dir`` is set (start_training sets it; a stock run without it writes no CSV), and
   on the other ranks of a data-parallel run one that only joins rank 0's reductions of the MoE logs.
10. ``onmt.translate.translation.Translation.__init__`` — wrapped so that n-best scores support
    ``.item()``: upstream ``-with_score`` crashes with "'float' object has no attribute 'item'"
    (OpenNMT/OpenNMT-py#2583).
11. ``onmt.models.model_saver.ModelSaverBase.save`` — wrapped to record the step in the saved model
    options (``moe_trained_step``), so that a loaded checkpoint routes with the schedule values
    (router temperature, noise) of the step it was saved at, not those of step 0.
12. ``onmt.train_single.build_model_saver`` (imported there by name) — wrapped so that, when resuming,
    ``-keep_checkpoint`` also counts the checkpoints already on disk (upstream starts an empty queue,
    so a resumed run keeps every earlier checkpoint on top of its own N).
13. Data-parallel training on CPU over gloo, opt-in with ``-moe_cpu_distributed`` (nothing changes
    without it, so GPU/NCCL runs stay upstream's). OpenNMT's multi-process path (``world_size > 1``,
    one process per entry of ``gpu_ranks``) uses the process index ``device_id`` both as the rank
    index and as a CUDA device; with the option only the CUDA uses are replaced:
    ``onmt.train_single.configure_process`` (``torch.cuda.set_device``) seeds without CUDA;
    ``onmt.utils.misc.use_gpu`` / ``onmt.model_builder.use_gpu`` (model and loss placement) answer
    False; ``onmt.train_single.build_dynamic_dataset_iter`` builds batches on the CPU.
    ``onmt.utils.distributed.all_gather_list`` (hard-wired ``torch.cuda.ByteTensor``) gathers with
    ``torch.distributed.all_gather_object`` whenever the process group's backend is gloo.
14. ``onmt.utils.optimizers.Optimizer.backward`` — wrapped, in data-parallel runs only (a process
    group of more than one rank), to give every trainable parameter without a gradient a zero one.
    ``Trainer._gradient_accumulation`` all-reduces ``[p.grad for p ... if p.grad is not None]`` as
    one flat buffer: an expert that got no token on one rank has no gradient there, the ranks then
    reduce buffers of different sizes and gloo aborts ("collective mismatch"; NCCL would hang).
15. ``onmt.bin.train.train`` — wrapped, for ``world_size > 1``, to fail when a rank process ended
    with a non-zero exit code: upstream only hears of Python exceptions (its ``ErrorHandler``
    queue); ranks that die hard (an abort in a collective, a kill) leave ``onmt_train`` exiting 0
    with no checkpoint. It records the processes ``train`` starts (``SpawnProcess.start``, only
    during that call) and raises one line naming the rank and its exit code.
16. Formula-guided beam search, opt-in with the translate option ``-moe_formula_beam`` (nothing
    changes without it; :mod:`onmt_moe.plugin.formula_beam` has the rules). ``onmt.opts.translate_opts``
    (and ``onmt.bin.translate.translate_opts``, imported there by name) is wrapped to add the option;
    ``onmt.translate.translator.Inference.from_opt`` to keep it on the translator;
    ``Translator._translate_batch_with_strategy`` to attach the batch's formula budgets to the
    ``BeamSearch`` (refusing random sampling); ``BeamSearchBase.advance`` to mask tokens past the
    budget and EOS before the formula is complete, then reorder the running atom counts with
    ``select_indices`` and drop non-matching finished rows; ``BeamSearchBase.update_finished`` to keep
    the counts of the examples still decoding; ``Inference.report_results`` to finalize each n-best
    (hydrogen check, padding) before the results are built.
"""

from __future__ import annotations

import contextlib
import functools

_INSTALLED = False


class _Score(float):
    """A float that also answers ``.item()`` like a 0-dim tensor (for ``-with_score``)."""

    def item(self) -> float:
        return float(self)


def _as_score(s):
    return s if hasattr(s, "item") else _Score(s)


def checkpoints_on_disk(base_path: str, up_to_step: int):
    """``<base_path>_step_N.pt`` files with N <= up_to_step, oldest first."""
    import glob
    import re

    found = []
    for path in glob.glob(glob.escape(base_path) + "_step_*.pt"):
        m = re.search(r"_step_(\d+)\.pt$", path)
        if m and int(m.group(1)) <= up_to_step:
            found.append((int(m.group(1)), path))
    return [p for _, p in sorted(found)]


def install() -> None:
    """Apply every patch once (see the module docstring for each one's upstream function and reason)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    _patch_safe_unpickling()
    _patch_options()
    _patch_encoder_registry()
    _patch_modality_vocab()
    _patch_build_model()
    _patch_loss()
    _patch_gradient_accumulation()
    _patch_optimizer_step()
    _patch_report_manager()
    _patch_translation_scores()
    _patch_model_saver_step()
    _patch_keep_checkpoint()
    _install_cpu_distributed()  # 13-15
    _patch_formula_beam()
    import onmt_moe.plugin.random_smiles  # noqa: F401  registers the random_smiles transform
    import onmt_moe.plugin.transforms  # noqa: F401  registers the modality_dropout transform


def _patch_safe_unpickling() -> None:
    """1. torch.serialization.add_safe_globals(SAFE_GLOBALS) (argparse.Namespace)."""
    import torch

    from onmt_moe.runfolder.checkpoints import SAFE_GLOBALS

    if hasattr(torch.serialization, "add_safe_globals"):
        torch.serialization.add_safe_globals(list(SAFE_GLOBALS))


def _patch_options() -> None:
    """2. onmt.opts.model_opts: also adds the plugin's options."""
    import onmt.opts

    from onmt_moe.plugin.opts import add_plugin_options

    orig_model_opts = onmt.opts.model_opts

    @functools.wraps(orig_model_opts)
    def model_opts(parser):
        orig_model_opts(parser)
        add_plugin_options(parser)

    onmt.opts.model_opts = model_opts


def _patch_encoder_registry() -> None:
    """3. onmt.encoders.str2enc: registers moe_transformer."""
    import onmt.encoders

    from onmt_moe.plugin.encoder import MoETransformerEncoder

    if "moe_transformer" not in onmt.encoders.str2enc:
        onmt.encoders.register_encoder("moe_transformer")(MoETransformerEncoder)


def _patch_modality_vocab() -> None:
    """4. onmt.model_builder.build_encoder_with_embeddings: the modality vocabulary into the model options."""
    import onmt.model_builder

    from onmt_moe.modality.vocab import ModalityVocab

    orig_bewe = onmt.model_builder.build_encoder_with_embeddings

    @functools.wraps(orig_bewe)
    def build_encoder_with_embeddings(model_opt, vocabs):
        if getattr(model_opt, "encoder_type", None) == "moe_transformer":
            # the order (ids) asked for, else that of the checkpoint being loaded, else sorted tags
            wanted = list(getattr(model_opt, "moe_modalities", None) or []) or ModalityVocab.from_opt(model_opt).names
            vocab = ModalityVocab.from_tokens(list(vocabs["src"].ids_to_tokens), wanted)
            model_opt.moe_modality_vocab = vocab.to_option()
        encoder, src_emb = orig_bewe(model_opt, vocabs)
        if hasattr(encoder, "attach_source_vocab"):  # the value embedding reads numbers from the vocabulary
            encoder.attach_source_vocab(list(vocabs["src"].ids_to_tokens))
        return encoder, src_emb

    onmt.model_builder.build_encoder_with_embeddings = build_encoder_with_embeddings


def _patch_build_model() -> None:
    """5. onmt.train_single.build_model: router init after OpenNMT's init; the model to the reporter."""
    import onmt.train_single

    from onmt_moe.plugin import reporting

    orig_build_model = onmt.train_single.build_model

    @functools.wraps(orig_build_model)
    def build_model(model_opt, opt, vocabs, checkpoint, device_id):
        model = orig_build_model(model_opt, opt, vocabs, checkpoint, device_id)
        enc = getattr(model, "encoder", None)
        # a fresh start only: with -update_vocab (fine-tuning) OpenNMT has loaded the checkpoint's routers
        if hasattr(enc, "reset_router_parameters") and checkpoint is None:
            enc.reset_router_parameters()
        reporting.attach_model(model, opt)
        return model

    onmt.train_single.build_model = build_model


def _patch_loss() -> None:
    """6. onmt.trainer.LossCompute: the loss with the aux terms."""
    import onmt.trainer

    from onmt_moe.plugin.loss import MoELossCompute

    onmt.trainer.LossCompute = MoELossCompute


def _patch_gradient_accumulation() -> None:
    """7. onmt.trainer.Trainer._gradient_accumulation: the step for the schedules, the gradient-norm logger."""
    import onmt.trainer

    from onmt_moe.plugin import reporting

    orig_ga = onmt.trainer.Trainer._gradient_accumulation

    @functools.wraps(orig_ga)
    def _gradient_accumulation(self, true_batches, normalization, total_stats, report_stats):
        step = self.optim.training_step
        reporting.begin_training(step)
        enc = getattr(self.model, "encoder", None)
        if hasattr(enc, "set_step"):
            enc.set_step(step)
        self.optim._onmt_moe_pre_step = functools.partial(reporting.before_optimizer_step, step)
        return orig_ga(self, true_batches, normalization, total_stats, report_stats)

    onmt.trainer.Trainer._gradient_accumulation = _gradient_accumulation


def _patch_optimizer_step() -> None:
    """8. onmt.utils.optimizers.Optimizer.step: the armed hook runs right before the update."""
    import onmt.utils.optimizers

    orig_step = onmt.utils.optimizers.Optimizer.step

    @functools.wraps(orig_step)
    def step(self):
        hook = self.__dict__.pop("_onmt_moe_pre_step", None)
        if hook is not None:
            hook()
        return orig_step(self)

    onmt.utils.optimizers.Optimizer.step = step


def _patch_report_manager() -> None:
    """9. onmt.utils.build_report_manager: the CSV report manager when -moe_log_dir is set."""
    import onmt.utils

    from onmt_moe.plugin import reporting

    orig_brm = onmt.utils.build_report_manager

    @functools.wraps(orig_brm)
    def build_report_manager(opt, gpu_rank):
        base = orig_brm(opt, gpu_rank)
        if reporting.log_dir(opt) is None:
            return base
        if gpu_rank > 0:  # data parallel: takes part in rank 0's reductions, writes nothing
            return reporting.RankReportMgr(base.report_every, start_time=-1)
        return reporting.CsvReportMgr(opt, base.report_every, start_time=-1, tensorboard_writer=base.tensorboard_writer)

    onmt.utils.build_report_manager = build_report_manager


def _patch_translation_scores() -> None:
    """10. onmt.translate.translation.Translation.__init__: n-best scores answer .item() (-with_score)."""
    import onmt.translate.translation

    Translation = onmt.translate.translation.Translation
    orig_init = Translation.__init__

    @functools.wraps(orig_init)
    def __init__(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        if self.pred_scores is not None:
            self.pred_scores = [_as_score(s) for s in self.pred_scores]

    Translation.__init__ = __init__


def _patch_model_saver_step() -> None:
    """11. onmt.models.model_saver.ModelSaverBase.save: the training step into the checkpoint's options."""
    import onmt.models.model_saver as model_saver

    orig_save = model_saver.ModelSaverBase.save

    @functools.wraps(orig_save)
    def save(self, step, moving_average=None):
        self.model_opt.moe_trained_step = int(step)
        return orig_save(self, step, moving_average=moving_average)

    model_saver.ModelSaverBase.save = save


def _patch_keep_checkpoint() -> None:
    """12. onmt.train_single.build_model_saver: -keep_checkpoint also counts the checkpoints on disk."""
    import onmt.train_single

    orig_bms = onmt.train_single.build_model_saver

    @functools.wraps(orig_bms)
    def build_model_saver(model_opt, opt, model, vocabs, optim, device_id):
        saver = orig_bms(model_opt, opt, model, vocabs, optim, device_id)
        if getattr(opt, "train_from", "") and saver.keep_checkpoint > 0 and saver.save_format == "pytorch":
            for path in checkpoints_on_disk(saver.base_path, optim.training_step - 1):
                saver.checkpoint_queue.append(path)  # a full deque drops its oldest entry
        return saver

    onmt.train_single.build_model_saver = build_model_saver


def cpu_distributed(opt) -> bool:
    """Whether ``-moe_cpu_distributed`` asks for OpenNMT's multi-process training on CPU."""
    return bool(getattr(opt, "moe_cpu_distributed", False))


def _gather_objects(data, max_size=4096):
    """``all_gather_list`` for a gloo process group: the list of every rank's ``data``, by rank."""
    import torch.distributed as dist

    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, data)
    return out


@contextlib.contextmanager
def _recording_spawned_processes():
    """The spawn-context processes started inside the block, in start order."""
    from multiprocessing.context import SpawnProcess

    started, orig_start = [], SpawnProcess.start

    def start(self):
        started.append(self)
        return orig_start(self)

    SpawnProcess.start = start
    try:
        yield started
    finally:
        SpawnProcess.start = orig_start


def _install_cpu_distributed() -> None:  # noqa: C901 - one wrapper per CUDA use, each a few lines
    import onmt.model_builder
    import onmt.train_single
    import onmt.utils.distributed
    import onmt.utils.misc
    import torch
    import torch.distributed as dist

    orig_configure = onmt.train_single.configure_process

    @functools.wraps(orig_configure)
    def configure_process(opt, device_id):
        if not cpu_distributed(opt):
            return orig_configure(opt, device_id)
        if opt.world_size > 1 and opt.gpu_backend != "gloo":
            raise ValueError(f"moe_cpu_distributed needs gpu_backend: gloo (got {opt.gpu_backend!r})")
        onmt.utils.misc.set_random_seed(opt.seed, False)  # device_id is a rank index here, not a GPU

    onmt.train_single.configure_process = configure_process

    orig_use_gpu = onmt.utils.misc.use_gpu

    @functools.wraps(orig_use_gpu)
    def use_gpu(opt):
        return False if cpu_distributed(opt) else orig_use_gpu(opt)

    onmt.utils.misc.use_gpu = use_gpu
    onmt.model_builder.use_gpu = use_gpu  # imported there by name

    orig_iter = onmt.train_single.build_dynamic_dataset_iter

    @functools.wraps(orig_iter)
    def build_dynamic_dataset_iter(opt, *args, **kwargs):
        if cpu_distributed(opt):
            kwargs["device_id"] = -1  # batches on the CPU; the rank's shard comes from stride/offset
        return orig_iter(opt, *args, **kwargs)

    onmt.train_single.build_dynamic_dataset_iter = build_dynamic_dataset_iter

    orig_gather = onmt.utils.distributed.all_gather_list

    @functools.wraps(orig_gather)
    def all_gather_list(data, max_size=4096):
        if dist.get_backend() == "gloo":
            return _gather_objects(data, max_size)
        return orig_gather(data, max_size=max_size)

    onmt.utils.distributed.all_gather_list = all_gather_list

    # 14. every rank all-reduces the same gradient list
    import onmt.utils.optimizers

    orig_backward = onmt.utils.optimizers.Optimizer.backward

    @functools.wraps(orig_backward)
    def backward(self, loss):
        orig_backward(self, loss)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            for group in self._optimizer.param_groups:
                for p in group["params"]:
                    if p.requires_grad and p.grad is None:  # e.g. an expert no token of this rank chose
                        p.grad = torch.zeros_like(p)

    onmt.utils.optimizers.Optimizer.backward = backward

    # 15. a rank that died hard fails the run
    import onmt.bin.train

    orig_train = onmt.bin.train.train

    @functools.wraps(orig_train)
    def train(opt):
        if opt.world_size <= 1:
            return orig_train(opt)
        with _recording_spawned_processes() as procs:
            out = orig_train(opt)
        for rank, proc in zip(opt.gpu_ranks, procs):
            if proc.exitcode:
                how = f"signal {-proc.exitcode}" if proc.exitcode < 0 else f"exit code {proc.exitcode}"
                raise SystemExit(
                    f"onmt_train: rank {rank} (pid {proc.pid}) ended with {how}; its error is in the output above"
                )
        return out

    onmt.bin.train.train = train


def _patch_formula_beam() -> None:
    """16. -moe_formula_beam: the option, and the formula-guided BeamSearch (plugin.formula_beam)."""
    import sys

    import onmt.opts
    import onmt.translate.beam_search as beam_search
    import onmt.translate.translator as translator

    from onmt_moe.plugin import formula_beam
    from onmt_moe.plugin.opts import add_translate_options

    orig_translate_opts = onmt.opts.translate_opts

    @functools.wraps(orig_translate_opts)
    def translate_opts(parser, *args, **kwargs):
        orig_translate_opts(parser, *args, **kwargs)
        add_translate_options(parser)

    onmt.opts.translate_opts = translate_opts
    if "onmt.bin.translate" in sys.modules:  # imported by name there
        sys.modules["onmt.bin.translate"].translate_opts = translate_opts

    Inference = translator.Inference
    orig_from_opt = Inference.from_opt.__func__

    @functools.wraps(orig_from_opt)
    def from_opt(cls, model, vocabs, opt, model_opt, *args, **kwargs):
        inference = orig_from_opt(cls, model, vocabs, opt, model_opt, *args, **kwargs)
        inference.moe_formula_beam = bool(getattr(opt, "moe_formula_beam", False))
        return inference

    Inference.from_opt = classmethod(from_opt)

    Translator = translator.Translator
    orig_twbs = Translator._translate_batch_with_strategy

    @functools.wraps(orig_twbs)
    def _translate_batch_with_strategy(self, batch, decode_strategy):
        if getattr(self, "moe_formula_beam", False):
            formula_beam.begin_batch(self, batch, decode_strategy)
        return orig_twbs(self, batch, decode_strategy)

    Translator._translate_batch_with_strategy = _translate_batch_with_strategy

    orig_report = Inference.report_results

    @functools.wraps(orig_report)
    def report_results(self, gold_score, gold_log_probs, batch, batch_size, decode_strategy):
        if getattr(decode_strategy, "_moe_formula", None) is not None:
            formula_beam.end_batch(self, decode_strategy)
        return orig_report(self, gold_score, gold_log_probs, batch, batch_size, decode_strategy)

    Inference.report_results = report_results

    Beam = beam_search.BeamSearchBase
    orig_advance = Beam.advance

    @functools.wraps(orig_advance)
    def advance(self, log_probs, attn):
        fc = getattr(self, "_moe_formula", None)
        if fc is None:
            return orig_advance(self, log_probs, attn)
        fc.mask(log_probs, self._batch_offset)
        orig_advance(self, log_probs, attn)
        fc.after_advance(self)

    Beam.advance = advance

    orig_update_finished = Beam.update_finished

    @functools.wraps(orig_update_finished)
    def update_finished(self):
        fc = getattr(self, "_moe_formula", None)
        if fc is None:
            return orig_update_finished(self)
        old_offset = self._batch_offset
        orig_update_finished(self)
        fc.after_update_finished(self, old_offset)

    Beam.update_finished = update_finished
