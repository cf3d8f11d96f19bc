"""Render a chain of hosted LADSPA or LV2 plugins, and draw plugin pedals from ``ddspfx.plugins.table``.

Conventions follow ``ddspfx.render`` (pedalboard's renderer), so plugin and pedalboard clips are
interchangeable in a data set: float32 ``(C, T)`` in, a fresh plugin instance per pedal and clip (no
state leaks between clips), output fitted to the input length (tails cut), and the same output-gain
rule (:func:`ddspfx.render.limit_output`: turn down only what would clip). Each channel of a
multi-channel clip runs through its own instance (plugins are hosted mono, see ``ddspfx.plugins.ladspa``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ddspfx.catalog import denormalise, get_effect, normalise
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.knobs import uniform_excluding
from ddspfx.plugins import lv2
from ddspfx.plugins.ladspa import LadspaLibrary, LadspaPlugin, find_library, load_library
from ddspfx.plugins.reserved import RESERVED_PACKAGES
from ddspfx.plugins.table import HOST_DRY, Implementation, get_implementation, implementations_for, named_by
from ddspfx.render import as_channels_first, fit_length, limit_output, run_reference


@dataclass(frozen=True)
class PluginPedal:
    """One pedal rendered by a plugin: the ddspfx effect type, the table entry, and its drawn control values.

    ``judge`` is set only in evaluation: the judges' entry (a reserved package's, from the table that
    ``experiments/judges.py`` owns) this pedal renders. Only such a pedal may run a reserved plugin; every other
    pedal names a training table entry (:func:`~ddspfx.plugins.table.get_implementation`).
    """

    effect: str
    implementation: str
    controls: Mapping[str, float] = field(default_factory=dict)
    judge: Implementation | None = None

    def __post_init__(self) -> None:
        if self.judge is not None and (self.judge.name != self.implementation or self.judge.package not in RESERVED_PACKAGES):
            raise ValueError(f"judge {self.judge.name} ({self.judge.package}) for {self.implementation}: a judges' entry "
                             "names the pedal's implementation and a reserved package")

    @property
    def spec(self) -> Implementation:
        return self.judge if self.judge is not None else get_implementation(self.implementation)

    def labels(self) -> dict[str, float]:
        """Catalog parameters (catalog units) these controls carry; other parameters are unlabelled."""
        return self.spec.catalog_labels(self.controls)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready record: type, implementation, raw controls, catalog labels and the parameter-loss mask."""
        return {"effect": self.effect, "implementation": self.implementation, "controls": dict(self.controls),
                "params": self.labels(), "param_mask": self.spec.param_mask().tolist()}


def is_installed(impl: Implementation) -> bool:
    """Whether the implementation's library file (LADSPA) or plugin URI (LV2, via liblilv) is present (no dlopen)."""
    if impl.host == "lv2":
        return lv2.is_available(impl.label)
    try:
        find_library(impl.library, impl.package)
    except DdspfxError:
        return False
    return True


def installed_implementations(effect: str) -> tuple[Implementation, ...]:
    """The training table entries for ``effect`` whose Debian package is installed here (never a judges' entry)."""
    return tuple(i for i in implementations_for(effect) if is_installed(i))


def _library(impl: Implementation) -> LadspaLibrary:
    lib = load_library(impl.library, impl.package)
    info = lib.plugin(impl.label)
    if info.unique_id != impl.unique_id:
        raise DdspfxError(f"{impl.name}: {lib.path} has {impl.label!r} with unique ID {info.unique_id}, the table expects "
                          f"{impl.unique_id}; reinstall {impl.package}")
    return lib


def run_plugin(x: np.ndarray, pedal: PluginPedal, sample_rate: float) -> np.ndarray:
    """One plugin pedal on mono float32 ``x`` (T,): fresh instance (after the table's silent pre-roll, if any), no
    output gain; returns (T,) float32. Only a judges' pedal (``pedal.judge``, evaluation) may run a reserved plugin."""
    impl = pedal.spec
    if impl.effect != pedal.effect:
        raise ValueError(f"{impl.name} implements {impl.effect}, not {pedal.effect}")
    unknown = set(pedal.controls) - {c.port for c in impl.controls}
    if unknown:
        raise KeyError(f"{impl.name}: unknown controls {sorted(unknown)}; drawn controls: {[c.port for c in impl.controls]}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    plugin: LadspaPlugin | lv2.Lv2Plugin
    judge = pedal.judge is not None  # evaluation only: the hosts refuse reserved plugins to everything else
    if impl.host == "lv2":
        plugin = lv2.Lv2Plugin(impl.label, sample_rate, impl.plugin_controls(pedal.controls), inputs=impl.inputs,
                               outputs=impl.outputs, package=impl.package, allow_reserved=judge)
    else:
        plugin = LadspaPlugin(_library(impl), impl.label, sample_rate, impl.plugin_controls(pedal.controls),
                              inputs=impl.inputs, outputs=impl.outputs, allow_reserved=judge)
    pre = int(round(impl.preroll * sample_rate))  # silence first, output dropped (see Implementation.preroll)
    lat = impl.latency  # zeros after the clip, as many frames dropped in front (see Implementation.latency)
    with plugin:
        y = plugin.process(np.concatenate([np.zeros(pre, np.float32), x, np.zeros(lat, np.float32)])
                           if pre or lat else x)[pre + lat:]
    dry = pedal.controls.get(HOST_DRY)
    if dry is not None:
        y += np.float32(dry) * x
    return y


def run_plugin_chain(dry: np.ndarray, steps: Sequence[PluginPedal], sample_rate: float) -> np.ndarray:
    """The chain on ``dry`` (T,) or (C, T) as float32 (C, T) fitted to the input length, no output gain."""
    x = as_channels_first(dry)  # (C, T)
    out = np.empty_like(x)
    for c in range(x.shape[0]):
        y = x[c]
        for pedal in steps:
            y = run_plugin(y, pedal, sample_rate)
        out[c] = fit_length(y[None, :], x.shape[-1])[0]
    return out


def render_plugin_chain(dry: np.ndarray, steps: Sequence[PluginPedal], sample_rate: float) -> tuple[np.ndarray, float]:
    """Render plugin pedals on ``dry`` (T,) or (C, T); returns (wet float32 of the same shape, output_gain).

    ``wet == output_gain * chain(dry)`` with the gain rule of :func:`ddspfx.render.limit_output` (peak <= 0.99).
    """
    wet, gain = limit_output(run_plugin_chain(dry, steps, sample_rate))  # (C, T)
    return wet.reshape(np.shape(dry)), gain


# --- drawing pedals -----------------------------------------------------------------------------------------------


def sample_controls(rng: np.random.Generator, impl: Implementation) -> dict[str, float]:
    """Control values for ``impl``, one draw per control in table order (uniform in its scale, minus dead zones)."""
    out: dict[str, float] = {}
    for c in impl.controls:
        if c.choices:
            out[c.port] = float(c.choices[int(rng.integers(len(c.choices)))])
            continue
        p = c.param
        gap = None if c.dead_zone is None else (normalise(c.dead_zone[0], p), normalise(c.dead_zone[1], p))
        v = denormalise(uniform_excluding(rng, 0.0, 1.0, gap), p)
        out[c.port] = float(round(v)) if c.integer else v
    return out


def sample_plugin_pedal(rng: np.random.Generator, effect: str,
                        implementations: Sequence[Implementation] | None = None) -> PluginPedal:
    """A plugin pedal of type ``effect``: an implementation uniformly from ``implementations`` (default: every
    table entry for the effect), then its controls. Deterministic for a given generator state. A reserved
    package's entry in ``implementations`` (evaluation passes the judges') becomes the pedal's ``judge``."""
    pool = tuple(implementations) if implementations is not None else implementations_for(effect)
    pool = tuple(i for i in pool if i.effect == effect)
    if not pool:
        raise DdspfxError(f"no plugin implementation of {effect!r} to draw from")
    impl = pool[int(rng.integers(len(pool)))]
    judge = impl if impl.package in RESERVED_PACKAGES else None
    return PluginPedal(effect, impl.name, sample_controls(rng, impl), judge)


# --- plugins in training data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginLabels:
    """What a chain rendered partly by plugins can teach: the chain with each plugin pedal's labelled knobs
    in catalog units (unlabelled knobs keep a placeholder), which (effect, knob) pairs carry no label, and
    which implementation rendered each pedal ("pedalboard" or a table name)."""

    chain: Chain
    unlabelled: frozenset[tuple[str, str]]
    implementations: tuple[str, ...]


def draw_plugin_pedals(rng: np.random.Generator, chain: Chain, p: float, exclude: Sequence[str] = ()
                       ) -> list[PluginPedal | None]:
    """Per pedal of ``chain``: with probability ``p`` a plugin pedal of its type (an installed implementation
    whose name does not start with any of ``exclude``, e.g. ``"lsp"`` or ``"mcp/phaser"``), else None
    (pedalboard). A type with no installed implementation stays pedalboard."""
    out: list[PluginPedal | None] = []
    for pedal in chain:
        use = rng.random() < p
        pool = [i for i in installed_implementations(pedal.effect) if not named_by(i.name, exclude)]
        out.append(sample_plugin_pedal(rng, pedal.effect, pool) if use and pool else None)
    return out


def plugin_labels(chain: Chain, steps: Sequence[PluginPedal | None]) -> PluginLabels:
    """The training labels of ``chain`` when ``steps`` (from :func:`draw_plugin_pedals`) render some pedals."""
    pedals, unlabelled, names = [], set(), []
    for pedal, step in zip(chain, steps):
        if step is None:
            pedals.append(pedal)
            names.append("pedalboard")
            continue
        eff = get_effect(pedal.effect)
        labels = step.labels()
        params = {}
        for knob in eff.params:
            if knob.name in labels:
                params[knob.name] = float(np.clip(labels[knob.name], knob.low, knob.high))
            else:
                params[knob.name] = pedal.params[knob.name]
                unlabelled.add((pedal.effect, knob.name))
        pedals.append(Pedal(pedal.effect, params))
        names.append(step.implementation)
    return PluginLabels(Chain(pedals), frozenset(unlabelled), tuple(names))


class PluginFault(AudioError):
    """A hosted plugin returned NaN/inf samples (seen once in hours of training draws and not reproduced in a
    fresh process: some plugins keep state between instances). Names the implementation so a data run can
    fall back to pedalboard for that clip rather than die."""

    def __init__(self, implementation: str) -> None:
        super().__init__(f"plugin {implementation} produced NaN/inf samples")
        self.implementation = implementation


def render_mixed_chain(dry: np.ndarray, chain: Chain, steps: Sequence[PluginPedal | None], sample_rate: float
                       ) -> tuple[np.ndarray, float]:
    """Mono ``dry`` (T,) through ``chain`` pedal by pedal: a plugin where ``steps`` has one, pedalboard
    elsewhere; output gain as :func:`ddspfx.render.limit_output`. Raises :class:`PluginFault` when a plugin's
    output is not finite."""
    y = np.ascontiguousarray(dry, dtype=np.float32).reshape(-1)
    for pedal, step in zip(chain, steps):
        if step is None:
            y = run_reference(y, Chain([pedal]), sample_rate)[0]
            continue
        y = run_plugin(y, step, sample_rate)
        if not np.all(np.isfinite(y)):
            raise PluginFault(step.implementation)
    return limit_output(y)
