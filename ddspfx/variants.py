"""Other DSP for the same effect types: domain randomisation of the training renders.

Why: a model trained only on pedalboard learns pedalboard's phaser, not phasers. On the
out-of-distribution check (``experiments/ood_check.py``, numpy re-implementations) its phaser F1 fell
from 0.88 to 0.26. Rendering a fraction of the training pedals with *other* designs of the same
effect type, under the same labels, teaches what a phaser, a compressor, ... have in common.

The variants here are deliberately different from the held-out renderers of ``ood_check.py`` (arctan
clipper, RMS soft-knee compressor, zero-phase Gaussian bell, tape delay, noise-IR reverb, triangle-LFO
chorus with positive feedback, 4-stage phaser with positive feedback), so that check stays out of
distribution. Each variant maps the catalog's knobs to its own DSP as its docstring says; the
design's random choices (stage count, clipper shape, ...) come from ``rng``.

All functions are pure: ``(x (T,) float32, sample_rate, params, rng) -> (T,) float32``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pedalboard
from numba import njit
from scipy.signal import lfilter

from ddspfx.catalog import get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.dsp.octave import alternative_rubberband
from ddspfx.render import limit_output, run_reference

Variant = Callable[[np.ndarray, float, dict[str, float], np.random.Generator], np.ndarray]


def _pedalboard(x: np.ndarray, effect: str, params: Mapping[str, float], sample_rate: float) -> np.ndarray:
    """One pedalboard plugin on mono float32 (T,), fresh state, output length = input length."""
    return run_reference(x, Chain([Pedal(effect, dict(params))]), sample_rate)[0]


def _clamped(effect: str, params: Mapping[str, float]) -> dict[str, float]:
    """Params clipped into the catalog's ranges (a variant may scale a knob past them)."""
    spec = get_effect(effect)
    return {p.name: float(np.clip(params[p.name], p.low, p.high)) for p in spec.params}


# --- distortion: other clipper shapes (pedalboard: tanh) ---------------------------------------------------


def clipper(x: np.ndarray, drive_db: float, shape: str, bias: float = 0.0) -> np.ndarray:
    """Waveshaper after the drive gain ``g = 10^(drive_db/20)``; shapes: ``hard``, ``cubic``, ``asym``.

    ``asym`` is ``tanh(g x + b) - tanh(b)``: the bias adds the even harmonics of a single-ended stage.
    """
    u = (10.0 ** (drive_db / 20.0)) * x.astype(np.float64)
    if shape == "hard":
        y = np.clip(u, -1.0, 1.0)
    elif shape == "cubic":
        c = np.clip(u, -1.0, 1.0)
        y = 1.5 * (c - c**3 / 3.0)
    elif shape == "asym":
        y = np.tanh(u + bias) - math.tanh(bias)
    else:
        raise ValueError(f"unknown clipper shape {shape!r}")
    return y.astype(np.float32)


def distortion_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    shape = str(rng.choice(["hard", "cubic", "asym"]))
    return clipper(x, params["drive_db"], shape, bias=float(rng.uniform(0.1, 0.5)))


# --- compressor: feedback topology with a soft knee (pedalboard: feed-forward peak, hard knee) -------------


@njit(cache=True)
def _feedback_compressor(x: np.ndarray, threshold_db: float, ratio: float, knee_db: float, k_att: float,
                         k_rel: float) -> np.ndarray:
    """Gain from the smoothed peak level of the *output* (the classic optical / VCA feedback design)."""
    y = np.empty_like(x)
    env = 0.0
    slope = 1.0 - ratio  # on the output's overshoot: o_out = o_in / ratio, as a feed-forward ratio
    for i in range(x.shape[0]):
        level_db = 20.0 * math.log10(max(env, 1e-9))
        over = level_db - threshold_db
        if over <= -knee_db / 2.0:
            red = 0.0
        elif over >= knee_db / 2.0:
            red = slope * over
        else:
            red = slope * (over + knee_db / 2.0) ** 2 / (2.0 * knee_db)
        y[i] = x[i] * 10.0 ** (red / 20.0)
        r = abs(y[i])
        k = k_att if r > env else k_rel
        env = (1.0 - k) * r + k * env
    return y


def feedback_compressor(x: np.ndarray, sample_rate: float, threshold_db: float, ratio: float, attack_ms: float,
                        release_ms: float, knee_db: float = 6.0) -> np.ndarray:
    """Feedback compressor: the detector hears the output; the static curve is a feed-forward ``ratio``'s.

    Ballistics as pedalboard's (one-pole, ``k = exp(-2 pi 1000 / (fs t_ms))``); a soft knee of ``knee_db``.
    """
    k_att = math.exp(-2.0 * math.pi * 1000.0 / (sample_rate * attack_ms))
    k_rel = math.exp(-2.0 * math.pi * 1000.0 / (sample_rate * release_ms))
    y = _feedback_compressor(x.astype(np.float64), float(threshold_db), max(float(ratio), 1.0), max(float(knee_db), 1e-3),
                             k_att, k_rel)
    return y.astype(np.float32)


def compressor_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    return feedback_compressor(x, sr, **params, knee_db=float(rng.uniform(0.0, 12.0)))


# --- eq: another maker's knob scaling of the same peaking biquad ------------------------------------------


def eq_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """RBJ peak with the Q knob scaled by 2^U(-0.75, 0.75) and the gain by U(0.8, 1.2): makers disagree on both."""
    p = dict(params)
    p["q"] = float(p["q"] * 2.0 ** rng.uniform(-0.75, 0.75))
    p["gain_db"] = float(p["gain_db"] * rng.uniform(0.8, 1.2))
    return _pedalboard(x, "eq", p, sr)


# --- chorus: two voices (pedalboard: one) --------------------------------------------------------------------


def chorus_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Two-voice chorus: pedalboard's voice at the knob settings plus one detuned in rate and delay.

    The knob ``mix`` blends the dry signal with the mean of the two wet voices (same mix law).
    """
    mix = params["mix"]
    wet1 = _pedalboard(x, "chorus", {**params, "mix": 1.0}, sr)
    second = _clamped("chorus", {**params, "rate_hz": params["rate_hz"] * rng.uniform(1.2, 1.8),
                                 "centre_delay_ms": params["centre_delay_ms"] * rng.uniform(0.6, 0.9)})
    wet2 = _pedalboard(x, "chorus", {**second, "mix": 1.0}, sr)
    return ((1.0 - mix) * x + mix * 0.5 * (wet1 + wet2)).astype(np.float32)


# --- phaser: other stage counts, sweep widths and LFO shapes (pedalboard: 6 stages, +-1.5 decades) ---------


@njit(cache=True)
def _tpt_allpass_cascade(x: np.ndarray, g: np.ndarray, stages: int, feedback: float) -> np.ndarray:
    """``stages`` first-order TPT allpasses sharing the per-sample ``g = tan(pi f / fs)``; inverted feedback."""
    n = x.shape[0]
    s = np.zeros(stages)
    out = np.zeros(n)
    last = 0.0
    for i in range(n):
        G = g[i] / (1.0 + g[i])
        u = x[i] - feedback * last
        for k in range(stages):
            v = G * (u - s[k])
            lp = v + s[k]
            s[k] = lp + v
            u = 2.0 * lp - u
        out[i] = u
        last = u
    return out


def allpass_phaser(x: np.ndarray, sample_rate: float, rate_hz: float, depth: float, centre_frequency_hz: float,
                   feedback: float, mix: float, stages: int = 8, octaves: float = 3.0,
                   lfo: str = "sine") -> np.ndarray:
    """``stages`` allpasses swept ``+- depth * octaves`` octaves around the centre by a sine or triangle LFO."""
    t = np.arange(x.shape[-1]) / sample_rate
    phase = (rate_hz * t) % 1.0
    wave = np.sin(2 * math.pi * phase) if lfo == "sine" else 1.0 - 4.0 * np.abs(phase - 0.5)
    fc = np.clip(centre_frequency_hz * 2.0 ** (depth * octaves * wave), 20.0, 0.45 * sample_rate)
    wet = _tpt_allpass_cascade(x.astype(np.float64), np.tan(np.pi * fc / sample_rate), int(stages), float(feedback))
    return ((1.0 - mix) * x + mix * wet).astype(np.float32)


def phaser_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    return allpass_phaser(x, sr, **params, stages=int(rng.choice([2, 6, 8, 12])), octaves=float(rng.uniform(1.5, 6.0)),
                          lfo=str(rng.choice(["sine", "triangle"])))


# --- delay: equal-power mix law (pedalboard: linear cross-fade) ------------------------------------------


def delay_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Pedalboard's repeats, blended with the equal-power law ``cos(pi m / 2) x + sin(pi m / 2) e``."""
    echoes = _pedalboard(x, "delay", {**params, "mix": 1.0}, sr)
    m = 0.5 * math.pi * params["mix"]
    return (math.cos(m) * x + math.sin(m) * echoes).astype(np.float32)


# --- reverb: a pre-delay before the tank (pedalboard: none) ----------------------------------------------


def reverb_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Freeverb's wet path delayed by a 5-60 ms pre-delay; the dry path as pedalboard's (gain 2 * dry_level)."""
    wet = _pedalboard(x, "reverb", {**params, "dry_level": 0.0}, sr)
    d = int(rng.uniform(0.005, 0.060) * sr)
    wet = np.concatenate([np.zeros(d, np.float32), wet])[: x.shape[-1]]
    return (2.0 * params["dry_level"] * x + wet).astype(np.float32)


# --- the later pedal types: tremolo (an opto-style lag on a triangle LFO), fuzz (other clippers, pedalboard's
# own filters), octave (Rubber Band instead of a delay-line shifter). Flanger, wah and noise gate have none yet:
# render_randomised keeps their reference render. ---------------------------------------------------------


def tremolo_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """A triangle LFO (squared off by ``shape``) whose gain passes a one-pole lag of 2-15 ms, as an optical
    cell's slow response rounds a tremolo's edges; the LFO starts at a random phase."""
    n = np.arange(x.shape[-1])
    phase = 2 * np.pi * params["rate_hz"] * n / sr + rng.uniform(0, 2 * np.pi)
    tri = (2 / np.pi) * np.arcsin(np.sin(phase))  # triangle in [-1, 1]
    k = 1.0 + 8.0 * params["shape"]
    m = np.clip(k * tri, -1.0, 1.0)  # squared off as shape grows
    g = 1.0 - params["depth"] * (1.0 - m) / 2.0
    a = math.exp(-1.0 / (sr * rng.uniform(0.002, 0.015)))
    g = lfilter([1 - a], [1, -a], g, zi=[a * g[0]])[0]
    return (x * g).astype(np.float32)


def fuzz_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Another clipper (hard, cubic or biased tanh, random bias) at the knob's gain, then pedalboard's first-order
    high-pass at 20-60 Hz and low-pass at the tone knob."""
    shape = str(rng.choice(["hard", "cubic", "asym"]))
    y = clipper(x, params["gain_db"], shape, bias=float(rng.uniform(0.2, 0.8)))
    board = pedalboard.Pedalboard([pedalboard.HighpassFilter(float(rng.uniform(20.0, 60.0))),
                                   pedalboard.LowpassFilter(params["tone_hz"])])
    return np.asarray(board(y[None], float(sr), reset=True), dtype=np.float32)[0]


def octave_variant(x: np.ndarray, sr: float, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Rubber Band's pitch shifter (pedalboard ``PitchShift``) for the octaves instead of the delay-line shifter."""
    return alternative_rubberband(x[None], sr, params["dry_level"], params["down_level"], params["up_level"])[0]


VARIANTS: dict[str, Variant] = {
    "compressor": compressor_variant,
    "distortion": distortion_variant,
    "eq": eq_variant,
    "chorus": chorus_variant,
    "phaser": phaser_variant,
    "delay": delay_variant,
    "reverb": reverb_variant,
    "tremolo": tremolo_variant,
    "fuzz": fuzz_variant,
    "octave": octave_variant,
}
"""One randomised alternative design per effect type, in one table (a type without one keeps its reference)."""


def render_randomised(dry: np.ndarray, chain: Chain, sample_rate: float, p: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Render ``chain`` pedal by pedal, each by its variant with probability ``p`` else by its reference renderer
    (always the reference for a type with no variant; the draw is made either way, so streams stay aligned).

    Same output-gain rule as :func:`ddspfx.render.render_chain` (peak <= 0.99); mono (T,) in and out.
    """
    y = np.asarray(dry, dtype=np.float32).reshape(-1)
    for pedal in chain:
        params = dict(pedal.params)
        if rng.random() < p and pedal.effect in VARIANTS:
            y = VARIANTS[pedal.effect](y, float(sample_rate), params, rng)
        else:
            y = _pedalboard(y, pedal.effect, params, sample_rate)
    return limit_output(y)
