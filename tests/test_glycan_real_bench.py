"""`make bench-glycan-real` plumbing (onmt_moe.runs.glycan_real): stage order and resumption, the
commands' settings, and the table read back from the run's real_scores.json files."""

import json

from onmt_moe.runs import glycan_real as G


def _plan(tmp_path, **kw):
    return G.Plan(
        data=str(tmp_path / "lib"),
        run=str(tmp_path / "run"),
        real=str(tmp_path / "real"),
        results=str(tmp_path / "out" / "glycan_real"),
        **kw,
    )


def test_stages_build_a_library_corpus_train_and_score_every_real_set(tmp_path):
    p = _plan(tmp_path, steps=100, spectra_per_structure=2)
    names = [n for n, _, _ in G.stages(p)]
    assert names == ["build", "corpus", "train"] + [f"real {f}" for f, *_ in G.REAL_SETS]
    build = " ".join(G.stages(p)[0][2].command())  # a Step: the script's library main, in this process
    assert "--split_mode library" in build and "--spectra_per_structure 2" in build
    assert "--reducing_end reduced" in build and "--intensity_rules fitted" in build
    corpus = G.stages(p)[1][2].argv
    assert "--text" not in corpus and "--composition" in corpus  # no metadata a real spectrum lacks
    train = G.stages(p)[2][2]  # in this process (runner.launch); its command line is logged
    assert "train_steps=100" in train.sets and train.overrides[0] == f"run.data_dir={p.corpus}/data"
    assert train.run_dir == p.run and "--set train_steps=100" in " ".join(train.command())


def _scores(n_best=5, **methods):
    res = {"options": {"n_best": n_best}, "n_with_structure": 10, "n_matched_with_structure": 8}
    for k, t1 in methods.items():
        res[k] = {"top1": t1, f"top{n_best}": min(1.0, 2 * t1), "f1": 0.5}
    return res


def test_table_rows_read_back_every_set_and_method(tmp_path):
    p = _plan(tmp_path)
    for folder, *_ in G.REAL_SETS:
        d = tmp_path / "run" / f"real_{folder}"
        d.mkdir(parents=True)
        (d / "real_scores.json").write_text(json.dumps(_scores(model=0.1, model_library=0.3, chance=0.05)))
    rows = G.table_rows(p)
    assert len(rows) == 3 * 3
    lib = [r for r in rows if r["method"] == "ours, library-ranked"]
    assert [r["top1"] for r in lib] == [0.3] * 3 and lib[0]["top5"] == 0.6
    G.write_results(p, rows, log=lambda m: None)
    md = (tmp_path / "out" / "glycan_real.md").read_text()
    assert "ours, library-ranked" in md and md.count("\n") == 2 + len(rows)


def test_twin_stages_write_the_real_subset_and_an_unseen_seed_twin_then_score_both(tmp_path):
    p = _plan(tmp_path, twin=str(tmp_path / "twin"))
    st = G.twin_stages(p)
    assert len(st) == 4 * len(G.REAL_SETS)
    folder, spectra, _, cls = G.REAL_SETS[1]
    names = [n for n, _, _ in st[4:8]]
    assert names == [f"twin real {folder}", f"score real {folder}", f"twin sim {folder}", f"score sim {folder}"]
    real_cmd, sim_cmd = " ".join(st[4][2].command()), " ".join(st[6][2].command())
    assert "--real" in real_cmd and "--seed" not in real_cmd
    assert "--real" not in sim_cmd and f"--seed {G.TWIN_SEED}" in sim_cmd and "--reducing_end reduced" in sim_cmd
    # the scorer reads exactly the files the twin writer makes, with the set's class
    xlsx, csv = G.twin_files(p, folder, spectra, "sim")
    assert st[6][1] == xlsx and xlsx.startswith(str(tmp_path / "twin" / folder / "sim"))
    score = st[7][2].argv
    assert score[score.index("--spectra") + 1] == xlsx and score[score.index("--annotations") + 1] == csv
    assert score[score.index("--glycan_class") + 1] == cls


def test_stages_run_the_scripts_library_mains_in_this_process(tmp_path, monkeypatch):
    """No stage is a subprocess: each Step calls the main its script wraps, and its logged command line
    names that script; a failing main (or one that exits) stops the run at that stage."""
    from onmt_moe.glycan import commands
    from onmt_moe.runs import glycan_real_model

    p = _plan(tmp_path)
    st = G.stages(p) + G.twin_stages(p)
    mains = {step.script: step.main for _, _, step in st if not isinstance(step, G.runner.Launch)}
    assert mains == {
        "scripts/build_glycan_dataset.py": commands.build_main,
        "benchmark/generate_glycan_input.py": commands.corpus_main,
        "benchmark/evaluate_real_glycan.py": glycan_real_model.main,
        "scripts/simulate_real_twin.py": commands.twin_main,
    }
    calls, logged = [], []

    def fake_main(argv):
        calls.append(argv)
        raise SystemExit("error: planted")  # as sys.exit("error: ...") in a script

    step = st[0][2]
    monkeypatch.setattr(step, "main", fake_main)
    assert G.run_stages([st[0]], logged.append) == 1
    assert (
        calls == [list(step.argv)] and logged[0].startswith("==> build: $ ") and "build_glycan_dataset.py" in logged[0]
    )


def test_twin_rows_put_real_and_twin_side_by_side(tmp_path):
    p = _plan(tmp_path)
    for folder, *_ in G.REAL_SETS:
        for kind, t1 in (("real", 0.3), ("sim", 0.5)):
            d = tmp_path / "run" / f"twin_{folder}_{kind}"
            d.mkdir(parents=True)
            (d / "real_scores.json").write_text(json.dumps(_scores(model_library=t1, chance=0.1)))
    rows = G.twin_rows(p)
    assert len(rows) == 2 * len(G.REAL_SETS)
    lib = rows[0]
    assert lib["method"] == "ours, library-ranked" and (lib["top1_real"], lib["top1_twin"]) == (0.3, 0.5)
    assert lib["top5_twin"] == 1.0 and lib["spectra"] == 8
