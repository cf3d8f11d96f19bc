"""Dry guitar sources. The synthetic guitar is checked against closed forms (equal-tempered
pitch, the designed T60 law, the pluck-position comb notch); the folder and dataset loaders
run on tiny fake trees that copy the published EGFxSet and IDMT-SMT-Guitar layouts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import soundfile as sf

from ddspfx.audio import rms_dbfs
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.sources import TARGET_DBFS, Source, make_source
from ddspfx.sources.datasets import EGFxSetSource, IdmtSource
from ddspfx.sources.synth import (
    KINDS,
    MAX_FRETS,
    OPEN_STRINGS,
    GuitarTone,
    Note,
    compose_plain_phrase,
    midi_to_hz,
    render_notes,
    render_phrase,
    string_t60,
)

SR = 44_100


def _string_for(midi: int) -> int:
    return max(s for s in range(6) if 0 <= midi - OPEN_STRINGS[s] <= MAX_FRETS[s])


def _note(midi: int, seconds: float = 1.5, hold: float = 10.0, tone: GuitarTone | None = None, body: bool = True,
          pluck: float = 0.15) -> np.ndarray:
    notes = [Note(0.0, midi, _string_for(midi), 0.9, hold, pluck)]
    return render_notes(notes, int(seconds * SR), SR, tone or GuitarTone(), np.random.default_rng(midi), body=body)


def f0_estimate(x: np.ndarray, guess: float) -> float:
    """Strongest spectral peak within a semitone of ``guess`` (Hann, 2^21-point FFT, parabolic interpolation)."""
    seg = x[int(0.1 * SR) : int(1.1 * SR)].astype(np.float64)
    n = 1 << 21
    mag = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    band = np.flatnonzero((freqs > guess * 2 ** (-1 / 12)) & (freqs < guess * 2 ** (1 / 12)))
    i = int(band[np.argmax(mag[band])])
    a, b, c = np.log(mag[i - 1 : i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * SR / n


def t60_of_partial(x: np.ndarray, freq: float, t_from: float = 0.2) -> float:
    """Decay time of one partial: slope of its level (single-bin DFT on 8192-sample frames) over time."""
    win, hop = 8192, 2048
    k = np.arange(win)
    probe = np.hanning(win) * np.exp(-2j * np.pi * freq * k / SR)
    times, levels = [], []
    for s in range(0, x.size - win, hop):
        times.append((s + win / 2) / SR)
        levels.append(20 * np.log10(abs(np.dot(x[s : s + win], probe)) + 1e-30))
    times, levels = np.array(times), np.array(levels)
    keep = times > t_from
    slope = np.polyfit(times[keep], levels[keep], 1)[0]  # dB/s
    return -60.0 / slope


# ---------------------------------------------------------------- synthetic guitar


@pytest.mark.parametrize("midi", [40, 45, 52, 59, 64, 71, 76, 83, 88])
def test_synth_pitch_matches_midi(midi):
    x = _note(midi, tone=GuitarTone(damping=0.35))  # a strongly damped loop: its phase delay must be compensated
    cents = 1200 * np.log2(f0_estimate(x, float(midi_to_hz(midi))) / midi_to_hz(midi))
    assert abs(cents) < 1.0


def test_synth_decay_follows_design_and_falls_with_pitch():
    measured = {}
    for midi in (40, 64, 88):
        f0 = float(midi_to_hz(midi))
        measured[midi] = t60_of_partial(_note(midi, seconds=2.5), f0)
        assert measured[midi] == pytest.approx(float(string_t60(f0)), rel=0.05)
    assert measured[40] > 2 * measured[64] > 4 * measured[88] / 2


def test_high_partials_decay_faster_than_the_fundamental():
    midi = 45
    f0 = float(midi_to_hz(midi))
    x = _note(midi, seconds=2.0, tone=GuitarTone(damping=0.6), body=False)
    t60_8, t60_1 = t60_of_partial(x, 8 * f0), t60_of_partial(x, f0)
    # closed form: harmonic k loses |H_a(k w)| / |H_a(w)| more per period than the fundamental
    w, a = 2 * np.pi * f0 / SR, 0.6
    mag = lambda v: (1 - a) / np.sqrt(1 - 2 * a * np.cos(v) + a * a)  # noqa: E731
    extra_db_per_s = -20 * np.log10(mag(8 * w) / mag(w)) * f0
    expected = 60.0 / (60.0 / t60_1 + extra_db_per_s)
    assert t60_8 == pytest.approx(expected, rel=0.1)
    assert t60_8 < 0.5 * t60_1


def test_note_off_damps_the_string():
    tone = GuitarTone(mute_t60_s=0.08)
    x = _note(52, seconds=1.0, hold=0.3, tone=tone)
    before = rms_dbfs(x[int(0.2 * SR) : int(0.3 * SR)])
    after = rms_dbfs(x[int(0.5 * SR) : int(0.6 * SR)])  # 0.2-0.3 s after note-off: >= 150 dB/s below
    assert before - after > 60


def test_pluck_position_notches_its_harmonic():
    """Plucking at 1/5 of the length cancels the 5th harmonic (comb e[n] - e[n - N/5])."""
    midi = 52
    f0 = float(midi_to_hz(midi))
    x = _note(midi, seconds=1.2, tone=GuitarTone(damping=0.05), body=False, pluck=0.2).astype(np.float64)
    seg = x[int(0.05 * SR) : int(0.55 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 1 << 18))
    freqs = np.fft.rfftfreq(1 << 18, 1 / SR)

    def harmonic_db(h: int) -> float:
        band = (freqs > (h - 0.3) * f0) & (freqs < (h + 0.3) * f0)
        return 20 * np.log10(spec[band].max())

    assert harmonic_db(5) < min(harmonic_db(4), harmonic_db(6)) - 12
    # and it is not a sine: at least 8 of the first 12 harmonics within 40 dB of the strongest
    levels = np.array([harmonic_db(h) for h in range(1, 13)])
    assert (levels > levels.max() - 40).sum() >= 8


@pytest.mark.parametrize("kind", KINDS)
def test_phrases_are_finite_bounded_and_in_guitar_range(kind):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x = render_phrase(rng, 2.0, SR, kind=kind)
        assert x.dtype == np.float32 and x.shape == (2 * SR,)
        assert np.isfinite(x).all()
        assert 0.5 - 1e-6 <= np.abs(x).max() <= 0.95 + 1e-6
        notes = compose_plain_phrase(np.random.default_rng(100 + seed), 2.0, kind)
        assert notes, f"{kind} produced no notes"
        for n in notes:
            assert 39.5 <= n.midi <= 88.5  # in tune to within a few cents of E2..E6
            fret = n.midi - OPEN_STRINGS[n.string]
            assert abs(fret - round(fret)) < 0.3 and 0 <= round(fret) <= MAX_FRETS[n.string]  # playable on its string
            assert 0 < n.velocity <= 1 and n.duration_s > 0 and 0 <= n.start_s < 2.1


def test_phrases_cover_the_range_and_vary():
    pitches = [n.midi for seed in range(60) for n in compose_plain_phrase(np.random.default_rng(seed), 2.0)]
    assert min(pitches) <= 45 and max(pitches) >= 76
    a = render_phrase(np.random.default_rng(1), 1.0)
    b = render_phrase(np.random.default_rng(2), 1.0)
    assert not np.allclose(a, b)


def test_synth_is_deterministic_per_seed():
    a = render_phrase(np.random.default_rng(7), 2.0)
    b = render_phrase(np.random.default_rng(7), 2.0)
    np.testing.assert_array_equal(a, b)
    src = make_source("synth")
    np.testing.assert_array_equal(src.sample(np.random.default_rng(3), 1.0), src.sample(np.random.default_rng(3), 1.0))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown phrase kind 'polka'"):
        render_phrase(np.random.default_rng(0), 1.0, kind="polka")


def test_synth_source_level_and_length():
    src = make_source("synth", sample_rate=SR)
    assert isinstance(src, Source) and src.name == "synth"
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = src.sample(rng, 2.0)
        assert x.shape == (2 * SR,) and x.dtype == np.float32
        assert_dry_level(x)


def test_synth_source_shifts_the_first_onset():
    src = make_source("synth")
    rng = np.random.default_rng(5)
    firsts = [int(np.flatnonzero(np.abs(src.sample(rng, 1.0)) > 1e-4)[0]) for _ in range(12)]
    assert max(firsts) <= 0.25 * SR + 0.05 * SR  # shift plus the player's timing jitter
    assert len(set(firsts)) > 6


def test_synth_at_another_rate_keeps_pitch():
    x = render_notes([Note(0.0, 57, 1, 0.9, 5.0)], 48_000, 48_000, GuitarTone(), np.random.default_rng(0))
    seg = x[4800:].astype(np.float64)
    n = 1 << 21
    mag = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n))
    freqs = np.fft.rfftfreq(n, 1 / 48_000)
    band = np.flatnonzero((freqs > 200) & (freqs < 240))
    assert abs(freqs[band[np.argmax(mag[band])]] - 220.0) < 0.1


# ---------------------------------------------------------------- folder and datasets


def assert_dry_level(x: np.ndarray) -> None:
    """TARGET_DBFS RMS, unless the 0.99 peak limit stopped the gain first."""
    peak = float(np.abs(x).max())
    assert peak <= 0.99 + 1e-6
    assert abs(rms_dbfs(x) - TARGET_DBFS) < 0.01 or (abs(peak - 0.99) < 1e-4 and rms_dbfs(x) < TARGET_DBFS)


def _wav(path, seconds=0.6, sr=SR, channels=1, midi=52, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = render_notes([Note(0.05, midi, _string_for(midi), 0.9, 5.0)], int(seconds * sr), sr,
                     GuitarTone(), np.random.default_rng(seed))
    x = 0.5 * x / np.abs(x).max()
    sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, sr, subtype="PCM_16")
    return path


def test_folder_source_recursive_with_an_unreadable_file(tmp_path):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "takes" / "b.flac", sr=48_000, channels=2)
    _wav(tmp_path / "takes" / "deep" / "c.wav", sr=96_000)
    (tmp_path / "takes" / "broken.wav").write_text("not audio")
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning, match="skipped 1 of 4 audio files"):
        src = make_source(f"folder:{tmp_path}")
    assert src.skipped == 1
    assert sorted(p.name for p in src.files) == ["a.wav", "b.flac", "c.wav"]
    rng = np.random.default_rng(0)
    for _ in range(6):
        x = src.sample(rng, 1.0)  # files are 0.6 s: zero-padded at a random onset
        assert x.shape == (SR,) and np.isfinite(x).all()
        assert_dry_level(x)


def test_folder_source_with_only_unreadable_files(tmp_path):
    (tmp_path / "x.wav").write_text("not audio")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AudioError, match="has no usable audio .1 files it has cannot be read"):
            make_source(f"folder:{tmp_path}")


def test_folder_source_needs_a_folder(tmp_path):
    with pytest.raises(DdspfxError, match="is not a folder"):
        make_source(f"folder:{tmp_path / 'missing'}")


def _fake_egfxset(root):
    """The published layout: <Effect>/<pickup>/<string>-<fret>.wav, with Clean as the dry effect."""
    base = root / "EGFxSet"
    clean = [_wav(base / "Clean" / "Bridge" / "1-0.wav", midi=64), _wav(base / "Clean" / "Bridge" / "6-12.wav", midi=52),
             _wav(base / "Clean" / "Middle-Neck" / "3-5.wav", midi=60), _wav(base / "Clean" / "Neck" / "6-22.wav", midi=62)]
    _wav(base / "TapeEcho" / "Bridge" / "2-0.wav")  # effected: never dry
    _wav(base / "RAT" / "Neck" / "1-3.wav")
    (base / "Clean" / "Bridge" / "notes.csv").write_text("string,fret\n")
    return base, clean


def test_egfxset_selects_only_clean_notes(tmp_path):
    base, clean = _fake_egfxset(tmp_path)
    for root in (tmp_path, base, base / "Clean"):
        src = make_source(f"egfxset:{root}")
        assert isinstance(src, EGFxSetSource)
        assert sorted(src.files) == sorted(clean)
    only_neck = EGFxSetSource(base, pickups=("Neck",))
    assert [p.name for p in only_neck.files] == ["6-22.wav"]
    x = src.sample(np.random.default_rng(0), 1.0)
    assert x.shape == (SR,)
    assert_dry_level(x)


def test_egfxset_errors(tmp_path):
    with pytest.raises(DdspfxError, match="does not look like EGFxSet: no Clean/<pickup>/ folder found; download EGFxSet.zip"):
        make_source(f"egfxset:{tmp_path}")
    base, _ = _fake_egfxset(tmp_path)
    with pytest.raises(DdspfxError, match="unknown EGFxSet pickup"):
        EGFxSetSource(base, pickups=("Humbucker",))


def _fake_idmt(root):
    base = root / "IDMT-SMT-GUITAR_V2"
    dry = [
        _wav(base / "dataset1" / "Fender Strat Clean Neck SC" / "audio" / "G53-40100-1111-00001.wav"),
        _wav(base / "dataset1" / "Ibanez Power Strat Clean Bridge HU Chords" / "audio" / "1-E1-Major 00.wav"),
        _wav(base / "dataset2" / "audio" / "AR_Lick1_FVSDN.wav"),
        _wav(base / "dataset3" / "audio" / "nocturneNr2.wav"),
        _wav(base / "dataset4" / "Career SG" / "fast" / "rock" / "audio" / "rock_1_150BPM.wav"),
        _wav(base / "dataset4" / "Ibanez 2820" / "slow" / "classical" / "audio" / "classical_1_80BPM.wav"),
    ]
    acoustic = _wav(base / "dataset4" / "acoustic_mic" / "fast" / "country_folk" / "audio" / "country_2_150BPM.wav")
    for d in ("dataset1/Fender Strat Clean Neck SC", "dataset2", "dataset3"):
        (base / d / "annotation").mkdir(parents=True, exist_ok=True)
        (base / d / "annotation" / "x.xml").write_text("<instrumentRecording/>")
    (base / "dataset4" / "Career SG" / "fast" / "rock" / "annotation" / "onsets").mkdir(parents=True)
    _wav(base / "dataset2" / "audio_backup" / "old.wav")  # not an audio/ folder of the layout
    return base, dry, acoustic


def test_idmt_selects_electric_direct_input_recordings(tmp_path):
    base, dry, acoustic = _fake_idmt(tmp_path)
    for root in (tmp_path, base):
        src = make_source(f"idmt:{root}")
        assert isinstance(src, IdmtSource)
        assert sorted(src.files) == sorted(dry)
    assert acoustic in IdmtSource(base, include_acoustic=True).files
    assert sorted(IdmtSource(base, subsets=(2, 3)).files) == sorted(dry[2:4])
    x = src.sample(np.random.default_rng(0), 0.5)
    assert x.shape == (SR // 2,)
    assert_dry_level(x)


def test_idmt_errors(tmp_path):
    with pytest.raises(DdspfxError, match="does not look like IDMT-SMT-Guitar: no dataset1/dataset2/dataset3/dataset4"):
        make_source(f"idmt:{tmp_path}")
    with pytest.raises(DdspfxError, match="is not a folder"):
        make_source(f"idmt:{tmp_path / 'nope'}")
