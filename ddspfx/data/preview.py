"""``python -m ddspfx.data preview``: a few rendered examples to listen to and a dry-vs-wet spectrogram PNG."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.layout import write_wav
from ddspfx.data.recipe import Recipe
from ddspfx.fileio import atomic_path
from ddspfx.plots import _matplotlib
from ddspfx.sampler import SamplerConfig


def _log_spec(x: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """(freq, frames) magnitude in dB, Hann frames with 75 % overlap."""
    hop = n_fft // 4
    x = np.pad(x, (0, max(0, n_fft - x.size)))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(1 + (x.size - n_fft) // hop)[:, None]
    mag = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=-1)).T
    return 20 * np.log10(mag + 1e-7)


def preview(out: str | Path = "preview", n: int = 4, source: str = "synth", seed: int = 0, seconds: float = 2.0,
            sample_rate: int = SAMPLE_RATE, sampler: SamplerConfig | None = None) -> Path:
    """Write ``n`` examples (dry_i.wav, wet_i.wav) and spectrograms.png into ``out``; returns the PNG path."""
    plt = _matplotlib()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = EffectsDataset(source, n=n, seed=seed, duration_s=seconds, sample_rate=sample_rate,
                        recipe=Recipe(sampler=sampler or SamplerConfig(min_effects=1)))
    fig, axes = plt.subplots(n, 2, figsize=(12, 2.6 * n), squeeze=False)
    for i in range(n):
        ex = ds.example(i)
        write_wav(out / f"dry_{i}.wav", ex.dry, sample_rate)
        write_wav(out / f"wet_{i}.wav", ex.wet, sample_rate)
        for ax, x, name in ((axes[i, 0], ex.dry, "dry"), (axes[i, 1], ex.wet, "wet")):
            s = _log_spec(x)
            ax.imshow(s, origin="lower", aspect="auto", vmin=s.max() - 80, vmax=s.max(), cmap="magma",
                      extent=(0, x.size / sample_rate, 0, sample_rate / 2000))
            ax.set_ylabel("kHz")
            ax.set_title(f"{i} dry" if name == "dry" else textwrap.fill(f"{i} wet: {ex.chain}", 95), fontsize=7, loc="left")
        axes[i, 0].set_ylim(0, 10)
        axes[i, 1].set_ylim(0, 10)
    axes[-1, 0].set_xlabel("s")
    axes[-1, 1].set_xlabel("s")
    fig.tight_layout()
    png = out / "spectrograms.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return png
