"""Does this clip sound like a guitar? A fast check that warns, never refuses.

Why: the pedal model answers for any input. White noise came back as four pedals at 0.998 confidence,
and songs, drums, voices and bass guitars get a confident answer too. This module tells the user when the
input does not sound like a guitar, so the pedals can be read with that in mind.

How: a handful of interpretable features over 93-ms frames of the clip at about 22 kHz (the clip is halved
once per factor of two above 40 kHz), each level-invariant:

- ``harmonicity``: median over the sounding frames of the peak of the normalised autocorrelation (lags of
  40 Hz-1.6 kHz fundamentals, on a pre-emphasised spectrum, divided by the window's own autocorrelation as
  in Boersma 1993, "Accurate short-term analysis of the fundamental frequency and the harmonics-to-noise
  ratio", the method behind Praat's pitch and HNR): noise and drums are low, plucked strings high;
- ``voiced``: share of sounding frames whose peak passes :data:`VOICED_R`;
- ``flatness``: median log spectral flatness (geometric / arithmetic mean power, 100 Hz-6 kHz);
- ``low_share``: share of the long-term power below 100 Hz (a bass guitar's fundamentals live there);
- ``low_pitch``: share of voiced frames whose fundamental is below :data:`LOW_F0_HZ` (a guitar's low E is 82 Hz);
- ``glide``: share of consecutive voiced frame pairs whose pitch moves by a glide (0.3-2 semitones), as
  speech intonation does and a fretted note does not (a new note jumps further, a held one stays put).

A logistic regression over the standardised features gives ``score`` (the probability of "guitar" under
the fitting data's class balance); its numbers below are fitted by ``python -m experiments.guitar_check``
(data, held-out accuracy and false warnings per pedal in ``experiments/results/guitar_check/``). The
``reason`` names the feature that pulls the score down most, in words.

Cost: about 2 ms for a 3-s clip at 44.1 kHz on one core; long clips analyse at most :data:`MAX_FRAMES`
frames (evenly spaced blocks), so the cost is bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from ddspfx.errors import AudioError

ANALYSIS_MIN_RATE = 16_000
"""Lowest sample rate analysed (Hz); the highest is below 40 kHz (halved once per factor of two above)."""

FRAME_S = 0.075
"""Frames are the power of two at or above this many seconds (2048 samples at 22.05 kHz: 93 ms)."""

MAX_FRAMES = 128
"""At most this many frames are analysed (blocks of :data:`BLOCK_FRAMES` spread over long clips)."""

BLOCK_FRAMES = 16
"""Contiguous frames per block when a long clip is subsampled (pitch glides and energy changes need pairs)."""

ACTIVE_RANGE_DB = 40.0
"""Frames more than this far below the loudest frame are left out (silence, reverb tails, gated gaps)."""

SILENCE_DBFS = -90.0
"""A clip whose loudest frame is quieter than this RMS level (dBFS) is called silent."""

F0_MIN_HZ, F0_MAX_HZ = 40.0, 1600.0
"""Fundamentals searched: from a bass guitar's low E (41 Hz) to above a guitar's highest fret (1.3 kHz)."""

VOICED_R = 0.5
"""A frame is voiced (pitched) when its normalised autocorrelation peak is at least this."""

LOW_F0_HZ = 75.0
"""Fundamentals below this are under a guitar's range (low E 82 Hz; drop-D 73 Hz)."""

FLAT_BAND_HZ = (100.0, 6000.0)
"""Band of the spectral flatness."""

LOW_SHARE_HZ = 100.0
"""Upper edge of the band whose power share ``low_share`` measures."""

FEATURES: tuple[str, ...] = ("harmonicity", "voiced", "flatness", "low_share", "low_pitch", "glide")
"""Feature names, in the order of :data:`MEAN`, :data:`SCALE` and :data:`WEIGHTS`."""

# Fitted by `python -m experiments.guitar_check` (experiments/results/guitar_check/model.json).
MEAN: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
SCALE: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
WEIGHTS: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
BIAS: float = 0.0
THRESHOLD: float = 0.5
"""``likely_guitar`` is ``score >= THRESHOLD``."""

REASONS: dict[str, str] = {
    "harmonicity": "little pitched content: this sounds like noise or drums, not a guitar",
    "voiced": "little pitched content: this sounds like noise or drums, not a guitar",
    "flatness": "a flat, noise-like spectrum: this sounds like noise or drums, not a guitar",
    "low_share": "most of the energy is below a guitar's range: this sounds like a bass or a full mix, not a guitar",
    "low_pitch": "the pitch is mostly below a guitar's low E: this sounds like a bass, not a guitar",
    "glide": "the pitch glides as a voice does: this sounds like speech or singing, not a guitar",
}
"""What a low score means when a feature pulls it down most."""

WARNING_TAIL = "; the pedals reported may be wrong"


@dataclass(frozen=True)
class GuitarCheck:
    """The verdict: ``likely_guitar`` is ``score >= THRESHOLD``; ``reason`` is one plain line."""

    likely_guitar: bool
    score: float  # in [0, 1]: how much the clip sounds like a guitar
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"likely_guitar": self.likely_guitar, "score": round(self.score, 4), "reason": self.reason}


def _analysis_rate(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Halve the rate (a [1, 2, 1]/4 low-pass, then every second sample) until it is below 40 kHz."""
    sr = int(sample_rate)
    while sr >= 40_000 and x.size >= 3:
        x = 0.25 * (x[:-2:2] + 2.0 * x[1:-1:2] + x[2::2])
        sr //= 2
    return x, sr


def _frame_starts(num_samples: int, n: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Start samples of the analysed frames and, for each, whether it follows the previous one directly."""
    total = 1 + max(0, num_samples - n) // hop
    if total <= MAX_FRAMES:
        idx = np.arange(total)
    else:
        blocks = MAX_FRAMES // BLOCK_FRAMES
        firsts = np.linspace(0, total - BLOCK_FRAMES, blocks).round().astype(int)
        idx = (firsts[:, None] + np.arange(BLOCK_FRAMES)[None, :]).reshape(-1)
    follows = np.concatenate([[False], np.diff(idx) == 1])
    return idx * hop, follows


def features(audio: np.ndarray, sample_rate: int) -> dict[str, float] | None:
    """The named features of a mono (T,) or (C, T) clip, or None if the clip is silent."""
    x = np.asarray(audio)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1:
        raise AudioError(f"audio must be (T,) or (C, T), got shape {np.shape(audio)}")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < ANALYSIS_MIN_RATE:
        raise AudioError(f"sample_rate must be a whole number of Hz >= {ANALYSIS_MIN_RATE}, got {sample_rate!r}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise AudioError("audio holds NaN or infinite samples; check the file")
    x, sr = _analysis_rate(x, int(sample_rate))
    n = 1 << int(math.ceil(math.log2(FRAME_S * sr)))
    hop = n // 2
    if x.size < n:
        x = np.pad(x, (0, n - x.size))
    starts, follows = _frame_starts(x.size, n, hop)
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[starts]  # (F, n)
    frames = frames - frames.mean(axis=1, keepdims=True)
    window = np.hanning(n + 1)[:n].astype(np.float32)
    spec = scipy.fft.rfft(frames * window, 2 * n, axis=1)  # (F, n + 1): zero-padded, so the ACF is linear
    power = spec.real**2 + spec.imag**2  # (F, n + 1)
    energy = power.sum(axis=1)
    loudest = float(energy.max())
    floor = 10.0 ** (SILENCE_DBFS / 10.0) * float(np.sum(window**2)) * n  # Parseval: the half spectrum holds about n * sum((x w)^2)
    if loudest <= floor:
        return None
    active = energy >= loudest * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)

    freqs = np.arange(n + 1) * (sr / (2.0 * n))
    # autocorrelation of the pre-emphasised frame (|1 - e^{-jw}|^2 tilts noise towards white)
    emph = 2.0 - 2.0 * np.cos(np.pi * np.arange(n + 1) / n)
    acf = scipy.fft.irfft(power * emph, axis=1)[:, :n]  # (F, n)
    wspec = scipy.fft.rfft(window, 2 * n)
    wacf = scipy.fft.irfft((wspec.real**2 + wspec.imag**2), 2 * n)[:n]  # the window's own ACF
    lo = max(2, int(math.floor(sr / F0_MAX_HZ)))
    hi = min(n // 2, int(math.ceil(sr / F0_MIN_HZ)))
    r = acf[:, lo - 1: hi + 2] / np.maximum(acf[:, :1], 1e-30) * (wacf[0] / wacf[lo - 1: hi + 2])  # (F, L + 2)
    inner = r[:, 1:-1]
    peak_mask = (inner >= r[:, :-2]) & (inner >= r[:, 2:])
    rmax = np.where(peak_mask, inner, -1.0).max(axis=1)  # (F,)
    # the shortest lag whose peak is within 10 % of the best: avoids sub-octave errors
    first = np.argmax(peak_mask & (inner >= 0.9 * rmax[:, None]), axis=1)
    rows = np.arange(inner.shape[0])
    y0, y1, y2 = r[rows, first], r[rows, first + 1], r[rows, first + 2]
    denom = y0 - 2.0 * y1 + y2
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1.0, denom), 0.0)
    lag = lo + first + np.clip(shift, -0.5, 0.5)
    f0 = sr / lag  # (F,)
    rmax = np.clip(rmax, 0.0, 1.0)
    voiced = active & (rmax >= VOICED_R)

    band = (freqs >= FLAT_BAND_HZ[0]) & (freqs <= FLAT_BAND_HZ[1])
    pb = power[:, band] + 1e-12 * loudest / n
    flat = np.mean(np.log(pb), axis=1) - np.log(np.mean(pb, axis=1))  # (F,) log flatness <= 0
    longterm = power[active].sum(axis=0)
    low_share = float(longterm[(freqs >= 20.0) & (freqs < LOW_SHARE_HZ)].sum() / max(longterm[freqs >= 20.0].sum(), 1e-30))

    pairs = voiced[1:] & voiced[:-1] & follows[1:]
    jumps = np.abs(12.0 * np.log2(f0[1:] / f0[:-1]))[pairs]
    n_voiced = int(voiced.sum())
    return {
        "harmonicity": float(np.median(rmax[active])),
        "voiced": n_voiced / int(active.sum()),
        "flatness": float(np.median(flat[active])),
        "low_share": low_share,
        "low_pitch": float(np.mean(f0[voiced] < LOW_F0_HZ)) if n_voiced else 0.0,
        "glide": float(np.mean((jumps > 0.3) & (jumps < 2.0))) if jumps.size else 0.0,
    }


def score_features(feats: dict[str, float]) -> tuple[float, str]:
    """(score, name of the feature that pulls the score down most) under the fitted regression."""
    z = [(feats[name] - m) / s for name, m, s in zip(FEATURES, MEAN, SCALE)]
    contrib = [w * v for w, v in zip(WEIGHTS, z)]
    logit = BIAS + sum(contrib)
    score = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))
    worst = FEATURES[int(np.argmin(contrib))]
    return score, worst


def check_guitar(audio: np.ndarray, sample_rate: int) -> GuitarCheck:
    """Does ``audio`` (mono (T,) or (C, T), any level) sound like a guitar, with or without pedals?"""
    feats = features(audio, sample_rate)
    if feats is None:
        return GuitarCheck(False, 0.0, "the clip is silent: there is no guitar to hear" + WARNING_TAIL)
    score, worst = score_features(feats)
    if score >= THRESHOLD:
        return GuitarCheck(True, score, "pitched notes in a guitar's range: this sounds like a guitar")
    return GuitarCheck(False, score, REASONS[worst] + WARNING_TAIL)


__all__ = ["FEATURES", "GuitarCheck", "THRESHOLD", "check_guitar", "features", "score_features"]
