"""Refinement's waveform stage (``ddspfx.refine.polish_waveform``): knobs fitted to the waveform by pedalboard
renders, checked against the truth the clip was made with (the exact chain reproduces the wet to the float limit)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import si_sdr
from ddspfx.render import run_reference


def _pluck(seconds: float, f0: float = 196.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * np.exp(-3 * t)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


TRUTH = Chain([Pedal("distortion", {"drive_db": 20.0}),
               Pedal("delay", {"delay_seconds": 0.25, "feedback": 0.3, "mix": 0.4})])


def test_a_chain_rendered_in_two_parts_is_the_chain_rendered_at_once():
    """The stage renders the pedals before the searched one once, then the rest on that: the same audio."""
    dry = _pluck(1.0)
    chain = Chain([Pedal("distortion", {"drive_db": 18.0}),
                   Pedal("chorus", {"rate_hz": 1.3, "depth": 0.5, "centre_delay_ms": 8.0, "feedback": 0.1, "mix": 0.5}),
                   Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.3, "mix": 0.3}),
                   Pedal("reverb", {"room_size": 0.6, "damping": 0.5, "wet_level": 0.3, "dry_level": 0.8})])
    whole = run_reference(dry, chain, SAMPLE_RATE)
    for j in range(1, len(chain)):
        head = run_reference(dry, Chain(chain.pedals[:j]), SAMPLE_RATE)[0]
        np.testing.assert_allclose(run_reference(head, Chain(chain.pedals[j:]), SAMPLE_RATE), whole, atol=1e-6)


def test_the_waveform_stage_finds_the_echo_to_the_sample_and_the_drive():
    from ddspfx.refine import polish_waveform

    dry = _pluck(1.0)
    wet = run_reference(dry, TRUTH, SAMPLE_RATE)[0]
    start = Chain([Pedal("distortion", {"drive_db": 21.0}),
                   Pedal("delay", {"delay_seconds": 0.257, "feedback": 0.3, "mix": 0.4})])  # 7 ms, 1 dB off
    chain, before, after = polish_waveform(start, dry, wet, SAMPLE_RATE, time.perf_counter() + 600.0)  # a guard, not a timing: a loaded CI box is slow
    assert before < 10.0 and after > 60.0  # from an audible mismatch to the float limit
    assert abs(chain.pedals[1].params["delay_seconds"] - 0.25) <= 1.0 / SAMPLE_RATE
    assert chain.pedals[0].params["drive_db"] == pytest.approx(20.0, abs=0.05)
    assert after == pytest.approx(si_sdr(run_reference(dry, chain, SAMPLE_RATE)[0], wet), abs=1e-6)


def test_the_stage_stops_at_its_deadline():
    from ddspfx.refine import polish_waveform

    dry = _pluck(1.0)
    wet = run_reference(dry, TRUTH, SAMPLE_RATE)[0]
    start = Chain([Pedal("distortion", {"drive_db": 21.0}), Pedal("delay", dict(TRUTH.pedals[1].params))])
    chain, before, after = polish_waveform(start, dry, wet, SAMPLE_RATE, time.perf_counter())
    assert after == before and chain.pedals[0].params["drive_db"] == pytest.approx(21.0)


def test_refine_keeps_the_waveform_fit_only_when_closer_by_both_measures():
    """It runs on the winner and is kept only closer by SI-SDR and no farther by MR-STFT; ``waveform_s=0`` skips it."""
    from ddspfx.analysis import Analysis
    from ddspfx.catalog import EFFECT_NAMES
    from ddspfx.refine import refine

    dry = _pluck(1.0, seed=2)
    wet = run_reference(dry, TRUTH, SAMPLE_RATE)[0]
    guess = Analysis(chain=Chain([Pedal("distortion", {"drive_db": 16.0}),
                                  Pedal("delay", {"delay_seconds": 0.24, "feedback": 0.4, "mix": 0.3})]),
                     effect_confidence={**dict.fromkeys(EFFECT_NAMES, 0.0), "distortion": 1.0, "delay": 1.0},
                     order_confidence=1.0)
    off = refine(wet, dry, guess, SAMPLE_RATE, steps=20, toggles=0, top_k=1, waveform_s=0.0, budget_s=None)
    on = refine(wet, dry, guess, SAMPLE_RATE, steps=20, toggles=0, top_k=1, waveform_s=60.0, budget_s=None)
    assert off.sisdr is None and on.sisdr is not None
    got = si_sdr(run_reference(dry, on.analysis.chain, SAMPLE_RATE)[0], wet)
    assert got == pytest.approx(on.sisdr[1], abs=1e-6) and on.sisdr[1] >= on.sisdr[0]
    assert got >= si_sdr(run_reference(dry, off.analysis.chain, SAMPLE_RATE)[0], wet) - 1e-6
    assert on.distance_after <= off.distance_after + 1e-9
    assert "waveform SI-SDR" in on.summary()
