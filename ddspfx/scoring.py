"""Scoring a system's pedal chains on a held-out set: the metrics, the baselines and the tables.

Every system -- the model, the baselines, an experiment's variant -- is scored by the same
:class:`Scorer` on the same :class:`LabelledClip` s (``make_examples``: the held-out seeds from
``ddspfx.config.TEST_SEED_BASE`` on, disjoint from training and validation). The command line
that runs it on the shipped model is ``python -m ddspfx.evaluate``.

This is library API, the one definition of each score: the CLI and the studies import it from here. The
studies' other evaluation tooling (sets from other sources and renderers, the ablation harness) is
``experiments.evaluation``, which the package never imports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, TYPICAL_ORDER, denormalise_params, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.commuting import equivalent_canonical, lti_pairs
from ddspfx.config import TEST_SEED_BASE
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.recipe import Recipe
from ddspfx.fileio import atomic_path
from ddspfx.metrics import (
    MRSTFTDistance,
    PresenceCounts,
    knob_errors,
    pairwise_order,
    reorder,
    si_sdr,
)
from ddspfx.plots import _matplotlib
from ddspfx.render import render_chain
from ddspfx.sampler import ChainSampler, SamplerConfig, check_order

LTI_PAIRS = lti_pairs()
"""Every pair of linear time-invariant pedals: they commute exactly, so their swaps need no render."""


@dataclass
class LabelledClip:
    """One evaluation clip and its truth: the dry the pedals heard, the wet they made (both (T,) float32), the chain."""

    dry: np.ndarray
    wet: np.ndarray
    chain: Chain


@dataclass
class Scorer:
    """Accumulates every metric of the evaluation issue for one system."""

    tau: float = 0.1
    rerender: bool = True
    presence: PresenceCounts = field(default_factory=PresenceCounts.empty)
    exact: list[bool] = field(default_factory=list)
    right_set: list[bool] = field(default_factory=list)  # the true pedals, in any order
    right_set_but: dict[str, list[bool]] = field(default_factory=dict)  # effect -> right set when its errors don't count
    equivalent: list[bool] = field(default_factory=list)
    lti_equivalent: list[bool] = field(default_factory=list)
    class_equivalent: list[bool] = field(default_factory=list)
    pairs_nonlinear: list[bool] = field(default_factory=list)
    pairs_linear: list[bool] = field(default_factory=list)
    length_error: list[int] = field(default_factory=list)
    param_errors: list[float] = field(default_factory=list)
    per_knob: dict[str, list[float]] = field(default_factory=dict)  # "effect.knob" -> |error| per detection
    rerender_dist: list[float] = field(default_factory=list)
    rerender_sisdr: list[float] = field(default_factory=list)
    pair_wrong: np.ndarray = field(default_factory=lambda: np.zeros((len(EFFECT_NAMES),) * 2))
    pair_total: np.ndarray = field(default_factory=lambda: np.zeros((len(EFFECT_NAMES),) * 2))
    cooccurrence: np.ndarray = field(default_factory=lambda: np.zeros((len(EFFECT_NAMES) + 1, len(EFFECT_NAMES) + 1)))
    _dist: MRSTFTDistance = field(default_factory=MRSTFTDistance)

    def add(self, ex: LabelledClip, pred: Chain) -> None:
        t, p = ex.chain.effects, pred.effects
        self.presence.add(t, p)
        self.exact.append(t == p)
        same_set = sorted(t) == sorted(p)
        self.right_set.append(same_set)
        for name in EFFECT_NAMES:
            self.right_set_but.setdefault(name, []).append(set(t) - {name} == set(p) - {name})
        lti_same = equivalent_canonical(t, LTI_PAIRS) == equivalent_canonical(p, LTI_PAIRS)
        self.lti_equivalent.append(same_set and lti_same)
        self.class_equivalent.append(same_set and equivalent_canonical(t) == equivalent_canonical(p))
        if not same_set:
            self.equivalent.append(False)
        elif t == p or lti_same:
            self.equivalent.append(True)  # adjacent LTI effects commute exactly: no render needed
        else:  # true parameters in the predicted order, rendered by pedalboard
            alt, _ = render_chain(ex.dry, reorder(ex.chain, p), SAMPLE_RATE)
            d = self._dist(alt, ex.wet) / max(self._dist(ex.dry, ex.wet), 1e-8)
            self.equivalent.append(d <= self.tau)
        nl, lin = pairwise_order(t, p)
        self.pairs_nonlinear += nl
        self.pairs_linear += lin
        common = [e for e in t if e in p]
        for i, a in enumerate(common):
            for b in common[i + 1:]:
                ia, ib = EFFECT_NAMES.index(a), EFFECT_NAMES.index(b)
                self.pair_total[ia, ib] += 1
                self.pair_wrong[ia, ib] += p.index(a) > p.index(b)
        self.length_error.append(abs(len(t) - len(p)))
        for effect, errs in knob_errors(ex.chain, pred):
            self.param_errors.append(float(np.mean(errs)))
            for knob, e in zip(get_effect(effect).params, errs):
                self.per_knob.setdefault(f"{effect}.{knob.name}", []).append(float(e))
        n = len(EFFECT_NAMES)
        rows = [EFFECT_NAMES.index(e) for e in t] or [n]
        cols = [EFFECT_NAMES.index(e) for e in p] or [n]
        for r in rows:
            for c in cols:
                self.cooccurrence[r, c] += 1 / len(cols)
        if self.rerender:
            rendered, _ = render_chain(ex.dry, pred, SAMPLE_RATE)
            self.rerender_dist.append(self._dist(rendered, ex.wet))
            self.rerender_sisdr.append(si_sdr(rendered, ex.wet))

    def summary(self) -> dict[str, float]:
        def mean(v: Sequence[float]) -> float:
            return float(np.mean(v)) if len(v) else float("nan")

        out = dict(self.presence.scores())
        out.update({
            "exact_chain_acc": mean(self.exact),
            "equivalent_chain_acc": mean(self.equivalent),
            "set_acc": mean(self.right_set),
            # equivalent = right set AND an audibly equivalent order: which of the two holds a system back
            "equivalent_given_set": mean([e for e, r in zip(self.equivalent, self.right_set) if r]),
            "lti_equivalent_chain_acc": mean(self.lti_equivalent),
            "class_equivalent_chain_acc": mean(self.class_equivalent),
            "pairwise_order_acc_nonlinear": mean(self.pairs_nonlinear),
            "pairwise_order_acc_linear": mean(self.pairs_linear),
            "chain_length_mae": mean(self.length_error),
            "param_error": mean(self.param_errors),
            "rerender_mrstft": mean(self.rerender_dist),
            "rerender_sisdr_db": mean(self.rerender_sisdr),
            **{f"set_acc_without/{k}": mean(v) for k, v in self.right_set_but.items()},
            "n": len(self.exact),
        })
        out.update({f"param_error/{k}": mean(v) for k, v in sorted(self.per_knob.items())})
        return out


# --- baselines -----------------------------------------------------------------------------


def most_common_chain(sampler_config: SamplerConfig, n: int = 20000, seed: int = 123) -> Chain:
    """The single most frequent chain signature under the training sampler (params at mid-range)."""
    rng = np.random.default_rng(seed)
    sampler = ChainSampler(sampler_config)
    counts = Counter(tuple(sampler.sample(rng).effects) for _ in range(n))
    sig = counts.most_common(1)[0][0]
    return Chain([Pedal(e, denormalise_params(e, np.full(len(get_effect(e).params), 0.5))) for e in sig])


def baseline_systems(sampler_config: SamplerConfig, seed: int) -> dict[str, Callable[[LabelledClip], Chain]]:
    """The reference systems every table shows beside the model (chance level and order-only levels)."""
    rng = np.random.default_rng(seed)
    sampler = ChainSampler(sampler_config)
    common: list[Chain] = []  # on first use: its 20,000 draws take seconds that a table without this row skips

    def most_common(ex: LabelledClip) -> Chain:
        if not common:
            common.append(most_common_chain(sampler_config))
        return common[0]

    return {
        "most common chain": most_common,
        "random chain": lambda ex: sampler.sample(rng),
        "true set, random order": lambda ex: reorder(ex.chain, list(rng.permutation(ex.chain.effects))),
        "true set, typical order": lambda ex: reorder(ex.chain, [e for e in TYPICAL_ORDER if e in ex.chain.effects]),
    }


# --- report --------------------------------------------------------------------------------

COLUMNS = [
    ("micro_f1", "presence µF1"), ("macro_f1", "presence mF1"), ("exact_chain_acc", "exact chain"),
    ("equivalent_chain_acc", "equiv. chain (τ)"), ("set_acc", "right set"),
    ("equivalent_given_set", "equiv. if right set"), ("lti_equivalent_chain_acc", "equiv. (LTI runs)"),
    ("class_equivalent_chain_acc", "equiv. (measured classes)"),
    ("pairwise_order_acc_nonlinear", "pair order (nonlin)"), ("pairwise_order_acc_linear", "pair order (lin)"),
    ("chain_length_mae", "length MAE"), ("param_error", "param err"), ("rerender_mrstft", "re-render MRSTFT"),
    ("rerender_sisdr_db", "re-render SI-SDR dB"),
]


def score_cell(x: float | None, digits: int = 3) -> str:
    """A score as a table prints it: "–" where there is nothing to score (None or NaN, e.g. a pedal type no clip
    holds and no answer names), so an empty cell never reads as a perfect one."""
    return "–" if x is None or x != x else f"{x:.{digits}f}"


def markdown_table(results: dict[str, dict[str, float]]) -> str:
    head = "| system | " + " | ".join(c for _, c in COLUMNS) + " |"
    sep = "|---" * (len(COLUMNS) + 1) + "|"
    rows = [head, sep]
    for name, r in results.items():
        rows.append(f"| {name} | " + " | ".join(score_cell(r.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(rows)


def per_pedal_table(results: dict[str, dict[str, float]]) -> str:
    """Presence F1 per pedal and normalised error per knob, one column per system that has them.

    Why: the headline means hide which pedals are missed and which knobs are guessed (a knob
    predicted at mid-range scores about 0.25 on a uniformly sampled range). "Right set if its errors
    did not count" (beside the "right set" column) says how many chains each pedal alone costs.
    """
    names = [n for n, r in results.items() if any(k.startswith("param_error/") for k in r)]
    rows = ["| pedal / knob | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for effect in EFFECT_NAMES:
        rows.append(f"| **{effect}** F1 | " + " | ".join(score_cell(results[n].get('f1/' + effect)) for n in names) + " |")
        rows.append("| right set if its errors did not count | "
                    + " | ".join(score_cell(results[n].get('set_acc_without/' + effect)) for n in names) + " |")
        for knob in get_effect(effect).params:
            key = f"param_error/{effect}.{knob.name}"
            rows.append(f"| {knob.name} err | " + " | ".join(score_cell(results[n].get(key)) for n in names) + " |")
    return "\n".join(rows)


def plot_results(out: Path, scorer: Scorer) -> list[str]:
    plt = _matplotlib()
    names = list(EFFECT_NAMES)
    written = []
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    co = scorer.cooccurrence / np.maximum(scorer.cooccurrence.sum(1, keepdims=True), 1e-9)
    ax.imshow(co, cmap="Blues", vmin=0, vmax=1)
    labels = names + ["none"]
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if co[i, j] >= 0.005:
                ax.text(j, i, f"{co[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if co[i, j] > 0.5 else "black")
    ax.set_title("true effect (row) vs effects predicted in the same clip\n(row-normalised; each clip spreads weight 1 over its predictions)", fontsize=9)
    fig.tight_layout()
    with atomic_path(out / "presence_confusion.png", suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    written.append("presence_confusion.png")

    fig, ax = plt.subplots(figsize=(6, 5))
    err = np.where(scorer.pair_total > 0, scorer.pair_wrong / np.maximum(scorer.pair_total, 1), np.nan)
    im = ax.imshow(err, cmap="Reds", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("second in the true chain")
    ax.set_ylabel("first in the true chain")
    ax.set_title("order errors: P(predicted swapped)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    with atomic_path(out / "order_errors.png", suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    written.append("order_errors.png")
    return written


# --- test set -----------------------------------------------------------------------------


def make_examples(source: Any, n: int, seed: int, seconds: float, max_effects: int, order: str,
                  effects: Sequence[str] = EFFECT_NAMES) -> list[LabelledClip]:
    """``n`` test clips (test seeds ``TEST_SEED_BASE + seed``) with chains of the pedal types ``effects``
    (a model is tested on the types it knows: pass ``model.effects``). ``source``: a ``ddspfx.sources`` spec or a
    source object (``sample(rng, seconds)``), as :class:`ddspfx.data.dataset.EffectsDataset` takes."""
    # why here: the datasets import torch (seconds), which scoring a system's chains never needs
    sampler = SamplerConfig(max_effects=max_effects, order=check_order(order), effects=tuple(effects))
    ds = EffectsDataset(source_spec=source, n=n, seed=TEST_SEED_BASE + seed, duration_s=seconds,
                        recipe=Recipe(sampler=sampler))
    out = []
    for i in tqdm(range(n), desc="test set", unit="clip"):
        item = ds[i]
        out.append(LabelledClip(dry=item["dry"].numpy(), wet=item["wet"].numpy(), chain=Chain.from_json(item["chain"])))
    return out


__all__ = ["COLUMNS", "LTI_PAIRS", "LabelledClip", "Scorer", "baseline_systems", "make_examples", "markdown_table",
           "most_common_chain", "per_pedal_table", "plot_results"]
