"""Line a dry recording up with its wet clip: the time offset between two tracks of one performance.

Why: a DI track and the amp or pedal track of the same take rarely start on the same sample (the
recorder's latency, a plugin's, a re-amp loop's round trip), and analysis by synthesis compares the
chain's render of the dry with the wet sample by sample. A few milliseconds of offset cost more than a
wrong knob.

Method: GCC-PHAT (Knapp & Carter, IEEE Trans. ASSP 24(4), 1976) with partial whitening: the cross-spectrum
of the two tracks with each bin's magnitude divided out to the power :data:`PHAT_BETA`, so every frequency
votes for the delay with nearly the same weight. It holds through pedals that keep the timing of the notes
(distortion, eq, compression, modulation); an echo or a reverb adds later peaks, but the direct sound stays
the strongest.
"""

from __future__ import annotations

import numpy as np

MAX_LAG_S = 0.1
"""Largest offset searched, seconds either way: recorder and plugin latencies are a few ms to tens of ms."""

PHAT_BETA = 0.7
"""How much of each bin's magnitude is divided out (1: full PHAT, 0: plain cross-correlation).

Why not 1: a sampled guitar leaves whole bands nearly empty, and full whitening gives their noise-like phases
the same vote as the notes; with a chorus, phaser or delay in the chain the strongest peak then lands on a
delay line, not the direct sound. Chosen on validation seeds (10,055,000+; 100 3-s clips per training source,
chains of 0-5 pedals, the dry handed over at -24..+6 dB and up to 10 ms early or late), lag found within one
sample / more than 5 ms off at beta 1 -> 0.8 -> 0.7 -> 0.6 -> 0.5: TimGM6mb 0.70 / 0.16 -> 0.97 / 0.02 ->
0.98 / 0.01 -> 0.99 / 0 -> (n/a); GS bank 0.85 / 0.08 -> 0.99 / 0.01 -> 1.00 / 0 -> 0.99 / 0 -> 0.99 / 0;
synthetic guitar 0.98 / 0.01 -> 0.99 / 0 -> 0.99 / 0 -> 0.99 / 0 -> 0.98 / 0. Exact to the sample it finds
0.88-0.95 (a filter's group delay moves the peak by a fraction of a sample)."""


def estimate_lag(dry: np.ndarray, wet: np.ndarray, sample_rate: float, max_lag_s: float = MAX_LAG_S,
                 beta: float = PHAT_BETA) -> int:
    """Samples by which ``wet`` lags ``dry`` (negative: the wet comes first); 0 for silence.

    ``dry``, ``wet``: mono float arrays, any lengths.
    """
    x = np.asarray(dry, dtype=np.float64)
    y = np.asarray(wet, dtype=np.float64)
    max_lag = int(round(max_lag_s * sample_rate))
    n = 1 << int(np.ceil(np.log2(max(x.size, y.size) + max_lag + 1)))
    cross = np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n))
    mag = np.abs(cross)
    if not np.any(mag > 0):
        return 0
    cross /= np.maximum(mag, 1e-12 * mag.max()) ** beta  # (partly) whitened: mostly phase
    r = np.fft.irfft(cross, n)  # r[k]: wet[t] ~ dry[t - k], negative k wrapped to the end
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([r[: max_lag + 1], r[n - max_lag:]])
    return int(lags[int(np.argmax(values))])


def shift(x: np.ndarray, lag: int, length: int | None = None) -> np.ndarray:
    """``x`` delayed by ``lag`` samples (advanced if negative), zero-filled, cut or padded to ``length``."""
    x = np.asarray(x)
    length = x.size if length is None else int(length)
    out = np.zeros(length, dtype=x.dtype)
    if lag >= 0:
        part = x[: max(0, length - lag)]
        out[lag: lag + part.size] = part
    else:
        part = x[-lag: -lag + length]
        out[: part.size] = part
    return out


def align_dry(dry: np.ndarray, wet: np.ndarray, sample_rate: float, max_lag_s: float = MAX_LAG_S) -> tuple[np.ndarray, int]:
    """The dry track moved onto the wet clip's timeline (same length as ``wet``), and the lag applied."""
    lag = estimate_lag(dry, wet, sample_rate, max_lag_s)
    return shift(dry, lag, np.asarray(wet).size), lag
