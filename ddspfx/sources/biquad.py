"""RBJ Audio-EQ-Cookbook biquads as scipy ``sos`` rows: the filters of the embedded guitars' tone stages.

Each function returns one second-order section ``[b0, b1, b2, 1, a1, a2]`` (normalised by ``a0``)
for :func:`scipy.signal.sosfilt`; stack rows with ``np.stack`` to cascade them.
"""

from __future__ import annotations

import math

import numpy as np


def _row(b: list[float], a: list[float]) -> np.ndarray:
    return np.array(b + a) / a[0]


def rbj_peak(f: float, gain_db: float, q: float, fs: float) -> np.ndarray:
    """Peaking bell: ``gain_db`` at ``f``, unity far from it."""
    A = 10.0 ** (gain_db / 40.0)
    w = 2.0 * math.pi * f / fs
    al = math.sin(w) / (2.0 * q)
    return _row([1 + al * A, -2 * math.cos(w), 1 - al * A], [1 + al / A, -2 * math.cos(w), 1 - al / A])


def rbj_lowpass(f: float, q: float, fs: float) -> np.ndarray:
    """Resonant low-pass (Q 0.707 = Butterworth); ``f`` is kept below 0.45 fs so it stays stable."""
    w = 2.0 * math.pi * min(f, 0.45 * fs) / fs
    al, cw = math.sin(w) / (2.0 * q), math.cos(w)
    return _row([(1 - cw) / 2, 1 - cw, (1 - cw) / 2], [1 + al, -2 * cw, 1 - al])


def rbj_highpass(f: float, q: float, fs: float) -> np.ndarray:
    """Resonant high-pass (Q 0.707 = Butterworth)."""
    w = 2.0 * math.pi * f / fs
    al, cw = math.sin(w) / (2.0 * q), math.cos(w)
    return _row([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2], [1 + al, -2 * cw, 1 - al])


def rbj_lowshelf(f: float, gain_db: float, fs: float, slope: float = 1.0) -> np.ndarray:
    """Low shelf: ``gain_db`` below ``f`` (the shelf midpoint), unity far above it."""
    A = 10.0 ** (gain_db / 40.0)
    w = 2.0 * math.pi * f / fs
    cw = math.cos(w)
    al = math.sin(w) / 2.0 * math.sqrt((A + 1 / A) * (1 / slope - 1) + 2)
    sq = 2.0 * math.sqrt(A) * al
    return _row([A * ((A + 1) - (A - 1) * cw + sq), 2 * A * ((A - 1) - (A + 1) * cw), A * ((A + 1) - (A - 1) * cw - sq)],
                [(A + 1) + (A - 1) * cw + sq, -2 * ((A - 1) + (A + 1) * cw), (A + 1) + (A - 1) * cw - sq])
