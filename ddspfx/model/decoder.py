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

    def _hidden(self, ids: torch.Tensor, offset: int, memory_kv: list[tuple[torch.Tensor, torch.Tensor]],
                mask: torch.Tensor, caches: list[LayerCache] | None) -> torch.Tensor:
        """ids (B, T) -> the last block's output (B, T, D), before the final norm and the head."""
        t = ids.shape[1]
        if offset + t > self.max_tokens:
            raise ValueError(f"token sequence of {offset + t} exceeds max_tokens {self.max_tokens}")
        x = self.drop(self.embed(ids) + self.pos(torch.arange(offset, offset + t, device=ids.device)))
        for i, block in enumerate(self.blocks):
            x = block(x, memory_kv[i], mask, None if caches is None else caches[i])
        return x

    def output(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., D) -> logits (..., V): the final norm and the head, row by row (so a search can
        run them on the few positions it reads)."""
        return self.head(self.norm(hidden))

    def _run(self, ids: torch.Tensor, offset: int, memory_kv: list[tuple[torch.Tensor, torch.Tensor]],
             mask: torch.Tensor, caches: list[LayerCache] | None) -> torch.Tensor:
        return self.output(self._hidden(ids, offset, memory_kv, mask, caches))  # (B, T, V)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """memory (B, F, D) -> per block the cross-attention keys and values, each (B, H, F, Dh), contiguous:
        every decoding step reads them, and attention over the strided projection was 15 % slower per step."""
        return [(k.contiguous(), v.contiguous())
                for k, v in (block.cross_attn.project_kv(memory) for block in cast(Iterable[CrossBlock], self.blocks))]

    def forward(self, ids: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        """ids (B, L) -> logits (B, L, V) for the next token at each position (causal)."""
        return self._run(ids, 0, self.memory_kv(memory), self.memory_attn_mask(memory_mask), None)

    def forward_cached(self, ids: torch.Tensor, cache: dict) -> torch.Tensor:
        """Teacher forcing against ``init_cache``'s precomputed memory (no self-attention cache):
        ids (B, L) -> logits (B, L, V). Lets many sequences share one clip's projected memory."""
        return self._run(ids, 0, cache["memory_kv"], cache["mask"], None)

    def hidden_cached(self, ids: torch.Tensor, cache: dict) -> torch.Tensor:
        """As :meth:`forward_cached`, but the hidden states (B, L, D) before :meth:`output`."""
        return self._hidden(ids, 0, cache["memory_kv"], cache["mask"], None)

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
    def rows_cache(cache: dict, rows: slice | torch.Tensor | None = None, copies: int = 1) -> dict:
        """A fresh cache (empty self-attention) over an :meth:`init_cache` cache's memory: its ``rows`` (a slice is a
        view; a tensor of row indices (B',) copies them; None: all rows, shared), each row repeated ``copies`` times
        when ``rows`` is one row (a view: many sequences read one clip's projected memory, not copied)."""
        kv, mask = cache["memory_kv"], cache["mask"]
        if isinstance(rows, torch.Tensor):
            kv = [(k.index_select(0, rows), v.index_select(0, rows)) for k, v in kv]
            mask = mask.index_select(0, rows)
        elif rows is not None:
            kv, mask = [(k[rows], v[rows]) for k, v in kv], mask[rows]
        if copies > 1:
            kv = [(k.expand(copies, *k.shape[1:]), v.expand(copies, *v.shape[1:])) for k, v in kv]
            mask = mask.expand(copies, *mask.shape[1:])
        return {"memory_kv": kv, "mask": mask, "layers": [{} for _ in kv], "length": 0}

    @staticmethod
    def reorder_cache(cache: dict, index: torch.Tensor) -> None:
        """Keep/duplicate batch rows ``index`` (B',) in place (beam search)."""
        cache["memory_kv"] = [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache["memory_kv"]]
        cache["mask"] = cache["mask"].index_select(0, index)
        for layer in cache["layers"]:
            for key in list(layer):
                layer[key] = layer[key].index_select(0, index)
