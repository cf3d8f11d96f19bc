"""One pedal's knob settings for training data: uniform in normalised space over each knob's audible
sub-range (``Param.sample_low``/``sample_high`` in the catalog), minus its dead zone.

The chain sampler (``ddspfx.sampler``) draws every labelled pedal's settings here, and the audibility
measurement (``python -m ddspfx.audibility``) scores the same draw.
"""

from __future__ import annotations

import numpy as np

from ddspfx.catalog import EFFECTS, denormalise, get_effect, normalise

DEAD_ZONES: dict[str, dict[str, tuple[float, float]]] = {
    e.name: {p.name: p.dead_zone for p in e.params if p.dead_zone is not None} for e in EFFECTS.values()
}
"""Open intervals (real units) excluded from the sampler's draw, per effect and knob (from the catalog)."""


def uniform_excluding(rng: np.random.Generator, lo: float, hi: float, gap: tuple[float, float] | None) -> float:
    """Uniform on [lo, hi] minus the open interval ``gap`` (all normalised)."""
    if gap is None:
        return float(rng.uniform(lo, hi))
    a, b = max(lo, gap[0]), min(hi, gap[1])
    if a >= b:
        return float(rng.uniform(lo, hi))
    u = rng.uniform(0.0, (a - lo) + (hi - b))
    return float(lo + u if u < a - lo else b + (u - (a - lo)))


def sample_params(rng: np.random.Generator, effect: str) -> dict[str, float]:
    """Real-unit params, uniform in normalised space over each knob's audible sub-range (minus dead zones)."""
    eff = get_effect(effect)
    zones = DEAD_ZONES.get(eff.name, {})
    out = {}
    for p in eff.params:
        lo, hi = normalise(p.sample_low, p), normalise(p.sample_high, p)
        gap = zones.get(p.name)
        gap_u = None if gap is None else (normalise(gap[0], p), normalise(gap[1], p))
        out[p.name] = denormalise(uniform_excluding(rng, lo, hi, gap_u), p)
    return out


__all__ = ["DEAD_ZONES", "sample_params", "uniform_excluding"]
