"""The judges' plugins: the reserved packages' implementations of the catalog's effects, for evaluation only.

guitarix-lv2, calf-plugins, caps, tap-plugins, swh-plugins, zam-plugins and mda-lv2
(:data:`ddspfx.plugins.reserved.RESERVED_PACKAGES`) are other people's pedals the project may never train on, choose
thresholds with or select models by: they measure how the models do on designs they never heard. Their entries use
the training table's :class:`~ddspfx.plugins.table.Implementation` and :class:`~ddspfx.plugins.table.Control`, but
live here, in :data:`JUDGES`, a table this module owns and no training code imports (the package never holds or
looks them up): a pedal that carries its entry (``PluginPedal(..., judge=impl)``, see :func:`judge_pedal`) renders
through ``run_plugin`` (and only such a pedal may run a reserved plugin), while ``draw_plugin_pedals`` and
``installed_implementations`` never see them. ``python -m experiments.real_sources
--renderer plugins --plugins-from judges`` draws from this table alone.

Conventions are the training table's (``ddspfx/plugins/table.py``): controls are drawn in audible ranges, dry/wet,
bypass, make-up and output gains are held, and a control names a catalog parameter in ``label`` only where it
means exactly that parameter (a threshold in dB or as a linear level, an n:1 ratio, a gain in dB into the shaper, a
bell's centre and its gain there, an LFO rate in Hz, a delay time); every other knob is unlabelled. Stereo-only
plugins get the mono clip on both inputs and their outputs are averaged. Ranges come from the plugins' port
documentation (LADSPA hints, LV2 Turtle) and from audibility alone, never from a model's answers: build and check
this table without running any ddspfx model on its renders.

Not listed: swh's Multivoice Chorus (a second render of the same clip differs), TAP Dynamics (its preset curves
leave guitar clips inaudibly changed), swh's Valve saturation (inaudible on most draws), Guitarix's zita-rev1 and
reverb (the training table's rev/zita and Freeverb designs); mda Delay, Dynamics and ThruZero, swh's Plate, GVerb and
Auto phaser, Guitarix's echoes and DS-1, TAP Equalizer/BW host cleanly but are not needed for 4-6 entries a type.
Nor C* EqFA4p: Fons Adriaensen's parametric section, the design of the training table's fil/parametric (heard).
Of the later types (each section says why): swh's Flanger and Pitch Scalers (rand() in its LFO; FFTW renders that
differ in the last bit), TAP Pitch Shifter (its dry path is delayed by an amount that depends on the shift and the
rate), swh's Gate and C* Noisegate (inaudible on clean clips); Calf Pitch is a tuner, not a shifter. Guitarix's other
fuzzes (Fuzz, Fuzz Master, Hog's Foot, Rangemaster) and wahs (its Crybaby and fixed-setting autowah) are not needed.

    python -m experiments.judges [--n 40] [--clips 4] [--seed 0] [--implementations calf zam/comp ...]

checks every installed entry (it hosts, its output is finite, a second render around another instance is
identical) and prints the share of drawn settings audible by ``ddspfx.audibility`` beside pedalboard's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, get_effect
from ddspfx.plugins.render import PluginPedal, is_installed, run_plugin, sample_controls
from ddspfx.plugins.reserved import RESERVED_PACKAGES
from ddspfx.plugins.table import (
    HOST_DRY,
    IMPLEMENTATIONS,
    Control,
    Implementation,
    check_implementation,
    get_implementation,
)

JUDGES: dict[str, Implementation] = {}
"""The judges' implementations (reserved packages), by name: rendered in evaluation only, never drawn for training."""


def register_judge(impl: Implementation) -> Implementation:
    """Add an evaluation-only implementation of a reserved package to :data:`JUDGES`."""
    check_implementation(impl)
    if impl.name in IMPLEMENTATIONS or impl.name in JUDGES:
        raise ValueError(f"duplicate implementation {impl.name}")
    if impl.package not in RESERVED_PACKAGES:
        raise ValueError(f"{impl.name}: {impl.package} is not a judges' package; its plugins belong in IMPLEMENTATIONS")
    JUDGES[impl.name] = impl
    return impl


def find_implementation(name: str) -> Implementation:
    """A judges' entry or a training table entry by name: evaluation's lookup (training's is
    ``ddspfx.plugins.table.get_implementation``, which never finds a judge)."""
    return JUDGES[name] if name in JUDGES else get_implementation(name)


def judge_pedal(impl: Implementation, controls: dict[str, float]) -> PluginPedal:
    """A pedal of judges' entry ``impl`` with ``controls``: it carries its entry, so it may run a reserved plugin."""
    return PluginPedal(impl.effect, impl.name, controls, judge=impl)


CALF = "http://calf.sourceforge.net/plugins/"
GX = "http://guitarix.sourceforge.net/plugins/"
MDA = "http://drobilla.net/plugins/mda/"


# --- compressor ------------------------------------------------------------------------------------------------
# Threshold and ratio are labelled where the knob is a threshold (dB, or a linear level) and an n:1 ratio; attack
# and release are unlabelled, as in the training table (each design defines its time constants differently).

register_judge(Implementation(
    name="calf/compressor", effect="compressor", package="calf-plugins", library="calf.lv2",
    label=CALF + "MonoCompressor", unique_id=0, host="lv2",
    controls=(
        Control("threshold", 10 ** (-50 / 20), 10 ** (-32 / 20), "log", "linear level",
                label="threshold_db", convert="amp_to_db"),
        Control("ratio", 4.0, 20.0, "log", ":1", label="ratio"),
        Control("attack", 0.5, 30.0, "log", "ms"),
        Control("release", 20.0, 300.0, "log", "ms"),
        Control("knee", 1.0, 4.0, "log", "linear gain"),
    ),
    fixed={"bypass": 0.0, "level_in": 1.0, "makeup": 1.0, "mix": 1.0},
    description="Calf Mono Compressor, no make-up gain, fully wet (on a sine its static curve is a peak detector's).",
))

register_judge(Implementation(
    name="zam/comp", effect="compressor", package="zam-plugins", library="ZamComp.lv2",
    label="urn:zamaudio:ZamComp", unique_id=0, host="lv2",
    controls=(
        Control("thr", -50.0, -32.0, "linear", "dB", label="threshold_db"),
        Control("rat", 4.0, 20.0, "log", ":1", label="ratio"),
        Control("att", 0.5, 30.0, "log", "ms"),
        Control("rel", 20.0, 300.0, "log", "ms"),
        Control("kn", 0.0, 6.0, unit="dB"),
    ),
    fixed={"mak": 0.0, "slew": 1.0, "sidech": 0.0},
    description="ZamComp, its own side chain off, no make-up gain.",
))

register_judge(Implementation(
    name="swh/sc4m", effect="compressor", package="swh-plugins", library="sc4m_1916.so",
    label="sc4m", unique_id=1916,
    controls=(
        # its threshold stops at -30 dB: ratios and releases narrowed until most draws are audible
        Control("Threshold level (dB)", -30.0, -25.0, "linear", "dB", label="threshold_db"),
        Control("Ratio (1:n)", 6.0, 20.0, "log", ":1", label="ratio"),
        Control("Attack time (ms)", 1.5, 10.0, "log", "ms"),
        Control("Release time (ms)", 20.0, 120.0, "log", "ms"),
        Control("Knee radius (dB)", 1.0, 6.0, unit="dB"),
        Control("RMS/peak", 0.0, 0.5),  # towards peak its slow attacks barely act on a guitar
    ),
    fixed={"Makeup gain (dB)": 0.0},
    description="Steve Harris' SC4 mono: RMS/peak envelope blend; its threshold stops at -30 dB.",
))

register_judge(Implementation(
    name="gx/compressor", effect="compressor", package="guitarix-lv2", library="gx_compressor.lv2",
    label=GX + "gx_compressor#_compressor", unique_id=0, host="lv2",
    controls=(
        Control("THRESHOLD", -50.0, -32.0, "linear", "dB", label="threshold_db"),
        Control("RATIO", 4.0, 20.0, "log", ":1", label="ratio"),
        Control("ATTACK", 0.0005, 0.03, "log", "s"),
        Control("RELEASE", 0.02, 0.3, "log", "s"),
        Control("KNEE", 0.0, 6.0, unit="dB"),
    ),
    fixed={"BYPASS": 1.0},
    description="Guitarix compressor (its BYPASS port is lv2:enabled: 1 = on).",
))

register_judge(Implementation(
    name="caps/compress", effect="compressor", package="caps", library="caps.so",
    label="Compress", unique_id=1772,
    controls=(
        Control("threshold", 0.0, 0.4),
        Control("strength", 0.6, 1.0),
        Control("attack", 0.4, 1.0),
        Control("release", 0.4, 1.0),
        Control("measure", 0.0, 1.0, choices=(0.0, 1.0), unit="peak/rms"),
    ),
    fixed={"mode": 0.0, "gain (dB)": 0.0},
    description="C* Compress, no saturating limiter, no make-up gain; threshold and strength are 0..1 knobs.",
))

# --- distortion -------------------------------------------------------------------------------------------------
# Catalog: drive_db, a gain in dB into a tanh. Only C* Saturate's knob is a gain in dB into its waveshaper.

register_judge(Implementation(
    name="caps/saturate", effect="distortion", package="caps", library="caps.so",
    label="Saturate", unique_id=1771,
    controls=(
        Control("gain (dB)", 10.0, 40.0, "linear", "dB", label="drive_db"),
        Control("mode", 1.0, 10.0, choices=(1.0, 2.0, 3.0, 6.0, 10.0), unit="atan/atan15/clip/clip3/tanh"),
        Control("bias", 0.0, 0.3),
    ),
    description="C* Saturate: gain (dB) into a static waveshaper, 8x oversampled.",
))

register_judge(Implementation(
    name="tap/tubewarmth", effect="distortion", package="tap-plugins", library="tap_tubewarmth.so",
    label="tap_tubewarmth", unique_id=2158,
    controls=(
        Control("Drive", 4.0, 10.0),
        Control("Tape--Tube Blend", -10.0, 10.0),
    ),
    description="TAP TubeWarmth: tape or tube saturation model; drive is a 0.1..10 knob.",
))

register_judge(Implementation(
    name="calf/saturator", effect="distortion", package="calf-plugins", library="calf.lv2",
    label=CALF + "Saturator", unique_id=0, host="lv2",
    controls=(
        Control("drive", 2.0, 10.0),
        Control("blend", -10.0, 10.0),
        Control("level_in", 2.0, 16.0, "log", "linear gain"),
    ),
    fixed={"bypass": 0.0, "level_out": 1.0, "mix": 1.0, "pre": 0.0, "post": 0.0},
    description="Calf Saturator (TAP's tube/tape blend design with input gain), pre/post filters off.",
))

register_judge(Implementation(
    name="gx/ts9", effect="distortion", package="guitarix-lv2", library="gxts9.lv2",
    label=GX + "gxts9#ts9sim", unique_id=0, host="lv2",
    controls=(
        Control("fslider2_", 0.3, 1.0, unit="drive"),
        Control("fslider1_", 200.0, 1000.0, "log", "Hz"),
    ),
    fixed={"fslider0_": -6.0, "BYPASS": 1.0},
    description="Guitarix Tube Screamer simulation (drive and tone knobs).",
))

register_judge(Implementation(
    name="zam/tube", effect="distortion", package="zam-plugins", library="ZamTube.lv2",
    label="urn:zamaudio:ZamTube", unique_id=0, host="lv2",
    controls=(
        Control("tubedrive", 2.0, 11.0),
        Control("bass", 3.0, 7.0),
        Control("mids", 3.0, 7.0),
        Control("treb", 3.0, 7.0),
    ),
    fixed={"tonestack": 0.0, "gain": 0.0, "insane": 0.0},
    description="ZamTube: a triode model and a tone stack.",
))

register_judge(Implementation(
    name="mda/overdrive", effect="distortion", package="mda-lv2", library="mda.lv2",
    label=MDA + "Overdrive", unique_id=0, host="lv2",
    controls=(Control("drive", 0.3, 1.0), Control("muffle", 0.0, 0.5)),
    fixed={"output": 0.5},
    description="mda Overdrive (soft clipper with a muffle low-pass), stereo outputs averaged.",
))

# --- eq (peaking) -----------------------------------------------------------------------------------------------
# Catalog: a bell of gain_db (|gain| >= 5 dB) at cutoff_frequency_hz 200..5000. Centre and gain are labelled where
# the bell reaches its gain at its centre (tests/test_judges.py checks one); bandwidths in octaves are unlabelled.

register_judge(Implementation(
    name="calf/eq5", effect="eq", package="calf-plugins", library="calf.lv2",
    label=CALF + "Equalizer5Band", unique_id=0, host="lv2",
    controls=(
        Control("p2_freq", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("p2_level", 10 ** (-12 / 20), 10 ** (12 / 20), "log", "linear gain",
                dead_zone=(10 ** (-5 / 20), 10 ** (5 / 20)), label="gain_db", convert="amp_to_db"),
        Control("p2_q", 0.5, 4.0, "log"),
    ),
    fixed={"bypass": 0.0, "level_in": 1.0, "level_out": 1.0, "ls_active": 0.0, "hs_active": 0.0,
           "p1_active": 0.0, "p2_active": 1.0, "p3_active": 0.0},
    description="Calf Equalizer 5 Band, one peak band on (gain as a linear factor).",
))

register_judge(Implementation(
    name="zam/eq2", effect="eq", package="zam-plugins", library="ZamEQ2.lv2",
    label="urn:zamaudio:ZamEQ2", unique_id=0, host="lv2",
    controls=(
        Control("f1", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("boost1", -12.0, 12.0, "linear", "dB", dead_zone=(-5.0, 5.0), label="gain_db"),
        Control("bw1", 1.5, 4.0, "log"),
    ),
    fixed={"boost2": 0.0, "boostl": 0.0, "boosth": 0.0, "master": 0.0, "peaks": 0.0},
    description="ZamEQ2, peak 1 only.",
))

register_judge(Implementation(
    name="swh/single_para", effect="eq", package="swh-plugins", library="single_para_1203.so",
    label="singlePara", unique_id=1203,
    controls=(
        Control("Frequency (Hz)", 200.0, 5000.0, "log", "Hz", label="cutoff_frequency_hz"),
        Control("Gain (dB)", -12.0, 12.0, "linear", "dB", dead_zone=(-5.0, 5.0), label="gain_db"),
        Control("Bandwidth (octaves)", 0.3, 2.0, "log", "octaves"),
    ),
    description="Steve Harris' single band parametric (its bandwidth: octaves to half the gain in dB).",
))

# --- chorus -----------------------------------------------------------------------------------------------------
# LFO rates in Hz are labelled; delays, depths and mixes are each design's own.

register_judge(Implementation(
    name="calf/multichorus", effect="chorus", package="calf-plugins", library="calf.lv2",
    label=CALF + "MultiChorus", unique_id=0, host="lv2",
    controls=(
        Control("mod_rate", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("min_delay", 2.0, 10.0, "log", "ms"),
        Control("mod_depth", 1.0, 8.0, "log", "ms"),
        Control("voices", 2.0, 6.0, integer=True),
        Control("vphase", 30.0, 120.0, unit="deg"),
        Control("amount", 0.5, 1.5),
    ),
    fixed={"dry": 1.0, "stereo": 0.0, "on": 1.0, "level_in": 1.0, "level_out": 1.0, "lfo": 1.0,
           "freq": 20.0, "freq2": 20000.0, "q": 0.125, "overlap": 1.0},
    description="Calf Multi Chorus, both channels' LFOs in phase, post-filter opened wide.",
))

register_judge(Implementation(
    name="caps/chorus", effect="chorus", package="caps", library="caps.so",
    label="ChorusI", unique_id=1767,
    controls=(
        Control("rate (Hz)", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("t (ms)", 5.0, 20.0, "log", "ms"),
        Control("width (ms)", 1.0, 5.0, "linear", "ms"),
        Control("blend", 0.5, 1.0),
        Control("feedforward", 0.3, 1.0),
        Control("feedback", 0.0, 0.4),
    ),
    description="C* ChorusI (mono chorus/flanger).",
))

register_judge(Implementation(
    name="tap/chorusflanger", effect="chorus", package="tap-plugins", library="tap_chorusflanger.so",
    label="tap_chorusflanger", unique_id=2159,
    controls=(
        Control("Frequency [Hz]", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("Depth [%]", 40.0, 100.0, unit="%"),
        Control("Delay [ms]", 5.0, 30.0, unit="ms"),
        Control("Wet Level [dB]", -6.0, 0.0, unit="dB"),
    ),
    fixed={"L/R Phase Shift [deg]": 0.0, "Contour [Hz]": 20.0, "Dry Level [dB]": 0.0},
    description="TAP Chorus/Flanger (stereo-only: both inputs get the clip, outputs averaged), L/R in phase.",
))

register_judge(Implementation(
    name="gx/chorus", effect="chorus", package="guitarix-lv2", library="gx_chorus.lv2",
    label=GX + "gx_chorus_stereo#_chorus_stereo", unique_id=0, host="lv2",
    controls=(
        Control("freq", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("delay", 0.005, 0.02, "linear", "s"),
        Control("depth", 0.02, 0.3),
        Control("level", 0.5, 1.0),
    ),
    fixed={"BYPASS": 1.0},
    description="Guitarix stereo chorus (both inputs get the clip, outputs averaged).",
))

# --- phaser -----------------------------------------------------------------------------------------------------

register_judge(Implementation(
    name="calf/phaser", effect="phaser", package="calf-plugins", library="calf.lv2",
    label=CALF + "Phaser", unique_id=0, host="lv2",
    controls=(
        Control("mod_rate", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("base_freq", 200.0, 2000.0, "log", "Hz", label="centre_frequency_hz"),
        Control("mod_depth", 1200.0, 4800.0, unit="cents"),
        Control("feedback", -0.7, 0.7),
        Control("stages", 2.0, 8.0, integer=True),
        Control("amount", 0.5, 1.0),
    ),
    fixed={"dry": 1.0, "stereo": 0.0, "reset": 0.0, "on": 1.0, "level_in": 1.0, "level_out": 1.0, "lfo": 1.0},
    description="Calf Phaser: the sweep centred on base_freq, both channels' LFOs in phase.",
))

register_judge(Implementation(
    name="caps/phaser", effect="phaser", package="caps", library="caps.so",
    label="PhaserII", unique_id=2586,
    controls=(
        Control("rate", 0.1, 0.8),
        Control("depth", 0.5, 1.0),
        Control("spread", 0.0, 1.0),
        Control("resonance", 0.0, 0.7),
        Control("lfo", 0.0, 1.0, choices=(0.0, 1.0), unit="sine/fractal"),
    ),
    description="C* PhaserII; its rate is a 0..1 knob.",
))

register_judge(Implementation(
    name="swh/lfo_phaser", effect="phaser", package="swh-plugins", library="phasers_1217.so",
    label="lfoPhaser", unique_id=1217,
    controls=(
        Control("LFO rate (Hz)", 0.4, 5.0, "log", "Hz", label="rate_hz"),
        Control("LFO depth", 0.4, 1.0),
        Control("Feedback", -0.7, 0.7),
        Control("Spread (octaves)", 0.5, 2.0),
        Control(HOST_DRY, 0.5, 1.0),
    ),
    description="Steve Harris' LFO phaser: its output is the allpass chain alone (flat without feedback), so the "
                "host adds the dry signal that makes the notches.",
))

register_judge(Implementation(
    name="gx/phaser", effect="phaser", package="guitarix-lv2", library="gx_phaser.lv2",
    label=GX + "gx_phaser#_phaser", unique_id=0, host="lv2",
    controls=(
        Control("speed", 0.4, 5.0, "log"),
        Control("dry_wet", 40.0, 100.0, unit="%"),
    ),
    fixed={"level": 0.0},
    description="Guitarix phaser.",
))

# --- delay ------------------------------------------------------------------------------------------------------
# Catalog: delay_seconds 0.05..0.6, feedback 0..0.7, mix 0.1..0.6 (out = (1 - mix) dry + mix wet).

register_judge(Implementation(
    name="zam/delay", effect="delay", package="zam-plugins", library="ZamDelay.lv2",
    label="urn:zamaudio:ZamDelay", unique_id=0, host="lv2",
    controls=(
        Control("time", 50.0, 600.0, "linear", "ms", label="delay_seconds", convert="ms_to_s"),
        Control("feedb", 0.0, 0.7, label="feedback"),
        Control("drywet", 0.2, 0.6),
        Control("lpf", 2000.0, 20000.0, "log", "Hz"),
    ),
    fixed={"inv": 0.0, "sync": 0.0, "div": 3.0, "gain": 0.0},
    description="ZamDelay, free-running (not synced to a tempo).",
))

register_judge(Implementation(
    name="tap/echo", effect="delay", package="tap-plugins", library="tap_echo.so",
    label="tap_stereo_echo", unique_id=2143,
    controls=(
        Control("L Delay [ms]", 50.0, 600.0, "linear", "ms", label="delay_seconds", convert="ms_to_s"),
        Control("L Feedback [%]", 0.0, 70.0, unit="%", label="feedback", convert="percent_to_unit"),
        Control("L Echo Level [dB]", -3.0, 6.0, unit="dB"),
    ),
    fixed={"R/Haas Delay [ms]": 0.0, "R/Haas Feedback [%]": 0.0, "R Echo Level [dB]": -70.0, "Dry Level [dB]": 0.0,
           "Cross Mode": 0.0, "Haas Effect": 0.0, "Swap Outputs": 0.0},
    description="TAP Stereo Echo, left echo only (both inputs get the clip, outputs averaged).",
))

register_judge(Implementation(
    name="calf/vintage_delay", effect="delay", package="calf-plugins", library="calf.lv2",
    label=CALF + "VintageDelay", unique_id=0, host="lv2",
    controls=(
        Control("ms", 50.0, 600.0, "linear", "ms", integer=True, label="delay_seconds", convert="ms_to_s"),
        Control("feedback", 0.0, 0.7, label="feedback"),
        Control("amount", 0.4, 1.2),
        Control("medium", 0.0, 2.0, choices=(0.0, 1.0, 2.0), unit="plain/tape/old tape"),
    ),
    fixed={"on": 1.0, "level_in": 1.0, "level_out": 1.0, "timing": 1.0, "subdiv": 4.0, "time_l": 4.0,
           "time_r": 4.0, "mix_mode": 0.0, "dry": 1.0, "width": 1.0, "fragmentation": 0.0},
    description="Calf Vintage Delay timed in ms, both channels alike.",
))

register_judge(Implementation(
    name="swh/fad_delay", effect="delay", package="swh-plugins", library="fad_delay_1192.so",
    label="fadDelay", unique_id=1192,
    controls=(
        Control("Delay (seconds)", 0.1, 0.6, "linear", "s", label="delay_seconds"),
        Control("Feedback (dB)", -30.0, -3.1, unit="dB", label="feedback", convert="db_to_amp"),
        Control(HOST_DRY, 0.7, 1.0),
    ),
    description="Steve Harris' fractionally addressed delay line (wet only) + host dry; feedback is the gain per "
                "repeat in dB.",
))

# --- reverb -----------------------------------------------------------------------------------------------------
# None is Freeverb with JUCE's scalings, so no reverb knob is labelled.

register_judge(Implementation(
    name="calf/reverb", effect="reverb", package="calf-plugins", library="calf.lv2",
    label=CALF + "Reverb", unique_id=0, host="lv2",
    controls=(
        Control("decay_time", 0.5, 5.0, "log", "s"),
        Control("hf_damp", 2000.0, 20000.0, "log", "Hz"),
        Control("room_size", 0.0, 4.0, choices=(0.0, 1.0, 2.0, 4.0), unit="small/medium/large/large smooth"),
        Control("diffusion", 0.2, 1.0),
        Control("amount", 0.2, 0.8),
        Control("predelay", 0.0, 50.0, unit="ms"),
    ),
    fixed={"dry": 1.0, "bass_cut": 100.0, "treble_cut": 12000.0, "on": 1.0, "level_in": 1.0, "level_out": 1.0},
    description="Calf Reverb, stereo outputs averaged.",
))

register_judge(Implementation(
    name="caps/plate", effect="reverb", package="caps", library="caps.so",
    label="Plate", unique_id=1779,
    controls=(
        Control("bandwidth", 0.3, 1.0),
        Control("tail", 0.3, 0.9),
        Control("damping", 0.0, 0.7),
        Control("blend", 0.2, 0.6),
    ),
    description="C* Plate (Dattorro's figure-of-eight plate), stereo outputs averaged.",
))

register_judge(Implementation(
    name="tap/reverb", effect="reverb", package="tap-plugins", library="tap_reverb.so",
    label="tap_reverb", unique_id=2142,
    controls=(
        Control("Decay [ms]", 500.0, 5000.0, "log", "ms"),
        Control("Wet Level [dB]", -12.0, 0.0, unit="dB"),
        Control("Reverb Type", 0.0, 42.0, integer=True),
    ),
    fixed={"Dry Level [dB]": 0.0, "Comb Filters": 1.0, "Allpass Filters": 1.0, "Bandpass Filter": 1.0,
           "Enhanced Stereo": 0.0},
    description="TAP Reverberator, its 43 room presets (stereo-only: both inputs get the clip, outputs averaged).",
))

register_judge(Implementation(
    name="zam/verb", effect="reverb", package="zam-plugins", library="ZamVerb.lv2",
    label="urn:zamaudio:ZamVerb", unique_id=0, host="lv2",
    controls=(
        Control("room", 0.0, 6.0, integer=True),
        Control("wetdry", 20.0, 60.0, unit="%"),
    ),
    fixed={"master": 0.0},
    description="ZamVerb: convolution with one of its seven rooms' impulse responses (recorded at 48 kHz and not "
                "resampled: at 44.1 kHz each room is 9 % longer; it says so on stderr), stereo outputs averaged.",
))

register_judge(Implementation(
    name="mda/ambience", effect="reverb", package="mda-lv2", library="mda.lv2",
    label=MDA + "Ambience", unique_id=0, host="lv2",
    controls=(
        Control("size", 0.3, 1.0),
        Control("hf_damp", 0.0, 0.7),
        Control("mix", 0.3, 0.8),
    ),
    fixed={"output": 0.5},
    description="mda Ambience (a small diffuse room), stereo outputs averaged.",
))


# --- the pedals added after the first seven ---------------------------------------------------------------------

# --- tremolo ----------------------------------------------------------------------------------------------------
# Catalog: gain 1 - depth (1 - m) / 2 for an LFO m in [-1, 1] at rate_hz 1..12 (1 at the crest, 1 - depth at the
# trough). Rates in Hz are labelled; a depth only where the trough is 1 - depth of the crest (TAP's and Calf's; the
# guitarix ones model a vactrol, whose trough is not linear in the knob). No control is the catalog's shape.

register_judge(Implementation(
    name="tap/tremolo", effect="tremolo", package="tap-plugins", library="tap_tremolo.so",
    label="tap_tremolo", unique_id=2144,
    controls=(
        Control("Frequency [Hz]", 1.0, 12.0, "log", "Hz", label="rate_hz"),
        Control("Depth [%]", 30.0, 100.0, unit="%", label="depth", convert="percent_to_unit"),
    ),
    fixed={"Gain [dB]": 0.0},
    description="TAP Tremolo: gain 1 - depth (1 - cos) / 2, a sine LFO.",
))

register_judge(Implementation(
    name="calf/pulsator", effect="tremolo", package="calf-plugins", library="calf.lv2",
    label=CALF + "Pulsator", unique_id=0, host="lv2",
    controls=(
        Control("hz", 1.0, 12.0, "log", "Hz", label="rate_hz"),
        Control("amount", 0.3, 1.0, label="depth"),
        Control("mode", 0.0, 2.0, choices=(0.0, 1.0, 2.0), unit="sine/triangle/square"),
    ),
    fixed={"bypass": 0.0, "level_in": 1.0, "level_out": 1.0, "timing": 2.0, "offset_l": 0.0, "offset_r": 0.0,
           "mono": 0.0, "reset": 0.0, "pulsewidth": 3.0},
    description="Calf Pulsator (an auto-panner) with both channels' LFOs in phase, so a tremolo; timed in Hz; stereo "
                "outputs averaged.",
))

register_judge(Implementation(
    name="gx/tremolo", effect="tremolo", package="guitarix-lv2", library="gx_tremolo.lv2",
    label=GX + "gx_tremolo#_tremolo", unique_id=0, host="lv2",
    controls=(
        Control("freq", 1.0, 12.0, "log", "Hz", label="rate_hz"),
        Control("depth", 0.4, 1.0),
        Control("mode", 0.0, 1.0, choices=(0.0, 1.0), unit="triangle/sine"),
        Control("dry_wet", 60.0, 100.0, unit="%"),
    ),
    fixed={"reset": 0.0},
    description="Guitarix tremolo: the LFO drives a vactrol (LED and photo-resistor) model, so its trough is not "
                "1 - depth (measured: depth 0.3 gives 0.16).",
))

register_judge(Implementation(
    name="gx/tubetremolo", effect="tremolo", package="guitarix-lv2", library="gxtubetremelo.lv2",
    label=GX + "gxtubetremelo#tubetremelo", unique_id=0, host="lv2",
    controls=(
        Control("speed", 1.0, 12.0, "log", "Hz", label="rate_hz"),
        Control("depth", 0.4, 1.0),
        Control("sinewave", 0.0, 1.0, choices=(0.0, 1.0), unit="triangle/sine"),
        Control("drive", 0.2, 0.6),  # at 0 the tube stage passes nothing
    ),
    fixed={"output": 0.0},
    description="Guitarix tube tremolo: the vactrol tremolo between a 12AT7 input and a 12AU7 output stage (the "
                "tubes add gain and some drive).",
))

# --- flanger ----------------------------------------------------------------------------------------------------
# Catalog: a 1-7 ms delay swept by an LFO at rate_hz 0.05..2, feedback up to 0.9, mix 0.2..0.8. LFO rates in Hz (or
# periods in s) are labelled; no design's delay knob is the sweep's centre, and JUCE's feedback is inverted inside,
# so delays and feedbacks are unlabelled. swh's Flanger is left out: its "LFO" draws peaks from rand().

register_judge(Implementation(
    name="calf/flanger", effect="flanger", package="calf-plugins", library="calf.lv2",
    label=CALF + "Flanger", unique_id=0, host="lv2",
    controls=(
        Control("mod_rate", 0.05, 2.0, "log", "Hz", label="rate_hz"),
        Control("min_delay", 0.5, 3.0, "log", "ms"),
        Control("mod_depth", 0.5, 4.0, "log", "ms"),
        Control("feedback", -0.9, 0.9, dead_zone=(-0.3, 0.3)),
        Control("amount", 0.5, 1.0),
    ),
    fixed={"dry": 1.0, "stereo": 0.0, "reset": 0.0, "on": 1.0, "level_in": 1.0, "level_out": 1.0, "lfo": 1.0},
    description="Calf Flanger: the delay swept from min_delay up by mod_depth, both channels' LFOs in phase; stereo "
                "outputs averaged.",
))

register_judge(Implementation(
    name="gx/flanger", effect="flanger", package="guitarix-lv2", library="gx_flanger.lv2",
    label=GX + "gx_flanger#_flanger", unique_id=0, host="lv2",
    controls=(
        Control("freq", 0.05, 2.0, "log", "Hz", label="rate_hz"),
        Control("width", 1.0, 6.0, unit="ms"),
        Control("depth", 0.2, 2.0, unit="ms"),
        Control("feedback", -0.9, 0.9, dead_zone=(-0.3, 0.3)),
        Control("mix", -0.5, 0.5),
    ),
    fixed={"dry_wet": 100.0},
    description="Guitarix Flanger GX (two flanger stages of opposite feedback): the delay sweeps depth .. depth + "
                "width ms on a sine LFO.",
))

register_judge(Implementation(
    name="swh/dj_flanger", effect="flanger", package="swh-plugins", library="dj_flanger_1438.so",
    label="djFlanger", unique_id=1438,
    controls=(
        Control("LFO period (s)", 0.5, 20.0, "log", "s", label="rate_hz", convert="period_to_hz"),
        Control("LFO depth (ms)", 1.0, 5.0, "log", "ms"),
        Control("Feedback (%)", -90.0, 90.0, unit="%", dead_zone=(-30.0, 30.0)),
    ),
    fixed={"LFO sync": 0.0},
    description="Steve Harris' DJ flanger: (dry + delayed) / 2, the delay swept 0 .. depth ms by a sine LFO.",
))

# --- fuzz -------------------------------------------------------------------------------------------------------
# Catalog: gain_db 20..50 into a biased hard clip, then a tone low-pass at tone_hz. Only guitarix models fuzz pedals
# (circuit simulations of the Fuzz Face and the Big Muff): their knobs are pots (0..1), so none is labelled. Output
# levels are held (the renderer turns down only what would clip).

register_judge(Implementation(
    name="gx/fuzzface", effect="fuzz", package="guitarix-lv2", library="gx_fuzzface.lv2",
    label=GX + "gx_fuzzface_#_fuzzface_", unique_id=0, host="lv2",
    controls=(Control("FUZZ", 0.3, 1.0),),
    fixed={"LEVEL": 0.5},
    description="Guitarix Fuzz Face: a two-transistor circuit model.",
))

register_judge(Implementation(
    name="gx/fuzzfacefm", effect="fuzz", package="guitarix-lv2", library="gx_fuzzfacefm.lv2",
    label=GX + "gx_fuzzfacefm_#_fuzzfacefm_", unique_id=0, host="lv2",
    controls=(
        Control("FUZZ", 0.3, 0.99),
        Control("DRIVE", 0.3, 1.0),
        Control("INPUT", 0.3, 1.0),
    ),
    fixed={"LEVEL": 0.5},
    description="Guitarix Fuzz Face Fuller mod (Mike Fuller's Fuzz Face with input and drive pots).",
))

register_judge(Implementation(
    name="gx/bmp", effect="fuzz", package="guitarix-lv2", library="gx_bmp.lv2",
    label=GX + "gx_bmp_#_bmp_", unique_id=0, host="lv2",
    controls=(
        Control("SUSTAIN", 0.4, 1.0),
        Control("TONE", 0.0, 1.0),
    ),
    fixed={"VOLUME": 0.5},
    description="Guitarix Big Muff Pi: cascaded clipping stages and the Muff's tone control.",
))

register_judge(Implementation(
    name="gx/muff", effect="fuzz", package="guitarix-lv2", library="gx_muff.lv2",
    label=GX + "gx_muff_#_muff_", unique_id=0, host="lv2",
    controls=(Control("TONE", 0.0, 1.0),),
    fixed={"VOLUME": 0.5},
    description="Guitarix Muff (a second Big Muff model, sustain fixed at its maximum).",
))

# --- octave -----------------------------------------------------------------------------------------------------
# Catalog: dry_level, down_level and up_level (linear gains). A dry level is labelled where it is the linear gain of
# the clip in the output; a shifted voice's level is not (its gain depends on the draw's direction, or the voice is a
# divider's square wave, not the clip shifted). Left out: TAP Pitch Shifter, whose dry path is delayed too, by an
# amount that depends on the shift and the rate (5521 frames down, 3680 up at 44.1 kHz; one latency per entry cannot
# remove it), and swh's Pitch Scalers (FFTW: a second render differs in the last bit).

register_judge(Implementation(
    name="gx/oc_2", effect="octave", package="guitarix-lv2", library="gx_oc_2.lv2",
    label=GX + "gx_oc_2_#_oc_2_", unique_id=0, host="lv2",
    controls=(
        Control("DIRECT", 0.05, 0.2),  # the clip's gain is 4.7 DIRECT (measured), so 0.24..0.94
        Control("OCTAVE1", 0.4, 1.0),
        Control("OCTAVE2", 0.0, 0.6),
    ),
    description="Guitarix OC-2 (Boss's analogue octaver: flip-flop dividers one and two octaves down).",
))

register_judge(Implementation(
    name="swh/divider", effect="octave", package="swh-plugins", library="divider_1186.so",
    label="divider", unique_id=1186,
    controls=(Control(HOST_DRY, 0.3, 1.0, label="dry_level"),),
    fixed={"Denominator": 3.0},  # measured on a sine: n gives 1 / (n - 1) of its frequency, so 3 is the octave down
    description="Steve Harris' audio divider (wet only: a square wave at half the input's zero-crossing rate, the "
                "octave-down of analogue octavers) + host dry.",
))

register_judge(Implementation(
    name="swh/am_pitchshift", effect="octave", package="swh-plugins", library="am_pitchshift_1433.so",
    label="amPitchshift", unique_id=1433,
    controls=(
        Control("Pitch shift", 0.5, 2.0, choices=(0.5, 2.0), unit="octave down/up"),
        Control(HOST_DRY, 0.3, 1.0, label="dry_level"),
    ),
    # measured on a sine: at buffer size 5 the shifted voice lies within a quarter octave of the octave (at 4 and
    # below the octave down lands on grain-rate sidebands); it reports 2^(size + 4) frames of latency at any rate
    fixed={"Buffer size": 5.0},
    latency=512,
    description="Steve Harris' AM pitch shifter (two delay-line taps crossfaded by amplitude modulation, wet only) + "
                "host dry.",
))

# --- wah --------------------------------------------------------------------------------------------------------
# Catalog: a band-pass swept by a sine LFO at rate_hz 0.2..5 over range_octaves above min_frequency_hz. Of these,
# guitarix's wah models (alien mode) and mda's RezFilter sweep by an LFO, Calf's envelope filter and caps'
# AutoFilter (partly) by the playing's envelope; none is labelled: guitarix's rate is in beats per minute and mda's
# a 0..1 knob (10^(3 v - 1.5) Hz), conversions the training table does not define.

register_judge(Implementation(
    name="gx/colwah", effect="wah", package="guitarix-lv2", library="gx_colwah.lv2",
    label=GX + "gx_colwah_#_colwah_", unique_id=0, host="lv2",
    controls=(
        Control("MODEL", 0.0, 6.0, integer=True, unit="Colorsound/Dallas/Foxx/Jen/Maestro/Selmer/Vox"),
        Control("MODE", 1.0, 2.0, choices=(1.0, 2.0), unit="auto (envelope)/alien (LFO)"),
        Control("FREQ", 24.0, 300.0, "log", "LFO cycles per minute"),
        Control("WET_DRY", 70.0, 100.0, unit="%"),
    ),
    fixed={"WAH": 0.0, "BYPASS": 1.0},
    description="Guitarix wah circuit models (seven pedals), rocked by the envelope (auto) or a sine LFO (alien).",
))

register_judge(Implementation(
    name="calf/envelope_filter", effect="wah", package="calf-plugins", library="calf.lv2",
    label=CALF + "EnvelopeFilter", unique_id=0, host="lv2",
    controls=(
        Control("mode", 6.0, 8.0, choices=(6.0, 7.0, 8.0), unit="band-pass 6/12/18 dB/oct"),
        Control("lower", 250.0, 800.0, "log", "Hz"),
        Control("upper", 1500.0, 5000.0, "log", "Hz"),
        Control("res", 2.0, 10.0, "log"),
        Control("attack", 2.0, 50.0, "log", "ms"),
        Control("release", 50.0, 500.0, "log", "ms"),
        Control("gain", 1.0, 8.0, "log", "linear gain"),
        Control("mix", 0.6, 1.0),
    ),
    fixed={"bypass": 0.0, "level_in": 1.0, "level_out": 1.0, "sidechain_enable": 0.0, "response": 0.0},
    description="Calf Envelope Filter as an envelope wah: a band-pass swept lower..upper by the clip's envelope; "
                "stereo outputs averaged.",
))

register_judge(Implementation(
    name="mda/rezfilter", effect="wah", package="mda-lv2", library="mda.lv2",
    label=MDA + "RezFilter", unique_id=0, host="lv2",
    controls=(
        Control("freq", 0.2, 0.5),
        Control("res", 0.5, 0.9),
        Control("lfo_vcf", 0.65, 0.95),  # above 0.5: a sine LFO (below: sample and hold from rand())
        Control("lfo_rate", 0.27, 0.73),  # 0.2..5 Hz
    ),
    fixed={"output": 0.5, "env_vcf": 0.5, "attack": 0.0, "release": 0.5, "trigger": 0.0, "max_freq": 0.75},
    description="mda RezFilter: a resonant low-pass swept by a sine LFO (envelope amount 0), wet only; stereo outputs "
                "averaged.",
))

register_judge(Implementation(
    name="caps/autofilter", effect="wah", package="caps", library="caps.so",
    label="AutoFilter", unique_id=2593,
    controls=(
        Control("mode", 0.0, 1.0, choices=(0.0, 1.0), unit="low-pass/band-pass"),
        Control("filter", 0.0, 1.0, choices=(0.0, 1.0), unit="breathy/fat"),
        Control("f (Hz)", 250.0, 800.0, "log", "Hz"),
        Control("Q", 0.3, 0.8),
        Control("depth", 0.5, 1.0),
        Control("lfo/env", 0.0, 0.5),
        Control("rate", 0.1, 0.6),
    ),
    fixed={"shape": 1.0},
    description="C* AutoFilter: a resonant state-variable filter (tanh in its loop) swept by a blend of a Lorenz-"
                "attractor LFO and the clip's envelope.",
))

# --- noise gate -------------------------------------------------------------------------------------------------
# Catalog: threshold_db -70..-20 (JUCE's RMS detector), release_ms; a 10:1 expander. Thresholds are labelled (in dB,
# or a linear level via amp_to_db), time constants are not (as for the compressors). As in the training table, a
# gate is heard only where it closes, so thresholds are drawn in the catalog's top 10 dB (top 6 dB where the top 10
# left fewer than half the draws audible), near a clip's playing level. Left out: swh's Gate and C* Noisegate, peak
# detectors with hold or hysteresis that stay open through every note of a clean clip: 0 of 40 draws audible, at any
# threshold in the catalog's range.

register_judge(Implementation(
    name="calf/gate", effect="noise_gate", package="calf-plugins", library="calf.lv2",
    label=CALF + "Gate", unique_id=0, host="lv2",
    controls=(
        Control("threshold", 10 ** (-26 / 20), 10 ** (-20 / 20), "log", "linear level",
                label="threshold_db", convert="amp_to_db"),
        Control("ratio", 4.0, 20.0, "log", ":1"),
        Control("range", 0.001, 0.06, "log", "linear gain"),
        Control("attack", 0.5, 20.0, "log", "ms"),
        Control("release", 20.0, 150.0, "log", "ms"),
        Control("knee", 1.0, 4.0, "log", "linear gain"),
        Control("detection", 0.0, 1.0, choices=(0.0, 1.0), unit="RMS/peak"),
    ),
    fixed={"bypass": 0.0, "level_in": 1.0, "makeup": 1.0, "stereo_link": 0.0},
    description="Calf Gate (a downward expander to its range), no make-up gain; stereo outputs averaged.",
))

register_judge(Implementation(
    name="zam/gate", effect="noise_gate", package="zam-plugins", library="ZamGate.lv2",
    label="urn:zamaudio:ZamGate", unique_id=0, host="lv2",
    controls=(
        Control("thr", -30.0, -20.0, "linear", "dB", label="threshold_db"),
        Control("att", 0.5, 20.0, "log", "ms"),
        Control("rel", 20.0, 150.0, "log", "ms"),
        Control("close", -50.0, -30.0, unit="dB"),
    ),
    fixed={"mak": 0.0, "sidechain": 0.0, "mode": 0.0},
    description="ZamGate, its own side chain off, no make-up gain.",
))

register_judge(Implementation(
    name="gx/expander", effect="noise_gate", package="guitarix-lv2", library="gx_expander.lv2",
    label=GX + "gx_expander#_expander", unique_id=0, host="lv2",
    controls=(
        Control("THRESHOLD", -26.0, -20.0, "linear", "dB", label="threshold_db"),
        Control("RATIO", 6.0, 20.0, "log", ":1"),
        Control("KNEE", 0.0, 6.0, unit="dB"),
        Control("ATTACK", 0.0005, 0.02, "log", "s"),
        Control("RELEASE", 0.02, 0.15, "log", "s"),
    ),
    description="Guitarix expander: below the threshold each dB less in gives ratio dB less out.",
))


def judges_for(effect: str) -> tuple[Implementation, ...]:
    """The judges' entries for a ddspfx effect type, in table order."""
    name = get_effect(effect).name
    return tuple(i for i in JUDGES.values() if i.effect == name)


def installed_judges(effect: str) -> tuple[Implementation, ...]:
    """The judges' entries for ``effect`` whose (reserved) package is installed here."""
    return tuple(i for i in judges_for(effect) if is_installed(i))


def check(impl: Implementation, clips: Sequence[np.ndarray], n: int, rng: np.random.Generator,
          sample_rate: int) -> tuple[np.ndarray, str]:
    """``n`` drawn settings of ``impl`` on ``clips`` (cycled): their audibility scores (dB), and "" or what failed
    (an error while hosting, a non-finite sample, a second render around another instance that differs)."""
    from ddspfx.audibility import change_score

    scores: list[float] = []
    try:
        pedals = [judge_pedal(impl, sample_controls(rng, impl)) for _ in range(n)]
        renders = [run_plugin(clips[i % len(clips)], pedal, sample_rate) for i, pedal in enumerate(pedals)]
        for i, (pedal, wet) in enumerate(zip(pedals, renders)):
            if not np.all(np.isfinite(wet)):
                return np.array(scores), f"non-finite output at {dict(pedal.controls)}"
            scores.append(change_score(clips[i % len(clips)], wet, sample_rate))
        if not np.array_equal(run_plugin(clips[0], pedals[0], sample_rate), renders[0]):
            return np.array(scores), "a second render of the same clip and controls (after others) differs"
    except Exception as exc:  # report it and go on to the next plugin
        return np.array(scores), f"{type(exc).__name__}: {exc}"
    return np.array(scores), ""


def main(argv: Sequence[str] | None = None) -> int:
    from ddspfx.audibility import THRESHOLDS_DB, synth_dry
    from ddspfx.catalog import SAMPLE_RATE
    from experiments.plugin_audibility import pedalboard_scores

    parser = argparse.ArgumentParser(prog="python -m experiments.judges", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="draws per implementation (default 40)")
    parser.add_argument("--clips", type=int, default=4, help="synthetic guitar clips of 2 s, reused (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--implementations", nargs="*", default=[],
                        help="only entries whose name starts with one of these, e.g. calf zam/comp (default: all)")
    args = parser.parse_args(argv)
    chosen = tuple(args.implementations)
    rng = np.random.default_rng(args.seed)
    clips = [synth_dry(rng, 2.0, SAMPLE_RATE) for _ in range(args.clips)]
    head = f"{'effect':<11} {'implementation':<22} {'labelled':<34} {'p5':>6} {'median':>7} {'audible':>8}  check"
    print(head)
    print("-" * len(head))
    failed = 0
    for effect in EFFECT_NAMES:
        thr = THRESHOLDS_DB[effect]
        ref = pedalboard_scores(effect, clips, args.n, rng)
        print(f"{effect:<11} {'pedalboard':<22} {'(all)':<34} {np.percentile(ref, 5):>6.2f} {np.median(ref):>7.2f} "
              f"{np.mean(ref >= thr):>8.1%}")
        for impl in judges_for(effect):
            if chosen and not impl.name.startswith(chosen):
                continue
            if not is_installed(impl):
                print(f"{effect:<11} {impl.name:<22} not installed: apt-get install {impl.package}")
                continue
            scores, problem = check(impl, clips, args.n, rng, SAMPLE_RATE)
            failed += bool(problem)
            stats = (f"{np.percentile(scores, 5):>6.2f} {np.median(scores):>7.2f} {np.mean(scores >= thr):>8.1%}"
                     if scores.size else f"{'–':>6} {'–':>7} {'–':>8}")
            print(f"{effect:<11} {impl.name:<22} {','.join(impl.labelled) or '–':<34} {stats}  {problem or 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
