"""The embedded dry guitar: an extended Karplus-Strong plucked string that plays short phrases.

ddspfx must train and run with no download, so it ships a guitar it can synthesise.
The string model follows Jaffe & Smith, "Extensions of the Karplus-Strong plucked-string
algorithm" (Computer Music Journal 7(2), 1983) and Smith's "Physical Audio Signal
Processing" (plucked strings chapter):

- excitation: one period of noise through a one-pole lowpass (pick brightness: a harder
  pick is brighter) and a feed-forward comb ``e[n] - e[n - beta*N]`` (pluck position
  ``beta`` along the string, which notches every 1/beta-th harmonic);
- loop: delay line of N samples, a one-pole loss filter ``g (1 - a) / (1 - a z^-1)``
  (``g`` sets the decay time at the fundamental, ``a`` makes high partials die faster),
  and a first-order allpass whose phase delay supplies the fractional part of the
  period, so the pitch is exact to a fraction of a cent;
- note-off: the loss filter switches to a heavily damped setting (a finger or palm
  resting on the string), so short notes stop instead of ringing for seconds;
- output: a body/pickup filter -- resonant peaks near 100 Hz and 200 Hz (air and top
  plate modes), a mid-range mode, and the resonant lowpass of a magnetic pickup
  loaded by its cable (2.5-5.5 kHz) -- and a 35 Hz high-pass.

A guitar has six strings and each string sounds one note at a time, so the renderer
runs six voices: a new pluck on a string ends the previous note on that string (with
a 1.5 ms fade). That is realistic and bounds the work to six strings x the clip
length, whatever the number of notes; the per-sample loop is compiled with numba.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, overload

import numba
import numpy as np
from scipy.signal import sosfilt

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.sources.base import shifted_phrase
from ddspfx.sources.biquad import rbj_highpass, rbj_lowpass, rbj_peak

OPEN_STRINGS: tuple[int, ...] = (40, 45, 50, 55, 59, 64)
"""MIDI notes of the open strings in standard tuning, low E (index 0) to high E (index 5)."""

MAX_FRETS: tuple[int, ...] = (22, 22, 22, 22, 22, 24)
"""Highest usable fret per string: the high E reaches MIDI 88 (E6) at fret 24."""

MIDI_LOW, MIDI_HIGH = 40, 88
"""The guitar range ddspfx synthesises (E2 .. E6)."""

KINDS: tuple[str, ...] = ("single", "power", "open_chord", "arpeggio", "riff")
"""What a phrase can be: single sustained notes, power chords, strummed open chords, arpeggios, riffs."""

_MAX_PERIOD = 4096  # samples; enough for E2 (82.4 Hz) up to 192 kHz


@dataclass(frozen=True)
class Note:
    """One plucked note. ``string`` 0 is the low E; ``velocity`` in (0, 1]; times in seconds."""

    start_s: float
    midi: float
    string: int
    velocity: float
    duration_s: float
    pluck_position: float = 0.15  # fraction of the string length from the bridge


@dataclass(frozen=True)
class GuitarTone:
    """The instrument and player for one phrase (drawn at random by ``random_tone``)."""

    sustain: float = 1.0  # scales the T60 law of ``string_t60`` (1.0: 5 s at low E)
    damping: float = 0.5  # loss-filter pole a: 0 = all partials decay alike, 0.8 = dark, dull strings
    pick_hardness: float = 0.6  # 0 = soft thumb, 1 = hard pick (brighter excitation)
    mute_t60_s: float = 0.08  # decay time after note-off (s)
    body: tuple[tuple[float, float, float], ...] = ((100.0, 5.0, 6.0), (210.0, 4.0, 4.0), (550.0, -3.0, 1.5))
    # body modes as (frequency Hz, gain dB, Q)
    pickup_hz: float = 4000.0  # pickup + cable resonance (Hz)
    pickup_q: float = 1.5  # its resonance Q


def random_tone(rng: np.random.Generator) -> GuitarTone:
    """A random but plausible guitar: sustain, string damping, pick, body modes, pickup resonance."""
    return GuitarTone(
        sustain=float(rng.uniform(0.6, 1.5)),
        damping=float(rng.uniform(0.2, 0.8)),
        pick_hardness=float(rng.uniform(0.2, 1.0)),
        mute_t60_s=float(rng.uniform(0.04, 0.15)),
        body=(
            (float(rng.uniform(85.0, 125.0)), float(rng.uniform(2.0, 8.0)), float(rng.uniform(3.0, 10.0))),
            (float(rng.uniform(170.0, 260.0)), float(rng.uniform(1.0, 6.0)), float(rng.uniform(2.0, 8.0))),
            (float(rng.uniform(400.0, 900.0)), float(rng.uniform(-4.0, 3.0)), float(rng.uniform(0.7, 2.5))),
        ),
        pickup_hz=float(rng.uniform(2500.0, 5500.0)),
        pickup_q=float(rng.uniform(0.9, 3.0)),
    )


@overload
def midi_to_hz(midi: float) -> float: ...
@overload
def midi_to_hz(midi: np.ndarray) -> np.ndarray: ...
def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Equal temperament, A4 = MIDI 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def string_t60(f0: float | np.ndarray, sustain: float = 1.0) -> np.ndarray:
    """Design decay time (s) of a string's fundamental: 5 s at E2 falling as f0^-0.6 (~1 s at E6).

    Measured electric-guitar sustains fall with pitch roughly this way (thinner,
    shorter vibrating lengths lose energy faster through the bridge and the air).
    """
    f0 = np.asarray(f0, dtype=np.float64)
    return np.clip(5.0 * sustain * (f0 / 82.407) ** -0.6, 0.3, 12.0)


def _lowpass_mag(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """|(1 - a) / (1 - a e^{-jw})|: the unity-DC-gain one-pole's magnitude."""
    return (1.0 - a) / np.sqrt(1.0 - 2.0 * a * np.cos(w) + a * a)


def _stable_pole(a: np.ndarray, w: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Shrink the loss pole ``a`` where it would need ``g >= 1`` to reach loop gain ``G`` at ``w``.

    ``|H_a(w)| >= G`` is ``(1-G^2) a^2 - 2 (1 - G^2 cos w) a + (1-G^2) >= 0``; its smaller root
    bounds ``a``. Keep 90 % of it.
    """
    q = 1.0 - G * G
    b = 1.0 - G * G * np.cos(w)
    a_max = (b - np.sqrt(np.maximum(b * b - q * q, 0.0))) / np.maximum(q, 1e-15)
    return np.minimum(a, 0.9 * a_max)


def loop_coefficients(
    f0: np.ndarray, t60: np.ndarray, damping: np.ndarray, sample_rate: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-note string loop ``(n_int, ap_c, g, a)`` that rings at ``f0`` Hz with decay ``t60`` s at f0.

    Loop delay ``n_int + P_lowpass(w0) + P_allpass(w0) = sample_rate / f0`` exactly, with the
    allpass delay ``d`` in [0.5, 1.5) and its coefficient from the exact phase-delay formula
    ``C = sin(w0 (1 - d) / 2) / sin(w0 (1 + d) / 2)`` (Jaffe & Smith 1983 use the
    low-frequency approximation ``(1 - d) / (1 + d)``, off by cents at high notes).
    Loop gain per period at f0 is ``10^(-3 / (f0 t60))`` (60 dB in t60 seconds).
    """
    f0 = np.asarray(f0, dtype=np.float64)
    w = 2.0 * np.pi * f0 / sample_rate
    G = 10.0 ** (-3.0 / (f0 * np.asarray(t60, dtype=np.float64)))
    a = _stable_pole(np.broadcast_to(np.asarray(damping, dtype=np.float64), f0.shape).copy(), w, G)
    g = G / _lowpass_mag(a, w)
    p_lowpass = np.arctan2(a * np.sin(w), 1.0 - a * np.cos(w)) / w
    total = sample_rate / f0 - p_lowpass
    n_int = np.floor(total - 0.5).astype(np.int64)
    d = total - n_int
    ap_c = np.sin(w * (1.0 - d) / 2.0) / np.sin(w * (1.0 + d) / 2.0)
    return n_int, ap_c, g, a


@numba.njit(cache=True, nogil=True)
def _ks_voices(out, starts, ends, offs, n_int, ap_c, g_on, a_on, g_off, a_off,
               comb_m, pick_a, amp, noise, noise_off, fade_len):  # pragma: no cover - compiled
    """Run each note's string loop from its start to its end sample, adding into ``out`` (T,)."""
    buf = np.zeros(_MAX_PERIOD, np.float64)
    exc = np.zeros(2 * _MAX_PERIOD, np.float64)
    for i in range(starts.shape[0]):
        s = starts[i]
        e = ends[i]
        N = n_int[i]
        M = comb_m[i]
        for k in range(N):
            buf[k] = 0.0
        # excitation: one period of lowpassed noise, then the pluck-position comb
        lp = 0.0
        pa = pick_a[i]
        no = noise_off[i]
        for k in range(N):
            lp = (1.0 - pa) * noise[no + k] + pa * lp
            exc[k] = lp
        L = N + M
        for k in range(L - 1, -1, -1):
            v = exc[k] if k < N else 0.0
            if k >= M:
                v -= exc[k - M]
            exc[k] = v
        b = g_on[i] * (1.0 - a_on[i])
        a = a_on[i]
        c = ap_c[i]
        y_lp = 0.0
        x1 = 0.0
        y1 = 0.0
        idx = 0
        off = offs[i]
        fade_start = e - fade_len
        gain = amp[i]
        for t in range(s, e):
            if t == off:
                b = g_off[i] * (1.0 - a_off[i])
                a = a_off[i]
            y_lp = b * buf[idx] + a * y_lp
            y = c * y_lp + x1 - c * y1
            x1 = y_lp
            y1 = y
            n = t - s
            if n < L:
                y += gain * exc[n]
            buf[idx] = y
            idx += 1
            if idx == N:
                idx = 0
            if t >= fade_start:
                y *= (e - t) / fade_len
            out[t] += y


def body_sos(tone: GuitarTone, sample_rate: int) -> np.ndarray:
    """The body + pickup filter as second-order sections ``(S, 6)`` for scipy.signal.sosfilt."""
    rows = [rbj_peak(f, g, q, sample_rate) for f, g, q in tone.body]
    rows.append(rbj_lowpass(tone.pickup_hz, tone.pickup_q, sample_rate))
    rows.append(rbj_highpass(35.0, 0.707, sample_rate))
    return np.stack(rows)


def render_notes(
    notes: Sequence[Note],
    num_samples: int,
    sample_rate: int = SAMPLE_RATE,
    tone: GuitarTone | None = None,
    rng: np.random.Generator | None = None,
    body: bool = True,
) -> np.ndarray:
    """Render notes on a six-string guitar to float32 ``(num_samples,)``, not normalised.

    ``rng`` draws the excitation noise (seeded: same rng state, same audio). ``body=False``
    skips the body/pickup filter (tests that measure the bare string use it).
    """
    tone = tone or GuitarTone()
    rng = rng if rng is not None else np.random.default_rng(0)
    fs = int(sample_rate)
    out = np.zeros(num_samples, dtype=np.float64)
    notes = [n for n in notes if 0 <= int(round(n.start_s * fs)) < num_samples]
    if not notes:
        return out.astype(np.float32)
    notes.sort(key=lambda n: n.start_s)
    k = len(notes)
    starts = np.array([int(round(n.start_s * fs)) for n in notes], dtype=np.int64)
    strings = np.array([n.string for n in notes], dtype=np.int64)
    midi = np.array([n.midi for n in notes], dtype=np.float64)
    vel = np.clip(np.array([n.velocity for n in notes], dtype=np.float64), 0.05, 1.0)
    dur = np.array([n.duration_s for n in notes], dtype=np.float64)
    pos = np.clip(np.array([n.pluck_position for n in notes], dtype=np.float64), 0.03, 0.5)

    f0 = midi_to_hz(midi)
    if np.any(fs / f0 >= _MAX_PERIOD - 2):
        raise ValueError(f"note too low for {fs} Hz: period must be under {_MAX_PERIOD} samples")
    n_int, ap_c, g_on, a_on = loop_coefficients(f0, string_t60(f0, tone.sustain), np.full(k, tone.damping), fs)
    mute = np.full(k, tone.mute_t60_s)
    _, _, g_off, a_off = loop_coefficients(f0, mute, np.full(k, max(tone.damping, 0.5)), fs)
    offs = starts + np.maximum((dur * fs).astype(np.int64), 1)

    # each note ends at the next pluck on its string, or when the muted string has died away (-80 dB)
    ends = np.minimum(offs + (mute * fs * 80.0 / 60.0).astype(np.int64), num_samples)
    for s in range(6):
        idx = np.flatnonzero(strings == s)
        if idx.size > 1:
            ends[idx[:-1]] = np.minimum(ends[idx[:-1]], starts[idx[1:]])
    ends = np.maximum(ends, starts + 1)

    comb_m = np.maximum(np.round(pos * n_int).astype(np.int64), 1)
    hardness = np.clip(tone.pick_hardness * (0.5 + 0.5 * vel), 0.0, 1.0)
    pick_a = 0.85 - 0.8 * hardness  # pole of the excitation lowpass: 0.05 (bright) .. 0.85 (dull)
    amp = vel * (0.7 + 0.6 * hardness)
    noise_off = np.concatenate([[0], np.cumsum(n_int)[:-1]]).astype(np.int64)
    noise = rng.uniform(-1.0, 1.0, int(n_int.sum()))
    fade = max(int(0.0015 * fs), 1)
    _ks_voices(out, starts, ends, offs, n_int, ap_c, g_on, a_on, g_off, a_off,
               comb_m, pick_a, amp, noise, noise_off, fade)
    if body:
        out = sosfilt(body_sos(tone, fs), out)
    return out.astype(np.float32)


# ----------------------------------------------------------------------------- playing

_OPEN_CHORDS: dict[str, tuple[int, ...]] = {
    # frets, low E .. high E; -1 = string not played
    "E": (0, 2, 2, 1, 0, 0), "Em": (0, 2, 2, 0, 0, 0), "E7": (0, 2, 0, 1, 0, 0),
    "A": (-1, 0, 2, 2, 2, 0), "Am": (-1, 0, 2, 2, 1, 0), "A7": (-1, 0, 2, 0, 2, 0),
    "D": (-1, -1, 0, 2, 3, 2), "Dm": (-1, -1, 0, 2, 3, 1), "G": (3, 2, 0, 0, 0, 3),
    "C": (-1, 3, 2, 0, 1, 0), "F": (1, 3, 3, 2, 1, 1), "Bm": (-1, 2, 4, 4, 3, 2),
}
_SCALES: dict[str, tuple[int, ...]] = {
    "minor_pentatonic": (0, 3, 5, 7, 10), "major_pentatonic": (0, 2, 4, 7, 9),
    "minor": (0, 2, 3, 5, 7, 8, 10), "major": (0, 2, 4, 5, 7, 9, 11), "blues": (0, 3, 5, 6, 7, 10),
}


def _strings_for(midi: int) -> list[int]:
    return [s for s in range(6) if 0 <= midi - OPEN_STRINGS[s] <= MAX_FRETS[s]]


class _Player:
    """Turns a musical idea into Notes with human timing, velocity and pluck position."""

    def __init__(self, rng: np.random.Generator, duration_s: float) -> None:
        self.rng = rng
        self.duration_s = duration_s
        self.bpm = float(rng.uniform(70.0, 180.0))
        self.beat = 60.0 / self.bpm
        self.loudness = float(rng.uniform(0.45, 1.0))
        self.pluck = float(rng.uniform(0.07, 0.3))  # player's hand position (fraction from bridge)
        # no guitar is perfectly in tune: a global offset and a little per string (semitones)
        self.tuning = float(rng.normal(0.0, 0.05)) + rng.normal(0.0, 0.03, 6)
        self.notes: list[Note] = []

    def jitter(self) -> float:
        return float(self.rng.normal(0.0, 0.008))

    def add(self, t: float, midi: int, string: int, duration: float, accent: float = 1.0) -> None:
        vel = self.loudness * accent * float(self.rng.uniform(0.8, 1.1))
        pos = self.pluck * float(self.rng.uniform(0.85, 1.15))
        pitch = float(midi) + float(self.tuning[string])
        self.notes.append(Note(max(t + self.jitter(), 0.0), pitch, string, min(vel, 1.0), max(duration, 0.03), pos))

    def strum(self, t: float, frets: Sequence[int], duration: float, down: bool = True, accent: float = 1.0,
              strings: Sequence[int] | None = None) -> None:
        spread = float(self.rng.uniform(0.004, 0.02))  # seconds between strings
        order = [s for s in (strings if strings is not None else range(6)) if frets[s] >= 0]
        if not down:
            order = order[::-1]
        for j, s in enumerate(order):
            self.add(t + j * spread, OPEN_STRINGS[s] + frets[s], s, duration - j * spread, accent * (1.0 - 0.03 * j))


def _play_single(p: _Player) -> None:
    t = 0.0
    while t < p.duration_s:
        length = p.beat * float(p.rng.choice([1.0, 2.0, 3.0, 4.0]))
        midi = int(p.rng.integers(MIDI_LOW, MIDI_HIGH + 1))
        string = int(p.rng.choice(_strings_for(midi)))
        ring = float(p.rng.uniform(0.6, 1.0)) * length
        p.add(t, midi, string, ring)
        t += length


def _play_power(p: _Player) -> None:
    mute = bool(p.rng.random() < 0.4)  # palm-muted chugging
    step = p.beat / float(p.rng.choice([1.0, 2.0, 2.0, 4.0] if mute else [0.5, 1.0, 2.0]))
    t = 0.0
    while t < p.duration_s:
        root_string = int(p.rng.integers(0, 3))
        fret = int(p.rng.integers(0, 13))
        frets = [-1] * 6
        for s, interval in zip((root_string, root_string + 1, root_string + 2), (0, 7, 12)):
            frets[s] = OPEN_STRINGS[root_string] + fret + interval - OPEN_STRINGS[s]
        hits = int(p.rng.integers(1, 5))
        for h in range(hits):
            if t >= p.duration_s:
                break
            length = step * float(p.rng.uniform(0.2, 0.45) if mute else p.rng.uniform(0.7, 1.0))
            p.strum(t, frets, length, down=True, accent=1.0 if h == 0 else 0.85)
            t += step


def _play_open_chord(p: _Player) -> None:
    step = p.beat / float(p.rng.choice([1.0, 2.0]))
    t = 0.0
    beat_i = 0
    names = list(_OPEN_CHORDS)
    while t < p.duration_s:
        frets = _OPEN_CHORDS[names[int(p.rng.integers(0, len(names)))]]
        for _ in range(int(p.rng.integers(2, 9))):
            if t >= p.duration_s:
                break
            down = beat_i % 2 == 0 or p.rng.random() < 0.3
            strings = range(6) if down else range(int(p.rng.integers(2, 4)), 6)  # up-strokes catch the top strings
            if p.rng.random() > 0.15:  # a rest now and then
                p.strum(t, frets, step * float(p.rng.uniform(0.8, 3.0)), down=down,
                        accent=1.0 if down else 0.7, strings=strings)
            t += step
            beat_i += 1


def _play_arpeggio(p: _Player) -> None:
    step = p.beat / float(p.rng.choice([2.0, 3.0, 4.0]))
    names = list(_OPEN_CHORDS)
    t = 0.0
    while t < p.duration_s:
        frets = _OPEN_CHORDS[names[int(p.rng.integers(0, len(names)))]]
        played = [s for s in range(6) if frets[s] >= 0]
        pattern = played + played[-2:0:-1] if p.rng.random() < 0.5 else played
        if p.rng.random() < 0.3:
            pattern = list(p.rng.permutation(played))
        for s in pattern:
            if t >= p.duration_s:
                break
            p.add(t, OPEN_STRINGS[s] + frets[s], s, step * float(p.rng.uniform(2.0, 8.0)), accent=float(p.rng.uniform(0.8, 1.0)))
            t += step


def _play_riff(p: _Player) -> None:
    scale = _SCALES[list(_SCALES)[int(p.rng.integers(0, len(_SCALES)))]]
    root = int(p.rng.integers(MIDI_LOW, 65))
    pitches = [root + 12 * o + d for o in range(3) for d in scale if root + 12 * o + d <= MIDI_HIGH]
    position = int(p.rng.integers(0, 13))  # fret the hand sits at
    step = p.beat / float(p.rng.choice([2.0, 3.0, 4.0]))
    staccato = float(p.rng.uniform(0.3, 1.0))
    i = int(p.rng.integers(0, max(len(pitches) // 2, 1)))
    t = 0.0
    while t < p.duration_s:
        if p.rng.random() > 0.15:
            midi = pitches[i]
            options = _strings_for(midi)
            near = [s for s in options if position - 1 <= midi - OPEN_STRINGS[s] <= position + 4]
            string = int(p.rng.choice(near or options))
            p.add(t, midi, string, step * staccato * float(p.rng.uniform(0.8, 1.2)), accent=float(p.rng.uniform(0.7, 1.0)))
        i = int(np.clip(i + int(p.rng.choice([-2, -1, -1, 1, 1, 2, 0])), 0, len(pitches) - 1))
        t += step * float(p.rng.choice([1.0, 1.0, 1.0, 2.0]))


_PLAY = {"single": _play_single, "power": _play_power, "open_chord": _play_open_chord,
         "arpeggio": _play_arpeggio, "riff": _play_riff}


def compose_plain_phrase(rng: np.random.Generator, duration_s: float, kind: str | None = None) -> list[Note]:
    """The notes of one random phrase of ``kind`` (one of KINDS; None = random) lasting ``duration_s``.

    Plain plucked notes and chords, unlike ``ddspfx.sources.procedural.compose_articulated_phrase`` (no mutes,
    bends or slides): what the embedded synth and the SoundFont player can play.
    """
    if kind is None:
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
    if kind not in _PLAY:
        raise ValueError(f"unknown phrase kind {kind!r}; choose one of {', '.join(KINDS)}")
    player = _Player(rng, duration_s)
    _PLAY[kind](player)
    return player.notes


def render_phrase(
    rng: np.random.Generator, duration_s: float, sample_rate: int = SAMPLE_RATE, kind: str | None = None
) -> np.ndarray:
    """A random dry guitar phrase: float32 ``(round(duration_s * sample_rate),)``, peak in [0.5, 0.95].

    Draws the instrument (``random_tone``), the phrase (``compose_plain_phrase``) and the excitation
    noise from ``rng``, so the same generator state always gives the same audio.
    """
    num_samples = int(round(duration_s * sample_rate))
    tone = random_tone(rng)
    notes = compose_plain_phrase(rng, duration_s, kind)
    x = render_notes(notes, num_samples, sample_rate, tone, rng)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > 0.0:
        x *= np.float32(rng.uniform(0.5, 0.95) / peak)
    return x


class SynthSource:
    """``make_source("synth")``: endless random phrases from the embedded guitar."""

    name = "synth"

    def __init__(self, sample_rate: int = SAMPLE_RATE, max_shift_s: float = 0.25) -> None:
        self.sample_rate = int(sample_rate)
        self.max_shift_s = max_shift_s  # the first note starts after a random 0..max_shift_s of silence

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A phrase of a random kind, onset-shifted, normalised to ``TARGET_DBFS`` RMS (peak <= 0.99)."""
        return shifted_phrase(rng, duration_s, self.sample_rate, self.max_shift_s,
                              lambda r, seconds: render_phrase(r, seconds, self.sample_rate))
