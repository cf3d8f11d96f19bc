"""Fuzz proxy: the exact torch mirror of :mod:`ddspfx.dsp.fuzz` (ddspfx's own DSP).

A memoryless biased clip ``clip(G x + BIAS, -1, 1) - clip(BIAS, -1, 1)``, then the DC
blocker and the tone lowpass, both JUCE first-order bilinear filters. The two filters are
one LTI system, evaluated on an exponentially windowed FFT grid (:func:`ddspfx.proxies.fft.lti_filter`,
float64, equal to the recursion up to a ~1e-9 relative fold-over), so ``tone_hz`` gets its
gradient through the lowpass coefficients. ``gain_db`` gets gradient only from samples in
the clip's linear region (none from saturated ones), which at 20-50 dB are those near the
waveform's zero crossings.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ddspfx.dsp.fuzz import BIAS, DC_BLOCK_HZ, MAX_CUTOFF_FRACTION
from ddspfx.proxies.fft import ParamLike, as_param, lti_filter, poly_z


def first_order_coefficients(kind: str, cutoff_hz: Tensor, sample_rate: float) -> tuple[Tensor, Tensor]:
    """JUCE's first-order bilinear ``kind`` ("lowpass"/"highpass") for cutoffs (B, 1, 1) -> b, a each (B, 1, 2)."""
    f = torch.clamp(cutoff_hz, 1.0, MAX_CUTOFF_FRACTION * sample_rate)
    n = torch.tan(math.pi * f / sample_rate)
    b = torch.cat([n, n], dim=-1) if kind == "lowpass" else torch.cat([torch.ones_like(n), -torch.ones_like(n)], dim=-1)
    return b / (1.0 + n), torch.cat([torch.ones_like(n), (n - 1.0) / (n + 1.0)], dim=-1)


def biased_clip(x: Tensor, gain_db: Tensor) -> Tensor:
    """``clip(G x + BIAS, -1, 1) - clip(BIAS, -1, 1)``; gain_db broadcastable to x."""
    return torch.clamp(torch.pow(10.0, gain_db / 20.0) * x + BIAS, -1.0, 1.0) - min(max(BIAS, -1.0), 1.0)


def fuzz(x: Tensor, sample_rate: float, gain_db: ParamLike, tone_hz: ParamLike) -> Tensor:
    """Fuzz on x (B, C, T); gain in dB, tone cutoff in Hz (floats or (B,)) -> (B, C, T)."""
    fs = float(sample_rate)
    gain, tone = as_param(gain_db, x, torch.float64), as_param(tone_hz, x, torch.float64)  # (B|1, 1, 1)
    v = biased_clip(x.to(torch.float64), gain)  # (B, C, T)
    b_hp, a_hp = first_order_coefficients("highpass", torch.full_like(tone, DC_BLOCK_HZ), fs)
    b_lp, a_lp = first_order_coefficients("lowpass", tone, fs)  # (B|1, 1, 2)
    y = lti_filter(v, lambda s: poly_z(b_hp, s) * poly_z(b_lp, s) / (poly_z(a_hp, s) * poly_z(a_lp, s)))
    return y.to(x.dtype)


__all__ = ["fuzz", "biased_clip", "first_order_coefficients"]
