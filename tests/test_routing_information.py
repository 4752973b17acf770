"""diagnostics.routing: the modality <-> expert mutual information the paper table reports."""

import pandas as pd

from onmt_moe.diagnostics.routing import modality_expert_information, run_routing_mi


def _frame(loads, step=100, layer=0):
    """loads: {modality: [count per expert]} -> moe_steps.csv rows (plus the 'all' totals)."""
    rows = []
    n_exp = len(next(iter(loads.values())))
    for m, per_expert in loads.items():
        rows += [dict(step=step, layer=layer, expert=e, modality=m, load=c) for e, c in enumerate(per_expert)]
    for e in range(n_exp):
        rows.append(dict(step=step, layer=layer, expert=e, modality="all", load=sum(v[e] for v in loads.values())))
    return pd.DataFrame(rows)


def test_one_expert_set_per_modality_is_full_information():
    got = modality_expert_information(_frame({"NMR": [50, 50, 0, 0], "IR": [0, 0, 50, 50]}))[0]
    assert abs(got["mi_bits"] - 1.0) < 1e-9 and abs(got["mi_frac"] - 1.0) < 1e-9


def test_the_same_spread_for_every_modality_is_none():
    got = modality_expert_information(_frame({"NMR": [30, 10, 40, 20], "IR": [3, 1, 4, 2]}))[0]
    assert abs(got["mi_bits"]) < 1e-9 and got["h_modality_bits"] > 0


def test_counts_not_fractions_weigh_the_modalities():
    # a rare modality with its own expert carries little information about the bulk of the tokens
    rare = modality_expert_information(_frame({"NMR": [500, 500, 0], "MS": [0, 0, 10]}))[0]
    even = modality_expert_information(_frame({"NMR": [500, 500, 0], "MS": [0, 0, 1000]}))[0]
    assert rare["mi_bits"] < even["mi_bits"] and abs(rare["mi_frac"] - 1.0) < 1e-9


def test_only_the_last_window_of_steps_counts_and_dense_runs_give_none(tmp_path):
    old = _frame({"NMR": [50, 50], "IR": [50, 50]}, step=50)
    new = _frame({"NMR": [100, 0], "IR": [0, 100]}, step=100)
    both = pd.concat([old, new])
    assert abs(modality_expert_information(both, window=1)[0]["mi_frac"] - 1.0) < 1e-9
    assert modality_expert_information(both, window=2)[0]["mi_frac"] < 1.0
    both.to_csv(tmp_path / "moe_steps.csv", index=False)
    assert abs(run_routing_mi(str(tmp_path), window=1) - 1.0) < 1e-9
    assert run_routing_mi(str(tmp_path / "dense_run")) is None
