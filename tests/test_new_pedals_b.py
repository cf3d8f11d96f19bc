"""The wah (ddspfx's own DSP) and the noise gate (pedalboard.NoiseGate): proxies against their
references, closed forms (the bilinear band-pass, identities, a closed gate) and gradients."""

from __future__ import annotations

import math

import numpy as np
import pedalboard
import pytest
import scipy.signal
import torch

import ddspfx.proxies.noise_gate as gate_module
from ddspfx.dsp import wah as wah_ref
from ddspfx.proxies.noise_gate import ATTACK_MS, RATIO, noise_gate
from ddspfx.proxies.wah import StateSpace2, centre_frequency, svf_bandpass_coefficients, wah
from ddspfx.sources import make_source

SR = 44100
WAH_TOLERANCE = 1e-4  # max abs error, proxy vs the numpy reference (both float64 inside, float32 out)
GATE_TOLERANCE = 1e-4  # max abs error, proxy vs pedalboard on float32 input

WAH_SETTINGS = [
    dict(rate_hz=0.2, min_frequency_hz=250.0, range_octaves=1.0, q=1.0, mix=0.5),
    dict(rate_hz=5.0, min_frequency_hz=800.0, range_octaves=3.0, q=10.0, mix=1.0),
    dict(rate_hz=1.3, min_frequency_hz=350.0, range_octaves=2.6, q=4.0, mix=0.8),  # a Cry Baby's sweep
]
GATE_SETTINGS = [
    dict(threshold_db=-70.0, release_ms=20.0),
    dict(threshold_db=-45.0, release_ms=100.0),
    dict(threshold_db=-30.0, release_ms=500.0),
    dict(threshold_db=-20.0, release_ms=60.0),
]


def synth_clips(count: int, seconds: float = 3.0, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """Guitar phrases from the embedded synth, (count, T) float32."""
    source = make_source("synth", sample_rate)
    rng = np.random.default_rng(seed)
    return np.stack([source.sample(rng, seconds) for _ in range(count)])


def decaying_note(seconds: float = 3.0, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """A plucked G3 starting after 0.25 s of noise and decaying into a -60 dBFS (RMS) noise floor. (T,) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    onset = 0.25
    tone = sum(np.sin(2 * np.pi * 196.0 * h * (t - onset)) / h for h in range(1, 6)) * np.exp(-3.0 * (t - onset))
    x = 0.4 * np.where(t >= onset, tone, 0.0) + 1e-3 * rng.standard_normal(t.size)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    return synth_clips(3)


def pedalboard_gate(x: np.ndarray, sample_rate: float, threshold_db: float, release_ms: float) -> np.ndarray:
    plugin = pedalboard.NoiseGate(threshold_db=threshold_db, ratio=RATIO, attack_ms=ATTACK_MS, release_ms=release_ms)
    return plugin(np.ascontiguousarray(x, dtype=np.float32), sample_rate, reset=True)


# --- wah: proxy vs the numpy reference ---------------------------------------------------------


@pytest.mark.parametrize("setting", range(len(WAH_SETTINGS)))
def test_wah_matches_reference(clips: np.ndarray, setting: int) -> None:
    params = WAH_SETTINGS[setting]
    ref = wah_ref.fx(clips, SR, **params)  # (3, T): three mono clips as channels
    y = wah(torch.from_numpy(clips)[:, None], SR, **params)[:, 0]
    assert y.dtype == torch.float32 and y.shape == ref.shape
    assert np.abs(y.numpy() - ref).max() <= WAH_TOLERANCE
    assert np.abs(ref - clips).max() > 0.05  # the wah did change the sound


def test_wah_batched_stereo_float64_matches_reference() -> None:
    """(B,) params, two channels sharing one LFO, float64 in and out, at 48 kHz."""
    sr = 48000
    x = synth_clips(4, 1.0, sr, seed=1).reshape(2, 2, -1).astype(np.float64)
    settings = WAH_SETTINGS[1:]
    params = {k: torch.tensor([s[k] for s in settings], dtype=torch.float64) for k in settings[0]}
    y = wah(torch.from_numpy(x), sr, **params)
    assert y.dtype == torch.float64 and y.shape == x.shape
    for b in range(2):
        assert np.abs(y[b].numpy() - wah_ref.fx(x[b].astype(np.float32), sr, **settings[b])).max() <= WAH_TOLERANCE


def test_wah_mix_zero_is_identity(clips: np.ndarray) -> None:
    params = dict(WAH_SETTINGS[2], mix=0.0)
    np.testing.assert_array_equal(wah_ref.fx(clips, SR, **params), clips)
    y = wah(torch.from_numpy(clips)[:, None], SR, **params)[:, 0]
    np.testing.assert_array_equal(y.numpy(), clips)


def test_wah_sweep_closed_form() -> None:
    """The sweep starts mid-way going up, tops out at min 2^range a quarter period later, bottoms at min."""
    rate, fmin, octaves = 2.0, 400.0, 2.5
    quarter = SR // (4 * 2)  # 5512.5: the crest falls between samples, so check the neighbourhood
    fc = wah_ref.centre_frequency(4 * quarter + 2, SR, rate, fmin, octaves)
    assert fc[0] == pytest.approx(fmin * 2 ** (octaves / 2), rel=1e-12)
    assert fc.max() == pytest.approx(fmin * 2**octaves, rel=1e-6)
    assert fc.min() == pytest.approx(fmin, rel=1e-6)
    assert np.argmax(fc) in (quarter, quarter + 1)
    t = torch.tensor([rate], dtype=torch.float64)
    fc_torch = centre_frequency(fc.size, SR, t, torch.tensor([fmin], dtype=torch.float64), torch.tensor([octaves]).double())
    np.testing.assert_allclose(fc_torch[0].numpy(), fc, rtol=1e-12)


@pytest.mark.parametrize("fc,q", [(300.0, 1.0), (1000.0, 4.0), (3500.0, 10.0)])
def test_wah_frozen_is_the_bilinear_bandpass(fc: float, q: float) -> None:
    """With the sweep frozen (range 0) the filter is LTI: the bilinear transform (pre-warped at fc) of the
    unity-peak analog band-pass k s / (s^2 + k s + 1), whose gain is exactly 1 at fc."""
    g, k = math.tan(math.pi * fc / SR), 1.0 / q
    b = k * g * np.array([1.0, 0.0, -1.0])
    a = np.array([1.0 + k * g + g * g, 2.0 * (g * g - 1.0), 1.0 - k * g + g * g])
    _, h_fc = scipy.signal.freqz(b, a, worN=[fc], fs=SR)
    assert abs(h_fc[0]) == pytest.approx(1.0, abs=1e-12)
    # the state-space coefficients the proxy runs, frozen, have the same frequency response
    coef = svf_bandpass_coefficients(torch.tensor([[g]], dtype=torch.float64), torch.tensor([[k]], dtype=torch.float64))
    p = coef[0, 0].numpy()
    ss_b, ss_a = scipy.signal.ss2tf(p[:4].reshape(2, 2), p[4:6].reshape(2, 1), p[6:8].reshape(1, 2), p[8:9].reshape(1, 1))
    freqs = np.geomspace(30.0, 20000.0, 64)
    _, h_ss = scipy.signal.freqz(ss_b[0], ss_a, worN=freqs, fs=SR)
    _, h_an = scipy.signal.freqz(b, a, worN=freqs, fs=SR)
    np.testing.assert_allclose(h_ss, h_an, rtol=1e-9, atol=1e-12)
    # and the impulse responses of the proxy and the reference, swept by nothing, are the filter's
    impulse = np.zeros(2048)
    impulse[0] = 1.0
    expected = scipy.signal.lfilter(b, a, impulse)
    params = dict(rate_hz=1.0, min_frequency_hz=fc, range_octaves=0.0, q=q, mix=1.0)
    y = wah(torch.from_numpy(impulse)[None, None], SR, **params)[0, 0].numpy()
    np.testing.assert_allclose(y, expected, atol=1e-12)
    ref = wah_ref.fx(impulse[None].astype(np.float32), SR, **params)[0]
    np.testing.assert_allclose(ref, expected, atol=1e-7)


# --- wah: gradients ---------------------------------------------------------------------------


def test_wah_gradients_reach_every_knob(clips: np.ndarray) -> None:
    x = torch.from_numpy(clips[:2, : SR // 2])[:, None].requires_grad_(True)  # (2, 1, T)
    params = {k: torch.tensor([v, v], requires_grad=True) for k, v in WAH_SETTINGS[2].items()}
    target = torch.from_numpy(wah_ref.fx(clips[:2, : SR // 2], SR, **WAH_SETTINGS[0]))[:, None]
    ((wah(x, SR, **params) - target) ** 2).mean().backward()
    for name, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all() and (p.grad != 0).all(), name
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_wah_gradcheck() -> None:
    """Every knob and the input, float64, 64 samples at 8 kHz with a fast sweep (no clamp active)."""
    sr = 8000
    x = torch.from_numpy(synth_clips(1, 0.2, sr, seed=3)[:, 400:464]).double()[:, None].requires_grad_(True)
    names = ("rate_hz", "min_frequency_hz", "range_octaves", "q", "mix")
    values = [torch.tensor([v], dtype=torch.float64, requires_grad=True) for v in (40.0, 300.0, 2.0, 3.0, 0.7)]

    def f(x_: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return wah(x_, sr, **dict(zip(names, ps)))

    assert torch.autograd.gradcheck(f, (x, *values), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_state_space_adjoint_gradcheck() -> None:
    """The numba adjoint on random (stable) coefficients: grads for the input and all nine per-sample coefficients."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 20, generator=gen, dtype=torch.float64, requires_grad=True)
    coef = (0.4 * torch.randn(2, 20, 9, generator=gen, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(StateSpace2.apply, (x, coef), eps=1e-6, atol=1e-8, rtol=1e-6)


# --- noise gate: proxy vs pedalboard ------------------------------------------------------------


@pytest.mark.parametrize("setting", range(len(GATE_SETTINGS)))
def test_gate_matches_pedalboard(clips: np.ndarray, setting: int) -> None:
    params = GATE_SETTINGS[setting]
    for x in [*clips, decaying_note(seed=setting)]:
        ref = pedalboard_gate(x[None], SR, **params)[0]
        y = noise_gate(torch.from_numpy(x)[None, None], SR, **params)[0, 0]
        assert y.dtype == torch.float32 and y.shape[-1] == x.size
        assert np.abs(y.numpy() - ref).max() <= GATE_TOLERANCE


def test_gate_batched_stereo_float64_matches_pedalboard() -> None:
    sr = 48000
    x = np.stack([np.stack([decaying_note(1.5, sr, seed=2 * b), decaying_note(1.5, sr, seed=2 * b + 1)]) for b in range(2)])
    settings = GATE_SETTINGS[1:3]
    params = {k: torch.tensor([s[k] for s in settings], dtype=torch.float64) for k in settings[0]}
    y = noise_gate(torch.from_numpy(x).double(), sr, **params)
    assert y.dtype == torch.float64 and y.shape == x.shape
    for b in range(2):
        assert np.abs(y[b].numpy() - pedalboard_gate(x[b], sr, **settings[b])).max() <= GATE_TOLERANCE


def test_gate_at_minus_100_db_is_the_identity() -> None:
    """The envelope of a note over a -60 dB floor never drops to -100 dB, so nothing is gated."""
    x = decaying_note()
    y = noise_gate(torch.from_numpy(x)[None, None], SR, threshold_db=-100.0, release_ms=100.0)[0, 0].numpy()
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(pedalboard_gate(x[None], SR, -100.0, 100.0)[0], x)


def test_gate_at_0_db_silences_a_quiet_tone() -> None:
    """A -20 dBFS tone sits 20 dB under a 0 dB threshold: the ratio-10 expander takes it down by 180 dB."""
    t = np.arange(SR) / SR
    x = (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    release_ms = 100.0
    after = int(release_ms * 1e-3 * SR)
    y = noise_gate(torch.from_numpy(x)[None, None], SR, threshold_db=0.0, release_ms=release_ms)[0, 0].numpy()
    assert np.abs(y[after:]).max() < 1e-8
    assert np.abs(pedalboard_gate(x[None], SR, 0.0, release_ms)[0, after:]).max() < 1e-8


def test_gate_passes_the_note_and_silences_the_floor() -> None:
    """A -40 dB threshold keeps the loud start of a note untouched and mutes the -60 dB floor once it decays."""
    x = decaying_note()
    y = noise_gate(torch.from_numpy(x)[None, None], SR, threshold_db=-40.0, release_ms=100.0)[0, 0].numpy()
    loud = slice(int(0.3 * SR), int(0.8 * SR))
    np.testing.assert_array_equal(y[loud], x[loud])
    tail = slice(int(2.7 * SR), None)  # the note is ~-75 dB below its start there, under the floor
    rms_in, rms_out = np.sqrt(np.mean(x[tail] ** 2)), np.sqrt(np.mean(y[tail] ** 2))
    assert rms_in > 5e-4
    # the envelope follows the floor's peaks (0 ms RMS attack), ~-50 dBFS: 10 dB under, times 9 -> ~-90 dB
    assert rms_out < 1e-3 * rms_in


# --- noise gate: gradients --------------------------------------------------------------------


def test_gate_gradients_reach_threshold_and_release() -> None:
    x = torch.from_numpy(decaying_note(2.0)).reshape(1, 1, -1).repeat(2, 1, 1).requires_grad_(True)
    thr = torch.tensor([-40.0, -30.0], requires_grad=True)
    rel = torch.tensor([100.0, 300.0], requires_grad=True)
    target = torch.from_numpy(pedalboard_gate(decaying_note(2.0)[None], SR, -50.0, 50.0))[None]
    ((noise_gate(x, SR, threshold_db=thr, release_ms=rel) - target) ** 2).sum().backward()
    for name, p in (("threshold_db", thr), ("release_ms", rel)):
        assert p.grad is not None and torch.isfinite(p.grad).all() and (p.grad != 0).all(), name
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gate_gradcheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """threshold, release and the input, float64, on a short burst decaying through the threshold."""
    monkeypatch.setattr(gate_module, "EMULATE_FLOAT32", False)  # the float32 rounding is piecewise constant
    sr = 8000
    n = np.arange(160)
    burst = 0.5 * np.sin(2 * np.pi * 440.0 * n / sr) * np.exp(-n / 25.0) + 0.01 * np.sin(2 * np.pi * 97.0 * n / sr + 1.0)
    x = torch.from_numpy(burst)[None, None].requires_grad_(True)
    thr = torch.tensor([-30.0], dtype=torch.float64, requires_grad=True)
    rel = torch.tensor([20.0], dtype=torch.float64, requires_grad=True)
    y = noise_gate(x, sr, threshold_db=thr, release_ms=rel)
    assert (y != x).any() and (y == x).any()  # the gate both passes and closes on this burst

    def f(x_: torch.Tensor, t_: torch.Tensor, r_: torch.Tensor) -> torch.Tensor:
        return noise_gate(x_, sr, threshold_db=t_, release_ms=r_)

    assert torch.autograd.gradcheck(f, (x, thr, rel), eps=1e-6, atol=1e-7, rtol=1e-5)
