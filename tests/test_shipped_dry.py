"""The shipped dry-aware model (ddspfx/checkpoints/default_dry.*), through ``infer --dry``'s own path, on pairs whose
answer a listener would agree with: the wet that is the dry has no pedal, a heavily distorted wet is distorted, a
long loud echo is a delay, and neither the dry's level nor a few milliseconds of offset change the answer."""

from __future__ import annotations

import json

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.checkpoint import DEFAULT_DRY_CHECKPOINT, load_model
from ddspfx.estimator import Estimator, line_up_dry
from ddspfx.infer import main
from ddspfx.sources import make_source

SEEDS = (11, 12, 13)


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator(DEFAULT_DRY_CHECKPOINT)


def dry_clip(seed: int) -> np.ndarray:
    return make_source("synth").sample(np.random.default_rng(seed), 3.0)


def through(dry: np.ndarray, *plugins: pedalboard.Plugin) -> np.ndarray:
    return pedalboard.Pedalboard(list(plugins))(dry[None], SAMPLE_RATE, reset=True)[0].astype(np.float32)


def effects(estimator: Estimator, wet: np.ndarray, dry: np.ndarray) -> tuple[str, ...]:
    """What ``infer --dry`` reports: the dry lined up on the wet first, then the dry-aware model."""
    lined, _ = line_up_dry(dry, wet, SAMPLE_RATE)
    return tuple(estimator.analyse_many([wet], [lined])[0].chain.effects)


def test_the_shipped_dry_model_loads_with_its_card_and_hears_the_dry(estimator):
    model = load_model(DEFAULT_DRY_CHECKPOINT)
    assert model.metadata["sha256"] and model.metadata["model"]["frontend"]["paired"] is True
    assert model.metadata.get("presence_thresholds")  # calibrated, as the release rule requires
    assert DEFAULT_DRY_CHECKPOINT.with_name("default_dry_card.md").is_file()
    assert estimator.hears_dry


@pytest.mark.parametrize("seed", SEEDS)
def test_a_wet_that_is_the_dry_has_no_pedal(estimator, seed):
    dry = dry_clip(seed)
    assert effects(estimator, 0.5 * dry, dry) == ()  # another level only: nothing was done to the sound


@pytest.mark.parametrize("seed", SEEDS)
def test_heavy_distortion_is_heard(estimator, seed):
    dry = dry_clip(seed)
    assert "distortion" in effects(estimator, through(dry, pedalboard.Distortion(drive_db=36.0)), dry)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_long_loud_echo_is_a_delay(estimator, seed):
    dry = dry_clip(seed)
    wet = through(dry, pedalboard.Delay(delay_seconds=0.45, feedback=0.45, mix=0.5))
    assert "delay" in effects(estimator, wet, dry)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_dry_as_handed_over_does_not_change_the_answer(estimator, seed):
    """A DI track recorded 20 dB lower and 4 ms late is the same dry: the same pedals."""
    dry = dry_clip(seed)
    wet = through(dry, pedalboard.Distortion(drive_db=24.0), pedalboard.Reverb(room_size=0.7, wet_level=0.4))
    late = np.concatenate([np.zeros(int(0.004 * SAMPLE_RATE), np.float32), dry])[: dry.size]
    assert effects(estimator, wet, 0.1 * late) == effects(estimator, wet, dry)


def test_infer_dry_uses_the_shipped_dry_model(tmp_path, capsys):
    dry = dry_clip(SEEDS[0])
    sf.write(tmp_path / "wet.wav", through(dry, pedalboard.Distortion(drive_db=36.0)), SAMPLE_RATE, subtype="FLOAT")
    sf.write(tmp_path / "dry.wav", dry, SAMPLE_RATE, subtype="FLOAT")
    assert main([str(tmp_path / "wet.wav"), "--dry", str(tmp_path / "dry.wav"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == "dry-aware"
