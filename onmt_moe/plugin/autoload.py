"""Make the *stock* OpenNMT commands load the plugin, at no start-up cost for anything else.

`make install` (or `onmt_moe_autoload install`) writes two files into site-packages:

* ``_onmt_moe_autoload.py`` — a copy of :mod:`onmt_moe._hook`: a ``sys.meta_path`` finder that
  does nothing until some code imports the top-level package ``onmt``; right after ``onmt``
  finishes importing, it calls ``onmt_moe.register()`` (encoder, options, transform, loss and
  reporting hooks). Plain Python start-up pays for one tiny stdlib-only module, never torch.
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

from onmt_moe._hook import SITE_MODULE

PTH_NAME = "onmt_moe_autoload.pth"
HOOK_NAME = SITE_MODULE + ".py"


def hook_source() -> str:
    """The site-packages copy: :mod:`onmt_moe._hook` verbatim, armed at start-up unless disabled."""
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # onmt_moe/
    with open(os.path.join(package_dir, "_hook.py"), encoding="utf-8") as f:
        src = f.read()
    return src + (
        "\n\n# written by `onmt_moe_autoload install`; ONMT_MOE_AUTOLOAD=0 disables it\n"
        'if _os.environ.get("ONMT_MOE_AUTOLOAD", "1") != "0":\n'
        '    _os.environ["ONMT_MOE_AUTOLOAD"] = "1"  # inherited by spawned DataLoader workers\n'
        "    arm()\n"
        "else:  # plugin off: still say what a plugin checkpoint's failure means\n"
        "    explain_plugin_errors()\n"
    )


def site_dir() -> str:
    return sysconfig.get_paths()["purelib"]


def install(target: str | None = None) -> str:
    d = target or site_dir()
    hook = os.path.join(d, HOOK_NAME)
    with open(hook, "w", encoding="utf-8") as f:
        f.write(hook_source())
    import py_compile

    # site imports it on every interpreter start: ship the bytecode so it is never recompiled there
    py_compile.compile(hook, doraise=True)
    with open(os.path.join(d, PTH_NAME), "w", encoding="utf-8") as f:
        f.write("import _onmt_moe_autoload\n")
    return d


def uninstall(target: str | None = None) -> str:
    d = target or site_dir()
    import importlib.util

    hook = os.path.join(d, HOOK_NAME)
    for p in (hook, importlib.util.cache_from_source(hook), os.path.join(d, PTH_NAME)):
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
