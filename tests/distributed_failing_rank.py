"""``python -m tests.distributed_failing_rank -config X``: OpenNMT's ``onmt_train`` whose ranks fail at
step 2 (used by tests/test_distributed_cpu.py to check that a failure stops the whole run).

``FAIL_MODE=exception`` (default): rank 1 raises. ``FAIL_MODE=exit``: every rank ends at once with
``os._exit(3)``, as a hard crash would (no Python exception reaches OpenNMT's error queue).
The spawned ranks unpickle :func:`failing_main` by reference, so they import this module too.
"""

import os

import onmt.bin.train
import onmt.train_single
import onmt.trainer


def failing_main(opt, device_id):
    orig = onmt.trainer.Trainer._gradient_accumulation
    mode = os.environ.get("FAIL_MODE", "exception")

    def _gradient_accumulation(self, *args, **kwargs):
        if self.optim.training_step == 2:
            if mode == "exit":
                os._exit(3)
            if self.gpu_rank == 1:
                raise RuntimeError("rank 1 fails on purpose at step 2")
        return orig(self, *args, **kwargs)

    onmt.trainer.Trainer._gradient_accumulation = _gradient_accumulation
    return onmt.train_single.main(opt, device_id)


if __name__ == "__main__":
    onmt.bin.train.single_main = failing_main  # bin.train imported it by name
    onmt.bin.train.main()
