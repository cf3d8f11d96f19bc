"""Delay proxy: pedalboard.Delay is a JUCE ``DelayLine`` without interpolation plus feedback.

Per channel: w[n] = v[n - D], v[n] = x[n] + fb w[n], y = (1 - mix) x + mix w, so
H(z) = (1 - mix) + mix z^-D / (1 - fb z^-D), i.e. wet = sum_{k>=1} fb^(k-1) x[n - kD].
D = trunc(float32(delay_seconds) * fs) -- the float32 rounding matters: 0.01 s at 44.1 kHz
is 440 samples, not 441. delay_seconds == 0 is an exact identity.

Gradient w.r.t. delay_seconds: D is an integer, so we use a straight-through delay,
D_st = D + (delay_seconds * fs - stop_grad(delay_seconds * fs)). The forward pass uses the
exact integer D; the backward pass differentiates the continuous phase exp(-j omega D) of the
frequency-sampled response, i.e. the band-limited fractional delay's derivative.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param, lti_filter, z_power


def delay_samples(delay_seconds: Tensor, sample_rate: float) -> Tensor:
    """JUCE's integer delay: trunc(float32(seconds) * fs), computed in float64 like pedalboard."""
    return torch.floor(delay_seconds.detach().to(torch.float32).to(torch.float64) * float(sample_rate))


def delay(x: Tensor, sample_rate: float, delay_seconds: ParamLike, feedback: ParamLike, mix: ParamLike) -> Tensor:
    """Feedback delay: x (B, C, T); seconds, feedback, mix (floats or (B,)) -> (B, C, T)."""
    secs, fb, mx = (as_param(v, x, torch.float64) for v in (delay_seconds, feedback, mix))
    continuous = secs * float(sample_rate)
    lag = delay_samples(secs, sample_rate) + (continuous - continuous.detach())  # (B, 1, 1), straight-through
    identity = (delay_samples(secs, sample_rate) == 0).to(torch.float64)  # JUCE bypasses D == 0

    def response(s: Tensor) -> Tensor:
        zd = z_power(s, lag)  # (B, 1, F)
        h = (1.0 - mx) + mx * zd / (1.0 - fb * zd)
        return identity + (1.0 - identity) * h

    return lti_filter(x, response)
