"""Autoregressive transformer decoder over PedalVocab ids with cross-attention to the encoder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import torch
from torch import nn

from ddspfx.model.layers import CrossBlock, LayerCache


class TokenDecoder(nn.Module):
    """Teacher-forced ``forward`` for training; ``init_cache`` + ``step`` for cached inference."""

    def __init__(self, vocab_size: int, dim: int, n_heads: int, layers: int, ff_mult: int, dropout: float,
                 max_tokens: int) -> None:
        super().__init__()
        self.max_tokens = max_tokens
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(max_tokens, dim)
        self.blocks = nn.ModuleList(CrossBlock(dim, n_heads, ff_mult, dropout, causal=True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size)
        self.drop = nn.Dropout(dropout)

    @staticmethod
    def memory_attn_mask(memory_mask: torch.Tensor) -> torch.Tensor:
        return memory_mask[:, None, None, :]  # (B, 1, 1, F)

    def _run(self, ids: torch.Tensor, offset: int, memory_kv: list[tuple[torch.Tensor, torch.Tensor]],
             mask: torch.Tensor, caches: list[LayerCache] | None) -> torch.Tensor:
        t = ids.shape[1]
        if offset + t > self.max_tokens:
            raise ValueError(f"token sequence of {offset + t} exceeds max_tokens {self.max_tokens}")
        x = self.drop(self.embed(ids) + self.pos(torch.arange(offset, offset + t, device=ids.device)))
        for i, block in enumerate(self.blocks):
            x = block(x, memory_kv[i], mask, None if caches is None else caches[i])
        return self.head(self.norm(x))  # (B, T, V)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [block.cross_attn.project_kv(memory) for block in cast(Iterable[CrossBlock], self.blocks)]

    def forward(self, ids: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        """ids (B, L) -> logits (B, L, V) for the next token at each position (causal)."""
        return self._run(ids, 0, self.memory_kv(memory), self.memory_attn_mask(memory_mask), None)

    def forward_cached(self, ids: torch.Tensor, cache: dict) -> torch.Tensor:
        """Teacher forcing against ``init_cache``'s precomputed memory (no self-attention cache):
        ids (B, L) -> logits (B, L, V). Lets many sequences share one clip's projected memory."""
        return self._run(ids, 0, cache["memory_kv"], cache["mask"], None)

    def init_cache(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> dict:
        """Precompute cross-attention keys/values; self-attention caches start empty."""
        return {
            "memory_kv": self.memory_kv(memory),
            "mask": self.memory_attn_mask(memory_mask),
            "layers": [{} for _ in self.blocks],
            "length": 0,
        }

    def step(self, ids: torch.Tensor, cache: dict) -> torch.Tensor:
        """Feed new ids (B, t) after ``cache['length']`` earlier ones -> logits (B, V) of the last."""
        logits = self._run(ids, cache["length"], cache["memory_kv"], cache["mask"], cache["layers"])
        cache["length"] += ids.shape[1]
        return logits[:, -1]

    @staticmethod
    def reorder_cache(cache: dict, index: torch.Tensor) -> None:
        """Keep/duplicate batch rows ``index`` (B',) in place (beam search)."""
        cache["memory_kv"] = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache["memory_kv"]]
        cache["mask"] = cache["mask"].index_select(0, index)
        for layer in cache["layers"]:
            for key in list(layer):
                layer[key] = layer[key].index_select(0, index)
