"""``ddspfx.guitar_check``: what a listener would call "not a guitar" is flagged, guitars through pedals are not.

The references are a listener's obvious judgement: noise, drums, speech and a bass line below a guitar's
range are not a guitar; the embedded guitars, clean or through heavy pedals, are. Every clip here is made
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


def _bass_line(seed: int, seconds: float = 3.0) -> np.ndarray:
    """A bass guitar's DI line, E1-D2 (41-73 Hz, below a guitar's lowest note): plucked additive tones whose
    fundamental is the strongest partial (amplitudes 1/k^1.5, upper partials decaying faster)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    for i, midi in enumerate([28, 31, 33, 35, 28, 36, 33, 31]):
        start, length = int((0.05 + 0.375 * i) * SR), int(0.36 * SR)
        t = np.arange(min(length, n - start)) / SR
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(k**-1.5 * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t * (1.5 + 0.8 * k))
                   for k in range(1, 13))
        out[start:start + t.size] += tone * np.minimum(1.0, t / 0.003) * np.minimum(1.0, (t[-1] - t + 1e-9) / 0.01)
    return _level(out)


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


def test_a_bass_line_below_the_guitar_is_flagged():
    res = gc.check_guitar(_bass_line(104), SR)
    assert not res.likely_guitar
    assert "below a guitar's range" in res.reason


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


@pytest.mark.parametrize("effect", [_tremolo_gate, _fuzz_octave], ids=["tremolo + noise gate", "fuzz + octave down"])
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


# --- level, silence, shapes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: _guitar("synth", 241), lambda: _noise(242, 0.0), lambda: _bass_line(243)],
                         ids=["guitar", "noise", "bass"])
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
