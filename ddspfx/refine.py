"""Analysis by synthesis: when the clip's dry recording is known, fit the chain to the clip.

The model's estimate is a starting point. For each of the top-k candidate chains (the best
decoding and the beam's alternatives, i.e. other orders or effect sets), the normalised
parameters are optimised by gradient descent through the differentiable proxies on a
multi-resolution STFT loss; then every candidate is re-rendered with the *real* pedalboard
effects and the closest one wins. Orders are discrete, so they are chosen by search, not
by gradient.

Effect sets are searched too: the least certain pedals of the estimate (presence probability
nearest 0.5) are toggled -- added where a typical pedalboard puts them, starting from a neutral
setting, or removed. Blind, some pedals cannot be told from the guitar's own tone (a lone eq:
``experiments/blind_identifiability.py``); with the dry signal they can. A pedal more always fits
at least as well, so a changed set must beat the best chain with the estimate's set by
``set_margin`` (relative distance) to be chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ddspfx.catalog import (
    TYPICAL_ORDER,
    denormalise,
    denormalise_params,
    denormalise_tensor,
    get_effect,
    normalise,
    normalise_params,
)
from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import MRSTFTDistance

if TYPE_CHECKING:  # infer imports this module at run time; the type alone creates no cycle
    from ddspfx.infer import Analysis

SET_MARGIN = 0.10
"""A candidate with another effect set must be this much closer (relative MR-STFT distance) than the best
candidate with the estimate's set. Chosen on 45 development clips (``experiments/results/refine_margin/``,
the 128-minute model): margins 0.1 / 0.05 / 0.02 / 0 changed 22 / 31 / 38 / 42 % of the sets for presence
µF1 0.892 / 0.893 / 0.883 / 0.883 (blind estimate 0.881; eq F1 0.40 -> 0.56 at 0.1)."""

PRIOR = 0.3
"""Weight of the pull towards the model's estimate in refinement's fit (``fit_params``' ``prior``). Measured
with ``fit_params`` on the model's estimates for 30 development clips (seeds 20,730,000+): priors 0 / 0.3 / 1
gave mean normalised parameter error 0.168 / 0.147 / 0.147 (blind estimate 0.162) and pedalboard MR-STFT
distance 1.12 / 1.15 / 1.21 (blind 1.44); chorus mix error 0.44 / 0.25 / 0.11 (blind 0.14)."""


@dataclass
class RefineResult:
    """The refined analysis and what refinement gained (distances: MR-STFT, peak-normalised)."""

    analysis: Analysis
    distance_dry: float
    distance_before: float
    distance_after: float
    scored: list[tuple[Chain, float]] = field(default_factory=list)
    """(fitted chain, pedalboard distance) of every candidate tried, the estimate itself last."""

    @property
    def candidates(self) -> list[tuple[list[str], float]]:
        """(effects in order, distance) of ``scored``: what :func:`choose` takes."""
        return [(c.effects, d) for c, d in self.scored]

    def summary(self) -> str:
        estimate = self.candidates[-1][0] if self.candidates else []
        added = [e for e in self.analysis.chain.effects if e not in estimate]
        removed = [e for e in estimate if e not in self.analysis.chain.effects]
        change = "".join(f"; {verb} {', '.join(fx)}" for verb, fx in (("added", added), ("removed", removed)) if fx)
        return (f"distance to the clip: dry {self.distance_dry:.3f}, estimate {self.distance_before:.3f}, "
                f"refined {self.distance_after:.3f}{change}")


def _logit(u: float) -> float:
    return float(np.log(u / (1.0 - u)))


def _loudest_segment(x: np.ndarray, n: int) -> int:
    """Start index of the loudest ``n``-sample segment (hop n/4), where the pedals show most."""
    if x.shape[-1] <= n:
        return 0
    hop = max(1, n // 4)
    starts = range(0, x.shape[-1] - n + 1, hop)
    return max(starts, key=lambda s: float(np.mean(x[s:s + n] ** 2)))


def fit_params(chain: Chain, dry: np.ndarray, wet: np.ndarray, sample_rate: int, steps: int = 150,
               lr: float = 0.05, grid: int = 48, prior: float = 0.0, anchored: Sequence[bool] | None = None) -> Chain:
    """Gradient descent on the normalised parameters of ``chain`` (order fixed) through the proxies.

    ``prior`` > 0 adds ``prior`` x the squared distance of the normalised knobs from their start values
    for the pedals flagged in ``anchored`` (default: all): a MAP fit around the model's estimate. The
    spectral loss cannot tell some knobs apart (a chorus' depth, mix and feedback trade off), and
    without a prior the fit wanders along such ridges.

    Knobs marked ``multimodal`` in the catalog (the delay time) are set by search instead: the best
    of their start and ``grid`` values across the range, then of a finer grid around it, and held
    during the descent. From a far start descent stops in the nearest minimum, and near the right
    value its gradient is noise that Adam turns into full-size steps. Measured on the 14 development
    clips of seeds 20,720,000+ whose delay the model found (60 steps): normalised delay-time error
    0.175 (blind estimate), 0.158 (descent alone), 0.099 (coarse grid, then descent), 0.054 (both
    grids, held during descent; 12 of 14 within 16 ms).
    """
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

    multimodal = [[i for i, p in enumerate(get_effect(pedal.effect).params) if p.multimodal] for pedal in chain]
    with torch.no_grad():  # a coarse then a fine grid over the whole range, the other knobs held
        for z, knobs in zip(logits, multimodal):
            for i in knobs:
                step = 0.96 / (grid - 1)
                best = z[i].sigmoid().item()
                for values in (np.linspace(0.02, 0.98, grid), best + np.linspace(-step, step, 9)):
                    trials = []
                    for u in [best, *np.clip(values, 0.01, 0.99)]:
                        z[i] = _logit(u)
                        trials.append((float(loss_fn(render(), y)), float(u)))
                    best = min(trials)[1]
                z[i] = _logit(best)
    pulled = [i for i, a in enumerate(anchored if anchored is not None else [True] * len(chain)) if a]
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(render(), y)
        if not torch.isfinite(loss):
            break
        if prior > 0 and pulled:  # (a multimodal knob's pull is moot: its gradient is zeroed below)
            loss = loss + prior * sum(((torch.sigmoid(logits[i]) - init[i]) ** 2).sum() for i in pulled)
        loss.backward()
        for z, knobs in zip(logits, multimodal):  # Adam would turn their near-zero, noisy gradients into full
            if knobs and z.grad is not None:       # steps and walk away from the grid's minimum: hold them
                z.grad[knobs] = 0.0
        opt.step()
    return Chain([Pedal(p.effect, denormalise_params(p.effect, torch.sigmoid(z).detach().double().numpy()))
                  for p, z in zip(chain, logits)])


def neutral_pedal(effect: str) -> Pedal:
    """The effect at the middle of each knob's sampled range (in the knob's scale): the eq at 0 dB, where
    adding it changes nothing until the fit moves it."""
    eff = get_effect(effect)
    mid = {p.name: float(denormalise(0.5 * (normalise(p.sample_low, p) + normalise(p.sample_high, p)), p))
           for p in eff.params}
    return Pedal(effect, mid)


def toggled_chains(chain: Chain, confidence: dict[str, float], toggles: int, floor: float = 0.05) -> list[Chain]:
    """``chain`` with each of its ``toggles`` least certain effects flipped: removed if present, else inserted
    after the pedals a typical pedalboard puts before it. Effects the model is sure of (probability below
    ``floor`` or above 1 - floor) are never flipped."""
    present = set(chain.effects)
    unsure = sorted((abs(p - 0.5), e) for e, p in confidence.items() if floor <= p <= 1.0 - floor)
    out = []
    for _, effect in unsure[:max(0, toggles)]:
        if effect in present:
            out.append(Chain([p for p in chain if p.effect != effect]))
            continue
        rank = TYPICAL_ORDER.index(effect)
        at = max((i + 1 for i, p in enumerate(chain) if TYPICAL_ORDER.index(p.effect) < rank), default=0)
        out.append(Chain(chain.pedals[:at] + [neutral_pedal(effect)] + chain.pedals[at:]))
    return out


def choose(scored: Sequence[tuple[Sequence[str], float]], estimate: Sequence[str], set_margin: float = SET_MARGIN
           ) -> int:
    """Index of the winner among (effects in order, distance) candidates: the closest, where one with another
    effect set than ``estimate`` must beat the closest same-set candidate by ``set_margin`` (relative), since
    a pedal more always fits at least as well. At least one candidate must have the estimate's set."""
    same = [i for i, (fx, _) in enumerate(scored) if sorted(fx) == sorted(estimate)]
    other = [i for i, (fx, _) in enumerate(scored) if sorted(fx) != sorted(estimate)]
    best = min(same, key=lambda i: scored[i][1])
    if other:
        rival = min(other, key=lambda i: scored[i][1])
        if scored[rival][1] < scored[best][1] * (1.0 - set_margin):
            return rival
    return best


def extra_candidates(chain: Chain) -> list[Chain]:
    """What a longer search tries after the estimate's own candidates: every other order of its pedals that
    would sound different (one per class of audibly equivalent orders, ``ddspfx.commuting``), then the
    chain without each one of its pedals."""
    from itertools import permutations

    from ddspfx.commuting import equivalent_canonical

    seen = {equivalent_canonical(chain.effects)}
    out = []
    for order in permutations(chain.pedals):
        key = equivalent_canonical([p.effect for p in order])
        if key not in seen:
            seen.add(key)
            out.append(Chain(list(order)))
    if len(chain) > 1:
        out += [Chain([p for p in chain if p is not drop]) for drop in chain.pedals]
    return out


def refine(wet: np.ndarray, dry: np.ndarray, analysis: Analysis, sample_rate: int, steps: int = 150, top_k: int = 3,
           max_seconds: float = 3.0, toggles: int = 2, set_margin: float = SET_MARGIN, prior: float = PRIOR,
           budget_s: float | None = None, progress: bool = False) -> RefineResult:
    """Fit the top-k candidate chains and up to ``toggles`` changed effect sets to (dry, wet); keep the one
    pedalboard renders closest (a changed set only when ``set_margin`` closer, see :func:`choose`), or no
    pedal at all when the dry itself is closer than all of them: the result is never farther from the clip
    than its dry.

    ``budget_s``: with a time budget, the search goes on after those candidates, while time is left, through
    :func:`extra_candidates` (other audible orders, then subsets); the first candidate is always fitted.
    ``progress`` shows a bar on stderr. ``steps=0`` only measures how close the estimate already is.
    """
    import time

    from tqdm import tqdm

    began = time.perf_counter()
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
        return RefineResult(analysis, d_dry, d_before, d_before, [(analysis.chain, d_before)])
    seg = int(max_seconds * sample_rate)
    loudest = _loudest_segment(wet, seg)
    # keep the best estimate's values for effects it found; else the alternative's own
    best_params = {p.effect: p.params for p in analysis.chain}
    orders = [Chain([Pedal(p.effect, best_params.get(p.effect, p.params)) for p in c])
              for c in [analysis.chain] + [c for c, _ in analysis.alternatives]]
    seen: set[tuple[str, ...]] = set()
    starts: list[Chain] = []
    for cand in orders:
        if tuple(cand.effects) not in seen and len(starts) < top_k:
            seen.add(tuple(cand.effects))
            starts.append(cand)
    starts += [c for c in toggled_chains(analysis.chain, analysis.effect_confidence, toggles)
               if tuple(c.effects) not in seen]
    if budget_s is not None:
        tried = {tuple(s.effects) for s in starts}
        starts += [c for c in extra_candidates(analysis.chain) if tuple(c.effects) not in tried]
    scored: list[tuple[Chain, float]] = []
    for start in tqdm(starts, desc="refine", unit="chain", disable=not progress, leave=False):
        if budget_s is not None and scored and time.perf_counter() - began > budget_s:
            break  # out of time: keep what was fitted
        # a chorus or phaser LFO runs from the clip's first sample: a segment cut later would start the
        # proxy's LFO at another phase than the clip's, so such chains are fitted on the clip's start
        s = 0 if any(not get_effect(p.effect).time_invariant for p in start) else loudest
        fitted = fit_params(start, dry[s:s + seg], wet[s:s + seg], sample_rate, steps=steps, prior=prior,
                            anchored=[p.effect in analysis.chain.effects for p in start])  # not a pedal added here
        scored.append((fitted, pedalboard_distance(fitted)))
    scored.append((analysis.chain, d_before))  # never worse than the estimate itself
    result = RefineResult(analysis, d_dry, d_before, d_before, scored)
    best_chain, best_d = scored[choose(result.candidates, analysis.chain.effects, set_margin)]
    if d_dry <= best_d:  # the simplest answer: no pedal at all is closer than every fitted chain
        best_chain, best_d = Chain([]), d_dry
        scored.append((best_chain, d_dry))
    new = type(analysis)(chain=best_chain, effect_confidence=analysis.effect_confidence,
                         order_confidence=analysis.order_confidence, alternatives=analysis.alternatives,
                         windows=analysis.windows)
    result.analysis, result.distance_after = new, best_d
    return result
