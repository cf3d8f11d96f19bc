"""The ``micro_f1`` threshold objective: a hand-worked optimum, and the coordinate ascent's promises."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ddspfx.thresholds import GRID, best_thresholds, micro_f1, micro_f1_thresholds

SMALL_GRID = np.array([0.25, 0.5, 0.75])


def _micro(probs: np.ndarray, labels: np.ndarray, th: np.ndarray) -> float:
    """Micro-F1 written out independently of the package: 2 TP / (2 TP + FP + FN) over every cell."""
    pred = probs > th
    tp, fp, fn = (pred & labels).sum(), (pred & ~labels).sum(), (~pred & labels).sum()
    return 2 * tp / (2 * tp + fp + fn)


def _hand_case() -> tuple[np.ndarray, np.ndarray]:
    """8 clips x 3 pedals (A, B, C)."""
    labels = np.zeros((8, 3), dtype=bool)
    probs = np.full((8, 3), 0.1)
    labels[:4, 0], probs[:4, 0] = True, 0.9  # A: 4 positives at 0.9, negatives at 0.1
    labels[0, 1], probs[:3, 1] = True, 0.3  # B: 1 positive and 2 negatives at 0.3
    labels[4:6, 2], probs[4:8, 2] = True, 0.3  # C: 2 positives and 2 negatives at 0.3
    return probs, labels


def test_micro_f1_optimum_worked_by_hand():
    """Grid {0.25, 0.5, 0.75}, default 0.5. A is found at every threshold (TP 4), so it keeps 0.5 (ties).
    B low (0.25) adds TP 1, FP 2; B high misses it (FN 1). C low adds TP 2, FP 2; C high: FN 2.

    Per pedal F1: B low 2/(2+2) = 0.5 vs 0 high -> 0.25; C low 4/(4+2) = 0.67 vs 0 -> 0.25.
    Per pedal accuracy: B low 2 wrong, high 1 wrong -> 0.5; C 2 wrong either way -> the tie keeps 0.5.
    Micro-F1 = 2TP/(2TP+FP+FN) of the four (B, C) choices:
      B high, C high: TP 4, FP 0, FN 3 -> 8/11 = 0.727
      B low,  C high: TP 5, FP 2, FN 2 -> 10/14 = 0.714
      B high, C low:  TP 6, FP 2, FN 1 -> 12/15 = 0.800   <- the optimum
      B low,  C low:  TP 7, FP 4, FN 0 -> 14/18 = 0.778   (the f1 objective's answer)
    C's two finds at precision 1/2 pay for themselves; B's one find at precision 1/3 does not (a find raises
    micro-F1 only when its precision exceeds half the current micro-F1), and the accuracy objective takes neither.
    """
    probs, labels = _hand_case()
    kw = {"grid": SMALL_GRID, "min_positives": 1}
    assert best_thresholds(probs, labels, "micro_f1", **kw).tolist() == [0.5, 0.5, 0.25]
    assert best_thresholds(probs, labels, "f1", **kw).tolist() == [0.5, 0.25, 0.25]
    assert best_thresholds(probs, labels, "accuracy", **kw).tolist() == [0.5, 0.5, 0.5]
    assert micro_f1(probs, labels, np.array([0.5, 0.5, 0.25])) == pytest.approx(12 / 15)
    assert micro_f1(probs, labels, np.array([0.5, 0.25, 0.25])) == pytest.approx(14 / 18)
    # and it is the best of every combination of grid thresholds
    best = max(_micro(probs, labels, np.array(t)) for t in itertools.product(SMALL_GRID, repeat=3))
    assert best == pytest.approx(12 / 15)


@pytest.mark.parametrize("seed", range(4))
def test_ascent_never_lowers_micro_f1_and_ends_at_a_coordinate_optimum(seed):
    """From any grid start, micro-F1 never drops; at the end no single threshold moved over the grid raises it."""
    rng = np.random.default_rng(seed)
    labels = rng.random((200, 5)) < rng.uniform(0.1, 0.5, 5)
    probs = np.clip(rng.uniform(0.05, 0.3, 5) * labels + rng.normal(0.3, 0.12, (200, 5)), 0, 1)
    for start in (np.full(5, 0.5), rng.choice(GRID, 5), best_thresholds(probs, labels, "f1")):
        th = micro_f1_thresholds(probs, labels, start=start)
        assert _micro(probs, labels, th) >= _micro(probs, labels, start) - 1e-12
        for j, t in itertools.product(range(5), GRID):
            moved = th.copy()
            moved[j] = t
            assert _micro(probs, labels, moved) <= _micro(probs, labels, th) + 1e-12


def test_ties_go_toward_the_default():
    """A perfectly separated pedal (positives 0.9, negatives 0.1) scores the same for every grid threshold in
    [0.1, 0.85]: the one closest to the default is chosen, whichever the default."""
    labels = np.zeros((40, 1), dtype=bool)
    labels[:20] = True
    probs = np.where(labels, 0.9, 0.1)
    assert best_thresholds(probs, labels, "micro_f1").tolist() == [0.5]
    assert best_thresholds(probs, labels, "micro_f1", default=0.3).tolist() == [0.3]
    assert best_thresholds(probs, labels, "micro_f1", default=0.99).tolist() == [0.85]  # 0.9 would miss them
    assert best_thresholds(probs, labels, "micro_f1", default=0.0).tolist() == [0.1]  # 0.05 would take negatives


def test_too_few_positives_keep_the_default_but_still_count():
    """Column 1 has 3 positives (< min_positives 10): it stays at 0.5 although 0.25 would find all three with
    no false alarm; its misses still weigh in the micro-F1 that chooses column 0's threshold."""
    labels = np.zeros((60, 2), dtype=bool)
    labels[:30, 0] = True
    labels[:3, 1] = True
    probs = np.where(labels, 0.8, 0.1)
    probs[:3, 1] = 0.3
    th = best_thresholds(probs, labels, "micro_f1")
    assert th[1] == 0.5
    assert micro_f1(probs, labels, th) == pytest.approx(60 / 63)  # column 0 perfect (TP 30), column 1's FN 3
    th_low = micro_f1_thresholds(probs, labels, min_positives=3)
    assert th_low[1] == pytest.approx(0.25) and micro_f1(probs, labels, th_low) == 1.0


def test_sweeps_are_capped():
    """One sweep from the default is all ``max_sweeps=1`` does: in the hand case it already reaches the optimum
    (C moves, B stays), and zero sweeps leave every threshold at the start."""
    probs, labels = _hand_case()
    kw = {"grid": SMALL_GRID, "min_positives": 1}
    assert micro_f1_thresholds(probs, labels, max_sweeps=0, **kw).tolist() == [0.5, 0.5, 0.5]
    assert micro_f1_thresholds(probs, labels, max_sweeps=1, **kw).tolist() == [0.5, 0.5, 0.25]
