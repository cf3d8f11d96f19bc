"""Refinement's fast paths against their references: the cached-target loss against auraloss, batched grid
trials against one-by-one renders, and the descent's best-seen rule against its start."""

from __future__ import annotations

import numpy as np
import pedalboard
import pytest
import torch

from ddspfx.catalog import SAMPLE_RATE, normalise_params
from ddspfx.chain import Chain, Pedal


def _pluck(seconds: float, f0: float = 196.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * np.exp(-3 * t)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _auraloss():
    import auraloss

    return auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[256, 1024, 4096], hop_sizes=[64, 256, 1024],
                                                 win_lengths=[256, 1024, 4096])


def test_spectral_target_is_auraloss_per_item():
    """Each row of a batch scores as auraloss scores it alone (auraloss pools a batch's norms)."""
    from ddspfx.refine import SpectralTarget

    y = torch.from_numpy(_pluck(0.5, seed=1)).view(1, 1, -1)
    xs = torch.stack([torch.from_numpy(_pluck(0.5, f0=f, seed=s)).view(1, -1) for f, s in ((196, 2), (220, 3))])
    xs = torch.cat([xs, y, 0.5 * y + 0.5 * xs[:1]])  # (4, 1, T): unrelated, unrelated, the target, a mix
    got = SpectralTarget(y)(xs)
    ref = _auraloss()
    want = torch.stack([ref(x[None], y) for x in xs])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert float(got[2]) == pytest.approx(0.0, abs=1e-6)


def test_batched_knob_settings_render_as_one_by_one():
    """Grid trials rendered as one batch (a delay time per row, the pedals after it included) are the renders
    of each setting alone, and score the same losses."""
    from ddspfx.refine import SpectralTarget, _rms_normalised, render_proxies

    x = torch.from_numpy(_pluck(0.5)).view(1, 1, -1)
    effects = ["distortion", "delay", "reverb"]
    chain = Chain([Pedal("distortion", {"drive_db": 12.0}),
                   Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.3, "mix": 0.4}),
                   Pedal("reverb", {"room_size": 0.6, "damping": 0.3, "wet_level": 0.3, "dry_level": 0.7})])
    knobs = [torch.from_numpy(normalise_params(p.effect, p.params)).float()[None] for p in chain]
    times = torch.tensor([0.05, 0.3, 0.62, 0.9])
    batch = knobs[1].repeat(len(times), 1)
    batch[:, 0] = times
    prefix = render_proxies(effects[:1], x, SAMPLE_RATE, knobs[:1])
    together = render_proxies(effects[1:], prefix, SAMPLE_RATE, [batch, knobs[2]])  # (4, 1, T)
    assert together.shape == (4, 1, x.shape[-1])
    alone = torch.cat([render_proxies(effects, x, SAMPLE_RATE, [knobs[0], row[None], knobs[2]]) for row in batch])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    target = SpectralTarget(_rms_normalised(alone[2:3]))
    torch.testing.assert_close(target(_rms_normalised(together)), torch.cat(
        [target(_rms_normalised(a[None])) for a in alone]), rtol=1e-5, atol=1e-6)


def test_the_fit_never_ends_worse_than_it_starts():
    """The knobs returned are the best the descent visited: an objective no higher than at its start, even
    with a learning rate large enough to overshoot; with a monitor, the best it scored."""
    from ddspfx.refine import MONITOR_EVERY, fit

    dry = _pluck(0.5)
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=18.0),
                                 pedalboard.PeakFilter(cutoff_frequency_hz=1200.0, gain_db=8.0, q=1.0)])(
        dry[None], SAMPLE_RATE)[0]
    start = Chain([Pedal("distortion", {"drive_db": 16.0}),
                   Pedal("eq", {"cutoff_frequency_hz": 1100.0, "gain_db": 7.0, "q": 1.0})])
    for lr in (0.05, 2.0):
        r = fit(start, dry, wet, SAMPLE_RATE, steps=15, lr=lr)
        assert len(r.losses) == 16 and r.objective == min(r.losses) <= r.losses[0]
    seen = []

    def monitor(done, chain):  # a score the objective does not see: the drive's distance from 17 dB
        seen.append(done)
        return abs(chain.pedals[0].params["drive_db"] - 17.0), done < 2 * MONITOR_EVERY

    r = fit(start, dry, wet, SAMPLE_RATE, steps=100, lr=0.05, monitor=monitor)
    assert seen[:3] == [0, MONITOR_EVERY, 2 * MONITOR_EVERY]  # after the grid, then every MONITOR_EVERY steps
    assert len(r.losses) == 2 * MONITOR_EVERY + 1  # stopped when the monitor said so
    assert abs(r.chain.pedals[0].params["drive_db"] - 17.0) == min(s for _, s in r.scores) <= r.scores[0][1]


def test_clip_distance_is_mrstft_distance():
    from ddspfx.metrics import MRSTFTDistance
    from ddspfx.refine import ClipDistance

    wet, other = _pluck(0.5, seed=1), 0.2 * _pluck(0.5, f0=220.0, seed=2)
    dist = ClipDistance(wet)
    for x in (other, wet, 3.0 * wet):
        assert dist(x) == pytest.approx(MRSTFTDistance()(x, wet), rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="samples"):
        dist(other[:-1])


def test_refine_races_a_candidate_far_behind_and_keeps_the_closest_knobs(monkeypatch):
    """The estimate's chain is fitted first; an alternative still far behind it after ``Schedule.rung`` steps is
    stopped there, and every fitted chain's distance is the closest its fit saw."""
    import ddspfx.refine as refine_mod
    from ddspfx.analysis import Analysis
    from ddspfx.catalog import EFFECT_NAMES

    dry = _pluck(0.5)
    wet = pedalboard.Distortion(drive_db=20.0)(dry[None], SAMPLE_RATE)[0]
    fits = []

    def recording(*args, **kwargs):
        r = refine_mod.fit(*args, **kwargs)
        fits.append(r)
        return r.chain

    monkeypatch.setattr(refine_mod, "fit_params", recording)
    wide = Pedal("reverb", {"room_size": 1.0, "damping": 0.0, "wet_level": 0.6, "dry_level": 0.4})
    guess = Analysis(chain=Chain([Pedal("distortion", {"drive_db": 14.0})]), order_confidence=0.9,
                     effect_confidence={**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 1.0},
                     alternatives=[(Chain([Pedal("distortion", {"drive_db": 14.0}), wide]), 0.1)])
    schedule = refine_mod.Schedule(rung=10, margin=0.05, patience=None)
    result = refine_mod.refine(wet, dry, guess, SAMPLE_RATE, steps=40, toggles=0, schedule=schedule,
                               budget_s=None)
    assert [f.chain.effects for f in fits] == [["distortion"], ["distortion", "reverb"]]
    assert len(fits[0].losses) == 41 and len(fits[1].losses) == 11  # all 40 steps; stopped at the rung
    for f, (chain, d) in zip(fits, result.scored):
        assert chain is f.chain and d == pytest.approx(min(s for _, s in f.scores), rel=1e-6)
    assert result.analysis.chain.effects == ["distortion"]


def test_refine_searches_on_an_excerpt_then_polishes_the_closest_on_the_whole_clip(monkeypatch):
    """Schedule.search_seconds: every candidate is fitted on an excerpt; the ``polish`` closest are fitted again
    on the whole clip, and a polish is kept only where it comes closer. ``on_progress`` hears of each fit."""
    import ddspfx.refine as refine_mod
    from ddspfx.analysis import Analysis
    from ddspfx.catalog import EFFECT_NAMES

    dry = np.concatenate([_pluck(1.0, seed=3), _pluck(1.0, f0=247.0, seed=4)])
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=20.0),
                                 pedalboard.PeakFilter(cutoff_frequency_hz=1500.0, gain_db=6.0, q=1.0)])(
        dry[None], SAMPLE_RATE)[0]
    calls = []
    real_fit = refine_mod.fit

    def recording(chain, dry_seg, wet_seg, sample_rate, steps, *args, **kwargs):
        r = real_fit(chain, dry_seg, wet_seg, sample_rate, steps, *args, **kwargs)
        calls.append((tuple(chain.effects), len(dry_seg), steps, min(s for _, s in r.scores)))
        return r

    monkeypatch.setattr(refine_mod, "fit", recording)
    dist, eq = Pedal("distortion", {"drive_db": 15.0}), Pedal("eq", {"cutoff_frequency_hz": 1200.0, "gain_db": 4.0,
                                                                     "q": 1.0})
    guess = Analysis(chain=Chain([dist, eq]), order_confidence=0.6,
                     effect_confidence={**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 1.0, "eq": 1.0},
                     alternatives=[(Chain([eq, dist]), 0.4)])
    schedule = refine_mod.Schedule(search_seconds=0.5, polish=1, polish_steps=4)
    progress: list[tuple[int, int]] = []  # on_progress(done, total): once per fit, of the two searched + one polish
    result = refine_mod.refine(wet, dry, guess, SAMPLE_RATE, steps=8, toggles=0, schedule=schedule, budget_s=None,
                               on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 3), (2, 3), (3, 3)]
    half, whole = SAMPLE_RATE // 2, 2 * SAMPLE_RATE
    assert [c[:3] for c in calls[:2]] == [(("distortion", "eq"), half, 8), (("eq", "distortion"), half, 8)]
    closest = min(calls[:2], key=lambda c: c[3])
    assert len(calls) == 3 and calls[2][:3] == (closest[0], whole, 4)  # the closest, polished on the whole clip
    polished = [d for c, d in result.scored if tuple(c.effects) == closest[0]][0]
    assert polished == pytest.approx(min(closest[3], calls[2][3]), rel=1e-6)  # kept only where it came closer
    assert result.distance_after <= polished < result.distance_before


def test_a_time_limit_leaves_its_reserve_to_the_polish(monkeypatch):
    """With a time limit the search stops when ``Schedule.polish_reserve`` of it is left and the closest candidate
    is polished on the whole clip in the rest; with no reserve the search spends it all and nothing is polished.
    The clock is a fake on which each fit takes three seconds (and no time passes during one), so the test does not
    depend on the machine's speed: limit 8 s, reserve 0.5: fits end at 3 (go on), 6 (past 4: the search stops),
    then the polish (6 < 8) ends at 9; reserve 0: the search fits end at 3, 6, 9 (past 8), no polish."""
    import time

    import ddspfx.refine as refine_mod
    from ddspfx.analysis import Analysis
    from ddspfx.catalog import EFFECT_NAMES

    dry = np.concatenate([_pluck(1.0, seed=3), _pluck(1.0, f0=247.0, seed=4)])
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=20.0),
                                 pedalboard.PeakFilter(cutoff_frequency_hz=1500.0, gain_db=6.0, q=1.0)])(
        dry[None], SAMPLE_RATE)[0]
    dist, eq = Pedal("distortion", {"drive_db": 15.0}), Pedal("eq", {"cutoff_frequency_hz": 1200.0, "gain_db": 4.0,
                                                                     "q": 1.0})
    guess = Analysis(chain=Chain([dist, eq]), order_confidence=0.6,
                     effect_confidence={**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 1.0, "eq": 1.0},
                     alternatives=[(Chain([eq, dist]), 0.4)])
    real_fit = refine_mod.fit

    def run(reserve: float) -> list[int]:
        lengths: list[int] = []  # the excerpt each fit was given, in order
        now = [0.0]  # the fake clock's reading

        def recording(chain, dry_seg, *args, **kwargs):
            lengths.append(len(dry_seg))
            out = real_fit(chain, dry_seg, *args, **kwargs)
            now[0] += 3.0
            return out

        monkeypatch.setattr(refine_mod, "fit", recording)
        monkeypatch.setattr(time, "perf_counter", lambda: now[0])
        schedule = refine_mod.Schedule(search_seconds=0.5, polish=1, polish_steps=20, rung=None, patience=None,
                                       polish_reserve=reserve)
        result = refine_mod.refine(wet, dry, guess, SAMPLE_RATE, steps=40, toggles=0, schedule=schedule, budget_s=8.0)
        monkeypatch.undo()
        assert result.distance_after <= min(result.distance_dry, result.distance_before)
        return lengths

    half, whole = SAMPLE_RATE // 2, 2 * SAMPLE_RATE
    assert run(0.5) == [half, half, whole]  # searched, then the closest polished on the whole clip
    assert run(0.0) == [half, half, half]  # searched longer, and no time left for the polish
