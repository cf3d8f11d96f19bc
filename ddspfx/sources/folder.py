"""Dry guitar from any folder of audio files (wav, flac, ogg, aiff, ...), searched recursively.

Files are indexed once from their headers (cheap); files soundfile cannot open are
skipped with one warning that counts them. Each ``sample`` picks a file at random,
decodes, resamples and downmixes it (``ddspfx.audio.load_audio``), takes a crop that
often starts on a note attack (``onset_crop``) and normalises its loudness. Decoded
files are kept in a small cache so that short datasets are not decoded again and again.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from ddspfx.audio import (
    AUDIO_EXTENSIONS,
    SILENCE_DBFS,
    audio_info,
    find_audio_files,
    load_audio,
    normalise_loudness,
    onset_crop,
)
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.sources.base import TARGET_DBFS


class FileListSource:
    """A source over a fixed list of audio files (the base of the folder and dataset sources)."""

    def __init__(
        self,
        files: Sequence[Path],
        name: str,
        sample_rate: int = SAMPLE_RATE,
        cache_bytes: int = 256 * 2**20,
        max_shift_s: float = 0.25,
        onset_prob: float = 0.5,
    ) -> None:
        self.name = name
        self.sample_rate = int(sample_rate)
        self.max_shift_s = max_shift_s  # an attack lands 0..max_shift_s into the crop
        self.onset_prob = onset_prob  # chance that a crop starts on an attack rather than anywhere
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()
        readable = [f for f in files if audio_info(f) is not None]
        self.skipped = len(files) - len(readable)  # files soundfile could not open (or empty ones)
        if self.skipped:
            warnings.warn(f"{name}: skipped {self.skipped} of {len(files)} audio files that soundfile cannot read", stacklevel=2)
        self.files: list[Path] = list(readable)

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> np.ndarray:
        x = self._cache.get(path)
        if x is not None:
            self._cache.move_to_end(path)
            return x
        x = load_audio(path, self.sample_rate, mono=True)
        self._cache[path] = x
        while sum(v.nbytes for v in self._cache.values()) > self.cache_bytes and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return x

    def sample(self, rng: np.random.Generator, duration_s: float, max_tries: int = 16) -> np.ndarray:
        """A random non-silent crop of a random file: float32 ``(round(duration_s * sample_rate),)``."""
        n = int(round(duration_s * self.sample_rate))
        best: np.ndarray | None = None
        best_peak = 0.0
        for _ in range(max_tries):
            if not self.files:
                break
            path = self.files[int(rng.integers(0, len(self.files)))]
            try:
                x = self._load(path)
            except AudioError as exc:  # header was fine but the data is not: drop the file
                warnings.warn(f"{self.name}: skipping {exc}", stacklevel=2)
                self.files.remove(path)
                self.skipped += 1
                continue
            crop = onset_crop(rng, x, n, self.sample_rate, self.max_shift_s, self.onset_prob)
            peak = float(np.max(np.abs(crop))) if crop.size else 0.0
            if peak > best_peak:
                best, best_peak = crop, peak
            if 20.0 * np.log10(max(peak, 1e-12)) > SILENCE_DBFS:
                break
        if best is None or best_peak == 0.0:
            raise AudioError(f"{self.name}: could not find non-silent audio in {max_tries} tries; check the recordings")
        return normalise_loudness(best, TARGET_DBFS)[0]


class FolderSource(FileListSource):
    """``make_source("folder:PATH")``: every audio file under PATH."""

    def __init__(self, root: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE, **kwargs) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DdspfxError(f"{root} is not a folder; pass folder:PATH with a folder of guitar recordings")
        files = find_audio_files(root)
        name = f"folder:{root}"
        super().__init__(files, name, sample_rate, **kwargs)
        if not self.files:
            what = f"{len(files)} files it has cannot be read" if files else "it has no audio files"
            raise AudioError(
                f"{root} has no usable audio ({what}; looked recursively for {', '.join(AUDIO_EXTENSIONS[:6])}, ...); "
                "point folder:PATH at a folder of dry guitar recordings"
            )
