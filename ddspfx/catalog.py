"""The effect catalog: one declarative table per pedal.

Everything that needs to know what a pedal *is* reads it from here -- the token
vocabulary (bins), the chain sampler (ranges and audible regions), the pedalboard
renderer (class and keyword names) and the torch proxies (denormalisation) -- so
the pieces cannot drift apart.

Canonical effect names and pedalboard keyword names are public interface: they
appear in ``labels.jsonl``, in ``ddspfx.infer --json`` and in checkpoints.
"""

from __future__ import annotations

import bisect
import importlib
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Mapping, Sequence, overload

import numpy as np
import pedalboard

from ddspfx.errors import DdspfxError

SAMPLE_RATE = 44_100
"""The rate at which ddspfx renders, analyses and ships its model (Hz)."""

Scale = Literal["linear", "log"]


@dataclass(frozen=True)
class Param:
    """One knob of one pedal.

    ``name`` is pedalboard's keyword name. ``low``/``high`` bound the range we sample
    and predict; ``scale="log"`` means bins and normalised values are uniform in
    log(value), which is how a guitarist hears times, ratios and frequencies.
    ``audible_low``/``audible_high`` bound the sub-range the chain sampler draws from
    so that a labelled pedal always changes the sound (see ``ddspfx.sampler``).
    """

    name: str
    low: float
    high: float
    scale: Scale
    unit: str
    bins: int = 16
    audible_low: float | None = None
    audible_high: float | None = None
    label: str = ""
    dead_zone: tuple[float, float] | None = None
    """An open interval (real units) inside the audible range the sampler skips: for knobs whose
    inaudible settings sit mid-range (an EQ peak of -5..+5 dB), which one interval cannot express."""
    multimodal: bool = False
    """The spectral loss has a local minimum at many values of this knob (a delay time: every echo
    alignment), so fitting by gradient descent grid-searches it first (``ddspfx.refine.fit_params``)."""

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"{self.name}: low must be < high")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scaled range must be positive")

    @property
    def sample_low(self) -> float:
        return self.low if self.audible_low is None else self.audible_low

    @property
    def sample_high(self) -> float:
        return self.high if self.audible_high is None else self.audible_high

    @cached_property
    def edges(self) -> tuple[float, ...]:
        """The bin edges in real units; see :func:`bin_edges` (cached: :func:`value_to_bin` runs per knob per clip)."""
        return tuple(float(denormalise(k / self.bins, self)) for k in range(self.bins + 1))


@dataclass(frozen=True)
class Effect:
    """One pedal: its canonical name, its knobs, and the reference renderer behind it.

    The reference renderer is pedalboard's ``pedalboard_class`` where pedalboard has the design, else
    ddspfx's own pure function named by ``renderer`` (``"module:function"``, ``fx(x (C, T) float32,
    sample_rate, **knobs) -> (C, T)``, see ``ddspfx.dsp``): exactly one of the two is set.
    ``fixed`` holds keyword arguments we always set and never predict
    (e.g. Reverb's width and freeze_mode), so renders and proxies agree.
    ``linear``/``time_invariant`` describe the DSP and drive which orders commute.
    """

    name: str
    pedalboard_class: str
    params: tuple[Param, ...]
    linear: bool
    time_invariant: bool
    family: str
    fixed: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    renderer: str = ""
    judged: bool = False
    """The clip, not the knobs, decides whether this pedal is heard (a gate is heard only where the playing falls
    below its threshold): the chain sampler leaves such a pedal out when ``ddspfx.audibility`` does not hear it on
    the clip, so no clip is labelled with a pedal nobody could hear on it."""

    def __post_init__(self) -> None:
        if bool(self.pedalboard_class) == bool(self.renderer):
            raise ValueError(f"{self.name}: set exactly one of pedalboard_class and renderer")

    @property
    def in_pedalboard(self) -> bool:
        """Does plain pedalboard render this pedal? (Else only ddspfx does: ``ddspfx.render``.)"""
        return bool(self.pedalboard_class)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"effect {self.name!r} has no parameter {name!r}; it has {', '.join(self.param_names)}")

    @property
    def lti(self) -> bool:
        return self.linear and self.time_invariant


# --- normalisation and bins: value <-> [0, 1] <-> bin; all take (value, param) in that order ---
# The one implementation: the sampler, the vocabulary, the data targets and the metrics all call these.


@overload
def normalise(value: float, param: Param) -> float: ...
@overload
def normalise(value: np.ndarray, param: Param) -> np.ndarray: ...
def normalise(value: float | np.ndarray, param: Param) -> float | np.ndarray:
    """Real units -> [0, 1] (clipped), uniform in the parameter's scale.

    A scalar comes back as a Python float, computed with ``math`` (the data path calls this per knob
    per clip, and numpy's per-call overhead would dominate); an array comes back as an array.
    """
    if isinstance(value, (int, float)):  # np.float64 is a float
        if param.scale == "log":
            if value <= 0:
                return 0.0  # log(0) is -inf: clipped to the bottom of the range, like the array path
            u = (math.log(value) - math.log(param.low)) / (math.log(param.high) - math.log(param.low))
        else:
            u = (value - param.low) / (param.high - param.low)
        return min(1.0, max(0.0, u))
    v = np.asarray(value, dtype=np.float64)
    if param.scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (np.log(v) - math.log(param.low)) / (math.log(param.high) - math.log(param.low))
        w = np.where(v > 0, w, 0.0)  # log of 0 or below: the bottom of the range, as on the scalar path
    else:
        w = (v - param.low) / (param.high - param.low)
    w = np.clip(w, 0.0, 1.0)
    return float(w) if np.ndim(w) == 0 else w


@overload
def denormalise(u: float, param: Param) -> float: ...
@overload
def denormalise(u: np.ndarray, param: Param) -> np.ndarray: ...
def denormalise(u: float | np.ndarray, param: Param) -> float | np.ndarray:
    """[0, 1] -> real units (``u`` clipped to [0, 1]); the inverse of :func:`normalise` on the range.

    Scalars in, Python float out (``math``); arrays in, array out (numpy), as in :func:`normalise`.
    """
    if isinstance(u, (int, float)):
        x = min(1.0, max(0.0, float(u)))
        if param.scale == "log":
            return math.exp(math.log(param.low) + x * (math.log(param.high) - math.log(param.low)))
        return param.low + x * (param.high - param.low)
    a = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    if param.scale == "log":
        v = np.exp(math.log(param.low) + a * (math.log(param.high) - math.log(param.low)))
    else:
        v = param.low + a * (param.high - param.low)
    return float(v) if np.ndim(v) == 0 else v


def bin_edges(param: Param) -> tuple[float, ...]:
    """The ``bins + 1`` bin edges in real units: edge k is ``denormalise(k / bins)``, so edge 0 is
    (about) ``low`` and the last is (about) ``high``. Bin b holds the values in [edge b, edge b+1)."""
    return param.edges


def value_to_bin(value: float, param: Param) -> int:
    """The bin (0..bins-1) a real value falls in: b with edge b <= value < edge b+1 (see :func:`bin_edges`).

    Bins are uniform in normalised space, but the comparison is made against the edges in real units,
    not on ``normalise(value) * bins``: a value exactly on an edge (as :func:`denormalise` computes it)
    then lands in the upper bin and one a float step below it in the lower bin, with no tolerance to
    tune. Values outside the range go to the end bins.
    """
    return min(max(bisect.bisect_right(param.edges, value) - 1, 0), param.bins - 1)


def bin_to_value(b: int, param: Param) -> float:
    """The centre of bin ``b`` in real units (uniform in normalised space)."""
    if not 0 <= b < param.bins:
        raise ValueError(f"{param.name}: bin {b} outside 0..{param.bins - 1}")
    return float(denormalise((b + 0.5) / param.bins, param))


def bin_distribution_median(probs: Sequence[float] | np.ndarray) -> float:
    """The median, in normalised [0, 1] units, of a distribution over a knob's ``len(probs)`` equal-width bins, each
    bin's mass spread evenly over its width. Why the median: the knob error is an absolute error, which the median
    of the model's belief minimises (experiments/results/knob_error: 0.015-0.019 below the parameter head)."""
    p = np.asarray(probs, dtype=np.float64)
    p = p / p.sum()
    cdf = np.concatenate([[0.0], np.cumsum(p)])
    k = min(max(int(np.searchsorted(cdf, 0.5, side="left")) - 1, 0), p.size - 1)  # the bin holding the half-way mass
    inside = (0.5 - cdf[k]) / p[k] if p[k] > 0 else 0.5
    return float((k + min(max(inside, 0.0), 1.0)) / p.size)


# --- the tables -------------------------------------------------------------------------
# Ranges follow the design brief. Audible sub-ranges exclude settings that barely change a
# loudness-normalised guitar (a 1.2:1 ratio, a +-1 dB peak, a 0.1-mix phaser); the sampler
# draws labelled pedals from them. They were checked with ``python -m ddspfx.audibility``.

EFFECTS: dict[str, Effect] = {}


def _register(effect: Effect) -> Effect:
    EFFECTS[effect.name] = effect
    return effect


COMPRESSOR = _register(Effect(
    name="compressor",
    pedalboard_class="Compressor",
    params=(
        Param("threshold_db", -50.0, 0.0, "linear", "dB", audible_high=-20.0, label="threshold"),
        Param("ratio", 1.0, 20.0, "log", ":1", audible_low=2.5, label="ratio"),
        Param("attack_ms", 0.5, 50.0, "log", "ms", label="attack"),
        Param("release_ms", 20.0, 500.0, "log", "ms", label="release"),
    ),
    linear=False, time_invariant=True, family="dynamics",
    description="juce::dsp::Compressor: peak detector, hard knee, no make-up gain.",
))

DISTORTION = _register(Effect(
    name="distortion",
    pedalboard_class="Distortion",
    params=(Param("drive_db", 0.0, 40.0, "linear", "dB", audible_low=10.0, label="drive"),),
    linear=False, time_invariant=True, family="drive",
    description="tanh waveshaper after a drive gain.",
))

EQ = _register(Effect(
    name="eq",
    pedalboard_class="PeakFilter",
    params=(
        Param("cutoff_frequency_hz", 200.0, 5000.0, "log", "Hz", label="freq"),
        Param("gain_db", -12.0, 12.0, "linear", "dB", label="gain", dead_zone=(-5.0, 5.0)),
        Param("q", 0.5, 4.0, "log", "", audible_high=2.5, label="Q"),
    ),
    linear=True, time_invariant=True, family="eq",
    description="RBJ peaking biquad (pedalboard PeakFilter).",
))

CHORUS = _register(Effect(
    name="chorus",
    pedalboard_class="Chorus",
    params=(
        Param("rate_hz", 0.1, 5.0, "log", "Hz", audible_low=0.4, label="rate"),
        Param("depth", 0.0, 1.0, "linear", "", audible_low=0.25, label="depth"),
        Param("centre_delay_ms", 2.0, 20.0, "linear", "ms", label="delay"),
        Param("feedback", 0.0, 0.5, "linear", "", label="feedback"),
        Param("mix", 0.2, 0.8, "linear", "", audible_low=0.35, label="mix"),
    ),
    linear=True, time_invariant=False, family="modulation",
    description="juce::dsp::Chorus: LFO-modulated delay line with inverted feedback.",
))

PHASER = _register(Effect(
    name="phaser",
    pedalboard_class="Phaser",
    params=(
        Param("rate_hz", 0.1, 5.0, "log", "Hz", audible_low=0.4, label="rate"),
        Param("depth", 0.2, 1.0, "linear", "", audible_low=0.4, label="depth"),
        Param("centre_frequency_hz", 200.0, 2000.0, "log", "Hz", label="centre"),
        Param("feedback", 0.0, 0.7, "linear", "", label="feedback"),
        Param("mix", 0.2, 0.8, "linear", "", audible_low=0.4, label="mix"),
    ),
    linear=True, time_invariant=False, family="modulation",
    description="juce::dsp::Phaser: six first-order allpasses swept by a log LFO.",
))

DELAY = _register(Effect(
    name="delay",
    pedalboard_class="Delay",
    params=(
        Param("delay_seconds", 0.05, 0.6, "linear", "s", label="time", multimodal=True),
        Param("feedback", 0.0, 0.7, "linear", "", label="feedback"),
        Param("mix", 0.1, 0.6, "linear", "", audible_low=0.2, label="mix"),
    ),
    linear=True, time_invariant=True, family="delay",
    description="Feedback delay line with a dry/wet mix (integer delay).",
))

REVERB = _register(Effect(
    name="reverb",
    pedalboard_class="Reverb",
    params=(
        Param("room_size", 0.1, 1.0, "linear", "", audible_low=0.25, label="room"),
        Param("damping", 0.0, 1.0, "linear", "", label="damping"),
        Param("wet_level", 0.1, 0.6, "linear", "", audible_low=0.2, label="wet"),
        Param("dry_level", 0.4, 1.0, "linear", "", label="dry"),
    ),
    linear=True, time_invariant=True, family="reverb",
    fixed={"width": 1.0, "freeze_mode": 0.0},
    description="JUCE Freeverb: 8 damped combs and 4 allpasses.",
))

# --- the pedals added after the first seven (issue: the pedals guitarists actually use) --------------------------
# Ranges follow real pedals' manuals: a Boss TR-2 tremolo (rate ~1-10 Hz, "wave" from triangle to square), a
# flanger as short as a Boss BF-3's (1-7 ms centre, feedback up to 0.9), a Big Muff-style fuzz (20-50 dB of gain,
# a tone control from dark to bright), an EHX Micro POG (dry, sub-octave and octave-up levels), a Cry Baby's
# sweep (~350 Hz-2.2 kHz, Q up to ~10) rocked at a steady rate, and a gate like a Boss NS-2 (threshold, release).
# The sampler draws narrower sub-ranges where a whole-range draw labels a sound nobody could name from a clip
# (measured on model c13e, 200 single-flanger synth clips, development seeds; 2026-12-08): a flanger slower than
# ~0.3 Hz barely moves in the 2 s the model hears (a fixed comb: named eq or chorus, flanger probability median
# 0.11 vs 0.33 above 0.3 Hz), and one without feedback is a short chorus (0.13 below feedback 0.16, 0.51 above
# 0.66); a gate below -45 dB never closes on a clean phrase at -20 dBFS (audible on 0-5 % of clips at -50 dB,
# 20-85 % from -40 to -20 dB), and the gate is ``judged``: left out where it changes nothing.

TREMOLO = _register(Effect(
    name="tremolo",
    pedalboard_class="",
    renderer="ddspfx.dsp.tremolo:fx",
    params=(
        Param("rate_hz", 1.0, 12.0, "log", "Hz", label="rate"),
        Param("depth", 0.0, 1.0, "linear", "", audible_low=0.3, label="depth"),
        Param("shape", 0.0, 1.0, "linear", "", label="shape"),
    ),
    linear=True, time_invariant=False, family="modulation",
    description="Amplitude LFO from sine (shape 0) to near-square (shape 1); ddspfx's own DSP.",
))

FLANGER = _register(Effect(
    name="flanger",
    pedalboard_class="Chorus",
    params=(
        Param("rate_hz", 0.05, 2.0, "log", "Hz", audible_low=0.3, label="rate"),
        Param("depth", 0.0, 0.5, "linear", "", audible_low=0.05, label="depth"),
        Param("centre_delay_ms", 1.0, 7.0, "linear", "ms", label="delay"),
        Param("feedback", 0.0, 0.9, "linear", "", audible_low=0.3, label="feedback"),
        Param("mix", 0.2, 0.8, "linear", "", audible_low=0.35, label="mix"),
    ),
    linear=True, time_invariant=False, family="modulation",
    description="juce::dsp::Chorus used as a flanger: a 1-7 ms delay swept by an LFO, strong inverted feedback.",
))

FUZZ = _register(Effect(
    name="fuzz",
    pedalboard_class="",
    renderer="ddspfx.dsp.fuzz:fx",
    params=(
        Param("gain_db", 20.0, 50.0, "linear", "dB", label="gain"),
        Param("tone_hz", 400.0, 6000.0, "log", "Hz", label="tone"),
    ),
    linear=False, time_invariant=True, family="drive",
    description="Biased (asymmetric) hard clipping at high gain, a DC blocker, a one-pole tone lowpass; ddspfx's own DSP.",
))

OCTAVE = _register(Effect(
    name="octave",
    pedalboard_class="",
    renderer="ddspfx.dsp.octave:fx",
    params=(
        Param("dry_level", 0.0, 1.0, "linear", "", label="dry"),
        Param("down_level", 0.0, 1.0, "linear", "", label="down"),
        Param("up_level", 0.0, 1.0, "linear", "", label="up"),
    ),
    linear=True, time_invariant=False, family="pitch",
    description="Delay-line pitch shifter an octave down and an octave up, blended with the dry; ddspfx's own DSP.",
))

WAH = _register(Effect(
    name="wah",
    pedalboard_class="",
    renderer="ddspfx.dsp.wah:fx",
    params=(
        Param("rate_hz", 0.2, 5.0, "log", "Hz", label="rate"),
        Param("min_frequency_hz", 250.0, 800.0, "log", "Hz", label="low"),
        Param("range_octaves", 1.0, 3.0, "linear", "oct", label="range"),
        Param("q", 1.0, 10.0, "log", "", label="Q"),
        Param("mix", 0.5, 1.0, "linear", "", label="mix"),
    ),
    linear=True, time_invariant=False, family="filter",
    description="Auto-wah: a state-variable band-pass swept over a log-frequency range by a sine LFO; ddspfx's own DSP.",
))

NOISE_GATE = _register(Effect(
    name="noise_gate",
    pedalboard_class="NoiseGate",
    params=(
        Param("threshold_db", -70.0, -20.0, "linear", "dB", audible_low=-45.0, label="threshold"),
        Param("release_ms", 20.0, 500.0, "log", "ms", label="release"),
    ),
    linear=False, time_invariant=True, family="dynamics", judged=True,
    fixed={"ratio": 10.0, "attack_ms": 1.0},
    description="juce::dsp::NoiseGate: RMS envelope, a 10:1 downward expander below the threshold.",
))

EFFECT_NAMES: tuple[str, ...] = tuple(EFFECTS)
"""Canonical names in catalog order; index i is effect id i in the data's targets and in a model that knows them all."""

CLASSIC_EFFECTS: tuple[str, ...] = ("compressor", "distortion", "eq", "chorus", "phaser", "delay", "reverb")
"""The seven types the first models knew: a checkpoint that records no effect list knows these, in this order."""

TYPICAL_ORDER: tuple[str, ...] = ("wah", "compressor", "octave", "fuzz", "distortion", "noise_gate", "eq", "chorus",
                                   "flanger", "phaser", "tremolo", "delay", "reverb")
"""A typical pedalboard's order: filter -> dynamics -> pitch -> drive -> gate -> eq -> modulation -> delay -> reverb."""

MAX_PARAMS: int = max(len(e.params) for e in EFFECTS.values())


def get_effect(name: str) -> Effect:
    """Look an effect up by canonical name, with a message that lists the valid ones."""
    try:
        return EFFECTS[name]
    except KeyError:
        raise KeyError(f"unknown effect {name!r}; known effects: {', '.join(EFFECT_NAMES)}") from None


def check_effect_names(names: Sequence[str]) -> list[str]:
    """Command-line effect lists: unknown names become one user-facing error line."""
    unknown = [n for n in names if n not in EFFECTS]
    if unknown:
        raise DdspfxError(f"unknown effect(s) {', '.join(unknown)}; choose from {', '.join(EFFECT_NAMES)}")
    return list(names)


def effect_index(name: str) -> int:
    return EFFECT_NAMES.index(get_effect(name).name)


def resolve_effects(spec: str | Sequence[str]) -> tuple[str, ...]:
    """A model's effect list: ``""`` = every catalog effect; else comma-separated (or a sequence of) canonical names,
    each known and none twice, in the order the model's heads use."""
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec) if n.strip()]
    if not names:
        return EFFECT_NAMES
    check_effect_names(names)
    if len(set(names)) != len(names):
        raise DdspfxError(f"effect list {', '.join(names)} names an effect twice")
    return tuple(names)


def normalise_params(effect: str | Effect, params: Mapping[str, float]) -> np.ndarray:
    """A real-unit parameter dict -> normalised vector in the table's order, shape (P,)."""
    eff = get_effect(effect) if isinstance(effect, str) else effect
    missing = [p.name for p in eff.params if p.name not in params]
    if missing:
        raise KeyError(f"{eff.name}: missing parameters {missing}")
    return np.array([normalise(params[p.name], p) for p in eff.params], dtype=np.float64)


def denormalise_params(effect: str | Effect, u: Sequence[float] | np.ndarray) -> dict[str, float]:
    """A normalised vector (P,) in the table's order -> real-unit dict."""
    eff = get_effect(effect) if isinstance(effect, str) else effect
    if len(u) < len(eff.params):
        raise ValueError(f"{eff.name}: expected {len(eff.params)} values, got {len(u)}")
    return {p.name: float(denormalise(u[i], p)) for i, p in enumerate(eff.params)}


def render_kwargs(effect: str | Effect, params: Mapping[str, float]) -> dict[str, float]:
    """The keyword arguments of ``effect``'s reference renderer: the knobs in real units plus the table's ``fixed``.

    Only catalog parameters are accepted, so a stray key is an error rather than a silent no-op.
    """
    eff = get_effect(effect) if isinstance(effect, str) else effect
    unknown = set(params) - set(eff.param_names)
    if unknown:
        raise KeyError(f"{eff.name}: unknown parameters {sorted(unknown)}; expected {', '.join(eff.param_names)}")
    kwargs = {p.name: float(params[p.name]) for p in eff.params}
    kwargs.update(eff.fixed)
    return kwargs


def pedalboard_plugin(effect: str | Effect, params: Mapping[str, float]):
    """A fresh pedalboard plugin for ``effect`` with ``params`` in real units (pedalboard's own pedals only)."""
    eff = get_effect(effect) if isinstance(effect, str) else effect
    if not eff.in_pedalboard:
        raise ValueError(f"{eff.name} has no pedalboard plugin: ddspfx renders it ({eff.renderer})")
    return getattr(pedalboard, eff.pedalboard_class)(**render_kwargs(eff, params))


def dsp_function(effect: str | Effect):
    """ddspfx's own reference renderer of ``effect`` (a pedal pedalboard lacks): ``fx(x (C, T), sample_rate, **kw)``."""
    eff = get_effect(effect) if isinstance(effect, str) else effect
    if eff.in_pedalboard:
        raise ValueError(f"{eff.name} is rendered by pedalboard.{eff.pedalboard_class}, not by ddspfx's own DSP")
    module, func = eff.renderer.split(":")
    return getattr(importlib.import_module(module), func)


def denormalise_tensor(u, param: Param):
    """Torch version of :func:`denormalise`: differentiable [0, 1] -> real units (same formula). Tensor methods
    only, so this module never imports torch."""
    u = u.clamp(0.0, 1.0)
    if param.scale == "log":
        lo, hi = math.log(param.low), math.log(param.high)
        return (lo + u * (hi - lo)).exp()
    return param.low + u * (param.high - param.low)

