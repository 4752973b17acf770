"""Make the *stock* OpenNMT commands load the plugin, at no start-up cost for anything else.

`make install` (or `onmt_moe_autoload install`) writes two files into site-packages:

* ``_onmt_moe_autoload.py`` — a copy of :data:`HOOK_SOURCE` below: a ``sys.meta_path`` finder
  that does nothing until some code imports the top-level package ``onmt``; right after ``onmt``
  finishes importing, it imports ``onmt_moe``, which registers the encoder, options, transform,
  loss and reporting hooks. Plain Python start-up pays for one tiny stdlib-only module, never torch.
* ``onmt_moe_autoload.pth`` — one ``import _onmt_moe_autoload`` line, run by ``site`` at start-up.

Because it keys on ``import onmt`` rather than on ``sys.argv``, it also works inside OpenNMT's
DataLoader worker processes (spawned with ``argv == ['-c', '--multiprocessing-fork']``) and in
any notebook or script that uses OpenNMT. Turn it off with ``ONMT_MOE_AUTOLOAD=0`` or remove it
with ``onmt_moe_autoload uninstall``.
"""
from __future__ import annotations

import argparse
import os
import sys
import sysconfig

PTH_NAME = "onmt_moe_autoload.pth"
HOOK_NAME = "_onmt_moe_autoload.py"

HOOK_SOURCE = '''\
"""Written by `onmt_moe_autoload install`: import onmt_moe right after onmt (ONMT_MOE_AUTOLOAD=0 disables)."""
import os as _os
import sys as _sys


class _OnmtMoeFinder:
    _busy = False

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "onmt" or cls._busy:
            return None
        cls._busy = True
        try:
            import importlib.util
            spec = importlib.util.find_spec("onmt")
        finally:
            cls._busy = False
        if spec is None or spec.loader is None:
            return None
        inner = spec.loader

        class _Loader:
            def create_module(self, s):
                return inner.create_module(s)

            def exec_module(self, module):
                inner.exec_module(module)
                try:
                    _sys.meta_path.remove(_OnmtMoeFinder)
                except ValueError:
                    pass
                try:
                    import onmt_moe  # noqa: F401  (registers the plugin)
                except ImportError as exc:  # plugin uninstalled but hook left behind
                    _sys.stderr.write("onmt_moe autoload: %s\\n" % exc)

        spec.loader = _Loader()
        return spec


if _os.environ.get("ONMT_MOE_AUTOLOAD", "1") != "0" and "onmt" not in _sys.modules:
    _os.environ["ONMT_MOE_AUTOLOAD"] = "1"  # inherited by spawned DataLoader workers
    _sys.meta_path.insert(0, _OnmtMoeFinder)
    import warnings as _warnings
    # OpenNMT 3.5.1 decorates with torch.cuda.amp.custom_fwd/bwd, deprecated in torch >= 2.4: harmless noise.
    _warnings.filterwarnings("ignore", message=r"`torch\\.cuda\\.amp\\.custom_(fwd|bwd)", category=FutureWarning)
'''


def site_dir() -> str:
    return sysconfig.get_paths()["purelib"]


def install(target: str | None = None) -> str:
    d = target or site_dir()
    with open(os.path.join(d, HOOK_NAME), "w", encoding="utf-8") as f:
        f.write(HOOK_SOURCE)
    with open(os.path.join(d, PTH_NAME), "w", encoding="utf-8") as f:
        f.write("import _onmt_moe_autoload\n")
    return d


def uninstall(target: str | None = None) -> str:
    d = target or site_dir()
    for n in (HOOK_NAME, PTH_NAME):
        p = os.path.join(d, n)
        if os.path.exists(p):
            os.remove(p)
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Install/remove the hook that lets stock onmt_* commands load onmt_moe.")
    ap.add_argument("action", choices=["install", "uninstall", "status"])
    ap.add_argument("--site", default=None, help="site-packages directory (default: this interpreter's)")
    a = ap.parse_args(argv)
    d = a.site or site_dir()
    if a.action == "install":
        print(f"onmt_moe autoload installed in {install(d)}")
    elif a.action == "uninstall":
        print(f"onmt_moe autoload removed from {uninstall(d)}")
    else:
        on = os.path.exists(os.path.join(d, PTH_NAME))
        print(f"onmt_moe autoload: {'installed' if on else 'not installed'} in {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
