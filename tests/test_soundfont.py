"""The SoundFont guitar source, checked on a SoundFont written here whose every answer is known."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from tiny_sf2 import write_sf2

from ddspfx.config import DataConfig
from ddspfx.errors import DdspfxError
from ddspfx.sources import TARGET_DBFS, MixSource, make_source, soundfont
from ddspfx.sources.synth import Note

SR = 44_100


def _library_or_skip() -> None:
    try:
        soundfont._library()
    except DdspfxError as e:
        pytest.skip(f"FluidSynth is not installed (apt install libfluidsynth3): {e}")


@pytest.fixture()
def sf2(tmp_path):
    _library_or_skip()
    return write_sf2(tmp_path / "tiny.sf2", presets=[(0, 24), (0, 27), (8, 25)])


def f0(x: np.ndarray) -> float:
    """The strongest frequency (Hz) of ``x``, to a fraction of a hertz."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(x.size), 1 << 18))
    return float(np.fft.rfftfreq(1 << 18, 1 / SR)[np.argmax(spec)])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize("midi, hz", [(69, 440.0), (81, 880.0), (57, 220.0), (69.5, 440.0 * 2 ** (0.5 / 12))])
def test_notes_play_at_their_pitch_and_tuning_bends(sf2, midi, hz):
    synth = soundfont.FluidSynth(sf2, SR)
    x = synth.render([Note(0.0, midi, 2, 0.9, 0.5)], SR, 0, 24)
    assert abs(f0(x[2000:20000]) - hz) < 0.5


def test_dry_no_reverb_or_chorus_after_the_release(sf2):
    # FluidSynth's own reverb would leave a tail for seconds; with it off the note ends with its 0.5-s release
    synth = soundfont.FluidSynth(sf2, SR)
    x = synth.render([Note(0.0, 69, 0, 0.9, 0.4)], 2 * SR, 0, 24)
    assert rms(x[2000:15000]) > 0.01
    assert rms(x[int(1.1 * SR):]) < 1e-6


def test_a_new_pluck_on_a_string_releases_its_previous_note(sf2):
    synth = soundfont.FluidSynth(sf2, SR)
    a, b = Note(0.0, 69, 0, 0.9, 3.0), Note(0.3, 81, 0, 0.9, 3.0)
    same = synth.render([a, b], 2 * SR, 0, 24)[int(1.2 * SR):]  # A was released at 0.3 s: only B sounds
    other = synth.render([a, Note(0.3, 81, 3, 0.9, 3.0)], 2 * SR, 0, 24)[int(1.2 * SR):]  # two strings: both sound
    spec_same, spec_other = (np.abs(np.fft.rfft(x * np.hanning(x.size))) for x in (same, other))
    bin_440 = int(round(440 * same.size / SR))
    assert spec_same[bin_440 - 2: bin_440 + 3].max() < 1e-3 * spec_other[bin_440 - 2: bin_440 + 3].max()


def test_source_clips_are_seeded_loudness_normalised_and_pickle(sf2):
    src = make_source(f"sf2:{sf2}#24,8/25")
    assert src.presets == [(0, 24), (8, 25)]
    x = src.sample(np.random.default_rng(3), 1.5)
    assert x.dtype == np.float32 and x.shape == (int(1.5 * SR),)
    assert 20 * np.log10(rms(x)) == pytest.approx(TARGET_DBFS, abs=0.5) or np.max(np.abs(x)) >= 0.98
    assert np.array_equal(x, src.sample(np.random.default_rng(3), 1.5))
    clone = pickle.loads(pickle.dumps(src))  # DataLoader workers get a copy without the synthesiser
    assert np.array_equal(x, clone.sample(np.random.default_rng(3), 1.5))


def test_default_presets_are_the_dry_guitars_the_bank_has(sf2):
    assert make_source(f"sf2:{sf2}").presets == [(0, 24), (0, 27), (8, 25)]


@pytest.mark.parametrize("presets, message", [("29", "overdrive"), ("8/27", "chorus"), ("x", "PROGRAM or BANK/PROGRAM"),
                                              ("26", "has no preset 0/26")])
def test_bad_presets_are_one_line_errors(sf2, presets, message):
    with pytest.raises(DdspfxError, match=message):
        make_source(f"sf2:{sf2}#{presets}")


def test_missing_banks_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(soundfont, "SF2_DIRS", (tmp_path,))
    with pytest.raises(DdspfxError, match="apt install timgm6mb-soundfont"):
        make_source("sf2:timgm6mb")
    with pytest.raises(DdspfxError, match="does not exist"):
        make_source(f"sf2:{tmp_path / 'nothing.sf2'}")
    (tmp_path / "notes.txt").write_text("not a soundfont")
    _library_or_skip()
    with pytest.raises(DdspfxError, match="cannot read"):
        make_source(f"sf2:{tmp_path / 'notes.txt'}")


def test_judges_banks_are_refused_for_training_even_through_a_symlink(sf2, tmp_path):
    judge = tmp_path / "FluidR3_GM.sf2"
    judge.write_bytes(sf2.read_bytes())
    alias = tmp_path / "default-GM.sf2"
    os.symlink(judge, alias)
    assert soundfont.is_reserved(judge) and soundfont.is_reserved(alias) and not soundfont.is_reserved(sf2)
    reserved = make_source(f"sf2:{alias}")  # evaluation may play it ...
    soundfont.check_training_source(make_source(f"sf2:{sf2}"))
    with pytest.raises(DdspfxError, match="reserved for held-out evaluation"):
        soundfont.check_training_source(MixSource([make_source("synth"), reserved], [1, 1]))
    from ddspfx.datamodule import make_dataset

    with pytest.raises(DdspfxError, match="reserved for held-out evaluation"):  # ... training may not
        make_dataset(DataConfig(source=f"mix:synth=1,sf2:{judge}=1", val_size=4), "val")
