"""Run ``onmt_moe.register()`` right after the package ``onmt`` is imported. Standard library only.

Used twice: by ``import onmt_moe`` (so importing the library never imports torch or OpenNMT by
itself, yet registration happens before any OpenNMT code runs), and — copied verbatim into
site-packages as ``_onmt_moe_autoload.py`` by ``onmt_moe_autoload install`` — by the ``.pth``
autoloader that makes the stock ``onmt_*`` commands load the plugin.
"""

import os as _os
import sys as _sys

SITE_MODULE = "_onmt_moe_autoload"  # the name of the site-packages copy
PLUGIN_MISSING_HINT = (
    "onmt_moe: this looks like a checkpoint or config of the onmt_moe plugin read by OpenNMT without the "
    "plugin loaded. Fix: unset ONMT_MOE_AUTOLOAD=0, or run `onmt_moe_autoload install` (make install does), "
    "or use the wrappers onmt_moe_train / onmt_moe_translate / onmt_moe_build_vocab."
)


def plugin_missing(text: str) -> bool:
    """Whether an OpenNMT error text is one of the two that a missing plugin causes: the unknown
    encoder (``KeyError: 'moe_transformer'``) or torch >= 2.6 refusing the checkpoint's Namespace."""
    return (
        "'moe_transformer'" in text
        or ("UnpicklingError" in text and "argparse.Namespace" in text)
        or ("Weights only load failed" in text and "Namespace" in text)
    )


def explain_plugin_errors():
    """Chain ``sys.excepthook`` so that those two errors end with :data:`PLUGIN_MISSING_HINT`
    (armed by the site-packages copy when ONMT_MOE_AUTOLOAD=0 switches the plugin off)."""
    previous = _sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        if plugin_missing(f"{kind.__name__}: {value}"):
            _sys.stderr.write(PLUGIN_MISSING_HINT + "\n")

    _sys.excepthook = hook


def _register():
    if _os.environ.get("ONMT_MOE_NO_REGISTER", "0") == "1":
        return
    try:
        import onmt_moe
    except ImportError as exc:  # plugin uninstalled but the site-packages hook left behind
        _sys.stderr.write(f"onmt_moe autoload: {exc}\n")
        return
    onmt_moe.register()


class _OnmtFinder:
    """Meta-path finder: wraps the loader of ``onmt`` so that ``_register`` runs after it."""

    busy = False

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "onmt" or cls.busy:
            return None
        cls.busy = True
        try:
            import importlib.util

            spec = importlib.util.find_spec("onmt")
        finally:
            cls.busy = False
        if spec is None or spec.loader is None:
            return None
        inner = spec.loader

        class _Loader:
            def create_module(self, s):
                return inner.create_module(s)

            def exec_module(self, module):
                _quiet_upstream_warnings()
                _defer_spacy()
                inner.exec_module(module)
                disarm()
                _register()

        spec.loader = _Loader()
        return spec


def _quiet_upstream_warnings():
    import warnings

    # OpenNMT 3.5.1 decorates with torch.cuda.amp.custom_fwd/bwd, deprecated in torch >= 2.4: noise.
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.custom_(fwd|bwd)", category=FutureWarning)


def _defer_spacy():
    """Put a stand-in for ``spacy`` in ``sys.modules`` that imports the real package on first use.

    OpenNMT 3.5.1's ``onmt/transforms/__init__.py`` imports every transform module, and
    ``terminology.py`` among them does ``import spacy`` at the top, only to call ``spacy.load`` when the
    ``terminology`` transform is used. That import is ~1.4 s of the ~3.7 s every ``onmt_*`` process
    spends importing OpenNMT. (``importlib.util.LazyLoader`` does not help here: a second ``import
    spacy`` statement reads ``__spec__``, which makes a lazy module load.)
    """
    if "spacy" in _sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec("spacy")  # locates the package, runs none of it
    if spec is None:
        return  # not installed: let OpenNMT's own import fail as it would without the plugin
    _sys.modules["spacy"] = _DeferredModule(spec)


class _DeferredModule(type(_sys)):
    """A module object that stands in for a package until an attribute the stand-in lacks is read."""

    def __init__(self, spec):
        super().__init__(spec.name)
        self.__spec__ = spec  # read by every ``import`` statement: must not trigger the real import
        self.__file__ = spec.origin  # read by inspect.getmodule, which walks sys.modules (torch calls it)

    def __getattr__(self, attr):  # only for attributes not set in __init__
        import importlib

        name = self.__spec__.name
        if _sys.modules.get(name) is self:
            del _sys.modules[name]
        return getattr(importlib.import_module(name), attr)


def disarm():
    while _OnmtFinder in _sys.meta_path:
        _sys.meta_path.remove(_OnmtFinder)


def arm():
    """Register now if ``onmt`` is already imported, else as soon as it is."""
    if "onmt" in _sys.modules:
        _register()
        return
    if _OnmtFinder not in _sys.meta_path:
        _sys.meta_path.insert(0, _OnmtFinder)
