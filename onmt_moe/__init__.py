"""onmt_moe — a modality-aware Mixture-of-Experts encoder for OpenNMT-py 3.5.1.

``import onmt_moe`` registers everything the plugin adds to OpenNMT (encoder ``moe_transformer``,
options, the ``modality_dropout`` transform, the aux-loss and CSV-reporting hooks); see
:mod:`onmt_moe.onmt_patches`. The MoE math itself (:mod:`onmt_moe.moe`) is plain PyTorch.
Set ``ONMT_MOE_NO_REGISTER=1`` to import the library without touching OpenNMT.
"""
import os as _os

__version__ = "0.1.0"

if _os.environ.get("ONMT_MOE_NO_REGISTER", "0") != "1":
    from onmt_moe import onmt_patches as _patches

    _patches.install()
    try:
        import onmt_moe.transforms  # noqa: F401  (registers modality_dropout)
    except ImportError as _exc:  # pragma: no cover - only while the transform module is missing
        if "onmt_moe.transforms" not in str(_exc):
            raise
