"""Per-pedal presence thresholds chosen from (probabilities, labels): numpy only, the search behind calibration.

Why per pedal: one 0.5 threshold for every pedal assumes the presence head is equally sure of each; it is not
(eq and phaser rarely reach 0.5 although their probabilities still rank clips well). Three objectives:

- ``accuracy``: each pedal's yes/no decision right as often as possible, which is what a whole chain being right
  needs; it under-finds the hard pedals (eq kept at 0.65 on a thirteen-type model).
- ``f1``: each pedal's own F1. It over-weights a rare or hard pedal's recall: it set a flanger threshold of
  0.10-0.20 whose false alarms on chorus clips cost the whole answer precision.
- ``micro_f1``: the thresholds chosen *together* to maximise the micro-averaged F1 over all pedals (the
  presence score the evaluator reports), so a pedal's extra finds are only bought while they are worth the
  false alarms they add to the whole answer. Each pedal's threshold is tried over the grid with the others
  fixed (coordinate ascent), sweep after sweep until none changes. Measured on a thirteen-type model
  (calibrated on its training mix, scored on seven-type synth chains): presence micro-F1 0.866 (accuracy),
  0.859 (f1), 0.873 (micro_f1).

Torch-free, so ``python -m ddspfx.calibrate`` can list the objectives before seconds of imports.
"""

from __future__ import annotations

import numpy as np

from ddspfx.config import THRESHOLD_OBJECTIVES
from ddspfx.metrics import precision_recall_f1

GRID: np.ndarray = np.round(np.arange(0.05, 0.951, 0.05), 2)
"""Candidate thresholds (coarse on purpose: a few hundred clips cannot resolve finer steps)."""

MAX_SWEEPS = 10
"""Coordinate-ascent sweeps at most for ``micro_f1`` (it settles in two or three; the cap only bounds a tie cycle)."""


def best_thresholds(probs: np.ndarray, labels: np.ndarray, objective: str = "accuracy", grid: np.ndarray = GRID,
                    min_positives: int = 10, default: float = 0.5) -> np.ndarray:
    """probs, labels (M, N) -> (N,) the grid thresholds maximising ``objective`` (per column, or all of them
    together for ``micro_f1``).

    Ties go to the threshold closest to ``default``; a column with fewer than ``min_positives``
    positives (too few to choose from) keeps ``default``.
    """
    if objective not in THRESHOLD_OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(THRESHOLD_OBJECTIVES)}, got {objective!r}")
    if objective == "micro_f1":
        return micro_f1_thresholds(probs, labels, grid, min_positives, default)
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
        out[j] = _closest_best(score, grid, default)
    return out


def micro_f1_thresholds(probs: np.ndarray, labels: np.ndarray, grid: np.ndarray = GRID, min_positives: int = 10,
                        default: float = 0.5, start: np.ndarray | None = None,
                        max_sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """probs, labels (M, N) -> (N,) thresholds that maximise the micro-F1 of ``probs > thresholds`` over all columns.

    Coordinate ascent from ``start`` (default: ``default`` everywhere): each column with at least ``min_positives``
    positives in turn takes the grid value that maximises the micro-F1 with the other thresholds fixed (ties to
    the one closest to ``default``), until a sweep changes nothing or after ``max_sweeps`` sweeps. A move is taken
    only if it does not lower the micro-F1, so the result never scores below ``start``. Columns with too few
    positives keep their start (``default``) but still count in the micro-F1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    grid = np.asarray(grid, dtype=np.float64)
    th = np.full(probs.shape[1], float(default)) if start is None else np.array(start, dtype=np.float64)
    free = np.flatnonzero(labels.sum(0) >= min_positives)
    if start is not None:
        th[np.setdiff1d(np.arange(probs.shape[1]), free)] = float(default)
    tp_grid, fp_grid, fn_grid = _counts(probs[:, :, None], labels[:, :, None], grid)  # (N, G) each
    tp, fp, fn = _counts(probs, labels, th)  # (N,) each, at the current thresholds
    for _ in range(max_sweeps):
        changed = False
        for j in free:
            others = [c.sum() - c[j] for c in (tp, fp, fn)]  # the other columns' totals, fixed during this move
            score = precision_recall_f1(others[0] + tp_grid[j], others[1] + fp_grid[j], others[2] + fn_grid[j],
                                        empty=0.0)[2]  # (G,) micro-F1 for each candidate of column j
            now = precision_recall_f1(tp.sum(), fp.sum(), fn.sum(), empty=0.0)[2]
            if score.max() < now and not np.isclose(score.max(), now):
                continue  # only an off-grid start can beat every grid value: keep it
            g = int(np.flatnonzero(grid == _closest_best(score, grid, default))[0])
            if grid[g] != th[j]:
                th[j], changed = grid[g], True
                tp[j], fp[j], fn[j] = tp_grid[j, g], fp_grid[j, g], fn_grid[j, g]
        if not changed:
            break
    return th


def micro_f1(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | float) -> float:
    """Micro-averaged F1 over every pedal and clip when pedals are detected as ``probs > thresholds``."""
    tp, fp, fn = _counts(np.asarray(probs), np.asarray(labels).astype(bool), thresholds)
    return float(precision_recall_f1(tp.sum(), fp.sum(), fn.sum(), empty=0.0)[2])


def f1_per_pedal(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """(N,) F1 of each pedal when detected as ``probs > thresholds``."""
    return precision_recall_f1(*_counts(np.asarray(probs), np.asarray(labels).astype(bool), thresholds), empty=0.0)[2]


def _counts(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, false positives, false negatives) of ``probs > thresholds``, summed over the clips (axis 0)."""
    pred = probs > np.asarray(thresholds)
    tp = (pred & labels).sum(0)
    return tp, pred.sum(0) - tp, labels.sum(0) - tp


def _closest_best(score: np.ndarray, grid: np.ndarray, default: float) -> float:
    """The grid value with the best score; among (near-)equal best ones, the one closest to ``default``."""
    best = np.flatnonzero(np.isclose(score, score.max()))
    return float(grid[best[np.argmin(np.abs(grid[best] - default))]])
