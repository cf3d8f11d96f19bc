"""Compressor proxy: pedalboard.Compressor is ``juce::dsp::Compressor`` (juce_Compressor.cpp).

Per channel (no stereo link), a peak envelope follower with switching ballistics
(juce::dsp::BallisticsFilter) drives a hard-knee gain computer with no make-up gain:

    r = |x[n]|,  k = k_A if r > e[n-1] else k_R,  e[n] = (1 - k) r + k e[n-1],  e[-1] = 0
    k(t_ms) = exp(-2 pi 1000 / (fs t_ms))   (0 for t_ms < 1e-3; note the 2 pi)
    g = 1 if e < T else (e / T)^(1/ratio - 1),  T = 10^(threshold_db / 20),  y = g x

The forward pass is exact. Gradients: a no-grad pass fixes the attack/release mask, then the
envelope is re-run as a differentiable time-varying one-pole with ``k_n = where(mask, k_A, k_R)``,
so gradients reach attack_ms and release_ms through the coefficients but not through the
switch; the threshold and ratio get gradient only where the envelope is above threshold.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param
from ddspfx.proxies.recursions import ballistics_mask, one_pole


def ballistics_coefficient(time_ms: Tensor, sample_rate: float) -> Tensor:
    """JUCE's one-pole coefficient for a time in ms: exp(-2 pi 1000 / (fs t)), 0 below 1 us."""
    safe = torch.clamp(time_ms, min=1e-3)
    k = torch.exp(-2.0 * math.pi * 1000.0 / (sample_rate * safe))
    return torch.where(time_ms < 1e-3, torch.zeros_like(k), k)


def peak_envelope(x: Tensor, sample_rate: float, attack_ms: ParamLike, release_ms: ParamLike) -> Tensor:
    """The peak envelope e (B, C, T) of x (B, C, T) with switching attack/release ballistics."""
    b, c, t = x.shape
    k_att = ballistics_coefficient(as_param(attack_ms, x), sample_rate).expand(b, c, 1)  # (B, C, 1)
    k_rel = ballistics_coefficient(as_param(release_ms, x), sample_rate).expand(b, c, 1)
    level = x.abs()  # (B, C, T)
    mask = ballistics_mask(level.reshape(b * c, t), k_att.reshape(-1), k_rel.reshape(-1)).reshape(b, c, t)
    k = torch.where(mask, k_att, k_rel)  # (B, C, T)
    return one_pole(k, (1.0 - k) * level)


def compressor(
    x: Tensor,
    sample_rate: float,
    threshold_db: ParamLike,
    ratio: ParamLike,
    attack_ms: ParamLike,
    release_ms: ParamLike,
) -> Tensor:
    """juce::dsp::Compressor on x (B, C, T); params in dB, x:1, ms, ms (floats or (B,)) -> (B, C, T)."""
    env = peak_envelope(x, sample_rate, attack_ms, release_ms)  # (B, C, T)
    thr_db = as_param(threshold_db, x)  # (B|1, 1, 1)
    thr = torch.where(thr_db > -200.0, torch.pow(10.0, thr_db / 20.0), torch.zeros_like(thr_db))
    slope = 1.0 / as_param(ratio, x) - 1.0  # exponent of the gain law, <= 0
    above = (env >= thr) & (env > 0)
    log_ratio = torch.log(torch.where(above, env, torch.ones_like(env))) - torch.log(torch.clamp(thr, min=1e-30))
    gain = torch.where(above, torch.exp(slope * log_ratio), torch.ones_like(env))
    return gain * x


__all__ = ["compressor", "peak_envelope", "ballistics_coefficient"]
