"""Noise-gate proxy: pedalboard.NoiseGate is ``juce::dsp::NoiseGate`` (juce_NoiseGate.h/.cpp,
juce_BallisticsFilter.cpp).

What JUCE does, per channel (no stereo link), all in float32:

- **Wrapper** (spotify/pedalboard:pedalboard/plugins/NoiseGate.h): the four keywords call
  ``setThreshold``, ``setRatio``, ``setAttack``, ``setRelease`` (defaults -100 dB, 10, 1 ms,
  100 ms). ddspfx predicts threshold_db and release_ms and fixes ratio 10, attack 1 ms.
- **RMS envelope** (``RMSFilter``: a ``BallisticsFilter`` with level type RMS, attack 0 ms,
  release 50 ms, set in the NoiseGate constructor): ``r = x^2``; ``k = k_A if r > m[n-1]
  else k_R``; ``m[n] = r + k (m[n-1] - r)``, ``m[-1] = 0``; output ``sqrt(m[n])``. Attack
  0 ms gives ``k_A = 0`` (``calculateLimitedCte``: 0 below 1e-3 ms), so a rise is followed
  at once and a fall decays with the 50 ms release.
- **Ballistics** (``envelopeFilter``: a peak ``BallisticsFilter`` with the gate's attack and
  release): the same switching one-pole on ``|sqrt(m)|``, giving e[n].
- **Coefficients**: ``k(t_ms) = exp(-2 pi 1000 / (fs t_ms))`` computed in double and stored
  as float (the 2 pi makes the time constant t / 2 pi, as in the compressor).
- **Gain law** (``processSample``): ``g = 1`` if ``e > T`` else ``(e / T)^(ratio - 1)``
  (``e * thresholdInverse``), with ``T = 10^(threshold_db / 20)`` (0 at <= -200 dB); ``y = g x``.
  So below threshold the gate is a downward expander of slope ``ratio`` (10: -90 dB for a
  signal 10 dB under the threshold), and the gain law is continuous at the threshold.

The proxy runs in float64 but rounds the ballistics coefficients and the threshold to
float32 as JUCE stores them (a detached correction, as ``ddspfx.proxies.lfo`` does for the
LFO phase): the ``ratio - 1 = 9`` power magnifies envelope errors ninefold. On 3-s synth
clips at thresholds -70..-20 dB this took the largest error against pedalboard 0.9.26 from
7e-6 (float64 coefficients) to 2.2e-6.

Gradients, as in the compressor proxy: a no-grad pass fixes the attack/release masks of
both filters, then each is re-run as a differentiable time-varying one-pole, so gradients
reach release_ms (and attack_ms) through the coefficients but not through the switch, and
flow back to x through ``x^2``, the square root and the gain. threshold_db (and ratio) get
gradient only where the envelope is below threshold (the gain is 1 above it).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ddspfx.proxies.compressor import ballistics_coefficient
from ddspfx.proxies.fft import ParamLike, as_param
from ddspfx.proxies.recursions import ballistics_mask, one_pole

RATIO = 10.0
"""The ratio ddspfx fixes (pedalboard's default); not predicted."""
ATTACK_MS = 1.0
"""The attack time ddspfx fixes (pedalboard's default, ms); not predicted."""
RMS_RELEASE_MS = 50.0
"""juce::dsp::NoiseGate's RMS filter release (its attack is 0), set in the constructor."""

EMULATE_FLOAT32: bool = True
"""Round the coefficients and the threshold to float32 as JUCE stores them. The rounded values are
piecewise constant in the knobs, so finite-difference checks of the gradient set this to False;
the analytic gradient is the same either way."""


def juce_coefficient(time_ms: Tensor, sample_rate: float) -> Tensor:
    """BallisticsFilter's ``float(exp(-2 pi 1000 / fs / float(t_ms)))``; 0 below 1 us. Differentiable in t_ms."""
    k = ballistics_coefficient(time_ms, sample_rate)
    if not EMULATE_FLOAT32:
        return k
    with torch.no_grad():
        t32 = time_ms.detach().to(torch.float32).to(torch.float64).cpu().numpy()
        exp_factor = -2.0 * math.pi * 1000.0 / sample_rate
        k32 = np.where(t32 < 1e-3, 0.0, np.exp(exp_factor / np.maximum(t32, 1e-3))).astype(np.float32)
        exact = torch.from_numpy(k32.astype(np.float64)).to(device=time_ms.device, dtype=time_ms.dtype)
    return k + (exact - k.detach())


def juce_threshold(threshold_db: Tensor) -> Tensor:
    """``Decibels::decibelsToGain(dB, -200)`` in float32: 10^(dB/20), 0 at or below -200 dB."""
    thr = torch.exp(threshold_db * (math.log(10.0) / 20.0))
    thr = torch.where(threshold_db > -200.0, thr, torch.zeros_like(thr))
    if not EMULATE_FLOAT32:
        return thr
    with torch.no_grad():
        db32 = threshold_db.detach().to(torch.float32)
        exact = torch.where(db32 > -200.0, torch.pow(torch.tensor(10.0, dtype=torch.float32), db32 * 0.05), 0.0)
    return thr + (exact.to(thr.dtype) - thr.detach())


def _switching_one_pole(level: Tensor, k_attack: Tensor, k_release: Tensor) -> Tensor:
    """BallisticsFilter on a non-negative level (B, C, T) with (B|1, 1, 1) coefficients -> (B, C, T)."""
    b, c, t = level.shape
    k_att = k_attack.expand(b, c, 1)  # (B, C, 1)
    k_rel = k_release.expand(b, c, 1)
    mask = ballistics_mask(level.reshape(b * c, t), k_att.reshape(-1), k_rel.reshape(-1)).reshape(b, c, t)
    k = torch.where(mask, k_att, k_rel)  # (B, C, T)
    return one_pole(k, (1.0 - k) * level)


def _safe_sqrt(v: Tensor) -> Tensor:
    """sqrt with a zero (not infinite) gradient at 0, where the RMS envelope starts."""
    pos = v > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, v, torch.ones_like(v))), torch.zeros_like(v))


def gate_envelope(x: Tensor, sample_rate: float, attack_ms: ParamLike, release_ms: ParamLike) -> Tensor:
    """The gate's control envelope e (B, C, T): RMS filter (0 / 50 ms), then peak ballistics, from x (B, C, T)."""
    zero = torch.zeros(1, 1, 1, dtype=x.dtype, device=x.device)
    k_rms = juce_coefficient(torch.full((1, 1, 1), RMS_RELEASE_MS, dtype=x.dtype, device=x.device), sample_rate)
    rms = _safe_sqrt(_switching_one_pole(x * x, zero, k_rms))  # (B, C, T)
    k_att = juce_coefficient(as_param(attack_ms, x), sample_rate)  # (B|1, 1, 1)
    k_rel = juce_coefficient(as_param(release_ms, x), sample_rate)
    return _switching_one_pole(rms, k_att, k_rel)


def noise_gate(
    x: Tensor,
    sample_rate: float,
    threshold_db: ParamLike,
    release_ms: ParamLike,
    ratio: ParamLike = RATIO,
    attack_ms: ParamLike = ATTACK_MS,
) -> Tensor:
    """juce::dsp::NoiseGate on x (B, C, T); threshold in dB, release in ms (ratio x:1, attack ms fixed) -> (B, C, T)."""
    x64 = x.to(torch.float64)
    env = gate_envelope(x64, sample_rate, attack_ms, release_ms)  # (B, C, T)
    thr = juce_threshold(as_param(threshold_db, x64))  # (B|1, 1, 1)
    exponent = as_param(ratio, x64) - 1.0
    below = (env <= thr) & (env > 0)
    safe_env = torch.where(below, env, torch.ones_like(env))
    safe_thr = torch.where(thr > 0, thr, torch.ones_like(thr))
    closing = torch.exp(exponent * (torch.log(safe_env) - torch.log(safe_thr)))
    gain = torch.where(env > thr, torch.ones_like(env), torch.where(below, closing, torch.zeros_like(env)))
    return (gain * x64).to(x.dtype)


__all__ = ["noise_gate", "gate_envelope", "juce_coefficient", "juce_threshold", "RATIO", "ATTACK_MS", "RMS_RELEASE_MS",
           "EMULATE_FLOAT32"]
