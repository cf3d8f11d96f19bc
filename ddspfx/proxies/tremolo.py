"""Tremolo proxy: the exact torch mirror of :mod:`ddspfx.dsp.tremolo` (ddspfx's own DSP).

``y = g x`` with ``g[n] = 1 - depth (1 - m[n]) / 2``, ``m = tanh(k s) / tanh(k)``,
``s = sin(2 pi rate n / fs)``, ``k = SHAPE_K_MAX shape`` (series below ``SERIES_BELOW_K``).
The gain is computed in float64 like the reference, so the forward matches it to float32
rounding. Gradients reach rate, depth and shape everywhere except shape's at exactly 0
(``m`` is even in ``k``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ddspfx.dsp.tremolo import SERIES_BELOW_K, SHAPE_K_MAX
from ddspfx.proxies.fft import ParamLike, as_param


def shaped_lfo(sine: Tensor, shape: Tensor) -> Tensor:
    """``tanh(k s) / tanh(k)``, ``k = SHAPE_K_MAX shape``: sine (..., T), shape broadcastable -> (..., T)."""
    k = SHAPE_K_MAX * shape
    small = k < SERIES_BELOW_K
    k_safe = torch.where(small, torch.ones_like(k), k)  # keeps 0/0 (and its NaN gradient) out of the other branch
    exact = torch.tanh(k_safe * sine) / torch.tanh(k_safe)
    series = sine + (k * k / 3.0) * (sine - sine**3)
    return torch.where(small, series, exact)


def tremolo_gain(num_samples: int, sample_rate: float, rate_hz: Tensor, depth: Tensor, shape: Tensor) -> Tensor:
    """Gain curve (B, 1, T) float64 from params (B, 1, 1) float64."""
    n = torch.arange(num_samples, dtype=torch.float64, device=rate_hz.device)
    sine = torch.sin((2.0 * math.pi / sample_rate) * rate_hz * n)  # (B, 1, T)
    return 1.0 - depth * (1.0 - shaped_lfo(sine, shape)) * 0.5


def tremolo(x: Tensor, sample_rate: float, rate_hz: ParamLike, depth: ParamLike, shape: ParamLike) -> Tensor:
    """Tremolo on x (B, C, T); rate in Hz, depth and shape in [0, 1] (floats or (B,)) -> (B, C, T)."""
    rate, dep, shp = (as_param(v, x, torch.float64) for v in (rate_hz, depth, shape))  # (B|1, 1, 1)
    g = tremolo_gain(x.shape[-1], float(sample_rate), rate, dep, shp)  # (B|1, 1, T)
    return (x.to(torch.float64) * g).to(x.dtype)


__all__ = ["tremolo", "tremolo_gain", "shaped_lfo"]
