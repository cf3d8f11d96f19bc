"""Time-varying / nonlinear proxies (compressor, chorus, phaser) against pedalboard, closed
forms, scipy and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from ddspfx.catalog import pedalboard_plugin
from ddspfx.proxies import apply
from ddspfx.proxies.compressor import ballistics_coefficient
from ddspfx.proxies.lfo import juce_increment, juce_sine
from ddspfx.proxies.recursions import ChorusDelay, OnePole, PhaserLoop

# max abs error vs pedalboard on float32 input (NOTES-pedalboard: exact up to float32 rounding)
TOLERANCE = {"compressor": 1e-5, "chorus": 1e-4, "phaser": 1e-4}

SETTINGS = {
    "compressor": [
        dict(threshold_db=-30.0, ratio=6.0, attack_ms=2.0, release_ms=100.0),
        dict(threshold_db=-14.0, ratio=2.5, attack_ms=0.5, release_ms=20.0),
        dict(threshold_db=-45.0, ratio=20.0, attack_ms=50.0, release_ms=500.0),
    ],
    "chorus": [
        dict(rate_hz=1.3, depth=0.7, centre_delay_ms=7.0, feedback=0.4, mix=0.5),
        dict(rate_hz=5.0, depth=1.0, centre_delay_ms=2.0, feedback=0.0, mix=0.8),  # hits the 1 ms floor
        dict(rate_hz=0.1, depth=0.25, centre_delay_ms=20.0, feedback=0.5, mix=0.35),
    ],
    "phaser": [
        dict(rate_hz=1.3, depth=0.7, centre_frequency_hz=700.0, feedback=0.5, mix=0.5),
        dict(rate_hz=5.0, depth=1.0, centre_frequency_hz=2000.0, feedback=0.7, mix=0.8),  # hits the clamps
        dict(rate_hz=0.1, depth=0.2, centre_frequency_hz=200.0, feedback=0.0, mix=0.4),
    ],
}


def plucked(sample_rate: float, seconds: float = 0.5, f0: float = 147.0, seed: int = 0) -> np.ndarray:
    """A guitar-like decaying harmonic tone with a noisy attack, peak 0.5. (T,) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h**1.2 for h in range(1, 9))
    x = x * np.exp(-4.0 * t) + 0.3 * rng.standard_normal(t.size) * np.exp(-200.0 * t)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def pedalboard_render(effect: str, x: np.ndarray, sample_rate: float, params: dict) -> np.ndarray:
    return pedalboard_plugin(effect, params)(x, sample_rate, reset=True)


# --- fidelity vs pedalboard -------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [44100, 22050])
@pytest.mark.parametrize("effect,setting", [(e, i) for e in SETTINGS for i in range(3)])
def test_matches_pedalboard(effect: str, setting: int, sample_rate: int) -> None:
    params = SETTINGS[effect][setting]
    x = plucked(sample_rate, seed=setting)
    ref = pedalboard_render(effect, x[None], sample_rate, params)[0]
    y = apply(effect, torch.from_numpy(x)[None, None], sample_rate, **params)[0, 0]
    assert y.dtype == torch.float32 and y.shape[-1] == x.size
    assert np.abs(y.numpy() - ref).max() < TOLERANCE[effect]


@pytest.mark.parametrize("effect", list(SETTINGS))
def test_batched_stereo_float64_matches_pedalboard(effect: str) -> None:
    """(B,) params, two channels with a shared LFO, float64 in and out, at 48 kHz."""
    sr = 48000
    x = np.stack([np.stack([plucked(sr, 0.3, f0=110.0, seed=2 * b), plucked(sr, 0.3, f0=196.0, seed=2 * b + 1)]) for b in range(2)])
    settings = SETTINGS[effect][:2]
    params = {k: torch.tensor([s[k] for s in settings], dtype=torch.float64) for k in settings[0]}
    y = apply(effect, torch.from_numpy(x).double(), sr, **params)
    assert y.dtype == torch.float64 and y.shape == x.shape
    for b in range(2):
        ref = pedalboard_render(effect, x[b], sr, settings[b])
        assert np.abs(y[b].numpy() - ref).max() < TOLERANCE[effect]


# --- closed forms -------------------------------------------------------------------------------


def test_lfo_is_minus_sine_with_juce_increment() -> None:
    rate = torch.tensor([1.7, 0.3], dtype=torch.float64)
    lfo = juce_sine(rate, 44100.0, 44100)
    ideal = -torch.sin(2 * math.pi * rate[:, None] * torch.arange(44100, dtype=torch.float64) / 44100.0)
    assert lfo[:, 0].abs().max() < 1e-6  # phase starts at 0: sin(0 - pi)
    assert (lfo - ideal).abs().max() < 1e-3  # float32 accumulation drift only
    # the float32 increment is what JUCE adds each sample
    assert juce_increment(np.array([1.7]), 44100.0).dtype == np.float32


def test_ballistics_coefficient_has_the_two_pi() -> None:
    k = ballistics_coefficient(torch.tensor([1.0, 0.0]), 44100.0)
    assert abs(float(k[0]) - 0.8672) < 1e-4 and float(k[1]) == 0.0


def test_compressor_dc_step_closed_form() -> None:
    """A DC step of amplitude A: e[n] = A (1 - kA^(n+1)), gain (e/T)^(1/ratio - 1) above T."""
    sr, amp, thr_db, ratio, attack = 8000.0, 0.5, -20.0, 4.0, 5.0
    x = torch.full((1, 1, 400), amp, dtype=torch.float64)
    y = apply("compressor", x, sr, threshold_db=thr_db, ratio=ratio, attack_ms=attack, release_ms=100.0)[0, 0]
    k = math.exp(-2 * math.pi * 1000 / (sr * attack))
    env = amp * (1 - k ** np.arange(1, 401))
    thr = 10 ** (thr_db / 20)
    gain = np.where(env < thr, 1.0, (env / thr) ** (1 / ratio - 1))
    np.testing.assert_allclose(y.numpy(), amp * gain, rtol=1e-12)
    assert abs(float(y[-1]) / amp - (amp / thr) ** (1 / ratio - 1)) < 1e-9  # steady state


def test_compressor_sine_steady_state_and_identity_below_threshold() -> None:
    """Instant attack + slow release: a peak follower holds a sine's amplitude A."""
    sr = 44100
    t = torch.arange(sr // 2, dtype=torch.float64) / sr
    for amp in (0.5, 0.02):
        x = (amp * torch.sin(2 * math.pi * 1000.0 * t))[None, None]
        y = apply("compressor", x, sr, threshold_db=-20.0, ratio=4.0, attack_ms=0.0, release_ms=500.0)
        tail = slice(sr // 4, None)
        gain = (y[..., tail].abs().max() / amp).item()
        expected = (amp / 0.1) ** (1 / 4 - 1) if amp > 0.1 else 1.0
        assert abs(gain - expected) < 0.01 * expected
    assert torch.equal(y, x)  # 0.02 < 0.1: exactly the identity


def test_chorus_without_modulation_is_a_fractional_delay() -> None:
    sr, centre = 44100.0, 5.3
    x = torch.randn(1, 1, 2000, dtype=torch.float64)
    y = apply("chorus", x, sr, rate_hz=1.0, depth=0.0, centre_delay_ms=centre, feedback=0.0, mix=1.0)[0, 0]
    d = float(np.float32(float(np.float32(centre)) * sr / 1000))  # JUCE holds the delay in float32
    i, f = int(d), d - int(d)
    xs = x[0, 0].numpy()
    ref = np.zeros_like(xs)
    ref[i:] += (1 - f) * xs[: xs.size - i]
    ref[i + 1 :] += f * xs[: xs.size - i - 1]
    np.testing.assert_allclose(y.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("sample_rate", [44100.0, 22050.0])
def test_phaser_without_modulation_is_six_allpasses(sample_rate: float) -> None:
    """Depth 0, no feedback, mix 1: six bilinear allpasses (a + z^-1)/(1 + a z^-1), a = (g-1)/(g+1)."""
    centre = 700.0
    x = np.random.default_rng(1).standard_normal(3000)
    y = apply("phaser", torch.from_numpy(x)[None, None], sample_rate, rate_hz=1.0, depth=0.0,
              centre_frequency_hz=centre, feedback=0.0, mix=1.0)[0, 0].numpy()
    hi = min(20000.0, 0.49 * sample_rate)
    cutoff = 20.0 * (hi / 20.0) ** (math.log10(centre / 20.0) / math.log10(1000.0))  # centre normalised at 44.1k
    g = math.tan(math.pi * cutoff / sample_rate)
    a = (g - 1) / (g + 1)
    ref = x
    for _ in range(6):
        ref = scipy.signal.lfilter([a, 1.0], [1.0, a], ref)
    np.testing.assert_allclose(y, ref, atol=1e-10)


# --- gradients ----------------------------------------------------------------------------------


def test_gradcheck_one_pole() -> None:
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(2, 40, generator=g, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    b = torch.randn(2, 40, generator=g, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(OnePole.apply, (a, b))


def test_gradcheck_chorus_delay() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 40, generator=g, dtype=torch.float64).requires_grad_()
    fb = torch.tensor([0.5, -0.3], dtype=torch.float64).requires_grad_()
    d = (0.2 + torch.rand(2, 40, generator=g, dtype=torch.float64) * 0.6 + torch.randint(0, 6, (2, 40), generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(ChorusDelay.apply, (x, fb, d))


def test_gradcheck_phaser_loop() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 40, generator=g, dtype=torch.float64).requires_grad_()
    fb = torch.tensor([0.6, -0.4], dtype=torch.float64).requires_grad_()
    G = (0.05 + 0.9 * torch.rand(2, 40, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(PhaserLoop.apply, (x, fb, G))


PROXY_GRADCHECK = {
    "compressor": dict(threshold_db=[-25.0, -18.0], ratio=[4.0, 2.5], attack_ms=[3.0, 8.0], release_ms=[40.0, 25.0]),
    "chorus": dict(rate_hz=[7.0, 3.0], depth=[0.3, 0.5], centre_delay_ms=[6.3, 8.7], feedback=[0.4, 0.2], mix=[0.5, 0.6]),
    "phaser": dict(rate_hz=[7.0, 3.0], depth=[0.6, 0.4], centre_frequency_hz=[150.0, 90.0], feedback=[0.5, 0.3], mix=[0.5, 0.7]),
}


@pytest.mark.parametrize("effect", list(PROXY_GRADCHECK))
def test_gradcheck_proxy(effect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """float64, B=2, C=1, 64 samples at 1 kHz (delays of a few samples); all inputs and params.

    The LFO's float32 phase replay is a no-grad correction that jumps with the rate's float32
    rounding, which would swamp finite differences; it is switched off here (same analytic grad).
    """
    monkeypatch.setattr("ddspfx.proxies.lfo.EMULATE_FLOAT32_PHASE", False)
    names = list(PROXY_GRADCHECK[effect])
    x = (0.3 * torch.randn(2, 1, 64, generator=torch.Generator().manual_seed(3), dtype=torch.float64)).requires_grad_()
    values = [torch.tensor(PROXY_GRADCHECK[effect][n], dtype=torch.float64, requires_grad=True) for n in names]

    def fn(x: torch.Tensor, *vals: torch.Tensor) -> torch.Tensor:
        return apply(effect, x, 1000.0, **dict(zip(names, vals)))

    assert torch.autograd.gradcheck(fn, (x, *values), atol=1e-6, rtol=1e-4)


REALISTIC = {
    "compressor": dict(threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=80.0),
    "chorus": SETTINGS["chorus"][0],
    "phaser": SETTINGS["phaser"][0],
}


@pytest.mark.parametrize("effect", list(REALISTIC))
def test_finite_nonzero_grads_on_guitar(effect: str) -> None:
    x = torch.from_numpy(plucked(44100, 0.5))[None, None].requires_grad_()
    params = {k: torch.tensor([v], requires_grad=True) for k, v in REALISTIC[effect].items()}
    target = torch.from_numpy(pedalboard_render(effect, plucked(44100, 0.5, seed=5)[None], 44100, REALISTIC[effect]))[None]
    loss = (apply(effect, x, 44100, **params) - target).pow(2).mean()
    loss.backward()
    for name, p in [("x", x), *params.items()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name


def test_numba_kernels_work_without_a_writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no cache locator (read-only package dir and home), numba raises at decoration; we fall back."""
    import numba.core.caching

    from ddspfx.proxies.recursions import _jit

    impl = getattr(numba.core.caching, "CacheImpl", None) or numba.core.caching._CacheImpl  # renamed in numba 0.61
    monkeypatch.setattr(impl, "_locator_classes", [])

    def cumulative(a: np.ndarray) -> float:
        s = 0.0
        for v in a:
            s += v
        return s

    assert _jit(cumulative)(np.arange(5.0)) == 10.0
