"""A second embedded dry guitar (``make_source("modal")``), built independently of the Karplus-Strong synth.

Why: a model trained on one synthesiser learns that synth's string, body and pickup as "dry". Tested on
this guitar, the model trained on ``synth`` alone reported a phaser on 57 % and an eq on 41 % of the
*dry* clips, and its presence micro-F1 fell from 0.91 to 0.75 (``experiments/ood_check.py``). Training
on a mixture of guitars (``mix:synth=0.7,modal=0.3``) is the remedy the design allows without recorded
data; a third, held-out guitar (``experiments/subtractive_guitar.py``) measures whether it generalises.
It shares none of the Karplus-Strong synth's DSP:

- **string**: additive (modal) synthesis of a *stiff* string. Partial k sits at
  ``f_k = k f0 sqrt(1 + B k^2)`` (inharmonicity ``B``, Fletcher 1964; the KS loop is harmonic), with
  amplitude ``|sin(pi k beta)| / k^r`` (pluck position ``beta``, r 0-0.8, up to 40 partials) and its own decay time
  ``tau_k = tau_0 / (1 + c (f_k / 1 kHz)^2)`` (tau_0 0.6-3 s, c 0.05-1) (high partials die faster), random phases;
- **attack**: a 2-5 ms high-passed noise burst (the pick), absent from the KS excitation's shape;
- **vibrato**: a slow sinusoidal pitch wobble of 0-15 cents on sustained notes;
- **body**: an impulse response of 3-6 decaying sinusoidal modes (90-700 Hz, each peaking 0.5-3x the direct
  path at its frequency) added to a direct path, then a
  2nd-order Butterworth low-pass at 3-7 kHz (pickup and cable) and a 60 Hz high-pass;
- **playing**: monophonic lines (legato or detached) and strummed chords (strings 8-30 ms apart, down or up).

All randomness comes from the ``rng`` passed in, so a seed reproduces a clip.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy import signal

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.sources.base import shifted_phrase
from ddspfx.sources.synth import midi_to_hz

CHORD_SHAPES = ((0, 7, 12, 16, 19, 24), (0, 7, 12, 15, 19, 24), (0, 4, 7, 12, 16), (0, 7, 10, 16, 19), (0, 7, 12))


def partial_frequencies(f0: float, b: float, k_max: int) -> np.ndarray:
    """Stiff-string partials ``k f0 sqrt(1 + B k^2)``, k = 1..k_max (Hz)."""
    k = np.arange(1, k_max + 1, dtype=np.float64)
    return k * f0 * np.sqrt(1.0 + b * k**2)


@njit(cache=True)
def _damped_partials(n: int, w: np.ndarray, r: np.ndarray, amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``sum_k amp_k r_k^i sin(w_k i + phase_k)`` for i < n, by complex rotation (stops below -100 dB)."""
    out = np.zeros(n)
    for k in range(w.shape[0]):
        z = amp[k] * complex(math.cos(phase[k]), math.sin(phase[k]))
        rot = r[k] * complex(math.cos(w[k]), math.sin(w[k]))
        floor = 1e-5 * amp[k]
        for i in range(n):
            out[i] += z.imag
            z *= rot
            if (i & 255) == 0 and abs(z) < floor:
                break
    return out


def modal_note(f0: float, n: int, sample_rate: float, rng: np.random.Generator, release: int | None = None) -> np.ndarray:
    """One plucked note of ``n`` samples; ``release``: sample where a finger damps it (20 ms fade).

    Vibrato is a time warp of the whole note (``y(t + wobble(t))``), which moves every partial's phase by
    ``2 pi f_k wobble(t)`` as a pitch wobble does.
    """
    b = float(rng.uniform(1e-5, 4e-4))
    k_max = max(1, min(40, int(0.45 * sample_rate / (f0 * math.sqrt(1.0 + b * 40**2)))))
    fk = partial_frequencies(f0, b, k_max)
    fk = fk[fk < 0.45 * sample_rate]
    k = np.arange(1, fk.size + 1)
    amp = np.abs(np.sin(math.pi * k * rng.uniform(0.08, 0.3))) / k ** rng.uniform(0.0, 0.8)
    tau = rng.uniform(0.6, 3.0) / (1.0 + rng.uniform(0.05, 1.0) * (fk / 1000.0) ** 2)
    cents = rng.uniform(0.0, 15.0) * (rng.random() < 0.5)
    rate = rng.uniform(4.0, 6.5)
    phase0 = rng.uniform(0, 2 * math.pi, fk.size)
    stop = n if release is None else min(n, release + int(0.02 * sample_rate))  # silent after the release fade
    y = np.zeros(n)
    y[:stop] = _damped_partials(stop, 2 * math.pi * fk / sample_rate, np.exp(-1.0 / (tau * sample_rate)), amp, phase0)
    if cents > 0:
        t = np.arange(stop) / sample_rate
        wobble = (2.0 ** (cents / 1200.0) - 1.0) * (1.0 - np.cos(2 * math.pi * rate * t)) / (2 * math.pi * rate)
        y[:stop] = np.interp(t + wobble, t, y[:stop])
    burst = int(rng.uniform(0.002, 0.005) * sample_rate)
    noise = rng.standard_normal(burst) * np.hanning(2 * burst)[burst:]
    y[:burst] += 0.3 * np.max(np.abs(y[: 4 * burst + 1])) * signal.lfilter([1, -1], [1, -0.5], noise)
    if release is not None and release < n:
        fade = min(n - release, int(0.02 * sample_rate))
        y[release:release + fade] *= np.linspace(1.0, 0.0, fade)
        y[release + fade:] = 0.0
    return y


def body_filter(x: np.ndarray, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Direct path + 3-6 decaying modal resonances, then pickup low-pass (3-7 kHz) and a 60 Hz high-pass."""
    t = np.arange(int(0.25 * sample_rate)) / sample_rate
    ir = np.zeros_like(t)
    ir[0] = 1.0
    for _ in range(int(rng.integers(3, 7))):
        f, decay = rng.uniform(90, 700), rng.uniform(0.01, 0.08)
        peak = rng.uniform(0.5, 3.0)  # the mode's gain at f relative to the direct path: +3.5 .. +12 dB together
        ir += peak / (0.5 * decay * sample_rate) * np.exp(-t / decay) * np.sin(2 * math.pi * f * t)
    y = signal.fftconvolve(x, ir)[: x.size]
    y = signal.sosfilt(signal.butter(2, rng.uniform(3000, 7000), fs=sample_rate, output="sos"), y)
    return signal.sosfilt(signal.butter(2, 60.0, "highpass", fs=sample_rate, output="sos"), y)


def modal_phrase(rng: np.random.Generator, seconds: float, sample_rate: float) -> np.ndarray:
    """A monophonic line or strummed chords, through one random body; (T,) float64, unnormalised."""
    n = int(round(seconds * sample_rate))
    x = np.zeros(n)
    if rng.random() < 0.5:  # a line: 2-8 notes on a pentatonic-ish scale
        count = int(rng.integers(2, 9))
        root = int(rng.integers(40, 64))
        starts = np.sort(rng.uniform(0.0, 0.85, count)) * n
        legato = rng.random() < 0.5
        for j, s in enumerate(starts.astype(int)):
            m = root + int(rng.choice([0, 2, 3, 5, 7, 9, 10, 12, 14, 15]))
            end = int(starts[j + 1]) if j + 1 < count else n
            release = end - s if legato else int((end - s) * rng.uniform(0.4, 0.9))
            x[s:] += modal_note(float(midi_to_hz(m)), n - s, sample_rate, rng, release) * rng.uniform(0.6, 1.0)
    else:  # 1-3 strummed chords
        for c in range(int(rng.integers(1, 4))):
            start = int(c * n / 3 + rng.uniform(0, 0.05) * n)
            shape = CHORD_SHAPES[int(rng.integers(len(CHORD_SHAPES)))]
            root = int(rng.integers(40, 48))
            gap = rng.uniform(0.008, 0.030) * sample_rate
            order = range(len(shape)) if rng.random() < 0.7 else reversed(range(len(shape)))
            for i, j in enumerate(order):
                s = min(n - 1, start + int(i * gap))
                x[s:] += modal_note(float(midi_to_hz(root + shape[j])), n - s, sample_rate, rng) * rng.uniform(0.5, 1.0)
    return body_filter(x, sample_rate, rng)


class ModalSource:
    """``make_source("modal")``: endless random phrases from the modal guitar."""

    name = "modal"

    def __init__(self, sample_rate: int = SAMPLE_RATE, max_shift_s: float = 0.25) -> None:
        self.sample_rate = int(sample_rate)
        self.max_shift_s = max_shift_s

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A line or strummed chords, onset-shifted, normalised to ``TARGET_DBFS`` RMS (peak <= 0.99)."""
        return shifted_phrase(rng, duration_s, self.sample_rate, self.max_shift_s,
                              lambda r, seconds: modal_phrase(r, seconds, self.sample_rate))
