"""Dry guitar sources: where the clean guitar that ddspfx puts through pedals comes from.

``make_source(spec)`` understands four specs:

- ``"synth"`` -- the embedded Karplus-Strong guitar (``ddspfx.sources.synth``); no download;
- ``"folder:PATH"`` -- any folder of audio files, searched recursively;
- ``"egfxset:PATH"`` -- the clean recordings of EGFxSet (``Clean/<pickup>/<string>-<fret>.wav``);
- ``"idmt:PATH"`` -- the electric-guitar recordings of IDMT-SMT-Guitar (``dataset1..4``).

Every source returns dry mono float32 ``(T,)`` clips at its sample rate, cropped (with a
random onset shift) and loudness-normalised to ``TARGET_DBFS`` RMS with a 0.99 peak limit.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError

TARGET_DBFS = -20.0
"""RMS level (dBFS) of every dry clip a source returns."""

SPECS: tuple[str, ...] = ("synth", "folder:PATH", "egfxset:PATH", "idmt:PATH")


@runtime_checkable
class Source(Protocol):
    """Something that hands out dry guitar clips."""

    name: str
    sample_rate: int

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A dry mono float32 clip ``(round(duration_s * sample_rate),)``, loudness-normalised."""
        ...


def make_source(spec: str, sample_rate: int = SAMPLE_RATE) -> Source:
    """Build the source a spec string names (see the module docstring); DdspfxError for a bad spec."""
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "synth" and not sep:
        from ddspfx.sources.synth import SynthSource

        return SynthSource(sample_rate)
    if kind in ("folder", "egfxset", "idmt"):
        if not path:
            raise DdspfxError(f"source {spec!r} needs a path, e.g. {kind}:/data/{kind}")
        if kind == "folder":
            from ddspfx.sources.folder import FolderSource

            return FolderSource(path, sample_rate)
        from ddspfx.sources.datasets import EGFxSetSource, IdmtSource

        return (EGFxSetSource if kind == "egfxset" else IdmtSource)(path, sample_rate)
    raise DdspfxError(f"unknown source {spec!r}; use one of {', '.join(SPECS)}")


__all__ = ["Source", "make_source", "SPECS", "TARGET_DBFS"]
