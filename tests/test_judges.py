"""The judges' plugins (``experiments/judges.py``): rendered in evaluation only, never drawn for training.

Tests that run a judge's plugin need its reserved package (guitarix-lv2, calf-plugins, caps, tap-plugins,
swh-plugins, zam-plugins, mda-lv2; LV2 ones also liblilv-0-0) and skip naming it when it is absent. The tests of
the training draw, the reserved-name rules and the table itself need nothing installed.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest
from deb_packages import skip_or_fail

import ddspfx
from ddspfx.catalog import EFFECT_NAMES, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError
from ddspfx.plugins import ladspa, lv2
from ddspfx.plugins.ladspa import LadspaPlugin, find_library, load_library
from ddspfx.plugins.render import (
    PluginPedal,
    draw_plugin_pedals,
    installed_implementations,
    run_plugin,
    sample_controls,
    sample_plugin_pedal,
)
from ddspfx.plugins.reserved import RESERVED_PACKAGES, ladspa_reserved_reason
from ddspfx.plugins.table import (
    HOST_DRY,
    IMPLEMENTATIONS,
    Control,
    Implementation,
    _register,
    get_implementation,
    implementations_for,
)
from experiments.judges import JUDGES, judge_pedal, judges_for, register_judge

SR = 44_100


def _need(impl: Implementation) -> ladspa.LadspaPluginInfo | lv2.Lv2PluginInfo:
    """The installed judge's port table, or skip naming its reserved package."""
    try:
        if impl.host == "lv2":
            return lv2.plugin_info(impl.label, impl.package)
        return load_library(impl.library, impl.package).plugin(impl.label)
    except DdspfxError as exc:  # skip only when its package (or liblilv) is missing; a wrong label or library fails
        skip_or_fail(exc, lv2.LILV_PACKAGE if impl.host == "lv2" else None, impl.package)


def _sine(freq: float, seconds: float, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def _render(name: str, x: np.ndarray, **controls: float) -> np.ndarray:
    impl = JUDGES[name]
    _need(impl)
    drawn = sample_controls(np.random.default_rng(0), impl) | controls
    return run_plugin(x, judge_pedal(impl, drawn), SR)


# --- never in training ---------------------------------------------------------------------------------------------


def test_the_judges_table_is_separate_and_reserved() -> None:
    assert JUDGES and not set(JUDGES) & set(IMPLEMENTATIONS)
    assert {i.package for i in JUDGES.values()} <= set(RESERVED_PACKAGES)
    assert not {i.package for i in IMPLEMENTATIONS.values()} & set(RESERVED_PACKAGES)  # the training table
    for effect in EFFECT_NAMES:
        assert len(judges_for(effect)) >= 2, effect
        assert not {i.name for i in implementations_for(effect)} & {i.name for i in judges_for(effect)}


def test_training_never_draws_a_judge() -> None:
    for effect in EFFECT_NAMES:  # the training table's draw, installed or not
        assert not {i.name for i in installed_implementations(effect)} & set(JUDGES)
        if implementations_for(effect):  # (a pedal type with no plugin in the table stays pedalboard)
            assert sample_plugin_pedal(np.random.default_rng(1), effect).implementation not in JUDGES
    if not any(installed_implementations(e) for e in EFFECT_NAMES):
        packages = sorted({i.package for i in IMPLEMENTATIONS.values()})
        pytest.skip(f"no training plugin is installed here: apt-get install {' '.join(packages)}")
    chain = Chain([Pedal(e, {p.name: p.low for p in get_effect(e).params}) for e in EFFECT_NAMES])
    rng = np.random.default_rng(0)
    drawn = {step.implementation for _ in range(300) for step in draw_plugin_pedals(rng, chain, 1.0) if step}
    assert drawn and not drawn & set(JUDGES)


def test_a_reserved_package_cannot_enter_either_table_by_the_wrong_door() -> None:
    impl = Implementation(name="test/reserved", effect="eq", package="caps", library="caps.so", label="EqFA4p",
                          unique_id=2609, controls=(Control("b.gain (dB)", -12.0, 12.0),))
    with pytest.raises(ValueError, match="reserved for held-out evaluation"):
        _register(impl)
    free = Implementation(name="test/free", effect="eq", package="cmt", library="cmt.so", label="x", unique_id=1,
                          controls=())
    with pytest.raises(ValueError, match="not a judges' package"):
        register_judge(free)
    assert "test/reserved" not in IMPLEMENTATIONS and "test/free" not in JUDGES


def test_the_package_holds_no_judge_and_never_imports_experiments() -> None:
    name = next(iter(JUDGES))
    with pytest.raises(KeyError, match="unknown plugin implementation"):
        get_implementation(name)  # training's lookup never finds a judge ...
    with pytest.raises(KeyError):
        run_plugin(np.zeros(10, np.float32), PluginPedal(JUDGES[name].effect, name, {}), SR)  # ... nor a pedal naming one
    free = IMPLEMENTATIONS["cmt/fbdelay"]
    with pytest.raises(ValueError, match="reserved package"):
        PluginPedal(free.effect, free.name, {}, judge=free)  # only a reserved package's entry is a judge
    package = Path(ddspfx.__file__).parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "experiments" for n in names), path


@pytest.mark.parametrize("library", ["/usr/lib/ladspa/caps.so", "tap_echo.so", "sc4m_1916.so", "ZamComp-ladspa.so",
                                     "/opt/x/ZaMaximX2-ladspa.so"])
def test_reserved_ladspa_libraries_are_recognised(library: str) -> None:
    assert ladspa_reserved_reason(library)


@pytest.mark.parametrize("library", ["/usr/lib/ladspa/cmt.so", "filters.so", "lsp-plugins-ladspa-1.2.5.so",
                                     "3BandEQ-ladspa.so", "zita-reverbs.so", "inv_tube.so", "amp.so"])
def test_free_ladspa_libraries_are_not_reserved(library: str) -> None:
    assert ladspa_reserved_reason(library, "Richard Furse (LADSPA example plugins)") is None


def test_ladspa_host_refuses_a_reserved_plugin_unless_allowed(tmp_path: Path) -> None:
    try:
        amp = find_library("amp.so", "ladspa-sdk")
    except DdspfxError as exc:
        skip_or_fail(exc, "ladspa-sdk")
    fake = tmp_path / "tap_fake.so"  # a free plugin under a reserved package's file name
    shutil.copy(amp, fake)
    lib = ladspa.LadspaLibrary(fake)
    label = lib.plugins[0].label
    with pytest.raises(DdspfxError, match="reserved for held-out evaluation.*tap_fake.so") as err:
        LadspaPlugin(lib, label, SR)
    assert "\n" not in str(err.value)
    x = _sine(440.0, 0.05)
    with LadspaPlugin(lib, label, SR, {lib.plugins[0].control_inputs[0].name: 0.5}, allow_reserved=True) as plugin:
        np.testing.assert_allclose(plugin.process(x), 0.5 * x, rtol=1e-6)  # evaluation only


def test_ladspa_host_refuses_an_installed_judge() -> None:
    info = _need(JUDGES["caps/saturate"])
    with pytest.raises(DdspfxError, match="LADSPA plugin Saturate is reserved for held-out evaluation"):
        LadspaPlugin(load_library(info.library, "caps"), "Saturate", SR)


# --- the table against the installed plugins ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(JUDGES))
def test_judge_matches_its_plugin_and_renders_deterministically(name: str) -> None:
    """Ports and bounds as the table says; a render is finite, changes the clip, and repeats exactly after
    another instance ran."""
    impl = JUDGES[name]
    info = _need(impl)
    if isinstance(info, lv2.Lv2PluginInfo):
        assert Path(info.bundle).name == impl.library and lv2.reserved_reason(impl.label, info.bundle)
    else:
        assert info.unique_id == impl.unique_id and ladspa_reserved_reason(info.library, info.maker)
    values: dict[str, tuple[float, ...]] = {port: (v,) for port, v in impl.fixed.items()}
    values.update({c.port: c.choices or (c.low, c.high) for c in impl.controls if c.port != HOST_DRY})
    for port, vs in values.items():
        lo, hi = info.port(port).bounds(SR)
        assert all((lo is None or v >= lo - 1e-4) and (hi is None or v <= hi + 1e-4) for v in vs), (port, lo, hi)
    for c in impl.controls:
        if c.label:
            p = get_effect(impl.effect).param(c.label)
            assert all(p.low - 1e-6 <= c.catalog_value(v) <= p.high + 1e-6 for v in (c.low, c.high)), c.port
    x = _sine(220.0, 0.7, 0.3) + _sine(1320.0, 0.7, 0.05)  # longer than any echo time
    pedal = judge_pedal(impl, sample_controls(np.random.default_rng(0), impl))
    y = run_plugin(x, pedal, SR)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert float(np.max(np.abs(y - x))) > 1e-3
    run_plugin(x, judge_pedal(impl, sample_controls(np.random.default_rng(1), impl)), SR)
    np.testing.assert_array_equal(run_plugin(x, pedal, SR), y)
    assert set(pedal.labels()) == set(impl.labelled)


# --- labelled knobs against references ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "freq", "gain", "value"), [
    ("swh/single_para", "Frequency (Hz)", "Gain (dB)", lambda db: db),
    ("calf/eq5", "p2_freq", "p2_level", lambda db: 10 ** (db / 20)),
    ("zam/eq2", "f1", "boost1", lambda db: db),
])
def test_eq_gives_its_labelled_gain_at_its_labelled_centre(name: str, freq: str, gain: str, value) -> None:
    for f0, db in ((400.0, -9.0), (2500.0, 7.0)):
        x = _sine(f0, 0.5)
        y = _render(name, x, **{freq: f0, gain: value(db)})
        assert _rms_db(y[SR // 4:]) - _rms_db(x[SR // 4:]) == pytest.approx(db, abs=0.25), (f0, db)


@pytest.mark.parametrize(("name", "controls"), [
    ("tap/echo", {"L Delay [ms]": 250.0, "L Feedback [%]": 50.0, "L Echo Level [dB]": 0.0}),
    ("zam/delay", {"time": 250.0, "feedb": 0.5, "drywet": 0.5, "lpf": 20000.0}),
    ("calf/vintage_delay", {"ms": 250.0, "feedback": 0.5, "amount": 0.5, "medium": 0.0}),
    ("swh/fad_delay", {"Delay (seconds)": 0.25, "Feedback (dB)": -20 * np.log10(2.0), HOST_DRY: 0.0}),
])
def test_delay_echoes_at_its_labelled_time_and_feedback(name: str, controls: dict[str, float]) -> None:
    impl = JUDGES[name]
    labels = impl.catalog_labels({**sample_controls(np.random.default_rng(0), impl), **controls})
    assert labels["delay_seconds"] == pytest.approx(0.25) and labels["feedback"] == pytest.approx(0.5)
    x = np.zeros(SR, np.float32)
    x[100] = 1.0
    y = _render(name, x, **controls)
    d = int(0.25 * SR)
    # each echo's energy near its time: fractional delays and the low-passes in some loops spread it over samples
    echo = [float(np.sum(np.abs(y[100 + k * d - 2:100 + k * d + 16]))) for k in (1, 2)]
    assert echo[0] > 0.1 and echo[1] == pytest.approx(0.5 * echo[0], rel=0.05)
    assert float(np.max(np.abs(y[200:100 + d - 2]))) < 0.01 * echo[0]  # silence before the first echo


@pytest.mark.parametrize(("name", "controls"), [
    ("calf/compressor", {"threshold": 10 ** (-30 / 20), "ratio": 4.0, "knee": 1.0, "attack": 1.0, "release": 50.0}),
    ("zam/comp", {"thr": -30.0, "rat": 4.0, "kn": 0.0, "att": 1.0, "rel": 50.0}),
    ("swh/sc4m", {"Threshold level (dB)": -30.0, "Ratio (1:n)": 4.0, "Knee radius (dB)": 1.0, "Attack time (ms)": 1.5,
                  "Release time (ms)": 50.0, "RMS/peak": 1.0}),
])
def test_compressor_static_curve_follows_its_labelled_threshold_and_ratio(name: str, controls: dict[str, float]) -> None:
    """A steady sine of peak -6 dBFS, 24 dB over a -30 dB threshold at 4:1, leaves at -30 + 24 / 4 = -24 dB peak."""
    x = _sine(1000.0, 1.0, 10 ** (-6 / 20))
    y = _render(name, x, **controls)
    assert _rms_db(y[SR // 2:]) + 3.01 == pytest.approx(-24.0, abs=0.75)



def _window_rms(y: np.ndarray, n: int = 441) -> np.ndarray:
    """RMS of consecutive n-sample windows (10 ms at 44.1 kHz), float64."""
    frames = y[: y.size // n * n].astype(np.float64).reshape(-1, n)
    return np.sqrt(np.mean(np.square(frames), axis=1))


def _strongest_frequency(seq: np.ndarray, rate: float) -> float:
    """Frequency (Hz) of the largest peak of ``seq``'s spectrum (mean removed, Hann window, zero-padded)."""
    seq = seq - seq.mean()
    spectrum = np.abs(np.fft.rfft(seq * np.hanning(seq.size), 1 << 18))
    return float(np.fft.rfftfreq(1 << 18, 1.0 / rate)[spectrum.argmax()])


@pytest.mark.parametrize(("name", "controls"), [
    ("tap/tremolo", {"Frequency [Hz]": 5.0, "Depth [%]": 60.0}),
    ("calf/pulsator", {"hz": 5.0, "amount": 0.6, "mode": 0.0}),
    ("calf/pulsator", {"hz": 3.0, "amount": 0.8, "mode": 2.0}),
    ("gx/tremolo", {"freq": 7.0, "depth": 1.0, "mode": 1.0, "dry_wet": 100.0}),
    ("gx/tubetremolo", {"speed": 3.0, "depth": 1.0, "sinewave": 1.0, "drive": 0.4}),
])
def test_tremolo_swings_at_its_labelled_rate_and_depth(name: str, controls: dict[str, float]) -> None:
    """A steady sine's level (10 ms windows) swings at the labelled rate; where depth is labelled, its trough is
    1 - depth of its crest (the catalog's gain law)."""
    impl = JUDGES[name]
    labels = impl.catalog_labels({**sample_controls(np.random.default_rng(0), impl), **controls})
    level = _window_rms(_render(name, _sine(1000.0, 3.0, 0.3), **controls))[30:]  # from 0.3 s
    assert _strongest_frequency(level, 100.0) == pytest.approx(labels["rate_hz"], rel=0.02)
    if "depth" in labels:
        assert 1.0 - level.min() / level.max() == pytest.approx(labels["depth"], abs=0.03)


@pytest.mark.parametrize(("name", "controls"), [
    ("calf/flanger", {"mod_rate": 0.7, "min_delay": 2.0, "mod_depth": 3.0, "feedback": 0.0, "amount": 1.0}),
    ("gx/flanger", {"freq": 0.7, "width": 4.0, "depth": 1.0, "feedback": 0.0, "mix": 0.0}),
    ("swh/dj_flanger", {"LFO period (s)": 1.0 / 0.7, "LFO depth (ms)": 4.0, "Feedback (%)": 0.0}),
])
def test_flanger_sweeps_its_delay_at_its_labelled_rate(name: str, controls: dict[str, float]) -> None:
    """An impulse every 1024 samples comes back with a delayed copy; the copy's delay (the centroid of each
    response) swings at the labelled LFO rate."""
    impl = JUDGES[name]
    rate = impl.catalog_labels({**sample_controls(np.random.default_rng(0), impl), **controls})["rate_hz"]
    period, count = 1024, 200
    x = np.zeros(period * count, np.float32)
    x[::period] = 0.5
    y = np.abs(_render(name, x, **controls).astype(np.float64)).reshape(count, period)[:, 10:-10]
    delay = (y * np.arange(10, period - 10)).sum(axis=1) / np.maximum(y.sum(axis=1), 1e-12)  # (count,) samples
    assert np.ptp(delay[5:]) > 0.001 * SR  # it sweeps by more than a millisecond
    assert _strongest_frequency(delay[5:], SR / period) == pytest.approx(rate, rel=0.02)


@pytest.mark.parametrize(("name", "controls", "ratio"), [
    ("swh/divider", {HOST_DRY: 0.6}, 0.5),
    ("swh/am_pitchshift", {"Pitch shift": 0.5, HOST_DRY: 0.4}, 0.5),
    ("swh/am_pitchshift", {"Pitch shift": 2.0, HOST_DRY: 0.7}, 2.0),
    ("gx/oc_2", {"DIRECT": 0.0, "OCTAVE1": 1.0, "OCTAVE2": 0.0}, 0.5),
])
def test_octave_dry_label_and_shifted_voice(name: str, controls: dict[str, float], ratio: float) -> None:
    """An impulse's own sample is the labelled dry level (latency removed), and the voice's strongest partial on a
    220 Hz sine lies within a semitone of the octave."""
    impl = JUDGES[name]
    dry = impl.catalog_labels(controls).get("dry_level", 0.0)
    if "dry_level" in impl.labelled:
        impulse = np.zeros(30_000, np.float32)
        impulse[3000] = 1.0
        assert _render(name, impulse, **controls)[3000] == pytest.approx(dry, abs=0.01)
    x = _sine(220.0, 1.0, 0.2)
    voice = (_render(name, x, **controls) - np.float32(dry) * x)[SR // 2:]
    spectrum = np.abs(np.fft.rfft(voice.astype(np.float64) * np.hanning(voice.size)))
    strongest = float(np.fft.rfftfreq(voice.size, 1.0 / SR)[spectrum.argmax()])
    assert abs(np.log2(strongest / (220.0 * ratio))) < 1.0 / 12.0, strongest


def test_am_pitchshift_latency_is_the_one_it_reports() -> None:
    impl = JUDGES["swh/am_pitchshift"]
    _need(impl)
    with LadspaPlugin(load_library(impl.library, impl.package), impl.label, SR,
                      impl.plugin_controls({"Pitch shift": 0.5}), allow_reserved=True) as plugin:
        plugin.process(np.zeros(4096, np.float32))
        assert plugin.control("latency") == impl.latency


@pytest.mark.parametrize(("name", "controls"), [
    ("calf/gate", {"threshold": 10 ** (-24 / 20), "ratio": 10.0, "range": 0.001, "attack": 1.0, "release": 50.0,
                   "knee": 1.0, "detection": 0.0}),
    ("zam/gate", {"thr": -24.0, "att": 1.0, "rel": 50.0, "close": -50.0}),
    ("gx/expander", {"THRESHOLD": -24.0, "RATIO": 10.0, "KNEE": 0.0, "ATTACK": 0.001, "RELEASE": 0.05}),
])
def test_gate_passes_above_and_closes_below_its_labelled_threshold(name: str, controls: dict[str, float]) -> None:
    """A steady sine 6 dB (peak) over the labelled -24 dB threshold passes unchanged; 6 dB under it is cut by more
    than 20 dB (the margin covers peak against RMS detection: a sine's RMS is 3 dB under its peak)."""
    assert JUDGES[name].catalog_labels(controls)["threshold_db"] == pytest.approx(-24.0)
    for offset, low, high in ((6.0, -0.5, 0.5), (-6.0, -np.inf, -20.0)):
        x = _sine(1000.0, 1.0, 10 ** ((-24.0 + offset) / 20))
        y = _render(name, x, **controls)
        gain = _rms_db(y[SR // 2:] + np.float32(1e-9)) - _rms_db(x[SR // 2:])
        assert low <= gain <= high, (offset, gain)

# --- evaluation: experiments.real_sources ---------------------------------------------------------------------------


def test_evaluation_draws_only_judges_and_marks_them_never_heard() -> None:
    from types import SimpleNamespace

    from experiments.evaluation.renderers import parse_plugins_from, plugin_pool, plugins_heard
    from experiments.evaluation.sets import make_set

    assert parse_plugins_from("judges") == tuple(JUDGES)
    for effect in EFFECT_NAMES:  # without --plugins-from: the training table alone
        try:
            assert not {i.name for i in plugin_pool(effect)} & set(JUDGES)
        except DdspfxError:  # no training plugin of this type installed here
            pass
    trained_on_every_plugin = SimpleNamespace(metadata={"data": {"plugin_render": 1.0, "plugin_exclude": ""}})
    assert not any(plugins_heard(trained_on_every_plugin, name) for name in JUDGES)
    assert plugins_heard(trained_on_every_plugin, "cmt/fbdelay")
    missing = [e for e in EFFECT_NAMES if not any(_installed(i) for i in judges_for(e))]
    if missing:
        pytest.skip(f"no judge of {missing} installed: apt-get install {' '.join(sorted(set(RESERVED_PACKAGES)))}")
    examples, impls = make_set("synth", 4, 700000, 0.5, "plugins", parse_plugins_from("judges"))
    names = [n for clip in impls for n in clip]
    assert names and set(names) <= set(JUDGES)
    assert [len(c) for c in impls] == [len(ex.chain) for ex in examples]
    assert all(np.all(np.isfinite(ex.wet)) for ex in examples)


def _installed(impl: Implementation) -> bool:
    from ddspfx.plugins.render import is_installed

    return is_installed(impl)
