"""Octave proxy: the exact torch mirror of :mod:`ddspfx.dsp.octave` (two-tap delay-line pitch shifters).

``y = dry x + down shift(x, 1/2) + up shift(x, 2)``. Each shifter is a fixed time-varying
FIR (its tap delays and sin^2 windows depend only on n, fs and the ratio), so it is one
gather: every output sample is a weighted sum of 4 input samples (2 taps x 2 linear
interpolation points). The delays are not learnable, so the gradient reaches the three
levels (exactly ``<shift(x), dL/dy>``) and the input; there is no recursion and no
approximation. Computed in float64 like the reference, returned in x's dtype.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ddspfx.dsp.octave import DOWN_RATIO, UP_RATIO, WINDOW_S
from ddspfx.proxies.fft import ParamLike, as_param


def shifter_gather(num_samples: int, sample_rate: float, ratio: float, pad: int,
                   device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """Indices into x left-padded by ``pad`` zeros, and their weights: each (4, T), int64 and float64.

    Mirrors :func:`ddspfx.dsp.octave.shifter_taps` and ``read_delayed`` op for op, so the
    floor decisions (and hence the forward) are identical to the reference.
    """
    window = WINDOW_S * float(sample_rate)
    n = torch.arange(num_samples, dtype=torch.float64, device=device)
    p1 = n * (1.0 - ratio) / window
    p1 = p1 - torch.floor(p1)
    p2 = p1 + 0.5
    p2 = p2 - torch.floor(p2)
    idx, wts = [], []
    for p in (p1, p2):
        delay = p * window
        i = torch.floor(delay)
        f = delay - i
        win = torch.sin(math.pi * p) ** 2
        j = torch.arange(num_samples, device=device) - i.to(torch.int64) + pad  # newer sample, in padded coordinates
        idx += [j, j - 1]
        wts += [win * (1.0 - f), win * f]
    return torch.stack(idx), torch.stack(wts)


def pitch_shift(x: Tensor, sample_rate: float, ratio: float) -> Tensor:
    """The two-tap shifter on x (B, C, T) float64 -> (B, C, T) float64."""
    t = x.shape[-1]
    pad = int(math.ceil(WINDOW_S * float(sample_rate))) + 2  # > the largest delay + 1
    idx, wts = shifter_gather(t, sample_rate, ratio, pad, x.device)  # (4, T)
    xp = F.pad(x, (pad, 0))  # (B, C, pad + T)
    return (xp[..., idx] * wts).sum(dim=-2)  # (B, C, 4, T) -> (B, C, T)


def octave(x: Tensor, sample_rate: float, dry_level: ParamLike, down_level: ParamLike, up_level: ParamLike) -> Tensor:
    """Octave down/up blend on x (B, C, T); linear levels (floats or (B,)) -> (B, C, T)."""
    dry, down, up = (as_param(v, x, torch.float64) for v in (dry_level, down_level, up_level))  # (B|1, 1, 1)
    x64 = x.to(torch.float64)
    y = dry * x64
    y = y + down * pitch_shift(x64, sample_rate, DOWN_RATIO)
    y = y + up * pitch_shift(x64, sample_rate, UP_RATIO)
    return y.to(x.dtype)


__all__ = ["octave", "pitch_shift", "shifter_gather"]
