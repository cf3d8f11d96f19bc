"""The recording is not a pedal: a recording's own character, applied after the pedals and never labelled.

Why: a real clip is guitar -> pedals -> (amp, speaker cabinet, microphone, room) -> recorder. A model that has only
heard pedals straight into the recorder reads the cabinet's roll-off, a microphone's presence peak or a small room as
an eq or a reverb. Drawing such a character per clip *after* the chain, with the labels unchanged, shows the model
what a recording adds that no pedal made.

Three parts, each kept in ranges the catalog's labelled pedals stay distinct from (catalog: eq peaks at 200-5000 Hz
with |gain| >= 5 dB and Q 0.5-2.5, reverbs with room >= 0.25 and wet >= 0.2, distortion with drive >= 10 dB):

- **band limits** (a 2nd-order Butterworth high-pass; through a cabinet also its 4th-order Butterworth low-pass at
  3-6 kHz): monotone cuts that keep falling to the band's edge at 12-24 dB/octave, a shape no peaking filter has
  (a bell returns to 0 dB an octave or two from its centre and never cuts more than 12 dB). The dry tone stage
  (``ddspfx.sources.tone``) has already taught the model that such a roll-off under the same labels is not an eq:
  on toned synth clips the eq false alarms fell from 91 % to 1 % while the eq F1 rose (0.673 -> 0.696,
  ``experiments/results/tone_stage``).
- **colour** (a speaker resonance at 80-140 Hz, below the eq's lowest centre; one or two broad mid bumps or dips; a
  microphone's presence peak at 2-5 kHz; proximity bass, a low shelf at 100-250 Hz): the whole colour response is held
  within +-:data:`COLOUR_MAX_DB` (1.25 dB, a quarter of the eq's 5 dB dead zone), so its log-magnitude response is
  nearer to a flat line than to any labelled eq peak, and ddspfx.audibility scores it below the least audible labelled
  eq on the same clip (:func:`labelled_floor_scores`). Measured by ``experiments/procedural_preview.py`` on 32 clips
  of four sources, 128 draws: colour score median 0.43 dB, at most 0.84x the clip's eq floor; with +-2.5 dB the same
  clips gave median 0.77x and at most 1.76x, which is why the bound is this tight. Real cabinet and microphone curves
  vary by more (a presence peak of +5 dB is common), but a +5 dB bell *is* the weakest labelled eq: a colour that
  large cannot be told from a pedal, so it is left out rather than taught as "no eq".
- **room** (2-6 early reflections within 1.5-30 ms, each 30-45 dB below the direct sound, and a diffuse tail with RT60
  0.08-0.3 s at 36-50 dB below it: a close-miked cabinet): the catalog's quietest labelled reverbs ring 0.52-0.86 s
  (``experiments/results/room_check``); ddspfx.audibility scores the room (same 32 clips, 90 rooms) median 0.29 dB, at
  most 0.71x the clip's least audible labelled reverb. ``ddspfx.sources.tone.random_room``'s rooms (12-24 dB below the
  direct sound) scored median 1.1x and up to 5.7x that floor on the same clips: the judge hears a quiet tail in a
  phrase's gaps, so louder rooms can only be told from a reverb by their decay time (``room_db`` raises these levels
  for a pipeline that accepts that).
- no **distortion**: every part is linear and time-invariant, so a recording adds no harmonic (a distortion's
  mark); no amp saturation is modelled.

Where labels come from the judge itself (the sampler's ``whole_ranges`` with ``drop_inaudible``: any eq that scores
0.7 dB is labelled), the colour overlaps the faintest labels; draw with a smaller ``colour_max_db`` there.

Pure functions: ``draw_recording(rng) -> Recording``, ``apply_recording(x, sample_rate, rec) -> x`` (same shape and
RMS), and the parts ``band_sos``, ``colour_sos``, ``reflective_room_ir``. The pipeline decides where to call it;
nothing here touches labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, sosfilt, sosfreqz

from ddspfx.audibility import effect_score
from ddspfx.audio import normalise_loudness
from ddspfx.catalog import get_effect
from ddspfx.sources.biquad import rbj_highpass, rbj_lowpass, rbj_lowshelf, rbj_peak

CAB_P = 0.7
"""Share of recordings through an amp's speaker cabinet and a microphone; the rest are DI (interface only)."""
ROOM_P = 0.7
"""Share of cabinet recordings whose microphone hears the room."""
COLOUR_MAX_DB = 1.25
"""Largest |dB| of the colour response anywhere in 20 Hz-20 kHz (a quarter of the eq's 5 dB dead zone)."""
LOW_CUT_HZ = {"cab": (70.0, 120.0), "di": (20.0, 40.0)}
HIGH_CUT_HZ = (3000.0, 6000.0)
REFLECTION_MS = (1.5, 30.0)
REFLECTION_DB = (-45.0, -30.0)
TAIL_RT60_S = (0.08, 0.3)
TAIL_DB = (-50.0, -36.0)
BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class Recording:
    """One recording's character (frequencies in Hz). ``high_cut_hz`` 0: no cabinet; no reflections and
    ``tail_db`` = -inf: no room."""

    kind: str  # "cab" (amp, speaker cabinet, microphone) or "di"
    low_cut_hz: float  # 2nd-order Butterworth high-pass
    high_cut_hz: float  # 4th-order Butterworth low-pass of the cabinet; 0 = none
    peaks: tuple[tuple[float, float, float], ...]  # (Hz, dB, Q) peaking biquads: speaker resonance, mid, presence
    shelf_hz: float  # proximity: low shelf midpoint
    shelf_db: float
    reflections: tuple[tuple[float, float], ...]  # (delay ms, amplitude relative to the direct sound)
    tail_rt60_s: float
    tail_db: float  # tail energy relative to the direct sound (dB); -inf = no tail
    tail_hz: float  # the tail's low-pass (walls and air absorb the highs)
    seed: int  # the tail's noise, so that applying a Recording is a pure function


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def _colour_rows(peaks: tuple[tuple[float, float, float], ...], shelf_hz: float, shelf_db: float,
                 sample_rate: float) -> list[np.ndarray]:
    return [rbj_peak(f, g, q, sample_rate) for f, g, q in peaks] + [rbj_lowshelf(shelf_hz, shelf_db, sample_rate)]


def colour_peak_db(peaks: tuple[tuple[float, float, float], ...], shelf_hz: float, shelf_db: float,
                   sample_rate: float = 48_000.0) -> float:
    """Largest |dB| of the colour response on a log grid 20 Hz-20 kHz."""
    w = 2.0 * np.pi * np.geomspace(20.0, 20_000.0, 512) / sample_rate
    _, h = sosfreqz(np.stack(_colour_rows(peaks, shelf_hz, shelf_db, sample_rate)), worN=w)
    return float(np.max(np.abs(20.0 * np.log10(np.abs(h)))))


def draw_recording(rng: np.random.Generator, colour_max_db: float = COLOUR_MAX_DB, room_db: float = 0.0) -> Recording:
    """A random recording character from the ranges in the module docstring; the colour stays within
    +-``colour_max_db``, and ``room_db`` raises (or lowers) the reflections and the tail (a pipeline that wants a
    more audible room; the measured margins below the labelled reverbs hold at 0 only)."""
    cab = bool(rng.random() < CAB_P)
    kind = "cab" if cab else "di"
    low_cut = _log_uniform(rng, *LOW_CUT_HZ[kind])
    peaks: list[tuple[float, float, float]] = []
    shelf_hz, shelf_db = 200.0, 0.0
    reflections: tuple[tuple[float, float], ...] = ()
    tail_db, rt60, tail_hz = -math.inf, 0.0, 0.0
    if cab:
        top = colour_max_db
        peaks.append((_log_uniform(rng, 80.0, 140.0), float(rng.uniform(0.2, 1.0)) * top, _log_uniform(rng, 1.0, 2.0)))
        for _ in range(int(rng.integers(1, 3))):
            peaks.append((_log_uniform(rng, 400.0, 3000.0), float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 1.0)) * top,
                          _log_uniform(rng, 0.4, 1.0)))
        peaks.append((_log_uniform(rng, 2000.0, 5000.0), float(rng.uniform(0.2, 1.0)) * top, _log_uniform(rng, 0.7, 1.5)))
        shelf_hz, shelf_db = _log_uniform(rng, 100.0, 250.0), float(rng.uniform(0.0, 1.0)) * top
        worst = colour_peak_db(tuple(peaks), shelf_hz, shelf_db)
        for _ in range(8):  # overlapping bumps add up: scale every gain until the sum fits
            if worst <= top:
                break
            scale = top / worst * 0.98
            peaks = [(f, g * scale, q) for f, g, q in peaks]
            shelf_db *= scale
            worst = colour_peak_db(tuple(peaks), shelf_hz, shelf_db)
        if rng.random() < ROOM_P:
            count = int(rng.integers(2, 7))
            delays = np.sort(rng.uniform(*REFLECTION_MS, count))
            gains = 10.0 ** ((rng.uniform(*REFLECTION_DB, count) + room_db) / 20.0)
            reflections = tuple((float(d), float(g)) for d, g in zip(delays, gains))
            rt60, tail_db = _log_uniform(rng, *TAIL_RT60_S), float(rng.uniform(*TAIL_DB)) + room_db
            tail_hz = _log_uniform(rng, 2000.0, 6000.0)
    return Recording(kind=kind, low_cut_hz=low_cut, high_cut_hz=_log_uniform(rng, *HIGH_CUT_HZ) if cab else 0.0,
                     peaks=tuple(peaks), shelf_hz=shelf_hz, shelf_db=shelf_db, reflections=reflections,
                     tail_rt60_s=rt60, tail_db=tail_db, tail_hz=tail_hz, seed=int(rng.integers(0, 2**31 - 1)))


def band_sos(rec: Recording, sample_rate: float) -> np.ndarray:
    """High-pass and, through a cabinet, its 4th-order Butterworth low-pass: second-order sections (S, 6)."""
    rows = [rbj_highpass(rec.low_cut_hz, BUTTERWORTH_Q, sample_rate)]
    if rec.high_cut_hz > 0.0:  # 4th-order Butterworth = sections with Q 1/(2 cos(pi/8)) and 1/(2 cos(3 pi/8))
        rows += [rbj_lowpass(rec.high_cut_hz, 1.0 / (2.0 * math.cos(k * math.pi / 8.0)), sample_rate) for k in (1, 3)]
    return np.stack(rows)


def colour_sos(rec: Recording, sample_rate: float) -> np.ndarray:
    """Speaker resonance, mid bumps, presence peak and proximity shelf: second-order sections (S, 6)."""
    return np.stack(_colour_rows(rec.peaks, rec.shelf_hz, rec.shelf_db, sample_rate))


def reflective_room_ir(rec: Recording, sample_rate: float) -> np.ndarray:
    """The room's impulse response (float64): 1 at t=0 (the direct sound), the early reflections, and a
    low-passed, exponentially decaying noise tail whose energy is ``tail_db`` below the direct sound's.

    Discrete early reflections, seeded by ``rec.seed``: unlike the dry sources' ``ddspfx.sources.tone.diffuse_room_ir``.
    """
    if not rec.reflections and not math.isfinite(rec.tail_db):
        return np.ones(1)
    last = max([d for d, _ in rec.reflections] + [0.0]) * 1e-3
    n = int(round((last + rec.tail_rt60_s) * sample_rate)) + 2
    ir = np.zeros(n)
    for d, g in rec.reflections:  # fractional delays by linear interpolation
        pos = d * 1e-3 * sample_rate
        i = int(pos)
        ir[i] += g * (1.0 - (pos - i))
        ir[i + 1] += g * (pos - i)
    if math.isfinite(rec.tail_db) and rec.tail_rt60_s > 0.0:
        start = int(round(REFLECTION_MS[0] * 1e-3 * sample_rate))
        t = np.arange(n - start) / sample_rate
        tail = np.random.default_rng(rec.seed).standard_normal(n - start) * np.exp(-6.91 * t / rec.tail_rt60_s)
        tail *= np.minimum(t / 0.01, 1.0)  # the diffuse field builds up over ~10 ms
        tail = sosfilt(rbj_lowpass(rec.tail_hz, BUTTERWORTH_Q, sample_rate)[None, :], tail)
        ir[start:] += tail * math.sqrt(10.0 ** (rec.tail_db / 10.0) / (float(np.sum(tail**2)) + 1e-30))
    ir[0] += 1.0
    return ir


def apply_recording(x: np.ndarray, sample_rate: float, rec: Recording) -> np.ndarray:
    """``x`` (T,) or (C, T) recorded with ``rec``: band limits, colour, room (the tail past the clip's end is cut,
    as a recording's would be), then scaled back to the input's RMS (peak <= 0.99). float32, same shape."""
    x = np.asarray(x, dtype=np.float32)
    y = sosfilt(np.concatenate([band_sos(rec, sample_rate), colour_sos(rec, sample_rate)]),
                x.astype(np.float64), axis=-1)
    ir = reflective_room_ir(rec, sample_rate)
    if ir.size > 1:
        y = fftconvolve(y, ir.reshape((1,) * (y.ndim - 1) + (-1,)), axes=-1)[..., : x.shape[-1]]
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    if rms <= 0.0:
        return np.zeros_like(x)
    return normalise_loudness(y.astype(np.float32), 20.0 * math.log10(rms))[0]


def labelled_floor_scores(dry: np.ndarray, sample_rate: float, n_centres: int = 7) -> tuple[float, float]:
    """(eq, reverb): :mod:`ddspfx.audibility` scores on ``dry`` of the least audible pedals the sampler labels, the
    references a recording's colour and room are kept below.

    eq: gain at its dead zone's edge (+-5 dB), its narrowest labelled Q (2.5); the median over ``n_centres``
    centres log-spaced across its range and both signs (the weakest eq at a typical place: at the single least
    audible place, a peak where the clip has no energy, any change outscores it). reverb: its smallest labelled room
    and wet level, full dry level, the least audible of damping 0, 0.5 and 1.
    """
    eq = get_effect("eq")
    freq, gain, q = eq.param("cutoff_frequency_hz"), eq.param("gain_db"), eq.param("q")
    edge = (gain.dead_zone or (0.0, 0.0))[1]
    eq_scores = [effect_score("eq", {freq.name: float(f), gain.name: sign * edge, q.name: q.sample_high}, dry, sample_rate)
                 for f in np.geomspace(freq.sample_low, freq.sample_high, n_centres) for sign in (-1.0, 1.0)]
    rev = get_effect("reverb")
    room, wet, dry_level = rev.param("room_size"), rev.param("wet_level"), rev.param("dry_level")
    reverb = min(effect_score("reverb", {room.name: room.sample_low, "damping": d, wet.name: wet.sample_low,
                                         dry_level.name: dry_level.sample_high}, dry, sample_rate) for d in (0.0, 0.5, 1.0))
    return float(np.median(eq_scores)), float(reverb)


__all__ = ["Recording", "labelled_floor_scores", "draw_recording", "apply_recording", "band_sos", "colour_sos",
           "reflective_room_ir", "colour_peak_db", "COLOUR_MAX_DB", "CAB_P", "ROOM_P"]
