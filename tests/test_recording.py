"""A recording's character against closed forms (Butterworth band limits, RBJ peaks, Schroeder decay), the pedals it
must not be mistaken for (ddspfx.audibility on pedalboard renders) and the level contract."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import signal

from ddspfx.audibility import change_score
from ddspfx.recording import (
    COLOUR_MAX_DB,
    REFLECTION_MS,
    TAIL_RT60_S,
    Recording,
    apply_recording,
    band_sos,
    colour_peak_db,
    colour_sos,
    draw_recording,
    labelled_floor_scores,
    reflective_room_ir,
)
from ddspfx.sources import make_source
from ddspfx.sources.biquad import rbj_peak

SR = 44_100


def _draws(n: int, seed: int = 0, kind: str | None = None) -> list[Recording]:
    rng = np.random.default_rng(seed)
    recs = (draw_recording(rng) for _ in range(20 * n))
    return [r for r in recs if kind is None or r.kind == kind][:n]


def _db_response(sos: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    _, h = signal.sosfreqz(sos, worN=2 * np.pi * freqs / SR)
    return 20 * np.log10(np.abs(h) + 1e-300)


def test_same_seed_same_recording_and_audio() -> None:
    a, b = draw_recording(np.random.default_rng(3)), draw_recording(np.random.default_rng(3))
    assert a == b
    x = make_source("synth").sample(np.random.default_rng(0), 1.0)
    rec = _draws(1, seed=1, kind="cab")[0]
    assert np.array_equal(apply_recording(x, SR, rec), apply_recording(x, SR, rec))
    assert not np.allclose(apply_recording(x, SR, rec), apply_recording(x, SR, _draws(2, seed=1, kind="cab")[1]))


def test_shape_dtype_and_level_are_kept() -> None:
    x = make_source("synth").sample(np.random.default_rng(1), 1.0)
    stereo = np.stack([x, 0.5 * x])
    for rec in _draws(12, seed=2):
        for inp in (x, stereo, 0.3 * x):
            y = apply_recording(inp, SR, rec)
            assert y.shape == inp.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
            rms_in, rms_out = (float(np.sqrt(np.mean(v.astype(np.float64) ** 2))) for v in (inp, y))
            assert rms_out == pytest.approx(rms_in, rel=1e-3) or float(np.max(np.abs(y))) == pytest.approx(0.99, abs=1e-4)
    assert np.array_equal(apply_recording(np.zeros(100, np.float32), SR, rec), np.zeros(100, np.float32))


def test_band_limits_are_butterworth() -> None:
    freqs = np.geomspace(20, 20_000, 300)
    for rec in _draws(6, seed=3, kind="cab"):
        ref = np.concatenate([signal.butter(2, rec.low_cut_hz, "highpass", fs=SR, output="sos"),
                              signal.butter(4, rec.high_cut_hz, fs=SR, output="sos")])
        np.testing.assert_allclose(_db_response(band_sos(rec, SR), freqs), _db_response(ref, freqs), atol=1e-6)
    di = _draws(1, seed=3, kind="di")[0]
    assert di.high_cut_hz == 0.0 and not di.reflections
    above = freqs[freqs > 150]
    total = np.concatenate([band_sos(di, SR), colour_sos(di, SR)])
    assert np.max(np.abs(_db_response(total, above))) < 0.1  # a DI is flat but for its low cut


def test_colour_is_nearer_a_flat_line_than_any_labelled_eq() -> None:
    """The colour's log-magnitude response stays within +-COLOUR_MAX_DB and is nearer (RMS dB over 60 Hz-16 kHz) to
    no eq at all than to any eq the sampler labels (RBJ peaks, as pedalboard's PeakFilter: 200-5000 Hz, |gain| 5-12 dB,
    Q 0.5-2.5), so no labelled eq explains it better than "no pedal"."""
    freqs = np.geomspace(60, 16_000, 256)
    labelled = np.array([_db_response(rbj_peak(f, g, q, SR)[None], freqs)
                         for f in np.geomspace(200, 5000, 24) for g in (-12, -8, -6, -5, 5, 6, 8, 12)
                         for q in (0.5, 0.8, 1.2, 1.8, 2.5)])  # (E, F)
    for rec in _draws(100, seed=4, kind="cab"):
        colour = _db_response(colour_sos(rec, SR), freqs)
        assert np.max(np.abs(colour)) <= COLOUR_MAX_DB + 0.02
        assert colour_peak_db(rec.peaks, rec.shelf_hz, rec.shelf_db) <= COLOUR_MAX_DB + 1e-9
        to_flat = np.sqrt(np.mean(colour**2))
        to_eq = np.sqrt(np.mean((colour[None] - labelled) ** 2, axis=1))
        assert to_flat < to_eq.min()


def _rt60(ir: np.ndarray) -> float:
    """Schroeder's backward-integrated decay of the reverberant part (ir[1:]), T20 extrapolated to 60 dB."""
    tail = np.asarray(ir[1:], np.float64) ** 2
    edc = 10 * np.log10(np.maximum(np.cumsum(tail[::-1])[::-1] / tail.sum(), 1e-30))
    return 3.0 * (int(np.argmax(edc <= -25.0)) - int(np.argmax(edc <= -5.0))) / SR


def test_room_is_early_short_and_faster_than_any_labelled_reverb() -> None:
    from ddspfx.chain import Chain, Pedal
    from ddspfx.render import run_reference

    impulse = np.zeros(2 * SR, np.float32)
    impulse[0] = 1.0
    reverb = run_reference(impulse, Chain([Pedal("reverb", {"room_size": 0.25, "damping": 1.0, "wet_level": 0.2,
                                                             "dry_level": 1.0})]), SR).reshape(-1)
    reverb_rt60 = _rt60(reverb)  # the smallest labelled room, the most damped
    rooms = _draws(30, seed=5, kind="cab")
    rooms = [r for r in rooms if r.reflections]
    assert len(rooms) >= 10
    for rec in rooms:
        assert max(d for d, _ in rec.reflections) <= REFLECTION_MS[1]
        tail_only = reflective_room_ir(dataclasses.replace(rec, reflections=()), SR)
        rt60 = _rt60(tail_only)
        assert rt60 == pytest.approx(rec.tail_rt60_s, rel=0.25)  # the drawn decay
        assert rt60 < TAIL_RT60_S[1] * 1.25 < 0.6 * reverb_rt60


def test_a_recording_adds_no_harmonics() -> None:
    """Linear and time-invariant: a sine comes out a sine (a distortion would add 2f, 3f, ...)."""
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 441.0 * t)).astype(np.float32)
    for rec in _draws(5, seed=6, kind="cab"):
        y = apply_recording(x, SR, rec)[SR // 2:].astype(np.float64)  # after the room's build-up
        spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
        bins = np.fft.rfftfreq(y.size, 1 / SR)
        level = {k: spec[np.argmin(np.abs(bins - k * 441.0))] for k in (1, 2, 3, 5)}
        assert max(level[k] for k in (2, 3, 5)) < level[1] * 1e-4  # below -80 dB


def test_colour_and_room_stay_below_the_weakest_labelled_eq_and_reverb() -> None:
    """On each clip, ddspfx.audibility scores the recording's colour below the least audible eq the sampler labels and
    its room below the least audible labelled reverb (``labelled_floor_scores``): no label is as faint as they are.
    Unlabelled: apply_recording hands back audio only."""
    specs = ("procedural", "synth", "modal", "procedural", "synth", "procedural")
    clips = [make_source(s).sample(np.random.default_rng(60 + i), 2.0) for i, s in enumerate(specs)]
    floors = [labelled_floor_scores(x, SR) for x in clips]
    rooms = [r for r in _draws(40, seed=7, kind="cab") if r.reflections][: 2 * len(clips)]
    for i, rec in enumerate(rooms):
        x = clips[i % len(clips)]
        eq_floor, reverb_floor = floors[i % len(clips)]
        colour = change_score(x, signal.sosfilt(colour_sos(rec, SR), x), SR)
        room = change_score(x, signal.fftconvolve(x, reflective_room_ir(rec, SR))[: x.size], SR)
        assert colour < eq_floor, (i, colour, eq_floor)
        assert room < reverb_floor, (i, room, reverb_floor)
        assert isinstance(apply_recording(x, SR, rec), np.ndarray)
    assert math.isinf(_draws(1, seed=8, kind="di")[0].tail_db)
