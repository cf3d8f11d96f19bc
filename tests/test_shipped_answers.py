"""A regression pin: the shipped models' answers to a few generated clips, through ``python -m ddspfx.infer --json``.

These are not facts about the sound (tests/test_shipped.py checks those): they are what the shipped models answered
at commit 705589d, recorded before the command line and the library were split apart (issue 31) and before the
decoding was made faster (issue 30). Refactors and speed-ups must leave them as they are (knobs to 4 significant
digits, confidences to the 4 decimals the JSON prints); a change of the shipped checkpoints is the one reason to
record them again (run the clips below through ``infer --json`` and copy the answers). Recorded again once: the blind
model's knobs (BLIND, DEMO) on 2026-12-07, when it switched to reading them from its decoder's bins under
experiments/results/knob_readout/rule.md; the effects, confidences and orders did not change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pedalboard as pb
import pytest
import soundfile as sf

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.checkpoint import DEFAULT_DRY_CHECKPOINT
from ddspfx.infer import main
from ddspfx.sources import make_source

CLIPS: dict[str, tuple[int, float, list[pb.Plugin]]] = {  # name: (seed of the synth phrase, seconds, pedals)
    "dist_delay3": (11, 3.0, [pb.Distortion(drive_db=30.0), pb.Delay(delay_seconds=0.3, feedback=0.3, mix=0.4)]),
    "chorus_reverb2": (12, 2.0, [pb.Chorus(rate_hz=1.5, depth=0.5, centre_delay_ms=7.0, feedback=0.1, mix=0.5),
                                 pb.Reverb(room_size=0.6, wet_level=0.4, dry_level=0.7)]),
    "comp_phaser7": (13, 7.0, [pb.Compressor(threshold_db=-24.0, ratio=6.0), pb.Phaser(rate_hz=0.8, depth=0.7, mix=0.6)]),
    "eq_dist3": (14, 3.0, [pb.PeakFilter(cutoff_frequency_hz=800.0, gain_db=8.0, q=1.0), pb.Distortion(drive_db=20.0)]),
}

Answer = tuple[list[tuple[str, dict[str, float]]], dict[str, float], float, int]
"""(chain as (effect, knobs), effect confidences, order confidence, windows)."""

BLIND: dict[str, Answer] = {
    "dist_delay3": (
        [("distortion", {"drive_db": 28.17}),
         ("delay", {"delay_seconds": 0.2814, "feedback": 0.3667, "mix": 0.4123})],
        {"compressor": 0.0584, "distortion": 0.9995, "eq": 0.1496, "chorus": 0.0005, "phaser": 0.0021,
         "delay": 0.9997, "reverb": 0.0025}, 1.0, 1),
    "chorus_reverb2": (
        [("chorus", {"rate_hz": 1.311, "depth": 0.6628, "centre_delay_ms": 10.8, "feedback": 0.07913, "mix": 0.623}),
         ("reverb", {"room_size": 0.6299, "damping": 0.5261, "wet_level": 0.3287, "dry_level": 0.7823})],
        {"compressor": 0.0017, "distortion": 0.0011, "eq": 0.3135, "chorus": 0.995, "phaser": 0.208, "delay": 0.003,
         "reverb": 0.9998}, 0.9936, 1),
    "comp_phaser7": (
        [("compressor", {"threshold_db": -26.01, "ratio": 8.308, "attack_ms": 1.33, "release_ms": 82.12}),
         ("phaser", {"rate_hz": 0.9633, "depth": 0.8132, "centre_frequency_hz": 629.8, "feedback": 0.09625,
                     "mix": 0.5748}),
         ("eq", {"cutoff_frequency_hz": 1281.0, "gain_db": -8.48, "q": 1.1})],
        {"compressor": 0.9987, "distortion": 0.2998, "eq": 0.5275, "chorus": 0.0018, "phaser": 0.9996,
         "delay": 0.0033, "reverb": 0.0006}, 0.7171, 4),
    "eq_dist3": (
        [("distortion", {"drive_db": 18.59})],
        {"compressor": 0.1489, "distortion": 0.9986, "eq": 0.4116, "chorus": 0.0006, "phaser": 0.0097,
         "delay": 0.0017, "reverb": 0.0007}, 1.0, 1),
}

WITH_DRY: dict[str, tuple[Answer, str]] = {  # the dry-aware model's answer, and the distances --dry measures
    "dist_delay3": ((
        [("distortion", {"drive_db": 31.01}), ("delay", {"delay_seconds": 0.293, "feedback": 0.44, "mix": 0.3654})],
        {"compressor": 0.0431, "distortion": 0.9998, "eq": 0.0255, "chorus": 0.0018, "phaser": 0.0034,
         "delay": 0.9999, "reverb": 0.0291}, 1.0, 1), "dry 6.083, estimate 1.250"),
    "eq_dist3": ((
        [("distortion", {"drive_db": 18.62}), ("eq", {"cutoff_frequency_hz": 1141.0, "gain_db": 9.617, "q": 1.114})],
        {"compressor": 0.1481, "distortion": 0.9986, "eq": 0.938, "chorus": 0.003, "phaser": 0.0403,
         "delay": 0.0005, "reverb": 0.0023}, 0.8402, 1), "dry 2.796, estimate 1.403"),
}

DEMO = {  # --demo --seed S: the estimate as the text prints it
    0: "estimated: distortion (drive 30.1 dB)",
    1: "estimated: chorus (rate 4.4 Hz, depth 0.87, delay 4.9 ms, feedback 0.35, mix 0.72) -> distortion "
       "(drive 36.3 dB)",
    2: "estimated: distortion (drive 16.1 dB) -> eq (freq 1493 Hz, gain -9.0 dB, Q 0.97) -> chorus (rate 0.76 Hz, "
       "depth 0.76, delay 10.8 ms, feedback 0.41, mix 0.51) -> reverb (room 0.38, damping 0.29, wet 0.39, dry 0.68)",
}


def write_clip(folder: Path, name: str) -> tuple[Path, Path]:
    """The clip ``name`` of :data:`CLIPS` and its dry, as float wav files in ``folder``."""
    seed, seconds, pedals = CLIPS[name]
    dry = make_source("synth").sample(np.random.default_rng(seed), seconds)
    wet = pb.Pedalboard(pedals)(dry[None], SAMPLE_RATE, reset=True)[0]
    wet = (0.9 * wet / np.max(np.abs(wet))).astype(np.float32)
    paths = folder / f"{name}.wav", folder / f"{name}_dry.wav"
    sf.write(paths[0], wet, SAMPLE_RATE, subtype="FLOAT")
    sf.write(paths[1], dry, SAMPLE_RATE, subtype="FLOAT")
    return paths


def assert_answer(obj: dict[str, Any], expected: Answer) -> None:
    chain, effects, order, windows = expected
    assert [p["effect"] for p in obj["chain"]] == [e for e, _ in chain]
    for pedal, (_, knobs) in zip(obj["chain"], chain):
        assert pedal["params"] == pytest.approx(knobs, rel=1e-3)  # 4 significant digits
    assert obj["confidence"]["effects"] == pytest.approx(effects, abs=2e-4)
    assert obj["confidence"]["order"] == pytest.approx(order, abs=2e-4)
    assert obj["windows"] == windows


@pytest.mark.parametrize("name", list(BLIND))
def test_the_shipped_model_answers_as_before(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wet, _ = write_clip(tmp_path, name)
    assert main([str(wet), "--json"]) == 0
    assert_answer(json.loads(capsys.readouterr().out), BLIND[name])


@pytest.mark.skipif(not DEFAULT_DRY_CHECKPOINT.is_file(), reason="no shipped dry-aware model")
@pytest.mark.parametrize("name", list(WITH_DRY))
def test_the_shipped_dry_aware_model_answers_as_before(name: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    wet, dry = write_clip(tmp_path, name)
    assert main([str(wet), "--dry", str(dry), "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    answer, distances = WITH_DRY[name]
    assert_answer(obj, answer)
    assert obj["estimate"] == "dry-aware" and obj["dry_offset_ms"] == 0.0
    assert f"distance to the clip: {distances}" in obj["refine"]


@pytest.mark.parametrize("seed", list(DEMO))
def test_the_demo_answers_as_before(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo", "--seed", str(seed)]) == 0
    assert DEMO[seed] in capsys.readouterr().out
