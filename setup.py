"""onmt_moe: a modality-aware Mixture-of-Experts encoder plugin for OpenNMT-py 3.5.1.

OpenNMT-py is deliberately *not* in install_requires: its 3.5.1 metadata pins torch<2.3, which
would make pip replace a modern torch with an old multi-GB CUDA build. `make install` installs it
with --no-deps and requirements.txt lists what it really imports.
"""

from setuptools import find_packages, setup

setup(
    name="onmt_moe",
    version="0.1.0",
    description="Modality-aware Mixture-of-Experts transformer encoder for OpenNMT-py (spectra -> structure)",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["onmt_moe", "onmt_moe.*"]),
    # benchmark-like IR weights; the glycan simulator's intensity rules fitted on real spectra
    package_data={"onmt_moe.simulate": ["data/*.npz", "data/*.md"], "onmt_moe.glycan": ["data/*.json"]},
    install_requires=["numpy", "pandas", "pyarrow", "pyyaml", "rdkit", "matplotlib"],
    entry_points={
        "console_scripts": [
            # Plugin-loading wrappers around the stock commands (the stock commands also work: see README).
            "onmt_moe_build_vocab=onmt_moe.plugin.cli:build_vocab",
            "onmt_moe_train=onmt_moe.plugin.cli:train",
            "onmt_moe_translate=onmt_moe.plugin.cli:translate",
            "onmt_moe_average_models=onmt_moe.plugin.cli:average_models",
            "onmt_moe_autoload=onmt_moe.plugin.autoload:main",
            # spectra files of one sample (or a batch) -> ranked structures (README "Predict")
            "onmt_moe_predict=onmt_moe.predict.cli:main",
        ]
    },
)
