"""The modal guitar, the mix source spec and the held-out subtractive guitar against closed forms and scipy."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from scipy import signal

from ddspfx.errors import DdspfxError
from ddspfx.sources import TARGET_DBFS, MixSource, make_source
from ddspfx.sources.modal import _damped_partials, modal_note, partial_frequencies

SR = 44_100


def test_stiff_string_partials_known_values() -> None:
    f = partial_frequencies(100.0, 1e-3, 3)
    np.testing.assert_allclose(f, [100 * math.sqrt(1.001), 200 * math.sqrt(1.004), 300 * math.sqrt(1.009)])
    np.testing.assert_allclose(partial_frequencies(110.0, 0.0, 4), [110, 220, 330, 440])


def test_damped_partials_match_the_closed_form() -> None:
    n = 3000
    w = np.array([2 * math.pi * 440 / SR, 2 * math.pi * 1330 / SR])
    r = np.exp(-1.0 / (np.array([0.5, 0.05]) * SR))
    amp, ph = np.array([1.0, 0.3]), np.array([0.2, 1.1])
    i = np.arange(n)
    ref = (amp[:, None] * r[:, None] ** i * np.sin(w[:, None] * i + ph[:, None])).sum(0)
    np.testing.assert_allclose(_damped_partials(n, w, r, amp, ph), ref, atol=1e-9)


def test_modal_note_pitch_and_release() -> None:
    n = SR
    y = modal_note(220.0, n, SR, np.random.default_rng(0), release=SR // 2)
    assert np.all(y[SR // 2 + int(0.02 * SR):] == 0)  # damped by the finger after a 20 ms fade
    spec = np.abs(np.fft.rfft(y[: SR // 2] * np.hanning(SR // 2)))
    freqs = np.fft.rfftfreq(SR // 2, 1 / SR)
    peaks = freqs[signal.find_peaks(spec, height=spec.max() * 0.05)[0]]
    assert np.min(np.abs(peaks - 220.0)) < 4.0  # a partial at the fundamental (2 Hz bins, vibrato <= 15 cents)


def test_modal_source_level_and_determinism() -> None:
    src = make_source("modal")
    a, b = src.sample(np.random.default_rng(7), 2.0), src.sample(np.random.default_rng(7), 2.0)
    assert a.shape == (2 * SR,) and a.dtype == np.float32 and np.array_equal(a, b)
    assert 20 * np.log10(np.sqrt(np.mean(a**2))) == pytest.approx(TARGET_DBFS, abs=0.5)


def test_mix_draws_its_parts_with_the_weights() -> None:
    mix = make_source("mix:synth=3,modal=1")
    assert isinstance(mix, MixSource) and mix.name == "mix:synth=0.75,modal=0.25"
    rng = np.random.default_rng(0)
    picks = [int(rng.choice(2, p=mix.weights)) for _ in range(4000)]
    assert np.mean(picks) == pytest.approx(0.25, abs=0.03)
    # a clip is exactly the chosen part's clip for the same generator state
    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    part = mix.sources[int(r2.choice(2, p=mix.weights))]
    np.testing.assert_array_equal(mix.sample(r1, 1.0), part.sample(r2, 1.0))


@pytest.mark.parametrize("spec", ["mix:", "mix:synth=0", "mix:synth=x", "mix:mix:synth=1", "mix:synth=1,nope=1"])
def test_bad_mix_specs_are_refused(spec: str) -> None:
    with pytest.raises(DdspfxError):
        make_source(spec)


def _load_subtractive():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "subtractive_guitar.py"
    spec = importlib.util.spec_from_file_location("subtractive_guitar", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["subtractive_guitar"] = mod  # numba's cache looks the module up by name
    spec.loader.exec_module(mod)
    return mod


sub = _load_subtractive()


def test_polyblep_saw_is_a_sawtooth_away_from_the_jumps() -> None:
    f0 = 441.0  # 100 samples per period
    y = sub.polyblep_saw(f0, 1000, SR)
    phase = (np.arange(1000) * f0 / SR) % 1.0
    away = (phase > 0.02) & (phase < 0.98)
    np.testing.assert_allclose(y[away], 2 * phase[away] - 1, atol=1e-9)
    pulse = sub.polyblep_saw(f0, 1000, SR, pulse_width=0.3)
    # saw(p) - saw(p + 1 - w): -2(1 - w) for the first w of each period, 2w after it; DC-free
    away = (np.abs(phase - 0.3) > 0.02) & away
    np.testing.assert_allclose(pulse[away], np.where(phase[away] < 0.3, -1.4, 0.6), atol=1e-9)
    assert abs(np.mean(pulse[:900])) < 0.02


def test_svf_lowpass_matches_the_bilinear_prototype() -> None:
    x = np.random.default_rng(0).standard_normal(4000)
    fc, q = 1500.0, 2.0
    g = math.tan(math.pi * fc / SR)
    ours = sub._svf_lowpass(x, np.full(x.size, g), 1.0 / q)
    ref = signal.lfilter(*_bilinear_lowpass(g, q), x)  # H(s) = 1 / (s^2 + s/q + 1), pre-warped bilinear
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def _bilinear_lowpass(g: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Digital 2-pole low-pass: s = (1 - z^-1) / (g (1 + z^-1)) substituted in 1 / (s^2 + s/q + 1)."""
    # numerator g^2 (1 + z^-1)^2; denominator (1 - z^-1)^2 + (g/q)(1 - z^-2) + g^2 (1 + z^-1)^2
    num = g * g * np.array([1.0, 2.0, 1.0])
    den = np.array([1.0, -2.0, 1.0]) + (g / q) * np.array([1.0, 0.0, -1.0]) + g * g * np.array([1.0, 2.0, 1.0])
    return num / den[0], den / den[0]


def test_subtractive_phrase_is_finite_and_high_passed() -> None:
    y = sub.subtractive_phrase(np.random.default_rng(1), 2.0, SR)
    assert y.shape == (2 * SR,) and np.isfinite(y).all() and np.abs(y).max() > 0
    f, p = signal.welch(y, SR, nperseg=8192)
    assert p[f < 20].mean() < 1e-2 * p[(f > 100) & (f < 2000)].mean()  # the DI high-pass removes the sub-bass
