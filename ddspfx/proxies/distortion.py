"""Distortion proxy: pedalboard.Distortion is ``juce::dsp::Gain`` then a tanh waveshaper.

Memoryless, no oversampling, no filtering, a 0 s gain ramp, so this is exact:
y = tanh(G x) with G = 10^(drive_db / 20), and G = 0 for drive_db <= -100 (JUCE's
``Decibels::decibelsToGain`` floor).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ddspfx.proxies.fft import ParamLike, as_param


def distortion(x: Tensor, sample_rate: float, drive_db: ParamLike) -> Tensor:
    """tanh drive: x (B, C, T), drive_db in dB (float or (B,)) -> (B, C, T). ``sample_rate`` is unused."""
    drive = as_param(drive_db, x)  # (B, 1, 1)
    gain = torch.where(drive > -100.0, torch.pow(10.0, drive / 20.0), torch.zeros_like(drive))
    return torch.tanh(gain * x)
