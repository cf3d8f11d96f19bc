"""ChainSampler: seeding, ranges, distinct effects, order prior statistics, audibility of draws."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from ddspfx.audibility import THRESHOLDS_DB, change_score, is_audible
from ddspfx.catalog import EFFECT_NAMES, EFFECTS, TYPICAL_ORDER, get_effect, normalise
from ddspfx.errors import DdspfxError
from ddspfx.knobs import DEAD_ZONES
from ddspfx.sampler import ChainSampler, SamplerConfig, deviate, effect_weights, sample_params

SR = 44_100


def pluck_phrase(rng: np.random.Generator, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """A few decaying harmonic plucks at -20 dBFS RMS: a small stand-in for a dry guitar."""
    t_total = int(seconds * sr)
    out = np.zeros(t_total)
    for start in np.arange(0, t_total - sr // 8, sr // 4):
        f = 440.0 * 2 ** ((rng.integers(40, 76) - 69) / 12)
        n = min(t_total - start, sr // 2)
        t = np.arange(n) / sr
        h = np.arange(1, 25)
        out[start:start + n] += (np.exp(-t[:, None] * (2 + h)) / h * np.sin(2 * np.pi * f * h * t[:, None])).sum(1)
    return (out / (10 * np.sqrt(np.mean(out**2)))).astype(np.float32)


def test_seeded_and_reproducible():
    s = ChainSampler()
    a = [s.sample(np.random.default_rng(7)).to_list() for _ in range(3)]
    assert a[0] == a[1] == a[2]
    b = ChainSampler().sample(np.random.default_rng(8)).to_list()
    many = {ChainSampler().sample(np.random.default_rng(i)).to_json() for i in range(20)}
    assert len(many) > 15 and (a[0] != b or len(many) > 15)


def test_counts_distinct_and_in_audible_ranges():
    s = ChainSampler(SamplerConfig(max_effects=5))
    rng = np.random.default_rng(0)
    counts = Counter()
    for _ in range(600):
        chain = s.sample(rng)
        counts[len(chain)] += 1
        assert len(set(chain.effects)) == len(chain.effects) <= 5
        for pedal in chain:
            for p in EFFECTS[pedal.effect].params:
                v = pedal.params[p.name]
                assert p.sample_low - 1e-9 <= v <= p.sample_high + 1e-9
                gap = DEAD_ZONES.get(pedal.effect, {}).get(p.name)
                if gap:
                    assert not gap[0] < v < gap[1]
    assert set(counts) == set(range(6))
    for k in range(6):  # uniform over 0..5: 100 expected each, 4.5 sigma band
        assert abs(counts[k] - 100) < 4.5 * math.sqrt(600 * (1 / 6) * (5 / 6))


def test_params_uniform_in_normalised_space():
    rng = np.random.default_rng(1)
    p = EFFECTS["compressor"].param("ratio")  # log-scaled: uniform in log(ratio)
    u = np.array([normalise(sample_params(rng, "compressor")["ratio"], p) for _ in range(2000)])
    lo, hi = normalise(p.sample_low, p), normalise(p.sample_high, p)
    assert abs(np.mean(u) - (lo + hi) / 2) < 0.02
    assert abs(np.var(u) - (hi - lo) ** 2 / 12) < 0.01


def test_count_weights():
    s = ChainSampler(SamplerConfig(min_effects=1, max_effects=3, count_weights=(0.0, 0.0, 1.0)))
    assert {len(s.sample(np.random.default_rng(i))) for i in range(30)} == {3}
    with pytest.raises(DdspfxError):
        SamplerConfig(min_effects=1, max_effects=3, count_weights=(1.0, 1.0))
    with pytest.raises(DdspfxError):
        SamplerConfig(max_effects=len(EFFECT_NAMES) + 1)
    with pytest.raises(DdspfxError):
        SamplerConfig(order="random")  # type: ignore[arg-type]


def test_effect_weights_set_how_often_each_effect_is_drawn():
    """Known values: weights (2, 1, 1), one pedal: drawn 1/2, 1/4, 1/4; two pedals without replacement: the heavy
    one is in 1/2 + 2 * (1/4 * 2/3) = 5/6 of chains, and still first in only half of them (order stays uniform)."""
    effects = ("distortion", "chorus", "reverb")
    n = 1200
    one = ChainSampler(SamplerConfig(min_effects=1, max_effects=1, effects=effects, effect_weights=(2.0, 1.0, 1.0)))
    counts = Counter(one.sample(np.random.default_rng(i)).effects[0] for i in range(n))
    assert abs(counts["distortion"] - n / 2) < 4.5 * math.sqrt(n * 0.25)
    assert abs(counts["reverb"] - n / 4) < 4.5 * math.sqrt(n * 0.25 * 0.75)
    two = ChainSampler(SamplerConfig(min_effects=2, max_effects=2, effects=effects, effect_weights=(2.0, 1.0, 1.0)))
    chains = [two.sample(np.random.default_rng(i)).effects for i in range(n)]
    with_heavy = [c for c in chains if "distortion" in c]
    assert abs(len(with_heavy) - n * 5 / 6) < 4.5 * math.sqrt(n * 5 / 36)
    first = sum(c[0] == "distortion" for c in with_heavy)
    assert abs(first - len(with_heavy) / 2) < 4.5 * math.sqrt(len(with_heavy) / 4)
    never = ChainSampler(SamplerConfig(min_effects=1, max_effects=2, effects=effects, effect_weights=(1.0, 0.0, 1.0)))
    assert all("chorus" not in never.sample(np.random.default_rng(i)).effects for i in range(200))


def test_effect_weights_from_a_config_string():
    effects = ("compressor", "eq", "reverb")
    assert effect_weights("", effects) is None
    assert effect_weights("eq=2, reverb=0.5", effects) == (1.0, 2.0, 0.5)
    for bad in ("eq", "eq=x", "eqq=2", "tremolo=2", "eq=nan"):
        with pytest.raises(DdspfxError):
            effect_weights(bad, effects)
    with pytest.raises(DdspfxError):  # one weight per effect
        SamplerConfig(effects=effects, max_effects=2, effect_weights=(1.0, 1.0))
    with pytest.raises(DdspfxError):  # fewer drawable effects than the longest chain
        SamplerConfig(effects=effects, max_effects=3, effect_weights=(1.0, 0.0, 1.0))
    with pytest.raises(DdspfxError):
        SamplerConfig(effects=effects, max_effects=2, effect_weights=(1.0, -1.0, 1.0))


def test_uniform_order_statistics():
    """Uniform over permutations: each of the 2 orders of a pair appears about half the time."""
    s = ChainSampler(SamplerConfig(min_effects=2, max_effects=2, effects=("distortion", "reverb")))
    first = Counter(s.sample(np.random.default_rng(i)).effects[0] for i in range(800))
    assert abs(first["distortion"] - 400) < 4.5 * math.sqrt(800 * 0.25)


@pytest.mark.parametrize("deviation", [0.0, 0.3])
def test_typical_order_prior(deviation):
    s = ChainSampler(SamplerConfig(min_effects=3, max_effects=3, order="typical", deviation=deviation))
    rank = {e: i for i, e in enumerate(TYPICAL_ORDER)}
    n, typical = 1000, 0
    for i in range(n):
        e = s.sample(np.random.default_rng(i)).effects
        typical += [rank[x] for x in e] == sorted(rank[x] for x in e)
    expected = n * (1 - deviation)  # every deviation changes the order
    assert abs(typical - expected) <= 4.5 * math.sqrt(n * deviation * (1 - deviation)) + 1e-9


def test_deviate_always_changes_and_keeps_items():
    rng = np.random.default_rng(2)
    for _ in range(100):
        order = list(TYPICAL_ORDER[: rng.integers(2, 8)])
        out = deviate(rng, order)
        assert out != order and sorted(out) == sorted(order)


def test_audibility_score_closed_forms():
    rng = np.random.default_rng(3)
    x = pluck_phrase(rng)
    assert change_score(x, x, SR) == pytest.approx(0.0, abs=1e-9)
    assert change_score(x, 0.3 * x, SR) == pytest.approx(0.0, abs=1e-4)  # a pure level change is not counted
    assert change_score(x, np.roll(x, SR // 8) + x, SR) > 1.0


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_sampled_effects_are_audible_and_weak_ones_are_not(effect):
    """Labelled draws pass the measured criterion on most clips; the brief's 'inaudible' settings fail."""
    rng = np.random.default_rng(4)
    clips = [pluck_phrase(rng) for _ in range(3)]
    passes = [is_audible(effect, sample_params(rng, effect), clips[i % 3], SR)[0] for i in range(9)]
    if effect != "noise_gate":  # a gate is heard only where it closes: on a noiseless clip, rarely (next test)
        assert sum(passes) >= 7
    weak = {"compressor": dict(threshold_db=-30.0, ratio=1.05, attack_ms=5.0, release_ms=100.0),
            "distortion": dict(drive_db=1.0),
            "eq": dict(cutoff_frequency_hz=1000.0, gain_db=0.5, q=1.0),
            "chorus": dict(rate_hz=1.0, depth=0.0, centre_delay_ms=7.0, feedback=0.0, mix=0.02),
            "phaser": dict(rate_hz=1.0, depth=0.5, centre_frequency_hz=700.0, feedback=0.0, mix=0.02),
            "delay": dict(delay_seconds=0.3, feedback=0.0, mix=0.01),
            "reverb": dict(room_size=0.3, damping=0.5, wet_level=0.01, dry_level=1.0),
            "tremolo": dict(rate_hz=4.0, depth=0.03, shape=0.0),
            "flanger": dict(rate_hz=0.3, depth=0.0, centre_delay_ms=3.0, feedback=0.0, mix=0.02),
            "fuzz": dict(gain_db=0.0, tone_hz=20000.0),  # no clipping, the tone filter wide open
            "octave": dict(dry_level=1.0, down_level=0.0, up_level=0.01),
            "wah": dict(rate_hz=1.0, min_frequency_hz=400.0, range_octaves=1.0, q=1.0, mix=0.02),
            "noise_gate": dict(threshold_db=-90.0, release_ms=100.0)}[effect]
    ok, score = is_audible(effect, weak, clips[0], SR)
    assert not ok and score < THRESHOLDS_DB[effect]


def test_a_gate_is_heard_where_it_closes_on_a_noise_floor():
    """Between plucks a -55 dBFS hiss is shut by a -40 dB gate (audible); a -90 dB gate never closes (not)."""
    rng = np.random.default_rng(6)
    x = np.zeros(SR, dtype=np.float32)
    x[: SR // 4] = pluck_phrase(rng, 0.25)
    x = x + (10 ** (-55 / 20) * rng.standard_normal(SR)).astype(np.float32)
    assert is_audible("noise_gate", dict(threshold_db=-40.0, release_ms=50.0), x, SR)[0]
    assert not is_audible("noise_gate", dict(threshold_db=-90.0, release_ms=50.0), x, SR)[0]


def test_check_audibility_redraws():
    rng = np.random.default_rng(5)
    dry = pluck_phrase(rng)
    s = ChainSampler(SamplerConfig(min_effects=3, max_effects=3, check_audibility=True))
    for i in range(3):
        chain = s.sample(np.random.default_rng(i), dry, SR)
        assert all(is_audible(p.effect, p.params, dry, SR)[0] for p in chain)


def test_whole_ranges_reach_the_settings_the_audible_draw_skips():
    """A light drive (below the 10-dB audible floor) is drawn only with whole ranges, always inside the knob's range."""
    drive = get_effect("distortion").param("drive_db")
    whole = [sample_params(np.random.default_rng(i), "distortion", whole=True)["drive_db"] for i in range(200)]
    audible = [sample_params(np.random.default_rng(i), "distortion")["drive_db"] for i in range(200)]
    assert min(audible) >= drive.audible_low and any(v < drive.audible_low for v in whole)
    assert all(drive.low <= v <= drive.high for v in whole)


def test_a_pedal_nobody_hears_is_left_out_of_the_chain():
    """On a clean, noiseless note a gate far below the note never closes (inaudible: dropped); a fuzz always
    changes it (kept). The reference is ddspfx.audibility's own verdict on each pedal alone."""

    sr = 44100
    t = np.arange(sr) / sr
    dry = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    cfg = SamplerConfig(effects=("noise_gate", "fuzz"), min_effects=2, max_effects=2, drop_inaudible=True)
    for seed in range(5):
        chain = ChainSampler(cfg).sample(np.random.default_rng(seed), dry, sr)
        kept = ChainSampler(SamplerConfig(effects=cfg.effects, min_effects=2, max_effects=2)).sample(
            np.random.default_rng(seed), dry, sr)  # the same draws without the audibility check
        expected = [p.effect for p in kept if is_audible(p.effect, p.params, dry, sr)[0]]
        assert chain.effects == expected and "fuzz" in chain.effects and "noise_gate" not in chain.effects


def test_a_gate_is_left_out_where_it_never_closes_even_without_drop_inaudible():
    """The gate is ``judged``: on a steady note (its level never falls below any drawn threshold) the default
    sampler leaves it out, the same draw keeps a fuzz; on plucks over a -55 dBFS hiss with silence between them a
    drawn gate closes and is kept whenever ddspfx.audibility hears it. The reference is audibility's own verdict."""
    sr = 44100
    t = np.arange(sr) / sr
    steady = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    cfg = SamplerConfig(effects=("noise_gate", "fuzz"), min_effects=2, max_effects=2)
    assert get_effect("noise_gate").judged and not get_effect("fuzz").judged
    for seed in range(4):
        assert ChainSampler(cfg).sample(np.random.default_rng(seed), steady, sr).effects == ["fuzz"]
    rng = np.random.default_rng(6)
    gappy = np.zeros(sr, dtype=np.float32)
    gappy[: sr // 4] = pluck_phrase(rng, 0.25)
    gappy += (10 ** (-55 / 20) * rng.standard_normal(sr)).astype(np.float32)
    gate_only = SamplerConfig(effects=("noise_gate",), min_effects=1, max_effects=1)
    kept = 0
    for seed in range(6):
        drawn = ChainSampler(gate_only).sample(np.random.default_rng(seed))  # no clip: nothing to judge, kept
        chain = ChainSampler(gate_only).sample(np.random.default_rng(seed), gappy, sr)
        heard = is_audible("noise_gate", drawn.pedals[0].params, gappy, sr)[0]
        assert chain.effects == (["noise_gate"] if heard else [])
        kept += heard
    assert kept >= 4  # every drawn threshold (-45..-20 dB) is above the hiss, so the gate shuts it on most draws


def test_the_flanger_is_drawn_where_it_sweeps_and_resonates():
    """Drawn flangers sweep at 0.3 Hz or faster (over half a cycle in the 2 s the model hears) and feed
    back at least 0.3, inside the knob's whole range; whole-range draws still reach the slow, feedback-free corner."""
    flanger = get_effect("flanger")
    drawn = [sample_params(np.random.default_rng(i), "flanger") for i in range(200)]
    assert min(d["rate_hz"] for d in drawn) >= 0.3 and min(d["feedback"] for d in drawn) >= 0.3
    assert max(d["rate_hz"] for d in drawn) <= flanger.param("rate_hz").high
    whole = [sample_params(np.random.default_rng(i), "flanger", whole=True) for i in range(200)]
    assert any(d["rate_hz"] < 0.3 for d in whole) and any(d["feedback"] < 0.3 for d in whole)
