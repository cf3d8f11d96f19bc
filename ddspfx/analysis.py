"""What ddspfx heard in one clip (:class:`Analysis`), and how a clip's windows vote for it.

Long clips are cut into windows of the model's training length (:func:`window_spans`); each window is decoded on
its own and the windows vote (:func:`aggregate`): the chain whose audibly equivalent orders hold the most probability
wins, its parameters are the median over the windows that found each effect, and the runner-up order (one that would
sound different) is reported when it is close. The model that decodes a window is :mod:`ddspfx.estimator`'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ddspfx.catalog import denormalise_params, normalise_params
from ddspfx.chain import Chain, Pedal
from ddspfx.commuting import equivalent_canonical

if TYPE_CHECKING:  # the check's module loads scipy: the CLI reports a missing file before any of that
    from ddspfx.guitar_check import GuitarCheck

ORDER_RUNNER_UP_RATIO = 0.25
"""Report the runner-up order when its probability is at least this fraction of the best."""


@dataclass
class Analysis:
    """What ddspfx heard in one clip."""

    chain: Chain
    effect_confidence: dict[str, float]
    order_confidence: float
    alternatives: list[tuple[Chain, float]] = field(default_factory=list)
    windows: int = 1
    guitar_check: GuitarCheck | None = None  # does the clip sound like a guitar? (warns; never refuses)

    def runner_up_order(self) -> tuple[Chain, float] | None:
        """The most likely *other order* of the same effects, if it is close to the best."""
        best_p = self.order_confidence
        for chain, p in self.alternatives:
            if sorted(chain.effects) == sorted(self.chain.effects) and chain.effects != self.chain.effects:
                return (chain, p) if p >= ORDER_RUNNER_UP_RATIO * best_p else None
        return None

    def to_json(self, file: str) -> dict[str, Any]:
        """The object ``infer --json`` prints for ``file`` (and the app shows)."""
        return {
            "file": file,
            "chain": self.chain.to_list(),
            "confidence": {"effects": {k: round(v, 4) for k, v in self.effect_confidence.items()},
                           "order": round(self.order_confidence, 4)},
            "alternatives": [{"effects": c.effects, "probability": round(p, 4)} for c, p in self.alternatives],
            "windows": self.windows,
            **({"guitar_check": self.guitar_check.to_json()} if self.guitar_check is not None else {}),
        }

    def describe(self) -> str:
        """The chain and what is uncertain about it, for people (one or more lines)."""
        lines = [str(self.chain)]
        if self.guitar_check is not None and not self.guitar_check.likely_guitar:
            lines.append(f"  warning: {self.guitar_check.reason}")
        if self.chain.pedals:
            conf = ", ".join(f"{e} {self.effect_confidence.get(e, 0.0):.2f}" for e in self.chain.effects)
            lines.append(f"  confidence: {conf}; order {self.order_confidence:.2f}")
        ru = self.runner_up_order()
        if ru is not None:
            lines.append(f"  order uncertain; runner-up: {' -> '.join(ru[0].effects)} (p={ru[1]:.2f})")
        absent_but_likely = [f"{e} {p:.2f}" for e, p in self.effect_confidence.items()
                             if e not in self.chain.effects and p >= 0.3]
        if absent_but_likely:
            lines.append(f"  possibly also: {', '.join(absent_but_likely)}")
        return "\n".join(lines)


def window_starts(num_samples: int, window: int) -> list[int]:
    """Where the windows of a clip start: every ``window`` samples, plus one that ends with the clip,
    so every sample is heard. A clip up to 1.5 windows long is one window (the model takes any length)."""
    if num_samples <= int(1.5 * window):
        return [0]
    starts = list(range(0, num_samples - window + 1, window))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)  # overlaps the previous window rather than dropping the end
    return starts


def window_spans(audio: np.ndarray, window: int) -> list[slice]:
    """The windows of :func:`window_starts` that are heard (all of ``window`` samples, or the whole clip).

    Windows that are near-silent compared with the loudest one are dropped: they carry no
    information about the pedals and would vote noise.
    """
    starts = window_starts(audio.shape[-1], window)
    if len(starts) == 1:
        return [slice(0, audio.shape[-1])]
    rms = np.array([np.sqrt(np.mean(audio[s:s + window].astype(np.float64) ** 2)) for s in starts])
    return [slice(s, s + window) for s, keep in zip(starts, loud_enough(rms)) if keep]


def loud_enough(rms: np.ndarray) -> np.ndarray:
    """Which windows (by RMS) are heard: those within 20 dB of the loudest; quieter ones would vote noise."""
    return rms >= 0.1 * rms.max()


def aggregate(predictions: Sequence[Any]) -> Analysis:
    """Vote over per-window predictions (``ddspfx.model.Prediction``) -> one Analysis.

    Each window spreads its probability over its chain and alternatives; the windows' votes are
    averaged per order, then pooled over *audibly equivalent* orders (``ddspfx.commuting``: orders
    that differ only by swaps of adjacent commuting pedals, e.g. eq and delay, sound the same).
    The class with the most probability wins and its most voted order represents it; the order
    confidence is the class's probability (the chance that the order is audibly right), and the
    alternatives are the other classes' representatives, i.e. orders that would sound different.
    """
    votes: dict[tuple[str, ...], float] = defaultdict(float)
    examples: dict[tuple[str, ...], Chain] = {}
    per_effect_params: dict[str, list[np.ndarray]] = defaultdict(list)
    confidence: dict[str, list[float]] = defaultdict(list)
    for pred in predictions:
        cands = [(pred.chain, None)] + list(pred.alternatives)
        logps = np.array([lp for _, lp in pred.alternatives], dtype=np.float64)
        # the best chain's probability: from the alternatives list when it is there, else 1
        probs = _beam_probabilities(pred, logps)
        for (chain, _), p in zip(cands, probs):
            sig = tuple(chain.effects)
            votes[sig] += p / len(predictions)
            examples.setdefault(sig, chain)
        for pedal in pred.chain:
            per_effect_params[pedal.effect].append(normalise_params(pedal.effect, pedal.params))
        for name, p in pred.effect_confidence.items():
            confidence[name].append(float(p))
    classes: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for sig in sorted(votes, key=lambda s: -votes[s]):  # most voted first within each class
        classes[equivalent_canonical(sig)].append(sig)
    mass = {key: sum(votes[s] for s in sigs) for key, sigs in classes.items()}
    ranked = sorted(classes, key=lambda key: -mass[key])
    best_sig = classes[ranked[0]][0]
    pedals = []
    for name in best_sig:
        vals = per_effect_params.get(name)
        u = (np.median(np.stack(vals), axis=0) if vals
             else normalise_params(name, examples[best_sig].pedals[best_sig.index(name)].params))
        pedals.append(Pedal(name, denormalise_params(name, u)))
    alternatives = [(examples[classes[key][0]], float(mass[key])) for key in ranked[1:6]]
    return Analysis(
        chain=Chain(pedals),
        effect_confidence={k: float(np.mean(v)) for k, v in confidence.items()},
        order_confidence=float(mass[ranked[0]]),
        alternatives=alternatives,
        windows=len(predictions),
    )


def _beam_probabilities(pred: Any, alt_logps: np.ndarray) -> np.ndarray:
    """Normalise the beam's scores (best first, then alternatives) to probabilities."""
    best_logp = getattr(pred, "log_prob", None)
    if best_logp is None:
        best_logp = float(alt_logps.max()) + 1.0 if alt_logps.size else 0.0
    logps = np.concatenate([[best_logp], alt_logps])
    logps = logps - logps.max()
    p = np.exp(logps)
    return p / p.sum()


__all__ = ["ORDER_RUNNER_UP_RATIO", "Analysis", "aggregate", "loud_enough", "window_spans",
           "window_starts"]
