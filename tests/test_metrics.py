"""Metrics against hand-computed values."""

import numpy as np
import pytest

from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import (
    MRSTFTDistance,
    PresenceCounts,
    knob_errors,
    lti_canonical,
    pairwise_order,
    param_error,
    si_sdr,
)


def test_presence_micro_macro_by_hand():
    c = PresenceCounts.empty()
    c.add(["distortion", "delay"], ["distortion", "reverb"])  # tp dist, fp reverb, fn delay
    c.add(["eq"], ["eq"])
    s = c.scores()
    assert s["micro_precision"] == pytest.approx(2 / 3)
    assert s["micro_recall"] == pytest.approx(2 / 3)
    assert s["micro_f1"] == pytest.approx(2 / 3)
    assert s["f1/distortion"] == 1.0 and s["f1/delay"] == 0.0 and s["f1/reverb"] == 0.0
    # effects never seen nor predicted count as perfect (P=R=1) in the macro average
    assert s["macro_f1"] == pytest.approx((1 + 1 + 0 + 0 + 1 + 1 + 1) / 7)


def test_lti_canonical_only_merges_adjacent_lti_runs():
    assert lti_canonical(["reverb", "eq", "delay"]) == ("delay", "eq", "reverb")
    assert lti_canonical(["eq", "distortion", "delay"]) == ("eq", "distortion", "delay")
    assert lti_canonical(["delay", "distortion", "eq"]) != lti_canonical(["eq", "distortion", "delay"])
    # chorus is linear but time-varying: it breaks a run
    assert lti_canonical(["reverb", "chorus", "eq"]) == ("reverb", "chorus", "eq")


def test_pairwise_order_split():
    nonlin, lin = pairwise_order(["compressor", "eq", "delay"], ["eq", "compressor", "delay", "reverb"])
    assert sorted(nonlin) == [False, True]  # (comp, eq) wrong, (comp, delay) right
    assert lin == [True]  # (eq, delay)


def test_param_error_on_detected_effects():
    t = Chain([Pedal("distortion", {"drive_db": 10.0})])
    p = Chain([Pedal("distortion", {"drive_db": 20.0}), Pedal("eq", {"cutoff_frequency_hz": 1000, "gain_db": 0, "q": 1})])
    assert param_error(t, p) == [pytest.approx(10 / 40)]
    (effect, errs), = knob_errors(t, p)
    assert effect == "distortion" and errs.tolist() == [pytest.approx(10 / 40)]


def test_si_sdr_known_values():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(10000)
    assert si_sdr(3.0 * ref, ref) > 80  # scale invariant
    noise = rng.standard_normal(10000)
    noise -= np.dot(noise, ref) / np.dot(ref, ref) * ref  # orthogonal
    noise *= np.linalg.norm(ref) / np.linalg.norm(noise) / 10  # 20 dB below
    assert si_sdr(ref + noise, ref) == pytest.approx(20.0, abs=0.01)


def test_mrstft_distance_zero_on_identical_and_gain_invariant():
    t = np.arange(44100) / 44100
    x = np.sin(2 * np.pi * 220 * t) * np.exp(-2 * t)
    d = MRSTFTDistance()
    assert d(x, 0.5 * x) == pytest.approx(0.0, abs=1e-6)
    assert d(x, np.tanh(8 * x)) > 0.1
