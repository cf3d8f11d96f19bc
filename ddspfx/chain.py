"""A pedal chain in real units: the object users see, print, save and render."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pedalboard

from ddspfx.catalog import get_effect, pedalboard_plugin
from ddspfx.errors import DdspfxError


@dataclass
class Pedal:
    """One pedal in a chain: canonical effect name and real-unit params (pedalboard keywords)."""

    effect: str
    params: dict[str, float]

    def __post_init__(self) -> None:
        eff = get_effect(self.effect)
        unknown = set(self.params) - set(eff.param_names)
        missing = set(eff.param_names) - set(self.params)
        if unknown or missing:
            raise ValueError(
                f"{self.effect}: parameters must be exactly {', '.join(eff.param_names)}"
                + (f"; unknown {sorted(unknown)}" if unknown else "")
                + (f"; missing {sorted(missing)}" if missing else "")
            )
        self.params = {k: float(self.params[k]) for k in eff.param_names}

    def describe(self) -> str:
        """``distortion (drive 22 dB)`` -- for people, with units."""
        eff = get_effect(self.effect)
        parts = []
        for p in eff.params:
            v = self.params[p.name]
            label = p.label or p.name
            if p.unit == ":1":
                parts.append(f"{label} {v:.1f}:1")
            elif p.unit == "s":
                parts.append(f"{label} {v * 1000:.0f} ms")
            elif p.unit:
                parts.append(f"{label} {_fmt(v)} {p.unit}")
            else:
                parts.append(f"{label} {v:.2f}")
        return f"{self.effect} ({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        return {"effect": self.effect, "params": dict(self.params)}


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2g}" if abs(v) < 1 else f"{v:.1f}"


@dataclass
class Chain:
    """Pedals in signal order (first pedal hears the guitar first)."""

    pedals: list[Pedal] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [p.effect for p in self.pedals]
        if len(set(names)) != len(names):
            raise ValueError(f"a chain holds each effect at most once, got {names}")

    def __len__(self) -> int:
        return len(self.pedals)

    def __iter__(self):
        return iter(self.pedals)

    @property
    def effects(self) -> list[str]:
        return [p.effect for p in self.pedals]

    def __str__(self) -> str:
        return " -> ".join(p.describe() for p in self.pedals) if self.pedals else "(no effects: dry)"

    def to_list(self) -> list[dict[str, Any]]:
        """The public JSON form (``labels.jsonl`` and ``infer --json``)."""
        return [p.to_dict() for p in self.pedals]

    def to_json(self) -> str:
        return json.dumps(self.to_list())

    @classmethod
    def from_list(cls, items: Iterable[Mapping[str, Any]]) -> "Chain":
        return cls([Pedal(str(d["effect"]), {k: float(v) for k, v in d["params"].items()}) for d in items])

    @classmethod
    def from_json(cls, text: str) -> "Chain":
        return cls.from_list(json.loads(text))

    def needs_ddspfx(self) -> list[str]:
        """The pedals of this chain that plain pedalboard cannot render (ddspfx's own DSP renders them)."""
        return [p.effect for p in self.pedals if not get_effect(p.effect).in_pedalboard]

    def to_pedalboard(self):
        """A ``pedalboard.Pedalboard`` that renders this chain with the real pedals.

        Raises :class:`~ddspfx.errors.DdspfxError` naming the pedals pedalboard lacks (tremolo, wah, ...):
        render such a chain with :func:`ddspfx.render.render_chain`.
        """
        missing = self.needs_ddspfx()
        if missing:
            raise DdspfxError(f"pedalboard has no {', '.join(missing)}: render this chain with ddspfx.render.render_chain "
                              "(ddspfx's own DSP for those pedals, pedalboard for the rest)")
        return pedalboard.Pedalboard([pedalboard_plugin(p.effect, p.params) for p in self.pedals])
