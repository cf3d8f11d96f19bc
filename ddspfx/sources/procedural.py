"""A family of procedural guitars: a fresh *virtual guitar* per clip, so that "dry" is many guitars, not two.

Why: a model that trained on two embedded synthesisers (``synth``, ``modal``) and a few SoundFont banks hears
the strings, body and pickup of any other guitar as pedals (an eq at 0.8-1.7 kHz where body and pickup
resonances sit, a reverb, a mild distortion). Here every clip can come from another guitar drawn from a
seeded random stream that spans the instrument's timbre space:

- **string**: a digital waveguide (Karplus-Strong family; Jaffe & Smith 1983, Smith's *Physical Audio Signal
  Processing*): a delay line, a first-order allpass for the exact fractional period, a loss filter (a one-pole
  low-pass, or the symmetric 3-tap FIR of Valimaki et al. 1996; per-partial decay: high partials die faster),
  and a cascade of 0-4 first-order allpasses with a negative coefficient (Van Duyne & Smith 1994's dispersion
  filter: the phase delay falls with frequency, so the partials are stretched as a stiff string's are);
  sustain and its fall with pitch differ per guitar, damping per string;
- **pluck**: one period of an ideally plucked string's velocity wave, a box ``beta`` of the period long (pluck
  position ``beta``: harmonic k has amplitude ``|sin(pi k beta)| / k``, so the harmonics with ``k beta`` an integer
  vanish), roughened by noise (random fine structure per note), plus a pulse pair at the box's edges that keeps
  the harmonics above ``attack_hz`` from falling (a sharp attack), through a one- or two-pole low-pass whose corner
  follows pick hardness and velocity (pick vs finger), and a 1-4 ms click (the pick or nail);
- **pickup** (electric, DI): the string's velocity sensed at 1-4 coil positions ``p`` along the scale (neck,
  middle, bridge; a humbucker's two coils): ``y(t) - y(t - p N)``, whose magnitude at harmonic k is
  ``2 |sin(pi k p)|``; then the coil's resonance loaded by the cable, a resonant 2nd-order low-pass at 2-6 kHz
  with Q 0.7-4 (single coils high and peaky, humbuckers lower); a faint body;
- **body** (acoustic): the bridge force (no pickup comb) through an impulse response of a few low body modes
  (90-400 Hz: the air mode, the top plate) and a dense, quickly decaying high-frequency part, as a microphone
  hears it; or through a piezo's bright, quacky response (DI);
- **playing** (the phrase, drawn apart from the guitar): single notes, ringing chords, rhythmic strums with dead
  strokes, palm-muted chugs, arpeggios, riffs with slides, leads with bends and vibrato, at 60-200 bpm.

Guitars are named by a ``guitar_id`` (the seed of the guitar's own parameters), kept apart from the phrase's
random stream: the same guitar can play many phrases and the same phrase (same generator state) can be played
on many guitars. Training ids and held-out ids are disjoint ranges (:data:`TRAIN_IDS`, :data:`HELDOUT_IDS`).
Specs: ``procedural`` (a fresh training guitar per clip), ``procedural:N`` (the first N training guitars, so the
sets nest for a source-count curve), ``procedural:heldout`` and ``procedural:heldout:N`` (held-out guitars).

Six voices (one per string, a new pluck ends the string's previous note), one compiled loop per note: the cost
is the clip length times the strings sounding, whatever the number of partials: 78-95 clips of 3 s per CPU second
on one core (``experiments/results/procedural_preview/summary.md``). Bends, slides and vibrato move the loop's
integer delay, which clicks faintly (about 45 dB below the note).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numba
import numpy as np
from scipy.signal import fftconvolve, sosfilt

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.sources.base import shifted_phrase
from ddspfx.sources.biquad import rbj_highpass, rbj_lowpass, rbj_peak
from ddspfx.sources.synth import MAX_FRETS, OPEN_STRINGS, midi_to_hz

TRAIN_IDS = range(0, 900_000)
"""Guitar ids a training spec draws from (``procedural``, ``procedural:N``)."""
HELDOUT_IDS = range(900_000, 1_000_000)
"""Guitar ids kept for evaluation (``procedural:heldout``): no training spec ever produces one."""

KINDS: tuple[str, ...] = ("single", "chords", "strum", "palm_mute", "arpeggio", "riff", "lead")
"""Playing styles a phrase can have."""

BODIES: tuple[str, ...] = ("electric", "steel", "nylon")
OUTPUTS: tuple[str, ...] = ("magnetic", "piezo", "mic")
"""How a guitar reaches the recorder: magnetic pickups (electric, DI), an under-saddle piezo (acoustic, DI) or a
microphone in front of the body (acoustic)."""

_GUITAR_SALT = 0x67756974  # the guitar's parameter stream is rng([_GUITAR_SALT, guitar_id]): apart from any phrase seed
_BODY_SALT = 0x626F6479
_BUF = 4096  # circular buffer per voice (samples): periods down to ~11 Hz at 44.1 kHz
_MASK = _BUF - 1
OPEN, PALM, DEAD = 0, 1, 2  # how the string is damped while the note sounds


# ----------------------------------------------------------------------------- the guitar


@dataclass(frozen=True)
class VirtualGuitar:
    """One guitar and its player's hand, drawn from ``guitar_id`` by :func:`draw_guitar` (frequencies in Hz)."""

    guitar_id: int
    body: str  # one of BODIES
    output: str  # one of OUTPUTS
    sustain_s: float  # T60 of the open low-E fundamental
    sustain_slope: float  # T60 falls as f0^-slope
    loss: str  # "pole" (one-pole low-pass) or "fir" (symmetric 3-tap): two laws of per-partial decay
    damping: tuple[float, ...]  # per string (low E first), 0..1: how much faster the high partials die
    inharmonicity: tuple[float, ...]  # per open string: B of the stiff-string partials k f0 sqrt(1 + B k^2)
    dispersion_stages: int  # 1-4 allpasses in the loop that realise it; 0 = harmonic partials
    tuning_cents: tuple[float, ...]  # per string: no guitar is perfectly in tune
    pick: bool  # a plectrum (True) or fingers
    pick_hz: float  # corner of the excitation low-pass at full velocity
    exc_poles: int  # 1 (pick: 6 dB/oct) or 2 (flesh: 12 dB/oct)
    pluck_position: float  # where the string is plucked, fraction of the scale from the bridge
    noise_mix: float  # share of noise in the excitation
    attack_hz: float  # above it the excitation's harmonics stop falling as 1/k (a sharp pick edge, a bright attack)
    click_db: float  # pick/nail click, dB relative to the string's excitation
    palm_t60_s: float  # decay of a palm-muted note
    release_t60_s: float  # decay after note-off (a finger lifted, the string damped)
    pickups: tuple[tuple[float, float], ...]  # (coil position as a fraction of the scale from the bridge, weight)
    pickup_hz: float  # coil + cable resonance (magnetic) or the piezo's upper roll-off
    pickup_q: float
    peaks: tuple[tuple[float, float, float], ...]  # (Hz, dB, Q) peaking biquads: faint electric body, piezo quack
    body_modes: tuple[tuple[float, float, float], ...]  # acoustic IR modes: (Hz, peak ratio, decay s)
    body_dense: float  # level of the IR's dense high-frequency part (0: none)
    body_decay_s: float  # its decay time
    body_hz: float  # its low-pass corner
    low_cut_hz: float  # 2nd-order high-pass at the output (DC, rumble, the body's low limit)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def _check_id(guitar_id: int) -> int:
    gid = int(guitar_id)
    if gid < 0:
        raise DdspfxError(f"a guitar id is a non-negative integer, got {guitar_id}")
    return gid


@functools.lru_cache(maxsize=4096)
def draw_guitar(guitar_id: int) -> VirtualGuitar:
    """The virtual guitar named ``guitar_id``: the same id always gives the same guitar."""
    gid = _check_id(guitar_id)
    rng = np.random.default_rng([_GUITAR_SALT, gid])
    body = BODIES[int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
    electric = body == "electric"
    output = "magnetic" if electric else ("mic" if rng.random() < 0.6 else "piezo")
    nylon = body == "nylon"
    sustain = _log_uniform(rng, 2.5, 9.0) if electric else _log_uniform(rng, 1.2, 4.0 if nylon else 6.0)
    loss = "pole" if rng.random() < 0.5 else "fir"
    base_damp = rng.uniform(0.3, 0.9) if nylon else rng.uniform(0.0, 0.75)
    wound = rng.uniform(0.0, 0.2)  # wound strings (low three) are duller
    damping = tuple(float(np.clip(base_damp + (wound if s < 3 else 0.0) + rng.normal(0.0, 0.05), 0.0, 0.98))
                    for s in range(6))
    stages = 0 if rng.random() < 0.15 else int(rng.integers(1, 5))
    # B of the open strings: wound strings (the low three; four on an acoustic) are far less stiff than plain ones
    n_wound = 3 if electric else 4
    b_wound = _log_uniform(rng, 5e-6, 6e-5) if not nylon else _log_uniform(rng, 3e-6, 3e-5)
    b_plain = _log_uniform(rng, 4e-5, 4e-4) if not nylon else _log_uniform(rng, 1e-5, 1e-4)
    inharmonicity = tuple(float((b_wound if s < n_wound else b_plain) * rng.uniform(0.8, 1.25)) for s in range(6))
    pick = (not nylon) and rng.random() < (0.85 if electric else 0.65)
    pick_hz = _log_uniform(rng, 2500.0, 12000.0) if pick else _log_uniform(rng, 500.0, 2500.0)
    pickups: tuple[tuple[float, float], ...] = ()
    peaks: list[tuple[float, float, float]] = []
    body_modes: tuple[tuple[float, float, float], ...] = ()
    body_dense = body_decay = body_hz = 0.0
    if electric:
        humbucker = rng.random() < 0.45
        # selector: one pickup (neck, middle or bridge) or two together
        spots = [float(rng.uniform(0.2, 0.29)), float(rng.uniform(0.13, 0.19)), float(rng.uniform(0.055, 0.1))]
        chosen = [spots[int(rng.integers(0, 3))]] if rng.random() < 0.65 else [spots[0], spots[2]] if rng.random() < 0.5 \
            else [spots[1], spots[2]]
        coils: list[tuple[float, float]] = []
        for p in chosen:
            if humbucker:
                gap = float(rng.uniform(0.025, 0.035))  # the two coils about 18 mm apart on a 648 mm scale
                coils += [(p - gap / 2, 0.5), (p + gap / 2, 0.5)]
            else:
                coils.append((p, 1.0))
        pickups = tuple(coils)
        pickup_hz = _log_uniform(rng, 2000.0, 4500.0) if humbucker else _log_uniform(rng, 3000.0, 6000.0)
        pickup_q = _log_uniform(rng, 0.7, 2.5) if humbucker else _log_uniform(rng, 1.0, 4.0)
        peaks = [(_log_uniform(rng, 90.0, 600.0), float(rng.uniform(-2.0, 3.0)), _log_uniform(rng, 1.0, 4.0))
                 for _ in range(int(rng.integers(0, 3)))]
        low_cut = _log_uniform(rng, 20.0, 50.0)
    else:
        body_modes = tuple(sorted(
            [(_log_uniform(rng, 90.0, 125.0), float(rng.uniform(0.8, 3.0)), _log_uniform(rng, 0.02, 0.08))]  # air mode
            + [(_log_uniform(rng, 160.0, 260.0), float(rng.uniform(0.6, 2.5)), _log_uniform(rng, 0.015, 0.06))]  # top
            + [(_log_uniform(rng, 220.0, 400.0), float(rng.uniform(0.2, 1.5)), _log_uniform(rng, 0.01, 0.05))
               for _ in range(int(rng.integers(1, 4)))]))
        if output == "mic":
            body_dense, body_decay, body_hz = float(rng.uniform(0.3, 1.5)), _log_uniform(rng, 0.004, 0.02), \
                _log_uniform(rng, 2500.0, 9000.0)
            pickup_hz, pickup_q = _log_uniform(rng, 6000.0, 14000.0), 0.707
        else:  # piezo: bright, a mid "quack", little body
            body_modes = tuple((f, 0.3 * g, d) for f, g, d in body_modes)
            peaks = [(_log_uniform(rng, 1000.0, 3500.0), float(rng.uniform(2.0, 7.0)), _log_uniform(rng, 0.8, 2.5))]
            pickup_hz, pickup_q = _log_uniform(rng, 7000.0, 14000.0), _log_uniform(rng, 0.7, 1.5)
        low_cut = _log_uniform(rng, 50.0, 90.0)
    return VirtualGuitar(
        guitar_id=gid, body=body, output=output, sustain_s=sustain, sustain_slope=float(rng.uniform(0.3, 0.9)),
        loss=loss, damping=damping, inharmonicity=inharmonicity, dispersion_stages=stages,
        tuning_cents=tuple(float(c) for c in rng.normal(float(rng.normal(0.0, 4.0)), 3.0, 6)),
        pick=pick, pick_hz=pick_hz, exc_poles=1 if pick else 2,
        pluck_position=float(rng.uniform(0.06, 0.3)) if pick else float(rng.uniform(0.1, 0.35)),
        noise_mix=float(rng.uniform(0.0, 0.6)), attack_hz=_log_uniform(rng, 300.0, 20000.0),
        click_db=float(rng.uniform(-40.0, -20.0) if electric else rng.uniform(-36.0, -16.0)),
        palm_t60_s=_log_uniform(rng, 0.08, 0.35), release_t60_s=_log_uniform(rng, 0.04, 0.15),
        pickups=pickups, pickup_hz=pickup_hz, pickup_q=pickup_q, peaks=tuple(peaks), body_modes=body_modes,
        body_dense=body_dense, body_decay_s=body_decay, body_hz=body_hz, low_cut_hz=low_cut)


DESCRIPTORS: tuple[str, ...] = ("electric", "miked", "sustain", "damping", "pick_brightness", "pluck_position",
                                "pickup_resonance", "pickup_position", "low_cut", "attack")
"""What :func:`guitar_descriptors` returns, in order: a guitar's drawn physical make-up that the ear hears."""


def guitar_descriptors(guitar: VirtualGuitar) -> np.ndarray:
    """A few of ``guitar``'s drawn parameters, each mapped to [0, 1] over the range :func:`draw_guitar` draws it
    from (log scale for times and frequencies): float32 ``(len(DESCRIPTORS),)``.

    Why: targets for a guitar-identity adversary (``ddspfx.adversary``) on the fresh-guitar family, where an id is
    a hash that no listener could predict but the body, the sustain, the pick and the pickup are audible.
    """
    def unit(x: float, low: float, high: float, log: bool = False) -> float:
        a, b, v = (math.log(low), math.log(high), math.log(max(x, 1e-9))) if log else (low, high, x)
        return min(max((v - a) / (b - a), 0.0), 1.0)

    coil = sum(p * w for p, w in guitar.pickups) / max(sum(w for _, w in guitar.pickups), 1e-9) if guitar.pickups else 0.0
    return np.array([
        float(guitar.body == "electric"), float(guitar.output == "mic"),
        unit(guitar.sustain_s, 1.2, 9.0, log=True), float(np.mean(guitar.damping)),
        unit(guitar.pick_hz, 500.0, 12000.0, log=True), unit(guitar.pluck_position, 0.06, 0.35),
        unit(guitar.pickup_hz, 2000.0, 14000.0, log=True), unit(coil, 0.0, 0.31),
        unit(guitar.low_cut_hz, 20.0, 90.0, log=True), unit(guitar.attack_hz, 300.0, 20000.0, log=True),
    ], dtype=np.float32)


# ----------------------------------------------------------------------------- the phrase


@dataclass(frozen=True)
class ArticulatedNote:
    """One plucked note, independent of the guitar that plays it. Times in seconds, pitches in semitones."""

    start_s: float
    midi: float
    string: int  # 0 = low E
    velocity: float  # (0, 1]
    duration_s: float  # until the string is damped (note-off)
    mute: int = OPEN  # OPEN, PALM (palm on the strings at the bridge) or DEAD (fret hand resting: a percussive chuck)
    pluck: float = 1.0  # multiplies the guitar's pluck position (the picking hand moves)
    glide_from: float = 0.0  # pitch offset at the start (a slide into the note), semitones
    glide_to: float = 0.0  # pitch offset after the glide (a bend up, a slide to the next fret)
    glide_at_s: float = 0.0  # when the glide starts, after the pluck
    glide_s: float = 0.0  # how long it takes; 0 = no glide
    vibrato_cents: float = 0.0
    vibrato_hz: float = 5.0


@dataclass
class _Player:
    rng: np.random.Generator
    duration_s: float
    bpm: float = 0.0
    loudness: float = 0.0
    notes: list[ArticulatedNote] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bpm = float(self.rng.uniform(60.0, 200.0))
        self.loudness = float(self.rng.uniform(0.5, 1.0))

    @property
    def beat(self) -> float:
        return 60.0 / self.bpm

    def add(self, t: float, midi: float, string: int, duration: float, accent: float = 1.0, **kw: float) -> None:
        vel = min(self.loudness * accent * float(self.rng.uniform(0.8, 1.1)), 1.0)
        when = max(t + float(self.rng.normal(0.0, 0.006)), 0.0)
        pluck = kw.pop("pluck", 1.0) * float(self.rng.uniform(0.85, 1.15))
        if when < self.duration_s:
            self.notes.append(ArticulatedNote(when, float(midi), int(string), max(vel, 0.05), max(duration, 0.02),
                                   pluck=pluck, **kw))  # type: ignore[arg-type]

    def strum(self, t: float, frets: Sequence[int], duration: float, down: bool = True, accent: float = 1.0,
              mute: int = OPEN, spread: float | None = None) -> None:
        gap = float(self.rng.uniform(0.004, 0.025)) if spread is None else spread
        order = [s for s in range(6) if frets[s] >= 0]
        if not down:
            order = order[::-1][: int(self.rng.integers(2, len(order) + 1))]  # up-strokes catch the top strings
        for j, s in enumerate(order):
            self.add(t + j * gap, OPEN_STRINGS[s] + frets[s], s, duration - j * gap, accent * (1.0 - 0.03 * j), mute=mute)


def _chord(rng: np.random.Generator) -> tuple[int, ...]:
    """Frets (low E .. high E, -1 = not played) of an open chord, a movable barre shape or a top-string triad."""
    shapes = {
        "E": (0, 2, 2, 1, 0, 0), "Em": (0, 2, 2, 0, 0, 0), "E7": (0, 2, 0, 1, 0, 0), "Em7": (0, 2, 0, 0, 0, 0),
        "A": (-1, 0, 2, 2, 2, 0), "Am": (-1, 0, 2, 2, 1, 0), "A7": (-1, 0, 2, 0, 2, 0), "Am7": (-1, 0, 2, 0, 1, 0),
        "Asus4": (-1, 0, 2, 2, 3, 0), "Dtri": (-1, -1, 0, 2, 3, 2), "Dmtri": (-1, -1, 0, 2, 3, 1),
        "G": (3, 2, 0, 0, 0, 3), "C": (-1, 3, 2, 0, 1, 0), "Cadd9": (-1, 3, 2, 0, 3, 0),
    }
    name = list(shapes)[int(rng.integers(0, len(shapes)))]
    frets = shapes[name]
    movable = name[0] in "EA" or name.endswith("tri")
    shift = int(rng.integers(0, 10)) if movable and rng.random() < 0.6 else 0
    return tuple(f + shift if f >= 0 else -1 for f in frets)


def _power(rng: np.random.Generator) -> tuple[int, ...]:
    root = int(rng.integers(0, 2))
    fret = int(rng.integers(0, 10))
    frets = [-1] * 6
    frets[root], frets[root + 1] = fret, fret + 2
    if rng.random() < 0.5:
        frets[root + 2] = fret + 2  # the octave
    return tuple(frets)


def _strings_for(midi: int) -> list[int]:
    return [s for s in range(6) if 0 <= midi - OPEN_STRINGS[s] <= MAX_FRETS[s]]


def _play_single(p: _Player) -> None:
    t = 0.0
    while t < p.duration_s:
        length = p.beat * float(p.rng.choice([1.0, 2.0, 3.0, 4.0]))
        midi = int(p.rng.integers(40, 85))
        s = int(p.rng.choice(_strings_for(midi)))
        vib = float(p.rng.uniform(5.0, 30.0)) if p.rng.random() < 0.5 else 0.0
        p.add(t, midi, s, length * float(p.rng.uniform(0.6, 1.0)), vibrato_cents=vib,
              vibrato_hz=float(p.rng.uniform(4.0, 7.0)))
        t += length


def _play_chords(p: _Player) -> None:
    t = 0.0
    while t < p.duration_s:
        length = p.beat * float(p.rng.choice([1.0, 2.0, 4.0]))
        p.strum(t, _chord(p.rng), length * float(p.rng.uniform(0.8, 1.5)), down=p.rng.random() < 0.85)
        t += length


def _play_strum(p: _Player) -> None:
    step = p.beat / float(p.rng.choice([2.0, 4.0]))
    t, i = 0.0, 0
    frets = _chord(p.rng)
    dead_p = float(p.rng.uniform(0.0, 0.3))
    while t < p.duration_s:
        if i % 8 == 0 and p.rng.random() < 0.5:
            frets = _chord(p.rng)
        if p.rng.random() < 0.85:
            down = i % 2 == 0
            mute = DEAD if p.rng.random() < dead_p else OPEN
            p.strum(t, frets, step * float(p.rng.uniform(1.0, 2.5)), down=down, mute=mute,
                    accent=(1.0 if i % 4 == 0 else 0.8) * (1.0 if down else 0.75), spread=float(p.rng.uniform(0.003, 0.012)))
        t += step
        i += 1


def _play_palm_mute(p: _Player) -> None:
    step = p.beat / float(p.rng.choice([2.0, 4.0]))
    t, i = 0.0, 0
    frets = _power(p.rng)
    single = p.rng.random() < 0.4
    while t < p.duration_s:
        if i % 8 == 0:
            frets = _power(p.rng)
        accent = p.rng.random() < 0.15
        if single and not accent:
            s = int(np.flatnonzero(np.asarray(frets) >= 0)[0])
            p.add(t, OPEN_STRINGS[s] + frets[s], s, step * 0.9, mute=PALM, pluck=0.5)
        else:
            p.strum(t, frets, step * (3.0 if accent else 0.9), mute=OPEN if accent else PALM, spread=0.004)
        t += step
        i += 1


def _play_arpeggio(p: _Player) -> None:
    step = p.beat / float(p.rng.choice([2.0, 3.0, 4.0]))
    t = 0.0
    while t < p.duration_s:
        frets = _chord(p.rng)
        played = [s for s in range(6) if frets[s] >= 0]
        pattern = played + played[-2:0:-1] if p.rng.random() < 0.5 else list(p.rng.permutation(played))
        for s in pattern:
            if t >= p.duration_s:
                break
            p.add(t, OPEN_STRINGS[s] + frets[s], s, step * float(p.rng.uniform(2.0, 8.0)),
                  accent=float(p.rng.uniform(0.75, 1.0)))
            t += step


_SCALES = ((0, 3, 5, 7, 10), (0, 2, 4, 7, 9), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 6, 7, 10))


def _line(p: _Player, low: int, high: int, bends: bool) -> None:
    scale = _SCALES[int(p.rng.integers(0, len(_SCALES)))]
    root = int(p.rng.integers(low, low + 12))
    pitches = [root + 12 * o + d for o in range(4) for d in scale if root + 12 * o + d <= high]
    step = p.beat / float(p.rng.choice([1.0, 2.0, 3.0, 4.0] if bends else [2.0, 3.0, 4.0]))
    staccato = float(p.rng.uniform(0.3, 1.0))
    i = int(p.rng.integers(0, max(len(pitches) // 2, 1)))
    position = int(p.rng.integers(0, 13))
    t = 0.0
    while t < p.duration_s:
        n_steps = float(p.rng.choice([1.0, 1.0, 2.0, 3.0] if bends else [1.0, 1.0, 1.0, 2.0]))
        midi = pitches[i]
        options = _strings_for(midi)
        near = [s for s in options if position - 1 <= midi - OPEN_STRINGS[s] <= position + 4]
        s = int(p.rng.choice(near or options))
        room = MAX_FRETS[s] - (midi - OPEN_STRINGS[s])  # frets above the note on this string
        length = step * n_steps
        kw: dict[str, float] = {}
        r = p.rng.random()
        if bends and r < 0.35 and length > 0.15:  # bend up a tone or a semitone, maybe with vibrato after
            kw = dict(glide_to=float(p.rng.choice([1.0, 2.0, 2.0])), glide_at_s=float(p.rng.uniform(0.0, 0.3)) * length,
                      glide_s=float(p.rng.uniform(0.06, 0.25)))
        elif r < 0.2 and midi - OPEN_STRINGS[s] >= 3:  # slide into the note from below
            kw = dict(glide_from=-float(p.rng.integers(1, 4)), glide_s=float(p.rng.uniform(0.03, 0.12)))
        elif r < 0.3 and room >= 5 and length > 0.2:  # slide up to another note without re-plucking
            kw = dict(glide_to=float(p.rng.integers(2, 6)), glide_at_s=float(p.rng.uniform(0.3, 0.6)) * length,
                      glide_s=float(p.rng.uniform(0.05, 0.15)))
        if length > 0.3 and p.rng.random() < (0.6 if bends else 0.2):
            kw.update(vibrato_cents=float(p.rng.uniform(8.0, 40.0)), vibrato_hz=float(p.rng.uniform(4.0, 7.0)))
        if p.rng.random() > 0.1:
            p.add(t, midi, s, length * (1.0 if kw else staccato * float(p.rng.uniform(0.8, 1.2))),
                  accent=float(p.rng.uniform(0.7, 1.0)), mute=PALM if (not bends and p.rng.random() < 0.1) else OPEN,
                  **kw)
        i = int(np.clip(i + int(p.rng.choice([-2, -1, -1, 1, 1, 2, 0])), 0, len(pitches) - 1))
        t += length


def _play_riff(p: _Player) -> None:
    _line(p, 40, 76, bends=False)


def _play_lead(p: _Player) -> None:
    _line(p, 52, 86, bends=True)


_PLAY: dict[str, Callable[[_Player], None]] = {
    "single": _play_single, "chords": _play_chords, "strum": _play_strum, "palm_mute": _play_palm_mute,
    "arpeggio": _play_arpeggio, "riff": _play_riff, "lead": _play_lead}


def compose_articulated_phrase(rng: np.random.Generator, duration_s: float, kind: str | None = None) -> list[ArticulatedNote]:
    """The notes of one phrase of ``kind`` (one of KINDS; None = random): drawn from ``rng`` alone, no guitar.

    Articulated, unlike ``ddspfx.sources.synth.compose_plain_phrase``: palm and dead mutes, bends, slides and
    vibrato, in this module's :class:`ArticulatedNote`, for the virtual guitars' physical model.
    """
    if kind is None:
        kind = KINDS[int(rng.integers(0, len(KINDS)))]
    if kind not in _PLAY:
        raise DdspfxError(f"unknown phrase kind {kind!r}; choose one of {', '.join(KINDS)}")
    player = _Player(rng, duration_s)
    _PLAY[kind](player)
    return player.notes


# ----------------------------------------------------------------------------- the string loop

# columns of the per-note float table F and int table I handed to the compiled loop
(_F_D, _F_C, _F_B0, _F_B1, _F_B2, _F_A1, _F_OB0, _F_OB1, _F_OB2, _F_OA1, _F_DISP, _F_EXC_POLE, _F_NOISE, _F_AMP,
 _F_CLICK, _F_G_FROM, _F_G_TO, _F_G_AT, _F_G_LEN, _F_VIB, _F_VIB_W, _F_FILT, _F_PERIOD, _F_TILT) = range(24)
_NF = 24
(_I_START, _I_OFF, _I_END, _I_STAGES, _I_COMB, _I_NOISE_AT, _I_EXC_LEN, _I_CLICK_LEN) = range(8)
_NI = 8


@numba.njit(cache=True, nogil=True)
def _voices(out, tf, ti, pickup_pos, pickup_w, exc_poles, noise, fade_len):  # pragma: no cover - compiled
    """Run each note's waveguide from its start to its end sample, adding its pickup signal into ``out`` (T,)."""
    buf = np.zeros(_BUF, np.float64)
    dx = np.zeros(8, np.float64)
    dy = np.zeros(8, np.float64)
    n_pick = pickup_pos.shape[0]
    for i in range(tf.shape[0]):
        s, off, e = ti[i, _I_START], ti[i, _I_OFF], ti[i, _I_END]
        stages, comb, no, exc_len, click_len = (ti[i, _I_STAGES], ti[i, _I_COMB], ti[i, _I_NOISE_AT], ti[i, _I_EXC_LEN],
                                                ti[i, _I_CLICK_LEN])
        buf[:] = 0.0
        dx[:] = 0.0
        dy[:] = 0.0
        b0, b1, b2, a1 = tf[i, _F_B0], tf[i, _F_B1], tf[i, _F_B2], tf[i, _F_A1]
        ad = tf[i, _F_DISP]
        pa = tf[i, _F_EXC_POLE]
        nmix, amp = tf[i, _F_NOISE], tf[i, _F_AMP]
        period = tf[i, _F_PERIOD]
        d_total = tf[i, _F_D]
        n_int = int(math.floor(d_total - 0.5))
        c = tf[i, _F_C]
        g_from, g_to, g_at, g_len = tf[i, _F_G_FROM], tf[i, _F_G_TO], tf[i, _F_G_AT], tf[i, _F_G_LEN]
        vib, vib_w = tf[i, _F_VIB], tf[i, _F_VIB_W]
        moving = g_len > 0.0 or vib > 0.0
        filt = tf[i, _F_FILT]
        click = tf[i, _F_CLICK]
        tilt = tf[i, _F_TILT]
        mean = 0.0
        for k in range(min(comb, exc_len)):
            mean += 1.0 + nmix * noise[no + k]
        mean /= exc_len
        x1 = 0.0
        y1 = 0.0
        lx1 = 0.0
        lx2 = 0.0
        ly1 = 0.0
        e1 = 0.0
        e2 = 0.0
        w = 0
        fade_start = e - fade_len
        for t in range(s, e):
            n = t - s
            if t == off:
                b0, b1, b2, a1 = tf[i, _F_OB0], tf[i, _F_OB1], tf[i, _F_OB2], tf[i, _F_OA1]
            if moving:
                semis = g_from
                if g_len > 0.0:
                    r = (n - g_at) / g_len
                    r = 0.0 if r < 0.0 else (1.0 if r > 1.0 else r)
                    semis = g_from + (g_to - g_from) * r
                if vib > 0.0:
                    semis += vib * math.sin(vib_w * n)
                dt = period * math.exp(-semis * 0.057762265046662105) - filt  # ln(2) / 12
                n_int = int(math.floor(dt - 0.5))
                frac = dt - n_int
                c = (1.0 - frac) / (1.0 + frac)
            v = buf[(w - n_int) & _MASK]
            ap = c * v + x1 - c * y1  # fractional delay (first-order allpass)
            x1 = v
            y1 = ap
            lo = b0 * ap + b1 * lx1 + b2 * lx2 - a1 * ly1  # loss filter
            lx2 = lx1
            lx1 = ap
            ly1 = lo
            z = lo
            for m in range(stages):  # dispersion: (ad + z^-1) / (1 + ad z^-1)
                q = ad * z + dx[m] - ad * dy[m]
                dx[m] = z
                dy[m] = q
                z = q
            # excitation: one period of the plucked string's velocity wave (a box of beta * period samples, minus its
            # mean), roughened by noise, low-passed by the pick or the finger
            ex = 0.0
            if n < exc_len:
                ex = (1.0 if n < comb else 0.0) * (1.0 + nmix * noise[no + n]) - mean
            if n == 0:
                ex += tilt
            elif n == comb:
                ex -= tilt
            e1 = pa * e1 + (1.0 - pa) * ex
            if exc_poles == 2:
                e2 = pa * e2 + (1.0 - pa) * e1
                ex = e2
            else:
                ex = e1
            y = z + amp * ex
            buf[w] = y
            if n_pick > 0:  # velocity at each coil: y(t) - y(t - p * period), linear interpolation
                o = 0.0
                for j in range(n_pick):
                    dly = pickup_pos[j] * period
                    di = int(dly)
                    fr = dly - di
                    yd = (1.0 - fr) * buf[(w - di) & _MASK] + fr * buf[(w - di - 1) & _MASK]
                    o += pickup_w[j] * (y - yd)
            else:
                o = y
            if n < click_len:  # the pick or nail: a differentiated noise burst, fading out
                fall = 1.0 - n / click_len
                o += click * (noise[no + exc_len + n + 1] - noise[no + exc_len + n]) * fall * fall
            w = (w + 1) & _MASK
            if t >= fade_start:
                o *= (e - t) / fade_len
            out[t] += o


def _pole_mag(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (1.0 - a) / np.sqrt(1.0 - 2.0 * a * np.cos(w) + a * a)


def loss_filter(kind: str, f0: np.ndarray, t60: np.ndarray, damping: np.ndarray, sample_rate: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per-note loss filters ``(coeffs (K, 4) = b0, b1, b2, a1, phase delay at f0 in samples (K,))``.

    Loop gain per period at f0 is ``10^(-3 / (f0 t60))`` (60 dB in t60 s); ``damping`` (0..1) sets how much
    faster the higher partials decay. ``pole``: ``g (1-a) / (1 - a z^-1)`` with ``a = 0.05 + 0.8 damping``;
    ``fir``: ``g (h1 + h0 z^-1 + h1 z^-2)``, ``h0 + 2 h1 = 1``, ``h1 = 0.25 damping`` (delay exactly 1).
    The damping is reduced where it would need ``g >= 1`` (an unstable loop) to reach the decay at f0.
    """
    w = 2.0 * np.pi * f0 / sample_rate
    G = 10.0 ** (-3.0 / (f0 * t60))
    out = np.zeros((f0.size, 4))
    if kind == "pole":
        a = 0.05 + 0.8 * damping
        q = 1.0 - G * G  # |H_a(w)| >= G  <=>  q a^2 - 2 (1 - G^2 cos w) a + q >= 0: keep 90 % of its smaller root
        b = 1.0 - G * G * np.cos(w)
        a = np.minimum(a, 0.9 * (b - np.sqrt(np.maximum(b * b - q * q, 0.0))) / np.maximum(q, 1e-15))
        g = G / _pole_mag(a, w)
        out[:, 0], out[:, 3] = g * (1.0 - a), -a
        return out, np.arctan2(a * np.sin(w), 1.0 - a * np.cos(w)) / w
    h1 = np.minimum(0.25 * damping, 0.9 * (1.0 - G) / (2.0 * (1.0 - np.cos(w))))
    g = G / (1.0 - 2.0 * h1 * (1.0 - np.cos(w)))
    out[:, 0], out[:, 1], out[:, 2] = g * h1, g * (1.0 - 2.0 * h1), g * h1
    return out, np.ones_like(f0)


def allpass_delay(a: np.ndarray | float, w: np.ndarray) -> np.ndarray:
    """Phase delay (samples) of ``(a + z^-1) / (1 + a z^-1)`` at ``w`` rad/sample: ``(1-a)/(1+a)`` at DC."""
    z = np.exp(-1j * np.asarray(w))
    return np.asarray(-np.angle((a + z) / (1.0 + a * z)) / w)


_A_GRID = -np.linspace(0.0, 0.97, 98)  # candidate dispersion allpass coefficients


def dispersion_coefficients(b: np.ndarray, f0: np.ndarray, stages: np.ndarray, sample_rate: float) -> np.ndarray:
    """Per note, the coefficient ``a <= 0`` of ``stages`` first-order allpasses in the loop whose stretch of a
    reference partial ``k`` (the highest below 4 kHz, 2..12) best matches a stiff string's
    ``f_k / (k f_1) = sqrt((1 + B k^2) / (1 + B))`` (Fletcher 1964; Van Duyne & Smith 1994 realise it with
    allpasses). To first order, partial k of a loop of delay ``D(w)`` sits where ``w D(w) = 2 pi k``, so its stretch
    is ``D(w_1) / D(w_k) - 1``. Coefficients whose delay would take more than 40 % of the period are not used."""
    period = sample_rate / f0
    k = np.clip(np.floor(4000.0 / f0), 2, 12)
    target = np.sqrt((1.0 + b * k**2) / (1.0 + b)) - 1.0  # (K,)
    w0 = 2.0 * np.pi * f0 / sample_rate
    a = _A_GRID[None, :]
    p1 = allpass_delay(a, w0[:, None])  # (K, A)
    pk = allpass_delay(a, (k * w0)[:, None])
    m = stages[:, None]
    stretch = (period[:, None]) / (period[:, None] - m * (p1 - pk)) - 1.0
    err = np.abs(stretch - target[:, None])
    err[m * (1.0 - a) / (1.0 + a) > 0.4 * period[:, None] - 2.0] = np.inf
    best = np.argmin(err, axis=1)
    return np.where(np.isfinite(err[np.arange(f0.size), best]), _A_GRID[best], 0.0)


def render(guitar: VirtualGuitar, notes: Sequence[ArticulatedNote], num_samples: int, sample_rate: int = SAMPLE_RATE,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """``notes`` played on ``guitar``: float64 ``(num_samples,)``, not normalised.

    ``rng`` draws the excitation noise only (the phrase is already drawn), so the same notes and the same rng state
    give the same audio. A note longer than the clip is cut; one that starts after its end is left out.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    fs = float(sample_rate)
    out = np.zeros(num_samples)
    notes = sorted((n for n in notes if 0 <= int(round(n.start_s * fs)) < num_samples), key=lambda n: n.start_s)
    if notes:
        tf, ti = _note_tables(guitar, notes, num_samples, fs)
        noise = rng.uniform(-1.0, 1.0, int(ti[:, _I_EXC_LEN].sum() + ti[:, _I_CLICK_LEN].sum()) + 2 * len(notes))
        pos = np.array([p for p, _ in guitar.pickups], dtype=np.float64).reshape(-1)
        wts = np.array([w for _, w in guitar.pickups], dtype=np.float64).reshape(-1)
        _voices(out, tf, ti, pos, wts, int(guitar.exc_poles), noise, max(int(0.0015 * fs), 1))
    return _output_stage(guitar, out, fs)


def _note_tables(guitar: VirtualGuitar, notes: Sequence[ArticulatedNote], num_samples: int, fs: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The per-note coefficient tables (tf (K, _NF) float64, ti (K, _NI) int64) of :func:`_voices`."""
    k = len(notes)
    col = {name: np.array([getattr(n, name) for n in notes], dtype=np.float64)
           for name in ("start_s", "midi", "velocity", "duration_s", "pluck", "glide_from", "glide_to", "glide_at_s",
                        "glide_s", "vibrato_cents", "vibrato_hz")}
    strings = np.array([n.string for n in notes], dtype=np.int64)
    mute = np.array([n.mute for n in notes], dtype=np.int64)
    midi = col["midi"] + np.asarray(guitar.tuning_cents)[strings] / 100.0
    f0 = midi_to_hz(midi)
    period = fs / f0
    if np.any(period * 2.0 ** (np.maximum(-col["glide_from"], 0.0) / 12.0) >= _BUF - 64):
        raise ValueError(f"note too low for {fs:g} Hz: its period must stay under {_BUF - 64} samples")
    w0 = 2.0 * np.pi * f0 / fs
    vel = np.clip(col["velocity"], 0.05, 1.0)
    damp = np.asarray(guitar.damping)[strings]
    t60 = np.clip(guitar.sustain_s * (f0 / 82.407) ** -guitar.sustain_slope, 0.15, 15.0)
    palm = mute == PALM
    dead = mute == DEAD
    t60 = np.where(palm, guitar.palm_t60_s * (f0 / 82.407) ** -0.3, np.where(dead, 0.03, t60))
    damp = np.where(palm, np.maximum(damp, 0.8), np.where(dead, 0.95, damp))
    coef_on, delay_loss = loss_filter(guitar.loss, f0, t60, damp, fs)
    rel = np.full(k, guitar.release_t60_s)
    coef_off, _ = loss_filter(guitar.loss, f0, np.minimum(rel, t60), np.maximum(damp, 0.6), fs)
    fret = np.maximum(col["midi"] - np.asarray(OPEN_STRINGS)[strings], 0.0)
    b = np.asarray(guitar.inharmonicity)[strings] * 2.0 ** (fret / 6.0)  # B ~ 1 / length^2
    stages = np.full(k, guitar.dispersion_stages, dtype=np.int64)
    ad = dispersion_coefficients(b, f0, stages, fs) if guitar.dispersion_stages else np.zeros(k)
    filt = delay_loss + stages * allpass_delay(ad, w0)
    d_total = period - filt  # buffer + fractional allpass delay
    n_int = np.floor(d_total - 0.5)
    d = d_total - n_int
    c = np.sin(w0 * (1.0 - d) / 2.0) / np.sin(w0 * (1.0 + d) / 2.0)  # exact phase delay d at f0

    starts = np.round(col["start_s"] * fs).astype(np.int64)
    offs = starts + np.maximum((col["duration_s"] * fs).astype(np.int64), 1)
    ends = np.minimum(offs + (np.minimum(rel, t60) * fs * 80.0 / 60.0).astype(np.int64), num_samples)
    for s in range(6):  # a new pluck on a string ends its previous note
        idx = np.flatnonzero(strings == s)
        if idx.size > 1:
            ends[idx[:-1]] = np.minimum(ends[idx[:-1]], starts[idx[1:]])
    ends = np.maximum(ends, starts + 1)

    beta = np.clip(guitar.pluck_position * col["pluck"], 0.03, 0.5)
    corner = np.clip(guitar.pick_hz * (0.4 + 0.8 * vel), 200.0, 0.45 * fs)
    exc_pole = np.clip(np.exp(-2.0 * np.pi * corner / fs), 0.0, 0.995)
    exc_len = np.maximum(np.round(period).astype(np.int64), 2)
    click_len = np.round(np.asarray(0.001 + 0.003 * (1.0 - vel)) * fs).astype(np.int64) if guitar.pick else \
        np.round(np.full(k, 0.004) * fs).astype(np.int64)
    noise_at = np.concatenate([[0], np.cumsum(exc_len + click_len + 2)[:-1]]).astype(np.int64)

    tf = np.zeros((k, _NF))
    tf[:, _F_D], tf[:, _F_C] = d_total, c
    tf[:, _F_B0:_F_A1 + 1] = coef_on
    tf[:, _F_OB0:_F_OA1 + 1] = coef_off
    tf[:, _F_DISP] = ad
    tf[:, _F_EXC_POLE] = exc_pole
    tf[:, _F_NOISE] = guitar.noise_mix
    tf[:, _F_AMP] = vel ** 1.5
    tf[:, _F_CLICK] = vel ** 1.5 * 10.0 ** (guitar.click_db / 20.0) * 3.0  # burst RMS ~ click_db below the string's
    tf[:, _F_G_FROM], tf[:, _F_G_TO] = col["glide_from"], col["glide_to"]
    tf[:, _F_G_AT], tf[:, _F_G_LEN] = col["glide_at_s"] * fs, col["glide_s"] * fs
    tf[:, _F_VIB] = col["vibrato_cents"] / 100.0
    tf[:, _F_VIB_W] = 2.0 * np.pi * col["vibrato_hz"] / fs
    tf[:, _F_FILT], tf[:, _F_PERIOD] = filt, period
    tf[:, _F_TILT] = fs / (2.0 * np.pi * guitar.attack_hz)  # a pulse pair matching the box's harmonics at attack_hz
    ti = np.zeros((k, _NI), dtype=np.int64)
    ti[:, _I_START], ti[:, _I_OFF], ti[:, _I_END] = starts, offs, ends
    ti[:, _I_STAGES] = stages
    ti[:, _I_COMB] = np.maximum(np.round(beta * period).astype(np.int64), 1)
    ti[:, _I_NOISE_AT], ti[:, _I_EXC_LEN], ti[:, _I_CLICK_LEN] = noise_at, exc_len, click_len
    return tf, ti


@functools.lru_cache(maxsize=256)
def body_ir(guitar: VirtualGuitar, sample_rate: int) -> np.ndarray:
    """An acoustic guitar's body as a microphone hears it (float64, 150 ms): the bridge's direct radiation, the
    low modes (each ``peak`` times the direct path at its frequency) and a dense, fast-decaying upper part."""
    fs = float(sample_rate)
    t = np.arange(int(0.15 * fs)) / fs
    ir = np.zeros_like(t)
    ir[0] = 1.0
    for f, peak, decay in guitar.body_modes:
        ir += peak / (0.5 * decay * fs) * np.exp(-t / decay) * np.sin(2.0 * np.pi * f * t)
    if guitar.body_dense > 0.0:
        rng = np.random.default_rng([_BODY_SALT, guitar.guitar_id])
        dense = rng.standard_normal(t.size) * np.exp(-t / guitar.body_decay_s)
        dense = sosfilt(rbj_lowpass(guitar.body_hz, 0.707, fs)[None, :], dense)
        ir += guitar.body_dense * dense / math.sqrt(float(np.sum(dense**2)) + 1e-30)
    ir.setflags(write=False)
    return ir


def output_sos(guitar: VirtualGuitar, sample_rate: float) -> np.ndarray:
    """The output stage as second-order sections (S, 6): pickup or piezo roll-off, peaks, low cut."""
    rows = [rbj_lowpass(guitar.pickup_hz, guitar.pickup_q, sample_rate)]
    rows += [rbj_peak(f, g, q, sample_rate) for f, g, q in guitar.peaks]
    rows.append(rbj_highpass(guitar.low_cut_hz, 0.707, sample_rate))
    return np.stack(rows)


def _output_stage(guitar: VirtualGuitar, x: np.ndarray, fs: float) -> np.ndarray:
    y = sosfilt(output_sos(guitar, fs), x)
    if guitar.body_modes:
        y = fftconvolve(y, body_ir(guitar, int(fs)))[: x.size]
    return np.asarray(y)


def render_guitar_phrase(guitar: VirtualGuitar, rng: np.random.Generator, duration_s: float,
                  sample_rate: int = SAMPLE_RATE, kind: str | None = None) -> np.ndarray:
    """A random phrase (:func:`compose_articulated_phrase` from ``rng``) on ``guitar``: float32
    ``(round(duration_s * sample_rate),)``, not normalised. The phrase is drawn before anything that depends on the
    guitar, so one rng state gives the same notes on every guitar."""
    n = int(round(duration_s * sample_rate))
    notes = compose_articulated_phrase(rng, duration_s, kind)
    return render(guitar, notes, n, sample_rate, rng).astype(np.float32)


# ----------------------------------------------------------------------------- the source


class ProceduralSource:
    """``make_source("procedural[...]")``: each clip from a virtual guitar drawn from ``guitar_ids``.

    ``guitar_ids`` is a range (a fresh id drawn uniformly per clip) or a tuple of ids (one chosen per clip).
    :meth:`play` renders a given guitar, so a pipeline can play one phrase (one rng state) on two guitars.
    """

    def __init__(self, guitar_ids: range | tuple[int, ...] = TRAIN_IDS, sample_rate: int = SAMPLE_RATE,
                 max_shift_s: float = 0.25, name: str = "procedural", kind: str | None = None) -> None:
        if len(guitar_ids) == 0:
            raise DdspfxError("a procedural source needs at least one guitar id")
        for gid in (guitar_ids if isinstance(guitar_ids, tuple) else (guitar_ids[0], guitar_ids[-1])):
            _check_id(gid)
        if kind is not None and kind not in KINDS:
            raise DdspfxError(f"unknown phrase kind {kind!r}; choose one of {', '.join(KINDS)}")
        self.guitar_ids = guitar_ids
        self.sample_rate = int(sample_rate)
        self.max_shift_s = max_shift_s
        self.name = name
        self.kind = kind

    def draw_id(self, rng: np.random.Generator) -> int:
        """One guitar id of this source's set."""
        return int(self.guitar_ids[int(rng.integers(0, len(self.guitar_ids)))])

    def play(self, guitar_id: int, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A phrase from ``rng`` on guitar ``guitar_id``, onset-shifted and loudness-normalised like every source."""
        guitar = draw_guitar(guitar_id)
        return shifted_phrase(rng, duration_s, self.sample_rate, self.max_shift_s,
                              lambda r, seconds: render_guitar_phrase(guitar, r, seconds, self.sample_rate, self.kind))

    def sample_with_id(self, rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, int]:
        """(clip, the id of the guitar that played it)."""
        gid = self.draw_id(rng)
        return self.play(gid, rng, duration_s), gid

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A random phrase on a guitar drawn from the set: float32 ``(T,)`` at ``TARGET_DBFS`` RMS, peak <= 0.99."""
        return self.sample_with_id(rng, duration_s)[0]


def make_procedural_source(body: str, sample_rate: int = SAMPLE_RATE) -> ProceduralSource:
    """The part after ``procedural:`` -> source: ``""`` (fresh training guitars), ``"N"`` (the first N training
    guitars), ``"heldout"`` or ``"heldout:N"`` (held-out guitars)."""
    parts = [p.strip().lower() for p in body.split(":")] if body.strip() else []
    ids: range | tuple[int, ...] = TRAIN_IDS
    name = "procedural"
    if parts and parts[0] == "heldout":
        ids, name, parts = HELDOUT_IDS, "procedural:heldout", parts[1:]
    if len(parts) > 1 or (parts and not parts[0].isdigit()):
        raise DdspfxError(f"source 'procedural:{body}' not understood; write procedural, procedural:N, "
                          "procedural:heldout or procedural:heldout:N")
    if parts:
        count = int(parts[0])
        if not 1 <= count <= len(ids):
            raise DdspfxError(f"source 'procedural:{body}': the number of guitars must be 1..{len(ids)}")
        ids, name = ids[:count], f"{name}:{count}"
    return ProceduralSource(ids, sample_rate, name=name)


__all__ = ["VirtualGuitar", "ArticulatedNote", "ProceduralSource", "draw_guitar", "guitar_descriptors", "DESCRIPTORS", "compose_articulated_phrase", "render", "render_guitar_phrase",
           "make_procedural_source", "loss_filter", "allpass_delay", "dispersion_coefficients", "body_ir", "output_sos", "TRAIN_IDS",
           "HELDOUT_IDS", "KINDS", "BODIES", "OUTPUTS", "OPEN", "PALM", "DEAD"]
