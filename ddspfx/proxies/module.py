"""``ProxyEffect``: the thin nn.Module over a proxy that speaks normalised parameters.

Models predict parameters in [0, 1] (B, P); the proxies take real units. This module maps
each column through ``catalog.denormalise_tensor`` (differentiable, log or linear as the
table says) and calls the proxy registered for the effect, so it works for every catalog
effect without knowing any of them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ddspfx.catalog import denormalise_tensor, get_effect
from ddspfx.proxies import get_proxy


class ProxyEffect(nn.Module):
    """One catalog effect as a module: ``forward(x (B, C, T), u (B, P') in [0, 1], sample_rate)``.

    ``u`` may carry extra trailing columns (e.g. padded to ``MAX_PARAMS``); only the
    first ``len(effect.params)`` are read, in catalog order. Values outside [0, 1] are clipped.
    """

    def __init__(self, effect: str) -> None:
        super().__init__()
        self.effect = get_effect(effect)

    @property
    def num_params(self) -> int:
        return len(self.effect.params)

    def real_params(self, u: Tensor) -> dict[str, Tensor]:
        """Normalised (B, P') -> {pedalboard keyword: (B,) real-unit tensor}."""
        if u.ndim != 2 or u.shape[1] < self.num_params:
            raise ValueError(
                f"{self.effect.name}: expected normalised params of shape (B, >={self.num_params}), got {tuple(u.shape)}"
            )
        return {p.name: denormalise_tensor(u[:, i], p) for i, p in enumerate(self.effect.params)}

    def forward(self, x: Tensor, u: Tensor, sample_rate: float) -> Tensor:
        if x.ndim != 3:
            raise ValueError(f"{self.effect.name}: proxies take (B, C, T) audio, got shape {tuple(x.shape)}")
        fn = get_proxy(self.effect.name)  # looked up per call: proxy modules import lazily
        # denormalise in float64, like catalog.denormalise, so that e.g. Delay's integer
        # trunc(float32(seconds) * fs) lands on the same sample as a pedalboard render.
        return fn(x, sample_rate, **self.real_params(u.to(torch.float64)))

    def extra_repr(self) -> str:
        return f"effect={self.effect.name!r}"


__all__ = ["ProxyEffect"]
