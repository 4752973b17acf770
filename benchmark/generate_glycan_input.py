#!/usr/bin/env python
"""Glycan corpora for OpenNMT: tagged MS/MS (+ text) source -> tokenised WURCS target.

    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_corpus --text
    python benchmark/generate_glycan_input.py --input data/glycan --out_dir data/glycan_pred --pred_spectra

Writes ``<out_dir>/data/{src,tgt}-{train,val,test}.txt``, ``<out_dir>/summary.json`` and
``<out_dir>/rejects.tsv`` (row, split, reason).  Source line (default)::

    <MS> PMZ_1037 CHARGE_-2 MZ_163 INT_1 DIAG_dHex_C1 ... </MS> <TEXT> n-linked glycan ; ... </TEXT>

``--text`` adds the TEXT segment; a row without text gets ``<TEXT> <MISSING> </TEXT>`` with
``--missing token`` (default) or is dropped (``--missing drop``, reason ``missing_text``).
``--composition`` adds ``CMP_`` tokens after the charge: the compositions whose mass matches the
precursor (a GlycoMod-style search, onmt_moe/glycan/composition.py).
``--pred_spectra`` swaps direction: source = tokenised WURCS, target = MS tokens (no tags).
``--multitask struct,spec,text`` writes one multi-task corpus instead (a task token starts each
source; per-task folders, the mixed files, ``onmt_data.yaml`` with ``--task_weights``, ``tasks.json``);
``--target_task_token`` starts its train/val targets with the task token as well.
Thin CLI over onmt_moe.glycan.commands.corpus_main (onmt_moe.glycan.corpus.write_corpus).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from onmt_moe.glycan.commands import corpus_main  # noqa: E402


def main(argv=None):
    """Thin CLI over onmt_moe.glycan.commands.corpus_main (a bad input: ``SystemExit("error: …")``)."""
    return corpus_main(argv, description=__doc__)


if __name__ == "__main__":
    main()
