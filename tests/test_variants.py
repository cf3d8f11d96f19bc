"""Domain-randomisation variants (ddspfx/variants.py) against closed forms, scipy and pedalboard."""

from __future__ import annotations

import math

import numpy as np
import pedalboard
import pytest
from scipy import signal

from ddspfx import variants as V
from ddspfx.chain import Chain
from ddspfx.config import Config
from ddspfx.datamodule import make_dataset
from ddspfx.render import render_chain

SR = 44_100


def _impulse(n: int = SR, at: int = 0) -> np.ndarray:
    x = np.zeros(n, np.float32)
    x[at] = 1.0
    return x


@pytest.mark.parametrize("drive_db", [0.0, 12.0, 30.0])
def test_clipper_shapes_known_values(drive_db: float) -> None:
    g = 10 ** (drive_db / 20)
    x = np.linspace(-1, 1, 401, dtype=np.float32)
    np.testing.assert_allclose(V.clipper(x, drive_db, "hard"), np.clip(g * x, -1, 1), atol=1e-6)
    cubic = V.clipper(x, drive_db, "cubic")
    assert np.max(np.abs(cubic)) <= 1.0 + 1e-6
    assert V.clipper(np.array([1 / g], np.float32), drive_db, "cubic")[0] == pytest.approx(1.0, abs=1e-5)
    assert V.clipper(np.array([1e-5], np.float32), drive_db, "cubic")[0] / 1e-5 == pytest.approx(1.5 * g, rel=1e-3)
    asym = V.clipper(x, drive_db, "asym", bias=0.3)
    assert V.clipper(np.zeros(1, np.float32), drive_db, "asym", bias=0.3)[0] == pytest.approx(0.0, abs=1e-7)
    np.testing.assert_allclose(asym, np.tanh(g * x + 0.3) - math.tanh(0.3), atol=1e-6)


def test_asymmetric_clipper_adds_even_harmonics() -> None:
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
    for shape, even in (("hard", False), ("cubic", False), ("asym", True)):
        spec = np.abs(np.fft.rfft(V.clipper(x, 20.0, shape, bias=0.4)))  # 1 Hz bins
        assert bool(spec[200] / spec[100] > 1e-2) is even, shape


@pytest.mark.parametrize("ratio", [2.0, 4.0, 20.0])
def test_feedback_compressor_static_curve_matches_pedalboard(ratio: float) -> None:
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    ours = V.feedback_compressor(x, SR, -30.0, ratio, 5.0, 100.0, knee_db=0.0)
    ref = pedalboard.Compressor(threshold_db=-30.0, ratio=ratio, attack_ms=5.0, release_ms=100.0)(x[None], SR)[0]
    level = lambda y: 20 * np.log10(np.max(np.abs(y[SR // 2:])))  # noqa: E731
    assert level(ours) == pytest.approx(level(ref), abs=0.5)  # settled level: -30 + 24 / ratio dB
    assert level(ours) == pytest.approx(-30 + (20 * np.log10(0.5) + 30) / ratio, abs=0.5)


def test_feedback_compressor_ratio_one_is_identity() -> None:
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.5
    np.testing.assert_allclose(V.feedback_compressor(x, SR, -40.0, 1.0, 1.0, 50.0, knee_db=6.0), x, atol=1e-6)


def _allpass_reference(x: np.ndarray, fc: float, stages: int, fb: float) -> np.ndarray:
    """scipy: ``A(z) = (a + z^-1) / (1 + a z^-1)`` to the power ``stages``, inverted unit-delay feedback."""
    w = math.tan(math.pi * fc / SR)
    a = (w - 1) / (w + 1)
    if fb == 0.0:  # stage by stage: a 12th-order direct form is ill-conditioned
        for _ in range(stages):
            x = signal.lfilter([a, 1.0], [1.0, a], x)
        return x
    num, den = np.array([1.0]), np.array([1.0])
    for _ in range(stages):
        num, den = np.polymul(num, [a, 1.0]), np.polymul(den, [1.0, a])
    # y = H (x - fb z^-1 y)  ->  Y/X = N / (D + fb z^-1 N)
    den = np.polyadd(np.concatenate([den, [0.0]]), fb * np.concatenate([[0.0], num]))
    return signal.lfilter(num, den, x)


@pytest.mark.parametrize("stages, fb", [(2, 0.7), (6, 0.5), (12, 0.0)])
def test_phaser_without_sweep_is_the_allpass_cascade(stages: int, fb: float) -> None:
    x = np.random.default_rng(1).standard_normal(8000).astype(np.float32)
    ours = V.allpass_phaser(x, SR, rate_hz=1.0, depth=0.0, centre_frequency_hz=700.0, feedback=fb, mix=1.0,
                            stages=stages)
    np.testing.assert_allclose(ours, _allpass_reference(x.astype(np.float64), 700.0, stages, fb), atol=1e-4)


def test_phaser_sweep_moves_the_notches() -> None:
    x = np.random.default_rng(2).standard_normal(SR).astype(np.float32)
    y = V.allpass_phaser(x, SR, rate_hz=1.0, depth=1.0, centre_frequency_hz=700.0, feedback=0.0, mix=0.5,
                         stages=6, octaves=3.0)
    _, _, z = signal.stft(y, SR, nperseg=2048)
    quarter, three_quarters = np.abs(z[:, 11:12]).mean(1), np.abs(z[:, 32:33]).mean(1)  # LFO at +1 and -1
    assert not np.allclose(quarter, three_quarters, rtol=0.2)


@pytest.mark.parametrize("mix", [0.0, 0.3, 0.6])
def test_delay_variant_equal_power_law(mix: float) -> None:
    y = V.delay_variant(_impulse(), SR, {"delay_seconds": 0.1, "feedback": 0.0, "mix": mix}, np.random.default_rng(0))
    d = int(np.float32(0.1) * SR)  # pedalboard truncates float32(seconds) * fs
    assert y[0] == pytest.approx(math.cos(math.pi * mix / 2), abs=1e-6)
    assert y[d] == pytest.approx(math.sin(math.pi * mix / 2), abs=1e-6)
    assert y[0] ** 2 + y[d] ** 2 == pytest.approx(1.0, abs=1e-5)


def test_reverb_variant_is_pedalboards_tank_after_a_pre_delay() -> None:
    params = {"room_size": 0.5, "damping": 0.3, "wet_level": 0.4, "dry_level": 0.7}
    x = _impulse()
    y = V.reverb_variant(x, SR, params, np.random.default_rng(3))
    tank = pedalboard.Reverb(**{**params, "dry_level": 0.0}, width=1.0, freeze_mode=0.0)(x[None], SR)[0]
    assert y[0] == pytest.approx(2 * 0.7, abs=1e-6)
    shift = int(np.flatnonzero(y[1:])[0]) + 1 - int(np.flatnonzero(tank)[0])
    assert 0.005 * SR - 1 <= shift <= 0.060 * SR
    np.testing.assert_allclose(y[shift + 1:], tank[1:SR - shift], atol=1e-6)


def test_eq_variant_centre_gain_within_its_scaling() -> None:
    t = np.arange(SR) / SR
    x = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    for seed in range(5):
        y = V.eq_variant(x, SR, {"cutoff_frequency_hz": 1000.0, "gain_db": 9.0, "q": 1.0}, np.random.default_rng(seed))
        gain_db = 20 * np.log10(np.abs(y[SR // 2:]).max() / 0.1)
        assert 0.8 * 9.0 - 0.1 <= gain_db <= 1.2 * 9.0 + 0.1


def test_chorus_variant_follows_the_mix_law() -> None:
    x = np.random.default_rng(4).standard_normal(SR // 2).astype(np.float32) * 0.3
    params = {"rate_hz": 1.0, "depth": 0.5, "centre_delay_ms": 7.0, "feedback": 0.2}
    wet = V.chorus_variant(x, SR, {**params, "mix": 1.0}, np.random.default_rng(5))
    half = V.chorus_variant(x, SR, {**params, "mix": 0.4}, np.random.default_rng(5))
    np.testing.assert_allclose(half, 0.6 * x + 0.4 * wet, atol=1e-5)
    pb = pedalboard.Chorus(**params, mix=1.0)(x[None], SR)[0]
    assert np.abs(wet - pb).max() > 1e-2  # a second voice, not pedalboard's single one


CHAIN = Chain.from_list([
    {"effect": "compressor", "params": {"threshold_db": -30.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}},
    {"effect": "distortion", "params": {"drive_db": 20.0}},
    {"effect": "phaser", "params": {"rate_hz": 1.0, "depth": 0.6, "centre_frequency_hz": 600.0, "feedback": 0.3,
                                    "mix": 0.5}},
    {"effect": "delay", "params": {"delay_seconds": 0.2, "feedback": 0.3, "mix": 0.3}},
])


def test_randomised_render_with_p0_is_pedalboards() -> None:
    dry = np.random.default_rng(6).standard_normal(SR).astype(np.float32) * 0.2
    ours, g = V.render_randomised(dry, CHAIN, SR, 0.0, np.random.default_rng(0))
    ref, g_ref = render_chain(dry, CHAIN, SR)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert g == pytest.approx(g_ref)
    other, g1 = V.render_randomised(dry, CHAIN, SR, 1.0, np.random.default_rng(0))
    assert np.abs(other).max() <= 0.99 + 1e-6 and np.isfinite(other).all()
    assert np.abs(other - ref).max() > 1e-2


def test_training_split_randomises_and_keeps_dry_and_chain() -> None:
    cfg = Config()
    cfg.data.render_variants = 1.0
    train, val = make_dataset(cfg.data, "train"), make_dataset(cfg.data, "val")
    assert val.recipe.render_variants == 0.0  # validation stays pedalboard, as the test sets
    cfg.data.render_variants = 0.0
    plain = make_dataset(cfg.data, "train")
    changed = 0
    for i in range(6):
        a, b = train.example(i), plain.example(i)
        assert a.chain == b.chain and np.array_equal(a.dry, b.dry)
        changed += len(a.chain) > 0 and not np.allclose(a.wet, b.wet, atol=1e-4)
        assert len(a.chain) > 0 or np.array_equal(a.wet, b.wet)
    assert changed >= 1


def test_tremolo_variant_known_values() -> None:
    """Depth 0 is the identity; at depth 1 and a square shape the gain reaches 0 (silence) and 1 (the dry)."""
    x = np.full(SR, 0.5, dtype=np.float32)
    rng = np.random.default_rng(0)
    same = V.tremolo_variant(x, SR, {"rate_hz": 5.0, "depth": 0.0, "shape": 0.5}, rng)
    np.testing.assert_allclose(same, x, atol=1e-6)
    y = V.tremolo_variant(x, SR, {"rate_hz": 5.0, "depth": 1.0, "shape": 1.0}, rng)
    assert y.min() < 0.01 and y.max() > 0.49


def test_fuzz_variant_is_bounded_and_dark_with_a_low_tone() -> None:
    """A hard-driven clipper stays within its rails; a 400-Hz tone leaves far less energy above 4 kHz than 6 kHz."""
    t = np.arange(SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)

    def high(y: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(y)) ** 2
        return float(spec[np.fft.rfftfreq(y.size, 1 / SR) > 4000].sum() / spec.sum())

    dark = V.fuzz_variant(x, SR, {"gain_db": 40.0, "tone_hz": 400.0}, np.random.default_rng(1))
    bright = V.fuzz_variant(x, SR, {"gain_db": 40.0, "tone_hz": 6000.0}, np.random.default_rng(1))
    assert np.abs(bright).max() <= 2.0 and np.isfinite(dark).all()
    assert high(dark) < 0.2 * high(bright)


def test_octave_variant_with_only_the_dry_is_the_identity() -> None:
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(SR // 2) / SR)).astype(np.float32)
    y = V.octave_variant(x, SR, {"dry_level": 1.0, "down_level": 0.0, "up_level": 0.0}, np.random.default_rng(0))
    np.testing.assert_allclose(y, x, atol=1e-5)
