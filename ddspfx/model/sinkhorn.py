"""Soft and hard permutations from score logits: Sinkhorn normalisation and its zero-temperature limit.

The model's order head scores "effect n sits in slot k" as (B, N, N) logits; Sinkhorn
normalisation (Mena et al. 2018, "Learning latent permutations with Gumbel-Sinkhorn networks")
turns them into a doubly stochastic matrix the switching chain (``ddspfx.proxies.switching``)
can render, :func:`hard_permutation` is the Hungarian assignment they tend to as the
temperature falls, and :func:`straight_through` uses the hard one forward and the soft one backward.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def sinkhorn(logits: torch.Tensor, tau: float = 1.0, n_iters: int = 20) -> torch.Tensor:
    """Logits (B, K, N) -> doubly stochastic (B, K, N), K == N, by log-space Sinkhorn.

    Entropic optimal transport: the result is ``exp((logits + f + g) / tau)`` with row and
    column potentials f, g found by alternating row and column normalisation (last step:
    columns, so columns sum to 1 to rounding and rows to within the Sinkhorn residual). Lower
    ``tau`` -> closer to the Hungarian permutation. Plain Sinkhorn converges slowly at low
    temperature (at tau=0.01 and 20 iterations rows still sum to ~1.03 on well-separated
    logits), so below ``tau=1`` the first half of the iterations anneal the temperature
    geometrically from 1 down to ``tau`` ("epsilon scaling", warm-started potentials); the
    fixed point is unchanged and the rows then sum to 1 within ~1e-5.
    """
    if logits.shape[-1] != logits.shape[-2]:
        raise ValueError(f"sinkhorn needs square (B, N, N) logits, got {tuple(logits.shape)}")
    f = torch.zeros_like(logits[..., :, :1])  # (B, K, 1) row potentials, logit units
    g = torch.zeros_like(logits[..., :1, :])  # (B, 1, N) column potentials
    tau0 = 1.0
    n_anneal = n_iters // 2 if tau < tau0 else 0
    for i in range(n_iters):
        t = tau0 * (tau / tau0) ** (i / n_anneal) if i < n_anneal else tau
        f = -t * torch.logsumexp((logits + g) / t, dim=-1, keepdim=True)  # rows
        g = -t * torch.logsumexp((logits + f) / t, dim=-2, keepdim=True)  # columns
    return ((logits + f + g) / tau).exp()


def gumbel_sinkhorn(
    logits: torch.Tensor,
    tau: float = 1.0,
    n_iters: int = 20,
    noise_scale: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sinkhorn of logits perturbed by Gumbel noise (B, K, N): a reparameterised sample of a
    random permutation around ``logits``; ``noise_scale=0`` is plain :func:`sinkhorn`."""
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype, device=logits.device)
    tiny = torch.finfo(logits.dtype).tiny
    neg_log_u = -torch.log(u.clamp_min(tiny))  # Exp(1) sample, > 0
    gumbel = -torch.log(neg_log_u.clamp_min(tiny))
    return sinkhorn(logits + noise_scale * gumbel, tau=tau, n_iters=n_iters)


def hard_permutation(logits: torch.Tensor) -> torch.Tensor:
    """Logits or a soft permutation (B, K, N) -> one-hot permutation (B, K, N) maximising the
    summed score (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``). No gradient."""
    if logits.ndim != 3 or logits.shape[-1] != logits.shape[-2]:
        raise ValueError(f"hard_permutation needs (B, N, N) logits, got {tuple(logits.shape)}")
    scores = logits.detach().to("cpu", torch.float64).numpy()
    hard = np.zeros(scores.shape, dtype=np.float64)
    for b in range(scores.shape[0]):
        rows, cols = linear_sum_assignment(scores[b], maximize=True)
        hard[b, rows, cols] = 1.0
    return torch.from_numpy(hard).to(device=logits.device, dtype=logits.dtype)


def straight_through(soft: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:
    """``hard`` in the forward pass, the gradient of ``soft`` in the backward pass.

    ``soft - soft.detach()`` is exactly zero, so the forward value is ``hard`` bit for bit.
    """
    return hard + (soft - soft.detach())


__all__ = ["gumbel_sinkhorn", "hard_permutation", "sinkhorn", "straight_through"]
