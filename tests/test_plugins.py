"""The in-process LADSPA host, the plugin table and the plugin renderer (issue 17).

Tests that run a real plugin need its Debian package (``need_package`` skips with the package name when
it is absent): ladspa-sdk (amp.so, delay.so), cmt, fil-plugins, lsp-plugins-ladspa, dpf-plugins-ladspa,
mcp-plugins, rev-plugins, invada-studio-plugins-ladspa. The rest (hint rules, table, sampling, errors)
needs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ddspfx.catalog import EFFECT_NAMES, get_effect
from ddspfx.errors import DdspfxError
from ddspfx.plugins import ladspa
from ddspfx.plugins.ladspa import LadspaPlugin, PortInfo, find_library, load_library
from ddspfx.plugins.render import (
    PluginPedal,
    installed_implementations,
    is_installed,
    render_plugin_chain,
    run_plugin,
    sample_controls,
    sample_plugin_pedal,
)
from ddspfx.plugins.table import HOST_DRY, IMPLEMENTATIONS, Implementation, get_implementation, implementations_for

SR = 44_100
RESERVED = {"guitarix-lv2", "calf-plugins", "caps", "tap-plugins", "swh-plugins", "zam-plugins", "mda-lv2"}


@pytest.fixture
def need_package() -> Callable[[str, str], Path]:
    """``need_package(package, library)``: the library's path, or skip naming the Debian package to install."""

    def need(package: str, library: str) -> Path:
        try:
            return find_library(library, package)
        except DdspfxError:
            pytest.skip(f"needs the Debian package {package} ({library}): apt-get install {package}")

    return need


def _sine(freq: float, seconds: float = 1.0, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _gain_db(x: np.ndarray, y: np.ndarray) -> float:
    """Steady-state level change (dB) of a sine, from the second half (filters settled)."""
    h = x.size // 2
    return 20 * math.log10(float(np.sqrt(np.mean(y[h:] ** 2)) / np.sqrt(np.mean(x[h:] ** 2))))


def _impulse(n: int = 20_000, at: int = 100) -> np.ndarray:
    x = np.zeros(n, dtype=np.float32)
    x[at] = 1.0
    return x


# --- LADSPA's default-value rules on synthetic ports (no plugin needed) ---------------------------------------------

BELOW_ABOVE = ladspa.HINT_BOUNDED_BELOW | ladspa.HINT_BOUNDED_ABOVE


@pytest.mark.parametrize(("hints", "lo", "hi", "expected"), [
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_MINIMUM, 2.0, 10.0, 2.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_MAXIMUM, 2.0, 10.0, 10.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_LOW, 2.0, 10.0, 4.0),  # 0.75 lo + 0.25 hi
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_MIDDLE, 2.0, 10.0, 6.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_HIGH, 2.0, 10.0, 8.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_LOW | ladspa.HINT_LOGARITHMIC, 1.0, 10_000.0, 10.0),  # exp(.75 ln lo + .25 ln hi)
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_MIDDLE | ladspa.HINT_LOGARITHMIC, 1.0, 10_000.0, 100.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_HIGH | ladspa.HINT_LOGARITHMIC, 1.0, 10_000.0, 1000.0),
    (BELOW_ABOVE | ladspa.HINT_DEFAULT_MIDDLE | ladspa.HINT_INTEGER, 1.0, 4.0, 2.0),  # 2.5 rounds to even
    (ladspa.HINT_DEFAULT_0, 0.0, 0.0, 0.0),
    (ladspa.HINT_DEFAULT_1, 0.0, 0.0, 1.0),
    (ladspa.HINT_DEFAULT_100, 0.0, 0.0, 100.0),
    (ladspa.HINT_DEFAULT_440, 0.0, 0.0, 440.0),
    (BELOW_ABOVE, 2.0, 10.0, None),  # DEFAULT_NONE
    (ladspa.HINT_BOUNDED_BELOW | ladspa.HINT_DEFAULT_MIDDLE, 2.0, 10.0, None),  # MIDDLE needs both bounds
])
def test_default_rules(hints: int, lo: float, hi: float, expected: float | None) -> None:
    port = PortInfo(0, "x", ladspa.PORT_INPUT | ladspa.PORT_CONTROL, hints, lo, hi)
    got = port.default(SR)
    assert got == (None if expected is None else pytest.approx(expected, rel=1e-9))


def test_sample_rate_hint_scales_bounds_and_default() -> None:
    hints = BELOW_ABOVE | ladspa.HINT_SAMPLE_RATE | ladspa.HINT_DEFAULT_MAXIMUM
    port = PortInfo(0, "f", ladspa.PORT_INPUT | ladspa.PORT_CONTROL, hints, 0.001, 0.5)
    assert port.bounds(48_000) == (pytest.approx(48.0), pytest.approx(24_000.0))
    assert port.default(48_000) == pytest.approx(24_000.0)


def test_host_default_without_a_rule_is_the_bound_nearest_zero() -> None:
    port = PortInfo(0, "x", ladspa.PORT_INPUT | ladspa.PORT_CONTROL, BELOW_ABOVE, 2.0, 10.0)
    assert port.host_default(SR) == 2.0
    port = PortInfo(0, "x", ladspa.PORT_INPUT | ladspa.PORT_CONTROL, BELOW_ABOVE, -5.0, 10.0)
    assert port.host_default(SR) == 0.0


# --- missing things are one-line DdspfxErrors ------------------------------------------------------------------------


def test_missing_library_names_the_package() -> None:
    with pytest.raises(DdspfxError) as info:
        find_library("no-such-plugin-library.so", "some-plugins-ladspa")
    msg = str(info.value)
    assert "apt-get install some-plugins-ladspa" in msg and "no-such-plugin-library.so" in msg and "\n" not in msg


def test_rendering_an_absent_implementation_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = Implementation(name="nowhere/fake", effect="delay", package="nowhere-plugins", library="nowhere.so",
                          label="fake", unique_id=1, controls=())
    monkeypatch.setitem(IMPLEMENTATIONS, fake.name, fake)
    assert not is_installed(fake)
    with pytest.raises(DdspfxError, match="apt-get install nowhere-plugins"):
        render_plugin_chain(np.zeros(100, np.float32), [PluginPedal("delay", fake.name, {})], SR)


def test_missing_label_is_one_line(need_package: Callable[[str, str], Path]) -> None:
    need_package("ladspa-sdk", "amp.so")
    with pytest.raises(DdspfxError) as info:
        load_library("amp.so", "ladspa-sdk").plugin("no_such_label")
    assert "no_such_label" in str(info.value) and "amp_mono" in str(info.value) and "\n" not in str(info.value)


# --- closed forms through real plugins -----------------------------------------------------------------------------


def test_amp_plus_6_db_multiplies_by_1_995(need_package: Callable[[str, str], Path]) -> None:
    need_package("ladspa-sdk", "amp.so")
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32) * 0.1
    gain = 10 ** (6 / 20)
    with LadspaPlugin(load_library("amp.so", "ladspa-sdk"), "amp_mono", SR, {"Gain": gain}) as amp:
        y = amp.process(x)
    assert gain == pytest.approx(1.995, abs=5e-4)
    np.testing.assert_allclose(y, gain * x, rtol=1e-6)


def test_stereo_only_plugin_gets_the_clip_on_both_inputs_and_outputs_are_averaged(
        need_package: Callable[[str, str], Path]) -> None:
    need_package("ladspa-sdk", "amp.so")
    x = np.random.default_rng(1).standard_normal(3000).astype(np.float32) * 0.1
    with LadspaPlugin(load_library("amp.so", "ladspa-sdk"), "amp_stereo", SR, {"Gain": 2.0}) as amp:
        assert len(amp.info.audio_inputs) == 2
        y = amp.process(x)
    np.testing.assert_allclose(y, 2.0 * x, rtol=1e-6)


@pytest.mark.parametrize("n", [1, 441, 1500])  # 1500 > one block of 1024: the delay crosses a block edge
def test_delay_shifts_an_impulse_by_n_samples(need_package: Callable[[str, str], Path], n: int) -> None:
    need_package("ladspa-sdk", "delay.so")
    x = _impulse(4000, at=100)
    with LadspaPlugin(load_library("delay.so", "ladspa-sdk"), "delay_5s", SR,
                      {"Delay (Seconds)": n / SR, "Dry/Wet Balance": 1.0}) as delay:
        y = delay.process(x)
    expected = np.zeros_like(x)
    expected[100 + n] = 1.0
    np.testing.assert_allclose(y, expected, atol=1e-6)


def test_cmt_feedback_delay_echoes(need_package: Callable[[str, str], Path]) -> None:
    """(1 - mix) dry + mix * echoes that decay by the feedback per repeat, as pedalboard's Delay."""
    need_package("cmt", "cmt.so")
    pedal = PluginPedal("delay", "cmt/fbdelay", {"Delay (Seconds)": 0.1, "Feedback": 0.5, "Dry/Wet Balance": 0.4})
    y = run_plugin(_impulse(20_000, at=100), pedal, SR)
    d = 4410
    np.testing.assert_allclose(y[[100, 100 + d, 100 + 2 * d, 100 + 3 * d]], [0.6, 0.4, 0.2, 0.1], atol=1e-5)
    assert pedal.labels() == {"delay_seconds": 0.1, "feedback": 0.5, "mix": 0.4}


def test_cmt_delay_equals_pedalboard_delay_at_its_labels(need_package: Callable[[str, str], Path]) -> None:
    """The labels mean what the catalog means: pedalboard's Delay at the labelled values gives the same clip."""
    need_package("cmt", "cmt.so")
    from ddspfx.chain import Chain, Pedal
    from ddspfx.render import run_pedalboard

    x = (0.1 * np.random.default_rng(2).standard_normal(30_000)).astype(np.float32)
    pedal = PluginPedal("delay", "cmt/fbdelay", {"Delay (Seconds)": 0.25, "Feedback": 0.4, "Dry/Wet Balance": 0.35})
    reference = run_pedalboard(x, Chain([Pedal("delay", pedal.labels())]), SR)[0]
    np.testing.assert_allclose(run_plugin(x, pedal, SR), reference, atol=1e-6)


@pytest.mark.parametrize(("impl", "package", "controls"), [
    ("fil/parametric", "fil-plugins", {"Frequency 3": 1000.0, "Gain 3": 9.0, "Bandwidth 3": 1.0}),
    ("lsp/para_eq", "lsp-plugins-ladspa", {"Frequency 0 (Hz)": 1000.0, "Gain 0 (G)": 10 ** (9 / 20),
                                           "Quality factor 0": 1.0, "Filter mode 0": 0.0}),
    ("lsp/para_eq", "lsp-plugins-ladspa", {"Frequency 0 (Hz)": 1000.0, "Gain 0 (G)": 10 ** (-9 / 20),
                                           "Quality factor 0": 2.0, "Filter mode 0": 6.0}),
])
def test_eq_gain_at_centre_is_the_labelled_gain(need_package: Callable[[str, str], Path], impl: str, package: str,
                                                controls: dict[str, float]) -> None:
    spec = get_implementation(impl)
    need_package(package, spec.library)
    pedal = PluginPedal("eq", impl, controls)
    labels = pedal.labels()
    assert labels["cutoff_frequency_hz"] == pytest.approx(1000.0)
    x = _sine(1000.0)
    assert _gain_db(x, run_plugin(x, pedal, SR)) == pytest.approx(labels["gain_db"], abs=0.1)
    far = _sine(100.0)  # two octaves below: well outside a Q >= 1 bell
    assert abs(_gain_db(far, run_plugin(far, pedal, SR))) < 0.25 * abs(labels["gain_db"])


def test_port_hints_of_real_plugins_follow_the_rules(need_package: Callable[[str, str], Path]) -> None:
    need_package("cmt", "cmt.so")
    hpf = load_library("cmt.so", "cmt").plugin("hpf").port("Cutoff Frequency (Hz)")
    assert hpf.sample_rate_scaled and hpf.logarithmic
    assert hpf.bounds(SR) == (0.0, pytest.approx(SR / 2))
    assert hpf.default(SR) == 440.0
    freeverb = load_library("cmt.so", "cmt").plugin("freeverb3")
    assert freeverb.port("Freeze Mode").toggled and freeverb.port("Freeze Mode").default(SR) == 0.0
    assert freeverb.port("Room Size").default(SR) == pytest.approx(0.5)  # MIDDLE of 0..1


def test_log_middle_default_with_sample_rate_bounds(need_package: Callable[[str, str], Path]) -> None:
    need_package("invada-studio-plugins-ladspa", "inv_filter.so")
    port = load_library("inv_filter.so", "invada-studio-plugins-ladspa").plugin(3302).port("Frequency (Hz)")
    lo, hi = port.bounds(SR)
    assert lo is not None and hi is not None
    assert lo == pytest.approx(0.0005 * SR) and hi == pytest.approx(0.5 * SR)
    assert port.default(SR) == pytest.approx(math.sqrt(lo * hi), rel=1e-5)  # geometric middle


def test_controls_are_checked(need_package: Callable[[str, str], Path]) -> None:
    need_package("ladspa-sdk", "delay.so")
    lib = load_library("delay.so", "ladspa-sdk")
    with LadspaPlugin(lib, "delay_5s", SR) as delay:
        with pytest.raises(ValueError, match="outside its bounds"):
            delay.set_control("Dry/Wet Balance", 1.5)
        with pytest.raises(KeyError, match="Dry/Wet Balance"):
            delay.set_control("Mix", 0.5)
        assert delay.control("Delay (Seconds)") == 1.0  # DEFAULT_1
    with pytest.raises(RuntimeError, match="after close"):
        delay.process(np.zeros(10, np.float32))
    delay.close()  # idempotent


# --- the table ------------------------------------------------------------------------------------------------------


def test_every_effect_has_implementations_and_no_reserved_package() -> None:
    for effect in EFFECT_NAMES:
        assert implementations_for(effect), effect
    assert not {i.package for i in IMPLEMENTATIONS.values()} & RESERVED


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_labels_fall_in_the_catalog_ranges(name: str) -> None:
    impl = IMPLEMENTATIONS[name]
    eff = get_effect(impl.effect)
    mask = impl.param_mask()
    assert mask.shape == (len(eff.params),)
    assert [p for p, m in zip(eff.param_names, mask) if m] == list(impl.labelled)
    for c in impl.controls:
        if c.label:
            p = eff.param(c.label)
            for v in (c.low, c.high):
                assert p.low - 1e-6 <= c.catalog_value(v) <= p.high + 1e-6, (c.port, v)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_table_matches_the_installed_plugin(name: str, need_package: Callable[[str, str], Path]) -> None:
    impl = IMPLEMENTATIONS[name]
    need_package(impl.package, impl.library)
    info = load_library(impl.library, impl.package).plugin(impl.label)
    assert info.unique_id == impl.unique_id
    values: dict[str, tuple[float, ...]] = {port: (v,) for port, v in impl.fixed.items()}
    values.update({c.port: c.choices or (c.low, c.high) for c in impl.controls if c.port != HOST_DRY})
    for port, vs in values.items():
        lo, hi = info.port(port).bounds(SR)  # KeyError if the table names a port the plugin lacks
        for v in vs:
            assert (lo is None or v >= lo - 1e-4) and (hi is None or v <= hi + 1e-4), (port, v, lo, hi)


# --- sampling and rendering -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_sampling_is_deterministic_and_in_range(effect: str) -> None:
    a = [sample_plugin_pedal(np.random.default_rng(7), effect) for _ in range(2)]
    assert a[0] == a[1]
    draws = [sample_plugin_pedal(np.random.default_rng(seed), effect) for seed in range(40)]
    assert len({(d.implementation, tuple(d.controls.values())) for d in draws}) > 30
    for d in draws:
        impl = d.spec
        assert list(d.controls) == [c.port for c in impl.controls]
        for c in impl.controls:
            v = d.controls[c.port]
            if c.choices:
                assert v in c.choices
                continue
            assert c.low - 1e-9 <= v <= c.high + 1e-9
            if c.integer:
                assert v == round(v)
            if c.dead_zone is not None:
                assert not c.dead_zone[0] < v < c.dead_zone[1]


def test_sampling_from_a_restricted_pool() -> None:
    pool = [get_implementation("cmt/fbdelay")]
    pedals = [sample_plugin_pedal(np.random.default_rng(s), "delay", pool) for s in range(5)]
    assert {p.implementation for p in pedals} == {"cmt/fbdelay"}
    with pytest.raises(DdspfxError, match="no plugin implementation"):
        sample_plugin_pedal(np.random.default_rng(0), "reverb", pool)


def test_sample_controls_matches_a_fresh_generator() -> None:
    impl = get_implementation("mcp/phaser")
    assert sample_controls(np.random.default_rng(3), impl) == sample_controls(np.random.default_rng(3), impl)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_every_installed_implementation_renders(name: str, need_package: Callable[[str, str], Path]) -> None:
    impl = IMPLEMENTATIONS[name]
    need_package(impl.package, impl.library)
    x = _sine(220.0, seconds=0.8, amp=0.3) + _sine(1320.0, seconds=0.8, amp=0.05)  # longer than any echo time
    pedal = PluginPedal(impl.effect, impl.name, sample_controls(np.random.default_rng(0), impl))
    y = run_plugin(x, pedal, SR)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert float(np.max(np.abs(y - x))) > 1e-3  # the plugin did something
    assert set(pedal.labels()) == set(impl.labelled)
    assert pedal.to_dict()["param_mask"] == impl.param_mask().tolist()


def test_chain_output_length_shape_and_limit(need_package: Callable[[str, str], Path]) -> None:
    need_package("cmt", "cmt.so")
    rng = np.random.default_rng(0)
    steps = [
        PluginPedal("distortion", "cmt/wshape_sine", {"Limiting Amplitude": 0.05}),
        PluginPedal("delay", "cmt/fbdelay", {"Delay (Seconds)": 0.3, "Feedback": 0.7, "Dry/Wet Balance": 0.6}),
        PluginPedal("reverb", "cmt/freeverb3", sample_controls(rng, get_implementation("cmt/freeverb3"))),
    ]
    x = (0.5 * rng.standard_normal(10_001)).astype(np.float32)  # not a multiple of the block size
    wet, gain = render_plugin_chain(x, steps, SR)
    assert wet.shape == x.shape and wet.dtype == np.float32
    assert 0 < gain <= 1.0 and float(np.max(np.abs(wet))) <= 0.99 + 1e-6
    wet2, gain2 = render_plugin_chain(x[None, :], steps, SR)
    assert wet2.shape == (1, x.size)
    np.testing.assert_array_equal(wet2[0], wet)  # fresh instances: no state carried between renders
    assert gain2 == gain
    assert render_plugin_chain(x, [], SR)[0].shape == x.shape


def test_host_dry_adds_the_dry_signal(need_package: Callable[[str, str], Path]) -> None:
    need_package("mcp-plugins", "cs_chorus.so")
    impl = get_implementation("mcp/chorus1")
    controls = sample_controls(np.random.default_rng(0), impl)
    x = _sine(440.0, seconds=0.2)
    wet_only = run_plugin(x, PluginPedal("chorus", impl.name, {**controls, HOST_DRY: 0.0}), SR)
    mixed = run_plugin(x, PluginPedal("chorus", impl.name, {**controls, HOST_DRY: 0.7}), SR)
    np.testing.assert_allclose(mixed, wet_only + np.float32(0.7) * x, atol=1e-6)


def test_installed_implementations_is_a_subset() -> None:
    for effect in EFFECT_NAMES:
        installed = [i.name for i in installed_implementations(effect)]
        assert installed == [i.name for i in implementations_for(effect) if is_installed(i)]


def test_unknown_control_is_rejected(need_package: Callable[[str, str], Path]) -> None:
    need_package("cmt", "cmt.so")
    with pytest.raises(KeyError, match="unknown controls"):
        run_plugin(np.zeros(10, np.float32), PluginPedal("delay", "cmt/fbdelay", {"Mix": 0.5}), SR)
    with pytest.raises(ValueError, match="implements delay"):
        run_plugin(np.zeros(10, np.float32), PluginPedal("reverb", "cmt/fbdelay", {}), SR)

