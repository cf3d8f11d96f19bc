"""Spectrogram conv blocks shared by the mel front end's CNN stem and the CNN baseline.

One block = 3x3 conv (no bias) -> BatchNorm -> ReLU -> max-pool, the VGG-style unit of
published guitar-effect classifiers. The pool of each block is given per axis as
``(freq, time)`` so a stem can shrink the mel axis fast while keeping time resolution for the
transformer that follows; ``ceil_mode`` keeps a trailing partial frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import torch
import torch.nn.functional as F
from torch import nn


class MaxPool(nn.MaxPool2d):
    """``nn.MaxPool2d(pool, ceil_mode=True)`` whose inference takes pooled maxima of 2 as pairwise ``torch.maximum``.

    The same maxima bit for bit (a trailing odd bin is paired with -inf, as ceil mode keeps it alone), without the
    argmax indices the CPU kernel computes too: measured on a batch of 16 3-s clips' stem maps, one thread, 29.5 ->
    8.3 ms for the first block (16 x 80 x 259), 9.5 -> 0.1 ms for a (2, 1) pool. With gradients the built-in op
    runs, so training is unchanged (``torch.maximum`` would split a tie's gradient between both inputs).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = (self.kernel_size, self.kernel_size) if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
        if (torch.is_grad_enabled() and x.requires_grad) or any(k not in (1, 2) for k in pool) or (
                self.stride not in (self.kernel_size, pool) or self.padding not in (0, (0, 0)) or not self.ceil_mode):
            return super().forward(x)
        (kf, kt), (f, t) = pool, x.shape[-2:]
        x = F.pad(x, (0, t % kt, 0, f % kf), value=float("-inf")) if f % kf or t % kt else x  # (B, C, F', T')
        if kt == 2:
            x = torch.maximum(x[..., 0::2], x[..., 1::2])
        if kf == 2:
            x = torch.maximum(x[..., 0::2, :], x[..., 1::2, :])
        return x


def conv_blocks(channels: Sequence[int], pools: Sequence[tuple[int, int]], in_channels: int = 1) -> nn.Sequential:
    """Blocks over a (B, in_channels, freq, time) map; ``pools[i]`` is block i's (freq, time) max-pool."""
    if len(channels) != len(pools):
        raise ValueError(f"{len(channels)} conv channel widths but {len(pools)} pool sizes")
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out, pool in zip(channels, pools):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                   MaxPool(tuple(pool), ceil_mode=True)]
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


def spectral_stem(conv_channels: int, conv_time_pool: int, n_bands: int, in_channels: int = 1
                  ) -> tuple[nn.Sequential, list[int], int]:
    """The CNN stem of the spectral front ends (mel, relation): four conv blocks of c, 2c, 4c, 8c channels, each
    halving the band axis, the first log2(``conv_time_pool``) also halving time.

    Returns (the stem, its time pools, features per frame out of it) so both front ends count tokens one way.
    """
    n_time = int(round(math.log2(max(1, conv_time_pool))))
    if 2**n_time != conv_time_pool or n_time > 4:
        raise ValueError(f"conv_time_pool must be 1, 2, 4, 8 or 16, got {conv_time_pool}")
    freq_pools, time_pools = [2, 2, 2, 2], [2] * n_time + [1] * (4 - n_time)
    widths = [conv_channels * 2**i for i in range(4)]
    stem = conv_blocks(widths, list(zip(freq_pools, time_pools)), in_channels=in_channels)
    return stem, time_pools, widths[-1] * pooled_length(n_bands, freq_pools)


@overload
def token_frames(frames: int, time_pools: Sequence[int], stack: int) -> int: ...
@overload
def token_frames(frames: torch.Tensor, time_pools: Sequence[int], stack: int) -> torch.Tensor: ...
def token_frames(frames: torch.Tensor | int, time_pools: Sequence[int], stack: int) -> torch.Tensor | int:
    """STFT frames -> tokens: through a stem's time pools (none without a stem), then ``stack`` frames per token."""
    return pooled_length(pooled_length(frames, time_pools), [stack])


def token_mask(lengths: torch.Tensor | None, n_tokens: int, batch: int, hop: int, time_pools: Sequence[int],
               stack: int, device: torch.device) -> torch.Tensor:
    """(B, n_tokens) bool: the tokens that hold a clip's own samples (all of them without ``lengths``)."""
    if lengths is None:
        return torch.ones(batch, n_tokens, dtype=torch.bool, device=device)
    valid = token_frames(torch.div(lengths.to(device), hop, rounding_mode="floor") + 1, time_pools, stack)
    return torch.arange(n_tokens, device=device)[None, :] < valid[:, None]

