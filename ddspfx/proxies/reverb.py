"""Reverb proxy: pedalboard.Reverb is JUCE's Freeverb (juce_audio_basics/utilities/juce_Reverb.h).

With freeze off it is LTI. Per bank: 8 damped combs in parallel, then 4 Schroeder
"allpasses" in series, fed by in = 0.015 * x (mono) or 0.015 * (xL + xR) (stereo):
  comb (length L):  z^-L (1 - d z^-1) / (1 - d z^-1 - f (1 - d) z^-L)
  allpass (len M):  (-1 + 1.5 z^-M) / (1 - 0.5 z^-M)       (not a true allpass)
with f = 0.7 + 0.28 room_size, d = 0.4 damping. Output: wet = 3 wet_level,
w1 = wet (1 + width) / 2, w2 = wet (1 - width) / 2, dry = 2 dry_level;
mono y = w1 R_L + dry x; stereo yL = w1 R_L + w2 R_R + dry xL, yR = w1 R_R + w2 R_L + dry xR,
where the right bank's lengths are the left's + 23 (before sample-rate scaling).
Lengths scale as floor(int(fs) * t / 44100). Three or more channels pass through untouched.

We evaluate the whole bank's transfer function on an exponentially windowed FFT grid
(``fft.lti_filter``): exact up to float64 rounding, tails included (the tail beyond the clip
is cut off, as in pedalboard). width is fixed at 1 by the catalog, but accepted here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param, lti_filter, z_power

COMB_TUNINGS = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
ALLPASS_TUNINGS = (556, 441, 341, 225)
STEREO_SPREAD = 23
INPUT_GAIN = 0.015


def freeverb_lengths(sample_rate: float, right: bool = False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(comb lengths, allpass lengths) in samples for one bank at ``sample_rate``, as JUCE sizes them."""
    spread = STEREO_SPREAD if right else 0
    fs = int(sample_rate)
    combs = tuple(max(1, fs * (t + spread) // 44100) for t in COMB_TUNINGS)
    allpasses = tuple(max(1, fs * (t + spread) // 44100) for t in ALLPASS_TUNINGS)
    return combs, allpasses


def bank_response(s: Tensor, sample_rate: float, feedback: Tensor, damp: Tensor, right: bool = False) -> Tensor:
    """One Freeverb bank's transfer function (input gain excluded) on grid s -> (B, 1, F) complex128.

    feedback, damp: (B, 1, 1) float64 (the JUCE internal values f and d).
    """
    combs, allpasses = freeverb_lengths(sample_rate, right)
    z1 = z_power(s, 1)  # (F,)
    lowpass = 1.0 - damp * z1  # (B, 1, F)
    total = torch.zeros_like(lowpass)
    for length in combs:
        zl = z_power(s, length)
        total = total + zl * lowpass / (lowpass - feedback * (1.0 - damp) * zl)
    for length in allpasses:
        zm = z_power(s, length)
        total = total * (-1.0 + 1.5 * zm) / (1.0 - 0.5 * zm)
    return total


def reverb(
    x: Tensor,
    sample_rate: float,
    room_size: ParamLike,
    damping: ParamLike,
    wet_level: ParamLike,
    dry_level: ParamLike,
    width: ParamLike = 1.0,
) -> Tensor:
    """Freeverb: x (B, C, T) with C = 1 (mono) or 2 (stereo); params in [0, 1] (floats or (B,)) -> (B, C, T)."""
    room, damp_u, wet_u, dry_u, width_t = (
        as_param(v, x, torch.float64) for v in (room_size, damping, wet_level, dry_level, width)
    )
    channels = x.shape[1]
    if channels > 2:
        return x.clone()
    feedback = 0.7 + 0.28 * room
    damp = 0.4 * damp_u
    wet = 3.0 * wet_u
    w1 = 0.5 * wet * (1.0 + width_t)
    w2 = 0.5 * wet * (1.0 - width_t)
    dry = 2.0 * dry_u
    if channels == 1:
        return lti_filter(x, lambda s: w1 * INPUT_GAIN * bank_response(s, sample_rate, feedback, damp) + dry)

    # stereo: both banks hear the summed input; mix them per output channel.
    summed = x.sum(dim=1, keepdim=True)  # (B, 1, T)

    def banks(s: Tensor) -> Tensor:
        left = bank_response(s, sample_rate, feedback, damp)
        right = bank_response(s, sample_rate, feedback, damp, right=True)
        return INPUT_GAIN * torch.cat([w1 * left + w2 * right, w1 * right + w2 * left], dim=1)  # (B, 2, F)

    return lti_filter(summed, banks) + (dry.to(x.dtype) * x)
