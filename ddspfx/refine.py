"""Analysis by synthesis: when the clip's dry recording is known, fit the chain to the clip.

The model's estimate is a starting point. For each of the top-k candidate chains (the best
decoding and the beam's alternatives, i.e. other orders or effect sets), the normalised
parameters are optimised by gradient descent through the differentiable proxies on a
multi-resolution STFT loss; then every candidate is re-rendered with the *real* pedalboard
effects and the closest one wins. Orders are discrete, so they are chosen by search, not
by gradient. The fits share a time budget (:class:`Schedule`): every candidate is fitted on a
1-s excerpt and stopped when it falls behind those before it or stalls, and the closest are
polished on the whole clip.

:func:`refine` reads as its steps: :func:`candidate_chains` lines the chains up,
:func:`search_candidates` fits each (:func:`fit`: a grid search of the multimodal knobs, then
gradient descent) and scores it against the clip (:meth:`Clip.distance`), :func:`polish_closest`
fits the closest again, :func:`pick_winner` chooses, :func:`waveform_stage` fits the winner to the
waveform. They share a :class:`Search` (the clip, the :class:`Settings`, the :class:`TimeLimit`,
what was scored); every time check is :func:`passed`.

Effect sets are searched too: the least certain pedals of the estimate (presence probability
nearest 0.5) are toggled -- added where a typical pedalboard puts them, starting from a neutral
setting, or removed. Blind, some pedals cannot be told from the guitar's own tone (a lone eq:
``experiments/blind_identifiability.py``); with the dry signal they can. A pedal more always fits
at least as well, so a changed set must beat the best chain with the estimate's set by
``set_margin`` (relative distance) to be chosen.

Without the user's dry, the same search runs on a dry *recovered* from the clip (``ddspfx.dry_recovery``, issue 32):
``refine(..., dry_source="recovered")`` on :func:`level_dry` of it. The recovered dry comes from the clip itself, so
"no pedal at all" is not an answer there: a recovered dry that sounds like the clip says the recovery left the pedals
in, not that there were none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import permutations

import numpy as np
import torch
from torch import Tensor

from ddspfx.analysis import Analysis
from ddspfx.audio import normalise_loudness
from ddspfx.catalog import (
    TYPICAL_ORDER,
    denormalise,
    denormalise_params,
    get_effect,
    normalise,
    normalise_params,
)
from ddspfx.chain import Chain, Pedal
from ddspfx.commuting import equivalent_canonical
from ddspfx.config import DEFAULT_BUDGET_S
from ddspfx.knobs import proxy_kwargs
from ddspfx.metrics import peak_normalise, si_sdr
from ddspfx.proxies import apply
from ddspfx.render import render_chain, run_reference
from ddspfx.spectral import SpectralTarget

DRY_SOURCES: tuple[str, ...] = ("given", "recovered")
"""Where :func:`refine`'s dry comes from: the user's recording, or recovered from the clip (``ddspfx.dry_recovery``)."""

CHANGES: tuple[str, ...] = ("pedals", "order", "knobs", "nothing")
"""What refinement did to the answer (:attr:`RefineResult.change`), the largest change first."""

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


@dataclass(frozen=True)
class Schedule:
    """How :func:`refine` spends its descent steps across candidates.

    Search: every candidate is fitted on a ``search_seconds`` excerpt of the clip (the loudest; the start for a
    chorus or phaser), watched every ``MONITOR_EVERY`` steps by its pedalboard render's distance to the whole
    clip; the knobs it keeps are the closest seen, and its fit stops early

    - after ``rung`` steps when it is still more than ``margin`` (relative) farther than the closest candidate
      finished before it (a race: the estimate's own chain goes first, the long shots after it);
    - when that distance has not improved in ``patience`` steps.

    Polish: the ``polish`` closest candidates are fitted ``polish_steps`` more on the whole excerpt
    (``refine``'s ``max_seconds``), from the knobs the search found (the prior then pulls towards those).

    Chosen by replaying 150-step fits, scored every 10 steps, of the 60 candidates of 12 development clips
    (seeds 20,700,000+, 3-5 pedals, the shipped model's estimates), as mean chosen distance / CPU-s per clip
    under load: every candidate 150 steps on the whole clip 1.083 / 87; raced (rung 30, margin 0.05, patience
    70) 1.079 / 49; raced on 1-s excerpts 1.156 / 16, then the closest 1 / 2 / 3 polished 30 steps 1.058 / 19,
    1.051 / 23, 1.055 / 27 (2 polished 50 steps: 1.048 / 27). What did not pay: fewer steps for every candidate
    (30 / 50 / 80: 1.183 / 22, 1.134 / 33, 1.104 / 49; 50 at lr 0.15 decayed by a cosine: 1.127 / 29), a 1.5-s
    or 1-s excerpt without polish (1.164 / 45, 1.152 / 32), a tighter race (rung 20, margin 0: 1.113 / 41),
    patience 50 (1.100 / 62). Measured end to end in ``experiments/results/refine_speed/``.
    """

    search_seconds: float | None = 1.0
    rung: int | None = 30
    margin: float = 0.05
    patience: int | None = 70
    polish: int = 2
    polish_steps: int = 30
    insert_absent: bool = False
    """With time left after the estimate's candidates, try each pedal it lacks before other orders and subsets. Off:
    on 30 development clips it changed no answer (``experiments/results/refine_insert/``): a missing distortion, inserted
    in the right place, came 1.3 % closer, not the ``SET_MARGIN``, while a chorus's LFO, slightly off, kept the
    distance near 0.9 whatever the other pedals did."""
    polish_reserve: float = 0.4
    """Share of a time limit (``refine``'s ``budget_s``) the search leaves to the polish. The polish on the whole clip
    is where a fit comes closest (1-s excerpts: MR-STFT 1.3-1.4, polished 0.68 on one development clip); a 15-s limit
    without a reserve spent it all on the search for long chains: on 30 development clips median re-render SI-SDR
    -5.2 dB against the unlimited search's -4.0, with 0.4 reserved -2.9 (``experiments/results/refine_budget/``)."""

    @classmethod
    def exhaustive(cls) -> Schedule:
        """Every candidate gets all its steps on the whole excerpt (the knobs kept are still the closest seen)."""
        return cls(search_seconds=None, rung=None, patience=None, polish=0)


@dataclass
class RefineResult:
    """The refined analysis and what refinement gained (distances: MR-STFT, peak-normalised)."""

    analysis: Analysis
    distance_dry: float
    distance_before: float
    distance_after: float
    scored: list[tuple[Chain, float]] = field(default_factory=list)
    """(fitted chain, pedalboard distance) of every candidate tried, the estimate itself last."""
    sisdr: tuple[float, float] | None = None
    """(before, after) SI-SDR in dB of the waveform stage (:func:`polish_waveform`), where it ran."""
    refined: bool = True
    """False when nothing was fitted (``steps=0``): the distances only measure the estimate."""
    estimate: Chain | None = None
    """The chain refinement started from (the model's estimate); None in results made before it was kept."""
    dry_source: str = "given"
    """Where the dry came from (:data:`DRY_SOURCES`): the user's recording, or recovered from the clip."""

    @property
    def candidates(self) -> list[tuple[list[str], float]]:
        """(effects in order, distance) of ``scored``: what :func:`choose` takes."""
        return [(c.effects, d) for c, d in self.scored]

    @property
    def change(self) -> str:
        """What refinement did to the estimate (:data:`CHANGES`): another set of ``pedals``, another ``order`` of
        the same pedals, the same pedals in the same order with other ``knobs``, or ``nothing``."""
        if not self.refined or self.estimate is None:
            return "nothing"
        before, after = self.estimate, self.analysis.chain
        if sorted(before.effects) != sorted(after.effects):
            return "pedals"
        if before.effects != after.effects:
            return "order"
        return "knobs" if before != after else "nothing"

    def summary(self) -> str:
        dry = "recovered dry" if self.dry_source == "recovered" else "dry"
        if not self.refined:
            return f"distance to the clip: {dry} {self.distance_dry:.3f}, estimate {self.distance_before:.3f} (not refined)"
        estimate = (self.estimate.effects if self.estimate is not None
                    else self.candidates[-1][0] if self.candidates else [])
        added = [e for e in self.analysis.chain.effects if e not in estimate]
        removed = [e for e in estimate if e not in self.analysis.chain.effects]
        change = "".join(f"; {verb} {', '.join(fx)}" for verb, fx in (("added", added), ("removed", removed)) if fx)
        wave = "" if self.sisdr is None else f"; waveform SI-SDR {self.sisdr[0]:.1f} -> {self.sisdr[1]:.1f} dB"
        return (f"distance to the clip: {dry} {self.distance_dry:.3f}, estimate {self.distance_before:.3f}, "
                f"refined {self.distance_after:.3f}{change}{wave}")

    def change_line(self) -> str:
        """One line for people: whether the check by re-rendering changed the answer, and on which dry."""
        on = ("a dry recovered from the clip (none was given)" if self.dry_source == "recovered"
              else "your dry")
        said = {"pedals": "changed the answer's pedals", "order": "changed the answer's order",
                "knobs": "kept the answer's pedals and order, retuned their knobs",
                "nothing": "left the answer as it was"}[self.change]
        return f"re-rendering onto {on} {said}"


def level_dry(dry: np.ndarray) -> np.ndarray:
    """A dry at the sources' loudness (``TARGET_DBFS`` RMS, peak <= 0.99), as ``ddspfx.estimator.line_up_dry`` levels
    a given one: the knob values the model learned (a drive, a compressor threshold) mean that level. A recovered dry
    comes out at the clip's level, so :func:`refine` fits to it only after this."""
    from ddspfx.sources.base import TARGET_DBFS  # why here: ddspfx.sources loads the sound sources (seconds), which
    # the page's spawned refinement process would wait for before its first progress message

    return normalise_loudness(dry, TARGET_DBFS)[0]


def _logit(u: float) -> float:
    return float(np.log(u / (1.0 - u)))


def _loudest_segment(x: np.ndarray, n: int) -> int:
    """Start index of the loudest ``n``-sample segment (hop n/4), where the pedals show most."""
    if x.shape[-1] <= n:
        return 0
    hop = max(1, n // 4)
    starts = range(0, x.shape[-1] - n + 1, hop)
    return max(starts, key=lambda s: float(np.mean(x[s:s + n] ** 2)))


GRID_BATCH = 4
"""Grid-search trials rendered per proxy call. Measured on a 3-s clip's [delay, reverb, eq, chorus] chain (two
runs each): 1 / 4 / 16 / 57 trials per call searched the delay time in 5.0-6.6 / 2.2-2.5 / 2.2-2.3 / 3.9-4.1 CPU-s
(before: one by one through the whole chain, each scored by auraloss: 6.1-8.6 s); peak memory +40 MB at 4
over 1, +300 MB more at 16."""


class ClipDistance:
    """``MRSTFTDistance`` to one fixed clip: refinement measures up to ~15 pedalboard renders per candidate
    against the same wet, whose (peak-normalised) spectra are computed once. Same value as
    ``MRSTFTDistance()(x, clip)`` for an ``x`` as long as the clip."""

    def __init__(self, clip: np.ndarray) -> None:
        self.n = clip.shape[-1]
        self.target = SpectralTarget(torch.from_numpy(peak_normalise(np.asarray(clip, np.float32))).view(1, 1, -1))
        self._like = self.target.mags[0]  # makes the tensors of __call__

    def __call__(self, x: np.ndarray) -> float:
        if x.shape[-1] != self.n:
            raise ValueError(f"ClipDistance takes clips of {self.n} samples, got {x.shape[-1]}")
        # a tensor made from an array needs no gradient: the distance builds no graph
        return float(self.target(self._like.new_tensor(peak_normalise(np.asarray(x, np.float32))).view(1, 1, -1))[0])


def render_proxies(effects: Sequence[str], x: Tensor, sample_rate: int, knobs: Sequence[Tensor]) -> Tensor:
    """``x`` (B or 1, 1, T) through the proxies of ``effects`` in order, knobs normalised (B or 1, P) each
    -> (B, 1, T): a batch of knob settings can share one input."""
    b = max([x.shape[0], *(u.shape[0] for u in knobs)])
    if x.shape[0] != b:
        x = x.expand(b, *x.shape[1:]).contiguous()
    for effect, u in zip(effects, knobs):
        x = apply(effect, x, sample_rate, **proxy_kwargs(effect, u))
    return x


def _rms_normalised(x: Tensor) -> Tensor:
    """Each item (B, 1, T) at unit RMS: the loss compares shapes, not levels."""
    return x / x.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-8)


Progress = Callable[[int, int], None]
"""``on_progress(done, total)``: :func:`refine` calls it after each fit of a candidate chain (search or polish) with
the fits done and the most it could do (a time limit usually stops it sooner); the command line and the app pass
their own (a bar on stderr; a message to the page)."""

Monitor = Callable[[int, Chain], tuple[float, bool]]
"""``monitor(steps done, chain) -> (score, go on)``: scores the knobs a fit would return now (lower is better)
and says whether the fit should continue; see :func:`fit_params`."""

MONITOR_EVERY = 10
"""Descent steps between two calls of a fit's monitor: each costs a pedalboard render and a distance (~0.02 s
for a 3-s clip, against ~0.1 s per descent step)."""


@dataclass
class FitResult:
    """What :func:`fit` found: the chain, and the fit's objective (spectral loss + prior) along the way."""

    chain: Chain
    losses: list[float]
    """The objective at the knobs after the grid search and after each descent step."""
    objective: float
    """The objective at the knobs returned (``inf`` when nothing was fitted)."""
    scores: list[tuple[int, float]] = field(default_factory=list)
    """(steps done, monitor's score) at each call of the monitor."""


def passed(deadline: float | None) -> bool:
    """True once ``time.perf_counter()`` is past ``deadline`` (never for None): every time check of refinement."""
    return deadline is not None and time.perf_counter() > deadline


def fit_params(chain: Chain, dry: np.ndarray, wet: np.ndarray, sample_rate: int, steps: int = 150,
               lr: float = 0.05, grid: int = 48, prior: float = 0.0, anchored: Sequence[bool] | None = None,
               monitor: Monitor | None = None, deadline: float | None = None) -> Chain:
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

    Returns the knobs with the lowest objective the descent visited (never worse than its start), or with a
    ``monitor``, those it scored best: the monitor sees the knobs the fit would return after the grid search
    and every ``MONITOR_EVERY`` steps, and can stop the fit (up to ``steps`` steps). ``refine`` scores them by
    the pedalboard render's distance to the whole clip, which the proxies' loss on a segment only approximates.

    ``deadline`` (``time.perf_counter()`` seconds; None: none) cuts the fit short: the grid search stops between
    two batches of trials (keeping the best value tried), the descent after the step under way; the start is
    always scored, so a fit begun late returns its start (or the grid's best so far).
    """
    return fit(chain, dry, wet, sample_rate, steps, lr, grid, prior, anchored, monitor, deadline).chain


def _chain_of(chain: Chain, logits: Sequence[Tensor]) -> Chain:
    """``chain``'s pedals at the knobs ``sigmoid(logits)`` (1, P) each, in real units."""
    return Chain([Pedal(p.effect, denormalise_params(p.effect, z[0].sigmoid().double().numpy()))
                  for p, z in zip(chain, logits)])


@dataclass
class _Kept:
    """Which knobs a fit returns: the lowest objective seen, or with a monitor the best scored of those it saw."""

    best: tuple[float, list[Tensor]]
    """(objective, logits): the lowest objective so far."""
    scored: tuple[float, tuple[float, list[Tensor]]] = field(init=False)
    """(monitor's score, ``best`` at the time): the monitor's pick, ``best`` at the start until it scores."""
    seen: list[Tensor] | None = None
    """The logits the monitor saw last."""

    def __post_init__(self) -> None:
        self.scored = (math.inf, self.best)

    def offer(self, objective: float, logits: Sequence[Tensor]) -> None:
        if objective < self.best[0]:
            self.best = (objective, [z.detach().clone() for z in logits])

    def show(self, monitor: Monitor, done: int, chain: Chain, out: FitResult) -> bool:
        """Let ``monitor`` score the best knobs so far; whether the fit should go on."""
        self.seen = self.best[1]
        score, go = monitor(done, _chain_of(chain, self.best[1]))
        out.scores.append((done, score))
        if score < self.scored[0]:
            self.scored = (score, self.best)
        return go


def fit(chain: Chain, dry: np.ndarray, wet: np.ndarray, sample_rate: int, steps: int = 150, lr: float = 0.05,
        grid: int = 48, prior: float = 0.0, anchored: Sequence[bool] | None = None,
        monitor: Monitor | None = None, deadline: float | None = None) -> FitResult:
    """:func:`fit_params` with its trace (:class:`FitResult`)."""
    if steps <= 0 or not chain.pedals:
        return FitResult(chain, [], math.inf)
    x = torch.from_numpy(np.asarray(dry, np.float32)).view(1, 1, -1)  # (1, 1, T)
    target = SpectralTarget(_rms_normalised(torch.from_numpy(np.asarray(wet, np.float32)).view(1, 1, -1)))
    effects = chain.effects
    init = [torch.from_numpy(normalise_params(p.effect, p.params)).float().clamp(0.02, 0.98)[None] for p in chain]
    logits = [torch.logit(u).requires_grad_(True) for u in init]  # (1, P) each
    multimodal = [[i for i, p in enumerate(get_effect(e).params) if p.multimodal] for e in effects]
    with torch.no_grad():
        _grid_search(effects, x, sample_rate, logits, multimodal, target, grid, deadline)

    pulled = [i for i, a in enumerate(anchored if anchored is not None else [True] * len(chain)) if a]
    hold = [torch.tensor([k in knobs for k in range(z.shape[1])]) for z, knobs in zip(logits, multimodal)]

    def objective() -> Tensor:
        loss = target(_rms_normalised(render_proxies(effects, x, sample_rate, [z.sigmoid() for z in logits])))[0]
        if prior > 0 and pulled:  # (a multimodal knob's pull is moot: its gradient is zeroed below)
            loss = loss + prior * sum(((torch.sigmoid(logits[i]) - init[i]) ** 2).sum() for i in pulled)
        return loss

    out = FitResult(chain, [], math.inf)
    kept = _Kept(best=(math.inf, [z.detach().clone() for z in logits]))
    opt = torch.optim.Adam(logits, lr=lr)
    done = 0
    while True:
        opt.zero_grad()
        loss = objective()
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        out.losses.append(value)
        kept.offer(value, logits)
        if monitor is not None and done % MONITOR_EVERY == 0 and not kept.show(monitor, done, chain, out):
            break
        if done == steps or passed(deadline):
            break
        loss.backward()
        for z, held in zip(logits, hold):  # Adam would turn their near-zero, noisy gradients into full
            if z.grad is not None:          # steps and walk away from the grid's minimum: hold them
                z.grad[:, held] = 0.0
        opt.step()
        done += 1
    if monitor is not None and kept.seen is not kept.best[1]:
        kept.show(monitor, done, chain, out)
    out.objective, knobs = kept.scored[1] if monitor is not None else kept.best
    out.chain = _chain_of(chain, knobs)
    return out


def _grid_search(effects: Sequence[str], x: Tensor, sample_rate: int, logits: list[Tensor],
                 multimodal: Sequence[Sequence[int]], target: SpectralTarget, grid: int,
                 deadline: float | None = None) -> None:
    """Set each multimodal knob (in place, in ``logits``) to the best of its value and a coarse then a fine grid
    over its range, the other knobs held. The pedals before the searched one do not change during its search,
    so they are rendered once; the trials go through the rest of the chain ``GRID_BATCH`` at a time. Past
    ``deadline`` no more batches are rendered: each knob keeps the best value tried (its start when none was)."""
    for j, knobs in enumerate(multimodal):
        if not knobs or passed(deadline):
            continue
        z = logits[j]
        prefix = render_proxies(effects[:j], x, sample_rate, [w.sigmoid() for w in logits[:j]])  # (1, 1, T)
        for i in knobs:
            step = 0.96 / (grid - 1)
            best = z[0, i].sigmoid().item()
            for values in (np.linspace(0.02, 0.98, grid), best + np.linspace(-step, step, 9)):
                us = [best, *np.clip(values, 0.01, 0.99)]
                trials: list[tuple[float, float]] = [(math.inf, best)]  # (loss, value): the start until scored
                for at in range(0, len(us), GRID_BATCH):
                    if passed(deadline):
                        break
                    chunk = us[at:at + GRID_BATCH]
                    u = z.sigmoid().repeat(len(chunk), 1)  # (b, P)
                    u[:, i] = z.new_tensor([_logit(v) for v in chunk]).sigmoid()  # the knob as the logit sets it
                    out = render_proxies(effects[j:], prefix, sample_rate, [u] + [w.sigmoid() for w in logits[j + 1:]])
                    trials += zip(target(_rms_normalised(out)).tolist(), (float(v) for v in chunk))  # (b,) losses
                best = min(trials)[1]
            z[0, i] = _logit(best)


WAVEFORM_SECONDS = 10.0
"""What ``infer --refine-waveform`` suggests for the waveform stage (:func:`polish_waveform`, wall seconds). Off by
default: on 12 development clips of 3-5 pedals (``experiments/results/refine_speed/waveform_dev.md``) it was kept on
one (the median SI-SDR stayed -2.5 dB) for 4.6 CPU-s more per clip; it recovers exact knobs (SI-SDR > 60 dB) when the
chain is right and its knobs are near (tests/test_refine_waveform.py), which the estimates of long chains are not."""

WAVEFORM_STEPS: tuple[float, ...] = (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001)
"""Step sizes (normalised knob units) of the waveform stage's coordinate search, coarse to fine: each knob tries
its value +- 1, 2, 3 steps, the best is kept, and the sweep repeats at a size while it improves."""

SCANNED: dict[tuple[str, str], float] = {
    # (effect, knob): half-width of the scan, normalised. A needle-shaped optimum, found by a scan:
    ("delay", "delay_seconds"): 0.04,  # +-22 ms: where the MR-STFT fit's grid leaves the echo, to the sample
    ("chorus", "rate_hz"): 0.03,  # the LFO's phase drifts by the rate error times the clip's length
    ("phaser", "rate_hz"): 0.03,
}
"""Knobs whose SI-SDR optimum is a needle (``experiments/results/sisdr_sensitivity/``: a delay time must be exact to
the sample, an LFO rate within 0.4 %), scanned densely before the coordinate search, which would step over it: a
time knob (seconds) at two-sample steps then to the sample, any other in 200 steps."""


def polish_waveform(chain: Chain, dry: np.ndarray, wet: np.ndarray, sample_rate: int, deadline: float
                    ) -> tuple[Chain, float, float]:
    """Fit ``chain``'s knobs to the waveform: maximise the SI-SDR of its pedalboard render against ``wet`` by dense
    scans of :data:`SCANNED` knobs, then a coordinate search (:data:`WAVEFORM_STEPS`), until ``time.perf_counter()``
    passes ``deadline``. Returns (chain, SI-SDR before, SI-SDR after).

    Why: the MR-STFT fit cannot see the errors that decide a re-render's SI-SDR (a delay a few samples off, an LFO a
    fraction of a percent slow: ``experiments/results/sisdr_sensitivity/``), and the proxies, though exact, are
    rendered in segments by the fit; pedalboard renders the whole clip, so the right knobs reproduce the wet. The
    pedals before the searched one are rendered once per pedal (they do not change meanwhile)."""
    knobs = [normalise_params(p.effect, p.params) for p in chain]

    def pedals(upto: int | None = None, start: int = 0) -> Chain:
        return Chain([Pedal(chain.pedals[j].effect, denormalise_params(chain.pedals[j].effect, knobs[j]))
                      for j in range(start, len(chain) if upto is None else upto)])

    def score(prefix: np.ndarray, j: int) -> float:
        return si_sdr(run_reference(prefix, pedals(start=j), sample_rate)[0], wet)

    dry = np.asarray(dry, np.float32)
    before = best = score(dry, 0)

    def search(j: int, i: int, values: np.ndarray, prefix: np.ndarray) -> bool:
        """Try ``values`` for knob i of pedal j; keep the best. True if it improved."""
        nonlocal best
        start, found = knobs[j][i], None
        for u in np.clip(values, 0.0, 1.0):
            if passed(deadline):
                break
            knobs[j][i] = u
            s = score(prefix, j)
            if s > best + 1e-6:
                best, found = s, u
        knobs[j][i] = start if found is None else found
        return found is not None

    def prefix_of(j: int) -> np.ndarray:
        return run_reference(dry, pedals(upto=j), sample_rate)[0] if j else dry

    for j, p in enumerate(chain):
        prefix = prefix_of(j)
        for i, param in enumerate(get_effect(p.effect).params):
            half = SCANNED.get((p.effect, param.name))
            if half is None:
                continue
            seconds = param.unit == "s" and param.scale == "linear"
            step = 2.0 / (sample_rate * (param.high - param.low)) if seconds else half / 100
            search(j, i, knobs[j][i] + step * np.arange(-round(half / step), round(half / step) + 1), prefix)
            if seconds:  # then to the sample
                search(j, i, knobs[j][i] + np.array([-1.0, -0.5, 0.5, 1.0]) * step, prefix)
    for size in WAVEFORM_STEPS:
        for _sweep in range(2):
            improved = False
            for j in range(len(chain)):
                prefix = prefix_of(j)
                for i in range(len(knobs[j])):
                    improved |= search(j, i, knobs[j][i] + size * np.array([-3, -2, -1, 1, 2, 3], float), prefix)
            if not improved or passed(deadline):
                break
        if passed(deadline):
            break
    return pedals(), before, best


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
        out.append(Chain([p for p in chain if p.effect != effect]) if effect in present else inserted(chain, effect))
    return out


def inserted(chain: Chain, effect: str) -> Chain:
    """``chain`` with ``effect`` (at :func:`neutral_pedal`) after the pedals a typical pedalboard puts before it."""
    rank = TYPICAL_ORDER.index(effect)
    at = max((i + 1 for i, p in enumerate(chain) if TYPICAL_ORDER.index(p.effect) < rank), default=0)
    return Chain(chain.pedals[:at] + [neutral_pedal(effect)] + chain.pedals[at:])


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


def extra_candidates(chain: Chain, confidence: dict[str, float] | None = None) -> list[Chain]:
    """What a longer search tries after the estimate's own candidates: with ``confidence`` (the model's presence
    probabilities), first each effect the chain lacks, :func:`inserted` (the likeliest first); then every other
    order of its pedals that would sound different (one per class of audibly equivalent orders,
    ``ddspfx.commuting``); then the chain without each one of its pedals."""
    seen = {equivalent_canonical(chain.effects)}
    absent = [e for e in TYPICAL_ORDER if e not in chain.effects]
    out = ([] if confidence is None else
           [inserted(chain, e) for e in sorted(absent, key=lambda e: -confidence.get(e, 0.0))])
    for order in permutations(chain.pedals):
        key = equivalent_canonical([p.effect for p in order])
        if key not in seen:
            seen.add(key)
            out.append(Chain(list(order)))
    if len(chain) > 1:
        out += [Chain([p for p in chain if p is not drop]) for drop in chain.pedals]
    return out


@dataclass(frozen=True)
class Settings:
    """What :func:`refine` is asked to do: its keyword arguments, in one object (see :func:`refine`)."""

    steps: int = 150  # each candidate's most descent steps (0: only measure the estimate)
    top_k: int = 3  # the model's best decodings fitted (each a distinct order or set)
    max_seconds: float = 3.0  # the longest excerpt fitted: the polish's (the search's is the Schedule's)
    toggles: int = 2  # the least certain pedals flipped (toggled_chains)
    set_margin: float = SET_MARGIN  # how much closer another effect set must come (choose)
    prior: float = PRIOR  # the fits' pull towards the model's knobs (fit_params)
    budget_s: float | None = DEFAULT_BUDGET_S  # wall seconds for the whole search; None: no limit
    schedule: Schedule = Schedule()  # how the steps are spent across candidates
    waveform_s: float = 0.0  # seconds of the waveform stage (polish_waveform); 0: none


@dataclass(frozen=True)
class TimeLimit:
    """:func:`refine`'s time limit: ``budget_s`` wall seconds (None: none) from ``began`` (``time.perf_counter()``)."""

    began: float
    budget_s: float | None

    def deadline(self, share: float = 1.0) -> float | None:
        """When ``share`` of the limit is spent (``time.perf_counter()`` seconds; None without a limit)."""
        return None if self.budget_s is None else self.began + share * self.budget_s

    def spent(self, share: float = 1.0) -> bool:
        return passed(self.deadline(share))


@dataclass(frozen=True)
class Clip:
    """The clip and its dry, cut to the same length: what every candidate is fitted on and scored against."""

    wet: np.ndarray  # (T,)
    dry: np.ndarray  # (T,)
    sample_rate: int
    to_wet: ClipDistance

    @classmethod
    def of(cls, wet: np.ndarray, dry: np.ndarray, sample_rate: int) -> Clip:
        n = min(wet.shape[-1], dry.shape[-1])
        return cls(wet[:n], dry[:n], sample_rate, ClipDistance(wet[:n]))

    @property
    def samples(self) -> int:
        return self.wet.shape[-1]

    def distance(self, chain: Chain) -> float:
        """A candidate's score: the MR-STFT distance of its pedalboard render of the dry to the clip (lower: closer)."""
        rendered, _ = render_chain(self.dry, chain, self.sample_rate)
        return self.to_wet(rendered)

    def excerpt(self, chain: Chain, length: int) -> tuple[np.ndarray, np.ndarray]:
        """(dry, wet) of ``length`` samples to fit ``chain`` on: the loudest, where the pedals show most; but a
        chorus or phaser LFO runs from the clip's first sample, and a segment cut later would start the proxy's
        LFO at another phase than the clip's, so such chains are fitted on the clip's start."""
        s = 0 if any(not get_effect(p.effect).time_invariant for p in chain) else _loudest_segment(self.wet, length)
        return self.dry[s:s + length], self.wet[s:s + length]


def candidate_chains(analysis: Analysis, settings: Settings) -> list[Chain]:
    """The chains :func:`refine` fits, in order: the model's ``top_k`` decodings (each with the best decoding's
    knobs for the pedals it found), its ``toggles`` changed sets (:func:`toggled_chains`), then, with a time limit,
    :func:`extra_candidates` (other audible orders, subsets); each effect sequence once."""
    best_params = {p.effect: p.params for p in analysis.chain}
    decodings = [Chain([Pedal(p.effect, best_params.get(p.effect, p.params)) for p in c])
                 for c in [analysis.chain] + [c for c, _ in analysis.alternatives]]
    seen: set[tuple[str, ...]] = set()
    starts: list[Chain] = []
    for cand in decodings:
        if tuple(cand.effects) not in seen and len(starts) < settings.top_k:
            seen.add(tuple(cand.effects))
            starts.append(cand)
    starts += [c for c in toggled_chains(analysis.chain, analysis.effect_confidence, settings.toggles)
               if tuple(c.effects) not in seen]
    if settings.budget_s is not None:
        tried = {tuple(s.effects) for s in starts}
        confidence = analysis.effect_confidence if settings.schedule.insert_absent else None
        starts += [c for c in extra_candidates(analysis.chain, confidence) if tuple(c.effects) not in tried]
    return starts


@dataclass
class Search:
    """What :func:`refine`'s steps share: the clip, the settings, the time limit, and the candidates fitted so far."""

    clip: Clip
    estimate: Analysis
    settings: Settings
    limit: TimeLimit
    on_progress: Progress | None = None
    scored: list[tuple[Chain, float]] = field(default_factory=list)
    """(fitted chain, distance to the clip) of each candidate fitted, in the order tried."""
    fits: int = 0
    """Fits done (search and polish), as told to ``on_progress``."""
    most_fits: int = 0
    """The most fits the candidates allow (a time limit usually stops sooner)."""

    @property
    def whole(self) -> int:
        """Samples of the longest excerpt fitted (the polish's)."""
        return min(self.clip.samples, int(self.settings.max_seconds * self.clip.sample_rate))

    @property
    def searched(self) -> int:
        """Samples of the excerpt every candidate is searched on."""
        seconds = self.settings.schedule.search_seconds
        return self.whole if seconds is None else min(self.whole, int(seconds * self.clip.sample_rate))

    @property
    def polishes(self) -> bool:
        """Whether the closest are fitted again on the whole excerpt (only when the search used a shorter one)."""
        return self.searched < self.whole

    @property
    def search_share(self) -> float:
        """The share of the time limit the search may spend; the polish has the rest."""
        return 1.0 - self.settings.schedule.polish_reserve if self.polishes else 1.0

    def anchored(self, chain: Chain) -> list[bool]:
        """The pedals of ``chain`` the prior pulls towards the model's knobs: not a pedal refinement added."""
        return [p.effect in self.estimate.chain.effects for p in chain]

    def fitted(self) -> None:
        """Count a fit and tell ``on_progress``."""
        self.fits += 1
        if self.on_progress is not None:
            self.on_progress(self.fits, self.most_fits)


def race_monitor(search: Search, race: bool = True) -> Monitor:
    """The monitor of one candidate's fit: scores its knobs by :meth:`Clip.distance`; with ``race``, stops it
    when it falls behind the closest candidate finished before it (:class:`Schedule`'s ``rung``, ``margin``) or
    stalls (``patience``). The time limit is the fit's own ``deadline``."""
    schedule = search.settings.schedule
    closest = [math.inf, 0]  # (distance, steps done when it was reached)
    finished = min((d for _, d in search.scored), default=math.inf)

    def monitor(done: int, chain: Chain) -> tuple[float, bool]:
        d = search.clip.distance(chain)
        if d < closest[0]:
            closest[:] = [d, done]
        behind = race and schedule.rung is not None and done >= schedule.rung and closest[0] > finished * (
            1.0 + schedule.margin)
        stalled = race and schedule.patience is not None and done - closest[1] >= schedule.patience
        return d, not (behind or stalled)

    return monitor


def search_candidates(search: Search, starts: Sequence[Chain]) -> None:
    """Fit each of ``starts`` on the search excerpt, in order, into ``search.scored``, until the search's share of
    the time limit is spent (the first is always started, and cut short by the same deadline)."""
    deadline = search.limit.deadline(search.search_share)
    for start in starts:
        if search.scored and passed(deadline):
            break  # out of time: keep what was fitted
        fitted = fit_params(start, *search.clip.excerpt(start, search.searched), search.clip.sample_rate,
                            steps=search.settings.steps, prior=search.settings.prior, anchored=search.anchored(start),
                            monitor=race_monitor(search), deadline=deadline)
        search.scored.append((fitted, search.clip.distance(fitted)))
        search.fitted()


def polish_closest(search: Search) -> None:
    """Fit the ``Schedule.polish`` closest candidates again on the whole excerpt while the time limit allows; keep a
    polish where it comes closer. (Through :func:`fit`, not :func:`fit_params`: tests count the search's fits.)"""
    schedule, deadline = search.settings.schedule, search.limit.deadline()
    for i in sorted(range(len(search.scored)), key=lambda i: search.scored[i][1])[:schedule.polish]:
        if passed(deadline):
            break
        chain, d = search.scored[i]
        polished = fit(chain, *search.clip.excerpt(chain, search.whole), search.clip.sample_rate,
                       steps=min(search.settings.steps, schedule.polish_steps), prior=search.settings.prior,
                       anchored=search.anchored(chain), monitor=race_monitor(search, race=False),
                       deadline=deadline).chain
        d_polished = search.clip.distance(polished)
        if d_polished < d:
            search.scored[i] = (polished, d_polished)
        search.fitted()


def pick_winner(scored: list[tuple[Chain, float]], estimate: Chain, d_dry: float, set_margin: float,
                no_pedal: bool = True) -> tuple[Chain, float]:
    """The closest of ``scored`` by :func:`choose` (which must hold the estimate itself), or (with ``no_pedal``) no
    pedal at all when the dry is at least as close (then appended to ``scored``): never farther from the clip than
    the dry. A dry recovered from the clip is no such answer (``no_pedal=False``): see the module's docstring."""
    best_chain, best_d = scored[choose([(c.effects, d) for c, d in scored], estimate.effects, set_margin)]
    if no_pedal and d_dry <= best_d:  # the simplest answer: no pedal at all is closer than every fitted chain
        best_chain, best_d = Chain([]), d_dry
        scored.append((best_chain, d_dry))
    return best_chain, best_d


def waveform_stage(clip: Clip, chain: Chain, distance: float, deadline: float
                   ) -> tuple[Chain, float, tuple[float, float]]:
    """:func:`polish_waveform` on the winner until ``deadline``: (chain, distance, (SI-SDR before, after)), the
    polished knobs only where they come closer by SI-SDR and no farther by MR-STFT (else the winner, unchanged)."""
    polished, before, after = polish_waveform(chain, clip.dry, clip.wet, clip.sample_rate, deadline)
    d_polished = clip.distance(polished)
    if after > before and d_polished <= distance:
        return polished, d_polished, (before, after)
    return chain, distance, (before, before)


def refine(wet: np.ndarray, dry: np.ndarray, analysis: Analysis, sample_rate: int, steps: int = 150, top_k: int = 3,
           max_seconds: float = 3.0, toggles: int = 2, set_margin: float = SET_MARGIN, prior: float = PRIOR,
           budget_s: float | None = DEFAULT_BUDGET_S, schedule: Schedule = Schedule(), waveform_s: float = 0.0,
           on_progress: Progress | None = None, dry_source: str = "given") -> RefineResult:
    """Fit the top-k candidate chains and up to ``toggles`` changed effect sets to (dry, wet); keep the one
    pedalboard renders closest (a changed set only when ``set_margin`` closer, see :func:`choose`), or no
    pedal at all when the dry itself is closer than all of them: the result is never farther from the clip
    than its dry.

    ``steps`` is each candidate's most descent steps, ``max_seconds`` the longest excerpt fitted; ``schedule``
    (:class:`Schedule`) fits every candidate on a shorter excerpt first, stops those that fall behind or stall,
    and polishes the closest (at most ``steps`` more). ``budget_s`` (default :data:`ddspfx.config.DEFAULT_BUDGET_S`) limits the
    whole search in wall seconds: after those candidates it goes on through :func:`extra_candidates` (other audible
    orders, then subsets) until ``schedule.polish_reserve`` of the time is left; then the polish, until the time is
    spent. A fit under way, its grid search included, stops at the next batch of grid trials or descent step (the
    knobs closest so far are kept); the first candidate is always started, so at least one is fitted. A limit in
    seconds makes the answer depend on the machine's speed and load; ``None`` (no limit: the estimate's own
    candidates, however long they take) or a limit the search never reaches does not. ``on_progress(done, total)``
    is called after each fit (:data:`Progress`). ``dry_source`` (:data:`DRY_SOURCES`) says where ``dry`` came from:
    ``"recovered"`` (from the clip, :func:`level_dry` of ``ddspfx.dry_recovery``'s answer) never answers "no pedal
    at all". Last, with ``waveform_s`` > 0, the winner's knobs are fitted to the
    waveform (:func:`polish_waveform`) for that many seconds (with a budget: what is left of it), and kept when that
    brings the render closer by SI-SDR and no farther by MR-STFT. ``steps=0`` only measures how close the estimate
    already is. The steps, in order: :func:`candidate_chains`, :func:`search_candidates`, :func:`polish_closest`,
    :func:`pick_winner`, :func:`waveform_stage`.
    """
    if dry_source not in DRY_SOURCES:
        raise ValueError(f"dry_source must be one of {', '.join(DRY_SOURCES)}, got {dry_source!r}")
    settings = Settings(steps, top_k, max_seconds, toggles, set_margin, prior, budget_s, schedule, waveform_s)
    limit = TimeLimit(time.perf_counter(), budget_s)
    clip = Clip.of(wet, dry, sample_rate)
    d_dry, d_before = clip.to_wet(clip.dry), clip.distance(analysis.chain)
    if steps <= 0:
        return RefineResult(analysis, d_dry, d_before, d_before, [(analysis.chain, d_before)], refined=False,
                            estimate=analysis.chain, dry_source=dry_source)
    search = Search(clip, analysis, settings, limit, on_progress)
    starts = candidate_chains(analysis, settings)
    search.most_fits = len(starts) + (min(schedule.polish, len(starts)) if search.polishes else 0)
    search_candidates(search, starts)
    if search.polishes:
        polish_closest(search)
    search.scored.append((analysis.chain, d_before))  # never worse than the estimate itself
    best_chain, best_d = pick_winner(search.scored, analysis.chain, d_dry, set_margin,
                                     no_pedal=dry_source == "given")
    result = RefineResult(analysis, d_dry, d_before, d_before, search.scored, estimate=analysis.chain,
                          dry_source=dry_source)
    deadline = limit.deadline()
    if deadline is None:
        deadline = time.perf_counter() + waveform_s
    if best_chain.pedals and waveform_s > 0 and not passed(deadline):
        best_chain, best_d, result.sisdr = waveform_stage(clip, best_chain, best_d, deadline)
    result.analysis, result.distance_after = replace(analysis, chain=best_chain), best_d
    return result
