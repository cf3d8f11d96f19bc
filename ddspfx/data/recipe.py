"""The data recipe: one object that says how a seed becomes a training example.

Why one object: the chain sampler and every augmentation (other designs of a pedal, third-party plugins, a
tone stage, a noise floor, a little room, a recording's own character, a second guitar) used to travel by
position through four layers, and a folder made with one recipe could be trained on as if made with
another. A :class:`Recipe` is built once (``ddspfx.datamodule.recipe_from_config``), written into a
materialised folder's ``meta.json`` by ``python -m ddspfx.data make`` and compared with the training
config's when that folder is trained on.

Each augmentation draws from its own random stream, ``np.random.default_rng([seed, STREAMS[name]])``, so
switching one on never changes what another draws (the dry clip and the chain of example ``i`` are the
same whatever else the recipe holds).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ddspfx.errors import DdspfxError
from ddspfx.sampler import SamplerConfig

STREAMS: Mapping[str, int] = {
    "render_variants": 1,  # which pedals another design renders (ddspfx.variants)
    "dry_tone": 2,  # the guitar's tone stage (ddspfx.sources.tone)
    "noise_floor": 3,  # hum and hiss of the recording chain
    "plugin_render": 4,  # which pedals a third-party plugin renders (ddspfx.plugins)
    "room": 6,  # a little room around the dry guitar (before the pedals)
    "recording": 7,  # a recording's own character after the pedals (ddspfx.recording)
    "pair": 8,  # the second guitar that plays the same chain (invariance by construction)
}
"""The random stream of each augmentation (5 is experiments/real_sources.py' plugin draw for test clips)."""

PROBABILITIES: tuple[str, ...] = ("render_variants", "dry_tone", "noise_floor", "plugin_render", "room", "recording")


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of augmentation ``name`` for the example of ``seed``."""
    return np.random.default_rng([int(seed), STREAMS[name]])


@dataclass(frozen=True)
class Recipe:
    """How chains are drawn and which augmentations apply, each as a probability per example (0 = never)."""

    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    render_variants: float = 0.0  # chance that a pedal is rendered by another design of its type
    dry_tone: float = 0.0  # chance that the dry clip goes through a random tone stage (part of the guitar)
    noise_floor: float = 0.0  # chance that the dry clip carries hum and hiss
    plugin_render: float = 0.0  # chance that a pedal is rendered by a third-party plugin of its type
    plugin_exclude: tuple[str, ...] = ()  # plugin names or families never drawn (held-out implementations)
    room: float = 0.0  # chance that the dry clip is heard in a little room (before the pedals)
    recording: float = 0.0  # chance that the wet clip gets a recording's own character (after the pedals, no label)
    pair: bool = False  # each example also renders its chain on a second guitar (``wet_pair``/``dry_pair``)

    def __post_init__(self) -> None:
        for name in PROBABILITIES:
            p = getattr(self, name)
            if not 0.0 <= float(p) <= 1.0:
                raise DdspfxError(f"{name} is a probability in [0, 1], got {p}")
        object.__setattr__(self, "plugin_exclude", tuple(self.plugin_exclude))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (tuples as lists), as ``meta.json`` stores it."""
        d = dataclasses.asdict(self)
        d["sampler"]["effects"] = list(d["sampler"]["effects"])
        d["plugin_exclude"] = list(d["plugin_exclude"])
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Recipe":
        sampler = dict(data.get("sampler", {}))
        if "effects" in sampler:
            sampler["effects"] = tuple(sampler["effects"])
        known = {f.name for f in dataclasses.fields(cls)} - {"sampler"}
        unknown = sorted(set(data) - known - {"sampler"})
        if unknown:
            raise DdspfxError(f"unknown data recipe key(s) {', '.join(unknown)}; made by a newer ddspfx?")
        return cls(sampler=SamplerConfig(**sampler), **{k: data[k] for k in known if k in data})

    def differences(self, other: "Recipe") -> list[str]:
        """``name: this -> other`` for each field that differs (the sampler's fields by their own names)."""
        a, b = self.to_dict(), other.to_dict()
        out = [f"sampler.{k}: {a['sampler'][k]!r} -> {b['sampler'].get(k)!r}"
               for k in a["sampler"] if a["sampler"][k] != b["sampler"].get(k)]
        out += [f"{k}: {a[k]!r} -> {b[k]!r}" for k in a if k != "sampler" and a[k] != b[k]]
        return out
