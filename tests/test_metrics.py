"""Metrics against hand-computed values."""

import numpy as np
import pytest

from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import (
    MRSTFTDistance,
    PresenceCounts,
    knob_errors,
    pairwise_order,
    param_error,
    precision_recall_f1,
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
    # a pedal never drawn nor reported has no score and stays out of the macro mean (distortion 1, eq 1, delay 0,
    # reverb 0): counted as perfect it printed "F1 1.00" for types the clips did not hold
    assert s["macro_f1"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert np.isnan(s["f1/chorus"]) and np.isnan(s["f1/tremolo"])


def test_precision_recall_f1_known_counts():
    # tp 3, fp 1, fn 2: P = 3/4, R = 3/5, F1 = 2PR / (P + R) = 2/3
    p, r, f1 = precision_recall_f1(3, 1, 2)
    assert (float(p), float(r), float(f1)) == (0.75, 0.6, pytest.approx(2 / 3, rel=1e-15))
    # elementwise over pedals; a pedal with nothing to find and nothing found scores ``empty``
    p, r, f1 = precision_recall_f1(np.array([3, 0, 0, 0]), np.array([1, 2, 0, 0]), np.array([2, 0, 4, 0]))
    assert p.tolist() == [0.75, 0.0, 1.0, 1.0] and r.tolist() == [0.6, 1.0, 0.0, 1.0]
    assert f1.tolist() == [pytest.approx(2 / 3), 0.0, 0.0, 1.0]
    assert precision_recall_f1(0, 0, 0, empty=0.0)[2] == 0.0


def test_presence_micro_vs_macro_from_counts():
    """Micro pools the counts over pedals; macro averages each pedal's score (counts set directly)."""
    c = PresenceCounts.empty()
    n = len(c.tp)
    c.tp[:2], c.fp[:2], c.fn[:2] = [9, 1], [1, 0], [0, 3]  # pedal 0: P 0.9 R 1; pedal 1: P 1 R 0.25; rest empty
    s = c.scores()
    assert s["micro_precision"] == pytest.approx(10 / 11) and s["micro_recall"] == pytest.approx(10 / 13)
    assert s["micro_f1"] == pytest.approx(2 * 10 / (2 * 10 + 1 + 3))
    f1_0, f1_1 = 2 * 9 / (18 + 1), 2 * 1 / (2 + 3)
    assert n > 2  # the other pedals have nothing to count and stay out of the macro means
    assert s["macro_precision"] == pytest.approx((0.9 + 1) / 2)
    assert s["macro_recall"] == pytest.approx((1 + 0.25) / 2)
    assert s["macro_f1"] == pytest.approx((f1_0 + f1_1) / 2)
    assert s["macro_f1"] != pytest.approx(s["micro_f1"])


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
