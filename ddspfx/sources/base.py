"""What every dry guitar source shares: the :class:`Source` protocol, the loudness every clip is normalised
to, the onset-shifted phrase of the synthetic sources and the weighted mix of sources.

The submodules (``synth``, ``modal``, ``soundfont``, ``folder``, ...) import this module, never the package
``ddspfx.sources``, whose ``make_source`` imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ddspfx.audio import normalise_loudness
from ddspfx.errors import DdspfxError

RESERVED: tuple[str, ...] = ("fluidr3", "musescore_general", "musescore-general", "fluid-soundfont")
"""Lower-case fragments of file names that mark a reserved bank (after following symlinks:
Debian's ``default-GM.sf2`` is FluidR3)."""

TARGET_DBFS = -20.0
"""RMS level (dBFS) of every dry clip a source returns."""

@runtime_checkable
class Source(Protocol):
    """Something that hands out dry guitar clips."""

    name: str
    sample_rate: int

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A dry mono float32 clip ``(round(duration_s * sample_rate),)``, loudness-normalised."""
        ...


def shifted_phrase(rng: np.random.Generator, duration_s: float, sample_rate: int, max_shift_s: float,
                   render: Callable[[np.random.Generator, float], np.ndarray]) -> np.ndarray:
    """``render(rng, seconds)`` after a random 0..max_shift_s of silence, cut to ``duration_s`` and
    normalised to ``TARGET_DBFS`` RMS (peak <= 0.99): how the synthetic sources hand out a clip."""
    n = int(round(duration_s * sample_rate))
    shift = min(int(rng.integers(0, int(max_shift_s * sample_rate) + 1)), n // 2)
    phrase = render(rng, (n - shift) / sample_rate)
    x = np.zeros(n, dtype=np.float32)
    x[shift: shift + phrase.size] = phrase[: n - shift]
    return normalise_loudness(x, TARGET_DBFS)[0]


class MixSource:
    """``make_source("mix:synth=0.7,modal=0.3")``: each clip from one source, drawn with the weights."""

    def __init__(self, sources: Sequence[Source], weights: Sequence[float]) -> None:
        rates = {s.sample_rate for s in sources}
        if len(rates) != 1:
            raise DdspfxError(f"mixed sources must share one sample rate, got {sorted(rates)}")
        self.sources = list(sources)
        self.weights = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.sample_rate = rates.pop()
        self.name = "mix:" + ",".join(f"{s.name}={w:g}" for s, w in zip(self.sources, self.weights))

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        return self.sources[int(rng.choice(len(self.sources), p=self.weights))].sample(rng, duration_s)


__all__ = ["Source", "MixSource", "shifted_phrase", "TARGET_DBFS"]
