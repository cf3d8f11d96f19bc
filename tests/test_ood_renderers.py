"""The OOD script's alternative renderers (experiments/ood_check.py) against closed forms."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from scipy import signal

SR = 44_100


ood = importlib.import_module("experiments.ood_check")


@pytest.mark.parametrize("drive_db", [0.0, 12.0, 30.0])
def test_clipper_transfer_curve(drive_db: float) -> None:
    x = np.linspace(-1, 1, 201, dtype=np.float32)
    g = 10 ** (drive_db / 20)
    y = ood.arctan_clip(x, drive_db)
    np.testing.assert_allclose(y, 2 / math.pi * np.arctan(g * x), atol=1e-6)
    # closed-form landmarks: odd, bounded by 1, slope 2g/pi at zero, 0.5 at x = 1/g
    np.testing.assert_allclose(y, -y[::-1], atol=1e-7)
    assert np.all(np.abs(y) < 1)
    assert ood.arctan_clip(np.array([1 / g], np.float32), drive_db)[0] == pytest.approx(0.5, abs=1e-6)
    assert ood.arctan_clip(np.array([1e-5], np.float32), drive_db)[0] / 1e-5 == pytest.approx(2 * g / math.pi, rel=1e-3)


@pytest.mark.parametrize("delay_s, fb", [(0.05, 0.5), (0.317, 0.0), (0.6, 0.7)])
def test_tape_delay_first_echo_time_and_lowpassed_repeats(delay_s: float, fb: float) -> None:
    n = int(2.0 * SR)
    x = np.zeros(n, np.float32)
    x[100] = 1.0
    mix = 0.4
    y = ood.tape_delay(x, SR, delay_s, fb, mix)
    d = round(delay_s * SR)
    assert y[100] == pytest.approx(1 - mix)
    assert np.all(y[101:100 + d] == 0)
    assert y[100 + d] == pytest.approx(mix)  # the first echo is not filtered: exactly one delay later
    if fb > 0:  # the second echo went once through the one-pole LP: same total gain fb, spread in time
        second = y[100 + 2 * d: 100 + 3 * d]
        assert second.sum() == pytest.approx(mix * fb, rel=1e-3)
        assert second.max() < mix * fb * 0.5


@pytest.mark.parametrize("room", [0.1, 0.5, 1.0])
def test_noise_reverb_decay_rate(room: float) -> None:
    ir = ood.noise_ir(SR, room, damping=0.0, seed=3)
    rt60 = 0.3 + 2.7 * room
    assert ir.size == int(rt60 * SR)
    assert np.sum(ir**2) == pytest.approx(1.0)
    frame = 1024
    e = np.array([np.mean(ir[i:i + frame] ** 2) for i in range(0, ir.size - frame, frame)])
    t = (np.arange(e.size) * frame + frame / 2) / SR
    slope = np.polyfit(t, 10 * np.log10(e), 1)[0]  # dB/s of the energy envelope
    assert slope == pytest.approx(-60 / rt60, rel=0.1)


def test_noise_reverb_mix_law() -> None:
    x = np.zeros(2 * SR, np.float32)  # longer than the 1.11 s IR
    x[0] = 1.0
    y = ood.noise_reverb(x, SR, room_size=0.3, damping=0.5, wet_level=0.4, dry_level=0.7)
    ir = ood.noise_ir(SR, 0.3, 0.5)
    np.testing.assert_allclose(y[1:ir.size], 0.4 * ir[1:], atol=1e-6)
    assert y[0] == pytest.approx(0.7 + 0.4 * ir[0], abs=1e-6)


@pytest.mark.parametrize("fc, gain, q", [(1000.0, 9.0, 1.0), (300.0, -12.0, 2.5), (4000.0, 6.0, 0.7)])
def test_eq_gain_at_centre_and_half_gain_bandwidth(fc: float, gain: float, q: float) -> None:
    # a sine at fc, an FFT-bin-exact frequency so the measurement has no leakage
    n = 1 << 16
    k = round(fc * n / SR)
    f = k * SR / n
    x = np.sin(2 * np.pi * f * np.arange(n) / SR).astype(np.float32)
    y = ood.fft_bell_eq(x, SR, f, gain, q)
    assert 20 * np.log10(np.std(y) / np.std(x)) == pytest.approx(gain, abs=0.05)
    bw = 2 / math.log(2) * math.asinh(1 / (2 * q))  # RBJ octave bandwidth
    edge = ood.bell_gain_db(np.array([f * 2 ** (bw / 2), f * 2 ** (-bw / 2)]), f, gain, q)
    np.testing.assert_allclose(edge, gain / 2, rtol=1e-9)


def test_soft_knee_static_curve() -> None:
    # below the knee: no reduction; above it: (1/R - 1)(L - T); at the threshold: slope * knee / 8
    lv = np.array([-40.0, -20.0, 0.0])
    g = ood.soft_knee_gain_db(lv, threshold_db=-20.0, ratio=4.0, knee_db=6.0)
    np.testing.assert_allclose(g, [0.0, (0.25 - 1) * 6 / 8, (0.25 - 1) * 20.0])


def test_rms_compressor_steady_state_matches_static_curve() -> None:
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)  # RMS -9.03 dBFS
    y = ood.rms_compressor(x, SR, threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=100.0)
    level = 20 * math.log10(0.5 / math.sqrt(2))
    expect = (0.25 - 1) * (level + 30.0)
    got = 20 * np.log10(np.std(y[SR // 2:]) / np.std(x[SR // 2:]))
    assert got == pytest.approx(expect, abs=0.3)


def test_phaser_and_chorus_at_zero_mix_are_dry_and_wet_paths_are_allpass_or_delay() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SR // 2).astype(np.float32) * 0.1
    np.testing.assert_allclose(ood.allpass_phaser(x, SR, 1.0, 0.5, 800.0, 0.0, 0.0), x, atol=1e-7)
    np.testing.assert_allclose(ood.lfo_chorus(x, SR, 1.0, 0.5, 10.0, 0.0, 0.0), x, atol=1e-7)
    # a static allpass cascade (depth 0, no feedback) keeps the energy of white noise (|H| = 1)
    wet = ood.allpass_phaser(x, SR, 1.0, 0.0, 800.0, 0.0, 1.0)
    assert np.sum(wet**2) == pytest.approx(np.sum(x**2), rel=0.02)
    w = np.tan(np.pi * 800 / SR)
    a = (w - 1) / (w + 1)
    ref = x.astype(np.float64)
    for _ in range(4):
        ref = signal.lfilter([-a, 1.0], [1.0, -a], ref)
    np.testing.assert_allclose(wet, ref, atol=1e-5)
    # a chorus at depth 0 is a fixed fractional delay: 10 ms = 441 samples exactly
    imp = np.zeros(2000, np.float32)
    imp[0] = 1.0
    ch = ood.lfo_chorus(imp, SR, 1.0, 0.0, 10.0, 0.0, 1.0)
    assert int(np.argmax(np.abs(ch))) == 441 and ch[441] == pytest.approx(1.0, abs=1e-6)


def test_render_alt_applies_output_gain_and_keeps_length() -> None:
    from ddspfx.chain import Chain, Pedal

    rng = np.random.default_rng(1)
    x = (0.9 * rng.uniform(-1, 1, SR)).astype(np.float32)
    chain = Chain([Pedal("distortion", {"drive_db": 30.0}), Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.5, "mix": 0.5})])
    y = ood.render_alt(x, chain)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y)) == pytest.approx(0.99, abs=1e-6)
    assert np.max(np.abs(ood.render_alt(x, Chain()))) == pytest.approx(0.99 if np.max(np.abs(x)) > 0.99 else np.max(np.abs(x)))


def test_dry_false_alarms_count_reported_pedals() -> None:
    from ddspfx.chain import Chain

    def chain(*effects: str) -> Chain:
        from ddspfx.catalog import get_effect

        return Chain.from_list([{"effect": e, "params": {p.name: p.low for p in get_effect(e).params}} for e in effects])

    rates = ood.dry_false_alarms([chain(), chain("eq"), chain("eq", "phaser"), chain()])
    assert rates["any"] == 0.5 and rates["eq"] == 0.5 and rates["phaser"] == 0.25 and rates["delay"] == 0.0
    table = ood.dry_table({"modal guitar": rates})
    assert "| modal guitar | 0.50 |" in table


def test_recorded_note_names_to_midi() -> None:
    from experiments import real_guitar as rg
    assert [rg.note_midi(n) for n in ("E2", "A2", "Cs2", "Fs5", "C6", "As4")] == [40, 45, 37, 78, 84, 70]
    with pytest.raises(ValueError):
        rg.note_midi("H2")


def test_recorded_notes_sampler_pitch_and_phrases(tmp_path) -> None:
    """A fake folder of two 'recordings' (sines at A2 and C3): a pitch between them is the nearest one
    resampled, and every phrase kind fits the clip length."""
    import soundfile as sf

    from experiments import real_guitar as rg
    t = np.arange(2 * SR) / SR
    for name, f0 in (("A2", 110.0), ("C3", 130.81)):
        sf.write(tmp_path / f"{name}.mp3", (0.5 * np.sin(2 * np.pi * f0 * t) * np.exp(-t)).astype(np.float32), SR)
    g = rg.RecordedNotes(tmp_path, SR)
    assert sorted(g.notes) == [45, 48] and g.playable == list(range(43, 51))
    y = g.play(46, SR)  # A#2: A2 resampled up a semitone
    spec = np.abs(np.fft.rfft(y))
    assert np.argmax(spec) == pytest.approx(110.0 * 2 ** (1 / 12), abs=1.5)  # 1 Hz bins
    for seed in range(6):
        x = g.phrase(np.random.default_rng(seed), 1.5)
        assert x.shape == (int(1.5 * SR),) and np.isfinite(x).all() and np.abs(x).max() > 0
