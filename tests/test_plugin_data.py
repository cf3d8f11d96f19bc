"""Training data rendered by third-party plugins: types and order stay labelled, knobs only where they mean the
catalog's; unlabelled knobs are no target of any loss; such clips stay out of the proxy term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddspfx.catalog import EFFECT_NAMES, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset, make_item
from ddspfx.data.recipe import Recipe
from ddspfx.plugins.render import installed_implementations, plugin_labels, sample_plugin_pedal
from ddspfx.plugins.table import IMPLEMENTATIONS
from ddspfx.vocab import PedalVocab

FAMILIES = tuple(sorted({impl.family for impl in IMPLEMENTATIONS.values()}))  # LADSPA and LV2: cmt, ..., zyn


@pytest.fixture(autouse=True)
def _plugins_installed():
    missing = [e for e in ("compressor", "distortion", "delay") if not installed_implementations(e)]
    if missing:
        pytest.skip(f"no LADSPA implementation of {missing} installed: apt-get install cmt invada-studio-plugins-ladspa")


def _examples(**kwargs):
    return EffectsDataset("synth", n=12, seed=7, recipe=Recipe(**kwargs))


def test_plugin_pedals_keep_type_and_order_and_label_only_what_they_define():
    plain, plugged = _examples(), _examples(plugin_render=1.0)
    seen_unlabelled = 0
    for i in range(12):
        a, b = plain.example(i), plugged.example(i)
        assert b.chain.effects == a.chain.effects  # what and in which order: always labelled
        assert np.array_equal(b.dry, a.dry)
        if a.chain.effects:
            assert not b.proxy_exact and not np.allclose(a.wet, b.wet)
        for pedal in b.chain:
            for knob in get_effect(pedal.effect).params:
                value = pedal.params[knob.name]
                assert knob.low <= value <= knob.high
        seen_unlabelled += len(b.unlabelled)
    assert seen_unlabelled > 0  # e.g. attack and release of every plugin compressor
    again = _examples(plugin_render=1.0).example(3)  # seeded: the same plugins, knobs and audio
    assert np.array_equal(again.wet, plugged.example(3).wet) and again.unlabelled == plugged.example(3).unlabelled


def test_excluding_every_family_leaves_plain_pedalboard():
    a = _examples().example(5)
    b = _examples(plugin_render=1.0, plugin_exclude=FAMILIES).example(5)
    assert b.proxy_exact and np.array_equal(a.wet, b.wet) and b.chain == a.chain


def test_a_plugin_that_returns_nan_costs_one_clip_its_plugins_not_the_run(monkeypatch):
    import ddspfx.plugins.render as render

    def broken(x, pedal, sample_rate):
        return np.full_like(x, np.nan)

    monkeypatch.setattr(render, "run_plugin", broken)
    i = next(i for i in range(12) if _examples().example(i).chain.effects)
    with pytest.warns(UserWarning, match="NaN/inf"):
        b = _examples(plugin_render=1.0).example(i)
    a = _examples().example(i)  # the same clip without plugins: what the run trains on instead
    assert b.proxy_exact and b.chain == a.chain and np.array_equal(a.wet, b.wet) and np.all(np.isfinite(b.wet))


def test_labels_of_a_plugin_pedal_are_its_catalog_values():
    rng = np.random.default_rng(0)
    delay = next(i for i in installed_implementations("delay") if i.name == "cmt/fbdelay")
    step = sample_plugin_pedal(rng, "delay", [delay])
    chain = Chain([Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.1, "mix": 0.3})])
    labels = plugin_labels(chain, [step])
    assert labels.implementations == ("cmt/fbdelay",)
    for name, value in step.labels().items():
        knob = next(k for k in get_effect("delay").params if k.name == name)
        assert labels.chain.pedals[0].params[name] == pytest.approx(float(np.clip(value, knob.low, knob.high)))
    assert {k for _, k in labels.unlabelled} == {k.name for k in get_effect("delay").params} - set(step.labels())


def test_unlabelled_knobs_are_no_target_of_any_loss():
    from ddspfx.config import LossConfig
    from ddspfx.losses import DdspfxLoss

    vocab = PedalVocab()
    chain = Chain([Pedal("compressor", {"threshold_db": -30.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}),
                   Pedal("delay", {"delay_seconds": 0.3, "feedback": 0.2, "mix": 0.4})])
    hidden = frozenset({("compressor", "attack_ms"), ("compressor", "release_ms")})
    x = np.zeros(4410, np.float32)
    item = make_item(x, x, chain, 1.0, vocab, hidden, proxy_exact=False)
    ids = vocab.encode(chain)
    off = [i for i, s in enumerate(item["token_supervised"].tolist()) if not s]
    assert off == [4, 5]  # <chain> <compressor> threshold ratio [attack] [release] </compressor> ...
    assert vocab.token(ids[4]).startswith("compressor.attack_ms") and vocab.token(ids[5]).startswith("compressor.release_ms")
    mask = item["param_mask"][0]
    assert mask[:2].all() and not mask[2:4].any()

    loss = DdspfxLoss(LossConfig(stft=0.0), vocab.pad_id)
    batch = collate([item])
    torch.manual_seed(0)
    n = len(EFFECT_NAMES)
    out = {"token_logits": torch.randn(1, len(ids) - 1, len(vocab)), "presence_logits": torch.randn(1, n),
           "perm_logits": torch.randn(1, n, n), "params": torch.rand(1, n, item["params"].shape[-1])}
    other = dict(batch, tokens=batch["tokens"].clone())
    other["tokens"][0, 4] = vocab.param_id("compressor", "attack_ms", 0)  # another (unsupervised) bin
    other["params"] = batch["params"].clone()
    other["params"][0, 0, 2:4] = 0.99  # another (masked) value
    a, b = loss(out, batch, None), loss(out, other, None)
    assert torch.equal(a["ce"], b["ce"]) and torch.equal(a["params"], b["params"])


def test_plugin_clips_stay_out_of_the_proxy_term(monkeypatch):
    from ddspfx.config import LossConfig
    from ddspfx.losses import DdspfxLoss

    vocab = PedalVocab()
    x = (0.1 * np.random.default_rng(0).standard_normal(22050)).astype(np.float32)
    chain = Chain([Pedal("distortion", {"drive_db": 20.0})])
    items = [make_item(x, x, chain, 1.0, vocab, proxy_exact=e) for e in (False, True, False, True)]
    batch = collate(items)
    loss = DdspfxLoss(LossConfig(stft=1.0, stft_warmup_steps=0, stft_batch=4), vocab.pad_id)
    seen = []
    monkeypatch.setattr(loss, "reconstruct", lambda out, b, rows, *a, **k: seen.append(rows.tolist())
                        or (b["wet"][rows][:, None, :2048], b["wet"][rows][:, None, :2048]))
    n = len(vocab.encode(chain)) - 1
    k = len(EFFECT_NAMES)
    out = {"token_logits": torch.randn(4, n, len(vocab)), "presence_logits": torch.randn(4, k),
           "perm_logits": torch.randn(4, k, k), "params": torch.rand(4, k, items[0]["params"].shape[-1])}
    loss(out, batch, step=0)
    assert seen == [[1, 3]]
    none = collate([items[0], items[2]])
    seen.clear()
    terms = loss({k: v[:2] for k, v in out.items()}, none, step=0)
    assert seen == [] and "stft" not in terms


def test_training_runs_on_plugin_rendered_clips(tmp_path):
    from ddspfx.config import load_config
    from ddspfx.training import train

    cfg = load_config("debug", ["--trainer.max_steps", "2", "--trainer.val_every", "2", "--trainer.log_audio", "false",
                                "--data.plugin_render", "0.7", "--data.plugin_exclude", "lsp"])
    result = train(cfg, tmp_path, progress=False)
    assert result["model"].is_file() and result["metrics"]["global_step"] == 2


def test_the_real_recipe_makes_training_examples():
    """configs/real.yaml: level-invariant model, sampled guitars, noise floor, variants and plugins together."""
    from ddspfx.config import load_config
    from ddspfx.datamodule import make_dataset
    from ddspfx.errors import DdspfxError

    cfg = load_config("real", ["--data.train_size", "40"])
    assert cfg.model.input_level and cfg.data.plugin_render > 0
    try:
        train = make_dataset(cfg.data, "train")
    except DdspfxError as e:  # a SoundFont bank or FluidSynth is missing on this machine
        pytest.skip(f"the real recipe's sources are not installed: {e}")
    items = [train[i] for i in range(8)]
    assert all(it["wet"].shape == it["dry"].shape and torch.isfinite(it["wet"]).all() for it in items)
    assert any(not bool(it["proxy_exact"]) for it in items)  # some pedals came from plugins


def test_held_out_is_one_implementation_per_effect_and_the_recipe_never_draws_it():
    """Leave-one-implementation-out: every effect type with two or more plugins keeps one out of training, and the
    real recipe excludes exactly those, so no chain drawn for training uses one."""
    from ddspfx.catalog import EFFECT_NAMES
    from ddspfx.config import load_config
    from ddspfx.plugins.render import draw_plugin_pedals
    from ddspfx.plugins.table import HELD_OUT, IMPLEMENTATIONS, effects_without_held_out

    assert sorted(IMPLEMENTATIONS[n].effect for n in HELD_OUT) == sorted(set(EFFECT_NAMES) - set(effects_without_held_out()))
    exclude = tuple(load_config("real").data.plugin_exclude.split(","))
    assert exclude == HELD_OUT
    rng = np.random.default_rng(0)
    chain = Chain([Pedal(e, {p.name: p.low for p in get_effect(e).params}) for e in EFFECT_NAMES])
    drawn = {s.implementation for _ in range(200) for s in draw_plugin_pedals(rng, chain, 1.0, exclude) if s}
    assert drawn and not drawn & set(HELD_OUT)


def test_evaluation_can_draw_only_the_held_out_implementations():
    from ddspfx.plugins.table import HELD_OUT
    from experiments.evaluation.renderers import parse_plugins_from
    from experiments.evaluation.sets import make_set

    assert parse_plugins_from("held-out, cmt/fbdelay") == (*HELD_OUT, "cmt/fbdelay")
    if any(not installed_implementations(e) or not {i.name for i in installed_implementations(e)} & set(HELD_OUT)
           for e in ("compressor", "distortion", "eq", "chorus", "phaser", "delay", "reverb")):
        pytest.skip("a held-out plugin is not installed: apt-get install lsp-plugins-ladspa dpf-plugins-ladspa mcp-plugins")
    examples, impls = make_set("synth", 6, 700000, 1.0, "plugins", HELD_OUT)
    names = [n for clip in impls for n in clip]
    assert names and set(names) <= set(HELD_OUT)
    assert [len(c) for c in impls] == [len(ex.chain) for ex in examples]
