"""The one place ddspfx calls pedalboard to render a chain.

Conventions (so that anyone can reproduce a wet file with plain pedalboard):

- input is made an explicit float32 ``(C, T)`` array; a fresh board is built per call and run with
  ``reset=True``, so no state leaks between clips;
- the output is padded with zeros / trimmed to the input length ``T`` (reverb and delay tails past the
  clip are cut, exactly as a fixed-length recording would);
- output normalisation: ``output_gain = min(1, 0.99 / peak(pedalboard(dry)))``. It only ever turns the
  level *down*, and only when the chain would clip (distortion and feedback can push past 0 dBFS), so
  ``wet = output_gain * Chain.to_pedalboard()(dry)`` and the dry clip's level is otherwise preserved.
  The gain is recorded in ``labels.jsonl``.
"""

from __future__ import annotations

import numpy as np

from ddspfx.catalog import dsp_function, get_effect, render_kwargs
from ddspfx.chain import Chain
from ddspfx.errors import AudioError

PEAK_CEILING = 0.99
"""Largest absolute sample value of a rendered wet clip (linear, just under full scale)."""


def as_channels_first(x: np.ndarray) -> np.ndarray:
    """(T,) or (C, T) -> contiguous float32 (C, T), which pedalboard reads without guessing the layout."""
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise AudioError(f"audio must be (T,) or (C, T), got shape {x.shape}; pass one clip at a time")
    return np.ascontiguousarray(x, dtype=np.float32)


def fit_length(y: np.ndarray, num_samples: int) -> np.ndarray:
    """Zero-pad or trim (C, T') to (C, num_samples)."""
    if y.shape[-1] == num_samples:
        return y
    if y.shape[-1] > num_samples:
        return y[..., :num_samples]
    return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, num_samples - y.shape[-1])])


def run_reference(dry: np.ndarray, chain: Chain, sample_rate: float) -> np.ndarray:
    """The chain's reference render on float32 (C, T), fitted to the input length, no gain.

    A chain of pedalboard's pedals is plain ``chain.to_pedalboard()(dry)``. A pedal pedalboard lacks is
    rendered by ddspfx's own pure function (``catalog.dsp_function``) in its place in the chain: each run of
    pedalboard pedals between them is one fresh board, so the order holds whatever the mix.
    """
    x = as_channels_first(dry)
    n = x.shape[-1]
    run: list = []

    def flush(y: np.ndarray) -> np.ndarray:
        if not run:
            return y
        board = Chain(list(run)).to_pedalboard()
        run.clear()
        return fit_length(np.asarray(board(y, float(sample_rate), reset=True), dtype=np.float32), n)

    y = x
    for pedal in chain:
        effect = get_effect(pedal.effect)
        if effect.in_pedalboard:
            run.append(pedal)
            continue
        y = flush(y)
        out = dsp_function(effect)(np.ascontiguousarray(y), float(sample_rate), **render_kwargs(effect, pedal.params))
        y = fit_length(np.ascontiguousarray(out, dtype=np.float32), n)
    return flush(y)


def output_gain_for(y: np.ndarray, ceiling: float = PEAK_CEILING) -> float:
    """``min(1, ceiling / peak(y))``: turn down only what would clip; 1 for silence."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if not np.isfinite(peak):
        raise AudioError("the chain produced NaN/inf samples; check the dry clip for NaN/inf and the chain's parameters")
    return 1.0 if peak <= ceiling else ceiling / peak


def limit_output(y: np.ndarray) -> tuple[np.ndarray, float]:
    """(``output_gain * y`` as float32, ``output_gain``): the output-gain rule applied to a rendered chain."""
    gain = output_gain_for(y)
    y = np.asarray(y, dtype=np.float32)
    return (y if gain == 1.0 else y * np.float32(gain)), float(gain)


def render_chain(dry: np.ndarray, chain: Chain, sample_rate: float) -> tuple[np.ndarray, float]:
    """Render ``chain`` on ``dry`` (T,) or (C, T); returns (wet float32 of the same shape, output_gain).

    ``wet == output_gain * chain.to_pedalboard()(dry)`` (fitted to the input length), peak <= 0.99.
    """
    wet, gain = limit_output(run_reference(dry, chain, sample_rate))  # (C, T)
    return wet.reshape(np.shape(dry)), gain
