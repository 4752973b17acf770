import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_anomaly import MODALITIES, make_run  # noqa: E402

from onmt_moe.diagnostics.plots import PlotError, main, modality_expert_table, plot_runs, read_logs  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))
    return img.shape[1], img.shape[0]


def test_cli_overlay_moe_and_dense_runs(tmp_path, capsys):
    a = make_run(tmp_path / "a", ["expert_collapse"])
    d = make_run(tmp_path / "dense", ["dense"])
    assert main([str(a), str(d)]) == 0
    printed = [Path(line) for line in capsys.readouterr().out.split()]
    names = {p.name for p in printed}
    assert names == {
        "loss.png",
        "lr.png",
        "throughput.png",
        "aux_losses.png",
        "moe_occupancy_a.png",
        "moe_modality_a.png",
        "moe_balance_a.png",
        "grad_norms_a.png",
        "grad_norms_dense.png",
    }
    for p in printed:
        assert p.parent == a / "plots"  # default: the first run's plots/ folder
        assert p.read_bytes()[:8] == PNG_MAGIC
        w, h = _png_size(p)
        assert w >= 300 and h >= 200
    # no stray temp files
    assert {x.name for x in (a / "plots").iterdir()} == names


def test_single_run_names_have_no_suffix(tmp_path):
    run = make_run(tmp_path / "d", ["dense"])
    (run / "grad_norms.csv").unlink()
    out = tmp_path / "out"
    paths = plot_runs(run, out)
    assert sorted(p.name for p in paths) == ["loss.png", "lr.png", "throughput.png"]
    # optional valid top-k columns get their own plot
    text = (run / "valid_summary.csv").read_text().splitlines()
    rows = [text[0] + ",top1,top5,top10"] + [f"{line},0.3,0.5,0.6" for line in text[1:]]
    (run / "valid_summary.csv").write_text("\n".join(rows) + "\n")
    assert "valid_topk.png" in {p.name for p in plot_runs(run, out)}
    assert all(p.parent == out for p in paths)


def test_modality_table_recovers_routing_preferences(tmp_path):
    run = make_run(tmp_path / "r", layers=2, experts=4)
    moe = read_logs(run)["moe_steps.csv"]
    tables, last = modality_expert_table(moe, window=3)
    assert sorted(tables) == [0, 1] and len(last) == 3
    for layer, t in tables.items():
        assert set(t.index) == set(MODALITIES) and list(t.columns) == [0, 1, 2, 3]
        np.testing.assert_allclose(t.sum(axis=1).to_numpy(), 1.0, atol=1e-6)
        for m_i, m in enumerate(MODALITIES):
            assert int(t.loc[m].to_numpy().argmax()) == (m_i + layer) % 4
    assert list(tables[0].index)[0] == "FORMULA"


def test_bad_inputs(tmp_path, capsys):
    with pytest.raises(PlotError, match="missing_run"):
        plot_runs([tmp_path / "missing_run"])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train_steps.csv").write_text("step,xent\n")  # header only: nothing to plot
    with pytest.raises(PlotError, match="nothing to plot"):
        plot_runs(empty)
    run = make_run(tmp_path / "r")
    (run / "moe_aux.csv").write_text("step,component\n1,a,b,c\n")
    (run / "grad_norms.csv").write_text("")
    warnings = []
    data = read_logs(run, warnings)
    assert "moe_aux.csv" not in data and "grad_norms.csv" not in data and "moe_steps.csv" in data
    assert len(warnings) == 2 and all(w.count("\n") == 0 for w in warnings)
    assert any("moe_aux.csv" in w and "corrupt" in w for w in warnings)
    assert any("grad_norms.csv" in w and "empty" in w for w in warnings)
    assert main([str(tmp_path / "missing_run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing_run" in err and "\n" not in err
