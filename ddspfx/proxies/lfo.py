"""Sine LFOs that follow juce::dsp::Oscillator sample for sample.

JUCE's oscillator returns ``sin(phi_n - pi)`` where ``phi`` is a float32 accumulator that
starts at 0 on reset, advances by ``increment = float32(2 pi) * rate / float32(fs)`` each
sample and wraps by subtracting float32(2 pi) (juce_Oscillator.h, juce_Phase.h). Over
88 200 samples the float32 rounding drifts the phase by up to ~1e-2 rad, which moves a
chorus delay by several samples, so we replay the float32 accumulator exactly (numba) and
add its deviation from the ideal phase ``2 pi rate n / fs`` as a constant (no-grad)
correction. The forward pass then matches JUCE, and the gradient w.r.t. the rate is that of
the ideal phase.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ddspfx.proxies.fft import as_param
from ddspfx.proxies.recursions import _jit

EMULATE_FLOAT32_PHASE: bool = True
"""Replay JUCE's float32 phase accumulator. The correction is piecewise constant in the rate
(it jumps whenever the float32 increment changes by one ulp), so finite-difference checks of
the rate gradient set this to False; the analytic gradient is the same either way."""

_TWO_PI_F32 = np.float32(2.0 * math.pi)
_PI_F32 = np.float32(math.pi)


@_jit
def _phase_f32(increments: np.ndarray, num_samples: int) -> np.ndarray:
    """(R,) float32 increments -> (R, N) float32 phases before each advance (juce::dsp::Phase)."""
    two_pi = np.float32(2.0 * math.pi)
    out = np.empty((increments.shape[0], num_samples), dtype=np.float32)
    for r in range(increments.shape[0]):
        phase = np.float32(0.0)
        inc = increments[r]
        for n in range(num_samples):
            out[r, n] = phase
            nxt = np.float32(phase + inc)
            while nxt >= two_pi:
                nxt = np.float32(nxt - two_pi)
            phase = nxt
    return out


def juce_increment(rate_hz: np.ndarray, sample_rate: float) -> np.ndarray:
    """JUCE's per-sample phase increment, rounded as float32 C++ code rounds it. (R,) float32."""
    rate = np.asarray(rate_hz, dtype=np.float32)
    return (_TWO_PI_F32 * rate) / np.float32(sample_rate)


def juce_phase_f32(rate_hz: np.ndarray, sample_rate: float, num_samples: int) -> np.ndarray:
    """JUCE's float32 ``phi_n - pi`` (R, N) for rates (R,) in Hz, bit for bit (no gradient)."""
    inc = juce_increment(np.asarray(rate_hz, dtype=np.float64).reshape(-1), sample_rate)
    return _phase_f32(inc, num_samples) - _PI_F32


def juce_phase(rate_hz: torch.Tensor, sample_rate: float, num_samples: int) -> torch.Tensor:
    """Oscillator phase ``phi_n - pi`` (B, N) for rates (B,) in Hz: JUCE's value, ideal gradient.

    ``sample_rate`` is the oscillator's own rate (the phaser runs its LFO at fs/4).
    """
    rate = rate_hz.reshape(-1)
    n = torch.arange(num_samples, dtype=rate.dtype, device=rate.device)
    ideal = (2.0 * math.pi / sample_rate) * rate[:, None] * n  # (B, N)
    if not EMULATE_FLOAT32_PHASE:
        return ideal - math.pi
    with torch.no_grad():
        phi32 = juce_phase_f32(rate.detach().cpu().to(torch.float64).numpy(), sample_rate, num_samples).astype(np.float64)
        dev = torch.from_numpy(phi32).to(ideal) - (ideal.detach() - math.pi)
        dev = dev - 2.0 * math.pi * torch.round(dev / (2.0 * math.pi))  # remove the wraps
    return ideal - math.pi + dev


def juce_sine(rate_hz: torch.Tensor, sample_rate: float, num_samples: int) -> torch.Tensor:
    """``sin(phi_n - pi) = -sin(2 pi rate n / fs)`` as JUCE computes it. (B,) rates -> (B, N)."""
    return torch.sin(juce_phase(rate_hz, sample_rate, num_samples))


__all__ = ["juce_phase", "juce_phase_f32", "juce_sine", "juce_increment", "EMULATE_FLOAT32_PHASE"]


def modulated_loop_mix(x, control, feedback, mix, kernel):
    """Run a per-channel modulated feedback loop and mix it with the dry, as JUCE's Chorus/Phaser do.

    x (B, C, T); ``control`` (B, T) is the LFO-driven per-sample control (chorus: delay in samples,
    phaser: stage coefficient G), shared by all channels (JUCE uses one LFO per plugin);
    ``kernel(x_rows (M, T), feedback (M,), control_rows (M, T)) -> (M, T)`` with M = B*C.
    Returns (1 - mix) x + mix wet, (B, C, T).
    """
    b, c, t = x.shape
    rows = control[:, None, :].expand(b, c, t).reshape(b * c, t)  # shared LFO across channels
    fb_rows = as_param(feedback, x).expand(b, c, 1).reshape(-1)  # (B*C,)
    wet = kernel(x.reshape(b * c, t), fb_rows, rows).reshape(b, c, t)
    m = as_param(mix, x)
    return (1.0 - m) * x + m * wet
