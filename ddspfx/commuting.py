"""Which pedal orders sound the same: the measured commuting pairs and a canonical order.

Two adjacent pedals *commute* when swapping them is inaudible. Linear time-invariant pedals
commute exactly (their transfer functions multiply), but the evaluator needs the pairs that
commute *audibly*, which ``experiments/order_symmetry.py`` measures with pedalboard and ships as
``ddspfx/commuting.json``. Two orders of the same pedals are then equivalent when one becomes
the other by swapping adjacent commuting pedals (a partially commutative / trace monoid), and
:func:`equivalent_canonical` picks one representative per equivalence class.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from ddspfx.catalog import EFFECT_NAMES, get_effect

COMMUTING_JSON = Path(__file__).with_name("commuting.json")
"""The shipped measurement (written by ``python -m experiments.order_symmetry``)."""

Pairs = frozenset[frozenset[str]]


def lti_pairs() -> Pairs:
    """Every pair of linear time-invariant catalog effects: they commute exactly."""
    lti = [n for n in EFFECT_NAMES if get_effect(n).lti]
    return frozenset(frozenset(p) for p in combinations(lti, 2))


def parse_pairs(pairs: Iterable[Sequence[str]]) -> Pairs:
    """``[["eq", "delay"], ...]`` -> a set of unordered pairs, checked against the catalog."""
    out = set()
    for pair in pairs:
        names = [get_effect(n).name for n in pair]
        if len(names) != 2 or names[0] == names[1]:
            raise ValueError(f"a commuting pair names two different effects, got {list(pair)}")
        out.add(frozenset(names))
    return frozenset(out)


def read_table(path: str | Path = COMMUTING_JSON) -> dict[str, Any]:
    """The raw JSON ({"tau", "commuting_pairs", "measured", "command", ...})."""
    return json.loads(Path(path).read_text())


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Pairs:
    p = Path(path)
    if not p.exists():
        warnings.warn(f"{p} is missing; using the linear time-invariant pairs as the commuting pairs "
                      "(run `python -m experiments.order_symmetry` to measure them)", stacklevel=3)
        return lti_pairs()
    return parse_pairs(read_table(p)["commuting_pairs"])


def commuting_pairs(path: str | Path = COMMUTING_JSON) -> Pairs:
    """The pairs of effects whose adjacent swap is inaudible (measured; LTI pairs if no table)."""
    return _load(str(path))


def commute(a: str, b: str, pairs: Pairs | None = None) -> bool:
    """Do pedals ``a`` and ``b`` commute when adjacent?"""
    return frozenset((a, b)) in (commuting_pairs() if pairs is None else pairs)


def equivalent_canonical(effects: Sequence[str], pairs: Pairs | None = None) -> tuple[str, ...]:
    """One representative of the orders reachable by swapping adjacent commuting pedals.

    The lexicographic normal form of the trace monoid: repeatedly take the alphabetically
    smallest pedal that can be moved to the front (it commutes with every pedal before it).
    When the commuting pairs form cliques (e.g. the LTI pairs) this is exactly "sort each
    maximal run of mutually commuting neighbours" (``tests/test_commuting.py`` checks it); unlike
    run sorting it stays a true canonical form when commuting is not transitive (a~b, b~c,
    a!~c: ``c b a`` and ``c a b`` are equivalent, run sorting maps them to different orders).
    Each effect appears at most once in a chain.
    """
    pairs = commuting_pairs() if pairs is None else pairs
    return _canonical(tuple(effects), pairs if isinstance(pairs, frozenset) else frozenset(pairs))


@functools.lru_cache(maxsize=4096)
def _canonical(effects: tuple[str, ...], pairs: Pairs) -> tuple[str, ...]:
    """:func:`equivalent_canonical`, remembered: the vote canonicalises every order of a clip's pedals (120 for
    five), and the same orders come back clip after clip."""
    rest = list(effects)
    out: list[str] = []
    while rest:
        movable = [x for i, x in enumerate(rest) if all(frozenset((x, y)) in pairs for y in rest[:i])]
        first = min(movable)  # rest[0] is always movable
        out.append(first)
        rest.remove(first)
    return tuple(out)


def equivalent_orders(a: Sequence[str], b: Sequence[str], pairs: Pairs | None = None) -> bool:
    """Same pedals, and one order reaches the other by swapping adjacent commuting pedals."""
    return sorted(a) == sorted(b) and equivalent_canonical(a, pairs) == equivalent_canonical(b, pairs)


__all__ = ["COMMUTING_JSON", "commuting_pairs", "commute", "equivalent_canonical", "equivalent_orders",
           "lti_pairs", "parse_pairs", "read_table"]
