"""Transformer encoder over front-end frames."""

from __future__ import annotations

import torch
from torch import nn

from ddspfx.model.layers import sinusoidal_positions


class Encoder(nn.Module):
    """``tokens (B, F, D), mask (B, F) True=valid -> memory (B, F, D)`` with sinusoidal positions."""

    pos: torch.Tensor  # (max_frames, D) buffer

    def __init__(self, dim: int, n_heads: int, layers: int, ff_mult: int, dropout: float, max_frames: int) -> None:
        super().__init__()
        self.register_buffer("pos", sinusoidal_positions(max_frames, dim), persistent=False)
        layer = nn.TransformerEncoderLayer(
            dim, n_heads, ff_mult * dim, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        f = tokens.shape[1]
        if f > self.pos.shape[0]:
            raise ValueError(f"{f} frames exceed the encoder's max_frames {self.pos.shape[0]}; use shorter clips")
        x = self.drop(tokens + self.pos[:f])
        x = self.layers(x, src_key_padding_mask=~mask)
        return self.norm(x)
