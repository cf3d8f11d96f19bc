"""Continuous heads: presence gates, parameters and switching-matrix logits from learned queries.

N effect queries (one per catalog effect) and N slot queries (one per chain position)
cross-attend to the encoder output and to each other. Effect states give presence logits
(B, N) and normalised parameters (B, N, MAX_PARAMS) in [0, 1]; slot x effect bilinear scores
give the switching-matrix logits (B, N, N), rows = slots, cols = effects, which
``ddspfx.model.sinkhorn.sinkhorn`` turns into a soft permutation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

import torch
from torch import nn

from ddspfx.catalog import MAX_PARAMS
from ddspfx.model.layers import CrossBlock


class QueryHeads(nn.Module):
    def __init__(self, dim: int, n_heads: int, layers: int, ff_mult: int, dropout: float,
                 n_effects: int, max_params: int = MAX_PARAMS) -> None:
        super().__init__()
        self.n = n_effects
        self.queries = nn.Parameter(torch.randn(2 * n_effects, dim) * 0.02)  # effects then slots
        self.blocks = nn.ModuleList(CrossBlock(dim, n_heads, ff_mult, dropout, causal=False) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.presence = nn.Linear(dim, 1)
        self.params = nn.Linear(dim, max_params)
        self.slot_proj = nn.Linear(dim, dim)
        self.effect_proj = nn.Linear(dim, dim)

    def forward(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        b = memory.shape[0]
        x = self.queries[None].expand(b, -1, -1)  # (B, 2N, D)
        mask = memory_mask[:, None, None, :]
        for block in cast(Iterable[CrossBlock], self.blocks):  # the ModuleList holds CrossBlocks only
            x = block(x, block.cross_attn.project_kv(memory), mask)
        x = self.norm(x)
        eff, slot = x[:, : self.n], x[:, self.n:]  # (B, N, D) each
        perm_logits = self.slot_proj(slot) @ self.effect_proj(eff).transpose(1, 2) / math.sqrt(x.shape[-1])
        return {
            "presence_logits": self.presence(eff).squeeze(-1),  # (B, N)
            "params": torch.sigmoid(self.params(eff)),  # (B, N, MAX_PARAMS) normalised
            "perm_logits": perm_logits,  # (B, N slots, N effects)
        }
