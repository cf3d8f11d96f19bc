"""Transformer building blocks with an explicit KV cache (nanoGPT-style, pre-norm).

Written out rather than taken from ``nn.TransformerDecoder`` because autoregressive
inference needs to append to self-attention keys/values and reuse the cross-attention
keys/values of the encoder output at every step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LayerCache = dict[str, torch.Tensor]


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sinusoidal position codes (Vaswani et al. 2017)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10_000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class Attention(nn.Module):
    """Multi-head attention; ``kv`` None means self-attention on ``x``."""

    def __init__(self, dim: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"d_model {dim} must be divisible by n_heads {n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)  # (B, H, T, Dh)

    def project_kv(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(source).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(
        self,
        x: torch.Tensor,
        kv: tuple[torch.Tensor, torch.Tensor],
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """x (B, Tq, D), kv = (k, v) each (B, H, Tk, Dh); attn_mask bool True = attend."""
        q = self._split(self.q(x))
        y = F.scaled_dot_product_attention(
            q, kv[0], kv[1], attn_mask=attn_mask, is_causal=is_causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, Tq, Dh)
        b, h, t, dh = y.shape
        return self.out(y.transpose(1, 2).reshape(b, t, h * dh))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__(nn.Linear(dim, mult * dim), nn.GELU(), nn.Linear(mult * dim, dim), nn.Dropout(dropout))


class CrossBlock(nn.Module):
    """Pre-norm block: (causal or full) self-attention, cross-attention to a memory, feed-forward."""

    def __init__(self, dim: int, n_heads: int, ff_mult: int, dropout: float, causal: bool) -> None:
        super().__init__()
        self.causal = causal
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = Attention(dim, n_heads, dropout)
        self.cross_attn = Attention(dim, n_heads, dropout)
        self.ff = FeedForward(dim, ff_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        memory_mask: torch.Tensor | None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        """x (B, T, D); memory_mask (B, 1, 1, F) bool True = valid frame.

        With ``cache`` the new positions' keys/values are appended to it, so feeding one
        token at a time gives exactly the full causal computation.
        """
        h = self.ln1(x)
        k, v = self.self_attn.project_kv(h)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        t_new, t_all = x.shape[1], k.shape[2]
        if not self.causal or t_new == 1:
            mask = None
        else:
            # queries sit at the last t_new positions of t_all keys
            mask = torch.ones(t_new, t_all, dtype=torch.bool, device=x.device).tril(t_all - t_new)
        x = x + self.drop(self.self_attn(h, (k, v), attn_mask=mask))
        x = x + self.drop(self.cross_attn(self.ln2(x), memory_kv, attn_mask=memory_mask))
        return x + self.ff(self.ln3(x))
