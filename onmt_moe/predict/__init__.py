"""``onmt_moe_predict``: a chemist's own spectra files -> ranked candidate structures.

Modules (data code: no torch, no OpenNMT; the model is driven through :mod:`onmt_moe.inference`):
  readers   JCAMP-DX (``jcamp``), MGF/MSP/mzML (``matchms``), NMR peak lists, formula
  settings  how the run's corpus was tokenised (read from the run folder / corpus summary.json)
  source    one sample -> the exact source line the model was trained on (the data pipeline's
            own formatters, ``onmt_moe.data.benchmark_format`` / ``tagged``)
  rank      n-best -> validity, formula / precursor-mass consistency, re-ranked list
  cli       the command line (``python -m onmt_moe.predict``)
"""


class InputError(ValueError):
    """Bad user input; the message is one line naming the file (or option) and the problem."""
