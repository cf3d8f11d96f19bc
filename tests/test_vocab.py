"""PedalVocab: round trips against the catalog's bins, and the chain grammar."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from floats import float_above, float_below

from ddspfx.catalog import EFFECT_NAMES, EFFECTS, bin_edges, bin_to_value, denormalise, value_to_bin
from ddspfx.chain import Chain, Pedal
from ddspfx.vocab import PedalVocab

VOCAB = PedalVocab()




def _pedal_at_bins(name: str, bins: list[int]) -> Pedal:
    eff = EFFECTS[name]
    return Pedal(name, {p.name: bin_to_value(b, p) for p, b in zip(eff.params, bins)})


def test_size_matches_catalog():
    expected = 3 + sum(2 + sum(p.bins for p in e.params) for e in EFFECTS.values())
    assert len(VOCAB) == expected
    assert len({VOCAB.token(i) for i in range(len(VOCAB))}) == len(VOCAB)
    assert VOCAB.token(VOCAB.bos_id) == "<chain>" and VOCAB.token(VOCAB.eos_id) == "</chain>"
    assert VOCAB.token(VOCAB.effect_open_id("distortion")) == "<distortion>"
    assert VOCAB.id("drive_db:7") == VOCAB.id("distortion.drive_db:7")
    with pytest.raises(KeyError):
        VOCAB.id("mix:3")  # chorus and phaser both have a mix knob: ambiguous without the effect


def test_param_tokens_are_effect_specific():
    ids = {VOCAB.param_id(e, p.name, b) for e in EFFECT_NAMES for p in EFFECTS[e].params for b in range(p.bins)}
    assert len(ids) == sum(sum(p.bins for p in e.params) for e in EFFECTS.values())
    assert VOCAB.param_id("chorus", "mix", 3) != VOCAB.param_id("phaser", "mix", 3)


@pytest.mark.parametrize("name", EFFECT_NAMES)
def test_round_trip_every_bin(name):
    eff = EFFECTS[name]
    for b in range(max(p.bins for p in eff.params)):
        bins = [min(b, p.bins - 1) for p in eff.params]
        chain = Chain([_pedal_at_bins(name, bins)])
        ids = VOCAB.encode(chain)
        assert ids[0] == VOCAB.bos_id and ids[-1] == VOCAB.eos_id and len(ids) == len(eff.params) + 4
        out = VOCAB.decode(ids)
        for p, bb in zip(eff.params, bins):
            assert out.pedals[0].params[p.name] == pytest.approx(bin_to_value(bb, p), rel=1e-12)


@pytest.mark.parametrize("name", EFFECT_NAMES)
def test_bin_edges(name):
    """Values just inside each bin edge encode to that bin; the range ends map to the end bins."""
    eff = EFFECTS[name]
    for i, p in enumerate(eff.params):
        for b in range(p.bins):
            for u in (b / p.bins + 1e-9, (b + 1) / p.bins - 1e-9):
                params = {q.name: bin_to_value(0, q) for q in eff.params}
                params[p.name] = float(denormalise(u, p))
                ids = VOCAB.encode(Chain([Pedal(name, params)]))
                assert ids[2 + i] == VOCAB.param_id(name, p.name, b), (p.name, b, u)
        lo = {q.name: q.low for q in eff.params}
        hi = {q.name: q.high for q in eff.params}
        assert VOCAB.encode(Chain([Pedal(name, lo)]))[2 + i] == VOCAB.param_id(name, p.name, 0)
        assert VOCAB.encode(Chain([Pedal(name, hi)]))[2 + i] == VOCAB.param_id(name, p.name, p.bins - 1)


@pytest.mark.parametrize("name", EFFECT_NAMES)
def test_tokens_bin_like_the_catalog_at_every_edge(name):
    """The token of a knob value is ``catalog.value_to_bin``'s bin, at every edge and one float step either
    side of it (the metric that compares bins and the vocabulary must not disagree)."""
    eff = EFFECTS[name]
    base = {q.name: bin_to_value(0, q) for q in eff.params}
    for i, p in enumerate(eff.params):
        for k, e in enumerate(bin_edges(p)):
            for v, want in ((float_below(e), max(k - 1, 0)), (e, min(k, p.bins - 1)),
                            (float_above(e), min(k, p.bins - 1))):
                ids = VOCAB.encode(Chain([Pedal(name, {**base, p.name: v})]))
                assert ids[2 + i] == VOCAB.param_id(name, p.name, want) == VOCAB.param_id(name, p.name, value_to_bin(v, p)), (p.name, k, v)


def test_multi_effect_round_trip_preserves_order_and_values():
    rng = np.random.default_rng(0)
    for _ in range(20):
        names = list(rng.permutation(EFFECT_NAMES)[: rng.integers(0, 8)])
        chain = Chain([_pedal_at_bins(n, [int(rng.integers(p.bins)) for p in EFFECTS[n].params]) for n in names])
        out = VOCAB.decode(VOCAB.encode(chain))
        assert out.effects == chain.effects
        for a, b in zip(out, chain):
            for k in a.params:
                assert value_to_bin(a.params[k], EFFECTS[a.effect].param(k)) == value_to_bin(b.params[k], EFFECTS[b.effect].param(k))
        assert VOCAB.decode(VOCAB.encode(chain) + [VOCAB.pad_id] * 3).effects == chain.effects
        # the opening tags alone give the order, without decoding
        assert VOCAB.effect_order(VOCAB.encode(chain)) == chain.effects
        assert [VOCAB.opened_effect(VOCAB.effect_open_id(n)) for n in names] == names
        assert VOCAB.opened_effect(VOCAB.eos_id) is None and VOCAB.opened_effect(VOCAB.effect_close_id(EFFECT_NAMES[0])) is None


def test_every_prefix_is_allowed():
    chain = Chain([_pedal_at_bins("reverb", [1, 2, 3, 4]), _pedal_at_bins("distortion", [5])])
    ids = VOCAB.encode(chain)
    for k in range(len(ids)):
        assert ids[k] in VOCAB.allowed_next(ids[:k])
    assert VOCAB.allowed_next(ids) == set()
    assert VOCAB.allowed_next([]) == {VOCAB.bos_id}
    between = VOCAB.allowed_next(ids[:-1])
    assert VOCAB.effect_open_id("reverb") not in between and VOCAB.effect_open_id("eq") in between


def test_random_walks_always_decode():
    rng = np.random.default_rng(1)
    for _ in range(200):
        prefix: list[int] = []
        while True:
            allowed = sorted(VOCAB.allowed_next(prefix))
            if not allowed:
                break
            prefix.append(int(rng.choice(allowed)))
        chain = VOCAB.decode(prefix)
        assert len(set(chain.effects)) == len(chain.effects)
        assert VOCAB.encode(chain) == prefix  # bin centres re-encode to the same bins


def test_max_effects_grammar():
    v = PedalVocab(max_effects=2)
    ids = v.encode(Chain([_pedal_at_bins("eq", [0, 0, 0]), _pedal_at_bins("delay", [0, 0, 0])]))
    assert v.allowed_next(ids[:-1]) == {v.eos_id}
    assert v.max_length() == 2 + (5 + 2) * 2


@pytest.mark.parametrize("make_bad, pos, words", [
    (lambda ids: ids[1:], 0, "not allowed"),  # missing <chain>
    (lambda ids: ids[:-1], 6, "ends before"),  # missing </chain>
    (lambda ids: ids[:2] + ids[3:], 2, "not allowed"),  # missing a param
    (lambda ids: ids[:3] + [ids[2]] + ids[3:], 3, "not allowed"),  # a param twice
    (lambda ids: ids + [ids[1]], 7, "after </chain>"),
    (lambda ids: ids[:1] + [len(VOCAB) + 5] + ids[1:], 1, "outside"),
])
def test_invalid_sequences_name_the_position(make_bad, pos, words):
    ids = VOCAB.encode(Chain([_pedal_at_bins("eq", [1, 2, 3])]))
    with pytest.raises(ValueError, match=f"position {pos}.*{words}"):
        VOCAB.decode(make_bad(ids))


def test_duplicate_effect_rejected():
    one = VOCAB.encode(Chain([_pedal_at_bins("distortion", [3])]))
    with pytest.raises(ValueError, match="position 4"):
        VOCAB.decode(one[:-1] + one[1:])


def test_allowed_mask_matches_allowed_next():
    ids = VOCAB.encode(Chain([_pedal_at_bins("phaser", [1, 2, 3, 4, 5])]))
    prefixes = [ids[:k] for k in range(len(ids) + 1)]
    mask = VOCAB.allowed_mask(prefixes)
    assert mask.shape == (len(prefixes), len(VOCAB)) and mask.dtype == torch.bool
    for row, prefix in zip(mask, prefixes):
        expected = VOCAB.allowed_next(prefix) or {VOCAB.pad_id}
        assert set(torch.nonzero(row).flatten().tolist()) == expected


def test_effect_set_constraint_forces_exactly_that_set():
    """With an effect set, every complete walk decodes to a permutation of exactly that set."""
    import random

    vocab = PedalVocab(max_effects=5)
    rng = random.Random(0)
    for required in [frozenset(), frozenset({"reverb"}), frozenset({"eq", "distortion", "delay"})]:
        for _ in range(20):
            seq = [vocab.bos_id]
            while True:
                allowed = vocab.allowed_next(seq, required)
                if not allowed:
                    break
                seq.append(rng.choice(sorted(allowed)))
            assert set(vocab.decode(seq).effects) == required
    # right after <chain>, only the required effects may open; </chain> only once all are used
    req = frozenset({"chorus", "eq"})
    first = vocab.allowed_next([vocab.bos_id], req)
    assert first == {vocab.effect_open_id("chorus"), vocab.effect_open_id("eq")}
    mask = vocab.allowed_mask([[vocab.bos_id]], [req])
    assert set(mask[0].nonzero().flatten().tolist()) == first
