"""The effect table: normalisation, bins, and the mapping onto pedalboard's real plugins."""

import math

import numpy as np
import pedalboard
import pytest
from floats import float_above, float_below

from ddspfx.catalog import (
    EFFECT_NAMES,
    EFFECTS,
    TYPICAL_ORDER,
    bin_edges,
    bin_to_value,
    denormalise,
    denormalise_params,
    dsp_function,
    get_effect,
    normalise,
    normalise_params,
    pedalboard_plugin,
    render_kwargs,
    value_to_bin,
)
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError

ALL_PARAMS = [(e.name, p) for e in EFFECTS.values() for p in e.params]




def test_catalog_has_the_public_effect_names():
    assert set(EFFECT_NAMES) >= {"compressor", "distortion", "eq", "chorus", "phaser", "delay", "reverb"}
    assert set(TYPICAL_ORDER) == set(EFFECT_NAMES)


@pytest.mark.parametrize("effect,param", ALL_PARAMS, ids=[f"{e}.{p.name}" for e, p in ALL_PARAMS])
def test_normalise_is_inverse_of_denormalise(effect, param):
    assert denormalise(0.0, param) == pytest.approx(param.low)
    assert denormalise(1.0, param) == pytest.approx(param.high)
    mid = denormalise(0.5, param)
    expected_mid = math.sqrt(param.low * param.high) if param.scale == "log" else (param.low + param.high) / 2
    assert mid == pytest.approx(expected_mid)
    values = np.linspace(param.low, param.high, 11)
    np.testing.assert_allclose(denormalise(normalise(values, param), param), values, rtol=1e-12)
    # out-of-range values clip instead of extrapolating
    assert normalise(param.high * 2 if param.high > 0 else param.high + 10, param) == 1.0
    assert param.low <= param.sample_low < param.sample_high <= param.high


@pytest.mark.parametrize("effect,param", ALL_PARAMS, ids=[f"{e}.{p.name}" for e, p in ALL_PARAMS])
def test_bins_cover_the_range_and_centres_round_trip(effect, param):
    edges = [denormalise(b / param.bins, param) for b in range(param.bins + 1)]
    for b in range(param.bins):
        centre = bin_to_value(b, param)
        assert edges[b] < centre < edges[b + 1]
        assert value_to_bin(centre, param) == b
        assert value_to_bin(edges[b], param) == b  # lower edge belongs to its bin
    assert value_to_bin(param.high, param) == param.bins - 1
    with pytest.raises(ValueError):
        bin_to_value(param.bins, param)


@pytest.mark.parametrize("effect,param", ALL_PARAMS, ids=[f"{e}.{p.name}" for e, p in ALL_PARAMS])
def test_bin_edges_are_the_closed_form(effect, param):
    """Edge k is low + k/bins of the range (linear) or low * (high/low)^(k/bins) (log)."""
    k = np.arange(param.bins + 1)
    if param.scale == "log":
        want = param.low * (param.high / param.low) ** (k / param.bins)
    else:
        want = param.low + (param.high - param.low) * k / param.bins
    np.testing.assert_allclose(bin_edges(param), want, rtol=1e-13, atol=1e-15)


def test_bins_of_known_values():
    drive = get_effect("distortion").param("drive_db")  # 0..40 dB, linear, 16 bins of 2.5 dB
    assert bin_edges(drive) == tuple(2.5 * k for k in range(17))
    assert [value_to_bin(v, drive) for v in (-1.0, 0.0, 2.4999999999999996, 2.5, 20.0, 37.5, 40.0, 41.0)] == [
        0, 0, 0, 1, 8, 15, 15, 15]
    ratio = get_effect("compressor").param("ratio")  # 1..20, log
    edge1 = 20.0 ** (1 / 16)  # 1.2058...
    assert value_to_bin(edge1 * (1 - 1e-12), ratio) == 0 and value_to_bin(edge1 * (1 + 1e-12), ratio) == 1
    assert value_to_bin(math.sqrt(20.0), ratio) == 8  # the geometric middle of the range is edge 8
    assert bin_to_value(0, ratio) == pytest.approx(20.0 ** (1 / 32))


@pytest.mark.parametrize("effect,param", ALL_PARAMS, ids=[f"{e}.{p.name}" for e, p in ALL_PARAMS])
def test_every_bin_edge(effect, param):
    """At every edge: the edge value opens its bin and the float just below it closes the previous one.

    Also the values ``denormalise`` gives one float step either side of k/bins (the 3 x 425 edge cases on
    which the vocabulary's old rule and the old ``value_to_bin`` disagreed 372 times) fall in the bin whose
    edges bracket them.
    """
    edges = bin_edges(param)
    assert len(edges) == param.bins + 1 and all(a < b for a, b in zip(edges, edges[1:]))
    top = param.bins - 1
    for k, e in enumerate(edges):
        assert value_to_bin(e, param) == min(k, top), k
        assert value_to_bin(float_above(e), param) == min(k, top), k
        if k > 0:
            assert value_to_bin(float_below(e), param) == k - 1, k
        for u in (float_below(k / param.bins), k / param.bins, float_above(k / param.bins)):
            v = denormalise(u, param)
            b = value_to_bin(v, param)
            assert (b == 0 or edges[b] <= v) and (b == top or v < edges[b + 1]), (k, u, v, b)


@pytest.mark.parametrize("effect,param", ALL_PARAMS, ids=[f"{e}.{p.name}" for e, p in ALL_PARAMS])
def test_scalar_and_array_normalisation_agree(effect, param):
    """Scalars go through math, arrays through numpy: same formula, same values to rounding."""
    u = np.linspace(0.0, 1.0, 33)
    scalars = np.array([denormalise(float(x), param) for x in u])
    assert all(isinstance(denormalise(float(x), param), float) for x in u[:3])
    np.testing.assert_allclose(scalars, denormalise(u, param), rtol=1e-14)
    np.testing.assert_allclose([normalise(float(v), param) for v in scalars], normalise(scalars, param), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(normalise(scalars, param), u, atol=1e-13)
    assert normalise(param.low - 1.0, param) == 0.0 and normalise(np.array([param.low - 1.0]), param)[0] == 0.0


@pytest.mark.parametrize("name", [n for n in EFFECT_NAMES if get_effect(n).in_pedalboard])
def test_pedalboard_plugin_gets_exact_keyword_values(name):
    eff = get_effect(name)
    rng = np.random.default_rng(0)
    params = denormalise_params(eff, rng.uniform(size=len(eff.params)))
    plugin = pedalboard_plugin(eff, params)
    assert type(plugin).__name__ == eff.pedalboard_class
    for key, value in params.items():
        assert getattr(plugin, key) == pytest.approx(value, rel=1e-5, abs=1e-6)
    for key, value in eff.fixed.items():
        assert getattr(plugin, key) == pytest.approx(value)
    back = denormalise_params(eff, normalise_params(eff, params))
    assert back == pytest.approx(params)
    with pytest.raises(KeyError, match="unknown parameters"):
        pedalboard_plugin(eff, {**params, "bogus": 1.0})


@pytest.mark.parametrize("name", [n for n in EFFECT_NAMES if not get_effect(n).in_pedalboard])
def test_a_pedal_pedalboard_lacks_has_ddspfx_reference_function(name):
    """Its renderer is importable, takes exactly the catalog's knobs (plus ``fixed``) and keeps the clip's shape."""
    import inspect

    eff = get_effect(name)
    fx = dsp_function(eff)
    accepted = set(inspect.signature(fx).parameters) - {"x", "sample_rate"}
    assert accepted == set(eff.param_names) | set(eff.fixed)
    params = denormalise_params(eff, np.random.default_rng(1).uniform(size=len(eff.params)))
    x = (0.1 * np.random.default_rng(2).standard_normal((1, 4410))).astype(np.float32)
    y = fx(x, 44100.0, **render_kwargs(eff, params))
    assert y.shape == x.shape and np.all(np.isfinite(y))
    with pytest.raises(ValueError, match="no pedalboard plugin"):
        pedalboard_plugin(eff, params)
    with pytest.raises(DdspfxError, match=f"pedalboard has no {name}"):
        Chain([Pedal(name, params)]).to_pedalboard()


def test_unknown_effect_message_lists_the_known_ones():
    with pytest.raises(KeyError, match="known effects: compressor"):
        get_effect("fuzzbox")


def test_chain_renders_like_a_hand_built_pedalboard():
    chain = Chain([
        Pedal("distortion", {"drive_db": 20.0}),
        Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.3, "mix": 0.4}),
    ])
    t = np.arange(22050) / 44100
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-3 * t)).astype(np.float32)[None]
    ours = chain.to_pedalboard()(x, 44100)
    ref = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=20.0),
                                 pedalboard.Delay(delay_seconds=0.1, feedback=0.3, mix=0.4)])(x, 44100)
    np.testing.assert_array_equal(ours, ref)
    assert str(chain) == "distortion (drive 20.0 dB) -> delay (time 100 ms, feedback 0.30, mix 0.40)"
    assert Chain.from_json(chain.to_json()).to_list() == chain.to_list()


def test_chain_rejects_duplicates_and_wrong_params():
    with pytest.raises(ValueError, match="at most once"):
        Chain([Pedal("distortion", {"drive_db": 1.0}), Pedal("distortion", {"drive_db": 2.0})])
    with pytest.raises(ValueError, match="missing"):
        Pedal("eq", {"gain_db": 3.0})
    assert str(Chain()) == "(no effects: dry)"
