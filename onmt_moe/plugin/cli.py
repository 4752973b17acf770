"""Wrapper commands: import the plugin explicitly, then run the stock OpenNMT entry point.

Equivalent to the stock ``onmt_*`` commands when the autoload hook is installed; useful when it is not.
"""

import sys


def _run(modname: str) -> int:
    import importlib

    import onmt_moe  # noqa: F401  registers the plugin before any parser is built

    mod = importlib.import_module(modname)
    return mod.main() or 0


def build_vocab() -> int:
    return _run("onmt.bin.build_vocab")


def train() -> int:
    return _run("onmt.bin.train")


def translate() -> int:
    return _run("onmt.bin.translate")


def average_models() -> int:
    return _run("onmt.bin.average_models")


if __name__ == "__main__":
    sys.exit(
        {"build_vocab": build_vocab, "train": train, "translate": translate, "average_models": average_models}[
            sys.argv.pop(1)
        ]()
    )
