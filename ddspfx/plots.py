"""Pictures for people: spectrograms, a pedal chain drawn as a row of pedals, quality against time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyBboxPatch
from scipy.signal import stft

from ddspfx.catalog import get_effect
from ddspfx.chain import Chain
from ddspfx.fileio import atomic_path
from ddspfx.render import render_chain

_FAMILY_COLOURS = {"dynamics": "#4C72B0", "drive": "#C44E52", "eq": "#8172B2", "modulation": "#55A868",
                   "delay": "#CCB974", "reverb": "#64B5CD", "pitch": "#DD8452", "filter": "#937860"}


def _matplotlib():
    """pyplot on the file-only Agg backend (no window, no display needed), chosen when a picture is drawn."""
    matplotlib.use("Agg")
    return plt


def log_spectrogram(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    """dB magnitude (F, frames) with a Hann window."""
    _, _, z = stft(np.asarray(x, np.float64), nperseg=n_fft, noverlap=n_fft - hop, window="hann")
    return 20 * np.log10(np.abs(z) + 1e-6)


def draw_chain(ax, chain: Chain) -> None:
    """The chain as pedals left to right (signal order), knob values written on each."""
    ax.set_axis_off()
    n = max(len(chain), 1)
    ax.set_xlim(0, n)
    ax.set_ylim(0, 1)
    if not chain.pedals:
        ax.text(0.5, 0.5, "dry (no effects)", ha="center", va="center", fontsize=12)
        return
    for i, pedal in enumerate(chain):
        eff = get_effect(pedal.effect)
        colour = _FAMILY_COLOURS.get(eff.family, "#999999")
        ax.add_patch(FancyBboxPatch((i + 0.08, 0.05), 0.84, 0.9, boxstyle="round,pad=0.02", fc=colour, ec="black", alpha=0.85))
        ax.text(i + 0.5, 0.85, pedal.effect.upper(), ha="center", va="center", fontsize=10, weight="bold", color="white")
        knobs = pedal.describe().split("(", 1)[1].rstrip(")").split(", ")
        ax.text(i + 0.5, 0.45, "\n".join(knobs), ha="center", va="center", fontsize=7.5, color="white")
        if i < len(chain) - 1:
            ax.annotate("", xy=(i + 1.08, 0.5), xytext=(i + 0.92, 0.5), arrowprops={"arrowstyle": "->", "lw": 1.5})


def plot_spectrograms(path: str, clips: Sequence[tuple[str, np.ndarray]], sample_rate: int, chain: Chain | None = None,
                      title: str = "") -> None:
    """One spectrogram row per (label, clip), plus the chain as pedals; written atomically."""
    plt = _matplotlib()
    rows = len(clips) + (1 if chain is not None else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.6 * rows), squeeze=False)
    for ax, (label, x) in zip(axes[:, 0], clips):
        spec = log_spectrogram(x)
        dur = len(x) / sample_rate
        im = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=spec.max() - 90, vmax=spec.max(),
                       extent=(0, dur, 0, sample_rate / 2000))
        ax.set_ylabel("kHz")
        ax.set_title(label, fontsize=10, loc="left")
        fig.colorbar(im, ax=ax, label="dB")
    axes[len(clips) - 1, 0].set_xlabel("time (s)")
    if chain is not None:
        draw_chain(axes[-1, 0], chain)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_analysis(path: str, wet: np.ndarray, chain: Chain, sample_rate: int, dry: np.ndarray | None = None,
                  title: str = "") -> None:
    """Input vs re-rendered (when the dry is known) spectrograms, and the estimated chain."""
    clips = [("input (wet)", wet)]
    if dry is not None:
        n = min(len(dry), len(wet))
        rendered, _ = render_chain(dry[:n], chain, sample_rate)
        clips.append(("re-rendered: dry through the estimated chain (pedalboard)", rendered))
    plot_spectrograms(path, clips, sample_rate, chain=chain, title=title)


def plot_quality_vs_time(path: str, curves: Mapping[str, Sequence[tuple[str, float, float, float]]],
                         references: Mapping[str, tuple[float, float]] | None = None) -> None:
    """Quality against time spent: median re-render SI-SDR (dB) and presence µF1 over seconds per clip (log x).

    ``curves``: name -> points (label, seconds, SI-SDR, µF1), one line each (refinement at growing budgets, each
    point labelled with its budget); ``references``: name -> (SI-SDR, µF1) drawn as dashed levels (the dry
    itself, the blind estimate), so a curve shows what each second of search buys over answers that cost none.
    Non-finite values are left out.
    """
    plt = _matplotlib()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, (ax, label) in enumerate(zip(axes, ("median re-render SI-SDR (dB)", "presence µF1"))):
        for name, points in curves.items():
            pts = sorted((p[1], p[2 + k], p[0]) for p in points if np.isfinite(p[1]) and p[1] > 0 and np.isfinite(p[2 + k]))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
                for x, y, text in pts:
                    ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        for i, (name, values) in enumerate((references or {}).items()):
            if np.isfinite(values[k]):
                ax.axhline(values[k], ls="--", lw=1, color=f"C{(len(curves) + i) % 10}", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per clip (wall, one thread)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
