"""Evaluation metrics for predicted pedal chains: pure functions on chains and audio.

The headline order metric is *audible* equivalence: a predicted order counts as right when
rendering the true parameters in the predicted order lands close to the true wet clip,
because many orders of linear effects sound the same (see ``equivalent_orders``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
from numpy.typing import ArrayLike

from ddspfx.catalog import EFFECT_NAMES, get_effect, normalise_params
from ddspfx.chain import Chain
from ddspfx.spectral import METRIC, mrstft

NONLINEAR: frozenset[str] = frozenset(n for n in EFFECT_NAMES if not get_effect(n).linear)
LTI: frozenset[str] = frozenset(n for n in EFFECT_NAMES if get_effect(n).lti)


@dataclass
class PresenceCounts:
    """True/false positives and false negatives per effect, for micro and macro F1."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray

    @classmethod
    def empty(cls) -> PresenceCounts:
        n = len(EFFECT_NAMES)
        return cls(np.zeros(n, int), np.zeros(n, int), np.zeros(n, int))

    def add(self, true: Sequence[str], pred: Sequence[str]) -> None:
        t, p = set(true), set(pred)
        for i, name in enumerate(EFFECT_NAMES):
            self.tp[i] += name in t and name in p
            self.fp[i] += name not in t and name in p
            self.fn[i] += name in t and name not in p

    def scores(self) -> dict[str, float]:
        micro = precision_recall_f1(self.tp.sum(), self.fp.sum(), self.fn.sum())
        per = precision_recall_f1(self.tp, self.fp, self.fn)  # (N,) each
        # a pedal never drawn and never reported has no score (NaN, a table prints "–"): counting it as perfect
        # would lift the macro means and print F1 1.00 for types the clips do not hold
        counted = (self.tp + self.fp + self.fn) > 0
        macro = [float(v[counted].mean()) if counted.any() else float("nan") for v in per]
        out: dict[str, float] = {"micro_precision": float(micro[0]), "micro_recall": float(micro[1]),
                                 "micro_f1": float(micro[2]), "macro_precision": macro[0], "macro_recall": macro[1],
                                 "macro_f1": macro[2]}
        for name, f1, c in zip(EFFECT_NAMES, per[2], counted):
            out[f"f1/{name}"] = float(f1) if c else float("nan")
        return out


def precision_recall_f1(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, empty: float = 1.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 = 2 tp / (2 tp + fp + fn) from counts (scalars or arrays, elementwise).

    ``empty`` is a score with nothing to count (precision with nothing detected, recall with nothing to find,
    F1 with neither): 1 for the evaluator (nothing there and nothing found is right), 0 where a count-free
    pedal should not look perfect (training's validation F1, threshold calibration).
    """
    tp, fp, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn))

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, float(empty)), where=den > 0)

    return ratio(tp, tp + fp), ratio(tp, tp + fn), ratio(2 * tp, 2 * tp + fp + fn)


def pairwise_order(true: Sequence[str], pred: Sequence[str]) -> tuple[list[bool], list[bool]]:
    """Per pair of effects present in both chains: is their relative order right?

    Returns (pairs involving a nonlinear effect, pairs of linear effects).
    """
    common = [e for e in true if e in pred]
    nonlin: list[bool] = []
    lin: list[bool] = []
    for a, b in combinations(common, 2):  # a before b in truth
        ok = pred.index(a) < pred.index(b)
        (nonlin if (a in NONLINEAR or b in NONLINEAR) else lin).append(ok)
    return nonlin, lin


def knob_errors(true: Chain, pred: Chain) -> list[tuple[str, np.ndarray]]:
    """(effect, absolute normalised error of each of its knobs) for each effect detected in both chains."""
    t = {p.effect: p.params for p in true}
    return [(p.effect, np.abs(normalise_params(p.effect, p.params) - normalise_params(p.effect, t[p.effect])))
            for p in pred if p.effect in t]


def param_error(true: Chain, pred: Chain) -> list[float]:
    """Mean absolute normalised-parameter error of each effect detected in both chains."""
    return [float(np.mean(e)) for _, e in knob_errors(true, pred)]


def peak_normalise(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x / peak if peak > 0 else x


def si_sdr(estimate: np.ndarray, reference: np.ndarray, eps: float = 1e-9) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019)."""
    est = estimate.astype(np.float64).ravel() - np.mean(estimate)
    ref = reference.astype(np.float64).ravel() - np.mean(reference)
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + eps)
    target = alpha * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


class MRSTFTDistance:
    """Multi-resolution STFT distance (``ddspfx.spectral.METRIC``) on peak-normalised mono numpy clips."""

    def __init__(self) -> None:
        self._loss = mrstft(METRIC)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        n = min(a.shape[-1], b.shape[-1])
        ta = torch.from_numpy(peak_normalise(np.asarray(a, np.float32).reshape(-1)[:n])).view(1, 1, -1)
        tb = torch.from_numpy(peak_normalise(np.asarray(b, np.float32).reshape(-1)[:n])).view(1, 1, -1)
        with torch.no_grad():
            return float(self._loss(ta, tb))


def reorder(chain: Chain, order: Sequence[str]) -> Chain:
    """The same pedals (same params) in another order."""
    by_name = {p.effect: p for p in chain}
    return Chain([by_name[name] for name in order])
