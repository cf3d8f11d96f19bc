"""The procedural guitars against closed forms (pitch, loss filter, stiff-string partials, pickup comb), the source
contract, the guitar/phrase separation and the held-out guitar ids."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ddspfx.audibility import band_energies_db
from ddspfx.errors import DdspfxError
from ddspfx.sources import TARGET_DBFS, make_source
from ddspfx.sources.procedural import (
    BODIES,
    HELDOUT_IDS,
    KINDS,
    OPEN,
    OUTPUTS,
    PALM,
    TRAIN_IDS,
    ArticulatedNote,
    ProceduralSource,
    compose_articulated_phrase,
    draw_guitar,
    loss_filter,
    render,
)
from ddspfx.sources.synth import OPEN_STRINGS, midi_to_hz

SR = 44_100


def _plain(guitar_id: int = 3, **changes):
    """A drawn guitar made easy to measure: in tune, no output peaks, then ``changes``."""
    g = draw_guitar(guitar_id)
    return dataclasses.replace(g, tuning_cents=(0.0,) * 6, peaks=(), **changes)


def _note(guitar, midi: int, string: int, seconds: float = 1.5, seed: int = 0, **kw) -> np.ndarray:
    n = ArticulatedNote(0.0, float(midi), string, 0.9, seconds, **kw)
    return render(guitar, [n], int(seconds * SR), SR, np.random.default_rng(seed))


def _spectrum(x: np.ndarray, start: float = 0.05, stop: float = 0.65) -> tuple[np.ndarray, np.ndarray]:
    seg = x[int(start * SR): int(stop * SR)]
    n = 1 << 19
    return np.fft.rfftfreq(n, 1 / SR), np.abs(np.fft.rfft(seg * np.hanning(seg.size), n))


def _partial(freqs: np.ndarray, spec: np.ndarray, centre: float, half_width: float) -> tuple[float, float]:
    """(frequency, dB) of the strongest bin within ``centre +- half_width`` Hz."""
    band = (freqs > centre - half_width) & (freqs < centre + half_width)
    i = int(np.argmax(spec[band]))
    return float(freqs[band][i]), float(20 * np.log10(spec[band][i] + 1e-30))


# ---------------------------------------------------------------- the string


@pytest.mark.parametrize("kind", ["pole", "fir"])
def test_loss_filter_meets_the_decay_and_is_stable(kind: str) -> None:
    """Closed form: loop gain at f0 is 10^(-3 / (f0 t60)) (60 dB in t60 s), and below 1 at every frequency."""
    f0 = midi_to_hz(np.arange(40.0, 89.0, 4.0))
    t60 = np.linspace(0.2, 9.0, f0.size)
    damping = np.linspace(0.0, 1.0, f0.size)
    coeffs, delay = loss_filter(kind, f0, t60, damping, SR)
    w = np.linspace(1e-4, np.pi, 2000)
    z = np.exp(-1j * w)
    for (b0, b1, b2, a1), f, t, d in zip(coeffs, f0, t60, delay):
        h = (b0 + b1 * z + b2 * z * z) / (1 + a1 * z)
        w0 = 2 * np.pi * f / SR
        z0 = np.exp(-1j * w0)
        h0 = (b0 + b1 * z0 + b2 * z0 * z0) / (1 + a1 * z0)
        assert abs(h0) == pytest.approx(10 ** (-3 / (f * t)), rel=1e-9)
        assert np.max(np.abs(h)) < 1.0
        assert d == pytest.approx(-np.angle(h0) / w0, rel=1e-6)  # the phase delay the tuning subtracts


@pytest.mark.parametrize("midi,string", [(40, 0), (47, 1), (55, 3), (64, 5), (76, 5), (86, 5)])
@pytest.mark.parametrize("loss", ["pole", "fir"])
def test_pitch_matches_midi(midi: int, string: int, loss: str) -> None:
    g = _plain(loss=loss, dispersion_stages=0, damping=(0.7,) * 6)  # a heavily damped loop: its delay must be compensated
    f0 = float(midi_to_hz(midi))
    freqs, spec = _spectrum(_note(g, midi, string))
    f, _ = _partial(freqs, spec, f0, 0.2 * f0)
    assert abs(1200 * math.log2(f / f0)) < 1.5  # 0.08 Hz bins; a few cents is what a tuner shows as in tune


def test_dispersion_stretches_partials_like_a_stiff_string() -> None:
    """Partial k of a stiff string sits at k f0 sqrt(1 + B k^2) (Fletcher 1964): the loop's allpasses follow it; with
    no allpass the partials are harmonic."""
    midi, string, b = 52, 2, 2e-4
    f0 = float(midi_to_hz(midi))
    bn = b * 2 ** ((midi - OPEN_STRINGS[string]) / 6)  # B of the fretted (shorter) string
    for stages in (0, 4):
        g = _plain(dispersion_stages=stages, inharmonicity=(b,) * 6, pickups=((0.13, 1.0),))
        freqs, spec = _spectrum(_note(g, midi, string))
        f1, _ = _partial(freqs, spec, f0, 0.2 * f0)
        for k in (5, 8):
            want = k * math.sqrt((1 + bn * k * k) / (1 + bn)) if stages else float(k)
            fk, _ = _partial(freqs, spec, want * f1, 0.25 * f0)
            cents, want_cents = 1200 * math.log2(fk / (k * f1)), 1200 * math.log2(want / k)
            if stages:
                assert want_cents / 1.6 < cents < want_cents * 1.6
            else:
                assert abs(cents) < 1.0


def test_pickup_comb_weights_harmonics_by_sin_pi_k_p() -> None:
    """Same string, same excitation, coils at p = 1/4 and p = 1/10: harmonic k changes by |sin(pi k/4) / sin(pi k/10)|
    (the velocity difference y(t) - y(t - p N)), and the coil at 1/4 hears nothing of harmonics 4 and 8."""
    midi = 40
    f0 = float(midi_to_hz(midi))
    spectra = {}
    for p in (0.25, 0.1):
        g = _plain(dispersion_stages=0, pickups=((p, 1.0),), pickup_hz=20000.0, pickup_q=0.707, low_cut_hz=20.0)
        spectra[p] = _spectrum(_note(g, midi, 0))
    freqs = spectra[0.25][0]
    level = {p: [_partial(freqs, s, k * f0, 0.3 * f0)[1] for k in range(1, 11)] for p, (_, s) in spectra.items()}
    for k in (1, 2, 3, 5, 6, 7):
        want = 20 * math.log10(abs(math.sin(math.pi * k * 0.25) / math.sin(math.pi * k * 0.1)))
        assert level[0.25][k - 1] - level[0.1][k - 1] == pytest.approx(want, abs=1.0)
    for k in (4, 8):
        assert level[0.25][k - 1] < min(level[0.25][k - 2], level[0.25][k]) - 30


def test_palm_mute_and_note_off_damp_the_string() -> None:
    g = _plain()
    seconds = 1.0
    open_ = _note(g, 45, 1, seconds=seconds, mute=OPEN)
    palm = _note(g, 45, 1, seconds=seconds, mute=PALM)
    short = render(g, [ArticulatedNote(0.0, 45.0, 1, 0.9, 0.2)], int(seconds * SR), SR, np.random.default_rng(0))

    def db(x: np.ndarray, a: float, b: float) -> float:
        return 10 * math.log10(float(np.mean(x[int(a * SR): int(b * SR)] ** 2)) + 1e-30)

    assert db(open_, 0.0, 0.05) - db(open_, 0.5, 0.6) < 30  # an open string rings
    assert db(palm, 0.0, 0.05) - db(palm, 0.5, 0.6) > 40  # a palm-muted one dies
    assert db(short, 0.0, 0.05) - db(short, 0.5, 0.6) > 40  # and so does one let go at 0.2 s


# ---------------------------------------------------------------- guitars, phrases, the source contract


def test_guitars_are_seeded_by_their_id_and_span_the_family() -> None:
    assert draw_guitar(17) == draw_guitar(17)
    drawn = [draw_guitar(i) for i in range(300)]
    assert len({g for g in drawn}) == 300
    assert {g.body for g in drawn} == set(BODIES) and {g.output for g in drawn} == set(OUTPUTS)
    for g in drawn:
        assert (g.output == "magnetic") == (g.body == "electric") == bool(g.pickups)
        assert all(0.0 < p < 0.5 for p, _ in g.pickups)
        assert g.pickup_hz > 0 and 0.5 <= g.pickup_q <= 4.0
    single = [g for g in drawn if g.pickups and all(w == 1.0 for _, w in g.pickups)]
    assert min(g.pickup_hz for g in single) >= 3000 and max(g.pickup_hz for g in drawn if g.pickups) <= 6000
    with pytest.raises(DdspfxError):
        draw_guitar(-1)


@pytest.mark.parametrize("kind", KINDS)
def test_clips_follow_the_source_contract(kind: str) -> None:
    src = ProceduralSource(kind=kind)
    for seed in range(3):
        x = src.sample(np.random.default_rng(seed), 2.0)
        assert x.shape == (2 * SR,) and x.dtype == np.float32 and np.all(np.isfinite(x))
        peak, rms_db = float(np.max(np.abs(x))), 20 * math.log10(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))))
        assert peak <= 0.99 + 1e-6
        assert rms_db == pytest.approx(TARGET_DBFS, abs=0.05) or peak == pytest.approx(0.99, abs=1e-4)


def test_same_seed_same_audio_and_the_id_comes_back() -> None:
    src = make_source("procedural")
    assert isinstance(src, ProceduralSource)
    a, b = src.sample(np.random.default_rng(7), 2.0), src.sample(np.random.default_rng(7), 2.0)
    assert np.array_equal(a, b)
    rng, again = np.random.default_rng(7), np.random.default_rng(7)
    x, gid = src.sample_with_id(rng, 2.0)
    assert gid == src.draw_id(again) and np.array_equal(x, src.play(gid, again, 2.0))


def test_one_phrase_on_two_guitars_has_the_same_notes() -> None:
    assert compose_articulated_phrase(np.random.default_rng(3), 3.0) == compose_articulated_phrase(np.random.default_rng(3), 3.0)
    src = ProceduralSource()
    a, b = src.play(10, np.random.default_rng(5), 2.0), src.play(11, np.random.default_rng(5), 2.0)
    assert not np.allclose(a, b)
    onset = [int(np.argmax(np.abs(x) > 1e-4)) for x in (a, b)]  # the same onset shift and first note
    assert abs(onset[0] - onset[1]) < int(0.003 * SR)


def _timbre(x: np.ndarray) -> np.ndarray:
    """Long-term spectrum above 400 Hz (audibility's log bands over frames with notes, relative to its mean): the
    guitar's partials, pickup and body, not the fundamentals of the notes the phrase happens to play."""
    e = band_energies_db(x / np.sqrt(np.mean(x.astype(np.float64) ** 2)), SR, 4096)
    e = e[e.max(axis=1) > e.max() - 40.0]
    lts = 10 * np.log10(np.mean(10 ** (e / 10), axis=0))
    edges = np.geomspace(60.0, 16_000.0, lts.size + 1)
    lts = lts[np.sqrt(edges[:-1] * edges[1:]) >= 400.0]
    return lts - lts.mean()


def test_a_guitar_keeps_its_timbre_across_phrases() -> None:
    """Timbres of one guitar over different phrases are closer than those of different guitars over the same phrase
    (a listener's judgement: the guitar, not the tune, sets the tone)."""
    src = ProceduralSource()
    ids, phrases = range(200, 206), range(4)
    lts = np.array([[_timbre(src.play(g, np.random.default_rng(40 + s), 2.0)) for s in phrases] for g in ids])
    within = [np.mean(np.abs(lts[g, a] - lts[g, b])) for g in range(len(ids)) for a in phrases for b in phrases if a < b]
    across = [np.mean(np.abs(lts[g, s] - lts[h, s])) for s in phrases for g in range(len(ids)) for h in range(g + 1, len(ids))]
    assert np.median(across) > 3.0  # guitars differ by a measurable distance (dB)
    assert np.median(within) < 0.75 * np.median(across)


# ---------------------------------------------------------------- specs and held-out guitars


def test_training_specs_never_produce_held_out_guitars() -> None:
    assert TRAIN_IDS.stop <= HELDOUT_IDS.start and len(TRAIN_IDS) > 0 and len(HELDOUT_IDS) > 0
    train, held = make_source("procedural"), make_source("procedural:heldout")
    assert isinstance(train, ProceduralSource) and isinstance(held, ProceduralSource)
    rng = np.random.default_rng(0)
    drawn = [train.draw_id(rng) for _ in range(5000)]
    assert all(g in TRAIN_IDS for g in drawn) and len(set(drawn)) > 4900  # a fresh guitar per clip
    assert all(held.draw_id(rng) in HELDOUT_IDS for _ in range(1000))


def test_counted_specs_nest_for_a_source_count_curve() -> None:
    sets = {}
    for n in (1, 2, 4, 8):
        src = make_source(f"procedural:{n}")
        assert isinstance(src, ProceduralSource) and src.name == f"procedural:{n}"
        rng = np.random.default_rng(n)
        sets[n] = {src.draw_id(rng) for _ in range(200)}
        assert sets[n] == set(range(n))
    assert sets[1] < sets[2] < sets[4] < sets[8]
    held = make_source("procedural:heldout:3")
    assert isinstance(held, ProceduralSource) and set(held.guitar_ids) == set(HELDOUT_IDS[:3])


@pytest.mark.parametrize("spec", ["procedural:0", "procedural:x", "procedural:heldout:0", "procedural:1:2",
                                  f"procedural:{len(TRAIN_IDS) + 1}", "procedural:heldout:x"])
def test_bad_procedural_specs_are_refused(spec: str) -> None:
    with pytest.raises(DdspfxError):
        make_source(spec)


def test_procedural_mixes_with_other_sources() -> None:
    mix = make_source("mix:procedural:4=0.5,synth=0.5")
    x = mix.sample(np.random.default_rng(0), 1.0)
    assert x.shape == (SR,) and np.all(np.isfinite(x))
