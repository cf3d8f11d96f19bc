"""Which Debian LADSPA and LV2 plugins implement each ddspfx effect type, and how to drive them: one declarative table.

Per implementation: the Debian package that ships it, where (LADSPA: the ``.so`` and its label and unique ID;
LV2: the bundle directory and plugin URI, controls by port symbol), the control ports to draw (range,
linear/log scale, dead zone) and the ones to hold fixed. A control that means the same thing as a catalog
parameter, in the same unit up to a fixed conversion (:data:`CONVERSIONS`: gain in dB <-> linear gain,
ms <-> s, percent <-> fraction, LFO period <-> rate), names that parameter in ``label``: a rendered pedal's
label then carries the catalog value; every other catalog parameter of that effect is unlabelled for this
implementation (:meth:`Implementation.param_mask` is 0 there, so the parameter loss can be masked).

LADSPA packages: cmt, fil-plugins, mcp-plugins, rev-plugins, invada-studio-plugins-ladspa, lsp-plugins-ladspa,
dpf-plugins-ladspa, rubberband-ladspa. LV2 packages (hosted by ``ddspfx.plugins.lv2``): ardour-lv2-plugins, x42-plugins,
eq10q, zynaddsubfx-lv2, setbfree, invada-studio-plugins-lv2, dragonfly-reverb-lv2, fomp. An LV2 build of a design already
listed through LADSPA (LSP, DISTRHO, Invada's compressor and tube) is not listed again, nor is x42's fil4, whose
bell sections are fil's parametric (measured: the same response to 0.01 dB), nor Ardour's a-eq, which is RBJ's
peaking biquad as pedalboard's PeakFilter (noise renders -50 to -60 dB apart at the matching Q).

Ranges were chosen so that most draws are audible by ``ddspfx.audibility``'s score and thresholds
(``experiments/plugin_audibility.py`` prints the audible fraction per implementation). A render must be a
function of the clip and the controls alone (tests/test_plugins.py renders twice around another instance):
settings that read a process-wide random generator are not drawn, and ZynAddSubFX's LFO effects get a
silent pre-roll (:attr:`Implementation.preroll`). A plugin that delays its output (Rubber Band) declares its latency
(:attr:`Implementation.latency`), which the renderer removes.

Plugins whose output is wet only (mcp's choruses, MaFreeverb, Invada's early reflections and delay, setBfree's
rotary speaker) get a host-side dry path: the pseudo-control :data:`HOST_DRY` adds ``level * dry`` to the
plugin's output.

Reserved for held-out evaluation and never listed here (:data:`~ddspfx.plugins.reserved.RESERVED_PACKAGES`:
guitarix-lv2, calf-plugins, caps, tap-plugins, swh-plugins, zam-plugins, mda-lv2; :func:`_register` refuses them).
Their plugins are the judges' implementations, declared with the same :class:`Implementation` (checked by
:func:`check_implementation`) in ``experiments/judges.py``, which owns their table (evaluation only): the package never
holds or looks them up. A judges' pedal carries its entry (``PluginPedal.judge``), so it renders, while
:func:`get_implementation` and everything that draws training pedals (:func:`implementations_for`) never see them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping, Sequence

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, Param, Scale, get_effect
from ddspfx.plugins.reserved import RESERVED_PACKAGES

Convert = Literal["same", "amp_to_db", "db_to_amp", "ms_to_s", "percent_to_unit", "period_to_hz",
                  "reduction_to_ratio", "zyn_lfo_to_hz", "zyn_delay_to_s", "one_minus", "pan_speed_to_hz",
                  "pan_width_to_depth", "zyn_drive_to_clip_db", "zyn_lpf_to_hz", "zyn_sweep_to_octaves"]
"""How a labelled control's value becomes the catalog parameter's value (:data:`CONVERSIONS`)."""


def _zyn_lfo_hz(value: float) -> float:
    """ZynAddSubFX's effect-LFO rate (src/Effects/EffectLFO.cpp): 0..127 -> (2^(10 v / 127) - 1) * 0.03 Hz."""
    return (2.0 ** (10.0 * value / 127.0) - 1.0) * 0.03


_ZYN_CENTRE_PAN = (64.0 + 0.5) / 127.0
_ZYN_MONO_SUM = math.cos(_ZYN_CENTRE_PAN * math.pi / 2) + math.cos((1.0 - _ZYN_CENTRE_PAN) * math.pi / 2)
"""Gain of ZynAddSubFX Distortion's mono path on the clip fed to both inputs: the two centre-pan gains summed
(src/Effects/Effect.cpp, setpanning), 1.414 (+3.0 dB)."""


def _zyn_clip_db(value: float) -> float:
    """ZynAddSubFX Distortion's drive 0..127 as the gain (dB) that brings a signal to its limiter types' clip level:
    the mono sum of both inputs (:data:`_ZYN_MONO_SUM`) times the input gain 5^((v - 32) / 127)
    (src/Effects/Distorsion.cpp) over the clip level 2^(-8 (v / 127)^2) (src/Misc/WaveShapeSmps.cpp, Limiter / Upper /
    Lower Limiter), i.e. the catalog fuzz's gain into a unit clip."""
    return (20.0 * math.log10(_ZYN_MONO_SUM) + 20.0 * math.log10(5.0) * (value - 32.0) / 127.0
            + 20.0 * math.log10(2.0) * 8.0 * (value / 127.0) ** 2)


CONVERSIONS: dict[Convert, Callable[[float], float]] = {
    "same": float,
    "amp_to_db": lambda v: 20.0 * math.log10(max(v, 1e-12)),
    "db_to_amp": lambda v: 10.0 ** (v / 20.0),  # a gain per repeat in dB (swh's fadDelay, a judge) as a factor
    "ms_to_s": lambda v: v / 1000.0,
    "percent_to_unit": lambda v: v / 100.0,  # a-delay's feedback and dry/wet (%)
    "period_to_hz": lambda v: 1.0 / v,  # Invada phaser's LFO period (s)
    # x42-darc's Ratio: the fraction of each dB over the threshold that is taken off, 1 - 1/ratio (1 = limiter)
    "reduction_to_ratio": lambda v: 1.0 / max(1.0 - v, 1e-6),
    "zyn_lfo_to_hz": _zyn_lfo_hz,
    "zyn_delay_to_s": lambda v: v / 127.0 * 1.5,  # ZynAddSubFX Echo (src/Effects/Echo.cpp): 0..127 -> 0..1.5 s
    "one_minus": lambda v: 1.0 - v,  # a dry/wet crossfade's wet share (0..1) as the dry level
    # DISTRHO Ping Pong Pan (plugins/PingPongPan): its LFO runs at Frequency / 100 Hz and the two outputs' gains are
    # 1 - max(pan, 0) and 1 + min(pan, 0), pan = Width / 100 * sin; their mean, 1 - Width / 200 |sin|, is a tremolo at
    # twice the LFO's rate whose trough is 1 - Width / 200
    "pan_speed_to_hz": lambda v: v / 50.0,
    "pan_width_to_depth": lambda v: v / 200.0,
    "zyn_drive_to_clip_db": _zyn_clip_db,
    # ZynAddSubFX Distortion's low-pass (src/Effects/Distorsion.cpp): 0..127 -> exp(sqrt(v / 127) ln 25000) + 40 Hz
    "zyn_lpf_to_hz": lambda v: math.exp(math.sqrt(v / 127.0) * math.log(25000.0)) + 40.0,
    # ZynAddSubFX DynamicFilter (src/Effects/DynamicFilter.cpp): the LFO (0..1) adds up to 5 (v / 127)^2 octaves
    "zyn_sweep_to_octaves": lambda v: 5.0 * (v / 127.0) ** 2,
}
"""The one place a labelled control's value is converted to catalog units, per :data:`Convert`."""

Host = Literal["ladspa", "lv2"]
"""Which in-process host runs an implementation (``ddspfx.plugins.ladspa`` or ``ddspfx.plugins.lv2``)."""

HOST_DRY = "(host) dry level"
"""Pseudo-control of wet-only plugins: the host adds ``value * dry`` to the plugin's output."""

LSP_SO = "lsp-plugins-ladspa-1.2.5.so"
LSP = "http://lsp-plug.in/plugins/ladspa/"
ZYN = "http://zynaddsubfx.sourceforge.net/fx#"


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
        return float(CONVERSIONS[self.convert](float(value)))


@dataclass(frozen=True)
class Implementation:
    """One plugin as an implementation of one ddspfx effect type."""

    name: str
    """``<family>/<plugin>``; the family (the plugin project: ``invada`` spans Invada's LADSPA and LV2 packages) is the
    unit of leave-one-implementation-out evaluation, and ``--data.plugin_exclude`` matches names by prefix."""
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
    """``"lv2"``: ``label`` is the plugin URI, ``library`` its bundle directory's name (``a-comp.lv2``), ``unique_id``
    0, and controls, ``fixed``, ``inputs`` and ``outputs`` name ports by LV2 symbol."""
    preroll: float = 0.0
    """Seconds of silence run through the fresh instance before the clip, output dropped. ZynAddSubFX's effect LFO
    scales its first two cycles by draws from a process-wide random generator (EffectLFO's ``ampl1``/``ampl2``),
    so its renders repeat only once two slowest cycles have passed."""
    latency: int = 0
    """Frames the plugin delays its output by (what it reports on its latency port): the renderer runs that many
    zeros after the clip and drops as many frames from the front, so the output lines up with the input."""

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
"""The training table: every implementation a training run may draw (none from a reserved package)."""

def check_implementation(impl: Implementation) -> None:
    """ValueError unless ``impl``'s controls are distinct ports and its labels distinct parameters of its effect
    (the training table's entries and the judges' alike)."""
    eff = get_effect(impl.effect)
    ports = [c.port for c in impl.controls]
    if len(set(ports)) != len(ports) or set(ports) & set(impl.fixed):
        raise ValueError(f"{impl.name}: a port is drawn twice or both drawn and fixed")
    labels = [c.label for c in impl.controls if c.label]
    if len(set(labels)) != len(labels) or not set(labels) <= set(eff.param_names):
        raise ValueError(f"{impl.name}: labels {labels} must be distinct parameters of {eff.name}")


def _register(impl: Implementation) -> Implementation:
    check_implementation(impl)
    if impl.name in IMPLEMENTATIONS:
        raise ValueError(f"duplicate implementation {impl.name}")
    if impl.package in RESERVED_PACKAGES:
        raise ValueError(f"{impl.name}: {impl.package} is reserved for held-out evaluation (experiments/judges.py)")
    IMPLEMENTATIONS[impl.name] = impl
    return impl


def implementations_for(effect: str) -> tuple[Implementation, ...]:
    """Every training table entry for a ddspfx effect type, in table order (never a judges' entry)."""
    name = get_effect(effect).name
    return tuple(i for i in IMPLEMENTATIONS.values() if i.effect == name)


def get_implementation(name: str) -> Implementation:
    """A training table entry by name (a judges' entry is never found here: its pedal carries it)."""
    impl = IMPLEMENTATIONS.get(name)
    if impl is None:
        raise KeyError(f"unknown plugin implementation {name!r}; known: {', '.join(IMPLEMENTATIONS)}")
    return impl


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

_register(Implementation(
    name="ardour/a-comp", effect="compressor", package="ardour-lv2-plugins", library="a-comp.lv2",
    label="urn:ardour:a-comp", unique_id=0, host="lv2",
    controls=(
        Control("thr", -50.0, -32.0, "linear", "dB", label="threshold_db"),
        Control("rat", 4.0, 20.0, "log", ":1", label="ratio"),
        Control("att", 0.5, 30.0, "log", "ms"),
        Control("rel", 20.0, 200.0, "log", "ms"),
        Control("kn", 0.0, 6.0, unit="dB"),
    ),
    fixed={"mak": 0.0, "sidech": 0.0, "enable": 1.0},
    description="Ardour's ACE Compressor, no make-up gain; at a hard knee its static curve is pedalboard's within 0.5 dB.",
))

_register(Implementation(
    name="x42/darc", effect="compressor", package="x42-plugins", library="darc.lv2",
    label="http://gareus.org/oss/lv2/darc#mono", unique_id=0, host="lv2",
    controls=(
        Control("threshold", -50.0, -40.0, "linear", "dB", label="threshold_db"),
        # 0.75..0.95 = 4:1..20:1 (1.0, its limiter, is past the catalog's 20:1)
        Control("Ratio", 0.75, 0.95, "linear", "1 - 1/ratio", label="ratio", convert="reduction_to_ratio"),
        Control("attack", 0.001, 0.01, "log", "s"),
        Control("release", 0.03, 0.1, "log", "s"),
    ),
    fixed={"inputgain": 0.0, "hold": 0.0, "enable": 1.0},
    description="x42 Dynamic Range Compressor Mono: soft knee centred on the threshold, automatic make-up gain.",
))

_register(Implementation(
    name="eq10q/compressor", effect="compressor", package="eq10q", library="sapistaEQv2.lv2",
    label="http://eq10q.sourceforge.net/compressor", unique_id=0, host="lv2",
    controls=(
        Control("threshold", -40.0, -26.0, "linear", "dB", label="threshold_db"),
        Control("compratio", 4.0, 20.0, "log"),
        Control("attack", 0.5, 50.0, "log", "ms"),
        Control("decay", 20.0, 500.0, "log", "ms"),
        Control("knee", 0.0, 10.0, unit="dB"),
    ),
    fixed={"compmakeup": 0.0, "drywet": 1.0, "ingain": 0.0},
    description="EQ10Q's CS10QM compressor, no make-up gain; its ratio knob is not n:1 (4 and 20 measure 2.7:1 and 5:1).",
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

_register(Implementation(
    name="zyn/distortion", effect="distortion", package="zynaddsubfx-lv2", library="ZynDistortion.lv2",
    label=ZYN + "Distortion", unique_id=0, host="lv2",
    controls=(
        Control("drive", 30.0, 127.0, integer=True),
        Control("type", 0.0, 13.0, choices=(0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0),
                unit="atan/asym/pow/sine/clip/asym2/pow2/sigmoid"),
        Control("lpf", 64.0, 127.0, integer=True),
        Control("hpf", 0.0, 40.0, integer=True),
    ),
    fixed={"lrcross": 0.0, "negate": 0.0, "stereo": 0.0, "pf": 0.0, "level": 70.0},
    description="ZynAddSubFX Distortion: a choice of waveshapers between filters; drive in 0..127 steps, not dB.",
))

# --- eq (peaking) -----------------------------------------------------------------------------------------------
# Catalog: a peak of gain_db (|gain| >= 5 dB) at cutoff_frequency_hz 200..5000. Frequency and gain are
# labelled where the plugin's bell reaches its gain at its centre (checked in tests/test_plugins.py);
# bandwidth/Q only where it is RBJ's Q, as pedalboard's (eq10q; octave bandwidths and other designs' Q differ).

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

_register(Implementation(
    name="eq10q/eq1q", effect="eq", package="eq10q", library="sapistaEQv2.lv2",
    label="http://eq10q.sourceforge.net/eq/eq1qm", unique_id=0, host="lv2",
    controls=(
        Control("filter1_freq", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("filter1_gain", -12.0, 12.0, "linear", "dB", dead_zone=(-5.0, 5.0), label="gain_db"),
        Control("filter1_q", 0.5, 4.0, "log", label="q"),
    ),
    fixed={"filter1_type": 11.0, "filter1_enable": 1.0, "bypass": 0.0, "input_gain": 0.0, "output_gain": 0.0},
    description="EQ10Q's EQ1Q Mono, one peak filter: RBJ's peaking biquad with its own frequency warping (pedalboard's "
                "PeakFilter at the labelled Q within 0.1 dB below 5 kHz), so all three knobs are labelled.",
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

_ZYN_LFO_SLOWEST = 49.0
"""ZynAddSubFX LFO setting of 0.41 Hz (the catalog's audible rates start at 0.4 Hz): slower ones need a longer pre-roll."""
_ZYN_PREROLL = 2.0 / _zyn_lfo_hz(_ZYN_LFO_SLOWEST) + 0.25
"""Two of the slowest LFO cycles (4.9 s) and a margin: afterwards Zyn's LFO depth no longer depends on its generator."""

_register(Implementation(
    name="zyn/chorus", effect="chorus", package="zynaddsubfx-lv2", library="ZynChorus.lv2",
    label=ZYN + "Chorus", unique_id=0, host="lv2",
    controls=(
        Control("lfofreq", _ZYN_LFO_SLOWEST, 90.0, integer=True, label="rate_hz", convert="zyn_lfo_to_hz"),
        Control("depth", 20.0, 100.0, integer=True),
        Control("delay", 20.0, 100.0, integer=True),
        Control("fb", 40.0, 88.0, integer=True),
    ),
    fixed={"flang": 0.0, "subsout": 0.0, "lforand": 0.0, "lfotype": 0.0},
    preroll=_ZYN_PREROLL,
    description="ZynAddSubFX Chorus, stereo voices averaged; depth, delay and feedback are 0..127 steps (unlabelled).",
))

_register(Implementation(
    name="setbfree/whirl", effect="chorus", package="setbfree", library="b_whirl",
    label="http://gareus.org/oss/lv2/b_whirl#simple", unique_id=0, host="lv2",
    controls=(
        Control("rt_speed", 4.0, 8.0, choices=(4.0, 5.0, 7.0, 8.0), unit="horn slow/fast x drum slow/fast"),
        Control(HOST_DRY, 0.5, 1.0),
    ),
    fixed={"enable": 1.0},
    description="setBfree's rotary speaker (horn and drum, both outputs averaged) + host dry: a Leslie's pitch and "
                "level wobble, the chorus of an organ.",
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

_register(Implementation(
    name="invada/phaser", effect="phaser", package="invada-studio-plugins-lv2", library="invada.lv2",
    label="http://invadarecords.com/plugins/lv2/phaser/mono", unique_id=0, host="lv2",
    controls=(
        Control("cycle", 0.5, 5.0, "log", "s", label="rate_hz", convert="period_to_hz"),
        Control("width", 2.0, 15.0),
        Control("depth", 40.0, 100.0, unit="%"),
    ),
    fixed={"bypass": 0.0, "noClip": 0.0, "phase": 0.0},
    description="Invada Stereo Phaser (mono in), both LFOs in phase, outputs averaged; its knob is the LFO period.",
))

_register(Implementation(
    name="zyn/phaser", effect="phaser", package="zynaddsubfx-lv2", library="ZynPhaser.lv2",
    label=ZYN + "Phaser", unique_id=0, host="lv2",
    controls=(
        Control("lfofreq", _ZYN_LFO_SLOWEST, 90.0, integer=True, label="rate_hz", convert="zyn_lfo_to_hz"),
        Control("depth", 60.0, 127.0, integer=True),
        Control("fb", 40.0, 100.0, integer=True),
        Control("stages", 2.0, 8.0, integer=True),
        Control("analog", 0.0, 1.0, choices=(0.0, 1.0), unit="digital/analog"),
    ),
    fixed={"subsout": 0.0, "hyper": 0.0, "dist": 0.0, "lforand": 0.0, "lfotype": 0.0},
    preroll=_ZYN_PREROLL,
    description="ZynAddSubFX Phaser (digital or analog model), stereo LFOs averaged.",
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

_register(Implementation(
    name="ardour/a-delay", effect="delay", package="ardour-lv2-plugins", library="a-delay.lv2",
    label="urn:ardour:a-delay", unique_id=0, host="lv2",
    controls=(
        Control("time", 50.0, 600.0, "linear", "ms", label="delay_seconds", convert="ms_to_s"),
        Control("feedback", 0.0, 70.0, unit="%", label="feedback", convert="percent_to_unit"),
        Control("drywet", 20.0, 60.0, unit="%", label="mix", convert="percent_to_unit"),
        Control("lpf", 2000.0, 20000.0, "log", "Hz"),
    ),
    fixed={"sync": 0.0, "inv": 0.0, "dot": 0.0, "gain": 0.0, "enable": 1.0},
    description="Ardour's ACE Delay: (1 - mix) dry + mix echoes, each repeat times the feedback, as pedalboard's Delay "
                "at low frequencies (a low-pass sits in the loop).",
))

_register(Implementation(
    name="invada/delay", effect="delay", package="invada-studio-plugins-lv2", library="invada.lv2",
    label="http://invadarecords.com/plugins/lv2/delay/mono", unique_id=0, host="lv2",
    controls=(
        Control("delay1", 0.05, 0.6, "linear", "s", label="delay_seconds"),
        Control("fb1", 0.0, 70.0, unit="%"),
        Control("munge", 0.0, 50.0, unit="%"),
        Control(HOST_DRY, 0.7, 1.0),
    ),
    fixed={"bypass": 0.0, "mode": 0.0, "LFOdepth": 0.0, "pan1": 0.0, "vol1": 100.0, "vol2": 0.0, "fb2": 0.0},
    description="Invada Delay Munge (mono in), tap 1 centred, tap 2 off (wet only) + host dry; munge colours the repeats.",
))

_register(Implementation(
    name="zyn/echo", effect="delay", package="zynaddsubfx-lv2", library="ZynEcho.lv2",
    label=ZYN + "Echo", unique_id=0, host="lv2",
    controls=(
        Control("delay", 5.0, 50.0, integer=True, label="delay_seconds", convert="zyn_delay_to_s"),
        Control("fb", 0.0, 90.0, integer=True),
        Control("damp", 0.0, 100.0, integer=True),
    ),
    fixed={"lrdelay": 64.0, "lrcross": 0.0},
    description="ZynAddSubFX Echo: half dry plus echoes; feedback in 0..127 steps with repeats alternating in sign.",
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

_register(Implementation(
    name="dragonfly/hall", effect="reverb", package="dragonfly-reverb-lv2", library="DragonflyHallReverb.lv2",
    label="https://github.com/michaelwillis/dragonfly-reverb", unique_id=0, host="lv2",
    controls=(
        Control("dry_level", 40.0, 100.0, unit="%"),
        Control("late_level", 10.0, 60.0, unit="%"),
        Control("early_level", 0.0, 30.0, unit="%"),
        Control("size", 10.0, 60.0, unit="m"),
        Control("decay", 0.5, 5.0, "log", "s"),
        Control("high_cut", 3000.0, 16000.0, "log", "Hz"),
    ),
    description="Dragonfly Hall Reverb (built on the Freeverb3 library), stereo outputs averaged.",
))

_register(Implementation(
    name="dragonfly/plate", effect="reverb", package="dragonfly-reverb-lv2", library="DragonflyPlateReverb.lv2",
    label="urn:dragonfly:plate", unique_id=0, host="lv2",
    controls=(
        Control("dry_level", 40.0, 100.0, unit="%"),
        Control("early_level", 10.0, 60.0, unit="%"),
        # not 2 ("Tank"): it reads libc's rand(), so its renders depend on what ran before in the process
        Control("algorithm", 0.0, 1.0, choices=(0.0, 1.0), unit="simple/nested"),
        Control("decay", 0.3, 4.0, "log", "s"),
        Control("high_cut", 3000.0, 16000.0, "log", "Hz"),
    ),
    fixed={"low_cut": 50.0},
    description="Dragonfly Plate Reverb (its Wet Level knob is the port early_level), stereo outputs averaged.",
))

_register(Implementation(
    name="ardour/a-reverb", effect="reverb", package="ardour-lv2-plugins", library="a-reverb.lv2",
    label="urn:ardour:a-reverb", unique_id=0, host="lv2",
    controls=(Control("blend", 0.2, 0.6), Control("roomsz", 0.5, 1.0)),
    fixed={"enable": 1.0},
    description="Ardour's ACE Reverb, stereo outputs averaged.",
))

_register(Implementation(
    name="zyn/reverb", effect="reverb", package="zynaddsubfx-lv2", library="ZynReverb.lv2",
    label=ZYN + "Reverb", unique_id=0, host="lv2",
    controls=(
        Control("time", 50.0, 110.0, integer=True),
        # at 127 this build outputs the dry signal only (a plugin bug)
        Control("size", 30.0, 110.0, integer=True),
        Control("damp", 64.0, 110.0, integer=True),
        Control("lpf", 60.0, 127.0, integer=True),
    ),
    fixed={"type": 1.0},
    description="ZynAddSubFX Reverb, type 1: Freeverb's comb and allpass lengths scaled by its size, comb feedback "
                "set by a decay time, filtered input (type 0 draws random lengths); stereo outputs averaged.",
))


# --- the pedals added after the first seven ---------------------------------------------------------------------
# Audible fractions (python -m experiments.plugin_audibility): experiments/results/plugin_audibility/.

# --- tremolo ----------------------------------------------------------------------------------------------------
# Catalog: gain 1 - depth (1 - m) / 2 for an LFO m in [-1, 1] at rate_hz 1..12. No allowed package has a tremolo
# pedal; DISTRHO's auto-panner, its outputs averaged as every stereo plugin's are, is one (see "pan_speed_to_hz").
# Searched and left out: cmt's am and DISTRHO's AmplitudeImposer (the modulator is a second audio input),
# setBfree's rotary drum (its Doppler shift is 30-130 cents on a sine: a rotary speaker, not a tremolo).

_register(Implementation(
    name="dpf/pingpongpan", effect="tremolo", package="dpf-plugins-ladspa", library="PingPongPan-ladspa.so",
    label="PingPongPan", unique_id=1146114128,
    controls=(
        # its LFO tops out at 1 Hz (Frequency 100), so the averaged outputs swing at 1..2 Hz
        Control("Frequency", 50.0, 100.0, "log", "LFO Hz x 100", label="rate_hz", convert="pan_speed_to_hz"),
        Control("Width", 40.0, 100.0, unit="%", label="depth", convert="pan_width_to_depth"),
    ),
    description="DISTRHO Ping Pong Pan (Michael Gruhn's auto-panner; stereo-only: both inputs get the clip) with its "
                "outputs averaged: gain 1 - Width / 200 |sin|, a tremolo at twice the LFO's rate, crest-shaped.",
))

# --- flanger ----------------------------------------------------------------------------------------------------
# Catalog: a 1-7 ms delay swept at rate_hz 0.05..2, feedback up to 0.9, mix 0.2..0.8. ZynAddSubFX's Chorus "Flange
# Mode" sets the delay to 0 (src/Effects/Chorus.cpp, getdelay), so its flanger is the Chorus at a 1-7 ms delay.

_register(Implementation(
    name="mcp/flanger", effect="flanger", package="mcp-plugins", library="cs_chorus.so",
    label="TripleChorus", unique_id=1951,
    controls=(
        Control("Delay (ms)", 2.0, 7.0, "linear", "ms", label="centre_delay_ms"),
        Control("Mod Frequency 1 (Hz)", 0.1, 2.0, "log", "Hz", label="rate_hz"),
        Control("Mod Amplitude 1 (ms)", 0.3, 1.5, "log", "ms"),
        Control(HOST_DRY, 0.7, 1.0),
    ),
    fixed={"Mod Frequency 2 (Hz)": 1.0, "Mod Amplitude 2 (ms)": 0.0},
    outputs=("Output1",),
    description="Fons Adriaensen's TripleChorus, first output only: one delay voice (Delay + Amplitude sin(2 pi f t), "
                "no feedback) at a flanger's delays, + host dry. Chorus1/2 sum three voices at 120 degrees, which "
                "smears the comb (and repeats at 3 f).",
))

_register(Implementation(
    name="zyn/flanger", effect="flanger", package="zynaddsubfx-lv2", library="ZynChorus.lv2",
    label=ZYN + "Chorus", unique_id=0, host="lv2",
    controls=(
        Control("lfofreq", _ZYN_LFO_SLOWEST, 77.0, integer=True, label="rate_hz", convert="zyn_lfo_to_hz"),
        # delay 20..57 = 1.1..6.9 ms and depth 10..40 = 0.4..2.7 ms of sweep above it ((10^(2v/127) - 1) ms and
        # (8^(2v/127) - 1) ms, src/Effects/Chorus.cpp); the sweep starts at the delay, so neither is the catalog's centre
        Control("delay", 20.0, 57.0, integer=True),
        Control("depth", 10.0, 40.0, integer=True),
        # (v - 64) / 64.1: feedback of either sign with |feedback| >= 0.31
        Control("fb", 8.0, 120.0, integer=True, dead_zone=(44.0, 84.0)),
    ),
    fixed={"flang": 0.0, "subsout": 0.0, "lforand": 0.0, "lfotype": 0.0, "lfostereo": 64.0, "lrcross": 0.0},
    preroll=_ZYN_PREROLL,
    description="ZynAddSubFX Chorus at a flanger's delays with strong feedback, both LFOs in phase; half dry, half wet.",
))

# --- fuzz -------------------------------------------------------------------------------------------------------
# Catalog: gain_db 20..50 into a biased hard clip, then a tone low-pass at tone_hz 400..6000. The fuzz-like corners
# of two distortion plugins: ZynAddSubFX's hard limiters (its distortion entry draws its other shapers) and Invada's
# tube driven hard with a DC offset (asymmetric clipping). Searched and left out: cmt's lofi (its overload is a
# symmetric soft saturation, odd harmonics only), DISTRHO's Soul Force (the distortion type's held-out entry).

_register(Implementation(
    name="zyn/fuzz", effect="fuzz", package="zynaddsubfx-lv2", library="ZynDistortion.lv2",
    label=ZYN + "Distortion", unique_id=0, host="lv2",
    controls=(
        Control("drive", 67.0, 112.0, integer=True, label="gain_db", convert="zyn_drive_to_clip_db"),  # 20..49 dB
        Control("type", 6.0, 8.0, choices=(6.0, 7.0, 8.0), unit="limiter/upper limiter/lower limiter"),
        # post-shaper 2-pole low-pass (RBJ, Q 1: 0 dB at its frequency, where the catalog's one-pole is at -3 dB)
        Control("lpf", 43.0, 93.0, integer=True, label="tone_hz", convert="zyn_lpf_to_hz"),
        Control("level", 90.0, 110.0, integer=True),
    ),
    fixed={"lrcross": 0.0, "negate": 0.0, "stereo": 0.0, "pf": 0.0, "hpf": 0.0},
    description="ZynAddSubFX Distortion as a fuzz: a hard limiter (both halves, or one: asymmetric), then a tone "
                "low-pass; its output is half dry, half the louder wet.",
))

_register(Implementation(
    name="invada/tube_fuzz", effect="fuzz", package="invada-studio-plugins-ladspa", library="inv_tube.so",
    label="invada_mono_tube_module_0_1", unique_id=3306,
    controls=(
        # at most 18 dB: below the catalog's 20..50 dB, so unlabelled
        Control("Drive (dB)", 14.0, 18.0, "linear", "dB"),
        Control("DC Offset", 0.3, 0.8),
    ),
    fixed={"Phase": 0.0, "Wet/Dry Mix (%)": 100.0},
    description="Invada tube stage at its highest drives with a DC offset: guitar peaks clip on one rail first "
                "(even harmonics), as a mis-biased transistor fuzz; no tone control.",
))

# --- octave -----------------------------------------------------------------------------------------------------
# Catalog: dry_level, down_level and up_level (linear gains), the reference a two-tap delay-line shifter. Here one
# shifted voice, an octave down or up, beside the dry: only the dry level is labelled (the voice's level is the
# down or the up level depending on the draw).

_register(Implementation(
    name="dpf/pitchshift", effect="octave", package="dpf-plugins-ladspa", library="MaPitchshift-ladspa.so",
    label="MaPitchshift", unique_id=1145925747,
    controls=(
        Control("ratio", 0.5, 2.0, choices=(0.5, 2.0), unit="octave down/up"),
        # out = (1 - xfade) dry + xfade shifted (measured: an impulse's dry tap is 1 - xfade)
        Control("xfade", 0.3, 0.8, label="dry_level", convert="one_minus"),
        Control("window", 20.0, 60.0, "log", "ms"),
    ),
    fixed={"blur": 0.0},
    outputs=("Audio Output 1",),
    description="DISTRHO/Max Gen pitch shifter (a windowed delay-line shifter), first output only (its two outputs "
                "are grains of different phase that partly cancel when averaged); blur off.",
))

_register(Implementation(
    name="rubberband/pitchshifter", effect="octave", package="rubberband-ladspa", library="ladspa-rubberband.so",
    label="rubberband-pitchshifter-mono", unique_id=2979,
    controls=(
        Control("Octaves", -1.0, 1.0, choices=(-1.0, 1.0), unit="octave down/up"),
        Control("Wet-Dry Mix", 0.2, 0.7, label="dry_level"),  # out = mix dry + (1 - mix) shifted
        Control("Crispness", 0.0, 3.0, choices=(0.0, 1.0, 2.0, 3.0)),
    ),
    fixed={"Cents": 0.0, "Semitones": 0.0, "Formant Preserving": 0.0},
    latency=8192,
    description="Rubber Band's real-time pitch shifter (R2 engine, a phase vocoder), latency compensated. Its R3 "
                "engine is left out: it reports buffer underruns on stderr when shifting up.",
))

# --- wah --------------------------------------------------------------------------------------------------------
# Catalog: a band-pass swept by a sine LFO at rate_hz 0.2..5 over range_octaves 1..3 above min_frequency_hz.

_register(Implementation(
    name="zyn/dynamicfilter", effect="wah", package="zynaddsubfx-lv2", library="ZynDynamicFilter.lv2",
    label=ZYN + "DynamicFilter", unique_id=0, host="lv2",
    controls=(
        Control("lfofreq", _ZYN_LFO_SLOWEST, 93.0, integer=True, label="rate_hz", convert="zyn_lfo_to_hz"),
        Control("lfodepth", 57.0, 98.0, integer=True, label="range_octaves", convert="zyn_sweep_to_octaves"),
    ),
    # amplitude sensing off: the sweep is the LFO's alone, so its range is the labelled one
    fixed={"lforand": 0.0, "lfotype": 0.0, "lfostereo": 64.0, "ampsns": 0.0, "ampsnsinv": 0.0, "ampsmooth": 60.0},
    preroll=_ZYN_PREROLL,
    description="ZynAddSubFX DynamicFilter (its default resonant low-pass, swept up from about 900 Hz, measured), both "
                "LFOs in phase; half dry, half wet.",
))

_register(Implementation(
    name="zyn/alienwah", effect="wah", package="zynaddsubfx-lv2", library="ZynAlienWah.lv2",
    label=ZYN + "AlienWah", unique_id=0, host="lv2",
    controls=(
        Control("lfofreq", _ZYN_LFO_SLOWEST, 93.0, integer=True, label="rate_hz", convert="zyn_lfo_to_hz"),
        Control("depth", 40.0, 127.0, integer=True),
        Control("fb", 60.0, 127.0, integer=True),
        Control("delay", 1.0, 30.0, integer=True),
    ),
    fixed={"lforand": 0.0, "lfotype": 0.0, "lfostereo": 64.0, "lrcross": 0.0, "phase": 64.0},
    preroll=_ZYN_PREROLL,
    description="ZynAddSubFX AlienWah: a feedback comb of `delay` samples whose complex feedback coefficient the LFO "
                "rotates, moving its resonant peaks (src/Effects/Alienwah.cpp), both LFOs in phase; half dry, half wet.",
))

_register(Implementation(
    name="fomp/autowah", effect="wah", package="fomp", library="fomp.lv2",
    label="http://drobilla.net/plugins/fomp/autowah", unique_id=0, host="lv2",
    controls=(
        Control("drive", 0.0, 20.0, unit="dB"),
        Control("decay", 0.0, 1.0),
        Control("range", 0.3, 1.0),
        Control("freq", 0.0, 0.6),
        Control("mix", 0.5, 1.0),
    ),
    description="Fons Adriaensen's auto-wah (LV2 port in fomp): a resonant filter swept by the playing's envelope, not "
                "an LFO (measured: a 1 kHz sine gains 6 dB at amplitude 0.01, a 3 kHz one 18 dB at 0.3); its knobs are "
                "0..1 settings (unlabelled). Not added: wah-plugins, the same author's LADSPA auto-wah (taken as the same design).",
))

# --- noise gate -------------------------------------------------------------------------------------------------
# Catalog: threshold_db -70..-20 (JUCE's RMS detector), release_ms; a 10:1 expander. Thresholds are labelled (in
# dB, or linear gain via amp_to_db), time constants are not (as for the compressors). A gate is heard only where
# it closes, so thresholds are drawn in the catalog's top 6-10 dB, near a clip's playing level, and the two hard
# gates close fast; still, on a clip played without gaps they stay open (about half of their draws are inaudible,
# pedalboard's own gate 95 % at the catalog's range).

_register(Implementation(
    name="lsp/gate", effect="noise_gate", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "gate_mono", unique_id=5002114,
    controls=(
        Control("Curve threshold (G)", 10 ** (-26 / 20), 10 ** (-20 / 20), "log", "linear gain",
                label="threshold_db", convert="amp_to_db"),
        # its gain curve blows up as the zone nears 1 (measured: peaks of 15 at 0.98, 1e27 at 0.99; fine at 1)
        Control("Curve zone size (G)", 0.25, 0.7, "log", "linear gain"),
        Control("Attack (ms)", 0.5, 20.0, "log", "ms"),
        Control("Release (ms)", 20.0, 80.0, "log", "ms"),
        Control("Sidechain mode", 0.0, 1.0, choices=(0.0, 1.0), unit="peak/RMS"),
    ),
    fixed={"Reduction (G)": 0.001, "Makeup gain (G)": 1.0, "Dry gain (G)": 0.0, "Wet gain (G)": 1.0, "Hysteresis": 0.0},
    description="LSP Gate Mono: closes by 60 dB below the threshold, over a transition zone.",
))

_register(Implementation(
    name="lsp/expander", effect="noise_gate", package="lsp-plugins-ladspa", library=LSP_SO,
    label=LSP + "expander_mono", unique_id=5002106,
    controls=(
        Control("Attack threshold (G)", 10 ** (-30 / 20), 10 ** (-20 / 20), "log", "linear gain",
                label="threshold_db", convert="amp_to_db"),
        Control("Ratio", 6.0, 20.0, "log", ":1"),
        Control("Attack time (ms)", 0.5, 20.0, "log", "ms"),
        Control("Release time (ms)", 20.0, 150.0, "log", "ms"),
    ),
    fixed={"Expander mode": 0.0, "Makeup gain (G)": 1.0, "Dry gain (G)": 0.0, "Wet gain (G)": 1.0},
    description="LSP Expander Mono, downward mode: below the threshold each dB less in gives ratio dB less out.",
))

_register(Implementation(
    name="eq10q/gate", effect="noise_gate", package="eq10q", library="sapistaEQv2.lv2",
    label="http://eq10q.sourceforge.net/gate", unique_id=0, host="lv2",
    controls=(
        Control("threshold", -26.0, -20.0, "linear", "dB", label="threshold_db"),
        Control("attack", 0.5, 20.0, "log", "ms"),
        Control("hold", 1.0, 20.0, "log", "ms"),
        Control("decay", 20.0, 80.0, "log", "ms"),
        Control("gaterange", -90.0, -40.0, unit="dB"),
    ),
    fixed={"keylisten": 0.0, "compratio": 100.0, "hpf": 20.0, "lpf": 20000.0, "ingain": 0.0, "knee": 0.0, "drywet": 1.0},
    description="EQ10Q's GT10QM gate: hold, then decay to its range below the threshold.",
))

_register(Implementation(
    name="ardour/a-exp", effect="noise_gate", package="ardour-lv2-plugins", library="a-exp.lv2",
    label="urn:ardour:a-exp", unique_id=0, host="lv2",
    controls=(
        Control("thr", -30.0, -20.0, "linear", "dB", label="threshold_db"),
        Control("rat", 4.0, 20.0, "log", ":1"),
        Control("att", 0.5, 20.0, "log", "ms"),
        Control("rel", 20.0, 150.0, "log", "ms"),
        Control("kn", 0.0, 6.0, unit="dB"),
    ),
    fixed={"mak": 0.0, "sidech": 0.0, "enable": 1.0},
    description="Ardour's ACE Expander, no make-up gain.",
))

def name_list(text: str) -> tuple[str, ...]:
    """A comma-separated list of implementation names or families (``--data.plugin_exclude``) as a tuple."""
    return tuple(x.strip() for x in text.split(",") if x.strip())


def named_by(name: str, prefixes: Sequence[str]) -> bool:
    """Whether implementation ``name`` is one of ``prefixes`` or in a family they name ("lsp", "mcp/phaser")."""
    return any(name.startswith(x) for x in prefixes)


HELD_OUT: tuple[str, ...] = ("lsp/compressor", "dpf/soulforce", "dpf/3bandeq", "mcp/triplechorus", "mcp/phaser",
                             "lsp/slap_delay", "dpf/mverb", "mcp/flanger", "zyn/fuzz", "dpf/pitchshift", "fomp/autowah",
                             "eq10q/gate")
"""One implementation per effect type that has two or more (:func:`effects_without_held_out` lists the others) kept out
of training (``--data.plugin_exclude``), so chains rendered only by these are a leave-one-implementation-out test.
Release R8's model trained with the first seven excluded (it knew no later type). Phaser has one LADSPA family
(mcp), so R8's phasers in training came from pedalboard and ddspfx's variants alone; the LV2 phasers (invada, zyn)
now train too. Of the later types: mcp/flanger is TripleChorus, the chorus type's held-out plugin too; zyn/fuzz's
hard limiters are shapers no trained entry draws (zyn/distortion draws the others); dpf/pitchshift rather than Rubber
Band, whose algorithm trains anyway through the octave's render variant (pedalboard's PitchShift); fomp/autowah is the
only envelope-swept wah and its family's only entry; eq10q/gate the only hold-then-decay gate."""


def effects_without_implementations() -> tuple[str, ...]:
    """Catalog effects the table has no plugin for (should be empty)."""
    return tuple(e for e in EFFECT_NAMES if not implementations_for(e))


def effects_without_held_out() -> tuple[str, ...]:
    """Catalog effects with fewer than two table entries, so none can be held out of training: tremolo (the allowed
    packages have one tremolo, DISTRHO's auto-panner; see its section above)."""
    return tuple(e for e in EFFECT_NAMES if len(implementations_for(e)) < 2)
