"""Issue 16 part 5: the size presets have the sizes their names and comments claim (model built, not trained)."""

import os
import re

import pytest
import yaml

from onmt_moe.runs.param_count import config_parameter_counts
from onmt_moe.runs.runner import validate_config
from tests.conftest import ROOT

PRESETS = os.path.join(ROOT, "configs", "presets")
TARGET_M = {"efficient_moe.yaml": 25, "base_moe.yaml": 110, "large_moe.yaml": 340}
# "total X M, active Y M" followed (same line) by the source vocabulary the count was made with
CLAIM = re.compile(r"total ([\d,.]+) M, active ([\d,.]+) M.*?src vocab ([\d,]+)")


def _claims(path):
    with open(path) as f:
        head = "".join(line for line in f if line.startswith("#"))
    return [
        (float(t.replace(",", "")), float(a.replace(",", "")), int(v.replace(",", "")))
        for t, a, v in CLAIM.findall(head)
    ]


@pytest.mark.parametrize("name", sorted(os.listdir(PRESETS)))
def test_preset_comments_state_the_counted_parameters(name):
    path = os.path.join(PRESETS, name)
    cfg = yaml.safe_load(open(path))
    validate_config(cfg)
    claims = _claims(path)
    assert claims, f"{name}: no 'total … M, active … M … src vocab N' line in its header"
    for total_m, active_m, src_vocab in claims:
        counts = config_parameter_counts(cfg, src_vocab=src_vocab, tgt_vocab=60)
        assert abs(counts["total"] / 1e6 - total_m) < 0.051, (name, src_vocab, counts)
        assert abs(counts["active_per_token"] / 1e6 - active_m) < 0.051, (name, src_vocab, counts)
        assert counts["active_per_token"] < counts["total"]


@pytest.mark.parametrize("name,target", sorted(TARGET_M.items()))
def test_presets_have_the_seed_sizes(name, target):
    cfg = yaml.safe_load(open(os.path.join(PRESETS, name)))
    for src_vocab in (400, 3500):  # the benchmark's range of source vocabularies
        total = config_parameter_counts(cfg, src_vocab=src_vocab, tgt_vocab=60)["total"] / 1e6
        assert abs(total - target) / target < 0.05, (name, src_vocab, total)
