"""FFT building blocks for the LTI proxies: convolution and frequency-sampled filters.

The LTI pedals (PeakFilter, Delay, Reverb) are rational in z (with long delays z^-L), so
their exact output is ``y = h * x`` truncated to the input length. We evaluate H on an FFT
grid instead of running a recursion, which is fast, batched and differentiable.

Time aliasing is the catch: an FFT of length M folds the impulse response tail h[n + jM]
onto h[n]. We remove it with an *exponential window* (the z-transform on a circle of radius
rho > 1): filtering ``x[n] rho^-n`` with ``H(rho z)`` gives ``y[n] rho^-n``, and every
aliased term is scaled by ``rho^-M``. We pick rho so that un-windowing amplifies float64
FFT rounding by at most ``gain = rho^T = 1e6`` (errors ~1e-10) and M >= 1.5 T (a 2-3-5-smooth
length), so the fold-over is scaled by rho^-M <= 1e-9: below float32 resolution, even for
multi-second reverb tails. We therefore compute in float64 and cast back to x's dtype.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

ParamLike = float | int | Tensor


def next_pow2(n: int) -> int:
    """Smallest power of two >= n (n >= 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


def fft_size(n: int) -> int:
    """Smallest even 2-3-5-smooth integer >= n: fast for pocketfft, less padding than a power of two."""
    best = next_pow2(max(n, 2))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            if m % 2 == 0 and m < best:
                best = m
            p35 *= 3
        p5 *= 5
    return best


def as_param(value: ParamLike, x: Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """A python float, 0-d tensor or (B,) tensor -> (B or 1, 1, 1) tensor on x's device.

    ``dtype`` defaults to x's dtype; the batch size must be 1 or x's (B,).
    """
    dtype = x.dtype if dtype is None else dtype
    t = torch.as_tensor(value, dtype=dtype, device=x.device)
    if t.ndim == 0:
        return t.reshape(1, 1, 1)
    if t.ndim == 1 and t.shape[0] in (1, x.shape[0]):
        return t.reshape(-1, 1, 1)  # (B, 1, 1)
    raise ValueError(f"a parameter must be a float, a 0-d tensor or a ({x.shape[0]},) tensor; got shape {tuple(t.shape)}")


def fft_convolve(x: Tensor, h: Tensor) -> Tensor:
    """Linear convolution of x (B, C, T) with h (B|1, C|1, L), truncated to T samples (causal)."""
    t = x.shape[-1]
    n_fft = next_pow2(t + min(h.shape[-1], t) - 1)
    h = h[..., :t]
    y = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(h, n_fft), n_fft)
    return y[..., :t]


def fft_grid_s(n_fft: int, log_rho: float, device: torch.device | str | None = None) -> Tensor:
    """s = log(z) = log(rho) + j*omega on the rfft grid, complex128 of shape (n_fft//2 + 1,).

    ``z^-L`` is then ``exp(-L * s)`` for any real (even non-integer, differentiable) L.
    """
    omega = torch.arange(n_fft // 2 + 1, dtype=torch.float64, device=device) * (2.0 * math.pi / n_fft)
    return torch.complex(torch.full_like(omega, log_rho), omega)


def z_power(s: Tensor, lag: ParamLike) -> Tensor:
    """z^-lag on the grid ``s`` (see :func:`fft_grid_s`); lag a number or a real tensor (B, 1, 1)."""
    if isinstance(lag, Tensor):
        return torch.exp(-lag.to(torch.float64) * s)
    return torch.exp(-float(lag) * s)


def poly_z(coeffs: Tensor, s: Tensor) -> Tensor:
    """sum_k c_k z^-k on the grid: coeffs (..., K) real -> (..., F) complex128."""
    k = torch.arange(coeffs.shape[-1], dtype=torch.float64, device=s.device)
    basis = torch.exp(-k[:, None] * s[None, :])  # (K, F)
    return coeffs.to(torch.float64).to(torch.complex128) @ basis


def lti_filter(x: Tensor, response: Callable[[Tensor], Tensor], gain: float = 1e6) -> Tensor:
    """Filter x (B, C, T) by the LTI system whose transfer function is ``response(s)``.

    ``response`` maps the grid s = log z (complex128, (F,)) to H(z), broadcastable to
    (B, C, F). Output (B, C, T) in x's dtype: the exact causal convolution with the full
    (infinite) impulse response, truncated to T, up to a relative fold-over of
    ``gain^-(M/T) <= 1e-9`` (see the module docstring).
    """
    t = x.shape[-1]
    if t == 0:
        return x.clone()
    n_fft = fft_size((3 * t + 1) // 2)
    log_rho = math.log(gain) / t
    n = torch.arange(t, dtype=torch.float64, device=x.device)
    xw = x.to(torch.float64) * torch.exp(-log_rho * n)  # x[n] rho^-n
    s = fft_grid_s(n_fft, log_rho, x.device)
    y = torch.fft.irfft(torch.fft.rfft(xw, n_fft) * response(s), n_fft)[..., :t]
    return (y * torch.exp(log_rho * n)).to(x.dtype)
