"""The data recipe: one object, its random streams, pairs of guitars, and folders that must match it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ddspfx.config import DataConfig, load_config
from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.recipe import STREAMS, Recipe
from ddspfx.errors import DdspfxError
from ddspfx.invariance import invariance_loss, with_pairs
from ddspfx.sampler import SamplerConfig


def test_streams_are_distinct_and_the_recipe_round_trips():
    assert len(set(STREAMS.values())) == len(STREAMS)
    r = Recipe(sampler=SamplerConfig(max_effects=3, effects=("eq", "delay", "reverb")), dry_tone=0.5, room=0.2,
               plugin_exclude=("lsp",), recording=0.3, pair=True)
    back = Recipe.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and back.differences(r) == []
    assert Recipe().differences(r) == ["sampler.max_effects: 5 -> 3",
                                       "sampler.effects: " + repr(list(SamplerConfig().effects)) + " -> ['eq', 'delay', 'reverb']",
                                       "dry_tone: 0.0 -> 0.5", "plugin_exclude: [] -> ['lsp']", "room: 0.0 -> 0.2",
                                       "recording: 0.0 -> 0.3", "pair: False -> True"]
    with pytest.raises(DdspfxError, match="probability"):
        Recipe(room=1.5)


def test_a_pair_is_the_same_chain_on_another_guitar_and_leaves_the_first_clip_alone():
    plain = EffectsDataset("synth", n=3, seed=4, duration_s=0.5, recipe=Recipe(sampler=SamplerConfig(min_effects=1)))
    paired = EffectsDataset("synth", n=3, seed=4, duration_s=0.5,
                            recipe=Recipe(sampler=SamplerConfig(min_effects=1), pair=True))
    for i in range(3):
        a, b = plain.example(i), paired.example(i)
        np.testing.assert_array_equal(a.wet, b.wet)  # switching pairs on changes nothing of the first guitar
        assert b.pair is not None and b.pair.chain == b.chain
        assert not np.allclose(b.pair.dry, b.dry)  # another phrase (and guitar where the source draws them)
        # the pair's wet is the chain on the pair's dry, rendered as the reference does
        from ddspfx.render import render_chain

        np.testing.assert_allclose(b.pair.wet, render_chain(b.pair.dry, b.chain, paired.sample_rate)[0], atol=1e-6)
    item = paired[0]
    assert item["wet_pair"].shape == item["wet"].shape and item["dry_pair"].shape == item["dry"].shape


def test_with_pairs_doubles_the_batch_and_the_invariance_loss_sees_only_differences():
    ds = EffectsDataset("synth", n=2, seed=1, duration_s=0.25, recipe=Recipe(sampler=SamplerConfig(min_effects=1), pair=True))
    batch = collate([ds[0], ds[1]])
    big = with_pairs(batch)
    assert big["wet"].shape[0] == 4 and "wet_pair" not in big
    torch.testing.assert_close(big["wet"][2:], batch["wet_pair"])
    torch.testing.assert_close(big["presence"][2:], batch["presence"])
    assert big["chain"] == batch["chain"] * 2
    n, p = big["params"].shape[1:]
    same = {"presence_logits": torch.zeros(4, n), "params": torch.full((4, n, p), 0.5)}
    assert float(invariance_loss(same, big["param_mask"])) == 0.0
    # presence probabilities 0.5 vs sigmoid(2) on every pedal: the mean squared difference, known in closed form
    differ = {"presence_logits": torch.cat([torch.zeros(2, n), torch.full((2, n), 2.0)]), "params": same["params"]}
    expected = (torch.sigmoid(torch.tensor(2.0)) - 0.5) ** 2
    torch.testing.assert_close(invariance_loss(differ, big["param_mask"]), expected)


def test_training_with_paired_guitars_and_the_invariance_term(tmp_path):
    from ddspfx.training import train

    cfg = load_config("debug", ["--trainer.max_steps", "2", "--trainer.val_every", "2", "--trainer.log_audio", "false",
                                "--data.pair_guitars", "true", "--loss.invariance", "1.0"])
    result = train(cfg, tmp_path, progress=False)
    assert result["metrics"]["global_step"] == 2
    assert json.loads((tmp_path / "model.json").read_text())["data"]["pair_guitars"] is True


def test_a_folder_is_trained_on_only_with_its_own_recipe_and_never_from_a_reserved_source(tmp_path):
    from ddspfx.data.materialise import write_dataset
    from ddspfx.datamodule import make_dataset

    folder = tmp_path / "data"
    write_dataset(folder, 2, seconds=0.5, recipe=Recipe(sampler=SamplerConfig(max_effects=2)), progress=False)
    ok = DataConfig(train_folder=str(folder), max_effects=2)
    assert len(make_dataset(ok, "train")) == 2
    with pytest.raises(DdspfxError, match=r"another data recipe.*dry_tone: 0.0 -> 0.5"):
        make_dataset(DataConfig(train_folder=str(folder), max_effects=2, dry_tone=0.5), "train")
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "source": "sf2:/usr/share/sounds/sf2/FluidR3_GM.sf2"}))
    with pytest.raises(DdspfxError, match="held-out evaluation data"):
        make_dataset(ok, "train")
    with pytest.raises(DdspfxError, match="one guitar per example"):
        write_dataset(tmp_path / "pairs", 1, seconds=0.5, recipe=Recipe(pair=True), progress=False)


def test_the_configs_effect_weights_reach_the_training_and_validation_recipes_and_round_trip():
    from ddspfx.datamodule import recipe_from_config

    cfg = DataConfig(effects="compressor,eq,reverb", max_effects=2, effect_weights="eq=3")
    for split in ("train", "val"):
        r = recipe_from_config(cfg, split)
        assert r.sampler.effect_weights == (1.0, 3.0, 1.0)
        assert Recipe.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    assert recipe_from_config(DataConfig()).sampler.effect_weights is None
    with pytest.raises(DdspfxError, match="name=number"):
        recipe_from_config(DataConfig(effect_weights="eq:3"))
