"""Sample-by-sample recursions as numba kernels with hand-written adjoints.

Time-varying or nonlinear recursions (a compressor's switching envelope, a chorus delay
line with feedback, a phaser's allpass loop) cannot be vectorised in torch and are far too
slow as python loops of torch ops. Each building block here is a numba kernel running in
float64 over rows ``M = B * C`` and time ``T``, wrapped in a ``torch.autograd.Function``
whose backward is the time-reversed adjoint recursion (also numba). The effect-specific
maths around them (LFOs, coefficient maps, mixing) stays in torch, so autograd carries the
gradients from a kernel's per-sample coefficients back to the effect parameters.

Inputs of any float dtype are computed in float64 and returned in the input's dtype.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numba
import numpy as np
import torch


def _jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit(cache=True)``, falling back to no cache where no cache dir is writable."""
    try:
        return numba.njit(cache=True)(fn)
    except (RuntimeError, OSError):  # numba raises RuntimeError when it finds no cache locator
        return numba.njit(cache=False)(fn)


def _to_np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().to(torch.float64).numpy())


def _to_torch(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(a).to(device=like.device, dtype=like.dtype)


# --- time-varying one-pole: y[n] = a[n] y[n-1] + b[n], y[-1] = 0 -------------------------


@_jit
def _one_pole_fwd(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (M, T) each
    m_rows, t_len = a.shape
    y = np.empty_like(b)
    for m in range(m_rows):
        acc = 0.0
        for n in range(t_len):
            acc = a[m, n] * acc + b[m, n]
            y[m, n] = acc
    return y


@_jit
def _one_pole_bwd(a: np.ndarray, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lambda[n] = g[n] + a[n+1] lambda[n+1]; grad_b = lambda; grad_a[n] = lambda[n] y[n-1]."""
    m_rows, t_len = a.shape
    grad_a = np.empty_like(a)
    grad_b = np.empty_like(a)
    for m in range(m_rows):
        lam = 0.0
        for n in range(t_len - 1, -1, -1):
            if n + 1 < t_len:
                lam = g[m, n] + a[m, n + 1] * lam
            else:
                lam = g[m, n]
            grad_b[m, n] = lam
            grad_a[m, n] = lam * y[m, n - 1] if n > 0 else 0.0
    return grad_a, grad_b


class OnePole(torch.autograd.Function):
    """Differentiable ``y[n] = a[n] y[n-1] + b[n]`` on (M, T) tensors, zero initial state."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a_np = _to_np(a)
        y_np = _one_pole_fwd(a_np, _to_np(b))
        ctx.save_for_backward(a, b)
        ctx.y_np, ctx.a_np = y_np, a_np
        return _to_torch(y_np, b)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        a, b = ctx.saved_tensors
        grad_a, grad_b = _one_pole_bwd(ctx.a_np, ctx.y_np, _to_np(grad_y))
        return _to_torch(grad_a, a), _to_torch(grad_b, b)


def one_pole(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Time-varying one-pole ``y[n] = a[n] y[n-1] + b[n]``; ``a``, ``b`` broadcast to (M, T)."""
    a, b = torch.broadcast_tensors(a, b)
    shape = a.shape
    y = OnePole.apply(a.reshape(-1, shape[-1]).contiguous(), b.reshape(-1, shape[-1]).contiguous())
    return y.reshape(shape)


# --- peak-detector ballistics mask (juce::dsp::BallisticsFilter) ---------------------------


@_jit
def _ballistics_mask(r: np.ndarray, k_att: np.ndarray, k_rel: np.ndarray) -> np.ndarray:
    """True where the attack coefficient is used: r[n] > e[n-1]; e[n] = r + k (e[n-1] - r)."""
    m_rows, t_len = r.shape
    mask = np.empty(r.shape, dtype=np.bool_)
    for m in range(m_rows):
        e = 0.0
        for n in range(t_len):
            attack = r[m, n] > e
            mask[m, n] = attack
            k = k_att[m] if attack else k_rel[m]
            e = r[m, n] + k * (e - r[m, n])
    return mask


def ballistics_mask(level: torch.Tensor, k_attack: torch.Tensor, k_release: torch.Tensor) -> torch.Tensor:
    """Which samples of a peak envelope follower rise (attack) rather than fall (release).

    ``level`` (M, T) rectified input, ``k_attack``/``k_release`` (M,) pole coefficients.
    Returns a bool (M, T) mask. Not differentiable: the proxy re-runs the envelope through
    :func:`one_pole` with the mask fixed, so gradients reach the coefficients but not the switch.
    """
    mask = _ballistics_mask(_to_np(level), _to_np(k_attack), _to_np(k_release))
    return torch.from_numpy(mask).to(level.device)


# --- chorus delay line: inverted feedback, linear interpolation -----------------------------


@_jit
def _chorus_fwd(x: np.ndarray, fb: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u[n] = x[n] - fb w[n-1]; w[n] = (1-f) u[n-i] + f u[n-i-1], i = floor(d[n]), f = d[n] - i."""
    m_rows, t_len = x.shape
    u = np.zeros_like(x)
    w = np.zeros_like(x)
    for m in range(m_rows):
        prev = 0.0
        for n in range(t_len):
            u[m, n] = x[m, n] - fb[m] * prev
            dn = d[m, n]
            i = int(math.floor(dn))
            f = dn - i
            j = n - i
            v1 = u[m, j] if 0 <= j <= n else 0.0
            v2 = u[m, j - 1] if 0 <= j - 1 <= n else 0.0
            prev = v1 + f * (v2 - v1)
            w[m, n] = prev
    return u, w


@_jit
def _chorus_bwd(
    fb: np.ndarray, d: np.ndarray, u: np.ndarray, w: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reverse-time adjoint of :func:`_chorus_fwd`; returns grads for x, fb (M,) and d."""
    m_rows, t_len = u.shape
    lam_u = np.zeros_like(u)
    grad_d = np.zeros_like(u)
    grad_fb = np.zeros(m_rows)
    for m in range(m_rows):
        for n in range(t_len - 1, -1, -1):
            lam_w = g[m, n]
            if n + 1 < t_len:
                lam_w -= fb[m] * lam_u[m, n + 1]
            dn = d[m, n]
            i = int(math.floor(dn))
            f = dn - i
            j = n - i
            v1 = 0.0
            v2 = 0.0
            if 0 <= j <= n:
                v1 = u[m, j]
                lam_u[m, j] += (1.0 - f) * lam_w
            if 0 <= j - 1 <= n:
                v2 = u[m, j - 1]
                lam_u[m, j - 1] += f * lam_w
            grad_d[m, n] = lam_w * (v2 - v1)
            if n > 0:
                grad_fb[m] -= lam_u[m, n] * w[m, n - 1]
    return lam_u, grad_fb, grad_d


class ChorusDelay(torch.autograd.Function):
    """The chorus's wet path ``w`` (M, T) from input x (M, T), feedback (M,), delay d (M, T) in samples."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, fb: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        fb_np, d_np = _to_np(fb), _to_np(d)
        u, w = _chorus_fwd(_to_np(x), fb_np, d_np)
        ctx.arrays = (fb_np, d_np, u, w)
        ctx.save_for_backward(x, fb, d)
        return _to_torch(w, x)

    @staticmethod
    def backward(ctx: Any, grad_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, fb, d = ctx.saved_tensors
        gx, gfb, gd = _chorus_bwd(*ctx.arrays, _to_np(grad_w))
        return _to_torch(gx, x), _to_torch(gfb, fb), _to_torch(gd, d)


def chorus_delay(x: torch.Tensor, feedback: torch.Tensor, delay: torch.Tensor) -> torch.Tensor:
    """juce::dsp::Chorus's delay line: x (M, T), feedback (M,), delay (M, T) in samples (>= 0).

    The read is linearly interpolated, so the gradient w.r.t. the delay is the local slope
    ``u[n-i-1] - u[n-i]`` (one-sided at integer delays).
    """
    return ChorusDelay.apply(x.contiguous(), feedback.contiguous(), delay.contiguous())


# --- phaser: 6 TPT first-order allpasses in a 1-sample inverted feedback loop ---------------

PHASER_STAGES = 6


@_jit
def _phaser_fwd(x: np.ndarray, fb: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns the loop output y6 (M, T) and the stage states before each sample (M, 6, T)."""
    m_rows, t_len = x.shape
    y = np.empty_like(x)
    states = np.empty((m_rows, 6, t_len))
    for m in range(m_rows):
        s = np.zeros(6)
        prev = 0.0
        for n in range(t_len):
            g = G[m, n]
            v = x[m, n] - fb[m] * prev
            for j in range(6):
                states[m, j, n] = s[j]
                out = (2.0 * g - 1.0) * v + 2.0 * (1.0 - g) * s[j]
                s[j] = s[j] + 2.0 * g * (v - s[j])
                v = out
            y[m, n] = v
            prev = v
    return y, states


@_jit
def _phaser_bwd(
    x: np.ndarray, fb: np.ndarray, G: np.ndarray, y: np.ndarray, states: np.ndarray, gy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reverse-time adjoint of :func:`_phaser_fwd`; recomputes each sample's stage inputs."""
    m_rows, t_len = x.shape
    grad_x = np.empty_like(x)
    grad_G = np.empty_like(x)
    grad_fb = np.zeros(m_rows)
    ins = np.empty(6)
    for m in range(m_rows):
        lam_s = np.zeros(6)
        lam_loop = 0.0
        for n in range(t_len - 1, -1, -1):
            g = G[m, n]
            prev = y[m, n - 1] if n > 0 else 0.0
            v = x[m, n] - fb[m] * prev
            for j in range(6):
                ins[j] = v
                v = (2.0 * g - 1.0) * v + 2.0 * (1.0 - g) * states[m, j, n]
            lam = gy[m, n] + lam_loop
            gG = 0.0
            for j in range(5, -1, -1):
                s = states[m, j, n]
                ls = lam_s[j]
                gG += 2.0 * (ins[j] - s) * (lam + ls)
                lam_s[j] = 2.0 * (1.0 - g) * lam + (1.0 - 2.0 * g) * ls
                lam = (2.0 * g - 1.0) * lam + 2.0 * g * ls
            grad_G[m, n] = gG
            grad_x[m, n] = lam
            grad_fb[m] -= lam * prev
            lam_loop = -fb[m] * lam
    return grad_x, grad_fb, grad_G


class PhaserLoop(torch.autograd.Function):
    """Six TPT allpasses sharing the per-sample coefficient G (M, T) inside ``u = x - fb * y6[n-1]``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, fb: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        x_np, fb_np, G_np = _to_np(x), _to_np(fb), _to_np(G)
        y, states = _phaser_fwd(x_np, fb_np, G_np)
        ctx.arrays = (x_np, fb_np, G_np, y, states)
        ctx.save_for_backward(x, fb, G)
        return _to_torch(y, x)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, fb, G = ctx.saved_tensors
        gx, gfb, gG = _phaser_bwd(*ctx.arrays, _to_np(grad_y))
        return _to_torch(gx, x), _to_torch(gfb, fb), _to_torch(gG, G)


def phaser_loop(x: torch.Tensor, feedback: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """juce::dsp::Phaser's filter loop: x (M, T), feedback (M,), G = g/(1+g) (M, T) -> y6 (M, T).

    Each stage: ``out = 2(G u + (1-G) s) - u``, ``s <- s + 2G(u - s)`` (FirstOrderTPTFilter allpass).
    """
    return PhaserLoop.apply(x.contiguous(), feedback.contiguous(), G.contiguous())


__all__ = ["one_pole", "ballistics_mask", "chorus_delay", "phaser_loop", "OnePole", "ChorusDelay", "PhaserLoop"]
