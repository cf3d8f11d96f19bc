"""Flanger: pedalboard's ``Chorus`` set up as a flanger (short centre delay, strong feedback).

pedalboard's own documentation suggests this use ("a flanger with a lower centre delay time
and a lot of feedback"). The knobs are Chorus's own, over flanger ranges: ``rate_hz``
0.05-2 Hz, ``depth`` 0-0.5 (the delay swings by +-10 depth ms), ``centre_delay_ms`` 1-7 ms,
``feedback`` 0-0.9 (inverted inside JUCE), ``mix`` 0.2-0.8. JUCE floors the delay at 1 ms,
so deep settings with a short centre spend part of each LFO cycle on that floor.

pedalboard is the reference here; ``ddspfx.proxies.flanger`` is its exact torch mirror.
"""

from __future__ import annotations

import numpy as np
import pedalboard


def plugin(rate_hz: float, depth: float, centre_delay_ms: float, feedback: float, mix: float) -> pedalboard.Chorus:
    """The pedalboard plugin for these knobs."""
    return pedalboard.Chorus(
        rate_hz=float(rate_hz), depth=float(depth), centre_delay_ms=float(centre_delay_ms),
        feedback=float(feedback), mix=float(mix),
    )


def fx(x: np.ndarray, sample_rate: float, rate_hz: float, depth: float, centre_delay_ms: float,
       feedback: float, mix: float) -> np.ndarray:
    """Flanger on x (C, T) float32 through pedalboard (fresh plugin, ``reset=True``) -> (C, T) float32."""
    board = plugin(rate_hz, depth, centre_delay_ms, feedback, mix)
    return np.asarray(board(np.ascontiguousarray(x, dtype=np.float32), float(sample_rate), reset=True), dtype=np.float32)


__all__ = ["fx", "plugin"]
