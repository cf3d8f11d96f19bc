"""Differentiable torch proxies of the catalog's pedalboard effects.

``apply(effect, x, sample_rate, **params)`` dispatches by canonical name to a pure function
``fx(x, sample_rate, **params)`` on ``(B, C, T)`` tensors, params in real units under
pedalboard's keyword names (floats or ``(B,)`` tensors). Each proxy mirrors the JUCE code
behind the pedalboard plugin (see each module's docstring).
"""

from __future__ import annotations

import importlib
from typing import Callable

import torch

from ddspfx.catalog import EFFECT_NAMES, get_effect

# canonical name -> "module:function"; modules are imported on first use.
_PROXY_FUNCTIONS: dict[str, str] = {
    "compressor": "ddspfx.proxies.compressor:compressor",
    "distortion": "ddspfx.proxies.distortion:distortion",
    "eq": "ddspfx.proxies.eq:peak_filter",
    "chorus": "ddspfx.proxies.chorus:chorus",
    "phaser": "ddspfx.proxies.phaser:phaser",
    "delay": "ddspfx.proxies.delay:delay",
    "reverb": "ddspfx.proxies.reverb:reverb",
    "tremolo": "ddspfx.proxies.tremolo:tremolo",
    "flanger": "ddspfx.proxies.flanger:flanger",
    "fuzz": "ddspfx.proxies.fuzz:fuzz",
    "octave": "ddspfx.proxies.octave:octave",
    "wah": "ddspfx.proxies.wah:wah",
    "noise_gate": "ddspfx.proxies.noise_gate:noise_gate",
}
assert set(_PROXY_FUNCTIONS) == set(EFFECT_NAMES), "every catalog effect needs a proxy"


def get_proxy(effect: str) -> Callable[..., torch.Tensor]:
    """The pure proxy function for a canonical effect name."""
    get_effect(effect)
    module_name, func_name = _PROXY_FUNCTIONS[effect].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def apply(effect: str, x: torch.Tensor, sample_rate: float, **params) -> torch.Tensor:
    """Run the proxy of ``effect`` on ``x`` (B, C, T); same shape out."""
    if x.ndim != 3:
        raise ValueError(f"proxies take (B, C, T) audio, got shape {tuple(x.shape)}")
    return get_proxy(effect)(x, sample_rate, **params)


__all__ = ["apply", "get_proxy"]
