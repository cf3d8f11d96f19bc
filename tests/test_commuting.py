"""ddspfx.commuting: the shipped commuting table and the canonical order of equivalent chains."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.commuting import (
    COMMUTING_JSON,
    commuting_pairs,
    equivalent_canonical,
    equivalent_orders,
    lti_pairs,
    parse_pairs,
    read_table,
)
from ddspfx.metrics import LTI, MRSTFTDistance


def _measured(table: dict, a: str, b: str) -> dict:
    m = table["measured"]
    return m.get(f"{a}|{b}") or m[f"{b}|{a}"]


def _reachable(order: tuple[str, ...], pairs) -> set[tuple[str, ...]]:
    """Every order reachable by adjacent swaps of commuting pedals (breadth-first): the definition."""
    seen, todo = {order}, [order]
    while todo:
        cur = todo.pop()
        for i in range(len(cur) - 1):
            if frozenset(cur[i:i + 2]) in pairs:
                nxt = cur[:i] + (cur[i + 1], cur[i]) + cur[i + 2:]
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return seen


def test_shipped_table_is_present_and_consistent():
    assert COMMUTING_JSON.exists(), "run python -m experiments.order_symmetry"
    table = read_table()
    assert 0 < table["tau"] < 1 and table["command"].startswith("python -m experiments.order_symmetry")
    assert len(table["measured"]) == len(EFFECT_NAMES) * (len(EFFECT_NAMES) - 1) // 2
    # the listed pairs are exactly those whose measured fraction passes the threshold
    listed = parse_pairs(table["commuting_pairs"])
    from_numbers = {frozenset(k.split("|")) for k, v in table["measured"].items()
                    if v["frac_under_tau"] >= table["min_fraction"]}
    assert listed == from_numbers == commuting_pairs()


def test_lti_pairs_always_commute_in_shipped_table():
    assert lti_pairs() == frozenset(frozenset(p) for p in itertools.combinations(sorted(LTI), 2))
    assert lti_pairs() <= commuting_pairs()


def test_distortion_never_commutes_with_eq_per_measured_numbers():
    table = read_table()
    m = _measured(table, "distortion", "eq")
    assert m["frac_under_tau"] < table["min_fraction"]
    assert m["median"] > table["tau"]
    assert frozenset(("distortion", "eq")) not in commuting_pairs()


def test_known_canonical_values():
    lti = lti_pairs()
    assert equivalent_canonical(["reverb", "eq", "distortion", "delay", "eq"][:4], lti) == ("eq", "reverb", "distortion", "delay")
    assert equivalent_canonical(["distortion", "compressor"], lti) == ("distortion", "compressor")
    assert equivalent_canonical([], lti) == ()
    # non-transitive relation a~b, b~c, a!~c: c b a and c a b are one class, with one representative
    pairs = parse_pairs([["eq", "delay"], ["delay", "reverb"]])  # eq !~ reverb here
    a, b, c = "eq", "delay", "reverb"
    assert equivalent_canonical([c, b, a], pairs) == equivalent_canonical([c, a, b], pairs) == (b, c, a)


def _sort_lti_runs(effects) -> tuple[str, ...]:
    """The reference for LTI pairs (a clique): sort each maximal run of adjacent LTI pedals."""
    out: list[str] = []
    run: list[str] = []
    for name in effects:
        if name in LTI:
            run.append(name)
        else:
            out += sorted(run) + [name]
            run = []
    return tuple(out + sorted(run))


def test_lti_pairs_only_merge_adjacent_lti_runs():
    lti = lti_pairs()
    assert equivalent_canonical(["reverb", "eq", "delay"], lti) == ("delay", "eq", "reverb")
    assert equivalent_canonical(["eq", "distortion", "delay"], lti) == ("eq", "distortion", "delay")
    assert equivalent_canonical(["delay", "distortion", "eq"], lti) != equivalent_canonical(["eq", "distortion", "delay"], lti)
    # chorus is linear but time-varying: it breaks a run
    assert equivalent_canonical(["reverb", "chorus", "eq"], lti) == ("reverb", "chorus", "eq")


def test_generalises_lti_run_sorting_on_every_order():
    lti = lti_pairs()
    for k in range(len(EFFECT_NAMES) + 1):
        for sub in itertools.combinations(EFFECT_NAMES, k):
            for perm in itertools.permutations(sub) if k <= 4 else [sub, sub[::-1]]:
                assert equivalent_canonical(perm, lti) == _sort_lti_runs(perm)


def test_canonical_form_matches_swap_reachability():
    rng = np.random.default_rng(0)
    names = EFFECT_NAMES[:5]
    all_pairs = [frozenset(p) for p in itertools.combinations(names, 2)]
    for _ in range(6):
        pairs = frozenset(p for p in all_pairs if rng.random() < 0.5)
        for perm in itertools.permutations(names):
            reach = _reachable(perm, pairs)
            canon = equivalent_canonical(perm, pairs)
            assert canon in reach  # a member of the class
            assert {equivalent_canonical(o, pairs) for o in reach} == {canon}  # the same for every member
        p, q = names, names[::-1]
        assert equivalent_orders(p, q, pairs) == (q in _reachable(p, pairs))


def test_missing_table_falls_back_to_lti_with_warning(tmp_path):
    with pytest.warns(UserWarning, match="linear time-invariant"):
        assert commuting_pairs(tmp_path / "nope.json") == lti_pairs()
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"commuting_pairs": [["eq", "chorus"]]}))
    assert commuting_pairs(path) == {frozenset(("eq", "chorus"))}
    with pytest.raises(KeyError, match="unknown effect"):
        parse_pairs([["eq", "fuzzbox"]])


def test_a_shipped_commuting_pair_is_inaudible_when_swapped():
    """Spot check against pedalboard: a commuting pair swaps inaudibly (evaluator's ratio), distortion/eq not."""
    from ddspfx.render import run_reference
    from ddspfx.sources import make_source

    table = read_table()
    dry = make_source("synth").sample(np.random.default_rng(5), 1.0)
    dist = MRSTFTDistance()

    def ratio(a: Pedal, b: Pedal) -> float:
        y1 = run_reference(dry, Chain([a, b]), SAMPLE_RATE)[0]
        y2 = run_reference(dry, Chain([b, a]), SAMPLE_RATE)[0]
        return dist(y2, y1) / dist(dry, y1)

    eq = Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 9.0, "q": 1.0})
    delay = Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.3, "mix": 0.4})
    drive = Pedal("distortion", {"drive_db": 25.0})
    assert ratio(eq, delay) <= table["tau"]
    assert ratio(drive, eq) > table["tau"]
