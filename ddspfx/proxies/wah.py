"""Auto-wah proxy: exact torch mirror of ddspfx's own wah (``ddspfx.dsp.wah``; see its docstring).

The TPT state-variable filter with per-sample coefficients is a linear time-varying 2-state
system. With ``h = 1 / (1 + g (g + k))``, eliminating hp/bp/lp from the update gives::

    s[n+1] = A_n s[n] + B_n u[n],   wet[n] = C_n s[n] + D_n u[n],   s[0] = 0
    A_n = [[2h - 1, -2gh], [2gh, 1 - 2g^2 h]],  B_n = [2gh, 2g^2 h]
    C_n = [kh, -kgh],                           D_n = kgh

(using ``1 - gh (g + k) = h``). The sweep and these nine per-sample coefficients are torch, so
autograd carries gradients to every knob; the recursion is a numba kernel (:class:`StateSpace2`)
whose backward is the adjoint recursion (time-reversed, transposed):
``mu[n] = C_n^T gy[n] + A_n^T mu[n+1]``, ``gu[n] = D_n gy[n] + B_n^T mu[n+1]``,
``gA_n = mu[n+1] s[n]^T``, ``gB_n = mu[n+1] u[n]``, ``gC_n = gy[n] s[n]``, ``gD_n = gy[n] u[n]``.
Computed in float64 (phases of 3-s clips need it), returned in x's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ddspfx.dsp.wah import MAX_CENTRE_FRACTION
from ddspfx.proxies.fft import ParamLike, as_param
from ddspfx.proxies.recursions import _jit, _to_np, _to_torch

# coefficient layout along the last axis of a (B, T, 9) tensor
A11, A12, A21, A22, B1, B2, C1, C2, D = range(9)


@_jit
def _ss2_fwd(x: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (B, C, T), coef (B, T, 9) -> y (B, C, T) and the states before each sample (B, C, T, 2)."""
    nb, nc, nt = x.shape
    y = np.empty_like(x)
    states = np.empty((nb, nc, nt, 2))
    for b in range(nb):
        for c in range(nc):
            s1 = 0.0
            s2 = 0.0
            for n in range(nt):
                p = coef[b, n]
                u = x[b, c, n]
                states[b, c, n, 0] = s1
                states[b, c, n, 1] = s2
                y[b, c, n] = p[6] * s1 + p[7] * s2 + p[8] * u
                t1 = p[0] * s1 + p[1] * s2 + p[4] * u
                s2 = p[2] * s1 + p[3] * s2 + p[5] * u
                s1 = t1
    return y, states


@_jit
def _ss2_bwd(x: np.ndarray, coef: np.ndarray, states: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjoint of :func:`_ss2_fwd`: grads for x (B, C, T) and coef (B, T, 9), summed over channels."""
    nb, nc, nt = x.shape
    gx = np.empty_like(x)
    gcoef = np.zeros_like(coef)
    for b in range(nb):
        for c in range(nc):
            m1 = 0.0  # mu[n+1] = dL/ds[n+1]
            m2 = 0.0
            for n in range(nt - 1, -1, -1):
                p = coef[b, n]
                gp = gcoef[b, n]
                u = x[b, c, n]
                s1 = states[b, c, n, 0]
                s2 = states[b, c, n, 1]
                g = gy[b, c, n]
                gx[b, c, n] = p[8] * g + p[4] * m1 + p[5] * m2
                gp[0] += m1 * s1
                gp[1] += m1 * s2
                gp[2] += m2 * s1
                gp[3] += m2 * s2
                gp[4] += m1 * u
                gp[5] += m2 * u
                gp[6] += g * s1
                gp[7] += g * s2
                gp[8] += g * u
                n1 = p[6] * g + p[0] * m1 + p[2] * m2
                m2 = p[7] * g + p[1] * m1 + p[3] * m2
                m1 = n1
    return gx, gcoef


class StateSpace2(torch.autograd.Function):
    """Differentiable LTV 2-state SISO system: x (B, C, T), coef (B, T, 9) shared by channels -> (B, C, T)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, coef: Tensor) -> Tensor:
        x_np, coef_np = _to_np(x), _to_np(coef)
        y, states = _ss2_fwd(x_np, coef_np)
        ctx.arrays = (x_np, coef_np, states)
        ctx.save_for_backward(x, coef)
        return _to_torch(y, x)

    @staticmethod
    def backward(ctx: Any, grad_y: Tensor) -> tuple[Tensor, Tensor]:
        x, coef = ctx.saved_tensors
        gx, gcoef = _ss2_bwd(*ctx.arrays, _to_np(grad_y))
        return _to_torch(gx, x), _to_torch(gcoef, coef)


def state_space2(x: Tensor, coef: Tensor) -> Tensor:
    """Run ``s[n+1] = A_n s[n] + B_n x[n]``, ``y = C_n s[n] + D_n x[n]`` (layout A11..D, see module)."""
    return StateSpace2.apply(x.contiguous(), coef.contiguous())


def centre_frequency(num_samples: int, sample_rate: float, rate_hz: Tensor, min_frequency_hz: Tensor,
                     range_octaves: Tensor) -> Tensor:
    """The swept centre fc (B, T) in Hz from params (B,): ``f_min 2^(range (1 + sin(2 pi rate n/fs)) / 2)``."""
    n = torch.arange(num_samples, dtype=rate_hz.dtype, device=rate_hz.device)
    sweep = 0.5 * (1.0 + torch.sin((2.0 * math.pi / sample_rate) * rate_hz[:, None] * n))  # (B, T)
    fc = min_frequency_hz[:, None] * torch.exp(math.log(2.0) * range_octaves[:, None] * sweep)
    return torch.clamp(fc, max=MAX_CENTRE_FRACTION * sample_rate)


def svf_bandpass_coefficients(g: Tensor, k: Tensor) -> Tensor:
    """State-space coefficients (B, T, 9) of the peak-normalised TPT SVF band-pass from g (B, T), k (B, 1)."""
    h = 1.0 / (1.0 + g * (g + k))
    gh = g * h
    ggh = g * gh
    return torch.stack(
        [2.0 * h - 1.0, -2.0 * gh, 2.0 * gh, 1.0 - 2.0 * ggh, 2.0 * gh, 2.0 * ggh, k * h, -k * gh, k * gh], dim=-1
    )


def wah(
    x: Tensor,
    sample_rate: float,
    rate_hz: ParamLike,
    min_frequency_hz: ParamLike,
    range_octaves: ParamLike,
    q: ParamLike,
    mix: ParamLike,
) -> Tensor:
    """The auto-wah on x (B, C, T); rate in Hz, sweep bottom in Hz, range in octaves, q, mix -> (B, C, T)."""
    b, c, t = x.shape
    x64 = x.to(torch.float64)

    def per_batch(v: ParamLike) -> Tensor:
        return as_param(v, x64).reshape(-1).expand(b)  # (B,) float64

    fc = centre_frequency(t, sample_rate, per_batch(rate_hz), per_batch(min_frequency_hz), per_batch(range_octaves))
    g = torch.tan((math.pi / sample_rate) * fc)  # (B, T)
    k = 1.0 / per_batch(q)[:, None]  # (B, 1)
    wet = state_space2(x64, svf_bandpass_coefficients(g, k))  # (B, C, T)
    m = as_param(mix, x64)
    return ((1.0 - m) * x64 + m * wet).to(x.dtype)


__all__ = ["wah", "centre_frequency", "svf_bandpass_coefficients", "state_space2", "StateSpace2"]
