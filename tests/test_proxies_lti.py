"""Distortion, PeakFilter, Delay and Reverb proxies against closed forms, scipy and pedalboard.

Gradients: float64 gradcheck on short signals (low sample rates keep comb/delay lengths
short), and finite non-zero grads for every parameter on realistic audio.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard
import pytest
import scipy.signal
import torch

from ddspfx.proxies.delay import delay
from ddspfx.proxies.distortion import distortion
from ddspfx.proxies.eq import peak_filter
from ddspfx.proxies.fft import as_param, fft_convolve, lti_filter, next_pow2, poly_z
from ddspfx.proxies.reverb import freeverb_lengths, reverb
from experiments.proxy_fidelity import guitar_clip

SR = 44100


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.2 * rng.standard_normal((2, SR // 2))).astype(np.float32)  # (2, T)


def pb(plugin, x: np.ndarray, sr: float = SR) -> np.ndarray:
    return plugin(np.ascontiguousarray(x, dtype=np.float32), float(sr), reset=True)


def proxy_np(fn, x: np.ndarray, sr: float = SR, **params) -> np.ndarray:
    with torch.no_grad():
        return fn(torch.from_numpy(np.ascontiguousarray(x))[None], sr, **params)[0].numpy()


# --- building blocks ------------------------------------------------------------------------


def test_next_pow2() -> None:
    assert [next_pow2(n) for n in (1, 2, 3, 1000, 1024, 1025)] == [1, 2, 4, 1024, 1024, 2048]


def test_fft_convolve_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x, h = rng.standard_normal((2, 3, 300)), rng.standard_normal((1, 3, 50))
    y = fft_convolve(torch.from_numpy(x), torch.from_numpy(h)).numpy()
    ref = np.stack([[np.convolve(x[b, c], h[0, c])[:300] for c in range(3)] for b in range(2)])
    np.testing.assert_allclose(y, ref, atol=1e-10)


def test_lti_filter_matches_lfilter_for_slow_iir() -> None:
    # a pole at 0.9995 rings for ~50k samples, far beyond the 2T FFT: the exponential window must remove the fold-over
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 4000))
    b, a = torch.tensor([[[1.0, 0.3]]], dtype=torch.float64), torch.tensor([[[1.0, -0.9995]]], dtype=torch.float64)
    y = lti_filter(torch.from_numpy(x), lambda s: poly_z(b, s) / poly_z(a, s)).numpy()
    ref = scipy.signal.lfilter([1.0, 0.3], [1.0, -0.9995], x[0, 0])
    np.testing.assert_allclose(y[0, 0], ref, atol=1e-7 * np.abs(ref).max())


def test_as_param_shapes() -> None:
    x = torch.zeros(4, 1, 10)
    assert as_param(1.5, x).shape == (1, 1, 1)
    assert as_param(torch.arange(4.0), x).shape == (4, 1, 1)
    with pytest.raises(ValueError, match="parameter"):
        as_param(torch.zeros(3), x)


# --- distortion -----------------------------------------------------------------------------


@pytest.mark.parametrize("drive_db, gain", [(0.0, 1.0), (20.0, 10.0), (40.0, 100.0), (20 * math.log10(2), 2.0)])
def test_distortion_closed_form(drive_db: float, gain: float) -> None:
    x = torch.linspace(-1, 1, 101, dtype=torch.float64).reshape(1, 1, -1)
    np.testing.assert_allclose(distortion(x, SR, drive_db).numpy(), np.tanh(gain * x.numpy()), atol=1e-12)


@pytest.mark.parametrize("drive_db", [0.0, 12.5, 40.0])
def test_distortion_matches_pedalboard(noise: np.ndarray, drive_db: float) -> None:
    ref = pb(pedalboard.Distortion(drive_db=drive_db), noise)
    assert np.abs(proxy_np(distortion, noise, drive_db=drive_db) - ref).max() < 1e-6


# --- peak filter ----------------------------------------------------------------------------


def rbj_peak(f: float, gain_db: float, q: float, sr: float) -> tuple[np.ndarray, np.ndarray]:
    """The RBJ cookbook peaking EQ, written out independently of the proxy."""
    amp, w = 10 ** (gain_db / 40), 2 * np.pi * f / sr
    alpha = np.sin(w) / (2 * q)
    return (np.array([1 + alpha * amp, -2 * np.cos(w), 1 - alpha * amp]),
            np.array([1 + alpha / amp, -2 * np.cos(w), 1 - alpha / amp]))


@pytest.mark.parametrize("f, gain_db, q", [(200.0, 12.0, 4.0), (1000.0, -6.0, 0.7), (5000.0, 9.0, 0.5)])
def test_peak_gain_at_centre(f: float, gain_db: float, q: float) -> None:
    imp = torch.zeros(1, 1, 16384, dtype=torch.float64)
    imp[..., 0] = 1.0
    h = peak_filter(imp, SR, f, gain_db, q)[0, 0].numpy()
    response = np.sum(h * np.exp(-1j * 2 * np.pi * f / SR * np.arange(h.size)))
    assert abs(abs(response) - 10 ** (gain_db / 20)) < 1e-6  # the 16384-sample IR truncation costs ~4e-8
    b, a = rbj_peak(f, gain_db, q, SR)
    np.testing.assert_allclose(h, scipy.signal.lfilter(b, a, imp[0, 0].numpy()), atol=1e-9)


def test_peak_frequency_clamp() -> None:
    # JUCE clamps the centre to fs/2 - 100: at 8 kHz a 5 kHz request is a 3.9 kHz filter
    x = torch.randn(1, 1, 2000, dtype=torch.float64)
    np.testing.assert_allclose(peak_filter(x, 8000, 5000.0, 6.0, 1.0).numpy(),
                               peak_filter(x, 8000, 3900.0, 6.0, 1.0).numpy(), atol=1e-12)


@pytest.mark.parametrize("f, gain_db, q", [(200.0, 12.0, 4.0), (850.0, -12.0, 0.5), (4000.0, 6.0, 2.0)])
def test_peak_matches_pedalboard(noise: np.ndarray, f: float, gain_db: float, q: float) -> None:
    ref = pb(pedalboard.PeakFilter(cutoff_frequency_hz=f, gain_db=gain_db, q=q), noise)
    # pedalboard runs a float32 TDF2 biquad: its own rounding is up to ~5e-5 at a narrow low peak
    assert np.abs(proxy_np(peak_filter, noise, cutoff_frequency_hz=f, gain_db=gain_db, q=q) - ref).max() < 1e-4


# --- delay ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds, samples", [(0.01, 440), (0.02, 881), (0.05, 2205), (0.0123, 542)])
def test_delay_impulse_response_taps(seconds: float, samples: int) -> None:
    # float32(delay_seconds) * fs truncated: 0.01 s is 440 samples at 44.1 kHz, not 441
    fb, mix, t = 0.6, 0.4, 9000
    imp = torch.zeros(1, 1, t, dtype=torch.float64)
    imp[..., 0] = 1.0
    h = delay(imp, SR, seconds, fb, mix)[0, 0].numpy()
    ref = np.zeros(t)
    ref[0] = 1 - mix
    for k in range(1, (t - 1) // samples + 1):
        ref[k * samples] = mix * fb ** (k - 1)
    np.testing.assert_allclose(h, ref, atol=1e-8)  # the FFT filter's float64 rounding after un-windowing is ~1e-9


def test_delay_zero_is_identity() -> None:
    x = torch.randn(2, 1, 500, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # the FFT filter's float64 rounding is ~1e-10 (see test_delay_impulse_response_taps)
    np.testing.assert_allclose(delay(x, SR, 0.0, 0.5, 0.5).numpy(), x.numpy(), atol=1e-9)


@pytest.mark.parametrize("seconds, fb, mix", [(0.05, 0.7, 0.6), (0.3, 0.35, 0.1), (0.6, 0.0, 0.5)])
def test_delay_matches_pedalboard(noise: np.ndarray, seconds: float, fb: float, mix: float) -> None:
    ref = pb(pedalboard.Delay(delay_seconds=seconds, feedback=fb, mix=mix), noise)
    assert np.abs(proxy_np(delay, noise, delay_seconds=seconds, feedback=fb, mix=mix) - ref).max() < 1e-6


def test_delay_time_gradient_points_to_target() -> None:
    # straight-through D: the gradient of a smooth loss must say which way the true delay lies
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.convolve(rng.standard_normal(3000), np.hanning(24), "same")).reshape(1, 1, -1)
    sr = 1000.0
    target = delay(x, sr, 0.100, 0.3, 0.5)
    for start, sign in [(0.097, -1.0), (0.104, 1.0)]:
        secs = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        (delay(x, sr, secs, 0.3, 0.5) - target).square().mean().backward()
        assert secs.grad is not None and torch.sign(secs.grad).item() == sign


# --- reverb ---------------------------------------------------------------------------------


def test_freeverb_lengths() -> None:
    assert freeverb_lengths(48000) == ((1214, 1293, 1389, 1475, 1547, 1622, 1694, 1760), (605, 480, 371, 244))
    assert freeverb_lengths(48000, right=True)[0][0] == 1239 and freeverb_lengths(48000, right=True)[1] == (630, 505, 396, 269)


@pytest.mark.parametrize("sr", [44100, 48000])
@pytest.mark.parametrize("room, damp, wet, dry", [(1.0, 0.0, 0.6, 0.4), (0.3, 0.8, 0.25, 1.0)])
def test_reverb_impulse_response_matches_pedalboard(sr: int, room: float, damp: float, wet: float, dry: float) -> None:
    imp = np.zeros((1, sr), dtype=np.float32)
    imp[0, 0] = 1.0
    ref = pb(pedalboard.Reverb(room_size=room, damping=damp, wet_level=wet, dry_level=dry, width=1.0, freeze_mode=0.0),
             imp, sr)
    h = proxy_np(reverb, imp, sr, room_size=room, damping=damp, wet_level=wet, dry_level=dry)
    assert np.abs(ref[0, 1:]).max() > 1e-3  # the reference really has a tail
    assert np.abs(h - ref).max() < 1e-6


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_reverb_matches_pedalboard_on_audio(noise: np.ndarray, channels: int) -> None:
    x = np.concatenate([noise, noise[:1] * 0.5])[:channels]
    params = dict(room_size=0.9, damping=0.2, wet_level=0.45, dry_level=0.6)
    ref = pb(pedalboard.Reverb(**params, width=1.0, freeze_mode=0.0), x)
    assert np.abs(proxy_np(reverb, x, **params) - ref).max() < 5e-6


# --- gradients ------------------------------------------------------------------------------


def gradcheck(fn, inputs: tuple[torch.Tensor, ...]) -> bool:
    """float64 gradcheck with eps=1e-4: un-windowing the FFT filter amplifies float64 rounding to ~1e-10
    near the end of the clip, which the default eps=1e-6 would turn into ~1e-4 of finite-difference noise."""
    return torch.autograd.gradcheck(fn, inputs, eps=1e-4, atol=1e-5, rtol=1e-3, fast_mode=True)


def _grad_inputs(t: int, *values: float) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    x = torch.randn(2, 1, t, dtype=torch.float64, requires_grad=True)
    return (x,) + tuple(torch.tensor([v, v * 0.9 + 0.01], dtype=torch.float64, requires_grad=True) for v in values)


def test_gradcheck_distortion() -> None:
    x, drive = _grad_inputs(64, 6.0)
    assert torch.autograd.gradcheck(lambda x, d: distortion(x, SR, d), (x, drive))


def test_gradcheck_peak_filter() -> None:
    x, f, g, q = _grad_inputs(128, 900.0, 7.0, 1.3)
    assert gradcheck(lambda x, f, g, q: peak_filter(x, 8000, f, g, q), (x, f, g, q))


def test_gradcheck_delay_input_feedback_mix() -> None:
    # delay_seconds is straight-through (integer forward), so it is checked by test_delay_time_gradient_points_to_target
    x, fb, mix = _grad_inputs(128, 0.6, 0.4)
    assert gradcheck(lambda x, fb, m: delay(x, 1000, 0.013, fb, m), (x, fb, mix))


def test_gradcheck_reverb() -> None:
    # at 2 kHz the combs are 50..73 samples and the allpasses 10..25, so 256 samples hold real tails
    x, room, damp, wet, dry = _grad_inputs(256, 0.7, 0.4, 0.3, 0.6)
    assert gradcheck(lambda *a: reverb(a[0], 2000, *a[1:]), (x, room, damp, wet, dry))


@pytest.mark.parametrize("fn, params", [
    (distortion, {"drive_db": 18.0}),
    (peak_filter, {"cutoff_frequency_hz": 700.0, "gain_db": 5.0, "q": 1.5}),
    (delay, {"delay_seconds": 0.12, "feedback": 0.4, "mix": 0.3}),
    (reverb, {"room_size": 0.6, "damping": 0.3, "wet_level": 0.3, "dry_level": 0.7}),
])
def test_gradients_finite_nonzero_on_guitar(fn, params: dict[str, float]) -> None:
    rng = np.random.default_rng(3)
    x = torch.from_numpy(np.stack([guitar_clip(rng, 0.5, SR) for _ in range(2)])[:, None])  # (2, 1, T)
    target = fn(x, SR, **{k: v * 1.1 for k, v in params.items()}).detach()
    leaves = {k: torch.full((2,), v, requires_grad=True) for k, v in params.items()}
    x = x.clone().requires_grad_(True)
    (fn(x, SR, **leaves) - target).square().mean().backward()
    for name, leaf in [("x", x), *leaves.items()]:
        assert leaf.grad is not None and torch.isfinite(leaf.grad).all(), name
        assert leaf.grad.abs().max() > 0, name
