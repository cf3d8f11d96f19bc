"""A pedal's knobs: settings drawn for training data, and normalised knobs turned into a proxy's arguments.

Training data: uniform in normalised space over each knob's audible sub-range (``Param.sample_low``/``sample_high``
in the catalog), minus its dead zone. The chain sampler (``ddspfx.sampler``) draws every labelled pedal's settings
here, and the audibility measurement (``python -m ddspfx.audibility``) scores the same draw.

Proxies: models and fits work on knobs in [0, 1]; the proxies take real units. :func:`proxy_kwargs` is the one
mapping between them (the soft chain of the training loss, refinement's fits, the studies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ddspfx.catalog import EFFECTS, Effect, denormalise, denormalise_tensor, get_effect, normalise

if TYPE_CHECKING:  # torch is imported where it is used: the sampler's workers stay light
    from torch import Tensor

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


def sample_params(rng: np.random.Generator, effect: str, whole: bool = False) -> dict[str, float]:
    """Real-unit params, uniform in normalised space over each knob's audible sub-range (minus dead zones), or
    with ``whole`` over the knob's whole range (a light drive, a shallow chorus: ``ddspfx.audibility`` then
    decides whether the pedal is heard)."""
    eff = get_effect(effect)
    if whole:
        return {p.name: float(denormalise(rng.uniform(0.0, 1.0), p)) for p in eff.params}
    zones = DEAD_ZONES.get(eff.name, {})
    out = {}
    for p in eff.params:
        lo, hi = normalise(p.sample_low, p), normalise(p.sample_high, p)
        gap = zones.get(p.name)
        gap_u = None if gap is None else (normalise(gap[0], p), normalise(gap[1], p))
        out[p.name] = denormalise(uniform_excluding(rng, lo, hi, gap_u), p)
    return out


def proxy_kwargs(effect: str | Effect, u: Tensor) -> dict[str, Tensor]:
    """Normalised knobs (..., P') of ``effect`` in the catalog's order -> its proxy's real-unit keyword tensors,
    each (...,): ``catalog.denormalise_tensor`` per column (differentiable, clipped to [0, 1]). Columns past the
    effect's own P (padding to ``MAX_PARAMS``) are ignored. Pass float64 knobs where a render must land on the same
    sample as pedalboard's (a delay time truncated to samples)."""
    eff = get_effect(effect) if isinstance(effect, str) else effect
    if u.shape[-1] < len(eff.params):
        raise ValueError(f"{eff.name}: expected normalised knobs of shape (..., >={len(eff.params)}), "
                         f"got {tuple(u.shape)}")
    return {p.name: denormalise_tensor(u[..., i], p) for i, p in enumerate(eff.params)}


__all__ = ["DEAD_ZONES", "proxy_kwargs", "sample_params", "uniform_excluding"]
