"""A held-out dry guitar for out-of-distribution checks: the subtractive-synth "pluck" patch.

Why: ddspfx trains on its Karplus-Strong guitar and (in ``mix`` runs) its modal guitar, so a check on
a guitar built a third way says whether training on several guitars generalises to one it never
heard. This one is how keyboard synths imitate a plucked string, and shares no DSP with the other two:

- **oscillator**: a PolyBLEP band-limited sawtooth, or a pulse (width 0.2-0.5), at the note's pitch;
- **filter**: a 2-pole state-variable low-pass (TPT form, resonance Q 0.7-3) whose cut-off falls
  exponentially from 3-10 kHz to 0.3-1.2 kHz in 0.05-0.5 s: the "pluck" that darkens as it rings;
- **amplitude**: a 1-4 ms linear attack and an exponential decay (T60 0.8-4 s), 15 ms release at note-off;
- **output**: a first-order 70 Hz high-pass (a DI box), no body resonances;
- **playing**: a line of 2-7 notes, or 1-3 chords of 3-5 notes strummed 5-25 ms apart.

All randomness comes from ``rng``; mono float64 ``(T,)``, unnormalised.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from scipy import signal


def polyblep_saw(f0: float, n: int, sample_rate: float, pulse_width: float | None = None) -> np.ndarray:
    """Band-limited sawtooth (or pulse of ``pulse_width``) in [-1, 1] via the PolyBLEP residual."""
    dt = f0 / sample_rate
    phase = (np.arange(n) * dt) % 1.0

    def blep(p: np.ndarray) -> np.ndarray:
        out = np.zeros_like(p)
        a = p < dt
        out[a] = (lambda t: 2 * t - t * t - 1)(p[a] / dt)
        b = p > 1 - dt
        out[b] = (lambda t: t * t + 2 * t + 1)((p[b] - 1) / dt)
        return out

    saw = 2 * phase - 1 - blep(phase)
    if pulse_width is None:
        return saw
    shifted = (phase + 1 - pulse_width) % 1.0
    return saw - (2 * shifted - 1 - blep(shifted))  # two saws' difference: -2(1-w) for w of the period, then 2w


@njit(cache=True)
def _svf_lowpass(x: np.ndarray, g: np.ndarray, k: float) -> np.ndarray:
    """TPT state-variable filter (Zavalishin), low-pass output; ``g = tan(pi fc / fs)`` per sample, k = 1/Q."""
    s1 = 0.0
    s2 = 0.0
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        gi = g[i]
        hp = (x[i] - (k + gi) * s1 - s2) / (1.0 + k * gi + gi * gi)
        bp = gi * hp + s1
        s1 = gi * hp + bp
        lp = gi * bp + s2
        s2 = gi * bp + lp
        y[i] = lp
    return y


def pluck(f0: float, n: int, sample_rate: float, rng: np.random.Generator, release: int | None = None) -> np.ndarray:
    """One synth-pluck note of ``n`` samples (see the module docstring)."""
    t = np.arange(n) / sample_rate
    osc = polyblep_saw(f0, n, sample_rate, None if rng.random() < 0.6 else float(rng.uniform(0.2, 0.5)))
    hi, lo = rng.uniform(3000, 10000), rng.uniform(300, 1200)
    fc = lo + (hi - lo) * np.exp(-t / rng.uniform(0.05, 0.5))
    y = _svf_lowpass(osc, np.tan(np.pi * np.minimum(fc, 0.45 * sample_rate) / sample_rate), 1.0 / rng.uniform(0.7, 3.0))
    attack = max(1, int(rng.uniform(0.001, 0.004) * sample_rate))
    env = 10.0 ** (-3.0 * t / rng.uniform(0.8, 4.0))
    env[:attack] *= np.linspace(0.0, 1.0, attack)
    if release is not None and release < n:
        fade = min(n - release, int(0.015 * sample_rate))
        env[release:release + fade] *= np.linspace(1.0, 0.0, fade)
        env[release + fade:] = 0.0
    return y * env


def subtractive_phrase(rng: np.random.Generator, seconds: float, sample_rate: float) -> np.ndarray:
    """A line or strummed chords from the synth pluck, through a 70 Hz DI high-pass; (T,) float64."""
    n = int(round(seconds * sample_rate))
    x = np.zeros(n)
    hz = lambda m: 440.0 * 2.0 ** ((m - 69) / 12)  # noqa: E731
    if rng.random() < 0.5:
        count = int(rng.integers(2, 8))
        starts = (np.sort(rng.uniform(0, 0.85, count)) * n).astype(int)
        for j, s in enumerate(starts):
            end = starts[j + 1] if j + 1 < count else n
            m = int(rng.integers(40, 76))
            x[s:] += pluck(hz(m), n - s, sample_rate, rng, int((end - s) * rng.uniform(0.5, 1.0))) * rng.uniform(0.6, 1)
    else:
        chords = int(rng.integers(1, 4))
        for c in range(chords):
            start = int(c * n / chords)
            root = int(rng.integers(40, 55))
            notes = [root + iv for iv in (0, 7, 12, 16, 19)[: int(rng.integers(3, 6))]]
            gap = rng.uniform(0.005, 0.025) * sample_rate
            for i, m in enumerate(notes):
                s = min(n - 1, start + int(i * gap))
                x[s:] += pluck(hz(m), n - s, sample_rate, rng) * rng.uniform(0.5, 1.0)
    b, a = signal.butter(1, 70.0, "highpass", fs=sample_rate)
    return signal.lfilter(b, a, x)

