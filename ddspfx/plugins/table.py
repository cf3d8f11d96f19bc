"""Which Debian LADSPA plugins implement each ddspfx effect type, and how to drive them: one declarative table.

Per implementation: the Debian package and ``.so`` that ship it, its LADSPA label and unique ID, the
control ports to draw (range, linear/log scale, dead zone) and the ones to hold fixed. A control that
means the same thing as a catalog parameter, in the same unit up to a fixed conversion (gain in dB
<-> linear gain, ms <-> s), names that parameter in ``label``: a rendered pedal's label then carries the
catalog value; every other catalog parameter of that effect is unlabelled for this implementation
(:meth:`Implementation.param_mask` is 0 there, so the parameter loss can be masked).

Ranges were chosen so that most draws are audible by ``ddspfx.audibility``'s score and thresholds
(``experiments/plugin_audibility.py`` prints the audible fraction per implementation).

Plugins whose output is wet only (mcp's choruses, MaFreeverb, Invada's early reflections) get a
host-side dry path: the pseudo-control :data:`HOST_DRY` adds ``level * dry`` to the plugin's output.

Reserved for held-out evaluation and never listed here: guitarix-lv2, calf-plugins, caps, tap-plugins,
swh-plugins, zam-plugins, mda-lv2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Mapping

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, Param, Scale, get_effect

Convert = Literal["same", "amp_to_db", "ms_to_s"]
"""How a labelled control's value becomes the catalog parameter's value."""

Host = Literal["ladspa", "lv2"]
"""Which in-process host runs an implementation (``ddspfx.plugins.ladspa`` or ``ddspfx.plugins.lv2``)."""

HOST_DRY = "(host) dry level"
"""Pseudo-control of wet-only plugins: the host adds ``value * dry`` to the plugin's output."""

LSP_SO = "lsp-plugins-ladspa-1.2.5.so"
LSP = "http://lsp-plug.in/plugins/ladspa/"


@dataclass(frozen=True)
class Control:
    """One control port to draw: ``low..high`` in the port's own unit (``scale="log"``: uniform in log).

    ``choices`` (if given) replaces the range by a uniform draw among those values (mode switches);
    ``integer`` rounds the draw; ``dead_zone`` is an open interval the draw skips (an EQ's +-5 dB).
    ``label`` names the catalog parameter this control carries (same meaning), ``convert`` its unit change.
    """

    port: str
    low: float
    high: float
    scale: Scale = "linear"
    unit: str = ""
    integer: bool = False
    choices: tuple[float, ...] = ()
    dead_zone: tuple[float, float] | None = None
    label: str | None = None
    convert: Convert = "same"

    @property
    def param(self) -> Param:
        """The range as a catalog :class:`~ddspfx.catalog.Param`, so drawing reuses the catalog's normalisation."""
        return Param(self.port, self.low, self.high, self.scale, self.unit, dead_zone=self.dead_zone)

    def catalog_value(self, value: float) -> float:
        """This control's value in the labelled catalog parameter's unit."""
        if self.convert == "amp_to_db":
            return 20.0 * math.log10(max(value, 1e-12))
        if self.convert == "ms_to_s":
            return value / 1000.0
        return float(value)


@dataclass(frozen=True)
class Implementation:
    """One plugin as an implementation of one ddspfx effect type."""

    name: str
    """``<family>/<plugin>``; the family (package) is the unit of leave-one-implementation-out evaluation."""
    effect: str
    package: str
    library: str
    label: str
    unique_id: int
    controls: tuple[Control, ...]
    fixed: Mapping[str, float] = field(default_factory=dict)
    inputs: tuple[str, ...] | None = None
    """Audio inputs that carry the signal (None: all; a stereo-only plugin gets the mono clip on both)."""
    outputs: tuple[str, ...] | None = None
    """Audio outputs averaged to the mono result (None: all)."""
    description: str = ""
    host: Host = "ladspa"
    """``"lv2"``: ``label`` is the plugin URI, ``library`` its bundle directory, ``unique_id`` 0, and controls,
    ``fixed``, ``inputs`` and ``outputs`` name ports by LV2 symbol."""

    @property
    def family(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def labelled(self) -> tuple[str, ...]:
        """Catalog parameter names this implementation's labels carry, in catalog order."""
        names = {c.label for c in self.controls if c.label}
        return tuple(p for p in get_effect(self.effect).param_names if p in names)

    def param_mask(self) -> np.ndarray:
        """(P,) float32 over the catalog effect's parameters: 1 where labelled, 0 where the loss is masked."""
        have = set(self.labelled)
        return np.array([1.0 if p in have else 0.0 for p in get_effect(self.effect).param_names], dtype=np.float32)

    def catalog_labels(self, controls: Mapping[str, float]) -> dict[str, float]:
        """The labelled catalog parameters (real catalog units) that these control values carry."""
        return {c.label: c.catalog_value(float(controls[c.port])) for c in self.controls if c.label}

    def plugin_controls(self, controls: Mapping[str, float]) -> dict[str, float]:
        """Port values to set on the plugin: fixed ones plus drawn ones, without host pseudo-controls."""
        out = dict(self.fixed)
        out.update({k: float(v) for k, v in controls.items() if k != HOST_DRY})
        return out


IMPLEMENTATIONS: dict[str, Implementation] = {}


def _register(impl: Implementation) -> Implementation:
    eff = get_effect(impl.effect)
    if impl.name in IMPLEMENTATIONS:
        raise ValueError(f"duplicate implementation {impl.name}")
    ports = [c.port for c in impl.controls]
    if len(set(ports)) != len(ports) or set(ports) & set(impl.fixed):
        raise ValueError(f"{impl.name}: a port is drawn twice or both drawn and fixed")
    labels = [c.label for c in impl.controls if c.label]
    if len(set(labels)) != len(labels) or not set(labels) <= set(eff.param_names):
        raise ValueError(f"{impl.name}: labels {labels} must be distinct parameters of {eff.name}")
    IMPLEMENTATIONS[impl.name] = impl
    return impl


def implementations_for(effect: str) -> tuple[Implementation, ...]:
    """Every table entry for a ddspfx effect type, in table order."""
    name = get_effect(effect).name
    return tuple(i for i in IMPLEMENTATIONS.values() if i.effect == name)


def get_implementation(name: str) -> Implementation:
    try:
        return IMPLEMENTATIONS[name]
    except KeyError:
        raise KeyError(f"unknown plugin implementation {name!r}; known: {', '.join(IMPLEMENTATIONS)}") from None


# --- compressor ------------------------------------------------------------------------------------------------
# Catalog audible region: threshold -50..-20 dB, ratio 2.5..20. Attack/release are left unlabelled
# everywhere: each design defines its time constants differently (peak vs RMS ballistics, 1/e vs 10-90 %).

_register(Implementation(
    name="cmt/compress_peak", effect="compressor", package="cmt", library="cmt.so",
    label="compress_peak", unique_id=1072,
    controls=(
        Control("Threshold", 0.003, 0.1, "log", "linear gain"),
        Control("Compression Ratio", 0.05, 0.4, "log", "output/input slope"),
        Control("Output Envelope Attack (s)", 0.0005, 0.05, "log", "s"),
        Control("Output Envelope Decay (s)", 0.02, 0.5, "log", "s"),
    ),
    description="CMT simple compressor, peak envelope; ratio is a slope (<1), threshold a linear level.",
))

_register(Implementation(
    name="cmt/compress_rms", effect="compressor", package="cmt", library="cmt.so",
    label="compress_rms", unique_id=1073,
    controls=(
        Control("Threshold", 0.003, 0.05, "log", "linear gain"),
        Control("Compression Ratio", 0.05, 0.4, "log", "output/input slope"),
        Control("Output Envelope Attack (s)", 0.0005, 0.05, "log", "s"),
        Control("Output Envelope Decay (s)", 0.02, 0.5, "log", "s"),
    ),
    description="CMT simple compressor, RMS envelope.",
))

_register(Implementation(
    name="invada/compressor", effect="compressor", package="invada-studio-plugins-ladspa", library="inv_compressor.so",
    label="invada_mono_compressor_module_0_1", unique_id=3308,
    controls=(
        # narrowed until most draws are audible: this RMS design barely changes a loudness-matched
        # clip at ratios < 8 or releases > 50 ms (measured: 12 % audible over -36..-20 dB, 2.5..20:1)
        Control("Threshold (dB)", -36.0, -28.0, "linear", "dB", label="threshold_db"),
        Control("Ratio", 8.0, 20.0, "log", ":1", label="ratio"),
        Control("Attack (ms)", 5.0, 50.0, "log", "ms"),
        Control("Release (ms)", 5.0, 25.0, "log", "ms"),
        Control("Tight / Sloppy", 0.0, 0.5),
    ),
    fixed={"Gain (dB)": 0.0, "Soft Clip": 0.0},
    description="Invada mono compressor (RMS detector), no make-up gain, soft clip off.",
))

_register(Implementation(
    name="lsp/compressor", effect="compressor", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "compressor_mono", unique_id=5002090,
    controls=(
        Control("Attack threshold (G)", 10 ** (-50 / 20), 10 ** (-32 / 20), "log", "linear gain",
                label="threshold_db", convert="amp_to_db"),
        Control("Ratio", 4.0, 20.0, "log", ":1", label="ratio"),
        Control("Attack time (ms)", 5.0, 50.0, "log", "ms"),
        Control("Release time (ms)", 20.0, 500.0, "log", "ms"),
        Control("Knee (G)", 0.0631, 1.0, "log", "linear gain"),
        Control("Sidechain mode", 0.0, 1.0, choices=(0.0, 1.0), unit="peak/RMS"),
    ),
    fixed={"Compression mode": 0.0, "Makeup gain (G)": 1.0, "Dry gain (G)": 0.0, "Wet gain (G)": 1.0},
    description="LSP Compressor Mono, downward mode, no make-up gain.",
))

# --- distortion -------------------------------------------------------------------------------------------------
# Catalog: drive_db 10..40 dB of gain into a tanh. Only Invada's tube has a gain-into-the-shaper in dB.

_register(Implementation(
    name="invada/tube", effect="distortion", package="invada-studio-plugins-ladspa", library="inv_tube.so",
    label="invada_mono_tube_module_0_1", unique_id=3306,
    controls=(
        Control("Drive (dB)", 6.0, 18.0, "linear", "dB", label="drive_db"),
        Control("DC Offset", -0.5, 0.5),
    ),
    fixed={"Phase": 0.0, "Wet/Dry Mix (%)": 100.0},
    description="Invada tube stage: drive (dB) into an asymmetric tube curve, fully wet.",
))

_register(Implementation(
    name="cmt/wshape_sine", effect="distortion", package="cmt", library="cmt.so",
    label="wshape_sine", unique_id=1097,
    controls=(Control("Limiting Amplitude", 0.01, 0.25, "log", "linear level"),),
    description="CMT sine wave shaper: y = limit * sin(x / limit); a low limit folds the waveform.",
))

_register(Implementation(
    name="dpf/soulforce", effect="distortion", package="dpf-plugins-ladspa", library="SoulForce-ladspa.so",
    label="SoulForce", unique_id=1399604850,
    controls=(Control("Shape", 0.3, 1.0), Control("FBack", 0.4, 1.0)),
    fixed={"Source": 0.0, "Foot": 1.0},
    description="DISTRHO Soul Force waveshaper (stereo-only: both inputs get the clip, outputs averaged).",
))

# --- eq (peaking) -----------------------------------------------------------------------------------------------
# Catalog: a peak of gain_db (|gain| >= 5 dB) at cutoff_frequency_hz 200..5000. Frequency and gain are
# labelled where the plugin's bell reaches its gain at its centre (checked in tests/test_plugins.py);
# bandwidth/Q are unlabelled (octave bandwidth and each design's Q differ).

_register(Implementation(
    name="fil/parametric", effect="eq", package="fil-plugins", library="filters.so",
    label="Parametric1", unique_id=1970,
    controls=(
        Control("Frequency 3", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("Gain 3", -12.0, 12.0, "linear", "dB", dead_zone=(-5.0, 5.0), label="gain_db"),
        Control("Bandwidth 3", 0.5, 2.5, "log", "octaves"),
    ),
    fixed={"Filter": 1.0, "Gain": 0.0, "Section 1": 0.0, "Section 2": 0.0, "Section 3": 1.0, "Section 4": 0.0},
    description="Fons Adriaensen's 4-band parametric, one section on.",
))

_register(Implementation(
    name="lsp/para_eq", effect="eq", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "para_equalizer_x16_mono", unique_id=5002074,
    controls=(
        Control("Frequency 0 (Hz)", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("Gain 0 (G)", 10 ** (-12 / 20), 10 ** (12 / 20), "log", "linear gain",
                dead_zone=(10 ** (-5 / 20), 10 ** (5 / 20)), label="gain_db", convert="amp_to_db"),
        Control("Quality factor 0", 0.5, 2.5, "log"),
        Control("Filter mode 0", 0.0, 6.0, choices=(0.0, 1.0, 6.0), unit="RLC BT/RLC MT/APO"),
    ),
    fixed={"Filter type 0": 1.0, "Equalizer mode": 0.0},
    description="LSP Parametric Equalizer x16 Mono, one bell filter (modes whose gain at centre is the set gain).",
))

_register(Implementation(
    name="dpf/3bandeq", effect="eq", package="dpf-plugins-ladspa", library="3BandEQ-ladspa.so",
    label="3BandEQ", unique_id=1144210769,
    controls=(
        Control("Mid", -24.0, 24.0, "linear", "dB", dead_zone=(-8.0, 8.0)),
        Control("Low-Mid Freq", 150.0, 700.0, "log", "Hz"),
        Control("Mid-High Freq", 1500.0, 5000.0, "log", "Hz"),
    ),
    fixed={"Low": 0.0, "High": 0.0, "Master": 0.0},
    description="DISTRHO 3 Band EQ, mid band only (its gain at the band centre is not the set dB: unlabelled).",
))

# --- chorus -----------------------------------------------------------------------------------------------------
# mcp's choruses output the modulated voices only: the host adds the dry signal (HOST_DRY).

_CHORUS_CONTROLS = (
    Control("Delay (ms)", 6.0, 20.0, "linear", "ms", label="centre_delay_ms"),
    Control("Mod Frequency 1 (Hz)", 0.4, 5.0, "log", "Hz", label="rate_hz"),
    Control("Mod Amplitude 1 (ms)", 0.5, 5.0, "log", "ms"),
    Control("Mod Frequency 2 (Hz)", 2.0, 8.0, "log", "Hz"),
    Control("Mod Amplitude 2 (ms)", 0.0, 0.5, "linear", "ms"),
    Control(HOST_DRY, 0.5, 1.0),
)

for _label, _uid in (("Chorus1", 1944), ("Chorus2", 1945), ("TripleChorus", 1951)):
    _register(Implementation(
        name=f"mcp/{_label.lower()}", effect="chorus", package="mcp-plugins", library="cs_chorus.so",
        label=_label, unique_id=_uid, controls=_CHORUS_CONTROLS,
        description=f"Fons Adriaensen's {_label} (CSound design by Sean Costello), wet voices + host dry"
                    + (", three outputs averaged" if _label == "TripleChorus" else ""),
    ))

# --- phaser -----------------------------------------------------------------------------------------------------

_register(Implementation(
    name="mcp/phaser", effect="phaser", package="mcp-plugins", library="cs_phaser.so",
    label="Phaser1+LFO", unique_id=1947,
    controls=(
        Control("LFO frequency (Hz)", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("Sections", 2.0, 10.0, integer=True),
        Control("Frequency", -2.0, 2.0, unit="octaves"),
        Control("LFO waveform", -1.0, 1.0),
        Control("Modulation gain", 0.5, 5.0, "log"),
        Control("Feedback gain", -0.7, 0.7),
        Control("Output mix", -1.0, 1.0, dead_zone=(-0.4, 0.4)),
    ),
    fixed={"Input gain (dB)": 0.0},
    description="Fons Adriaensen's Phaser1 with LFO; output mix 0 is dry, +-1 wet (negative: inverted).",
))

# --- delay ------------------------------------------------------------------------------------------------------
# Catalog: delay_seconds 0.05..0.6, feedback 0..0.7, mix 0.2..0.6 (out = (1 - mix) dry + mix wet).

_register(Implementation(
    name="cmt/fbdelay", effect="delay", package="cmt", library="cmt.so",
    label="fbdelay_1s", unique_id=1060,
    controls=(
        Control("Delay (Seconds)", 0.05, 0.6, "linear", "s", label="delay_seconds"),
        Control("Feedback", 0.0, 0.7, label="feedback"),
        Control("Dry/Wet Balance", 0.2, 0.6, label="mix"),
    ),
    description="CMT feedback delay line: (1 - balance) dry + balance delayed, feedback into the line. Sample-identical "
                "to pedalboard's Delay at the labelled values (tests/test_plugins.py): a label check, not a new design.",
))

_register(Implementation(
    name="lsp/slap_delay", effect="delay", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "slap_delay_mono", unique_id=5002130,
    controls=(
        Control("Delay 0 time (ms)", 50.0, 600.0, "linear", "ms", label="delay_seconds", convert="ms_to_s"),
        Control("Wet amount (G)", 0.3, 1.0, "log", "linear gain"),
        Control("Delay 0 high-cut frequency (Hz)", 2000.0, 16000.0, "log", "Hz"),
    ),
    fixed={"Delay 0 mode": 1.0, "Mono output": 1.0, "Dry amount (G)": 1.0, "Equalizer 0 on": 1.0,
           "Delay 0 high-cut": 1.0},
    description="LSP Slapback Delay Mono, one tap (no feedback), high-cut on the tap.",
))

_register(Implementation(
    name="lsp/comp_delay", effect="delay", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "comp_delay_mono", unique_id=5002065,
    controls=(
        Control("Time (ms)", 50.0, 600.0, "linear", "ms", label="delay_seconds", convert="ms_to_s"),
        Control("Wet amount (G)", 0.4, 1.0, "log", "linear gain"),
    ),
    fixed={"Mode": 2.0, "Dry amount (G)": 1.0},
    description="LSP Delay Compensator Mono used as a single echo: dry + wet * delayed.",
))

# --- reverb -----------------------------------------------------------------------------------------------------
# Catalog (JUCE Freeverb): room_size, damping, wet_level, dry_level. CMT's freeverb3 is Jezar's Freeverb
# with the same scalings, so its four knobs are labelled; the other reverbs' knobs are not.

_register(Implementation(
    name="cmt/freeverb3", effect="reverb", package="cmt", library="cmt.so",
    label="freeverb3", unique_id=1123,
    controls=(
        Control("Room Size", 0.25, 1.0, label="room_size"),
        Control("Damping", 0.0, 1.0, label="damping"),
        Control("Wet Level", 0.2, 0.6, label="wet_level"),
        Control("Dry Level", 0.4, 1.0, label="dry_level"),
    ),
    fixed={"Freeze Mode": 0.0, "Width": 1.0},
    description="CMT Freeverb 3 (Jezar), stereo outputs averaged.",
))

_register(Implementation(
    name="rev/zita", effect="reverb", package="rev-plugins", library="zita-reverbs.so",
    label="zita-reverb", unique_id=3701,
    controls=(
        Control("Delay", 0.02, 0.1, "linear", "s"),
        Control("RT-low", 1.0, 6.0, "log", "s"),
        Control("RT-mid", 1.0, 6.0, "log", "s"),
        Control("Damping", 1500.0, 24000.0, "log", "Hz"),
        Control("Output mix", 0.2, 0.6),
    ),
    fixed={"Xover": 200.0, "F1-gain": 0.0, "F2-gain": 0.0},
    description="Fons Adriaensen's zita-reverb (feedback delay network), stereo outputs averaged.",
))

_register(Implementation(
    name="dpf/mverb", effect="reverb", package="dpf-plugins-ladspa", library="MVerb-ladspa.so",
    label="MVerb", unique_id=1297511010,
    controls=(
        Control("Damping", 0.0, 100.0, unit="%"),
        Control("Density", 0.0, 100.0, unit="%"),
        Control("Bandwidth", 20.0, 100.0, unit="%"),
        Control("Decay", 20.0, 90.0, unit="%"),
        Control("Predelay", 0.0, 50.0, unit="%"),
        Control("Size", 20.0, 100.0, unit="%"),
        Control("Mix", 20.0, 60.0, unit="%"),
        Control("Early/Late Mix", 0.0, 100.0, unit="%"),
    ),
    fixed={"Gain": 100.0},
    description="DISTRHO MVerb (Dattorro plate), stereo outputs averaged.",
))

_register(Implementation(
    name="dpf/gigaverb", effect="reverb", package="dpf-plugins-ladspa", library="MaGigaverb-ladspa.so",
    label="MaGigaverb", unique_id=1145923446,
    controls=(
        Control("roomsize", 5.0, 100.0, "log", "m"),
        Control("revtime", 0.5, 10.0, "log", "s"),
        Control("damping", 0.0, 1.0),
        Control("bandwidth", 0.3, 1.0),
        Control("early", 0.1, 0.5),
        Control("tail", 0.1, 0.5),
    ),
    fixed={"dry": 1.0, "spread": 25.0},
    description="DISTRHO/Max Gen port of Gigaverb, stereo outputs averaged.",
))

_register(Implementation(
    name="dpf/freeverb", effect="reverb", package="dpf-plugins-ladspa", library="MaFreeverb-ladspa.so",
    label="MaFreeverb", unique_id=1145923190,
    controls=(
        Control("fb1", 0.7, 0.95),
        Control("fb2", 0.3, 0.7),
        Control("damp", 0.0, 1.0),
        Control(HOST_DRY, 0.7, 1.0),
    ),
    fixed={"spread": 0.0},
    description="DISTRHO/Max Gen port of Freeverb (wet only) + host dry.",
))

_register(Implementation(
    name="invada/er_reverb", effect="reverb", package="invada-studio-plugins-ladspa", library="inv_erreverb.so",
    label="invada_mono_reverbER_module_0_1", unique_id=3311,
    controls=(
        Control("Room Length", 5.0, 60.0, "log", "m"),
        Control("Room Width", 5.0, 60.0, "log", "m"),
        Control("Room Height", 3.0, 20.0, "log", "m"),
        Control("Warmth", 0.0, 1.0),
        Control("Diffusion", 0.0, 1.0),
        Control(HOST_DRY, 0.7, 1.0),
    ),
    description="Invada early-reflection room (wet only, stereo outputs averaged) + host dry.",
))


HELD_OUT: tuple[str, ...] = ("lsp/compressor", "dpf/soulforce", "dpf/3bandeq", "mcp/triplechorus", "mcp/phaser",
                             "lsp/slap_delay", "dpf/mverb")
"""One implementation per effect type that release R8's model never trains on (``--data.plugin_exclude``), so
chains rendered only by these are a leave-one-implementation-out test. Phaser has one plugin family (mcp), so
phasers in training come from pedalboard and ddspfx's variants alone."""


def effects_without_implementations() -> tuple[str, ...]:
    """Catalog effects the table has no plugin for (should be empty)."""
    return tuple(e for e in EFFECT_NAMES if not implementations_for(e))
