"""Fuzz: biased hard clipping at high gain, a DC blocker, then a one-pole tone lowpass (ddspfx's own DSP).

    v = clip(G x + BIAS, -1, 1) - clip(BIAS, -1, 1),   G = 10^(gain_db / 20)
    y = lowpass_tone(highpass_20Hz(v))

The bias moves the clipping points to +0.7 and -1.3 around the operating point, so the
two half-waves clip differently: even harmonics, as in a mis-biased transistor fuzz. How
strong they are depends on G times the level: once both half-waves are hard-clipped
(large G |x|), a sine comes out as a near-50 % duty square and the even harmonics fade
(its duty cycle departs from 1/2 by about asin(BIAS / (G A)) / pi for amplitude A); they
are strongest while only the positive half clips. The clipping leaves a DC offset, which the
highpass removes.

Both filters are JUCE's first-order bilinear (prewarped) designs, ``makeFirstOrderHighPass``
/ ``makeFirstOrderLowPass``, with ``n = tan(pi f / fs)``: highpass b = [1, -1] / (1 + n),
lowpass b = [n, n] / (1 + n), both a = [1, (n - 1) / (n + 1)]. The lowpass is the same
system as a TPT (zero-delay-feedback) one-pole. These are exactly pedalboard's
``HighpassFilter`` and ``LowpassFilter`` (same outputs to float32 rounding), and pedalboard's
``Gain`` then ``Clipping(threshold_db=0)`` is the clip without the bias; pedalboard has no
DC-offset plugin, so the biased clip, and hence the whole fuzz, is not a pedalboard board.
The reference is therefore numpy/scipy in float64.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

BIAS = 0.3
"""Operating-point offset added before the clip (fixed, not a knob)."""

DC_BLOCK_HZ = 20.0
"""Cutoff of the first-order DC-blocking highpass."""

MAX_CUTOFF_FRACTION = 0.49
"""Filter cutoffs are clamped to [1 Hz, 0.49 fs]: the bilinear design needs f < fs / 2."""


def clamp_cutoff(cutoff_hz: float, sample_rate: float) -> float:
    """The cutoff the filters use: ``cutoff_hz`` clamped to [1, MAX_CUTOFF_FRACTION fs]."""
    return min(max(float(cutoff_hz), 1.0), MAX_CUTOFF_FRACTION * float(sample_rate))


def first_order(kind: str, cutoff_hz: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """JUCE's first-order bilinear ``kind`` ("lowpass" or "highpass") coefficients (b, a), each (2,)."""
    n = math.tan(math.pi * clamp_cutoff(cutoff_hz, sample_rate) / float(sample_rate))
    b = np.array([n, n]) if kind == "lowpass" else np.array([1.0, -1.0])
    return b / (1.0 + n), np.array([1.0, (n - 1.0) / (n + 1.0)])


def biased_clip(x: np.ndarray, gain_db: float) -> np.ndarray:
    """``clip(G x + BIAS, -1, 1) - clip(BIAS, -1, 1)`` in float64; same shape as x."""
    gain = 10.0 ** (float(gain_db) / 20.0)
    return np.clip(gain * np.asarray(x, dtype=np.float64) + BIAS, -1.0, 1.0) - min(max(BIAS, -1.0), 1.0)


def fx(x: np.ndarray, sample_rate: float, gain_db: float, tone_hz: float) -> np.ndarray:
    """Fuzz on x (C, T) float32: gain in dB, tone cutoff in Hz -> (C, T) float32."""
    v = biased_clip(x, gain_db)
    for kind, cutoff in (("highpass", DC_BLOCK_HZ), ("lowpass", tone_hz)):
        b, a = first_order(kind, cutoff, sample_rate)
        v = scipy.signal.lfilter(b, a, v, axis=-1)
    return np.asarray(v, dtype=np.float32)


__all__ = ["fx", "biased_clip", "first_order", "clamp_cutoff", "BIAS", "DC_BLOCK_HZ"]
