"""Auto-wah: ddspfx's own reference DSP (pedalboard has no wah), rendered in numpy/numba.

A wah pedal is a resonant band-pass whose centre the player sweeps with the foot; an auto-wah
rocks it at a steady rate. Here:

- **Sweep.** A log-frequency sine LFO starting at phase 0 (so at the middle of the sweep,
  rising): ``p[n] = (1 + sin(2 pi rate n / fs)) / 2`` in [0, 1] and
  ``fc[n] = min(f_min 2^(range p[n]), 0.49 fs)``. A Cry Baby sweeps about 350 Hz-2.2 kHz
  (~2.6 octaves); the knobs cover 250-800 Hz bottoms and 1-3 octaves. The 0.49 fs ceiling
  only acts at low sample rates (the top of the ranges is 6.4 kHz).
- **Filter.** Zavalishin's topology-preserving-transform state-variable filter ("The Art of
  VA Filter Design", ch. 4.4; the same structure as ``juce::dsp::StateVariableTPTFilter``),
  with ``g = tan(pi fc / fs)`` and damping ``k = 1 / q``, coefficients updated **every
  sample**. Its trapezoidal integrators keep it stable under fast modulation, unlike a
  direct-form biquad whose coefficients are swept. Per sample, with states s1, s2::

      h  = 1 / (1 + g (g + k))
      hp = h (x - (g + k) s1 - s2);  bp = g hp + s1;  lp = g bp + s2
      s1 <- 2 bp - s1;               s2 <- 2 lp - s2

- **Level and mix.** The band-pass is peak-gain normalised, ``wet = k bp`` (gain 1 at fc
  for any q, so the level stays near the dry's), and ``y = (1 - mix) x + mix wet``.

Channels are filtered independently and share one LFO. Computed in float64; the output is
float32, like pedalboard's. The torch proxy (``ddspfx.proxies.wah``) mirrors this exactly.
"""

from __future__ import annotations

import math

import numba
import numpy as np

MAX_CENTRE_FRACTION = 0.49
"""The sweep's ceiling as a fraction of the sample rate (keeps tan(pi fc / fs) finite)."""


def centre_frequency(num_samples: int, sample_rate: float, rate_hz: float, min_frequency_hz: float,
                     range_octaves: float) -> np.ndarray:
    """The swept centre frequency fc[n] in Hz, (T,) float64."""
    phase = 2.0 * math.pi * rate_hz * np.arange(num_samples, dtype=np.float64) / sample_rate
    sweep = 0.5 * (1.0 + np.sin(phase))  # [0, 1], starts mid-sweep going up
    fc = min_frequency_hz * np.exp2(range_octaves * sweep)
    return np.minimum(fc, MAX_CENTRE_FRACTION * sample_rate)


@numba.njit(cache=True)
def _svf_bandpass(x: np.ndarray, g: np.ndarray, k: float) -> np.ndarray:
    """Peak-normalised TPT SVF band-pass k*bp of x (C, T) with per-sample g (T,)."""
    y = np.empty_like(x)
    for c in range(x.shape[0]):
        s1 = 0.0
        s2 = 0.0
        for n in range(x.shape[1]):
            gn = g[n]
            h = 1.0 / (1.0 + gn * (gn + k))
            hp = h * (x[c, n] - (gn + k) * s1 - s2)
            bp = gn * hp + s1
            lp = gn * bp + s2
            s1 = 2.0 * bp - s1
            s2 = 2.0 * lp - s2
            y[c, n] = k * bp
    return y


def fx(x: np.ndarray, sample_rate: float, rate_hz: float, min_frequency_hz: float, range_octaves: float,
       q: float, mix: float) -> np.ndarray:
    """Auto-wah on x (C, T) float32: rate in Hz, sweep bottom in Hz, range in octaves, q, mix in [0, 1]
    -> (C, T) float32 (a (T,) clip works too)."""
    x64 = np.asarray(x, dtype=np.float64)
    rows = np.ascontiguousarray(x64.reshape(-1, x64.shape[-1]))  # (C, T)
    fc = centre_frequency(rows.shape[-1], sample_rate, rate_hz, min_frequency_hz, range_octaves)
    g = np.tan(math.pi * fc / sample_rate)
    wet = _svf_bandpass(rows, g, 1.0 / q)
    y = (1.0 - mix) * rows + mix * wet
    return y.reshape(x64.shape).astype(np.float32)


__all__ = ["fx", "centre_frequency", "MAX_CENTRE_FRACTION"]
