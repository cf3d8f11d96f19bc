"""The dry tone stage (ddspfx.sources.tone) and its biquads, against scipy's designs and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.recipe import Recipe
from ddspfx.sources import TARGET_DBFS
from ddspfx.sources.biquad import rbj_highpass, rbj_lowpass, rbj_lowshelf
from ddspfx.sources.tone import ToneStage, apply_tone, random_tone_stage, tone_sos

FS = 44100


def _gain_db(sos: np.ndarray, f: float) -> float:
    _, h = signal.sosfreqz(sos, worN=[f], fs=FS)
    return float(20 * np.log10(np.abs(h[0])))


@pytest.mark.parametrize("f", [80.0, 1000.0, 6000.0])
def test_butterworth_biquads_match_scipy(f):
    # RBJ with Q = 1/sqrt(2) is the bilinear, pre-warped 2nd-order Butterworth that scipy designs
    np.testing.assert_allclose(rbj_lowpass(f, 2 ** -0.5, FS), signal.butter(2, f, fs=FS, output="sos")[0], atol=1e-10)
    np.testing.assert_allclose(rbj_highpass(f, 2 ** -0.5, FS), signal.butter(2, f, "highpass", fs=FS, output="sos")[0],
                               atol=1e-10)


@pytest.mark.parametrize("gain", [-3.0, 6.0, 9.0])
def test_low_shelf_known_values(gain):
    sos = rbj_lowshelf(250.0, gain, FS)[None]
    assert _gain_db(sos, 5.0) == pytest.approx(gain, abs=0.05)  # shelf gain at DC
    assert _gain_db(sos, 250.0) == pytest.approx(gain / 2, abs=0.01)  # half the gain (in dB) at the midpoint
    assert _gain_db(sos, 15000.0) == pytest.approx(0.0, abs=0.05)


def test_cabinet_is_a_fourth_order_butterworth():
    stage = ToneStage(pickup_hz=20000.0, pickup_q=0.5, cabinet_hz=4000.0, low_cut_hz=20.0, shelf_hz=200.0, shelf_db=0.0)
    ours = tone_sos(stage, FS)[3:]
    ref = signal.butter(4, 4000.0, fs=FS, output="sos")
    for f in (500.0, 4000.0, 8000.0, 16000.0):
        assert _gain_db(ours, f) == pytest.approx(_gain_db(ref, f), abs=1e-6)
    # bilinear Butterworth: |H|^2 = 1 / (1 + (tan(pi f / fs) / tan(pi fc / fs))^8)
    ratio = np.tan(np.pi * 8000.0 / FS) / np.tan(np.pi * 4000.0 / FS)
    assert _gain_db(ours, 8000.0) == pytest.approx(-10 * np.log10(1 + ratio ** 8), abs=1e-6)


def test_random_tone_ranges_and_stability():
    rng = np.random.default_rng(0)
    stages = [random_tone_stage(rng) for _ in range(400)]
    assert 0.35 < np.mean([s.cabinet_hz > 0 for s in stages]) < 0.65
    for s in stages:
        assert 1500 <= s.pickup_hz <= 9000 and 0.5 <= s.pickup_q <= 1.4 and -3 <= s.shelf_db <= 9
        assert s.cabinet_hz == 0 or 2500 <= s.cabinet_hz <= 6000
        poles = np.concatenate([np.roots(row[3:]) for row in tone_sos(s, FS)])
        assert np.all(np.abs(poles) < 1.0)


def test_apply_tone_darkens_and_keeps_loudness():
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(FS)).astype(np.float32)
    stage = ToneStage(pickup_hz=2000.0, pickup_q=0.7, cabinet_hz=3000.0, low_cut_hz=80.0, shelf_hz=200.0, shelf_db=6.0)
    y = apply_tone(x, stage, FS)
    assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))
    assert 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2))) == pytest.approx(TARGET_DBFS, abs=0.01)
    f, px = signal.welch(x, FS, nperseg=2048)
    _, py = signal.welch(y, FS, nperseg=2048)
    hi, mid = f > 8000, (f > 300) & (f < 1000)
    # relative to the mids, the top octaves lose what the two low-passes take away (> 30 dB at 8-20 kHz)
    assert 10 * np.log10(py[hi].sum() / py[mid].sum()) < 10 * np.log10(px[hi].sum() / px[mid].sum()) - 30


def test_dataset_dry_tone_colours_dry_only():
    plain = EffectsDataset("synth", n=8, seed=3)
    toned = EffectsDataset("synth", n=8, seed=3, recipe=Recipe(dry_tone=1.0))
    for i in range(3):
        a, b = plain.example(i), toned.example(i)
        assert a.chain == b.chain  # the guitar's tone is no pedal: the labels stay
        assert not np.allclose(a.dry, b.dry)
        rms_db = 20 * np.log10(np.sqrt(np.mean(b.dry.astype(np.float64) ** 2)))
        peak = float(np.max(np.abs(b.dry)))  # the sources' rule: TARGET_DBFS RMS unless the peak would pass 0.99
        assert peak <= 0.99 + 1e-6 and rms_db <= TARGET_DBFS + 0.01
        assert rms_db == pytest.approx(TARGET_DBFS, abs=0.01) or peak == pytest.approx(0.99, abs=1e-4)
    # probability 0 leaves example i exactly as before
    np.testing.assert_array_equal(EffectsDataset("synth", n=8, seed=3, recipe=Recipe(dry_tone=0.0)).example(0).dry, plain.example(0).dry)


def test_dataset_dry_tone_must_be_a_probability():
    from ddspfx.errors import DdspfxError

    with pytest.raises(DdspfxError, match="dry_tone"):
        EffectsDataset("synth", n=1, recipe=Recipe(dry_tone=1.5))


def test_noise_floor_sits_in_its_range_below_the_clip():
    from ddspfx.sources.tone import NOISE_DB, add_noise_floor

    x = 0.1 * np.sin(2 * np.pi * 220 * np.arange(44_100) / 44_100).astype(np.float32)
    levels = []
    for seed in range(40):
        y = add_noise_floor(x, np.random.default_rng(seed), 44_100)
        assert y.dtype == np.float32 and y.shape == x.shape
        levels.append(20 * np.log10(np.std(y.astype(np.float64) - x) / np.sqrt(np.mean(x.astype(np.float64) ** 2))))
    assert NOISE_DB[0] - 0.1 <= min(levels) and max(levels) <= NOISE_DB[1] + 0.1
    assert max(levels) - min(levels) > 10  # drawn across the range, not one level


def test_noise_floor_hum_is_at_the_mains_frequency():
    from ddspfx.sources.tone import noise_floor

    found = set()
    for seed in range(30):
        n = noise_floor(44_100, 1.0, np.random.default_rng(seed), 44_100).astype(np.float64)
        spec = np.abs(np.fft.rfft(n))  # 1-Hz bins
        hum = max(spec[50], spec[60])
        if hum > 20 * np.median(spec[30:200]):  # clips with a hum share: the peak is exactly at 50 or 60 Hz
            found.add(50 if spec[50] > spec[60] else 60)
    assert found == {50, 60}


def test_dataset_noise_floor_keeps_labels_and_is_off_at_zero():
    plain = EffectsDataset("synth", n=4, seed=5)
    noisy = EffectsDataset("synth", n=4, seed=5, recipe=Recipe(noise_floor=1.0))
    for i in range(3):
        a, b = plain.example(i), noisy.example(i)
        assert a.chain == b.chain  # hum and hiss are no pedal
        diff_db = 20 * np.log10(np.std(b.dry.astype(np.float64) - a.dry) / np.std(a.dry.astype(np.float64)))
        assert -72.5 < diff_db < -41.5
    np.testing.assert_array_equal(EffectsDataset("synth", n=4, seed=5, recipe=Recipe(noise_floor=0.0)).example(1).wet, plain.example(1).wet)


def test_room_impulse_response_has_the_drawn_ratio_and_decay():
    """References: the direct-to-reverberant energy ratio by definition, the decay time by Schroeder integration."""
    from ddspfx.sources.tone import Room, diffuse_room_ir
    from experiments.room_check import drr_db, rt60_s

    for rt60, drr in ((0.1, 12.0), (0.25, 18.0), (0.4, 24.0)):
        ir = diffuse_room_ir(Room(rt60_s=rt60, drr_db=drr, predelay_ms=3.0, tail_hz=6000.0), 44100, np.random.default_rng(1))
        assert ir[0] == pytest.approx(1.0, abs=1e-3)
        assert drr_db(ir, float(ir[0])) == pytest.approx(drr, abs=0.05)
        assert rt60_s(ir) == pytest.approx(rt60, rel=0.15)


def test_little_rooms_decay_faster_than_any_labelled_reverb():
    """A recording's room must not be a quiet reverb pedal in disguise: every drawn room decays faster than the
    catalog's smallest, quietest reverb (so the label "no pedal" never contradicts a "reverb" label)."""
    from ddspfx.sources.tone import diffuse_room_ir, random_room
    from experiments.room_check import reverb_ir, rt60_s

    rng = np.random.default_rng(0)
    rooms = [rt60_s(diffuse_room_ir(random_room(rng), 44100, rng)) for _ in range(40)]
    reverbs = [rt60_s(reverb_ir(size, damping, 0.2, 1.0)) for size in (0.1, 0.25) for damping in (0.0, 1.0)]
    assert max(rooms) < min(reverbs)


def test_dataset_room_keeps_labels_length_and_loudness_and_is_off_at_zero():
    plain = EffectsDataset("synth", n=4, seed=5)
    roomed = EffectsDataset("synth", n=4, seed=5, recipe=Recipe(room=1.0))
    for i in range(3):
        a, b = plain.example(i), roomed.example(i)
        assert a.chain == b.chain and b.dry.shape == a.dry.shape  # a room is no pedal
        assert not np.allclose(a.dry, b.dry)
        rms_db = 20 * np.log10(np.sqrt(np.mean(b.dry.astype(np.float64) ** 2)))
        assert rms_db <= TARGET_DBFS + 0.01 and float(np.max(np.abs(b.dry))) <= 0.99 + 1e-6
    np.testing.assert_array_equal(EffectsDataset("synth", n=4, seed=5, recipe=Recipe(room=0.0)).example(1).wet, plain.example(1).wet)
    with pytest.raises(Exception, match="room"):
        EffectsDataset("synth", n=1, recipe=Recipe(room=2.0))
