"""Listen to and look at the embedded synthetic guitar.

Writes one wav per phrase kind (and a scale of single notes) plus a spectrogram PNG,
so a person can check that it sounds like a plucked guitar and not like a sine::

    python -m experiments.synth_preview --out runs/synth_preview --seed 0
    python -m experiments.synth_preview --bench 200      # time 2-s phrases per kind (one thread)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import stft  # noqa: E402

from ddspfx.audio import save_audio  # noqa: E402
from ddspfx.catalog import SAMPLE_RATE  # noqa: E402
from ddspfx.fileio import atomic_path  # noqa: E402
from ddspfx.sources.synth import KINDS, GuitarTone, Note, _strings_for, render_notes, render_phrase  # noqa: E402


def note_ladder(sample_rate: int) -> np.ndarray:
    """E2, E3, E4, E5, E6 single notes, 1.2 s apart, each held 1 s then damped."""
    notes = [Note(1.2 * i, m, _strings_for(m)[-1], 0.9, 1.0) for i, m in enumerate((40, 52, 64, 76, 88))]
    x = render_notes(notes, int(6.0 * sample_rate), sample_rate, GuitarTone(), np.random.default_rng(0))
    return x * np.float32(0.9 / np.abs(x).max())


def bench(n: int, seed: int) -> int:
    """Median and 90th-percentile render time of a 2-s phrase per kind, after one warm-up (numba compile)."""
    rng = np.random.default_rng(seed)
    render_phrase(rng, 2.0)
    for kind in (*KINDS, None):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            render_phrase(rng, 2.0, kind=kind)
            times.append(time.perf_counter() - t0)
        ms = 1000 * np.array(times)
        print(f"{kind or 'any':11s} 2-s phrase: median {np.median(ms):.2f} ms, p90 {np.percentile(ms, 90):.2f} ms")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/synth_preview"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--bench", type=int, default=0, help="time this many 2-s phrases per kind instead")
    args = ap.parse_args(argv)
    if args.bench:
        return bench(args.bench, args.seed)
    rng = np.random.default_rng(args.seed)
    sr = SAMPLE_RATE
    clips = {"notes_E2_to_E6": note_ladder(sr)}
    for kind in KINDS:
        t0 = time.perf_counter()
        clips[kind] = render_phrase(rng, args.seconds, sr, kind=kind)
        print(f"{kind:11s} {args.seconds:.1f} s rendered in {1000 * (time.perf_counter() - t0):.1f} ms")
    for name, x in clips.items():
        save_audio(args.out / f"{name}.wav", x, sr)

    fig, axes = plt.subplots(len(clips), 1, figsize=(10, 2.2 * len(clips)), constrained_layout=True)
    for ax, (name, x) in zip(axes, clips.items()):
        f, t, z = stft(x, sr, nperseg=2048, noverlap=2048 - 256)
        db = 20 * np.log10(np.abs(z) + 1e-7)
        ax.pcolormesh(t, f, db, vmin=db.max() - 80, vmax=db.max(), shading="auto", cmap="magma")
        ax.set_yscale("symlog", linthresh=200)
        ax.set_ylim(40, 12000)
        ax.set_ylabel("Hz")
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlabel("s")
    png = args.out / "spectrograms.png"
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=80)
    print(f"wrote {len(clips)} wavs and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
