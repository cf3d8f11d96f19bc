"""experiments.sisdr_sensitivity: knob offsets against hand-derived SI-SDR values, the error column against a
hand-made results file, the command line's refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, get_effect, normalise
from ddspfx.chain import Chain, Pedal
from ddspfx.knobs import sample_params
from ddspfx.metrics import si_sdr
from experiments import sisdr_sensitivity as ss

SR = SAMPLE_RATE


def noise(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """White noise at -20 dBFS RMS: samples at different lags are uncorrelated, which the closed forms use."""
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def score(dry: np.ndarray, truth: Pedal, moved: Pedal) -> float:
    wet = ss.rerender(dry, Chain([truth]))
    return si_sdr(ss.rerender(dry, Chain([moved])), wet)


def test_perturb_moves_every_knob_by_exactly_delta_turning_back_at_the_ends():
    u = np.array([0.5, 0.9995, 0.0004, 0.5])
    out = ss.perturb(u, 0.001, np.array([-1.0, 1.0, -1.0, 1.0]))
    np.testing.assert_allclose(out, [0.499, 0.9985, 0.0014, 0.501], atol=1e-12)  # the 2nd and 3rd turned back
    np.testing.assert_allclose(ss.perturb(u, 0.0, np.ones(4)), u, atol=0)
    # both ways out of range (0.5 + 0.6 and 0.5 - 0.6): the turned-back move is clipped at 0
    assert ss.perturb(np.array([0.5]), 0.6, np.array([1.0]))[0] == 0.0
    # per-knob deltas
    np.testing.assert_allclose(ss.perturb(np.array([0.2, 0.2]), np.array([0.1, 0.05]), np.array([1.0, -1.0])),
                               [0.3, 0.15], atol=1e-12)


def test_only_the_chosen_knobs_move_and_the_rest_keep_their_exact_values():
    pedal = Pedal("chorus", sample_params(np.random.default_rng(1), "chorus"))
    moved = ss.perturbed_pedal(pedal, [2], 0.01, np.ones(5))
    for k, p in enumerate(get_effect("chorus").params):
        if k == 2:
            assert normalise(moved.params[p.name], p) == pytest.approx(normalise(pedal.params[p.name], p) + 0.01,
                                                                       abs=1e-12)
        else:
            assert moved.params[p.name] == pedal.params[p.name]


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_delta_zero_is_the_same_render_so_si_sdr_is_at_the_float_limit(effect):
    dry = noise(0.5, seed=3)
    pedal = Pedal(effect, sample_params(np.random.default_rng(2), effect))
    same = ss.perturbed_pedal(pedal, range(len(pedal.params)), 0.0, np.ones(len(pedal.params)))
    assert same.params == pedal.params
    assert score(dry, pedal, same) > 60.0


def delay_si_sdr(t: int, d: int, k: int, mix: float) -> float:
    """SI-SDR of ``(1-m) x + m x[n-d-k]`` against ``(1-m) x + m x[n-d]`` on ``t`` samples of white noise, k != 0.

    The three signals x, x[n-d], x[n-d-k] are uncorrelated, with energies t, t-d, t-d-k (the delayed copies start
    late). Reference energy r = (1-m)^2 t + m^2 (t-d); estimate energy e = (1-m)^2 t + m^2 (t-d-k); their inner
    product c = (1-m)^2 t. The projection onto the reference has energy c^2 / r, the rest e - c^2 / r.
    """
    r = (1 - mix) ** 2 * t + mix**2 * (t - d)
    e = (1 - mix) ** 2 * t + mix**2 * (t - d - k)
    c = (1 - mix) ** 2 * t
    return 10 * math.log10((c * c / r) / (e - c * c / r))


@pytest.mark.parametrize("k", [1, 24, 300])
def test_a_delay_time_off_by_k_samples_gives_the_hand_derived_si_sdr(k):
    """Delay without feedback at mix 0.5 on white noise: one sample late already costs everything (about -4.2 dB,
    whatever k), which is why the delay's time knob needs sub-sample precision."""
    truth = Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.0, "mix": 0.5})  # 4410 samples
    p = get_effect("delay").param("delay_seconds")
    delta = (k + 0.25) / SR / (p.high - p.low)  # k samples and a quarter: the render's whole-sample delay is k late
    moved = ss.perturbed_pedal(truth, [0], delta, np.ones(3))
    # one noise clip's chance correlations move the figure by ~0.06 dB (std); the mean of four, by ~0.03
    measured = np.mean([score(noise(1.0, seed=s), truth, moved) for s in range(4)])
    assert measured == pytest.approx(delay_si_sdr(SR, 4410, k, 0.5), abs=0.1)  # -4.17 dB; -4.77 without the edge
    # a quarter of a sample is no change at all for the whole-sample delay line
    quarter = ss.perturbed_pedal(truth, [0], 0.25 / SR / (p.high - p.low), np.ones(3))
    assert score(noise(1.0, seed=4), truth, quarter) > 60.0


def test_si_sdr_ignores_a_pure_level_change_and_not_a_change_of_balance():
    """Reverb's output is wet_level * (reverb) + dry_level * (dry): scaling both by 4/3 scales the output, and
    SI-SDR is scale invariant; moving one of them alone changes the wet/dry balance."""
    dry = noise(1.0, seed=5)
    truth = Pedal("reverb", {"room_size": 0.5, "damping": 0.3, "wet_level": 0.3, "dry_level": 0.6})
    # wet 0.3 -> 0.4 is 0.2 of its 0.1..0.6 range; dry 0.6 -> 0.8 is 1/3 of its 0.4..1.0 range
    louder = ss.perturbed_pedal(truth, [2, 3], np.array([0.0, 0.0, 0.2, 1 / 3]), np.ones(4))
    assert louder.params["wet_level"] == pytest.approx(0.4) and louder.params["dry_level"] == pytest.approx(0.8)
    assert score(dry, truth, louder) > 60.0
    wetter = ss.perturbed_pedal(truth, [2], 0.2, np.ones(4))
    assert score(dry, truth, wetter) < 40.0


def test_a_smooth_knob_loses_20_db_per_decade_of_error():
    """First order: the re-render differs from the wet by delta times the knob's derivative, so the error's
    energy grows as delta squared: 20 dB of SI-SDR per tenfold delta, for small delta."""
    dry = noise(1.0, seed=6)
    truth = Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 8.0, "q": 1.0})
    s = [score(dry, truth, ss.perturbed_pedal(truth, [1], d, np.ones(3))) for d in (0.001, 0.01)]
    assert s[0] - s[1] == pytest.approx(20.0, abs=0.5)


def test_precision_needed_is_the_largest_delta_up_to_which_every_median_passes():
    assert ss.precision_needed(dict(zip(ss.DELTAS, [30.0, 26.0, 24.0, 26.0, 10.0]))) == 0.003
    assert ss.precision_needed(dict(zip(ss.DELTAS, [24.9, 30.0, 30.0, 30.0, 30.0]))) == 0.0
    assert ss.precision_needed(dict(zip(ss.DELTAS, [25.0] * 5))) == 0.1


def delay(time_s: float, feedback: float, mix: float) -> dict:
    return {"effect": "delay", "params": {"delay_seconds": time_s, "feedback": feedback, "mix": mix}}


EQ = {"effect": "eq", "params": {"cutoff_frequency_hz": 1000.0, "gain_db": 8.0, "q": 1.0}}


def answers_file(tmp_path):
    """Two delays found with known normalised errors (time over 0.05..0.6 s, feedback 0..0.7, mix 0.1..0.6), an eq
    missed and an eq reported that was not there (neither counted), and another system's answer (ignored)."""
    clips = [
        {"truth": [delay(0.2, 0.3, 0.3)], "answers": {"dry-aware": {"chain": [delay(0.255, 0.3, 0.35)]}}},  # .1 0 .1
        {"truth": [EQ, delay(0.2, 0.3, 0.3)], "answers": {"dry-aware": {"chain": [delay(0.365, 0.44, 0.3)]},
                                                         "blind: x": {"chain": [delay(0.6, 0.0, 0.6)]}}},  # .3 .2 0
        {"truth": [], "answers": {"dry-aware": {"chain": [EQ]}}},
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"setup": {"sources": "synth", "seed": 700000}, "clips": clips}))
    return path


def test_knob_errors_are_medians_over_pedals_found_in_both_truth_and_answer(tmp_path):
    table, note = ss.load_knob_errors(str(answers_file(tmp_path)))
    assert set(table) == {"delay"} and table["delay"]["pedals"] == 2
    knobs = table["delay"]["knobs"]
    assert knobs["delay_seconds"] == pytest.approx(0.2) and knobs["feedback"] == pytest.approx(0.1)
    assert knobs["mix"] == pytest.approx(0.05)
    assert table["delay"]["pooled"] == pytest.approx(0.1)  # median of 0.1, 0, 0.1, 0.3, 0.2, 0
    assert "3 clips" in note
    missing, why = ss.load_knob_errors(str(tmp_path / "nope.json"))
    assert missing == {} and "does not exist" in why


def test_it_runs_end_to_end_on_a_tiny_set(tmp_path, capsys):
    out = tmp_path / "out"
    code = ss.main(["--n", "1", "--seconds", "0.25", "--no-mrstft", "--answers", str(answers_file(tmp_path)),
                    "--out", str(out)])
    assert code == 0
    assert (out / "sisdr_vs_knob_error.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((out / "sensitivity.json").read_text())
    heads = {h["effect"]: h for h in result["headline"]}
    assert heads["delay"]["our_error"] == pytest.approx(0.1) and "our_error" not in heads["eq"]
    zero = [r for r in result["rows"] if r["delta"] == 0.0]
    assert len(zero) == len(EFFECT_NAMES) + 1 and all(r["sisdr_median"] > 60.0 for r in zero)
    assert "## Headline" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv, words", [
    (["--n", "0"], "--n must be at least 1"),
    (["--n", "many"], "invalid int value"),
    (["--seconds", "0"], "--seconds must be a positive number"),
    (["--seed", "0"], "test set"),
    (["--source", "nowhere"], "unknown source"),
])
def test_bad_flags_are_one_line_and_exit_code_2(argv, words, tmp_path, capsys):
    assert ss.main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ddspfx: error:") and words in err and "\n" not in err
    assert not (tmp_path / "o").exists()
