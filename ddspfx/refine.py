"""Analysis by synthesis: when the clip's dry recording is known, fit the chain to the clip.

The model's estimate is a starting point. For each of the top-k candidate chains (the best
decoding and the beam's alternatives, i.e. other orders or effect sets), the normalised
parameters are optimised by gradient descent through the differentiable proxies on a
multi-resolution STFT loss; then every candidate is re-rendered with the *real* pedalboard
effects and the closest one wins. Orders are discrete, so they are chosen by search, not
by gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ddspfx.catalog import denormalise_params, denormalise_tensor, get_effect, normalise_params
from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import MRSTFTDistance


@dataclass
class RefineResult:
    """The refined analysis and what refinement gained (distances: MR-STFT, peak-normalised)."""

    analysis: object  # ddspfx.infer.Analysis (not imported: infer imports this module)
    distance_dry: float
    distance_before: float
    distance_after: float
    candidates: list[tuple[list[str], float]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"distance to the clip: dry {self.distance_dry:.3f}, estimate {self.distance_before:.3f}, "
                f"refined {self.distance_after:.3f}")


def _loudest_segment(x: np.ndarray, n: int) -> int:
    """Start index of the loudest ``n``-sample segment (hop n/4), where the pedals show most."""
    if x.shape[-1] <= n:
        return 0
    hop = max(1, n // 4)
    starts = range(0, x.shape[-1] - n + 1, hop)
    return max(starts, key=lambda s: float(np.mean(x[s:s + n] ** 2)))


def fit_params(chain: Chain, dry: np.ndarray, wet: np.ndarray, sample_rate: int, steps: int = 150,
               lr: float = 0.05) -> Chain:
    """Gradient descent on the normalised parameters of ``chain`` (order fixed) through the proxies."""
    import auraloss
    import torch

    from ddspfx.proxies import apply

    if steps <= 0 or not chain.pedals:
        return chain
    x = torch.from_numpy(np.asarray(dry, np.float32)).view(1, 1, -1)
    y = torch.from_numpy(np.asarray(wet, np.float32)).view(1, 1, -1)
    y = y / y.pow(2).mean().sqrt().clamp_min(1e-8)
    loss_fn = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[256, 1024, 4096], hop_sizes=[64, 256, 1024],
                                                    win_lengths=[256, 1024, 4096])
    init = [torch.from_numpy(normalise_params(p.effect, p.params)).float().clamp(0.02, 0.98) for p in chain]
    logits = [torch.logit(u).requires_grad_(True) for u in init]
    opt = torch.optim.Adam(logits, lr=lr)

    def render() -> torch.Tensor:
        out = x
        for pedal, z in zip(chain, logits):
            eff = get_effect(pedal.effect)
            u = torch.sigmoid(z)
            params = {p.name: denormalise_tensor(u[i], p).view(1) for i, p in enumerate(eff.params)}
            out = apply(pedal.effect, out, sample_rate, **params)
        return out / out.pow(2).mean().sqrt().clamp_min(1e-8)

    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(render(), y)
        if not torch.isfinite(loss):
            break
        loss.backward()
        opt.step()
    return Chain([Pedal(p.effect, denormalise_params(p.effect, torch.sigmoid(z).detach().double().numpy()))
                  for p, z in zip(chain, logits)])


def refine(wet: np.ndarray, dry: np.ndarray, analysis, sample_rate: int, steps: int = 150, top_k: int = 3,
           max_seconds: float = 3.0) -> RefineResult:
    """Fit the top-k candidate chains to (dry, wet) and keep the one pedalboard renders closest.

    ``steps=0`` only measures how close the estimate already is (no optimisation).
    """
    from ddspfx.render import render_chain

    n = min(wet.shape[-1], dry.shape[-1])
    wet, dry = wet[:n], dry[:n]
    dist = MRSTFTDistance()

    def pedalboard_distance(chain: Chain) -> float:
        rendered, _ = render_chain(dry, chain, sample_rate)
        return dist(rendered, wet)

    d_dry = dist(dry, wet)
    d_before = pedalboard_distance(analysis.chain)
    if steps <= 0:
        return RefineResult(analysis, d_dry, d_before, d_before, [(analysis.chain.effects, d_before)])
    seg = int(max_seconds * sample_rate)
    s = _loudest_segment(wet, seg)
    candidates = [analysis.chain] + [c for c, _ in analysis.alternatives]
    seen: set[tuple[str, ...]] = set()
    scored: list[tuple[Chain, float]] = []
    for cand in candidates:
        sig = tuple(cand.effects)
        if sig in seen:
            continue
        seen.add(sig)
        # keep the best estimate's values for effects it found; else the alternative's own
        best_params = {p.effect: p.params for p in analysis.chain}
        start = Chain([Pedal(p.effect, best_params.get(p.effect, p.params)) for p in cand])
        fitted = fit_params(start, dry[s:s + seg], wet[s:s + seg], sample_rate, steps=steps)
        scored.append((fitted, pedalboard_distance(fitted)))
        if len(scored) >= top_k:
            break
    scored.append((analysis.chain, d_before))  # never worse than the estimate itself
    best_chain, best_d = min(scored, key=lambda cd: cd[1])
    new = type(analysis)(chain=best_chain, effect_confidence=analysis.effect_confidence,
                         order_confidence=analysis.order_confidence, alternatives=analysis.alternatives,
                         windows=analysis.windows)
    return RefineResult(new, d_dry, d_before, best_d, [(c.effects, d) for c, d in scored])
