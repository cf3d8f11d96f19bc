"""Spectrogram conv blocks shared by the mel front end's CNN stem and the CNN baseline.

One block = 3x3 conv (no bias) -> BatchNorm -> ReLU -> max-pool, the VGG-style unit of
published guitar-effect classifiers. The pool of each block is given per axis as
``(freq, time)`` so a stem can shrink the mel axis fast while keeping time resolution for the
transformer that follows; ``ceil_mode`` keeps a trailing partial frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import torch
from torch import nn


def conv_blocks(channels: Sequence[int], pools: Sequence[tuple[int, int]], in_channels: int = 1) -> nn.Sequential:
    """Blocks over a (B, in_channels, freq, time) map; ``pools[i]`` is block i's (freq, time) max-pool."""
    if len(channels) != len(pools):
        raise ValueError(f"{len(channels)} conv channel widths but {len(pools)} pool sizes")
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out, pool in zip(channels, pools):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                   nn.MaxPool2d(tuple(pool), ceil_mode=True)]
        c_in = c_out
    return nn.Sequential(*layers)


@overload
def pooled_length(n: int, pools: Sequence[int]) -> int: ...
@overload
def pooled_length(n: torch.Tensor, pools: Sequence[int]) -> torch.Tensor: ...
def pooled_length(n: torch.Tensor | int, pools: Sequence[int]) -> torch.Tensor | int:
    """Length of an axis of ``n`` bins after ceil-mode pools of the given sizes."""
    for p in pools:
        n = -(-n // p) if isinstance(n, int) else torch.div(n + p - 1, p, rounding_mode="floor")
    return n
