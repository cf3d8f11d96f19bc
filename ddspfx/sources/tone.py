"""The tone stage between the strings and the pedals, randomised: tone knob and cable, amp and cabinet, room.

Why: a model trained on one embedded guitar learns that guitar's brightness as "dry". Real dry
guitar reaches a pedal, or a recorder, through a tone knob and a long cable (a resonant low-pass
at a few kHz), often through an amplifier and a speaker cabinet (a steep roll-off above 3-6 kHz, a
low cut) and a room or microphone (more or less low end). The released model reported an eq on
nearly every clean recorded-guitar clip of ``experiments/ood_check.py``. Colouring a share of the training
dry clips with such a stage, under the same labels (no pedal), teaches it that the guitar's own
tone is not an eq pedal.

The ranges are textbook ones for passive pickups (load resonance 1.5-9 kHz, Q up to ~1.4 with the
tone knob at various settings), 1x12"-4x12" cabinets (roll-off from 2.5-6 kHz, 24 dB/octave) and
low cuts (60-120 Hz with a cabinet, 20-60 Hz without); they were not fitted to any test clips.

Pure functions: ``random_tone_stage(rng) -> ToneStage``, ``tone_sos(stage, fs)``, ``apply_tone(x, stage, fs)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, sosfilt

from ddspfx.audio import normalise_loudness
from ddspfx.sources.base import TARGET_DBFS
from ddspfx.sources.biquad import rbj_highpass, rbj_lowpass, rbj_lowshelf

BUTTERWORTH_Q = 1.0 / np.sqrt(2.0)


@dataclass(frozen=True)
class ToneStage:
    """One randomised tone stage (all frequencies in Hz)."""

    pickup_hz: float  # pickup + cable load resonance: a 2nd-order resonant low-pass
    pickup_q: float
    cabinet_hz: float  # 4th-order Butterworth low-pass of a speaker cabinet; 0 = straight into the pedal (no amp)
    low_cut_hz: float  # 2nd-order Butterworth high-pass (speaker / coupling capacitors)
    shelf_hz: float  # low shelf midpoint: neck pickup, body, room or microphone proximity
    shelf_db: float


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def random_tone_stage(rng: np.random.Generator, cabinet_p: float = 0.5) -> ToneStage:
    """A plausible tone stage; with probability ``cabinet_p`` it includes an amp's speaker cabinet."""
    pickup_hz, pickup_q = _log_uniform(rng, 1500.0, 9000.0), _log_uniform(rng, 0.5, 1.4)
    cabinet = rng.random() < cabinet_p
    cabinet_hz = _log_uniform(rng, 2500.0, 6000.0) if cabinet else 0.0
    low_cut_hz = _log_uniform(rng, 60.0, 120.0) if cabinet else _log_uniform(rng, 20.0, 60.0)
    return ToneStage(pickup_hz=pickup_hz, pickup_q=pickup_q, cabinet_hz=cabinet_hz, low_cut_hz=low_cut_hz,
                     shelf_hz=_log_uniform(rng, 150.0, 400.0), shelf_db=float(rng.uniform(-3.0, 9.0)))


def tone_sos(stage: ToneStage, sample_rate: float) -> np.ndarray:
    """The stage as second-order sections ``(S, 6)``."""
    rows = [rbj_lowpass(stage.pickup_hz, stage.pickup_q, sample_rate),
            rbj_highpass(stage.low_cut_hz, BUTTERWORTH_Q, sample_rate),
            rbj_lowshelf(stage.shelf_hz, stage.shelf_db, sample_rate)]
    if stage.cabinet_hz > 0.0:  # 4th-order Butterworth = two sections with Q 1/(2 cos(pi/8)) and 1/(2 cos(3 pi/8))
        rows += [rbj_lowpass(stage.cabinet_hz, 1.0 / (2.0 * np.cos(k * np.pi / 8.0)), sample_rate) for k in (1, 3)]
    return np.stack(rows)


def apply_tone(x: np.ndarray, stage: ToneStage, sample_rate: float) -> np.ndarray:
    """``x`` (T,) through the stage, re-normalised to the sources' loudness (``TARGET_DBFS``, peak <= 0.99)."""
    y = sosfilt(tone_sos(stage, sample_rate), np.asarray(x, dtype=np.float64))
    return normalise_loudness(y.astype(np.float32), TARGET_DBFS)[0]


__all__ = ["ToneStage", "random_tone_stage", "tone_sos", "apply_tone", "Room", "random_room", "diffuse_room_ir", "apply_room"]


NOISE_DB = (-72.0, -42.0)
"""Noise floor range (dB relative to the clip's RMS): a quiet studio DI to a noisy single-coil."""


def noise_floor(num_samples: int, rms: float, rng: np.random.Generator, sample_rate: float) -> np.ndarray:
    """What a real guitar recording carries besides the notes: mains hum (50 or 60 Hz with odd
    harmonics, as single-coil pickups pick it up) and pink-ish hiss (cable, preamp, converter),
    together ``NOISE_DB`` below ``rms`` (float32 ``(num_samples,)``). Labels do not change: no pedal
    makes it, and a model that calls hiss a reverb or an eq has to unlearn it here."""
    level = rms * 10.0 ** (rng.uniform(*NOISE_DB) / 20.0)
    t = np.arange(num_samples) / sample_rate
    mains = 50.0 if rng.random() < 0.5 else 60.0
    hum = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi))
              for k in (1, 3, 5, 7))
    white = rng.standard_normal(num_samples)
    pink = sosfilt(np.array([rbj_lowpass(float(rng.uniform(1500.0, 8000.0)), BUTTERWORTH_Q, sample_rate)]), white)
    hiss = pink + rng.uniform(0.05, 0.5) * white
    mix = rng.uniform(0.0, 1.0)  # hum share
    n = mix * hum / (np.std(hum) + 1e-12) + (1 - mix) * hiss / (np.std(hiss) + 1e-12)
    return (level * n / (np.std(n) + 1e-12)).astype(np.float32)


def add_noise_floor(x: np.ndarray, rng: np.random.Generator, sample_rate: float) -> np.ndarray:
    """``x`` plus a random :func:`noise_floor` (same dtype and shape)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return (x + noise_floor(x.size, rms, rng, sample_rate)).astype(np.float32)


# --- the room a guitar is recorded in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Room:
    """A small room heard through a close microphone: a few early reflections, then a diffuse tail.

    Why: recorded guitar (a miked cabinet, an acoustic in a bedroom) carries some room, and a model that has only
    heard anechoic dry guitar calls it a reverb pedal (``experiments/results/real_sources``: a reverb on half the
    clean recorded-electric clips). ``drr_db`` is the direct-to-reverberant energy ratio: a close microphone keeps
    it high, so the room stays quieter than the quietest reverb pedal the catalog labels (``experiments.room_check``
    measures both)."""

    rt60_s: float  # reverberation time of the tail
    drr_db: float  # direct / (reflections + tail) energy, dB
    predelay_ms: float  # first reflection after the direct sound
    tail_hz: float  # the tail's low-pass (walls and air absorb the highs first)


ROOM_RT60_S = (0.1, 0.4)
ROOM_DRR_DB = (12.0, 24.0)
"""A little room: bedroom/studio reverberation times, close-microphone direct-to-reverberant ratios."""


def random_room(rng: np.random.Generator) -> Room:
    return Room(rt60_s=_log_uniform(rng, *ROOM_RT60_S), drr_db=float(rng.uniform(*ROOM_DRR_DB)),
                predelay_ms=float(rng.uniform(1.0, 8.0)), tail_hz=_log_uniform(rng, 2000.0, 8000.0))


def diffuse_room_ir(room: Room, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """The room's impulse response (float64): 1 at t=0 (the direct sound), then, from ``predelay_ms``, an
    exponentially decaying, low-passed noise tail whose energy is ``drr_db`` below the direct sound's.

    Diffuse only, drawn from ``rng``: no discrete early reflections, unlike ``ddspfx.recording.reflective_room_ir``.
    """
    n = int(round(min(room.rt60_s, 1.0) * sample_rate)) + 1
    t = np.arange(n) / sample_rate
    start = int(round(room.predelay_ms * 1e-3 * sample_rate))
    tail = np.zeros(n)
    tail[start:] = rng.standard_normal(n - start) * np.exp(-6.91 * (t[start:] - t[start]) / room.rt60_s)
    tail = sosfilt(np.array([rbj_lowpass(room.tail_hz, BUTTERWORTH_Q, sample_rate)]), tail)
    tail *= np.sqrt(10.0 ** (-room.drr_db / 10.0) / (np.sum(tail ** 2) + 1e-30))
    tail[0] += 1.0
    return tail


def apply_room(x: np.ndarray, room: Room, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` (T,) heard in ``room`` (same length: the tail past the clip's end is cut, as a recording's would be),
    re-normalised to the sources' loudness like :func:`apply_tone`."""
    y = fftconvolve(np.asarray(x, dtype=np.float64), diffuse_room_ir(room, sample_rate, rng))[: len(x)]
    return normalise_loudness(y.astype(np.float32), TARGET_DBFS)[0]
