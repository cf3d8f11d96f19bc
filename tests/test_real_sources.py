"""experiments.real_sources: clips played at a recording's level keep their dry/wet relation and their labels."""

from __future__ import annotations

import numpy as np

from ddspfx.chain import Chain, Pedal
from ddspfx.evaluate import Example
from experiments.real_sources import played_at


def test_played_at_sets_the_wet_peak_and_scales_the_dry_by_the_same_gain():
    rng = np.random.default_rng(0)
    dry = (0.1 * rng.standard_normal(1000)).astype(np.float32)
    chain = Chain([Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.1, "mix": 0.3})])
    ex = Example(dry=dry, wet=(3.0 * dry).astype(np.float32), chain=chain)
    for db in (-30.0, -6.0, 0.0):
        (out,) = played_at([ex], db)
        assert np.isclose(np.max(np.abs(out.wet)), 10 ** (db / 20), rtol=1e-5)
        np.testing.assert_allclose(out.wet, 3.0 * out.dry, rtol=1e-5, atol=1e-8)
        assert out.chain is chain


def test_a_silent_clip_is_left_as_it_is():
    z = np.zeros(100, np.float32)
    (out,) = played_at([Example(dry=z, wet=z, chain=Chain([]))], -20.0)
    assert not out.wet.any() and not out.dry.any()
