"""The in-process LV2 host (``ddspfx.plugins.lv2``) against references: closed forms, the plugins' Turtle files,
linearity, and the LADSPA host's mono conventions.

Plugins used (Debian packages; a test skips naming the package when its plugin is absent, and every test
that hosts a plugin skips when liblilv-0-0 is absent): lv2-examples (eg-amp: out = 10^(gain/20) * in),
ardour-lv2-plugins (a-delay, a-comp, a-reverb), fomp (parametric1, Fons Adriaensen's parametric EQ),
dragonfly-reverb-lv2 (requires the worker feature).
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from deb_packages import skip_or_fail

from ddspfx.errors import DdspfxError
from ddspfx.plugins import lv2
from ddspfx.plugins.lv2 import Lv2Plugin, Lv2World

SR = 44_100
AMP = "http://lv2plug.in/plugins/eg-amp"
DELAY = "urn:ardour:a-delay"
COMP = "urn:ardour:a-comp"
REVERB = "urn:ardour:a-reverb"
PARAMETRIC = "http://drobilla.net/plugins/fomp/parametric1"
HALL = "https://github.com/michaelwillis/dragonfly-reverb"


def _need(uri: str) -> lv2.Lv2PluginInfo:
    """The plugin's info, or skip naming what to install (liblilv or the plugin's package)."""
    try:
        return lv2.plugin_info(uri)
    except DdspfxError as exc:  # skip only when liblilv or the plugin's package is missing; else it is a fault
        skip_or_fail(exc, lv2.LILV_PACKAGE, lv2.package_for(uri))


def _sine(freq: float, seconds: float = 0.5, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _gain_db(x: np.ndarray, y: np.ndarray) -> float:
    """Steady-state level change (dB) of a sine, from the second half (filters settled)."""
    h = x.size // 2
    return 20 * math.log10(float(np.sqrt(np.mean(y[h:].astype(np.float64) ** 2) / np.mean(x[h:].astype(np.float64) ** 2))))


def _ttl_port(ttl: Path, symbol: str) -> dict[str, float]:
    """lv2:default/minimum/maximum of the port ``symbol`` read straight from a Turtle file (the reference)."""
    text = ttl.read_text()
    start = text.index(f'lv2:symbol "{symbol}"')
    block = text[text.rfind("[", 0, start):text.find("]", start)]
    return {k: float(v) for k, v in re.findall(r"lv2:(default|minimum|maximum)\s+(-?[\d.]+)", block)}


# --- errors that need nothing installed --------------------------------------------------------------------------------


def test_missing_liblilv_is_one_line_naming_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lv2, "LILV_SONAME", "liblilv-no-such-version.so.9")
    lv2.lilv.cache_clear()
    try:
        with pytest.raises(DdspfxError) as err:
            lv2.lilv()
    finally:
        lv2.lilv.cache_clear()
    assert "\n" not in str(err.value)
    assert "apt-get install liblilv-0-0" in str(err.value)


@pytest.mark.parametrize("uri", [
    "http://guitarix.sourceforge.net/plugins/gx_amp#GUITARIX", "http://calf.sourceforge.net/plugins/Reverb",
    "http://moddevices.com/plugins/caps/AmpVTS", "http://quitte.de/dsp/caps.html#Plate",
    "http://moddevices.com/plugins/tap/reverb", "http://plugin.org.uk/swh-plugins/valve", "urn:zamaudio:ZamTube",
    "http://drobilla.net/plugins/mda/Overdrive",
])
def test_reserved_uris_are_recognised(uri: str) -> None:
    assert lv2.reserved_reason(uri)


@pytest.mark.parametrize("bundle", ["/usr/lib/lv2/gx_amp.lv2/", "/usr/lib/lv2/calf.lv2", "/usr/lib/lv2/valve-swh.lv2",
                                    "/usr/lib/lv2/ZamComp.lv2", "/usr/lib/lv2/ZaMaximX2.lv2", "/usr/lib/lv2/mda.lv2",
                                    "/usr/lib/lv2/mod-caps-AmpVTS.lv2", "/usr/lib/lv2/tap-echo.lv2"])
def test_reserved_bundles_are_recognised(bundle: str) -> None:
    assert lv2.reserved_reason("urn:some:plugin", bundle)


@pytest.mark.parametrize("uri, bundle", [(AMP, "/usr/lib/lv2/eg-amp.lv2/"), (PARAMETRIC, "/usr/lib/lv2/fomp.lv2/"),
                                         (COMP, "/usr/lib/lv2/a-comp.lv2/"), (HALL, "/usr/lib/lv2/DragonflyHallReverb.lv2/"),
                                         ("http://gareus.org/oss/lv2/fil4#mono", "/usr/lib/lv2/fil4.lv2/")])
def test_free_plugins_are_not_reserved(uri: str, bundle: str) -> None:
    assert lv2.reserved_reason(uri, bundle) is None


def test_urid_map_is_one_stable_table() -> None:
    a, b = lv2.urid("urn:ddspfx:test:a"), lv2.urid("urn:ddspfx:test:b")
    assert a != b and a > 0 and lv2.urid(b"urn:ddspfx:test:a") == a
    assert lv2._map(None, b"urn:ddspfx:test:b") == b  # what a plugin's map() call returns
    assert lv2._MAP_CB(None, b"urn:ddspfx:test:b") == b  # through the C callback
    import ctypes

    assert ctypes.string_at(lv2._UNMAP_CB(None, a)) == b"urn:ddspfx:test:a"


# --- hosting real plugins -----------------------------------------------------------------------------------------------


def test_missing_uri_is_one_line_naming_uri_and_package() -> None:
    _need(AMP)
    with pytest.raises(DdspfxError) as err:
        lv2.plugin_info("http://lv2plug.in/plugins/eg-no-such-plugin")
    msg = str(err.value)
    assert "\n" not in msg and "http://lv2plug.in/plugins/eg-no-such-plugin" in msg and "lv2-examples" in msg
    with pytest.raises(DdspfxError, match="apt-get install fomp"):
        Lv2Plugin("http://drobilla.net/plugins/fomp/no-such-plugin", SR)
    assert not lv2.is_available("urn:ddspfx:no-such-plugin")


@pytest.mark.parametrize("gain_db", [-12.0, 0.0, 6.0, 24.0])
def test_amp_gives_its_gain_exactly(gain_db: float) -> None:
    _need(AMP)
    x = _sine(440.0)
    with Lv2Plugin(AMP, SR, {"gain": gain_db}) as amp:
        y = amp.process(x)
    np.testing.assert_allclose(y, x * np.float32(10 ** (gain_db / 20)), rtol=1e-5, atol=1e-8)


def test_controls_by_symbol_or_name_and_bounds_checked() -> None:
    _need(AMP)
    x = _sine(440.0, 0.1)
    with Lv2Plugin(AMP, SR, {"Gain": -6.0}) as amp:  # by name
        assert amp.control("gain") == -6.0
        y1 = amp.process(x)
        y2 = amp.process(x, {"gain": 6.0})  # by symbol, through process(); persists
        assert amp.control("Gain") == 6.0
        with pytest.raises(ValueError, match="outside its bounds"):
            amp.set_control("gain", 30.0)
        with pytest.raises(KeyError, match="gain"):
            amp.set_control("volume", 1.0)
    assert _gain_db(x, y1) == pytest.approx(-6.0, abs=1e-3) and _gain_db(x, y2) == pytest.approx(6.0, abs=1e-3)
    with pytest.raises(RuntimeError, match="after close"):
        amp.process(x)


def test_ports_match_the_turtle_files() -> None:
    info = _need(AMP)
    ref = _ttl_port(Path(info.bundle) / "amp.ttl", "gain")
    gain = info.port("gain")
    assert (gain.minimum, gain.maximum, gain.default) == (ref["minimum"], ref["maximum"], ref["default"]) == (-90.0, 24.0, 0.0)
    assert gain.name == "Gain" and gain.is_control and gain.is_input
    assert [p.symbol for p in info.audio_inputs] == ["in"] and [p.symbol for p in info.audio_outputs] == ["out"]
    assert (0.0, "0") in gain.scale_points and info.required_features == ()

    delay = _need(DELAY)
    ref = _ttl_port(Path(delay.bundle) / "a-delay.ttl", "time")
    t = delay.port("time")
    assert (t.minimum, t.maximum, t.default) == (ref["minimum"], ref["maximum"], ref["default"])
    assert t.logarithmic and delay.port("sync").toggled and delay.port("div").integer
    assert [p.kind for p in delay.ports if p.symbol == "bpm_in"] == ["atom"]
    assert lv2.URID_MAP in delay.required_features


def test_side_chain_input_is_not_a_main_input() -> None:
    comp = _need(COMP)
    assert [p.symbol for p in comp.audio_inputs] == ["lv2_audio_in_1"]
    assert [p.symbol for p in comp.ports if p.side_chain] == ["lv2_sidechain_in"]


def test_delay_impulse_peaks_at_the_set_time() -> None:
    """a-delay (atom input, urid:map + options features) fully wet, no feedback: one echo at the set time.

    The impulse comes after a-delay's ~10 ms of control smoothing (it glides from its own initial dry/wet)."""
    _need(DELAY)
    x = np.zeros(SR // 2, dtype=np.float32)
    x[2000] = 1.0
    with Lv2Plugin(DELAY, SR, {"time": 250.0, "feedback": 0.0, "drywet": 100.0, "lpf": 20000.0}) as delay:
        y = delay.process(x)
    assert np.isfinite(y).all()
    assert abs(int(np.argmax(np.abs(y))) - (2000 + round(0.25 * SR))) <= 2
    assert np.max(np.abs(y[:2000 + round(0.24 * SR)])) < 1e-3 * np.max(np.abs(y))


def test_blocks_are_invisible_in_the_output() -> None:
    """Padding the last block changes nothing a causal plugin outputs: a prefix renders as the full clip's prefix."""
    _need(DELAY)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(5000)).astype(np.float32)
    ctl = {"time": 20.0, "feedback": 50.0}
    with Lv2Plugin(DELAY, SR, ctl) as a, Lv2Plugin(DELAY, SR, ctl) as b:
        np.testing.assert_array_equal(a.process(x[:1500]), b.process(x)[:1500])


def test_parametric_eq_cuts_its_band_only() -> None:
    _need(PARAMETRIC)
    ctl = {"filter": 1.0, "sec_3": 1.0, "freq_3": 1000.0, "bw_3": 1.0, "gain_3": -12.0}
    levels = {}
    for f in (50.0, 1000.0, 16000.0):
        x = _sine(f)
        with Lv2Plugin(PARAMETRIC, SR, ctl) as eq:
            levels[f] = _gain_db(x, eq.process(x))
    assert levels[1000.0] == pytest.approx(-12.0, abs=0.3)
    assert abs(levels[50.0]) < 0.3 and abs(levels[16000.0]) < 0.3  # 4 octaves away


def test_stereo_plugin_gets_the_clip_on_both_inputs_and_returns_the_mean() -> None:
    """a-reverb is linear: out(clip on L and R) = out(clip on L) + out(clip on R); the result is (L + R) / 2."""
    _need(REVERB)
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(SR // 4)).astype(np.float32)

    def run(**kw: tuple[str, ...]) -> np.ndarray:
        with Lv2Plugin(REVERB, SR, {"blend": 1.0}, **kw) as p:
            return p.process(x).astype(np.float64)

    y = run()
    left, right = run(outputs=("out0",)), run(outputs=("out1",))
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)
    assert np.max(np.abs(left - right)) > 1e-3  # a real stereo output, so the mean is a real check
    np.testing.assert_allclose(y, run(inputs=("in0",)) + run(inputs=("in1",)), atol=1e-5)


def test_silent_input_gives_finite_output() -> None:
    for uri in (AMP, DELAY, COMP, REVERB, PARAMETRIC):
        _need(uri)
        with Lv2Plugin(uri, SR) as p:
            y = p.process(np.zeros(3000, dtype=np.float32))
        assert y.shape == (3000,) and y.dtype == np.float32 and np.isfinite(y).all(), uri
        assert np.max(np.abs(y)) < 1e-6, uri


def test_plugin_that_requires_the_worker_runs() -> None:
    """Dragonfly Hall requires worker:schedule; the synchronous worker hosts it and its tail follows the impulse."""
    _need(HALL)
    x = np.zeros(SR // 2, dtype=np.float32)
    x[0] = 1.0
    with Lv2Plugin(HALL, SR, {"dry_level": 0.0, "late_level": 100.0}) as hall:
        y = hall.process(x)
    assert np.isfinite(y).all() and np.sqrt(np.mean(y[SR // 10:] ** 2)) > 1e-4


# --- reserved and unsupported plugins, through bundles made from eg-amp ------------------------------------------------


def _bundle(tmp: Path, name: str, uri: str = AMP, extra: str = "") -> Path:
    """A copy of eg-amp's bundle as ``name``, its URI replaced by ``uri`` and ``extra`` Turtle added to the plugin."""
    src = Path(_need(AMP).bundle)
    dst = tmp / name
    shutil.copytree(src, dst)
    for ttl in ("manifest.ttl", "amp.ttl"):
        text = (dst / ttl).read_text().replace(f"<{AMP}>", f"<{uri}>")
        if ttl == "amp.ttl" and extra:
            text = text.replace("lv2:optionalFeature lv2:hardRTCapable ;", f"lv2:optionalFeature lv2:hardRTCapable ;\n{extra}")
        (dst / ttl).write_text(text)
    return dst


def test_reserved_bundle_is_refused_unless_allowed(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "gx_fake.lv2")
    world = Lv2World(load_all=False)
    world.load_bundle(bundle)
    with pytest.raises(DdspfxError, match="reserved for held-out evaluation.*gx_fake.lv2") as err:
        Lv2Plugin(AMP, SR, world=world)
    assert "\n" not in str(err.value)
    x = _sine(440.0, 0.1)
    with Lv2Plugin(AMP, SR, {"gain": 6.0}, world=world, allow_reserved=True) as amp:  # evaluation only
        assert _gain_db(x, amp.process(x)) == pytest.approx(6.0, abs=1e-3)


def test_reserved_uri_is_refused_before_loading(tmp_path: Path) -> None:
    fake = "http://calf.sourceforge.net/plugins/FakeAmp"
    bundle = _bundle(tmp_path, "fake.lv2", fake)
    world = Lv2World(load_all=False)
    world.load_bundle(bundle)
    with pytest.raises(DdspfxError, match="reserved.*calf.sourceforge.net"):
        Lv2Plugin(fake, SR, world=world)


def test_unsupported_required_feature_is_refused(tmp_path: Path) -> None:
    uri = "urn:ddspfx:test:needs-map-path"
    bundle = _bundle(tmp_path, "needs.lv2", uri, "lv2:requiredFeature <http://lv2plug.in/ns/ext/state#mapPath> ;")
    world = Lv2World(load_all=False)
    world.load_bundle(bundle)
    with pytest.raises(DdspfxError, match="requires features this host lacks: http://lv2plug.in/ns/ext/state#mapPath"):
        Lv2Plugin(uri, SR, world=world)


def test_not_a_bundle_is_one_line(tmp_path: Path) -> None:
    _need(AMP)
    with pytest.raises(DdspfxError, match="not an LV2 bundle"):
        Lv2World(load_all=False).load_bundle(tmp_path)


# --- the renderer's dispatch --------------------------------------------------------------------------------------------


def test_renderer_runs_an_lv2_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    from ddspfx.plugins.render import PluginPedal, is_installed, run_plugin
    from ddspfx.plugins.table import IMPLEMENTATIONS, Control, Implementation

    _need(AMP)
    impl = Implementation(name="lv2test/amp", effect="eq", package="lv2-examples", library="eg-amp.lv2", label=AMP,
                          unique_id=0, controls=(Control("gain", -12.0, 12.0, unit="dB"),), host="lv2")
    monkeypatch.setitem(IMPLEMENTATIONS, impl.name, impl)
    assert is_installed(impl)
    assert not is_installed(Implementation(name="lv2test/none", effect="eq", package="x", library="x.lv2",
                                           label="urn:ddspfx:none", unique_id=0, controls=(), host="lv2"))
    x = _sine(440.0, 0.1)
    y = run_plugin(x, PluginPedal("eq", impl.name, {"gain": -6.0}), SR)
    np.testing.assert_allclose(y, x * np.float32(10 ** (-6 / 20)), rtol=1e-5, atol=1e-8)
