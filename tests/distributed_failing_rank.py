"""``python -m tests.distributed_failing_rank -config X``: OpenNMT's ``onmt_train`` whose rank 1 raises at
step 2 (used by tests/test_distributed_cpu.py to check that one rank's failure stops the whole run).

The spawned ranks unpickle :func:`failing_main` by reference, so they import this module too.
"""
import onmt.bin.train
import onmt.train_single
import onmt.trainer


def failing_main(opt, device_id):
    orig = onmt.trainer.Trainer._gradient_accumulation

    def _gradient_accumulation(self, *args, **kwargs):
        if self.gpu_rank == 1 and self.optim.training_step == 2:
            raise RuntimeError("rank 1 fails on purpose at step 2")
        return orig(self, *args, **kwargs)

    onmt.trainer.Trainer._gradient_accumulation = _gradient_accumulation
    return onmt.train_single.main(opt, device_id)


if __name__ == "__main__":
    onmt.bin.train.single_main = failing_main  # bin.train imported it by name
    onmt.bin.train.main()
