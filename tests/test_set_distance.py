"""experiments.set_distance: the long-term spectrum distance hears pedals, not levels or an LFO's phase."""

from __future__ import annotations

import numpy as np
import pedalboard

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from experiments import set_distance


def _guitarish(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Decaying plucks with harmonics: enough of a guitar for a spectrum to tell pedals apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = np.zeros_like(t)
    for k, f0 in enumerate((196.0, 247.0, 294.0)):
        start = k * len(t) // 3
        tt = t[: len(t) - start]
        note = sum(np.sin(2 * np.pi * h * f0 * tt + rng.uniform(0, 6.28)) / h for h in range(1, 8))
        x[start:] += note * np.exp(-4.0 * tt)
    return (0.2 * x).astype(np.float32)


def test_the_long_term_spectrum_hears_a_distortion_not_a_level_or_an_lfo_slightly_off():
    x = _guitarish()
    def chorus(rate: float) -> np.ndarray:
        return pedalboard.Chorus(rate_hz=rate, depth=0.5, mix=0.5)(x[None], SAMPLE_RATE)[0]

    a, b = chorus(1.0), chorus(1.04)  # the same chorus, its LFO 4 % off: frame by frame the phase drifts apart
    dist = pedalboard.Distortion(drive_db=20.0)(x[None], SAMPLE_RATE)[0]
    assert set_distance.ltas_distance(x, 0.05 * x) < 1e-6  # the level is not a pedal
    assert set_distance.ltas_distance(a, b) < 0.25 * set_distance.ltas_distance(x, dist)


def test_candidates_are_the_estimate_each_pedal_added_and_each_left_out():
    chain = Chain([Pedal("distortion", {"drive_db": 20.0}), Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.2,
                                                                            "mix": 0.3})])
    sets = [c.effects for c in set_distance.candidates(chain)]
    assert sets[0] == ["distortion", "delay"]
    added = sets[1:1 + len(EFFECT_NAMES) - 2]
    assert sorted(e for s in added for e in s if e not in ("distortion", "delay")) == sorted(
        e for e in EFFECT_NAMES if e not in ("distortion", "delay"))
    assert sets[-2:] == [["delay"], ["distortion"]]
    assert set_distance.choose_set([["a"], ["a", "b"]], [1.0, 0.85], 0.1) == 1  # 15 % closer beats a 10 % margin
    assert set_distance.choose_set([["a"], ["a", "b"]], [1.0, 0.95], 0.1) == 0
