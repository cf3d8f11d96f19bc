"""PeakFilter proxy: pedalboard.PeakFilter is a JUCE RBJ peaking biquad (IIRFilters.h).

JUCE clamps the frequency to [0.01, fs/2 - 100] and then to >= 2 Hz, and uses
A = 10^(gain_db/40) so that the gain at the centre is 10^(gain_db/20):
w = 2 pi f / fs, alpha = sin(w) / (2 q),
b = [1 + alpha A, -2 cos w, 1 - alpha A], a = [1 + alpha / A, -2 cos w, 1 - alpha / A].
pedalboard runs it in float32 transposed direct form II from zero state; we evaluate
b(z)/a(z) on an exponentially windowed FFT grid (``fft.lti_filter``), which is the same
LTI system without recursion, in float64 (agrees with pedalboard to ~1e-6).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param, lti_filter, poly_z


def peak_coefficients(sample_rate: float, cutoff_frequency_hz: Tensor, gain_db: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """RBJ peak biquad as JUCE builds it: params (B, 1, 1) -> b, a each (B, 1, 3), a[..., 0] == 1."""
    f = torch.clamp(cutoff_frequency_hz, 0.01, sample_rate / 2.0 - 100.0)
    f = torch.clamp(f, min=2.0)
    amp = torch.pow(10.0, gain_db / 40.0)
    w = 2.0 * math.pi * f / sample_rate
    alpha = torch.sin(w) / (2.0 * q)
    cos2 = -2.0 * torch.cos(w)
    one = torch.ones_like(alpha)
    b = torch.cat([one + alpha * amp, cos2, one - alpha * amp], dim=-1)
    a = torch.cat([one + alpha / amp, cos2, one - alpha / amp], dim=-1)
    a0 = a[..., :1]
    return b / a0, a / a0


def peak_filter(
    x: Tensor, sample_rate: float, cutoff_frequency_hz: ParamLike, gain_db: ParamLike, q: ParamLike
) -> Tensor:
    """Peaking EQ: x (B, C, T); centre in Hz, gain in dB, Q (floats or (B,)) -> (B, C, T)."""
    params = [as_param(v, x, torch.float64) for v in (cutoff_frequency_hz, gain_db, q)]
    b, a = peak_coefficients(float(sample_rate), *params)  # (B, 1, 3)
    return lti_filter(x, lambda s: poly_z(b, s) / poly_z(a, s))
