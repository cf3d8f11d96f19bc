"""``ddspfx.guitar_check``: what a listener would call "not a guitar" is flagged, guitars through pedals are not.

The references are a listener's obvious judgement: noise, drums, speech, a bass line below a guitar's range,
a held choir and a string pad are not a guitar; the embedded guitars, clean or through heavy pedals (fuzz
included), are. The features behind the plucked unit are checked against signals built to have them. Every clip here is made
from seeds and signals the fitting script (``experiments/guitar_check.py``) never used.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pedalboard
import pytest
from scipy import signal

from ddspfx import guitar_check as gc
from ddspfx.audio import normalise_loudness, resample
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import AudioError
from ddspfx.render import render_chain
from ddspfx.sources import make_source

SR = 44_100
MODEL_JSON = Path(__file__).resolve().parents[1] / "experiments" / "results" / "guitar_check" / "model.json"


def _level(x: np.ndarray, dbfs: float = -20.0) -> np.ndarray:
    return normalise_loudness(np.asarray(x, np.float32), dbfs)[0]


def _noise(seed: int, alpha: float, seconds: float = 3.0) -> np.ndarray:
    """Noise with power falling as 1/f^alpha (0 white, 1 pink)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spec = np.fft.rfft(rng.standard_normal(n)) * np.maximum(np.fft.rfftfreq(n, 1 / SR), 20.0) ** (-alpha / 2)
    return _level(np.fft.irfft(spec, n))


def _drum_bursts(seed: int, seconds: float = 3.0) -> np.ndarray:
    """A drum-like burst train: decaying noise hits (snare/hat colours) and pitch-dropping thumps at 120 bpm."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    t = np.arange(int(0.4 * SR)) / SR
    thump = np.sin(2 * np.pi * np.cumsum(50.0 + 90.0 * np.exp(-t / 0.04)) / SR) * np.exp(-t / 0.15)
    bright = signal.butter(2, 3000.0, "highpass", fs=SR, output="sos")
    for i, start in enumerate(range(0, n, int(0.125 * SR))):  # eighth notes at 120 bpm
        hit = 0.5 * signal.sosfilt(bright, rng.standard_normal(t.size)) * np.exp(-t / 0.05)
        if i % 4 == 0:
            hit = hit + thump
        elif i % 4 == 2:
            hit = hit + rng.standard_normal(t.size) * np.exp(-t / 0.12)
        m = min(t.size, n - start)
        out[start:start + m] += hit[:m]
    return _level(out)


def _bass_line(seed: int, seconds: float = 3.0, notes: tuple[int, ...] = (28, 31, 33, 35, 28, 36, 33, 31)) -> np.ndarray:
    """A bass guitar's DI line, by default E1-C2 (41-65 Hz, below a guitar's lowest note): plucked additive tones
    whose fundamental is the strongest partial (amplitudes 1/k^1.5, upper partials decaying faster)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    for i, midi in enumerate(notes):
        start, length = int((0.05 + 0.375 * i) * SR), int(0.36 * SR)
        t = np.arange(min(length, n - start)) / SR
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(k**-1.5 * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * (1.5 + 0.8 * k))
                   for k in range(1, 13))
        out[start:start + t.size] += tone * np.minimum(1.0, t / 0.003) * np.minimum(1.0, (t[-1] - t + 1e-9) / 0.01)
    return _level(out)


def _held_notes(seconds: float, chords: list[list[int]], voice) -> np.ndarray:
    """Chords held back to back (each ``seconds / len(chords)``), each note ``voice(f0, t)`` over its span."""
    n = int(seconds * SR)
    out = np.zeros(n)
    span = n // len(chords)
    t = np.arange(span) / SR
    for i, chord in enumerate(chords):
        for midi in chord:
            out[i * span:(i + 1) * span] += voice(440.0 * 2 ** ((midi - 69) / 12), t)
    return _level(out)


def _choir(seed: int) -> np.ndarray:
    """Three voices singing "ah" (formants 800, 1150, 2900 Hz) in held triads, 5.5-Hz vibrato of +-40 cents,
    150-ms onsets: what a choir pad sounds like."""
    rng = np.random.default_rng(seed)

    def voice(f0: float, t: np.ndarray) -> np.ndarray:
        cents = 40.0 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 2 * np.pi))
        phase = 2 * np.pi * np.cumsum(f0 * 2.0 ** (cents / 1200.0)) / SR
        y = sum(sum(1.0 / (1.0 + ((k * f0 - fc) / (60 + 0.06 * fc)) ** 2) for fc in (800, 1150, 2900)) / k
                * np.sin(k * phase) for k in range(1, int(4000 / f0)))
        return y * np.minimum(1.0, t / 0.15) * np.minimum(1.0, (t[-1] - t) / 0.05)
    return _held_notes(3.0, [[57, 61, 64], [55, 59, 62], [53, 57, 60]], voice)


def _string_pad(seed: int) -> np.ndarray:
    """A string pad: four detuned sawtooths per note through a 3-kHz low-pass, 300-ms swells, held triads."""
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, 3000.0, fs=SR, output="sos")

    def voice(f0: float, t: np.ndarray) -> np.ndarray:
        y = sum(2.0 * ((f0 * 2 ** (rng.uniform(-12, 12) / 1200) * t + rng.uniform()) % 1.0) - 1.0 for _ in range(4))
        return signal.sosfilt(sos, y) * np.minimum(1.0, t / 0.3) * np.minimum(1.0, (t[-1] - t) / 0.1)
    return _held_notes(3.0, [[52, 56, 59], [57, 60, 64]], voice)


def _speech(text: str, voice: str) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768.0
    return _level(resample(x, rate, SR))


def _guitar(source: str, seed: int, seconds: float = 3.0) -> np.ndarray:
    return make_source(source).sample(np.random.default_rng(seed), seconds)


def _chain(x: np.ndarray, *pedals: Pedal) -> np.ndarray:
    return render_chain(x, Chain(list(pedals)), SR)[0]


CHAINS: dict[str, tuple[Pedal, ...]] = {
    "distortion 30 dB": (Pedal("distortion", {"drive_db": 30.0}),),
    "wet reverb": (Pedal("reverb", {"room_size": 0.9, "damping": 0.3, "wet_level": 0.6, "dry_level": 0.4}),),
    "compressor, distortion, delay": (
        Pedal("compressor", {"threshold_db": -30.0, "ratio": 8.0, "attack_ms": 2.0, "release_ms": 100.0}),
        Pedal("distortion", {"drive_db": 20.0}),
        Pedal("delay", {"delay_seconds": 0.3, "feedback": 0.5, "mix": 0.4})),
    "eq, chorus, phaser": (
        Pedal("eq", {"cutoff_frequency_hz": 800.0, "gain_db": 10.0, "q": 1.0}),
        Pedal("chorus", {"rate_hz": 1.0, "depth": 0.5, "centre_delay_ms": 8.0, "feedback": 0.2, "mix": 0.5}),
        Pedal("phaser", {"rate_hz": 0.8, "depth": 0.8, "centre_frequency_hz": 800.0, "feedback": 0.5, "mix": 0.5})),
}


def _tremolo_gate(x: np.ndarray) -> np.ndarray:
    """A 6-Hz tremolo at full depth, then pedalboard's noise gate."""
    t = np.arange(x.size) / SR
    y = (x * (0.5 + 0.5 * np.sin(2 * np.pi * 6.0 * t))).astype(np.float32)
    gate = pedalboard.NoiseGate(threshold_db=-40.0, ratio=10.0, attack_ms=1.0, release_ms=100.0)
    return np.asarray(gate(y[None, :], SR, reset=True))[0]


def _fuzz_octave(x: np.ndarray) -> np.ndarray:
    """A 40-dB hard-clipping fuzz, then an octave-down pitch shifter mixed half and half."""
    y = np.clip(100.0 * x, -1.0, 1.0).astype(np.float32) * np.float32(0.3)
    down = np.asarray(pedalboard.PitchShift(semitones=-12.0)(y[None, :], SR, reset=True))[0, : y.size]
    return (0.5 * y + 0.5 * down).astype(np.float32)


# --- not a guitar ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: _noise(101, 0.0), lambda: _noise(102, 1.0), lambda: _drum_bursts(103)],
                         ids=["white noise", "pink noise", "drum bursts"])
def test_noise_and_drums_are_flagged_as_unpitched(make):
    res = gc.check_guitar(make(), SR)
    assert not res.likely_guitar and res.score < gc.THRESHOLD
    assert "noise or drums" in res.reason and "may be wrong" in res.reason


@pytest.mark.parametrize("notes", [(28, 31, 33, 35, 28, 36, 33, 31), (28, 33, 38, 43, 40, 35, 31, 28)],
                         ids=["E1-C2", "E1-G2"])
def test_a_bass_line_below_the_guitar_is_flagged(notes):
    res = gc.check_guitar(_bass_line(104, notes=notes), SR)
    assert not res.likely_guitar
    assert "below a guitar's range" in res.reason


@pytest.mark.xfail(strict=True, reason="known miss (results.md: choirs warned 0.17, pads and orchestral 0.15): the "
                   "plucked unit answers no (logit -0.6 and -3.0 here) but the score's exponent, set so that 1 % of the "
                   "fitted guitars are warned, needs a logit near -5 from one unit to warn")
@pytest.mark.parametrize("make", [lambda: _choir(105), lambda: _string_pad(106)], ids=["choir", "string pad"])
def test_held_voices_and_pads_are_flagged(make):
    res = gc.check_guitar(make(), SR)
    assert not res.likely_guitar, res
    assert "without a plucked decay" in res.reason


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt install espeak-ng)")
@pytest.mark.parametrize("text,voice", [
    ("Could you tell me where the nearest post office is, please?", "en-us+f3"),
    ("Yesterday evening we walked along the harbour and watched the boats.", "en+m4"),
    ("Das Wetter ist heute schön, wir gehen später in den Garten.", "de+m2"),
])
def test_speech_is_flagged(text, voice):
    res = gc.check_guitar(_speech(text, voice), SR)
    assert not res.likely_guitar, res


# --- guitars, clean and through pedals ----------------------------------------------------------------------


@pytest.mark.parametrize("source,seed", [("synth", 201), ("synth", 202), ("modal", 203), ("modal", 204)])
def test_clean_guitars_pass(source, seed):
    res = gc.check_guitar(_guitar(source, seed), SR)
    assert res.likely_guitar, res
    assert res.reason == gc.GUITAR_REASON


@pytest.mark.parametrize("name", list(CHAINS))
@pytest.mark.parametrize("source,seed", [("synth", 211), ("modal", 212)])
def test_guitars_through_pedals_pass(source, seed, name):
    res = gc.check_guitar(_chain(_guitar(source, seed), *CHAINS[name]), SR)
    assert res.likely_guitar, res


def _fuzz(x: np.ndarray) -> np.ndarray:
    """A 45-dB hard-clipping fuzz alone: every note held flat at the clip level until it dies."""
    return (np.clip(180.0 * x, -1.0, 1.0) * 0.3).astype(np.float32)


@pytest.mark.parametrize("effect", [_tremolo_gate, _fuzz_octave, _fuzz],
                         ids=["tremolo + noise gate", "fuzz + octave down", "fuzz"])
def test_guitars_through_newer_pedal_types_pass(effect):
    res = gc.check_guitar(effect(_guitar("synth", 221)), SR)
    assert res.likely_guitar, res


def test_soundfont_guitar_passes():
    try:
        x = _guitar("sf2:timgm6mb", 231)
    except Exception as e:  # noqa: BLE001 - the bank or libfluidsynth may be missing
        pytest.skip(f"TimGM6mb or FluidSynth is not installed (apt install timgm6mb-soundfont libfluidsynth3): {e}")
    assert gc.check_guitar(x, SR).likely_guitar
    assert gc.check_guitar(_chain(x, *CHAINS["distortion 30 dB"]), SR).likely_guitar


# --- the features behind the plucked unit, against what the signals are built to be -----------------------------


def _tone(t: np.ndarray, f0: float, decay_per_k: float, cents: np.ndarray | float = 0.0) -> np.ndarray:
    """Ten partials 1/k; partial k decays at ``decay_per_k * k`` per second (0: held); pitch offset in cents."""
    phase = 2 * np.pi * np.cumsum(f0 * 2.0 ** (np.broadcast_to(cents, t.shape) / 1200.0)) / SR
    return sum(np.sin(k * phase) / k * np.exp(-decay_per_k * k * t) for k in range(1, 11))


def test_a_plucked_tone_darkens_and_a_held_one_does_not():
    """Partial k decaying at 1.5 k per second, re-plucked every 0.5 s: the level falls (partial 1: 13 dB/s) and
    the highs fall faster than the lows; a held tone neither falls nor darkens."""
    t = np.arange(3 * SR) / SR
    beats = np.arange(3 * SR) % (SR // 2) / SR
    plucked = gc.features(_level(_tone(beats, 220.0, 1.5) * np.minimum(1.0, beats / 0.001)), SR)
    held = gc.features(_level(_tone(t, 220.0, 0.0)), SR)
    assert plucked is not None and held is not None
    assert plucked["decay"] < -8.0 and plucked["tilt_decay"] < -20.0 and plucked["darkening"] < -0.3  # dB/s, oct/s
    assert abs(held["decay"]) < 0.5 and abs(held["tilt_decay"]) < 0.5 and abs(held["darkening"]) < 0.05
    assert held["hold"] > 0.9 > 0.1 > plucked["hold"]


def test_vibrato_and_attack_features_follow_the_signal():
    t = np.arange(3 * SR) / SR
    steady = gc.features(_level(_tone(t, 330.0, 0.0)), SR)
    wobbly = gc.features(_level(_tone(t, 330.0, 0.0, 50.0 * np.sin(2 * np.pi * 5.5 * t))), SR)
    assert steady is not None and wobbly is not None
    assert steady["vibrato"] < 1.0 < 10.0 < wobbly["vibrato"]  # cents between frames
    beats = np.arange(3 * SR) % (SR // 2) / SR  # a note every 0.5 s
    struck = gc.features(_level(_tone(beats, 330.0, 4.0) * np.minimum(1.0, beats / 0.001)), SR)
    swelled = gc.features(_level(_tone(beats, 330.0, 0.0) * np.minimum(1.0, beats / 0.3)), SR)
    assert struck is not None and swelled is not None
    assert struck["sharp_attack"] > 0.5 > 0.3 > swelled["sharp_attack"]  # a linear swell still jumps from silence


# --- level, silence, shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: _guitar("synth", 241), lambda: _noise(242, 0.0), lambda: _bass_line(243),
                                  lambda: _choir(244)], ids=["guitar", "noise", "bass", "choir"])
def test_the_verdict_does_not_depend_on_the_level(make):
    x = make()
    quiet, loud = (x * np.float32(10 ** (db / 20) / np.max(np.abs(x))) for db in (-30.0, -6.0))
    a, b = gc.check_guitar(quiet, SR), gc.check_guitar(loud, SR)
    assert a.likely_guitar == b.likely_guitar and a.reason == b.reason
    assert abs(a.score - b.score) < 1e-3


def test_silence_gives_a_clear_answer():
    for x in (np.zeros(3 * SR, np.float32), np.full(3 * SR, 1e-7, np.float32), np.zeros(10, np.float32)):
        res = gc.check_guitar(x, SR)
        assert res == gc.GuitarCheck(False, 0.0, res.reason)
        assert "silent" in res.reason
        assert json.loads(json.dumps(res.to_json())) == {"likely_guitar": False, "score": 0.0, "reason": res.reason}


def test_scores_are_finite_probabilities_and_stereo_is_its_mean():
    x = _guitar("synth", 251)
    res = gc.check_guitar(x, SR)
    assert 0.0 <= res.score <= 1.0 and np.isfinite(res.score)
    stereo = np.stack([x, 0.5 * x])
    assert gc.check_guitar(stereo, SR).score == pytest.approx(gc.check_guitar(0.75 * x, SR).score, abs=1e-6)


def test_other_sample_rates_give_the_same_verdict():
    x = _guitar("synth", 261)
    for rate in (22_050, 48_000, 96_000):
        assert gc.check_guitar(resample(x, SR, rate), rate).likely_guitar
    assert not gc.check_guitar(resample(_noise(262, 0.0), SR, 48_000), 48_000).likely_guitar


@pytest.mark.parametrize("audio,rate", [(np.full(SR, np.nan, np.float32), SR), (np.zeros((2, 2, SR), np.float32), SR),
                                        (np.zeros(SR, np.float32), 8000), (np.zeros(SR, np.float32), 44_100.0)])
def test_bad_input_is_one_audio_error(audio, rate):
    with pytest.raises(AudioError):
        gc.check_guitar(audio, rate)


def test_long_clips_analyse_a_bounded_number_of_frames():
    clip = _guitar("synth", 271)
    frames, follows, rate = gc._frames(np.tile(clip, 20), SR)  # 60 s
    assert frames.shape == (gc.MAX_FRAMES, 2048) and rate == SR // 2
    assert int(np.sum(~follows)) == gc.MAX_FRAMES // gc.BLOCK_FRAMES  # each block starts afresh
    short, short_follows, _ = gc._frames(clip, SR)  # 3 s: every frame, one after another
    assert short.shape[0] == 1 + (clip.size // 2 - 1 - 2048) // 1024 and short_follows[1:].all()
    assert gc.check_guitar(np.tile(clip, 20), SR).likely_guitar


def test_the_module_holds_the_fitted_numbers():
    """The units in the module are the ones experiments/guitar_check.py wrote (nobody edited one by hand)."""
    fitted = json.loads(MODEL_JSON.read_text())
    assert [u["name"] for u in fitted["units"]] == [u.name for u in gc.UNITS]
    for saved, unit in zip(fitted["units"], gc.UNITS):
        assert tuple(saved["features"]) == unit.features
        for key in ("mean", "scale", "weights"):
            assert tuple(saved[key]) == pytest.approx(getattr(unit, key), rel=1e-6)
        assert saved["bias"] == pytest.approx(unit.bias, rel=1e-6)
    assert fitted["exponent"] == pytest.approx(gc.EXPONENT, rel=1e-6)
    assert set(f for u in gc.UNITS for f in u.features) == set(gc.FEATURES)
