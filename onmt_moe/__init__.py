"""onmt_moe — a modality-aware Mixture-of-Experts encoder for OpenNMT-py 3.5.1.

``import onmt_moe`` makes sure the plugin is registered with OpenNMT (encoder ``moe_transformer``,
options, the ``modality_dropout`` transform, the aux-loss and CSV-reporting hooks; see
:mod:`onmt_moe.plugin.onmt_patches`) before any OpenNMT code runs: at once if ``onmt`` is already
imported, otherwise the moment it is. Importing the library alone (``onmt_moe.data``,
``onmt_moe.evaluation.scoring``, …) therefore never imports torch or OpenNMT.
``ONMT_MOE_NO_REGISTER=1`` disables the registration.
"""

__version__ = "0.1.0"


def register() -> None:
    """Register the plugin with OpenNMT now (idempotent). Imports torch and OpenNMT."""
    from onmt_moe.plugin import onmt_patches

    onmt_patches.install()


from onmt_moe import _hook  # noqa: E402

_hook.arm()
