"""Octave: an octave down and an octave up blended with the dry, knobs like the EHX Micro POG's.

    y = dry_level x + down_level shift(x, 1/2) + up_level shift(x, 2)

``shift(x, ratio)`` is ddspfx's own delay-line pitch shifter (the classic two-tap
"rotating tape head" design, as in Zoelzer's *DAFX*): two read taps on a delay line of window
``W = WINDOW_S fs`` samples, half a window apart, whose delay ramps by ``1 - ratio``
samples per sample, so each tap reads the input at ``ratio`` times its speed:

    p1[n] = frac(n (1 - ratio) / W),  p2[n] = frac(p1[n] + 1/2),  d_k[n] = p_k[n] W,
    shift(x)[n] = sum_k sin^2(pi p_k[n]) x(n - d_k[n]).

A tap jumps from delay W back to 0 (or 0 to W when shifting up) exactly where its window
``sin^2(pi p)`` is zero, and the two windows sum to 1. ``x(n - d)`` is read with linear
interpolation, ``(1 - f) x[n - i] + f x[n - i - 1]`` for ``d = i + f``, zero before the clip.
The grain clock starts at phase 0 on the first sample and nothing is random, so the effect
is linear in x and a fixed time-varying FIR: the torch proxy is an exact gather
(:mod:`ddspfx.proxies.octave`). Its character: a grain-rate flutter (one grain per
``W / |1 - ratio|`` samples: 90 ms down, 45 ms up) and comb colouring where the taps overlap.

``alternative_rubberband`` renders the same knobs differently, through pedalboard's
``PitchShift`` (Rubber Band, a phase vocoder) mixed with the dry, for training diversity. It
is NOT the reference of the proxy and does not match it sample for sample.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard

WINDOW_S = 0.045
"""Delay-line window (s): long enough for low guitar notes (82 Hz has a 12 ms period), short
enough to keep the grain flutter fast."""

DOWN_RATIO = 0.5
UP_RATIO = 2.0


def shifter_taps(num_samples: int, sample_rate: float, ratio: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two taps of ``shift(., ratio)``: [(delay in samples (T,), window weight (T,))] in float64."""
    window = WINDOW_S * float(sample_rate)
    n = np.arange(num_samples, dtype=np.float64)
    p1 = n * (1.0 - ratio) / window
    p1 = p1 - np.floor(p1)
    p2 = p1 + 0.5
    p2 = p2 - np.floor(p2)
    return [(p * window, np.sin(math.pi * p) ** 2) for p in (p1, p2)]


def read_delayed(x: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """``x(n - delay[n])`` by linear interpolation, zero before the start: x (C, T), delay (T,) >= 0 -> (C, T)."""
    t = x.shape[-1]
    i = np.floor(delay)
    f = delay - i
    j = np.arange(t) - i.astype(np.int64)  # newer sample index, <= n
    padded = np.concatenate([np.zeros(x.shape[:-1] + (2,)), x], axis=-1)  # index -1 and -2 read 0
    newer = padded[..., np.maximum(j, -2) + 2]
    older = padded[..., np.maximum(j - 1, -2) + 2]
    return (1.0 - f) * newer + f * older


def pitch_shift(x: np.ndarray, sample_rate: float, ratio: float) -> np.ndarray:
    """The two-tap delay-line shifter on x (C, T) float64 -> (C, T) float64."""
    return sum((w * read_delayed(x, d) for d, w in shifter_taps(x.shape[-1], sample_rate, ratio)), np.zeros_like(x))


def fx(x: np.ndarray, sample_rate: float, dry_level: float, down_level: float, up_level: float) -> np.ndarray:
    """Octave on x (C, T) float32; the three levels are linear gains in [0, 1] -> (C, T) float32."""
    x64 = np.asarray(x, dtype=np.float64)
    y = float(dry_level) * x64
    y = y + float(down_level) * pitch_shift(x64, sample_rate, DOWN_RATIO)
    y = y + float(up_level) * pitch_shift(x64, sample_rate, UP_RATIO)
    return y.astype(np.float32)


# --- alternative implementation (training diversity, not the proxy's reference) ----------------


def alternative_rubberband_board(dry_level: float, down_level: float, up_level: float) -> pedalboard.Pedalboard:
    """The same knobs as a pedalboard board: ``Mix`` of the dry and Rubber Band ``PitchShift(-12 / +12)``,
    each branch behind a ``Gain`` of ``20 log10(level)`` dB; branches at level 0 are left out."""
    branches: list[pedalboard.Plugin] = []
    for level, semitones in ((dry_level, 0), (down_level, -12), (up_level, 12)):
        if level <= 0.0:
            continue
        gain = pedalboard.Gain(gain_db=20.0 * math.log10(float(level)))
        branches.append(gain if semitones == 0 else pedalboard.Pedalboard([pedalboard.PitchShift(semitones=semitones), gain]))
    return pedalboard.Pedalboard([pedalboard.Mix(branches)])


def alternative_rubberband(x: np.ndarray, sample_rate: float, dry_level: float, down_level: float,
                           up_level: float) -> np.ndarray:
    """ALTERNATIVE octave (not the reference): :func:`alternative_rubberband_board` on x (C, T) float32 -> (C, T)."""
    board = alternative_rubberband_board(dry_level, down_level, up_level)
    y = np.asarray(board(np.ascontiguousarray(x, dtype=np.float32), float(sample_rate), reset=True), dtype=np.float32)
    t = x.shape[-1]
    return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, max(0, t - y.shape[-1]))])[..., :t]


__all__ = ["fx", "pitch_shift", "shifter_taps", "alternative_rubberband", "alternative_rubberband_board", "WINDOW_S"]
