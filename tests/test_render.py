"""render_chain against plain pedalboard, and the public labels.jsonl format."""

from __future__ import annotations

import json

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from ddspfx.catalog import EFFECT_NAMES, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.data.recipe import Recipe
from ddspfx.render import render_chain
from ddspfx.sampler import ChainSampler, SamplerConfig

SR = 44_100


def _dry(seed: int = 0, seconds: float = 0.5, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = np.sin(2 * np.pi * 196 * t) * np.exp(-3 * t) + 0.05 * rng.standard_normal(t.size)
    return (level * x / np.abs(x).max()).astype(np.float32)


def _plain(dry: np.ndarray, chain: Chain) -> np.ndarray:
    """The reference: plain pedalboard, written as a user of labels.jsonl would."""
    board = pedalboard.Pedalboard([getattr(pedalboard, {"compressor": "Compressor", "distortion": "Distortion",
                                                        "eq": "PeakFilter", "chorus": "Chorus", "phaser": "Phaser",
                                                        "delay": "Delay", "reverb": "Reverb", "flanger": "Chorus",
                                                        "noise_gate": "NoiseGate"}[p.effect])(**p.params, **FIXED.get(p.effect, {}))
                                   for p in chain])
    return board(dry[None, :].astype(np.float32), SR)[0]


FIXED = {"reverb": {"width": 1.0, "freeze_mode": 0.0}, "noise_gate": {"ratio": 10.0, "attack_ms": 1.0}}
"""What a user of labels.jsonl sets beside the knobs (README's pedal table: the catalog's fixed settings)."""


IN_PEDALBOARD = tuple(n for n in EFFECT_NAMES if get_effect(n).in_pedalboard)
"""The pedals plain pedalboard renders (the others: test_a_chain_with_pedals_pedalboard_lacks_...)."""


@pytest.mark.parametrize("seed", range(6))
def test_equals_plain_pedalboard_times_gain(seed):
    chain = ChainSampler(SamplerConfig(min_effects=1, effects=IN_PEDALBOARD)).sample(np.random.default_rng(seed))
    dry = _dry(seed)
    wet, gain = render_chain(dry, chain, SR)
    ref = _plain(dry, chain)
    assert wet.shape == dry.shape and wet.dtype == np.float32
    assert 0 < gain <= 1 and np.abs(wet).max() <= 0.99 + 1e-6
    assert gain == pytest.approx(min(1.0, 0.99 / np.abs(ref).max()), rel=1e-6)
    np.testing.assert_allclose(wet, gain * ref[: dry.size], atol=1e-6)


def test_gain_prevents_clipping_and_is_one_otherwise():
    dry = _dry(level=0.9)
    loud = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 40.0}}])
    wet, gain = render_chain(dry, loud, SR)
    assert gain < 1 and np.abs(wet).max() == pytest.approx(0.99, rel=1e-5)
    quiet = Chain.from_list([{"effect": "eq", "params": {"cutoff_frequency_hz": 1000.0, "gain_db": -6.0, "q": 1.0}}])
    _, gain = render_chain(_dry(level=0.2), quiet, SR)
    assert gain == 1.0


def test_empty_chain_is_identity_and_channels_first():
    dry = _dry()
    wet, gain = render_chain(dry, Chain(), SR)
    np.testing.assert_array_equal(wet, dry)
    stereo = np.stack([dry, 0.5 * dry])
    chain = Chain.from_list([{"effect": "delay", "params": {"delay_seconds": 0.1, "feedback": 0.3, "mix": 0.4}}])
    wet2, _ = render_chain(stereo, chain, SR)
    assert wet2.shape == (2, dry.size)
    np.testing.assert_allclose(wet2[1], 0.5 * wet2[0], atol=1e-6)  # delay is linear, channels independent


def test_state_does_not_leak_between_calls():
    chain = Chain.from_list([{"effect": "reverb", "params": {"room_size": 0.9, "damping": 0.2, "wet_level": 0.5, "dry_level": 0.5}}])
    a, _ = render_chain(_dry(1), chain, SR)
    render_chain(_dry(2), chain, SR)
    b, _ = render_chain(_dry(1), chain, SR)
    np.testing.assert_array_equal(a, b)


def test_labels_jsonl_reproduces_wet_with_plain_pedalboard(tmp_path):
    """The public format: anyone can rebuild wet from dry + chain + output_gain with plain pedalboard."""
    from ddspfx.data.materialise import write_dataset

    write_dataset(tmp_path, 3, seed=11, seconds=0.5, recipe=Recipe(sampler=SamplerConfig(min_effects=2, effects=IN_PEDALBOARD)),
                 progress=False)
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        rec = json.loads(line)
        assert {"id", "dry", "wet", "sample_rate", "chain", "output_gain", "seed"} <= set(rec)
        assert all(d["effect"] in EFFECT_NAMES for d in rec["chain"])
        dry, sr = sf.read(tmp_path / rec["dry"], dtype="float32")
        wet, _ = sf.read(tmp_path / rec["wet"], dtype="float32")
        assert sr == rec["sample_rate"] == SR
        ref = rec["output_gain"] * _plain(dry, Chain.from_list(rec["chain"]))[: dry.size]
        np.testing.assert_allclose(wet, ref, atol=1e-4)


def test_a_chain_with_pedals_pedalboard_lacks_renders_each_in_its_place():
    """Reference: the pedals applied one by one (pedalboard's plugin or ddspfx's function), in the chain's order;
    the same pedals in another order sound different (a fuzz before or after a tremolo)."""
    from ddspfx.catalog import dsp_function, get_effect, pedalboard_plugin, render_kwargs
    from ddspfx.render import run_reference

    sr = 44100
    t = np.arange(sr) / sr
    dry = (0.3 * np.sin(2 * np.pi * 196 * t) * np.exp(-2 * t)).astype(np.float32)[None]
    chain = Chain([Pedal("fuzz", {"gain_db": 30.0, "tone_hz": 2000.0}),
                   Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.3, "mix": 0.3}),
                   Pedal("tremolo", {"rate_hz": 5.0, "depth": 0.8, "shape": 0.5}),
                   Pedal("reverb", {"room_size": 0.5, "damping": 0.5, "wet_level": 0.3, "dry_level": 0.8})])
    y = dry
    for p in chain:
        eff = get_effect(p.effect)
        if eff.in_pedalboard:
            y = pedalboard_plugin(eff, p.params)(y, float(sr), reset=True)
        else:
            y = dsp_function(eff)(y, float(sr), **render_kwargs(eff, p.params))
    np.testing.assert_allclose(run_reference(dry, chain, sr), y, atol=1e-6)
    p = chain.pedals
    swapped = Chain([p[2], p[1], p[0], p[3]])
    assert np.max(np.abs(run_reference(dry, swapped, sr) - y)) > 0.05
