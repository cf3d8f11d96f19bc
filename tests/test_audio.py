"""ddspfx.audio: bad input gives one-line AudioErrors; resampling, downmix, loudness, saving and crops
are checked against closed forms (sine frequencies, channel averages, RMS of a sine)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from ddspfx import audio
from ddspfx.audio import (
    check_audio,
    load_audio,
    normalise_loudness,
    onset_crop,
    random_crop,
    resample,
    rms_dbfs,
    save_audio,
    to_mono,
)
from ddspfx.errors import AudioError, DdspfxError, cli_entry
from ddspfx.sources import make_source

SR = 44_100


def sine(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(x: np.ndarray, sr: int) -> float:
    """FFT peak with parabolic interpolation on log magnitude (Hz)."""
    n = 1 << 20
    X = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    i = int(np.argmax(X))
    a, b, c = np.log(X[i - 1 : i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * sr / n


# ---------------------------------------------------------------- bad input table


def _missing(tmp_path):
    return tmp_path / "nope.wav"


def _text_as_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio, just text renamed to .wav\n" * 20)
    return p


def _empty_wav(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(p, np.zeros((0, 1), np.float32), SR)
    return p


def _nan_wav(tmp_path):
    p = tmp_path / "nan.wav"
    x = sine(440, SR, 1.0)
    x[1000:1010] = np.nan
    sf.write(p, x, SR, subtype="FLOAT")
    return p


def _folder(tmp_path):
    return tmp_path


LOAD_CASES = [
    (_missing, "nope.wav does not exist; check the path"),
    (_text_as_wav, "notes.wav is not an audio file ddspfx can read"),
    (_empty_wav, "empty.wav contains no audio samples"),
    (_nan_wav, "nan.wav contains 10 NaN or infinite samples out of 44100"),
    (_folder, "is a folder, not an audio file"),
]


@pytest.mark.parametrize("make, message", LOAD_CASES, ids=[c[0].__name__ for c in LOAD_CASES])
def test_load_audio_bad_input_is_one_line(tmp_path, make, message):
    with pytest.raises(AudioError) as err:
        load_audio(make(tmp_path))
    text = str(err.value)
    assert message in text
    assert "\n" not in text
    assert "; " in text  # says what is wrong; then what to do


CHECK_CASES = [
    (sine(440, SR, 0.1), "clip.wav is 0.10 s long; ddspfx needs at least 0.25 s of audio"),
    (np.zeros(0, np.float32), "clip.wav is 0.00 s long"),
    (np.zeros(SR, np.float32), "clip.wav is silent (digital silence, below the -60 dBFS threshold)"),
    (sine(440, SR, 1.0, amp=10 ** (-70 / 20)), "clip.wav is silent (peak -70 dBFS, below the -60 dBFS threshold)"),
    (np.array([0.1, np.inf] * SR, np.float32), "clip.wav contains 44100 NaN or infinite samples"),
]


@pytest.mark.parametrize("x, message", CHECK_CASES, ids=["short", "empty", "silent", "quiet", "inf"])
def test_check_audio_bad_input(x, message):
    with pytest.raises(AudioError) as err:
        check_audio(x, SR, name="clip.wav")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_check_audio_accepts_a_quiet_but_audible_clip():
    check_audio(sine(440, SR, 0.3, amp=10 ** (-50 / 20)), SR)
    check_audio(np.stack([sine(440, SR, 0.3)] * 2), SR)  # (C, T)


def test_folder_without_audio(tmp_path):
    (tmp_path / "readme.txt").write_text("no audio here")
    with pytest.raises(AudioError, match="has no usable audio .*it has no audio files"):
        make_source(f"folder:{tmp_path}")


def test_bad_source_specs():
    with pytest.raises(DdspfxError, match="unknown source .soundcloud.; use one of synth, modal, procedural, .*mix:synth=0.7,modal=0.3, folder:PATH"):
        make_source("soundcloud")
    with pytest.raises(DdspfxError, match="needs a path"):
        make_source("folder:")


def test_cli_prints_audio_errors_in_one_line(tmp_path, capsys):
    @cli_entry
    def main(argv=None):
        load_audio(tmp_path / "clip.wav")
        return 0

    assert main() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ddspfx: error: ") and "clip.wav does not exist" in err[0]


# ---------------------------------------------------------------- resampling and downmix


@pytest.mark.parametrize("sr_in", [8_000, 48_000, 96_000])
def test_load_resamples_a_1khz_sine(tmp_path, sr_in):
    x = sine(1000.0, sr_in, 1.0)
    p = tmp_path / f"sine_{sr_in}.wav"
    sf.write(p, x, sr_in, subtype="PCM_24")
    y = load_audio(p)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - round(x.size * SR / sr_in)) <= 1
    assert abs(peak_frequency(y[2000:-2000], SR) - 1000.0) < 0.05  # Hz
    core = y[2000:-2000]
    assert abs(np.sqrt(np.mean(core**2)) - 0.5 / np.sqrt(2)) < 0.005  # level preserved


def test_resample_stereo_keeps_channels_first():
    x = np.stack([sine(1000.0, 48_000, 0.5), sine(3000.0, 48_000, 0.5)])
    y = resample(x, 48_000, SR)
    assert y.shape == (2, round(x.shape[1] * SR / 48_000))
    assert abs(peak_frequency(y[0], SR) - 1000.0) < 0.1
    assert abs(peak_frequency(y[1], SR) - 3000.0) < 0.1
    assert resample(x, SR, SR) is not None and np.array_equal(resample(x[0], 48_000, 48_000), x[0])


def test_load_downmixes_8_channels(tmp_path):
    base = sine(220.0, SR, 0.5)
    gains = np.linspace(-1.0, 1.0, 8, dtype=np.float32) + 0.3
    x = base[None, :] * gains[:, None]  # (8, T)
    p = tmp_path / "octo.wav"
    sf.write(p, x.T, SR, subtype="FLOAT")
    mono = load_audio(p)
    np.testing.assert_allclose(mono, base * gains.mean(), atol=1e-6)
    multi = load_audio(p, mono=False)
    assert multi.shape == (8, base.size)
    np.testing.assert_allclose(multi, x, atol=1e-7)
    np.testing.assert_allclose(to_mono(x), x.mean(axis=0), atol=1e-7)


@pytest.mark.parametrize("fmt", ["flac", "ogg", "aiff"])
def test_other_formats_read(tmp_path, fmt):
    p = tmp_path / f"x.{fmt}"
    sf.write(p, sine(1000.0, 48_000, 0.5), 48_000)
    y = load_audio(p)
    assert abs(peak_frequency(y, SR) - 1000.0) < 0.2


# ---------------------------------------------------------------- loudness


def test_loudness_target_met_and_sine_reads_minus_3dbfs():
    assert abs(rms_dbfs(sine(997.0, SR, 1.0, amp=1.0)) - (-3.0103)) < 0.01
    rng = np.random.default_rng(0)
    x = (0.01 * rng.standard_normal(SR)).astype(np.float32)  # crest factor ~4: target reachable
    y, gain = normalise_loudness(x, target_dbfs=-20.0)
    assert abs(rms_dbfs(y) - (-20.0)) < 1e-3
    np.testing.assert_allclose(y, gain * x, rtol=1e-6)


def test_loudness_peak_limit_wins_for_spiky_audio():
    x = np.zeros(SR, np.float32)
    x[::4410] = 0.2  # 10 clicks: RMS -34 dB, crest factor 36 dB
    y, gain = normalise_loudness(x, target_dbfs=-12.0, peak_limit=0.99)
    assert abs(np.abs(y).max() - 0.99) < 1e-6
    assert rms_dbfs(y) < -12.0
    assert gain == pytest.approx(0.99 / 0.2)


def test_loudness_of_silence_is_left_alone():
    y, gain = normalise_loudness(np.zeros(100, np.float32))
    assert gain == 1.0 and not y.any()


# ---------------------------------------------------------------- saving


def test_save_round_trip_is_exact_float32(tmp_path):
    x = np.stack([sine(440, SR, 0.3), -sine(660, SR, 0.3)])
    p = tmp_path / "out" / "x.wav"
    save_audio(p, x, SR)
    data, sr = sf.read(p, dtype="float32", always_2d=True)
    assert sr == SR and sf.info(p).subtype == "FLOAT"
    np.testing.assert_array_equal(data.T, x)


def test_failing_writer_leaves_old_file_intact(tmp_path, monkeypatch):
    p = tmp_path / "x.wav"
    old = sine(440, SR, 0.3)
    save_audio(p, old, SR)

    def broken_write(file, data, samplerate, subtype=None):
        with open(file, "wb") as f:
            f.write(b"RIFF half a header")
        raise OSError("disk full")

    monkeypatch.setattr(audio.sf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_audio(p, sine(880, SR, 0.3), SR)
    monkeypatch.undo()
    np.testing.assert_array_equal(sf.read(p, dtype="float32")[0], old)
    assert [q.name for q in tmp_path.iterdir()] == ["x.wav"]


# ---------------------------------------------------------------- crops


def test_random_crop_lengths_and_content():
    rng = np.random.default_rng(0)
    x = np.arange(1000, dtype=np.float32)
    for n in (1, 10, 999, 1000):
        c = random_crop(rng, x, n)
        assert c.shape == (n,)
        np.testing.assert_array_equal(c, np.arange(c[0], c[0] + n))  # a contiguous window of x
    short = random_crop(rng, x[:100], 400)
    assert short.shape == (400,)
    offset = int(np.flatnonzero(short)[0]) - 1  # x[0] == 0, x[1] == 1 is the first non-zero
    assert np.array_equal(short[offset : offset + 100], x[:100]) and short.sum() == x[:100].sum()
    offsets = {int(np.flatnonzero(random_crop(rng, x[:100] + 1, 400))[0]) for _ in range(20)}
    assert len(offsets) > 5 and max(offsets) <= 300  # zero-padded at random onsets
    multi = random_crop(rng, np.stack([x, -x]), 50)
    assert multi.shape == (2, 50) and np.array_equal(multi[0], -multi[1])


def test_onset_crop_puts_the_attack_in_the_first_max_shift():
    x = np.zeros(3 * SR, np.float32)
    x[SR + 777 : SR + 777 + SR // 2] = sine(330.0, SR, 0.5)  # one note starting at 1.0176 s
    rng = np.random.default_rng(1)
    shifts = []
    for _ in range(20):
        c = onset_crop(rng, x, SR, SR, max_shift_s=0.25, onset_prob=1.0)
        assert c.shape == (SR,)
        shifts.append(int(np.flatnonzero(np.abs(c) > 1e-6)[0]))
    assert min(shifts) >= 0 and max(shifts) <= 0.25 * SR + SR // 1000 + 1  # attack within the shift (+1 ms lead)
    assert len(set(shifts)) > 5  # and at varied positions
