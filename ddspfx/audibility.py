"""A measured audibility criterion: does this pedal, at these settings, change this guitar clip?

Score (dB): render the effect alone on the dry clip, loudness-match dry and wet (equal RMS, so a pure
level change -- a compressor without make-up gain, a PeakFilter's overall gain -- is not counted),
and compare log band energies over a multi-resolution STFT (512- and 2048-sample frames, 48
log-spaced bands from 60 Hz to 16 kHz, energies floored 60 dB below the dry's loudest band so
silence and numerical noise do not dominate): per band the mean absolute dB difference over frames,
then the mean over the most-changed quarter of bands (so a narrow EQ peak counts as much as a
broadband change), averaged over the two resolutions. 0 dB means identical; about
1 dB is where a guitarist starts to hear a difference on an A/B.

Each effect has its own threshold (``THRESHOLDS_DB``), set from ``python -m ddspfx.audibility``:
the score distribution over the full catalog range vs the audible sub-range the sampler draws from.
"""

from __future__ import annotations

import argparse
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, check_effect_names, denormalise, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_path
from ddspfx.knobs import sample_params
from ddspfx.render import run_reference
from ddspfx.sources import make_source

THRESHOLDS_DB: dict[str, float] = {
    # about 1.5x the median score of a setting the design brief calls inaudible (in brackets, on
    # loudness-normalised synth guitar), so a labelled pedal must clearly beat "barely there"
    "compressor": 1.25,  # ratio 1.2:1, threshold -30 dB: 0.83
    "distortion": 1.0,  # drive 6 dB: 0.72 (drive 10 dB: 1.5)
    "eq": 0.7,  # +-1 dB peak, Q 0.7: 0.45
    "chorus": 1.5,  # depth 0.05, mix 0.2: 1.44 (a static comb is already audible)
    "phaser": 1.0,  # mix 0.1: 0.63
    "delay": 2.5,  # mix 0.05, feedback 0.2: 1.94 (echoes land in the gaps, so scores run high)
    "reverb": 0.8,  # wet 0.05: 0.55
    # the pedals added later, same rule (12 synth clips, /tmp-free: ``python -m ddspfx.audibility --effects ...``):
    "tremolo": 0.3,  # depth 0.1 (+-0.45 dB), 4 Hz sine: ~0.18 (depth 0.05: 0.09)
    "flanger": 0.7,  # depth 0.02, mix 0.1, no feedback: 0.47
    "fuzz": 1.5,  # gain 6 dB (below the knob's range), tone open: 0.97
    "octave": 4.0,  # down and up at 0.05 beside the dry: 2.69 (new partials below the note fill empty bands)
    "wah": 0.35,  # mix 0.1, one octave, Q 1: 0.21
    "noise_gate": 0.5,  # threshold -60 dB on a clean clip: 0.00 (a gate is heard only where it closes)
}
"""Per-effect minimum score (dB) for a labelled pedal to count as audible."""

FFT_SIZES: tuple[int, ...] = (512, 2048)
N_BANDS = 48
F_MIN, F_MAX = 60.0, 16_000.0
FLOOR_DB = 60.0
TOP_FRACTION = 0.25  # score = mean of the most-changed quarter of bands, so a narrow EQ peak is not diluted


@functools.lru_cache(maxsize=16)
def _band_edges(n_fft: int, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) FFT-bin index arrays (N_BANDS,) of log-spaced bands; each band holds >= 1 bin."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = np.geomspace(F_MIN, min(F_MAX, sample_rate / 2), N_BANDS + 1)
    lo = np.searchsorted(freqs, edges[:-1])
    hi = np.searchsorted(freqs, edges[1:])
    empty = hi <= lo  # low bands narrower than a bin: take the bin nearest the band's centre
    centre = np.sqrt(edges[:-1] * edges[1:])
    nearest = np.abs(freqs[None, :] - centre[:, None]).argmin(axis=1)
    lo = np.where(empty, nearest, lo)
    hi = np.where(empty, nearest + 1, hi)
    return lo, hi


def band_energies_db(x: np.ndarray, sample_rate: float, n_fft: int) -> np.ndarray:
    """(frames, N_BANDS) log band energies (dB) of mono x (T,), Hann frames with 75 % overlap."""
    import scipy.fft  # ~0.4 s: not at import, the sampler (so every command line) imports this module

    hop = n_fft // 4
    if x.size < n_fft:
        x = np.pad(x, (0, n_fft - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float32, copy=False), n_fft)[::hop]  # (frames, n_fft)
    spec = scipy.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=-1)  # (frames, bins)
    power = (spec.real**2 + spec.imag**2).astype(np.float64)
    cum = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1)], axis=1)
    lo, hi = _band_edges(n_fft, float(sample_rate))
    return 10.0 * np.log10(cum[:, hi] - cum[:, lo] + 1e-20)  # (frames, N_BANDS); no BLAS, no threads


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=0)


def _rms_match(x: np.ndarray) -> np.ndarray:
    rms = math.sqrt(float(np.mean(x**2)))
    return x / rms if rms > 0 else x


def change_score(dry: np.ndarray, wet: np.ndarray, sample_rate: float) -> float:
    """Loudness-matched multi-resolution log-band distance (dB) between dry and wet, (T,) or (C, T)."""
    d, w = _rms_match(_mono(dry)), _rms_match(_mono(wet))
    scores = []
    for n_fft in FFT_SIZES:
        ed, ew = band_energies_db(d, sample_rate, n_fft), band_energies_db(w, sample_rate, n_fft)
        floor = ed.max() - FLOOR_DB
        per_band = np.mean(np.abs(np.maximum(ed, floor) - np.maximum(ew, floor)), axis=0)  # (N_BANDS,)
        top = np.sort(per_band)[-max(1, int(TOP_FRACTION * per_band.size)):]
        scores.append(float(np.mean(top)))
    return float(np.mean(scores))


def effect_score(effect: str, params: Mapping[str, float], dry: np.ndarray, sample_rate: float) -> float:
    """:func:`change_score` of ``effect`` alone (rendered with pedalboard, no output gain) on ``dry``."""
    wet = run_reference(dry, Chain([Pedal(effect, dict(params))]), sample_rate)
    return change_score(dry, wet, sample_rate)


def is_audible(effect: str, params: Mapping[str, float], dry: np.ndarray, sample_rate: float) -> tuple[bool, float]:
    """(passes the effect's threshold, score in dB) for ``effect`` at ``params`` on this dry clip."""
    score = effect_score(effect, params, dry, sample_rate)
    return score >= THRESHOLDS_DB[get_effect(effect).name], score


# --- the report: python -m ddspfx.audibility ------------------------------------------------


@dataclass
class ScoreTable:
    """Scores per effect for the full catalog range ("full") and the audible sub-range ("audible")."""

    full: dict[str, np.ndarray]
    audible: dict[str, np.ndarray]


def _draw(rng: np.random.Generator, effect: str, audible: bool) -> dict[str, float]:
    """Settings from the sampler's audible draw, or uniform over the full catalog range."""
    if audible:
        return sample_params(rng, effect)
    return {p.name: float(denormalise(rng.uniform(0.0, 1.0), p)) for p in get_effect(effect).params}


def synth_dry(rng: np.random.Generator, duration_s: float, sample_rate: int) -> np.ndarray:
    """A dry synthetic guitar phrase from ``ddspfx.sources`` (the embedded default source)."""
    return make_source("synth", sample_rate=sample_rate).sample(rng, duration_s)


def measure(n: int, seed: int = 0, duration_s: float = 2.0, sample_rate: int = SAMPLE_RATE,
            effects: Sequence[str] = EFFECT_NAMES, n_clips: int = 16) -> ScoreTable:
    """Score ``n`` random settings per effect and range on ``n_clips`` synth guitar clips (reused)."""
    rng = np.random.default_rng(seed)
    clips = [synth_dry(rng, duration_s, sample_rate) for _ in range(n_clips)]
    full: dict[str, np.ndarray] = {}
    aud: dict[str, np.ndarray] = {}
    for effect in effects:
        for audible, table in ((False, full), (True, aud)):
            table[effect] = np.array(
                [effect_score(effect, _draw(rng, effect, audible), clips[i % n_clips], sample_rate) for i in range(n)]
            )
    return ScoreTable(full, aud)


def format_table(table: ScoreTable) -> str:
    head = f"{'effect':<11} {'thr dB':>6} | {'full: p5':>8} {'median':>7} {'pass':>6} | {'audible: p5':>11} {'median':>7} {'pass':>6}"
    lines = [head, "-" * len(head)]
    for effect in table.full:
        thr = THRESHOLDS_DB[effect]
        f, a = table.full[effect], table.audible[effect]
        lines.append(
            f"{effect:<11} {thr:>6.2f} | {np.percentile(f, 5):>8.2f} {np.median(f):>7.2f} {np.mean(f >= thr):>6.1%} |"
            f" {np.percentile(a, 5):>11.2f} {np.median(a):>7.2f} {np.mean(a >= thr):>6.1%}"
        )
    return "\n".join(lines)


def plot_histograms(table: ScoreTable, path: Path) -> None:
    """One panel per effect: score histograms for the full range and the audible sub-range, threshold line."""
    from ddspfx.plots import _matplotlib  # matplotlib and scipy.signal: not at import, the sampler imports this module

    plt = _matplotlib()
    effects = list(table.full)
    cols = 4
    rows = math.ceil(len(effects) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, effect in zip(axes.flat, effects):
        hi = max(table.full[effect].max(), table.audible[effect].max())
        bins = np.linspace(0, hi * 1.02 + 1e-6, 30)
        ax.hist(table.full[effect], bins=bins, alpha=0.5, label="full range")
        ax.hist(table.audible[effect], bins=bins, alpha=0.5, label="audible sub-range")
        ax.axvline(THRESHOLDS_DB[effect], color="k", ls="--", lw=1, label="threshold")
        ax.set_title(effect)
        ax.set_xlabel("score (dB)")
    for ax in list(axes.flat)[len(effects):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ddspfx.audibility",
                                     description="Distribution of audibility scores per effect, full range vs audible sub-range.")
    parser.add_argument("--n", type=int, default=500, help="settings per effect and range (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length (default 2)")
    parser.add_argument("--png", type=Path, default=Path("audibility.png"), help="histogram output (default audibility.png)")
    parser.add_argument("--effects", nargs="+", default=list(EFFECT_NAMES), metavar="EFFECT",
                        help="pedal types to measure (default: all)")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise DdspfxError("--n must be at least 1")
    if args.seconds < 0.25:
        raise DdspfxError("--seconds must be at least 0.25")
    table = measure(args.n, seed=args.seed, duration_s=args.seconds, effects=check_effect_names(args.effects))
    print(format_table(table))
    plot_histograms(table, args.png)
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
