"""New pedal types (tremolo, flanger, fuzz, octave): torch proxies against their reference renderers
(ddspfx.dsp, pedalboard), closed forms, pedalboard cross-checks, gradients and gradcheck."""

from __future__ import annotations

import inspect
import math
from typing import Callable

import numpy as np
import pedalboard
import pytest
import torch

from ddspfx.dsp import flanger as flanger_ref
from ddspfx.dsp import fuzz as fuzz_ref
from ddspfx.dsp import octave as octave_ref
from ddspfx.dsp import tremolo as tremolo_ref
from ddspfx.proxies.flanger import flanger
from ddspfx.proxies.fuzz import fuzz
from ddspfx.proxies.octave import octave, shifter_gather
from ddspfx.proxies.tremolo import shaped_lfo, tremolo
from ddspfx.sources import make_source

SR = 44100

# name -> (reference renderer, torch proxy)
PEDALS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., torch.Tensor]]] = {
    "tremolo": (tremolo_ref.fx, tremolo),
    "flanger": (flanger_ref.fx, flanger),
    "fuzz": (fuzz_ref.fx, fuzz),
    "octave": (octave_ref.fx, octave),
}

# max abs error vs the reference on float32 input. Our own DSP: the proxy repeats the reference's
# float64 maths (float32 output rounding only). Flanger: pedalboard's float32 delay line, whose
# rounding the 0.9 feedback resonance amplifies (NOTES-pedalboard: Chorus <= 1e-4).
TOLERANCE = {"tremolo": 1e-6, "flanger": 1e-4, "fuzz": 1e-6, "octave": 1e-6}

SETTINGS: dict[str, list[dict[str, float]]] = {
    "tremolo": [
        dict(rate_hz=5.3, depth=0.8, shape=0.4),
        dict(rate_hz=1.0, depth=1.0, shape=0.0),  # the pure sine (series branch)
        dict(rate_hz=12.0, depth=0.3, shape=1.0),
    ],
    "flanger": [
        dict(rate_hz=0.05, depth=0.5, centre_delay_ms=1.0, feedback=0.9, mix=0.8),  # on the 1 ms floor half the time
        dict(rate_hz=2.0, depth=0.5, centre_delay_ms=7.0, feedback=0.9, mix=0.5),
        dict(rate_hz=0.4, depth=0.1, centre_delay_ms=2.5, feedback=0.0, mix=0.2),
    ],
    "fuzz": [
        dict(gain_db=20.0, tone_hz=6000.0),
        dict(gain_db=35.0, tone_hz=1500.0),
        dict(gain_db=50.0, tone_hz=400.0),
    ],
    "octave": [
        dict(dry_level=0.5, down_level=0.7, up_level=0.3),
        dict(dry_level=0.0, down_level=1.0, up_level=0.0),
        dict(dry_level=1.0, down_level=0.0, up_level=1.0),
    ],
}


def synth_clips(n: int, seconds: float, sample_rate: int = SR, seed: int = 0) -> np.ndarray:
    """n dry guitar phrases from the synthetic source, (n, T) float32 at -20 dBFS RMS."""
    source = make_source("synth", sample_rate)
    rng = np.random.default_rng(seed)
    return np.stack([source.sample(rng, seconds) for _ in range(n)])


def spectrum(y: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed magnitude spectrum of a 1-D signal: (frequencies, magnitudes)."""
    return np.fft.rfftfreq(y.size, 1.0 / sample_rate), np.abs(np.fft.rfft(y * np.hanning(y.size)))


def test_proxy_and_reference_take_the_same_knobs() -> None:
    for name, (ref, proxy) in PEDALS.items():
        ref_knobs = list(inspect.signature(ref).parameters)[2:]
        assert ref_knobs == list(inspect.signature(proxy).parameters)[2:], name
        assert set(ref_knobs) == set(SETTINGS[name][0]), name


# --- fidelity vs the reference renderer ----------------------------------------------------------


@pytest.mark.parametrize("name,setting", [(n, i) for n in SETTINGS for i in range(3)])
def test_proxy_matches_reference_on_synth_guitar(name: str, setting: int) -> None:
    """Stereo (two different phrases), 1 s, 44.1 kHz, float32 in and out."""
    ref, proxy = PEDALS[name]
    params = SETTINGS[name][setting]
    x = synth_clips(2, 1.0, seed=setting)  # (C=2, T)
    expected = ref(x, SR, **params)
    assert expected.dtype == np.float32 and expected.shape == x.shape
    y = proxy(torch.from_numpy(x)[None], SR, **params)[0]
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert np.abs(y.numpy() - expected).max() <= TOLERANCE[name]
    assert np.abs(expected - x).max() > 0.01  # the setting does something audible


@pytest.mark.parametrize("name", list(SETTINGS))
def test_batched_params_float64_at_48k(name: str) -> None:
    """(B,) tensor params, B=2, stereo, float64 in and out: each item equals its own reference render."""
    sr = 48000
    ref, proxy = PEDALS[name]
    x = synth_clips(4, 0.5, sr, seed=7).reshape(2, 2, -1)
    settings = SETTINGS[name][:2]
    params = {k: torch.tensor([s[k] for s in settings], dtype=torch.float64) for k in settings[0]}
    y = proxy(torch.from_numpy(x).double(), sr, **params)
    assert y.dtype == torch.float64 and y.shape == x.shape
    for b in range(2):
        assert np.abs(y[b].numpy() - ref(x[b], sr, **settings[b])).max() <= TOLERANCE[name]


# --- tremolo: closed forms ----------------------------------------------------------------------


def test_tremolo_depth_zero_is_the_identity() -> None:
    x = synth_clips(1, 0.5)
    assert np.array_equal(tremolo_ref.fx(x, SR, rate_hz=7.0, depth=0.0, shape=0.6), x)
    xt = torch.from_numpy(x)[None]
    assert torch.equal(tremolo(xt, SR, rate_hz=7.0, depth=0.0, shape=0.6), xt)


def test_tremolo_full_depth_sine_closed_form() -> None:
    """depth 1, shape 0: g = (1 + sin(2 pi f n / fs)) / 2, so 1/2 at n=0, 1 at the crest, 0 at the trough."""
    rate = 2.5  # crest at n = fs / (4 rate) = 4410, trough at 13230
    ones = torch.ones(1, 1, SR, dtype=torch.float64)
    g = tremolo(ones, SR, rate_hz=rate, depth=1.0, shape=0.0)[0, 0].numpy()
    n = np.arange(SR)
    np.testing.assert_allclose(g, (1.0 + np.sin(2 * np.pi * rate * n / SR)) / 2.0, atol=1e-12)
    assert g[0] == pytest.approx(0.5, abs=1e-12)
    assert g[4410] == pytest.approx(1.0, abs=1e-12) and g[13230] == pytest.approx(0.0, abs=1e-12)
    assert g.min() >= -1e-12 and g.max() <= 1.0 + 1e-12


def test_tremolo_shape_one_is_near_square() -> None:
    """|m| > 0.76 where |8 sin| > 1, i.e. outside asin(1/8) of each zero crossing: 1 - 2 asin(1/8) / pi of the time."""
    sine = torch.sin(torch.linspace(0.0, 2 * math.pi, 100001, dtype=torch.float64)[:-1])
    m = shaped_lfo(sine, torch.tensor(1.0, dtype=torch.float64))
    expected = 1.0 - 2.0 * math.asin(1.0 / tremolo_ref.SHAPE_K_MAX) / math.pi
    assert float((m.abs() > math.tanh(1.0) / math.tanh(tremolo_ref.SHAPE_K_MAX)).double().mean()) == pytest.approx(expected, abs=1e-3)
    assert float(m.abs().max()) == pytest.approx(1.0, abs=1e-12)


def test_tremolo_lfo_is_continuous_where_the_series_takes_over() -> None:
    sine = torch.sin(torch.linspace(-3.0, 3.0, 1001, dtype=torch.float64))
    k = tremolo_ref.SERIES_BELOW_K / tremolo_ref.SHAPE_K_MAX
    below = shaped_lfo(sine, torch.tensor(k * (1 - 1e-9), dtype=torch.float64))
    above = shaped_lfo(sine, torch.tensor(k * (1 + 1e-9), dtype=torch.float64))
    assert (below - above).abs().max() < 1e-12
    assert (shaped_lfo(sine, torch.tensor(0.0, dtype=torch.float64)) - sine).abs().max() == 0.0


# --- octave: closed forms -------------------------------------------------------------------------


def test_octave_dry_only_is_the_identity() -> None:
    x = synth_clips(2, 0.5)
    assert np.array_equal(octave_ref.fx(x, SR, dry_level=1.0, down_level=0.0, up_level=0.0), x)
    xt = torch.from_numpy(x)[None]
    assert torch.equal(octave(xt, SR, dry_level=1.0, down_level=0.0, up_level=0.0), xt)


@pytest.mark.parametrize("ratio", [octave_ref.DOWN_RATIO, octave_ref.UP_RATIO])
def test_shifter_windows_sum_to_one_and_a_full_line_passes_dc(ratio: float) -> None:
    """sin^2 + cos^2 = 1, delays in [0, W); so a constant comes out unchanged once the line holds W + 1 samples."""
    window = octave_ref.WINDOW_S * SR
    taps = octave_ref.shifter_taps(SR // 2, SR, ratio)
    np.testing.assert_allclose(taps[0][1] + taps[1][1], 1.0, atol=1e-12)
    assert all(d.min() >= 0.0 and d.max() < window for d, _ in taps)
    y = octave(torch.ones(1, 1, SR // 2, dtype=torch.float64), SR, dry_level=0.0,
               down_level=float(ratio < 1), up_level=float(ratio > 1))[0, 0]
    start = int(math.ceil(window)) + 1
    assert (y[start:] - 1.0).abs().max() < 1e-12
    idx, _ = shifter_gather(SR // 2, SR, ratio, pad=start + 1)
    assert int(idx.min()) >= 0  # every read lands in the zero padding or the clip


@pytest.mark.parametrize("level,target_hz", [("down_level", 220.0), ("up_level", 880.0)])
def test_octave_of_a_440_hz_sine(level: str, target_hz: float) -> None:
    """The strongest partial is the octave. A grain-based shifter turns a sine into lines spaced by its
    grain rate (|1 - ratio| fs / W: 11.1 Hz down, 22.2 Hz up) around the octave, so 'at 220 Hz' means
    within half a spacing of it."""
    t = np.arange(2 * SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
    knobs = {"dry_level": 0.0, "down_level": 0.0, "up_level": 0.0} | {level: 1.0}
    y = octave(torch.from_numpy(x)[None], SR, **knobs)[0, 0].numpy()[SR // 2:]
    f, mag = spectrum(y, SR)
    ratio = octave_ref.DOWN_RATIO if level == "down_level" else octave_ref.UP_RATIO
    spacing = abs(1.0 - ratio) / octave_ref.WINDOW_S
    assert abs(f[np.argmax(mag)] - target_hz) <= spacing / 2
    near_octave = mag[np.abs(f - target_hz) < 2 * spacing].sum()
    near_input = mag[np.abs(f - 440.0) < 2 * spacing].sum()
    assert near_octave > 20 * near_input
    assert 0.8 < np.sqrt(np.mean(y**2)) / np.sqrt(np.mean(x[0] ** 2)) < 1.05  # the shifter keeps the level


def test_rubberband_alternative_is_a_mix_of_pitch_shifts() -> None:
    """The alternative (not the reference) equals the numpy sum of its branches and shifts a 440 Hz sine down."""
    x = synth_clips(2, 0.5)
    knobs = dict(dry_level=0.6, down_level=0.5, up_level=0.25)
    y = octave_ref.alternative_rubberband(x, SR, **knobs)
    assert y.shape == x.shape and y.dtype == np.float32

    def shifted(semitones: float) -> np.ndarray:
        return pedalboard.PitchShift(semitones=semitones)(x, SR, reset=True)

    assert np.abs(y - (0.6 * x + 0.5 * shifted(-12) + 0.25 * shifted(12))).max() < 1e-5
    assert not np.any(octave_ref.alternative_rubberband(x, SR, dry_level=0.0, down_level=0.0, up_level=0.0))
    t = np.arange(SR) / SR
    sine = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
    f, mag = spectrum(octave_ref.alternative_rubberband(sine, SR, dry_level=0.0, down_level=1.0, up_level=0.0)[0], SR)
    assert mag[np.abs(f - 220.0) < 30.0].sum() > 10 * mag[np.abs(f - 440.0) < 30.0].sum()


# --- fuzz: closed forms and pedalboard --------------------------------------------------------------


def test_fuzz_is_bounded() -> None:
    """|clip - BIAS| <= 1 + BIAS; the highpass's l1 norm is 2 / (1 + n), the lowpass's 1 (positive IR, unit DC gain)."""
    n_hp = math.tan(math.pi * fuzz_ref.DC_BLOCK_HZ / SR)
    bound = (1.0 + fuzz_ref.BIAS) * 2.0 / (1.0 + n_hp)
    rng = np.random.default_rng(0)
    loud = np.concatenate([10.0 * rng.standard_normal((1, SR // 2)), np.sign(rng.standard_normal((1, SR // 2)))], axis=-1)
    for x in (loud.astype(np.float32), synth_clips(1, 1.0)):
        y = fuzz(torch.from_numpy(x)[None], SR, gain_db=50.0, tone_hz=6000.0)
        assert torch.isfinite(y).all() and float(y.abs().max()) <= bound
    x = synth_clips(1, 1.0)
    quiet, loud_y = (fuzz_ref.fx(x * s, SR, gain_db=40.0, tone_hz=3000.0) for s in (1.0, 10.0))
    assert np.abs(loud_y).max() < 1.5 * np.abs(quiet).max()  # saturates: 20 dB more in, < 3.5 dB more out


def test_fuzz_bias_makes_even_harmonics(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 220 Hz sine at G A = 1.5 clips at +0.7 and -1.3 around the bias: a strong 2nd harmonic; clipped
    symmetrically (bias 0) it has odd harmonics only."""
    t = np.arange(SR) / SR
    x = (0.15 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)[None]

    def harmonics(y: np.ndarray) -> np.ndarray:
        f, mag = spectrum(y[0, SR // 4:].astype(np.float64), SR)
        return np.array([mag[np.argmin(np.abs(f - 220.0 * h))] for h in (1, 2, 3)])

    h = harmonics(fuzz(torch.from_numpy(x)[None], SR, gain_db=20.0, tone_hz=6000.0)[0].numpy())
    assert h[1] > 0.03 * h[0] and h[2] > 0.03 * h[0]  # even and odd, both above -30 dB
    monkeypatch.setattr(fuzz_ref, "BIAS", 0.0)
    h_sym = harmonics(fuzz_ref.fx(x, SR, gain_db=20.0, tone_hz=6000.0))
    assert h_sym[1] < 1e-4 * h_sym[0] and h_sym[2] > 0.03 * h_sym[0]


def test_fuzz_filters_are_pedalboards_first_order_filters() -> None:
    """Below clipping the fuzz is Gain -> HighpassFilter(20 Hz) -> LowpassFilter(tone) in pedalboard."""
    x = 0.05 * synth_clips(1, 1.0) / np.abs(synth_clips(1, 1.0)).max()  # peak 0.05: 10 x + 0.3 stays below 1
    for tone in (400.0, 2500.0, 6000.0):
        board = pedalboard.Pedalboard([pedalboard.Gain(gain_db=20.0), pedalboard.HighpassFilter(fuzz_ref.DC_BLOCK_HZ),
                                       pedalboard.LowpassFilter(tone)])
        expected = board(x.astype(np.float32), SR, reset=True)
        assert np.abs(fuzz_ref.fx(x.astype(np.float32), SR, gain_db=20.0, tone_hz=tone) - expected).max() < 1e-5


# --- flanger ------------------------------------------------------------------------------------------


def test_flanger_reference_is_pedalboards_chorus() -> None:
    x = synth_clips(1, 0.5)
    knobs = SETTINGS["flanger"][0]
    assert np.array_equal(flanger_ref.fx(x, SR, **knobs), pedalboard.Chorus(**knobs)(x, SR, reset=True))


# --- gradients ---------------------------------------------------------------------------------------


REALISTIC = {
    "tremolo": (dict(rate_hz=5.0, depth=0.7, shape=0.5), dict(rate_hz=4.0, depth=0.5, shape=0.3)),
    "flanger": (dict(rate_hz=0.5, depth=0.2, centre_delay_ms=4.0, feedback=0.7, mix=0.5),
                dict(rate_hz=0.6, depth=0.25, centre_delay_ms=4.5, feedback=0.6, mix=0.4)),
    "fuzz": (dict(gain_db=35.0, tone_hz=2000.0), dict(gain_db=30.0, tone_hz=3000.0)),
    "octave": (dict(dry_level=0.5, down_level=0.6, up_level=0.3), dict(dry_level=0.7, down_level=0.3, up_level=0.5)),
}


@pytest.mark.parametrize("name", list(REALISTIC))
def test_finite_nonzero_grads_on_synth_guitar(name: str) -> None:
    ref, proxy = PEDALS[name]
    start, target_knobs = REALISTIC[name]
    x_np = synth_clips(1, 0.5, seed=3)
    target = torch.from_numpy(ref(x_np, SR, **target_knobs))[None]
    x = torch.from_numpy(x_np)[None].requires_grad_()
    params = {k: torch.tensor([v], requires_grad=True) for k, v in start.items()}
    (proxy(x, SR, **params) - target).pow(2).mean().backward()
    for key, p in [("x", x), *params.items()]:
        assert p.grad is not None and torch.isfinite(p.grad).all(), key
        assert p.grad.abs().max() > 0, key


# float64, B=2, C=1, short signals; where each function is smooth (no 1 ms floor, no clip kink nearby)
GRADCHECK = {
    "tremolo": (1000.0, dict(rate_hz=[7.0, 3.0], depth=[0.6, 0.9], shape=[0.4, 0.05])),
    "flanger": (1000.0, dict(rate_hz=[7.0, 3.0], depth=[0.2, 0.3], centre_delay_ms=[4.3, 5.7], feedback=[0.8, 0.5],
                             mix=[0.5, 0.6])),
    "fuzz": (8000.0, dict(gain_db=[20.0, 26.0], tone_hz=[1000.0, 2500.0])),
    "octave": (1000.0, dict(dry_level=[0.5, 0.2], down_level=[0.6, 0.9], up_level=[0.3, 0.7])),
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """All inputs and knobs. The flanger's float32 LFO-phase replay is a no-grad correction that jumps with
    the rate's float32 rounding (it would swamp finite differences); switched off here, same analytic grad."""
    monkeypatch.setattr("ddspfx.proxies.lfo.EMULATE_FLOAT32_PHASE", False)
    sample_rate, knobs = GRADCHECK[name]
    proxy = PEDALS[name][1]
    scale = 0.05 if name == "fuzz" else 0.3  # fuzz: G x mostly inside the clip's linear region
    x = (scale * torch.randn(2, 1, 96, generator=torch.Generator().manual_seed(3), dtype=torch.float64)).requires_grad_()
    names = list(knobs)
    values = [torch.tensor(knobs[k], dtype=torch.float64, requires_grad=True) for k in names]
    eps, atol, rtol = 1e-6, 1e-6, 1e-4
    if name == "fuzz":
        # The FFT filter's un-windowing amplifies float64 rounding to ~1e-11, which eps=1e-6 would turn into
        # ~1e-5 of finite-difference noise (as for the LTI proxies): eps=1e-4, so keep every sample's drive
        # further than G eps from the clip's kinks, where finite differences would straddle them.
        eps, atol, rtol = 1e-4, 1e-5, 1e-3
        gain = torch.pow(10.0, values[0].detach() / 20.0)[:, None, None]
        drive = gain * x.detach() + fuzz_ref.BIAS
        assert ((drive.abs() - 1.0).abs() > 5.0 * gain * eps).all()
        assert ((drive.abs() < 1.0).sum(dim=-1) > 10).all()  # both items have linear-region samples

    def fn(x: torch.Tensor, *vals: torch.Tensor) -> torch.Tensor:
        return proxy(x, sample_rate, **dict(zip(names, vals)))

    assert torch.autograd.gradcheck(fn, (x, *values), eps=eps, atol=atol, rtol=rtol)
