"""Per-pedal presence thresholds chosen from (probabilities, labels): numpy only, the search behind calibration.

Why per pedal: one 0.5 threshold for every pedal assumes the presence head is equally sure of each; it is not
(eq and phaser rarely reach 0.5 although their probabilities still rank clips well). Two objectives:
``accuracy`` (each pedal's yes/no decision right as often as possible, which is what a whole chain being right
needs) or ``f1`` (find more of the pedals, at the price of more false alarms). Torch-free, so
``python -m ddspfx.calibrate`` can list the objectives before seconds of imports.
"""

from __future__ import annotations

import numpy as np

from ddspfx.config import THRESHOLD_OBJECTIVES
from ddspfx.metrics import precision_recall_f1

GRID: np.ndarray = np.round(np.arange(0.05, 0.951, 0.05), 2)
"""Candidate thresholds (coarse on purpose: a few hundred clips cannot resolve finer steps)."""


def best_thresholds(probs: np.ndarray, labels: np.ndarray, objective: str = "accuracy", grid: np.ndarray = GRID,
                    min_positives: int = 10, default: float = 0.5) -> np.ndarray:
    """probs, labels (M, N) -> (N,) the grid threshold maximising each column's ``objective``.

    Ties go to the threshold closest to ``default``; a column with fewer than ``min_positives``
    positives (too few to choose from) keeps ``default``.
    """
    if objective not in THRESHOLD_OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(THRESHOLD_OBJECTIVES)}, got {objective!r}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    out = np.full(probs.shape[1], float(default))
    for j in range(probs.shape[1]):
        y = labels[:, j]
        if y.sum() < min_positives:
            continue
        every = np.broadcast_to(probs[:, [j]], (len(y), len(grid)))  # column j against each grid threshold
        if objective == "f1":
            score = f1_per_pedal(every, y[:, None], grid)
        else:
            score = ((every > grid) == y[:, None]).mean(0)
        best = np.flatnonzero(np.isclose(score, score.max()))
        out[j] = float(grid[best[np.argmin(np.abs(grid[best] - default))]])
    return out


def f1_per_pedal(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """(N,) F1 of each pedal when detected as ``probs > thresholds``."""
    pred, y = probs > np.asarray(thresholds), np.asarray(labels).astype(bool)
    tp = (pred & y).sum(0)
    return precision_recall_f1(tp, pred.sum(0) - tp, y.sum(0) - tp, empty=0.0)[2]
