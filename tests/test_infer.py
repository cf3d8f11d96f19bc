"""The guitarist's command: python -m ddspfx.infer, its JSON, its errors, rendering and refinement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf
from startup import fresh_python

from ddspfx.analysis import aggregate, window_spans, window_starts
from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.infer import main


def _pluck(seconds: float = 1.0, sr: int = SAMPLE_RATE, f0: float = 196.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * np.exp(-3 * t)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture()
def clips(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _pluck(1.0), SAMPLE_RATE, subtype="FLOAT")
    stereo48 = tmp_path / "stereo48.wav"
    x = _pluck(1.0, sr=48000)
    sf.write(stereo48, np.stack([x, 0.5 * x], axis=1), 48000, subtype="FLOAT")
    short = tmp_path / "short.wav"
    sf.write(short, _pluck(0.1), SAMPLE_RATE)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    nan = tmp_path / "nan.wav"
    y = _pluck(1.0)
    y[100:110] = np.nan
    sf.write(nan, y, SAMPLE_RATE, subtype="FLOAT")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    return {"good": good, "stereo48": stereo48, "short": short, "silent": silent, "nan": nan, "text": text,
            "missing": tmp_path / "missing.wav"}


def test_json_one_object_per_good_file_and_one_error_line_per_bad_one(clips, tiny_checkpoint, capsys):
    files = [str(clips[k]) for k in ("good", "short", "stereo48", "silent", "nan", "text", "missing")]
    rc = main([*files, "--json", "--checkpoint", str(tiny_checkpoint)])
    out, err = capsys.readouterr()
    assert rc == 1  # some files failed, the others were still analysed
    lines = out.strip().splitlines()
    assert [json.loads(line)["file"] for line in lines] == [str(clips["good"]), str(clips["stereo48"])]
    for line in lines:
        obj = json.loads(line)
        for pedal in obj["chain"]:
            assert pedal["effect"] in EFFECT_NAMES
            assert set(pedal["params"]) == set(get_effect(pedal["effect"]).param_names)
        Chain.from_list(obj["chain"])  # valid chain in the public format
        assert 0.0 <= obj["confidence"]["order"] <= 1.0
    err_lines = err.strip().splitlines()
    assert len(err_lines) == 5 and all(line.startswith("ddspfx: error: ") for line in err_lines)
    said = {k: [line for line in err_lines if str(clips[k]) in line] for k in ("short", "silent", "nan", "text", "missing")}
    assert all(len(lines) == 1 for lines in said.values())  # one line per bad file (unreadable ones first)
    assert "0.10 s" in said["short"][0] and "silent" in said["silent"][0] and "NaN" in said["nan"][0]
    assert "not an audio file" in said["text"][0] and "does not exist" in said["missing"][0]
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["--beam", "0", "x.wav"], "--beam must be at least 1"),
    (["x.wav", "--refine"], "--refine needs the clip's dry recording"),
    (["x.wav", "--dry", "d.wav", "--refine", "--refine-toggles", "-1"], "--refine-toggles must be >= 0"),
    (["x.wav", "--dry", "d.wav", "--refine-waveform", "10"], "--refine-waveform is seconds >= 0 for --refine"),
    (["x.wav", "--dry", "d.wav", "--refine", "--refine-waveform", "-1"], "--refine-waveform is seconds >= 0"),
    (["x.wav", "--bogus"], "unrecognized arguments"),
    (["x.wav", "--order-search", "sorted"], "invalid choice: 'sorted'"),
    ([], "give at least one clip"),
    (["x.wav", "--checkpoint", "/nonexistent/model.safetensors"], "model.safetensors"),
    (["x.wav", "--dry", "d.wav", "--refine", "--refine-budget", "0"], "--refine-budget must be a positive number"),
    (["x.wav", "--dry", "d.wav", "--refine", "--refine-budget", "-5"], "--refine-budget must be a positive number"),
    (["x.wav", "--refine-budget", "5"], "add --refine"),
    (["x.wav", "--plot", "x.jpg"], "--plot writes a PNG image: give a name ending in .png"),
    (["--demo", "x.wav"], "--demo makes its own clip: give clips or --demo, not both"),
    (["--demo", "--plot", "x.png"], "--demo makes its own clip"),
])
def test_bad_flags_are_one_line_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_order_search_flag_keeps_the_effects_and_may_change_only_their_order(clips, tiny_checkpoint, capsys):
    chains = {}
    for mode in ("beam", "exhaustive"):
        assert main([str(clips["good"]), "--json", "--checkpoint", str(tiny_checkpoint), "--order-search", mode]) == 0
        chains[mode] = [p["effect"] for p in json.loads(capsys.readouterr().out)["chain"]]
    assert sorted(chains["beam"]) == sorted(chains["exhaustive"])


def test_render_onto_applies_the_printed_chain_with_pedalboard(clips, tiny_checkpoint, tmp_path, capsys):
    dry = tmp_path / "my_dry.wav"
    sf.write(dry, _pluck(1.5, f0=110.0, seed=3), SAMPLE_RATE, subtype="FLOAT")
    out_wav = tmp_path / "out.wav"
    assert main([str(clips["good"]), "--json", "--checkpoint", str(tiny_checkpoint),
                 "--render-onto", str(dry), "--out", str(out_wav)]) == 0
    obj = json.loads(capsys.readouterr().out)
    rendered, sr = sf.read(out_wav, dtype="float32")
    assert sr == SAMPLE_RATE
    x, _ = sf.read(dry, dtype="float32")
    ref = Chain.from_list(obj["chain"]).to_pedalboard()(x[None], SAMPLE_RATE, reset=True)[0]
    gain = min(1.0, 0.99 / max(float(np.abs(ref).max()), 1e-9))
    assert rendered.shape == x.shape
    np.testing.assert_allclose(rendered, gain * ref, atol=1e-5)


def test_plot_and_dry_report(clips, tiny_checkpoint, tmp_path, capsys):
    png = tmp_path / "clip.png"
    assert main([str(clips["good"]), "--checkpoint", str(tiny_checkpoint), "--dry", str(clips["good"]),
                 "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "distance to the clip: dry 0.000" in out  # the clip is its own dry here


def test_fit_params_recovers_distortion_drive_through_the_proxy():
    from ddspfx.refine import fit_params

    dry = _pluck(0.5)
    wet = pedalboard.Distortion(drive_db=24.0)(dry[None], SAMPLE_RATE)[0]
    start = Chain([Pedal("distortion", {"drive_db": 8.0})])
    fitted = fit_params(start, dry, wet, SAMPLE_RATE, steps=80, lr=0.1)
    assert fitted.pedals[0].params["drive_db"] == pytest.approx(24.0, abs=1.5)
    # a strong prior holds an anchored pedal at its start; an unanchored one still moves
    held = fit_params(start, dry, wet, SAMPLE_RATE, steps=80, lr=0.1, prior=100.0)
    assert held.pedals[0].params["drive_db"] < 12.0
    free = fit_params(start, dry, wet, SAMPLE_RATE, steps=80, lr=0.1, prior=100.0, anchored=[False])
    assert free.pedals[0].params["drive_db"] == pytest.approx(24.0, abs=1.5)


def test_window_audio_and_vote():
    x = np.ones(5 * 100, np.float32)
    x[200:300] = 0.0  # a silent window is dropped
    assert [x[s].shape[0] for s in window_spans(x, 100)] == [100, 100, 100, 100]
    assert len(window_spans(np.ones(140, np.float32), 100)) == 1

    class P:  # the fields aggregate reads from ddspfx.model.Prediction
        def __init__(self, chain, alts, logp, conf):
            self.chain, self.alternatives, self.log_prob, self.effect_confidence = chain, alts, logp, conf

    a = Chain([Pedal("distortion", {"drive_db": 10.0}), Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.1, "mix": 0.3})])
    b = Chain([Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.1, "mix": 0.3}), Pedal("distortion", {"drive_db": 30.0})])
    preds = [P(a, [(b, np.log(0.25))], np.log(0.75), {"distortion": 0.9, "delay": 0.8}),
             P(a, [(b, np.log(0.25))], np.log(0.75), {"distortion": 0.7, "delay": 0.6}),
             P(b, [(a, np.log(0.4))], np.log(0.6), {"distortion": 0.8, "delay": 1.0})]
    res = aggregate(preds)
    assert res.chain.effects == ["distortion", "delay"]  # votes 0.75+0.75+0.4 vs 0.25+0.25+0.6
    assert res.order_confidence == pytest.approx((0.75 + 0.75 + 0.4) / 3)
    assert res.effect_confidence["distortion"] == pytest.approx(0.8)
    # drive: median over the three windows of normalised 10, 10, 30 dB -> 10 dB
    assert res.chain.pedals[0].params["drive_db"] == pytest.approx(10.0)
    runner = res.runner_up_order()
    assert runner is not None and runner[0].effects == ["delay", "distortion"]


@pytest.mark.parametrize("windows", [1.0, 1.5, 1.9, 1.95, 2.6, 2.95, 3.0, 7.3])
def test_windows_hear_the_whole_clip(windows):
    w = 1000
    n = int(windows * w)
    starts = window_starts(n, w)
    heard = np.zeros(n, bool)
    for s in starts:
        heard[s: s + (w if len(starts) > 1 else n)] = True
    assert heard.all()  # the end of the clip is analysed too (a 3.9-s clip was heard for 2 s only)
    if len(starts) > 1:
        assert all(s + w <= n for s in starts) and len(starts) == int(np.ceil(n / w))
    pieces = [np.ones(n, np.float32)[s] for s in window_spans(np.ones(n, np.float32), w)]
    assert sum(p.shape[0] for p in pieces) >= n


def test_vote_pools_audibly_equivalent_orders():
    """eq and delay commute (measured, ddspfx/commuting.json): "eq, delay, distortion" (0.30) and "delay, eq,
    distortion" (0.25) sound the same, so together (0.55) they beat the single most likely order (0.45)."""
    class P:
        def __init__(self, chain, alts, logp):
            self.chain, self.alternatives, self.log_prob = chain, alts, logp
            self.effect_confidence = {"eq": 0.9, "delay": 0.9, "distortion": 0.9}

    pedals = {"eq": Pedal("eq", {"cutoff_frequency_hz": 800.0, "gain_db": 6.0, "q": 1.0}),
              "delay": Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.1, "mix": 0.3}),
              "distortion": Pedal("distortion", {"drive_db": 20.0})}

    def chain(*names):
        return Chain([pedals[n] for n in names])

    a, b, c = chain("eq", "delay", "distortion"), chain("delay", "eq", "distortion"), chain("distortion", "eq", "delay")
    res = aggregate([P(c, [(a, np.log(0.30)), (b, np.log(0.25))], np.log(0.45))])
    assert res.chain.effects == ["eq", "delay", "distortion"]
    assert res.order_confidence == pytest.approx(0.55)
    assert [(alt.effects, p) for alt, p in res.alternatives] == [(c.effects, pytest.approx(0.45))]
    runner = res.runner_up_order()
    assert runner is not None and runner[0].effects == c.effects


def test_estimate_api_accepts_soundfile_layout(tiny_checkpoint):
    from ddspfx.estimator import Estimator

    est = Estimator(tiny_checkpoint, beam=2)
    x = _pluck(1.0)
    a = est.analyse(np.stack([x, x], axis=1), SAMPLE_RATE)  # (T, C) as soundfile returns it
    b = est.analyse(x, SAMPLE_RATE)
    assert a.chain.to_list() == b.chain.to_list()


def test_integer_pcm_is_scaled_like_soundfile_reads_it(tiny_checkpoint):
    from ddspfx.audio import as_float
    from ddspfx.estimator import Estimator

    assert as_float(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert as_float(np.array([0, 128, 192], np.uint8)).tolist() == [-1.0, 0.0, 0.5]
    assert as_float(np.array([-(2 ** 31), 2 ** 30], np.int32)).tolist() == [-1.0, 0.5]
    x = _pluck(1.0)
    pcm = np.round(x * 32767).astype(np.int16)
    est = Estimator(tiny_checkpoint, beam=2)
    assert est.analyse(pcm, SAMPLE_RATE).chain.to_list() == est.analyse(pcm.astype(np.float32) / 32768, SAMPLE_RATE).chain.to_list()


@pytest.mark.parametrize("rate", [0, -44100, 44100.5])
def test_bad_sample_rates_are_one_line_errors(tiny_checkpoint, rate):
    from ddspfx.errors import DdspfxError
    from ddspfx.estimator import Estimator

    with pytest.raises(DdspfxError, match="sample_rate must be a positive whole number"):
        Estimator(tiny_checkpoint).analyse(_pluck(1.0), rate)


def test_demo_prints_truth_and_estimate(tiny_checkpoint, capsys):
    assert main(["--demo", "--seed", "3", "--checkpoint", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "true:" in out and "estimated:" in out


def test_refine_toggles_uncertain_pedals():
    """Effect-set search with the dry signal: neutral start values, which pedals are flipped and where they go,
    the margin rule on hand-made distances, then a lone eq the blind estimate missed is found by the fit."""
    from ddspfx.analysis import Analysis
    from ddspfx.refine import choose, neutral_pedal, refine, toggled_chains

    eq = neutral_pedal("eq")  # middle of the sampled ranges: 0 dB (between the two sides of the dead zone)
    assert eq.params["gain_db"] == pytest.approx(0.0, abs=1e-9)
    assert eq.params["cutoff_frequency_hz"] == pytest.approx(1000.0) and eq.params["q"] == pytest.approx(1.25 ** 0.5)
    chain = Chain([Pedal("distortion", {"drive_db": 20.0}), Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.1, "mix": 0.3})])
    conf = {"distortion": 0.99, "delay": 0.6, "eq": 0.3, "reverb": 0.02, "compressor": 0.0, "chorus": 0.0, "phaser": 0.0}
    flipped = toggled_chains(chain, conf, toggles=2)  # delay (|0.6 - 0.5| = 0.1) first, then eq; reverb is sure
    assert [c.effects for c in flipped] == [["distortion"], ["distortion", "eq", "delay"]]
    assert toggled_chains(chain, conf, toggles=0) == []
    a, b, c = [], ["eq"], ["delay"]
    assert choose([(a, 1.0), (b, 0.96)], a, set_margin=0.05) == 0  # 4 % closer: not enough for another set
    assert choose([(a, 1.0), (b, 0.94), (c, 0.90)], a, set_margin=0.05) == 2  # 10 % closer
    assert choose([(a, 1.0), (b, 0.94)], a, set_margin=0.1) == 0
    assert choose([(["eq", "delay"], 0.5), (["delay", "eq"], 0.4), (c, 0.39)], ["eq", "delay"]) == 1  # an order

    dry = _pluck(0.5)
    wet = pedalboard.PeakFilter(cutoff_frequency_hz=1500.0, gain_db=10.0, q=1.0)(dry[None], SAMPLE_RATE)[0]
    blind = Analysis(chain=Chain([]), effect_confidence={**dict.fromkeys(conf, 0.0), "eq": 0.3}, order_confidence=1.0)
    result = refine(wet, dry, blind, SAMPLE_RATE, steps=80, toggles=1)
    assert result.analysis.chain.effects == ["eq"] and result.distance_after < 0.7 * result.distance_before
    assert result.analysis.chain.pedals[0].params["gain_db"] > 5.0
    assert "; added eq" in result.summary()
    assert refine(wet, dry, blind, SAMPLE_RATE, steps=80, toggles=0).analysis.chain.effects == []


def test_refine_never_ends_farther_from_the_clip_than_its_dry():
    """A clean clip (wet == dry) that the blind estimate thinks has a chorus and an eq: no fitted chain is as
    close as the dry itself, so refinement answers "no pedal"."""
    from ddspfx.analysis import Analysis
    from ddspfx.refine import refine

    dry = _pluck(0.5)
    guess = Chain([Pedal("chorus", {"rate_hz": 2.0, "depth": 0.6, "centre_delay_ms": 8.0, "feedback": 0.2, "mix": 0.6}),
                   Pedal("eq", {"cutoff_frequency_hz": 900.0, "gain_db": 9.0, "q": 1.0})])
    conf = {**dict.fromkeys(EFFECT_NAMES, 0.0), "chorus": 0.9, "eq": 0.9}
    result = refine(dry.copy(), dry, Analysis(chain=guess, effect_confidence=conf, order_confidence=1.0),
                    SAMPLE_RATE, steps=10, toggles=0)
    assert result.analysis.chain.effects == []
    assert result.distance_after == pytest.approx(result.distance_dry) and result.distance_after <= result.distance_before


def test_a_longer_budget_searches_the_orders_that_sound_different():
    """extra_candidates: one order per class of audibly equivalent orders (eq and delay commute, distortion does
    not), then each pedal left out; refine tries them only with a budget, and stops when it is spent."""
    from ddspfx.analysis import Analysis
    from ddspfx.refine import extra_candidates, refine

    dist = Pedal("distortion", {"drive_db": 20.0})
    eq = Pedal("eq", {"cutoff_frequency_hz": 900.0, "gain_db": 8.0, "q": 1.0})
    delay = Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.2, "mix": 0.3})
    extra = [c.effects for c in extra_candidates(Chain([eq, delay, dist]))]
    orders = [e for e in extra if len(e) == 3]
    assert ["eq", "delay", "distortion"] not in orders and ["delay", "eq", "distortion"] not in orders  # same sound
    assert ["distortion", "eq", "delay"] in orders or ["distortion", "delay", "eq"] in orders
    assert sorted(map(sorted, (e for e in extra if len(e) == 2))) == sorted(
        [sorted(["delay", "distortion"]), sorted(["eq", "distortion"]), sorted(["eq", "delay"])])

    dry = _pluck(0.5)
    wet = pedalboard.Pedalboard([pedalboard.Delay(delay_seconds=0.2, feedback=0.2, mix=0.3),
                                 pedalboard.Distortion(drive_db=20.0)])(dry[None], SAMPLE_RATE)[0]
    conf = {**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 0.99, "delay": 0.99}
    guess = Analysis(chain=Chain([dist, delay]), effect_confidence=conf, order_confidence=0.6)
    search = {"steps": 5, "toggles": 0, "top_k": 1, "waveform_s": 0.0}  # the candidates only (no waveform stage)
    quick = refine(wet, dry, guess, SAMPLE_RATE, budget_s=None, **search)  # no limit: the estimate's own candidates
    longer = refine(wet, dry, guess, SAMPLE_RATE, budget_s=600.0, **search)
    tiny = refine(wet, dry, guess, SAMPLE_RATE, budget_s=1e-9, **search)
    assert len(quick.scored) == 2 and len(tiny.scored) == 2  # one fit and the estimate itself
    assert ["delay", "distortion"] in [c.effects for c, _ in longer.scored]  # the other order was tried ...
    assert longer.analysis.chain.effects == ["delay", "distortion"]  # ... and it is the one that sounds right
    assert longer.distance_after <= quick.distance_after


def test_with_time_left_refine_tries_the_pedals_the_estimate_left_out():
    """A distortion the model was sure is absent: with time left and ``Schedule.insert_absent``, refine inserts each
    missing pedal (the likeliest first) and keeps the one that brings the render far closer; without it, it cannot."""
    from ddspfx.analysis import Analysis
    from ddspfx.refine import Schedule, extra_candidates, refine

    delay = Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.2, "mix": 0.3})
    conf = {**dict.fromkeys(EFFECT_NAMES, 0.01), "delay": 0.99, "reverb": 0.03, "distortion": 0.02}
    extra = [c.effects for c in extra_candidates(Chain([delay]), conf)]
    assert extra[:2] == [["delay", "reverb"], ["distortion", "delay"]]  # likeliest first, each where it belongs
    assert sorted(e for c in extra for e in c if e != "delay") == sorted(e for e in EFFECT_NAMES if e != "delay")

    dry = _pluck(0.5)
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=24.0),
                                 pedalboard.Delay(delay_seconds=0.2, feedback=0.2, mix=0.3)])(dry[None], SAMPLE_RATE)[0]
    guess = Analysis(chain=Chain([delay]), effect_confidence=conf, order_confidence=1.0)
    search = {"steps": 20, "toggles": 0, "top_k": 1}
    without = refine(wet, dry, guess, SAMPLE_RATE, budget_s=600.0, **search)
    longer = refine(wet, dry, guess, SAMPLE_RATE, budget_s=600.0, schedule=Schedule(insert_absent=True), **search)
    assert without.analysis.chain.effects == ["delay"]
    assert longer.analysis.chain.effects == ["distortion", "delay"]
    assert longer.distance_after < 0.9 * without.distance_after


def test_a_spent_budget_stops_the_fit_under_way(monkeypatch):
    """The time limit holds for the first candidate and the polish too: with the budget spent, the first fit stops
    at its first check (after its grid search) and nothing else is fitted; the answer is still never farther from
    the clip than its dry. Unlimited, the same search descends and polishes."""
    import ddspfx.refine as refine_module
    from ddspfx.analysis import Analysis

    fits: list[int] = []  # descent objectives evaluated by each fit
    real_fit = refine_module.fit

    def counted(*args, **kwargs):
        out = real_fit(*args, **kwargs)
        fits.append(len(out.losses))
        return out

    monkeypatch.setattr(refine_module, "fit", counted)
    dry = _pluck(2.0)
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=18.0)])(dry[None], SAMPLE_RATE)[0]
    conf = {**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 0.9}
    guess = Analysis(chain=Chain([Pedal("distortion", {"drive_db": 6.0})]), effect_confidence=conf,
                     order_confidence=1.0)
    spent = refine_module.refine(wet, dry, guess, SAMPLE_RATE, steps=60, toggles=0, top_k=1, budget_s=1e-9)
    assert fits == [1]  # one fit, stopped where it began
    assert spent.distance_after <= min(spent.distance_dry, spent.distance_before)
    fits.clear()
    free = refine_module.refine(wet, dry, guess, SAMPLE_RATE, steps=60, toggles=0, top_k=1, budget_s=None)
    assert len(fits) == 2 and fits[0] > 1  # the search descended, then the closest was polished
    assert free.distance_after < spent.distance_after


def test_fit_params_finds_a_far_delay_time():
    """The delay time's loss has a minimum at every echo alignment, so gradient descent from a far start
    stalls; refinement grid-searches such knobs (``Param.multimodal``) first."""
    from ddspfx.refine import fit_params

    dry = _pluck(1.5)
    wet = pedalboard.Delay(delay_seconds=0.45, feedback=0.3, mix=0.4)(dry[None], SAMPLE_RATE)[0]
    start = Chain([Pedal("delay", {"delay_seconds": 0.12, "feedback": 0.3, "mix": 0.4})])
    fitted = fit_params(start, dry, wet, SAMPLE_RATE, steps=20)
    assert fitted.pedals[0].params["delay_seconds"] == pytest.approx(0.45, abs=0.01)


def test_refine_fits_time_variant_chains_from_the_clip_start(monkeypatch):
    """A chorus' LFO runs from the clip's first sample, so its chain is fitted on the clip's start; a
    time-invariant chain on the loudest segment."""
    import ddspfx.refine as refine_mod
    from ddspfx.analysis import Analysis

    dry = np.concatenate([0.01 * _pluck(2.0), _pluck(2.0)])  # the loud part starts at 2 s
    starts = {}

    def record(chain, dry_seg, wet_seg, sample_rate, steps, **kwargs):
        starts[tuple(chain.effects)] = int(np.flatnonzero(np.isclose(dry, dry_seg[0]) & np.isclose(
            np.roll(dry, -1), dry_seg[1]))[0])
        return chain

    monkeypatch.setattr(refine_mod, "fit_params", record)
    chorus = Pedal("chorus", {"rate_hz": 1.0, "depth": 0.5, "centre_delay_ms": 7.0, "feedback": 0.0, "mix": 0.5})
    eq = Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 6.0, "q": 1.0})
    for chain in (Chain([eq]), Chain([eq, chorus])):
        an = Analysis(chain=chain, effect_confidence={e: 1.0 for e in chain.effects}, order_confidence=1.0)
        refine_mod.refine(dry, dry, an, SAMPLE_RATE, steps=1, max_seconds=1.0, toggles=0)
    assert starts[("eq",)] >= 2 * SAMPLE_RATE and starts[("eq", "chorus")] == 0


def test_long_files_are_read_window_by_window_with_the_same_answer(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    import ddspfx.audio
    import ddspfx.infer as infer
    from ddspfx.estimator import Estimator

    x = np.concatenate([_pluck(1.0, seed=s) for s in range(7)])  # 7 s: many windows, the last one aligned to the end
    path = tmp_path / "long.wav"
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    est = Estimator(tiny_checkpoint, beam=2)
    whole = est.analyse_many([x])[0]
    reads: list[int] = []
    real_read = ddspfx.audio.read_span
    monkeypatch.setattr(ddspfx.audio, "read_span", lambda f, s, n, *a, **k: reads.append(n) or real_read(f, s, n, *a, **k))
    streamed = est.analyse_file(path)
    assert streamed.chain.to_list() == whole.chain.to_list()
    assert streamed.windows == whole.windows == len(window_starts(x.size, est.window)) > 3
    assert max(reads) == est.window  # never more than one window of the file in memory at once

    monkeypatch.setattr(infer, "STREAM_SECONDS", 5.0)  # the CLI streams files longer than this
    assert main([str(path), "--json", "--checkpoint", str(tiny_checkpoint), "--beam", "2"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["chain"] == whole.chain.to_list() and "window" in out.err  # progress on stderr


def test_a_long_silent_file_is_a_one_line_error(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    import ddspfx.infer as infer

    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros(7 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    monkeypatch.setattr(infer, "STREAM_SECONDS", 5.0)
    assert main([str(path), "--checkpoint", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "silent" in err[0]


def test_dry_is_lined_up_with_the_clip_before_refinement(clips, tiny_checkpoint, tmp_path, capsys):
    from ddspfx.align import shift

    dry = _pluck(1.0)
    wet = pedalboard.Distortion(drive_db=20.0)(dry[None], SAMPLE_RATE)[0]
    sf.write(tmp_path / "wet.wav", 0.5 * shift(wet, 441), SAMPLE_RATE, subtype="FLOAT")  # recorded 10 ms late
    sf.write(tmp_path / "dry.wav", dry, SAMPLE_RATE, subtype="FLOAT")
    assert main([str(tmp_path / "wet.wav"), "--dry", str(tmp_path / "dry.wav"), "--json",
                 "--checkpoint", str(tiny_checkpoint)]) == 0
    assert json.loads(capsys.readouterr().out)["dry_offset_ms"] == 10.0


def test_refine_waveform_reaches_the_refinement(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    import ddspfx.refine as refine_mod

    seen = []
    real = refine_mod.refine

    def recording(*args, **kwargs):
        seen.append(kwargs["waveform_s"])
        return real(*args, **kwargs)

    monkeypatch.setattr(refine_mod, "refine", recording)
    dry = _pluck(0.5)
    sf.write(tmp_path / "wet.wav", pedalboard.Distortion(drive_db=20.0)(dry[None], SAMPLE_RATE)[0], SAMPLE_RATE)
    sf.write(tmp_path / "dry.wav", dry, SAMPLE_RATE)
    base = [str(tmp_path / "wet.wav"), "--dry", str(tmp_path / "dry.wav"), "--json", "--checkpoint",
            str(tiny_checkpoint), "--refine", "--refine-steps", "2", "--refine-toggles", "0"]
    assert main(base) == 0 and main([*base, "--refine-waveform", "3"]) == 0
    assert seen == [0.0, 3.0]  # off unless asked
    capsys.readouterr()


# --- the command line's own faults (issue 31) -------------------------------------------------------------------------


def _wav(path: Path, x: np.ndarray) -> Path:
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    return path


def _infer(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ddspfx.infer", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_a_reader_that_leaves_ends_the_output_quietly(tiny_checkpoint, tmp_path):
    """``infer a.wav b.wav --json | head -1``: the reader goes away; no BrokenPipeError traceback."""
    files = [str(_wav(tmp_path / f"{k}.wav", _pluck(1.0, seed=k))) for k in range(2)]
    proc = _infer(*files, "--json", "--checkpoint", str(tiny_checkpoint))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the first line: every write meets a closed pipe
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 141  # 128 + SIGPIPE, as a shell reports a writer whose reader left
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_a_clips_answer_does_not_depend_on_the_other_clips_of_the_call(tiny_checkpoint, tmp_path, capsys):
    """A 2-s clip batched with a 3-s one was zero-padded to 3 s, and its knobs and confidences changed."""
    short = str(_wav(tmp_path / "short.wav", _pluck(2.0, seed=4)))
    longer = str(_wav(tmp_path / "longer.wav", _pluck(3.0, f0=110.0, seed=5)))
    long7 = str(_wav(tmp_path / "long7.wav", np.concatenate([_pluck(1.0, seed=s) for s in range(7)])))
    alone = {}
    for path in (short, longer, long7):
        assert main([path, "--json", "--checkpoint", str(tiny_checkpoint)]) == 0
        alone[path] = json.loads(capsys.readouterr().out)
    assert main([short, longer, long7, "--json", "--checkpoint", str(tiny_checkpoint)]) == 0
    together = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert together == [alone[short], alone[longer], alone[long7]]


def test_demo_honours_json(tiny_checkpoint, capsys):
    assert main(["--demo", "--json", "--seed", "3", "--checkpoint", str(tiny_checkpoint)]) == 0
    (line,) = capsys.readouterr().out.splitlines()  # one JSON object, nothing else
    obj = json.loads(line)
    Chain.from_list(obj["chain"])
    assert 2 <= len(Chain.from_list(obj["true_chain"])) <= 4 and "demo" in obj["file"]


def test_the_dry_alone_is_not_reported_as_a_refinement(clips, tiny_checkpoint, capsys):
    """``--dry`` without ``--refine`` measures the estimate against the dry; it prints no "refine:" line, and --help
    no longer says --dry is only for --refine."""
    from ddspfx.infer import build_parser

    assert main([str(clips["good"]), "--dry", str(clips["good"]), "--checkpoint", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "refine:" not in out and "refined " not in out  # (the summary of a refinement says "refined 0.123")
    assert "  dry: distance to the clip: dry 0.000, estimate " in out and "(not refined); dry moved by 0 ms" in out
    dry_help = next(a.help for a in build_parser()._actions if a.option_strings == ["--dry"])
    assert "for --refine" not in dry_help and "dry-aware model" in dry_help


def test_plot_refuses_a_missing_folder_and_creates_none(tmp_path, capsys):
    target = tmp_path / "missing" / "dir" / "x.png"
    assert main(["x.wav", "--plot", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and str(target.parent) in err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("role", ["clip", "--dry", "--render-onto"])
def test_an_unreadable_file_has_one_exit_status_whatever_its_role(role, clips, tiny_checkpoint, capsys):
    bad = str(clips["text"])
    good = str(clips["good"])
    argv = [bad] if role == "clip" else [good, role, bad]
    assert main([*argv, "--checkpoint", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an audio file" in err


def test_a_missing_file_is_reported_before_the_model_loads(tmp_path):
    """The header is read before torch is imported, so a typo in a name is said at once."""
    code = ("import sys; from ddspfx.infer import main; rc = main(['nope.wav']); "
            "print('torch' in sys.modules); sys.exit(rc)")
    done = fresh_python(code, tmp_path)
    assert done.returncode == 1 and done.stdout.strip() == "False"
    assert done.stderr.count("\n") == 1 and "nope.wav does not exist" in done.stderr


def test_a_clip_that_does_not_sound_like_a_guitar_is_answered_with_a_warning(tmp_path, tiny_checkpoint, capsys):
    """White noise still gets an answer, with a one-line warning in the text, on stderr and in the JSON; a plucked
    string (the reference: a guitar-like harmonic note) gets none."""
    import json

    import soundfile as sf

    noise = (0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    sf.write(tmp_path / "noise.wav", noise, SAMPLE_RATE)
    sf.write(tmp_path / "pluck.wav", _pluck(2.0), SAMPLE_RATE)
    assert main([str(tmp_path / "noise.wav"), "--checkpoint", str(tiny_checkpoint)]) == 0
    assert "  warning: little pitched content" in capsys.readouterr().out
    assert main([str(tmp_path / "noise.wav"), str(tmp_path / "pluck.wav"), "--json",
                 "--checkpoint", str(tiny_checkpoint)]) == 0
    captured = capsys.readouterr()
    noisy, plucked = (json.loads(line) for line in captured.out.splitlines())
    assert noisy["guitar_check"]["likely_guitar"] is False and plucked["guitar_check"]["likely_guitar"] is True
    assert captured.err.count("ddspfx: warning:") == 1 and "noise.wav" in captured.err
