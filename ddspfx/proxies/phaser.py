"""Phaser proxy: pedalboard.Phaser is ``juce::dsp::Phaser`` (juce_Phaser.h/.cpp,
juce_FirstOrderTPTFilter.cpp).

Six first-order TPT allpasses share one cutoff, updated every 4 samples (n = 4k) from an
LFO running at fs/4: ``f_k = 20 (hi/20)^clamp(normc + (depth/2) lfo_k, 0, 1)`` with
``hi = min(20000, 0.49 fs)``. The centre is normalised with the sample rate JUCE knows when
the parameter is set, 44100 in the constructor: ``normc = log10(fc/20) / log10(hi_44k/20)``
(so below ~40.8 kHz the centre is off -- a JUCE/pedalboard bug we reproduce). Each stage
uses ``G = g / (1 + g)``, ``g = tan(pi f / fs)``; the loop feeds back ``u = x - fb y6[n-1]``
(inverted, one sample) and the mix is linear: ``y = (1 - mix) x + mix y6``.

The loop is a numba kernel with a reverse-time adjoint
(:func:`ddspfx.proxies.recursions.phaser_loop`) returning grads for x, feedback and G; the
LFO/cutoff maths is torch. Partial gradients: none where the [0, 1] clamp of the sweep is
active; the cutoff is held for 4 samples (as in JUCE).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param
from ddspfx.proxies.lfo import juce_sine, modulated_loop_mix
from ddspfx.proxies.recursions import phaser_loop

UPDATE_EVERY = 4  # juce::dsp::Phaser::maxUpdateCounter
CONSTRUCTOR_SAMPLE_RATE = 44100.0  # the rate juce::dsp::Phaser assumes when the centre is set


def _top_frequency(sample_rate: float) -> float:
    return min(20000.0, 0.49 * sample_rate)


def phaser_coefficients(
    num_samples: int, sample_rate: float, rate_hz: Tensor, depth: Tensor, centre_frequency_hz: Tensor
) -> Tensor:
    """Per-sample stage coefficient G (B, T) from params (B,): the swept cutoff, held for 4 samples."""
    hops = -(-num_samples // UPDATE_EVERY)
    lfo = juce_sine(rate_hz, sample_rate / UPDATE_EVERY, hops)  # (B, K)
    hi = _top_frequency(sample_rate)
    norm_centre = torch.log10(centre_frequency_hz / 20.0) / math.log10(_top_frequency(CONSTRUCTOR_SAMPLE_RATE) / 20.0)
    sweep = torch.clamp(0.5 * depth[:, None] * lfo + norm_centre[:, None], 0.0, 1.0)
    # 20 (hi/20)^sweep, written as an exp: torch.pow with a CPU scalar-tensor base fails its backward on CUDA
    cutoff = 20.0 * torch.exp(sweep * math.log(hi / 20.0))  # (B, K) Hz
    g = torch.tan(math.pi * cutoff / sample_rate)
    G = g / (1.0 + g)
    return G.repeat_interleave(UPDATE_EVERY, dim=-1)[:, :num_samples]  # (B, T)


def phaser(
    x: Tensor,
    sample_rate: float,
    rate_hz: ParamLike,
    depth: ParamLike,
    centre_frequency_hz: ParamLike,
    feedback: ParamLike,
    mix: ParamLike,
) -> Tensor:
    """juce::dsp::Phaser on x (B, C, T); rate in Hz, depth in [0, 1], centre in Hz -> (B, C, T)."""
    b, c, t = x.shape

    def per_batch(v: ParamLike) -> Tensor:
        return as_param(v, x).reshape(-1).expand(b)  # (B,)

    G = phaser_coefficients(t, sample_rate, per_batch(rate_hz), per_batch(depth), per_batch(centre_frequency_hz))
    return modulated_loop_mix(x, G, feedback, mix, phaser_loop)


__all__ = ["phaser", "phaser_coefficients"]
