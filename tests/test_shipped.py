"""The shipped model itself (ddspfx/checkpoints/default.*), through the public API, on clips whose answer a
listener would agree with: a heavily distorted clip is distorted, a clean one has no distortion and no echo,
a clip with a long loud echo has a delay. Facts about the sound, not numbers the model printed once."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest

import ddspfx
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.checkpoint import load_model
from ddspfx.sources import make_source

SEEDS = (11, 12, 13)


def dry_clip(seed: int) -> np.ndarray:
    return make_source("synth").sample(np.random.default_rng(seed), 3.0)


def through(dry: np.ndarray, *plugins: pedalboard.Plugin) -> np.ndarray:
    wet = pedalboard.Pedalboard(list(plugins))(dry[None], SAMPLE_RATE, reset=True)[0]
    return (0.9 * wet / np.max(np.abs(wet))).astype(np.float32)


def test_the_shipped_model_loads_with_its_card():
    model = load_model(None)
    assert model.metadata["sha256"] and model.metadata["data"]["source"]
    assert (ddspfx.checkpoint.DEFAULT_CHECKPOINT.with_name("default_card.md")).is_file()


@pytest.mark.parametrize("seed", SEEDS)
def test_heavy_distortion_is_heard(seed):
    chain = ddspfx.estimate(through(dry_clip(seed), pedalboard.Distortion(drive_db=36.0)), SAMPLE_RATE)
    assert "distortion" in chain.effects


@pytest.mark.parametrize("seed", SEEDS)
def test_a_clean_clip_has_no_distortion_and_no_echo(seed):
    chain = ddspfx.estimate(dry_clip(seed), SAMPLE_RATE)
    assert "distortion" not in chain.effects and "delay" not in chain.effects


@pytest.mark.parametrize("seed", SEEDS)
def test_a_long_loud_echo_is_a_delay(seed):
    wet = through(dry_clip(seed), pedalboard.Delay(delay_seconds=0.45, feedback=0.45, mix=0.5))
    assert "delay" in ddspfx.estimate(wet, SAMPLE_RATE).effects


LEVELS_DBFS = (-30.0, -20.0, -10.0, 0.0)


def at_peak(x: np.ndarray, dbfs: float) -> np.ndarray:
    return (x * np.float32(10 ** (dbfs / 20) / np.max(np.abs(x)))).astype(np.float32)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_answer_does_not_depend_on_the_recording_level(seed):
    """The same clip at -30, -20, -10 and 0 dBFS peak is the same recording turned up or down: same chain."""
    wet = through(dry_clip(seed), pedalboard.Compressor(threshold_db=-24.0, ratio=4.0),
                  pedalboard.Distortion(drive_db=20.0), pedalboard.Reverb(room_size=0.5, wet_level=0.3))
    chains = [ddspfx.estimate(at_peak(wet, db), SAMPLE_RATE) for db in LEVELS_DBFS]
    assert all(c.effects == chains[0].effects for c in chains), [c.effects for c in chains]
