"""Does this clip sound like a guitar? A fast check that warns, never refuses.

Why: the pedal model answers for any input. White noise came back as four pedals at 0.998 confidence,
and songs, drums, voices and bass guitars get a confident answer too. This check tells the user when the
input does not sound like a guitar, so the pedals can be read with that in mind.

How: eleven interpretable features over 93-ms frames (hop 46 ms) of the clip at 20-40 kHz (halved
once per factor of two above 40 kHz); each is level-invariant:

- pitched content: ``harmonicity`` (median over the sounding frames of the peak of the normalised
  autocorrelation at lags of 40 Hz-1.6 kHz fundamentals, pre-emphasised, divided by the window's own
  autocorrelation as in Boersma 1993, "Accurate short-term analysis of the fundamental frequency and the
  harmonics-to-noise ratio"), ``voiced`` (share of sounding frames whose peak is at least
  :data:`VOICED_R`), ``flatness`` (median log spectral flatness, 100 Hz-6 kHz);
- register: ``sub_share`` and ``low_share`` (shares of the long-term power below 70 Hz and 150 Hz: a
  guitar's lowest note is 82 Hz, 73 Hz in drop D), ``log_centroid`` (power-weighted mean log2 frequency,
  40 Hz-8 kHz);
- speech: ``steadiness`` (median correlation of consecutive voiced frames' autocorrelation curves: a
  fretted note holds its pitch, intonation glides), ``pluck`` (skewness of the frame-to-frame level
  change in dB: plucked notes rise fast and decay slowly), ``fricative`` (share of sounding frames that are
  unpitched with a spectral centroid above 2.5 kHz: s, sh, f, t), ``centroid_spread`` (standard
  deviation of the frames' log2 spectral centroid: vowels and fricatives alternate).

Three small logistic regressions ("units") each answer one question: is it pitched (against noise,
drums and full mixes), is it in a guitar's register (against bass guitars and mixes), is it not speech.
``score`` is the product of their probabilities, raised to :data:`EXPONENT` so that the warning line
falls at 0.5; ``reason`` names the first unit (in that order) that answers no. The numbers are fitted by
``python -m experiments.guitar_check`` (data, held-out accuracy per class and false warnings per pedal in
``experiments/results/guitar_check/results.md``).

Cost: 3.5-4.3 ms for a 3-s clip at 44.1 kHz on one core of the shared development machine (results.md;
10-13 ms while five other jobs loaded its two cores). A clip longer than :data:`MAX_FRAMES` frames (about
6 s) is read in blocks spread over it, so any length costs at most about twice a 3-s clip.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from ddspfx.errors import AudioError

MIN_SAMPLE_RATE = 16_000
"""Lowest sample rate accepted (Hz)."""

FRAME_S = 0.075
"""Frames are the power of two at or above this many seconds (2048 samples at 22.05 kHz: 93 ms)."""

MAX_FRAMES = 128
"""At most this many frames are analysed (blocks of :data:`BLOCK_FRAMES` spread over long clips)."""

BLOCK_FRAMES = 16
"""Contiguous frames per block when a long clip is subsampled (steadiness and pluck need neighbours)."""

ACTIVE_RANGE_DB = 40.0
"""Frames more than this far below the loudest frame are left out (silence, reverb tails, gated gaps)."""

SILENCE_DBFS = -90.0
"""A clip whose loudest frame is quieter than this RMS level (dBFS) is called silent."""

F0_MIN_HZ, F0_MAX_HZ = 40.0, 1600.0
"""Fundamentals searched: from a bass guitar's low E (41 Hz) to above a guitar's highest fret (1.3 kHz)."""

VOICED_R = 0.5
"""A frame is voiced (pitched) when its normalised autocorrelation peak is at least this."""

UNVOICED_R = 0.4
"""A frame is unpitched when its peak is below this (fricatives are unpitched and bright)."""

FRICATIVE_HZ = 2500.0
"""Spectral centroid above which an unpitched frame counts as a fricative."""

FLAT_BAND_HZ = (100.0, 6000.0)
"""Band of the spectral flatness."""

SUB_HZ, LOW_HZ = 70.0, 150.0
"""Upper edges of the bands whose power shares ``sub_share`` and ``low_share`` measure."""

CENTROID_BAND_HZ = (40.0, 8000.0)
"""Band of ``log_centroid``."""

FEATURES: tuple[str, ...] = ("harmonicity", "voiced", "flatness", "sub_share", "low_share", "log_centroid",
                             "steadiness", "pluck", "fricative", "centroid_spread")


@dataclass(frozen=True)
class Unit:
    """One logistic regression: ``P = sigmoid(bias + sum_i weight_i * (feature_i - mean_i) / scale_i)``."""

    name: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    reason: str  # what a low P means, in words

    def logit(self, feats: dict[str, float]) -> float:
        z = [(feats[f] - m) / s for f, m, s in zip(self.features, self.mean, self.scale)]
        return self.bias + sum(w * v for w, v in zip(self.weights, z))


# Fitted by `python -m experiments.guitar_check` (experiments/results/guitar_check/model.json).
UNITS: tuple[Unit, ...] = (
    Unit('pitched', ('harmonicity', 'voiced', 'flatness'),
         (0.488086, 0.43845, -5.053599),
         (0.308401, 0.397129, 3.791769),
         (2.518835, 0.195063, -0.548252), 0.742536,
         'little pitched content: this sounds like noise or drums, not a guitar'),
    Unit('register', ('sub_share', 'low_share', 'log_centroid'),
         (0.040599, 0.159809, 8.843698),
         (0.086146, 0.198188, 1.045665),
         (-2.510699, -1.038887, -0.490563), -0.368686,
         "much of the sound lies below a guitar's range: this sounds like a bass or a full band, not a guitar alone"),
    Unit('not_speech', ('steadiness', 'pluck', 'voiced', 'fricative', 'centroid_spread'),
         (0.712723, 1.789896, 0.677494, 0.020434, 0.590818),
         (0.264678, 2.333301, 0.293208, 0.04724, 0.278059),
         (2.02284, 2.60225, 1.347952, -0.599718, -1.429994), 4.015351,
         'gliding pitch and changing vowels: this sounds like speech or singing, not a guitar'),
)
EXPONENT: float = 0.200815
"""``score = (product of the units' P) ** EXPONENT``: puts the fitted warning line at 0.5."""

THRESHOLD = 0.5
"""``likely_guitar`` is ``score >= THRESHOLD``."""

WARNING_TAIL = "; the pedals reported may be wrong"
GUITAR_REASON = "pitched notes in a guitar's range: this sounds like a guitar"


@dataclass(frozen=True)
class GuitarCheck:
    """The verdict: ``likely_guitar`` is ``score >= THRESHOLD``; ``reason`` is one plain line."""

    likely_guitar: bool
    score: float  # in [0, 1]: how much the clip sounds like a guitar (0.5 is the warning line)
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"likely_guitar": self.likely_guitar, "score": round(self.score, 4), "reason": self.reason}


def _halve(x: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Halve the rate (a [1, 2, 1]/4 low-pass, then every second sample) until it is below 40 kHz."""
    sr = int(sample_rate)
    while sr >= 40_000 and x.size >= 3:
        x = 0.25 * (x[:-2:2] + 2.0 * x[1:-1:2] + x[2::2])
        sr //= 2
    return x, sr


def _frames(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Mono frames (F, n) at the analysis rate, whether each directly follows the previous one (F,), the rate.

    A clip of more than :data:`MAX_FRAMES` frames is read in blocks of :data:`BLOCK_FRAMES` spread over it,
    and only those spans are mixed to mono, filtered and halved: a long clip costs what a short one does.
    """
    x = np.asarray(audio)
    x = x[None, :] if x.ndim == 1 else x  # (C, T)
    rate, step = int(sample_rate), 1
    while rate >= 40_000:
        rate, step = rate // 2, step * 2
    n = 1 << int(math.ceil(math.log2(FRAME_S * rate)))
    hop = n // 2
    total = 1 + max(0, x.shape[-1] // step - n) // hop
    if total <= MAX_FRAMES:
        spans = [x]
    else:
        firsts = np.linspace(0, total - BLOCK_FRAMES, MAX_FRAMES // BLOCK_FRAMES).round().astype(int)
        length = ((BLOCK_FRAMES - 1) * hop + n + 2) * step  # the halving filter eats a sample per stage
        spans = [x[:, f * hop * step: f * hop * step + length] for f in firsts]
    frames, follows = [], []
    for span in spans:
        y, _ = _halve(span.mean(axis=0, dtype=np.float32), int(sample_rate))  # (T',)
        if y.size < n:
            y = np.pad(y, (0, n - y.size))
        count = 1 + (y.size - n) // hop
        count = count if len(spans) == 1 else min(count, BLOCK_FRAMES)
        frames.append(np.lib.stride_tricks.sliding_window_view(y, n)[::hop][:count])  # (count, n)
        follows.append(np.arange(count) > 0)
    return np.concatenate(frames), np.concatenate(follows), rate


@functools.lru_cache(maxsize=8)
def _window(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Hann window (n,), its autocorrelation at lags 0..n-1, the pre-emphasis |1 - e^{-jw}|^2 on n + 1 bins)."""
    w = np.hanning(n + 1)[:n].astype(np.float32)
    ws = scipy.fft.rfft(w, 2 * n)
    wacf = scipy.fft.dct((ws.real**2 + ws.imag**2).astype(np.float64), type=1)[:n]
    emph = (2.0 - 2.0 * np.cos(np.pi * np.arange(n + 1) / n)).astype(np.float32)
    return w, wacf, emph


def _check(audio: np.ndarray, sample_rate: int) -> None:
    """AudioError for a shape or rate the check cannot read."""
    if np.ndim(audio) not in (1, 2) or np.size(audio) == 0:
        raise AudioError(f"audio must be (T,) or (C, T), got shape {np.shape(audio)}; pass one clip at a time")
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate < MIN_SAMPLE_RATE:
        raise AudioError(f"sample_rate must be a whole number of Hz >= {MIN_SAMPLE_RATE}, got {sample_rate!r}")


def features(audio: np.ndarray, sample_rate: int) -> dict[str, float] | None:
    """The :data:`FEATURES` of a mono (T,) or (C, T) clip, or None if the clip is silent."""
    _check(audio, sample_rate)
    frames, follows, sr = _frames(audio, sample_rate)  # (F, n)
    if not np.all(np.isfinite(frames)):
        raise AudioError("audio holds NaN or infinite samples; check the file")
    n = frames.shape[1]
    window, wacf, emph = _window(n)
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = scipy.fft.rfft(frames * window, 2 * n, axis=1)  # (F, n + 1), zero-padded: the ACF is linear
    power = spec.real**2 + spec.imag**2  # (F, n + 1)
    energy = power.sum(axis=1)  # (F,)
    loudest = float(energy.max())
    if loudest <= 10.0 ** (SILENCE_DBFS / 10.0) * float(np.sum(window**2)) * n:  # Parseval, half spectrum
        return None
    active = energy >= loudest * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)  # (F,)
    freqs = np.arange(n + 1) * (sr / (2.0 * n))

    # normalised autocorrelation r(lag) over the pitch range (DCT-I of the power = its inverse FFT)
    acf = scipy.fft.dct(power * emph, type=1, axis=1)  # (F, n + 1)
    lo = max(2, int(math.floor(sr / F0_MAX_HZ)))
    hi = min(n // 2, int(math.ceil(sr / F0_MIN_HZ)))
    r = acf[:, lo - 1: hi + 2] / np.maximum(acf[:, :1], 1e-30) * (wacf[0] / wacf[lo - 1: hi + 2])  # (F, L + 2)
    inner = r[:, 1:-1]
    peaks = (inner >= r[:, :-2]) & (inner >= r[:, 2:])
    rmax = np.clip(np.where(peaks, inner, -1.0).max(axis=1), 0.0, 1.0)  # (F,)
    voiced = active & (rmax >= VOICED_R)

    band = (freqs >= FLAT_BAND_HZ[0]) & (freqs <= FLAT_BAND_HZ[1])
    pb = power[:, band] + 1e-12 * loudest / n
    flat = np.mean(np.log(pb), axis=1) - np.log(np.mean(pb, axis=1))  # (F,) log flatness <= 0

    longterm = power[active].sum(axis=0)  # (n + 1,)
    audible = freqs >= 20.0
    total = max(float(longterm[audible].sum()), 1e-30)
    cband = (freqs >= CENTROID_BAND_HZ[0]) & (freqs <= CENTROID_BAND_HZ[1])
    log_centroid = float(np.sum(longterm[cband] * np.log2(freqs[cband])) / max(float(longterm[cband].sum()), 1e-30))

    # consecutive voiced frames: how alike their autocorrelation curves are
    rc = inner - inner.mean(axis=1, keepdims=True)
    rc /= np.sqrt(np.sum(rc * rc, axis=1, keepdims=True)) + 1e-12
    pairs = voiced[1:] & voiced[:-1] & follows[1:]
    alike = np.sum(rc[1:] * rc[:-1], axis=1)[pairs]

    level_db = 10.0 * np.log10(energy / loudest + 1e-12)
    steps = np.diff(level_db)[active[1:] & active[:-1] & follows[1:]]
    pluck = 0.0
    if steps.size >= 3 and float(np.std(steps)) > 1e-6:
        pluck = float(np.mean((steps - steps.mean()) ** 3) / np.std(steps) ** 3)

    centroid = (power @ freqs) / np.maximum(energy, 1e-30)  # (F,) Hz
    unpitched_bright = active & (rmax < UNVOICED_R) & (centroid > FRICATIVE_HZ)
    n_active = int(active.sum())
    return {
        "harmonicity": float(np.median(rmax[active])),
        "voiced": int(voiced.sum()) / n_active,
        "flatness": float(np.median(flat[active])),
        "sub_share": float(longterm[audible & (freqs < SUB_HZ)].sum()) / total,
        "low_share": float(longterm[audible & (freqs < LOW_HZ)].sum()) / total,
        "log_centroid": log_centroid,
        "steadiness": float(np.median(alike)) if alike.size else 1.0,
        "pluck": pluck,
        "fricative": int(unpitched_bright.sum()) / n_active,
        "centroid_spread": float(np.std(np.log2(np.maximum(centroid[active], F0_MIN_HZ)))),
    }


def unit_logits(feats: dict[str, float], units: tuple[Unit, ...] = UNITS) -> dict[str, float]:
    """Each unit's logit (positive: sounds like a guitar on that unit's question)."""
    return {u.name: u.logit(feats) for u in units}


def score_features(feats: dict[str, float], units: tuple[Unit, ...] = UNITS,
                   exponent: float = EXPONENT) -> tuple[float, str]:
    """(score in [0, 1], the unit to blame) under ``units`` (the fitted ones unless a fit passes its own).

    The blamed unit is the first in :data:`UNITS` order that answers no (logit < 0), else the weakest:
    a unit fitted on pitched sounds (the speech unit) says nothing sensible about noise, so a clip with
    little pitch is blamed on the pitch unit even when the speech unit's logit is lower.
    """
    logits = unit_logits(feats, units)
    log_p = sum(-math.log1p(math.exp(-t)) if t > -50 else t for t in logits.values())  # sum of log sigmoid
    score = math.exp(exponent * log_p)
    blamed = next((name for name, t in logits.items() if t < 0.0), min(logits, key=logits.__getitem__))
    return min(1.0, max(0.0, score)), blamed


def check_guitar(audio: np.ndarray, sample_rate: int) -> GuitarCheck:
    """Does ``audio`` (mono (T,) or (C, T), any level) sound like a guitar, with or without pedals?

    Raises :class:`~ddspfx.errors.AudioError` for a bad shape, rate or NaN samples; never for the sound.
    """
    feats = features(audio, sample_rate)
    if feats is None:
        return GuitarCheck(False, 0.0, "the clip is silent: there is no guitar to hear" + WARNING_TAIL)
    score, worst = score_features(feats)
    if score >= THRESHOLD:
        return GuitarCheck(True, score, GUITAR_REASON)
    reason = next(u.reason for u in UNITS if u.name == worst)
    return GuitarCheck(False, score, reason + WARNING_TAIL)


__all__ = ["FEATURES", "GuitarCheck", "THRESHOLD", "UNITS", "Unit", "check_guitar", "features", "score_features",
           "unit_logits"]
