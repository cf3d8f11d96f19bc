"""Random pedal chains for training data: which effects, in which order, with which settings.

Every labelled pedal must be audible (a label nobody can hear is noise that caps every metric), so
parameters are drawn uniformly in normalised space over each knob's *audible sub-range*
(``Param.sample_low``/``sample_high`` in the catalog; measured with ``python -m ddspfx.audibility``).
Optionally (``check_audibility=True``) each pedal is also rendered alone on the actual dry clip and
redrawn until :func:`ddspfx.audibility.is_audible` passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence, cast

import numpy as np

from ddspfx.audibility import is_audible
from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, TYPICAL_ORDER, check_effect_names, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError
from ddspfx.knobs import sample_params

Order = Literal["uniform", "typical"]
ORDERS: tuple[str, ...] = ("uniform", "typical")


def check_order(order: str) -> Order:
    """A command-line or config order prior as an :data:`Order`, or a one-line error naming the choices."""
    if order not in ORDERS:
        raise DdspfxError(f"order must be 'uniform' or 'typical', got {order!r}")
    return cast(Order, order)


@dataclass
class SamplerConfig:
    """How chains are drawn."""

    max_effects: int = 5  # K: at most this many distinct pedals per chain
    min_effects: int = 0  # 0 allows dry examples (no pedal), which the model must also recognise
    order: Order = "uniform"  # "uniform" over permutations, or "typical" pedalboard order with deviations
    deviation: float = 0.2  # "typical": chance that one random adjacent swap / move breaks the usual order
    effects: tuple[str, ...] = EFFECT_NAMES  # which catalog effects may appear
    count_weights: tuple[float, ...] | None = None  # weights of min_effects..max_effects (None: uniform)
    effect_weights: tuple[float, ...] | None = None  # relative draw weight of each of ``effects`` (None: all equal)
    check_audibility: bool = False  # render each pedal alone on the dry clip and redraw it if inaudible
    audibility_tries: int = 8  # redraws per pedal before keeping the loudest draw seen
    whole_ranges: bool = False  # draw every knob over its whole range instead of the audible sub-range
    drop_inaudible: bool = False  # a pedal that ddspfx.audibility does not hear on the clip is left out of the chain

    def __post_init__(self) -> None:
        self.effects = tuple(get_effect(e).name for e in self.effects)
        if len(set(self.effects)) != len(self.effects):
            raise DdspfxError(f"sampler effects must be distinct, got {list(self.effects)}")
        if not 0 <= self.min_effects <= self.max_effects:
            raise DdspfxError(f"need 0 <= min_effects <= max_effects, got {self.min_effects}..{self.max_effects}")
        if self.max_effects > len(self.effects):
            raise DdspfxError(f"max_effects={self.max_effects} but only {len(self.effects)} effects are allowed")
        check_order(self.order)
        if not 0.0 <= self.deviation <= 1.0:
            raise DdspfxError(f"deviation is a probability in [0, 1], got {self.deviation}")
        if self.count_weights is not None:
            n = self.max_effects - self.min_effects + 1
            w = np.asarray(self.count_weights, dtype=np.float64)
            if w.shape != (n,) or np.any(w < 0) or w.sum() <= 0:
                raise DdspfxError(f"count_weights needs {n} non-negative weights (for {self.min_effects}..{self.max_effects} effects)")
            self.count_weights = tuple(float(v) for v in w)
        if self.effect_weights is not None:
            e = np.asarray(self.effect_weights, dtype=np.float64)
            if e.shape != (len(self.effects),) or not np.all(np.isfinite(e)) or np.any(e < 0):
                raise DdspfxError(f"effect_weights needs {len(self.effects)} non-negative weights (one per effect), "
                                  f"got {list(self.effect_weights)}")
            if int(np.count_nonzero(e)) < self.max_effects:
                raise DdspfxError(f"effect_weights leaves {int(np.count_nonzero(e))} effects drawable "
                                  f"but max_effects={self.max_effects}")
            self.effect_weights = tuple(float(v) for v in e)




def effect_weights(spec: str, effects: Sequence[str]) -> tuple[float, ...] | None:
    """Per-effect draw weights from ``"name=w,name=w"`` (unnamed effects weigh 1; ``""`` = all equal, None).

    Why: when the catalog grows, a uniform draw shows each old type in fewer chains; weighting keeps
    the share a model was trained on for the types it must not lose."""
    if not spec.strip():
        return None
    weights = {name: 1.0 for name in effects}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            w = float(value) if sep else float("nan")
        except ValueError:
            w = float("nan")
        if not sep or not np.isfinite(w):
            raise DdspfxError(f"effect weights are name=number pairs, e.g. 'eq=2,distortion=2'; got {item!r}")
        check_effect_names([name])
        name = get_effect(name).name
        if name not in weights:
            raise DdspfxError(f"effect weight for {name!r}, which this sampler does not draw ({', '.join(effects)})")
        weights[name] = w
    return tuple(weights[name] for name in effects)


def typical_order(effects: Sequence[str]) -> list[str]:
    """``effects`` sorted into the typical pedalboard order (catalog.TYPICAL_ORDER)."""
    rank = {name: i for i, name in enumerate(TYPICAL_ORDER)}
    return sorted(effects, key=lambda e: rank.get(e, len(rank)))


def deviate(rng: np.random.Generator, order: list[str]) -> list[str]:
    """One deviation from an order: an adjacent swap or moving one pedal elsewhere (always a change)."""
    order = list(order)
    n = len(order)
    if n < 2:
        return order
    if rng.random() < 0.5:
        i = int(rng.integers(n - 1))
        order[i], order[i + 1] = order[i + 1], order[i]
    else:
        i = int(rng.integers(n))
        j = int(rng.integers(n - 1))
        j = j if j < i else j + 1  # a different position
        order.insert(j, order.pop(i))
    return order


class ChainSampler:
    """Draws :class:`Chain` objects from a :class:`SamplerConfig`; all randomness comes from ``rng``."""

    def __init__(self, config: SamplerConfig | None = None) -> None:
        self.config = config or SamplerConfig()

    def sample_count(self, rng: np.random.Generator) -> int:
        c = self.config
        counts = np.arange(c.min_effects, c.max_effects + 1)
        if c.count_weights is None:
            return int(rng.choice(counts))
        w = np.asarray(c.count_weights)
        return int(rng.choice(counts, p=w / w.sum()))

    def sample_order(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` distinct effects in signal order."""
        c = self.config
        if c.effect_weights is None:
            picked = [c.effects[i] for i in rng.permutation(len(c.effects))[:n]]  # uniform random order
        else:  # which effects by weight; their order uniform (a weighted draw would put heavy effects first)
            w = np.asarray(c.effect_weights)
            chosen = rng.choice(len(c.effects), size=n, replace=False, p=w / w.sum())
            picked = [c.effects[i] for i in rng.permutation(chosen)]
        if c.order == "typical":
            picked = typical_order(picked)
            if n >= 2 and rng.random() < c.deviation:
                picked = deviate(rng, picked)
        return picked

    def sample(self, rng: np.random.Generator, dry: np.ndarray | None = None, sample_rate: int = SAMPLE_RATE) -> Chain:
        """A random chain (params in real units). With a ``dry`` clip: ``check_audibility`` redraws every pedal
        until it is audible on that clip; ``drop_inaudible`` leaves out a pedal that is not (a pedal nobody can
        hear is not asked for), so a whole-range draw teaches light settings where they are heard. A ``judged`` type
        (:class:`ddspfx.catalog.Effect`: the noise gate) is always left out where it is not heard."""
        c = self.config
        n = self.sample_count(rng)
        pedals = []
        for name in self.sample_order(rng, n):
            if c.check_audibility and dry is not None:
                params = self._audible_params(rng, name, dry, sample_rate)
            else:
                params = sample_params(rng, name, c.whole_ranges)
            judged = c.drop_inaudible or get_effect(name).judged  # a judged pedal's clip decides if it is heard
            if judged and dry is not None and not is_audible(name, params, dry, sample_rate)[0]:
                continue
            pedals.append(Pedal(name, params))
        return Chain(pedals)

    def _audible_params(self, rng: np.random.Generator, name: str, dry: np.ndarray, sample_rate: int) -> dict[str, float]:
        whole = self.config.whole_ranges
        best = sample_params(rng, name, whole)
        ok, best_score = is_audible(name, best, dry, sample_rate)
        for _ in range(max(1, self.config.audibility_tries) - 1):
            if ok:
                break
            params = sample_params(rng, name, whole)
            ok, score = is_audible(name, params, dry, sample_rate)
            if ok or score > best_score:
                best, best_score = params, score
        return best
