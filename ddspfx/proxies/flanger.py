"""Flanger proxy: pedalboard's Chorus at flanger settings, i.e. :func:`ddspfx.proxies.chorus.chorus`.

The chorus proxy already mirrors ``juce::dsp::Chorus`` for every delay the plugin allows
(JUCE floors it at 1 ms, >= 16 samples even at 16 kHz) and any feedback: the delay line is a
sample-by-sample numba recursion, not a chunked one, so neither short delays nor feedback
near 1 cost accuracy or speed. Measured against pedalboard on synthetic guitar at 44.1 kHz
with feedback 0.9 and centre 1-7 ms: max abs error ~1e-5 (float32 delay rounding, amplified
by the feedback's resonance). Gradients: none w.r.t. depth and centre while the 1 ms floor
is active (deep settings with a short centre).
"""

from __future__ import annotations

from torch import Tensor

from ddspfx.proxies.chorus import chorus
from ddspfx.proxies.fft import ParamLike


def flanger(
    x: Tensor,
    sample_rate: float,
    rate_hz: ParamLike,
    depth: ParamLike,
    centre_delay_ms: ParamLike,
    feedback: ParamLike,
    mix: ParamLike,
) -> Tensor:
    """pedalboard.Chorus as a flanger on x (B, C, T); Chorus's units (Hz, [0, 1], ms, [0, 1), [0, 1]) -> (B, C, T)."""
    return chorus(x, sample_rate, rate_hz=rate_hz, depth=depth, centre_delay_ms=centre_delay_ms,
                  feedback=feedback, mix=mix)


__all__ = ["flanger"]
