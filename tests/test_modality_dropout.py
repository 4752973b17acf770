"""The modality_dropout transform: unit tests of apply and a run through OpenNMT's
real data pipeline with a spawned data-loader worker."""

import argparse
import random
from collections import Counter

import pytest

import onmt_moe.plugin.transforms as mt
from onmt_moe.modality.tags import MISSING, present_modalities, split_segments

LINE = (
    "<FORMULA> C 2 H 6 O </FORMULA> <NMR> 1HNMR 1.20 1.10 t 3H </NMR> <IR> IR 1 2 3 </IR> <MS> E0Pos 46.0 100.0 </MS>"
).split()


def opts(**kw):
    base = dict(
        modality_dropout_prob=0.15,
        modality_dropout_probs="",
        modality_dropout_mode="token",
        modality_dropout_min_keep=1,
        seed=-1,
    )
    base.update(kw)
    return argparse.Namespace(**base)


def make(seed=1234, **kw):
    t = mt.ModalityDropoutTransform(opts(**kw))
    t.warm_up(None)
    t.rng = random.Random(seed)
    return t


def ex(tokens=LINE):
    return {"src": list(tokens), "tgt": ["C", "C", "O"], "src_original": list(tokens)}


def test_registered_once_and_importable_again():
    import importlib

    from onmt.transforms import AVAILABLE_TRANSFORMS

    assert AVAILABLE_TRANSFORMS["modality_dropout"] is mt.ModalityDropoutTransform
    importlib.reload(mt)  # a second import must not raise "duplicate transform"
    # ... and must leave the registered class reachable under its module name (pickling)
    assert AVAILABLE_TRANSFORMS["modality_dropout"] is mt.ModalityDropoutTransform


def test_untouched_when_not_training():
    t = make(modality_dropout_prob=1.0)
    for _ in range(50):
        e = ex()
        assert t.apply(e, is_train=False)["src"] == LINE
    assert sum(t.drop_counts.values()) == 0


def test_untouched_while_building_vocab(tmp_path):
    from onmt.bin.build_vocab import _get_parser as vocab_parser
    from onmt.bin.train import _get_parser as train_parser

    cfg = tmp_path / "c.yaml"
    cfg.write_text("src_vocab: v\nsave_data: s\nmodality_dropout_prob: 1.0\ndata: {c: {path_src: a, path_tgt: b}}\n")
    args = ["-config", str(cfg)]
    vopt, _ = vocab_parser().parse_known_args(args)
    topt, _ = train_parser().parse_known_args(args)
    tv = mt.ModalityDropoutTransform(vopt)
    tt = mt.ModalityDropoutTransform(topt)
    assert tv.building_vocab and not tt.building_vocab
    assert tv.apply(ex(), is_train=True)["src"] == LINE
    assert len(present_modalities(tt.apply(ex(), is_train=True)["src"])) == 1


def test_token_mode_keeps_tags_and_masks():
    t = make(modality_dropout_prob=0.0, modality_dropout_probs="IR=1.0")
    e = t.apply(ex(), is_train=True)
    segs = dict((n, toks) for n, toks in split_segments(e["src"]) if n)
    assert segs["IR"] == [MISSING]
    assert segs["NMR"] == LINE[8:13] and segs["FORMULA"] == LINE[1:6]
    assert e["src_original"] == LINE  # the original stays available to other transforms
    assert t.drop_counts == Counter({"IR": 1})


def test_drop_mode_removes_segment():
    t = make(modality_dropout_prob=0.0, modality_dropout_probs="MS=1,FORMULA=1", modality_dropout_mode="drop")
    e = t.apply(ex(), is_train=True)
    assert [n for n, _ in split_segments(e["src"])] == ["NMR", "IR"]
    assert MISSING not in e["src"]
    assert mt.ModalityDropoutTransform.get_specials(opts(modality_dropout_mode="drop")) == ([], [])
    assert mt.ModalityDropoutTransform.get_specials(opts()) == ([MISSING], [])


def test_probabilities_match_over_many_examples():
    probs = {"FORMULA": 0.0, "NMR": 0.1, "IR": 0.3, "MS": 0.5}
    t = make(seed=7, modality_dropout_prob=0.9, modality_dropout_probs="NMR=0.1,IR=0.3,MS=0.5,FORMULA=0")
    n = 4000
    hidden = Counter()
    for _ in range(n):
        e = t.apply(ex(), is_train=True)
        present = set(present_modalities(e["src"]))
        for m in probs:
            hidden[m] += m not in present
    # FORMULA is never hidden, so the never-all rule never has to intervene here
    assert hidden["FORMULA"] == 0
    for m, p in probs.items():
        if p:
            assert abs(hidden[m] / n - p) < 0.03, (m, hidden[m] / n)
    assert t.drop_counts["IR"] == hidden["IR"] and t.seen_counts["IR"] == n


def test_never_all_segments():
    t = make(seed=3, modality_dropout_prob=1.0)
    kept = Counter()
    for _ in range(400):
        e = t.apply(ex(), is_train=True)
        present = present_modalities(e["src"])
        assert len(present) == 1
        kept[present[0]] += 1
    # the survivor is picked at random, not always the same one
    assert set(kept) == {"FORMULA", "NMR", "IR", "MS"}
    t2 = make(seed=3, modality_dropout_prob=1.0, modality_dropout_min_keep=2)
    assert len(present_modalities(t2.apply(ex(), is_train=True)["src"])) == 2


def test_single_segment_and_missing_segments_untouched():
    t = make(modality_dropout_prob=1.0)
    one = "<FORMULA> <MISSING> </FORMULA> <IR> IR 1 2 </IR>".split()
    for _ in range(20):
        assert t.apply(ex(one), is_train=True)["src"] == one
    untagged = "C 2 H 6 O 1HNMR 1.0".split()
    assert t.apply(ex(untagged), is_train=True)["src"] == untagged


def test_stats_object_and_features():
    from onmt.transforms.transform import TransformStatistics

    stats = TransformStatistics()
    t = make(modality_dropout_prob=0.0, modality_dropout_probs="IR=1")
    e = ex()
    e["src_feats"] = [[str(i) for i in range(len(LINE))]]
    out = t.apply(e, is_train=True, stats=stats)
    assert len(out["src_feats"][0]) == len(out["src"])
    i = out["src"].index(MISSING)
    assert out["src"][i - 1] == "<IR>" and out["src_feats"][0][i] == out["src_feats"][0][i - 1]
    assert "IR" in stats.report()
    t.apply(ex(), is_train=True, stats=object())  # an unexpected stats object must not crash


@pytest.mark.parametrize("spec", ["IR", "IR=2", "IR=x", "=0.1"])
def test_bad_probs_are_one_line_errors(spec):
    with pytest.raises(ValueError, match="modality_dropout_probs"):
        mt.ModalityDropoutTransform(opts(modality_dropout_probs=spec))


def test_through_onmt_pipeline_in_spawned_worker(tmp_path):
    """Parse options with OpenNMT's own train parser, then iterate the training
    corpus with num_workers=1: the DataLoader spawns a worker, which unpickles the
    transform and applies it with is_train=True."""
    from onmt.bin.train import _get_parser
    from onmt.constants import CorpusTask
    from onmt.inputters.dynamic_iterator import build_dynamic_dataset_iter
    from onmt.inputters.inputter import build_vocab
    from onmt.transforms import get_specials, get_transforms_cls
    from onmt.utils.parse import ArgumentParser

    n = 24
    src_lines = [" ".join(LINE)] * n
    (tmp_path / "src.txt").write_text("\n".join(src_lines) + "\n")
    (tmp_path / "tgt.txt").write_text("C C O\n" * n)
    vocab_src = Counter(LINE)
    (tmp_path / "v.src").write_text("".join(f"{k}\t{v}\n" for k, v in vocab_src.items()))
    (tmp_path / "v.tgt").write_text("C\t2\nO\t1\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
save_data: {tmp_path}/run
src_vocab: {tmp_path}/v.src
tgt_vocab: {tmp_path}/v.tgt
data:
  corpus_1:
    path_src: {tmp_path}/src.txt
    path_tgt: {tmp_path}/tgt.txt
    transforms: [modality_dropout]
transforms: [modality_dropout]
modality_dropout_prob: 1.0
modality_dropout_mode: token
seed: 5
num_workers: 1
batch_size: 8
batch_type: sents
bucket_size: 64
""")
    parser = _get_parser()
    opt, _ = parser.parse_known_args(["-config", str(cfg)])
    ArgumentParser._validate_data(opt)
    ArgumentParser._get_all_transform(opt)
    ArgumentParser._validate_transforms_opts(opt)
    tcls = get_transforms_cls(opt._all_transform)
    specials = get_specials(opt, tcls)
    assert MISSING in specials["src"]
    vocabs = build_vocab(opt, specials)
    before = sum(mt.DROP_COUNTS.values())
    it = build_dynamic_dataset_iter(opt, tcls, vocabs, task=CorpusTask.TRAIN)
    seen = 0
    for batch, _bucket_idx in it:
        for row, length in zip(batch["src"][:, :, 0].tolist(), batch["srclen"].tolist()):
            toks = [vocabs["src"].lookup_index(i) for i in row[:length]]
            assert len(present_modalities(toks)) == 1  # prob 1.0, but never all
            assert toks.count(MISSING) == 3
            seen += 1
        if seen >= n:
            break
    assert seen >= n
    # the work was done in the spawned worker, not in this process
    assert sum(mt.DROP_COUNTS.values()) == before
