"""Chorus proxy: pedalboard.Chorus is ``juce::dsp::Chorus`` (juce_Chorus.h/.cpp).

One sine LFO shared by all channels (:mod:`ddspfx.proxies.lfo`), a delay in ms of
``max(1, centre + 20 (depth / 2) lfo)``, clamped to the line's ceil(110 fs / 1000) samples,
and per channel a linearly interpolated delay line with *inverted* feedback through one
extra sample: ``u[n] = x[n] - fb w[n-1]``, ``w[n] = (1-f) u[n-i] + f u[n-i-1]``; then the
linear dry/wet mix ``y = (1 - mix) x + mix w``. A fresh plugin has no parameter smoothing.

The delay line is a numba kernel with a hand-written adjoint
(:func:`ddspfx.proxies.recursions.chorus_delay`); the LFO and delay maths are torch, so
rate, depth and centre get gradients through the interpolation slope. Partial gradients:
none where the 1 ms floor or the centre clamp [1, 100] ms is active.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ddspfx.proxies import lfo as lfo_module
from ddspfx.proxies.fft import ParamLike, as_param
from ddspfx.proxies.lfo import juce_sine, modulated_loop_mix
from ddspfx.proxies.recursions import chorus_delay

MAX_DELAY_MODULATION_MS = 20.0  # juce::dsp::Chorus::maximumDelayModulation
MAX_CENTRE_DELAY_MS = 100.0


def chorus_delay_samples(
    num_samples: int, sample_rate: float, rate_hz: Tensor, depth: Tensor, centre_delay_ms: Tensor
) -> Tensor:
    """Per-sample read delay (B, T) in samples; params (B,) tensors."""
    lfo = juce_sine(rate_hz, sample_rate, num_samples)  # (B, T)
    centre = torch.clamp(centre_delay_ms, 1.0, MAX_CENTRE_DELAY_MS)[:, None]
    delay_ms = torch.clamp(MAX_DELAY_MODULATION_MS * (0.5 * depth[:, None]) * lfo + centre, min=1.0)
    max_samples = math.ceil((MAX_DELAY_MODULATION_MS * 0.5 + MAX_CENTRE_DELAY_MS) * sample_rate / 1000.0)
    d = torch.clamp(delay_ms * (sample_rate / 1000.0), max=float(max_samples))  # (B, T) samples
    if not lfo_module.EMULATE_FLOAT32_PHASE:
        return d
    with torch.no_grad():  # JUCE's float32 delay, as a constant offset: exact forward, ideal gradient
        d32 = _juce_delay_f32(num_samples, sample_rate, rate_hz, depth, centre_delay_ms, max_samples)
        offset = torch.from_numpy(d32).to(d) - d
    return d + offset


def _juce_delay_f32(
    num_samples: int, sample_rate: float, rate_hz: Tensor, depth: Tensor, centre_delay_ms: Tensor, max_samples: int
) -> np.ndarray:
    """The delay in samples (B, T) exactly as juce::dsp::Chorus::process rounds it (float32)."""
    f32 = np.float32

    def np32(t: Tensor) -> np.ndarray:
        return t.detach().cpu().to(torch.float64).numpy().astype(f32)[:, None]

    lfo = np.sin(lfo_module.juce_phase_f32(rate_hz.detach().cpu().double().numpy(), sample_rate, num_samples))
    osc = lfo * (np32(depth) * f32(0.5))  # delayValuesBlock.multiplyBy (oscVolume)
    centre = np.clip(np32(centre_delay_ms), f32(1.0), f32(MAX_CENTRE_DELAY_MS))
    delay_ms = np.maximum(f32(1.0), f32(MAX_DELAY_MODULATION_MS) * osc + centre)
    d = (delay_ms.astype(np.float64) * sample_rate / 1000.0).astype(f32)
    return np.minimum(d, f32(max_samples)).astype(np.float64)


def chorus(
    x: Tensor,
    sample_rate: float,
    rate_hz: ParamLike,
    depth: ParamLike,
    centre_delay_ms: ParamLike,
    feedback: ParamLike,
    mix: ParamLike,
) -> Tensor:
    """juce::dsp::Chorus on x (B, C, T); rate in Hz, depth in [0, 1], centre in ms -> (B, C, T)."""
    b, c, t = x.shape

    def per_batch(v: ParamLike) -> Tensor:
        return as_param(v, x).reshape(-1).expand(b)  # (B,)

    d = chorus_delay_samples(t, sample_rate, per_batch(rate_hz), per_batch(depth), per_batch(centre_delay_ms))
    return modulated_loop_mix(x, d, feedback, mix, chorus_delay)


__all__ = ["chorus", "chorus_delay_samples"]
