"""experiments.knob_error: the columns' closed forms (bin centres, the range's middle, a distribution's median), a
perfect answer scoring 0 everywhere, and the core run on a tiny model agreeing with the evaluator's pairing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, denormalise, get_effect, normalise
from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import param_error
from ddspfx.scoring import LabelledClip
from experiments import knob_error as ke

ALL_KNOBS = [(e, p.name) for e in EFFECT_NAMES for p in get_effect(e).params]


def row(effect: str, knob: str, truth: float, answer: float) -> ke.KnobRow:
    """A row whose every answer (head, token centre, token median) is ``answer``."""
    p = get_effect(effect).param(knob)
    b = min(int(answer * p.bins), p.bins - 1)
    return ke.KnobRow("synth", 0, effect, knob, truth, answer, answer, answer, b, b, 1, 0)


@pytest.mark.parametrize("effect,knob", ALL_KNOBS)
def test_a_value_at_its_bin_centre_has_floor_0_and_one_at_an_edge_half_a_bin(effect, knob):
    p = get_effect(effect).param(knob)
    for b in (0, p.bins // 2, p.bins - 1):
        centre = (b + 0.5) / p.bins
        assert ke.bin_centre(centre, p) == pytest.approx(centre, abs=1e-9)
        assert row(effect, knob, centre, centre).errors()["floor"] == pytest.approx(0.0, abs=1e-9)
    # just above an inner edge: the bin above, whose centre is half a bin away
    assert row(effect, knob, 3 / p.bins + 1e-9, 0.5).errors()["floor"] == pytest.approx(0.5 / p.bins, abs=1e-6)


@pytest.mark.parametrize("effect,knob", ALL_KNOBS)
def test_a_value_at_the_middle_of_the_sampled_range_has_prior_error_0(effect, knob):
    p = get_effect(effect).param(knob)
    lo, hi = normalise(p.sample_low, p), normalise(p.sample_high, p)
    assert row(effect, knob, (lo + hi) / 2, 0.0).errors()["prior"] == pytest.approx(0.0, abs=1e-12)
    assert row(effect, knob, lo, 0.0).errors()["prior"] == pytest.approx((hi - lo) / 2, abs=1e-12)


def test_prior_and_far_end_closed_forms():
    thr = get_effect("compressor").param("threshold_db")  # -50..0 dB, sampled -50..-20: normalised 0..0.6
    assert ke.prior_value(thr) == pytest.approx(0.3)
    assert ke.far_end(0.1, thr) == pytest.approx(0.6) and ke.far_end(0.5, thr) == pytest.approx(0.0)
    ratio = get_effect("compressor").param("ratio")  # log 1..20, sampled from 2.5: middle of log(2.5)..log(20)
    assert denormalise(ke.prior_value(ratio), ratio) == pytest.approx(math.sqrt(2.5 * 20.0))


def test_bin_distribution_median_closed_forms():
    from ddspfx.catalog import bin_distribution_median

    assert bin_distribution_median(np.ones(16)) == pytest.approx(0.5)
    for b in (0, 7, 15):
        assert bin_distribution_median(np.eye(16)[b]) == pytest.approx((b + 0.5) / 16)
    two = np.zeros(16)
    two[[3, 4]] = 1.0  # half the mass in bin 3, half in bin 4: the median is the edge between them
    assert bin_distribution_median(two) == pytest.approx(4 / 16)
    skew = np.zeros(16)
    skew[[0, 10]] = [0.25, 0.75]  # 0.25 below bin 10, which must supply the next 0.25 of its 0.75: a third in
    assert bin_distribution_median(skew) == pytest.approx((10 + 1 / 3) / 16)


def centred_chain(rng: np.random.Generator, effects: list[str]) -> Chain:
    """A chain whose every knob sits at a bin centre (so a bin token can be exactly right)."""
    pedals = []
    for e in effects:
        params = {}
        for p in get_effect(e).params:
            params[p.name] = float(denormalise((int(rng.integers(p.bins)) + 0.5) / p.bins, p))
        pedals.append(Pedal(e, params))
    return Chain(pedals)


def test_an_answer_equal_to_the_truth_has_error_0_in_every_column_and_is_not_heard(tiny_checkpoint):
    from ddspfx.checkpoint import load_model
    from ddspfx.sources import make_source

    model = load_model(tiny_checkpoint)
    rng = np.random.default_rng(3)
    dry = make_source("synth").sample(rng, 0.5)
    truth = centred_chain(rng, ["distortion", "eq", "delay"])
    ids = model.vocab.encode(truth)
    from ddspfx.catalog import bin_distribution_median

    medians = {p.effect: [bin_distribution_median(np.eye(q.bins)[ke.value_to_bin(p.params[q.name], q)])
                          for q in get_effect(p.effect).params] for p in truth}  # all mass in the true bin
    from ddspfx.render import render_chain

    ex = LabelledClip(dry=dry, wet=render_chain(dry, truth, SAMPLE_RATE)[0], chain=truth)
    rows = ke.knob_rows("synth", 0, ex, ke.Answer(truth, ids, medians), model.vocab)
    assert [(r.effect, r.knob) for r in rows] == [(p.effect, k) for p in truth for k in p.params]
    for r in rows:
        errs = r.errors()
        for col in ("head", "token", "token_median", "head_token_mean", "floor"):
            assert errs[col] == pytest.approx(0.0, abs=1e-9), (r.effect, r.knob, col)
        assert r.token_bin == r.true_bin and not r.wrong
    ke.measure_audibility(ex, rows, SAMPLE_RATE)
    for r in rows:
        assert r.change_db == pytest.approx(0.0, abs=1e-6)  # the same chain rendered twice
    s = ke.summarise(rows)
    assert s["head"] == pytest.approx(0.0, abs=1e-9) and s["token_right"] == 1.0 and s["error_mass_inaudible"] == 0.0
    # a listener's obvious judgement: drive from 10 dB to its far end (40 dB) is heard, so the knob is alive
    drive = Chain([Pedal("distortion", {"drive_db": 10.0})])
    ex2 = LabelledClip(dry=dry, wet=render_chain(dry, drive, SAMPLE_RATE)[0], chain=drive)
    r2 = [row("distortion", "drive_db", normalise(10.0, get_effect("distortion").params[0]), 0.9)]
    ke.measure_audibility(ex2, r2, SAMPLE_RATE)
    assert not r2[0].dead and not r2[0].inaudible and r2[0].wrong


def test_the_core_on_a_tiny_model_pairs_pedals_as_the_evaluator_does(tiny_checkpoint):
    from ddspfx.checkpoint import load_model
    from ddspfx.scoring import make_examples

    model = load_model(tiny_checkpoint)
    model.presence_thresholds[:] = 0.0  # an untrained model: let it name its max_effects pedals on every clip
    probe = make_examples("synth", 1, 910000, model.clip_seconds, 3, "uniform", effects=model.effects)
    named = ke.answer_clips(model, [probe[0].wet])[0].chain.effects
    # chains drawn from the pedals an untrained model names anyway, so that truth and answer share some
    examples = make_examples("synth", 4, 910000, model.clip_seconds, 3, "uniform", effects=named)
    rows, pedal_errors = ke.run_source(model, "synth", examples)
    assert rows, f"the tiny model names {named}; these 4 chains should share one of them"
    by_pedal: dict[tuple[int, str], list[float]] = {}
    for r in rows:
        assert r.effect in examples[r.clip].chain.effects
        p = r.param
        assert r.token == pytest.approx((r.token_bin + 0.5) / p.bins)
        assert r.errors()["floor"] <= 0.5 / p.bins + 1e-9
        assert 0.0 <= r.token_median <= 1.0
        assert math.isfinite(r.change_db) and math.isfinite(r.dead_db) and r.threshold_db > 0
        by_pedal.setdefault((r.clip, r.effect), []).append(r.errors()["head"])
    # the head column is the evaluator's param_error, pedal by pedal
    expected = [e for ex, ans in zip(examples, ke.answer_clips(model, [ex.wet for ex in examples]))
                for e in param_error(ex.chain, ans.chain)]
    assert sorted(pedal_errors) == pytest.approx(sorted(expected))
    assert sorted(float(np.mean(v)) for v in by_pedal.values()) == pytest.approx(sorted(pedal_errors))
    table = ke.source_tables("synth", ke.summary_for_source(rows, pedal_errors, model.effects), 4)
    assert "| **all knobs** |" in table
