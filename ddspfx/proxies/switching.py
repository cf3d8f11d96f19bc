"""The switching-matrix chain: a differentiable pedal *order* (soft permutation) and presence gates.

A chain of up to N pedals is written as N slots. ``perm`` (B, N, N) holds, for each slot k
(rows), how much of each effect n (columns) plays in that slot; a hard chain is a permutation
matrix whose first ``len(chain)`` rows hold the chain's pedals in order. ``gates`` (B, N) say
whether effect n is on the board at all: a closed gate turns the effect into a bypass wherever
the permutation puts it, so absent effects can sit in any slot without changing the sound.

Slot semantics (x_0 = dry):

    w[k, n] = perm[k, n] * gates[n]
    x_k     = x_{k-1} + sum_n w[k, n] * (proxy_n(x_{k-1}; params[n]) - x_{k-1})
            = (1 - sum_n w[k, n]) * x_{k-1} + sum_n w[k, n] * proxy_n(x_{k-1})

and the output is x_N. We evaluate the second form: with a one-hot row and an open gate it
returns ``proxy_n(x_{k-1})`` bit for bit, so the hard chain is *exactly* the sequential chain;
with all gates closed it returns the dry input bit for bit.

The soft permutation comes from the model's Sinkhorn normalisation of logits
(``ddspfx.model.sinkhorn``: Mena et al. 2018, "Learning latent permutations with Gumbel-Sinkhorn
networks"); its ``hard_permutation`` is the zero-temperature limit (the Hungarian assignment).

Cost: a full soft chain runs N * N proxy evaluations. Evaluations whose weight is below
``eps`` are skipped, per batch item (the proxy runs only on the rows of the batch that need it),
so a near-hard chain costs about N evaluations per item. ``experiments/bench_proxies.py``
measures both.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ddspfx.catalog import (
    EFFECT_NAMES,
    MAX_PARAMS,
    denormalise_params,
    get_effect,
)
from ddspfx.chain import Chain, Pedal
from ddspfx.knobs import proxy_kwargs
from ddspfx.model.sinkhorn import hard_permutation
from ddspfx.proxies import apply

# --- the chain ------------------------------------------------------------------------------


class SoftChain(nn.Module):
    """N slots x N effects, mixed by a (soft) permutation and presence gates; see module docstring.

    ``effects`` fixes the column order of ``perm``, ``gates`` and ``params`` (catalog order by
    default). ``eps``: an evaluation whose weight ``perm[k, n] * gates[n]`` is below it is skipped
    for that batch item and treated as a bypass (``eps=0`` evaluates everything with weight > 0).
    A skipped entry gets no gradient: a gate driven below ``eps`` only reopens through other
    losses (e.g. a presence head's), so keep ``eps`` small or anneal it when training from scratch.
    """

    def __init__(self, effects: Sequence[str] = EFFECT_NAMES, eps: float = 1e-3) -> None:
        super().__init__()
        self.effects: tuple[str, ...] = tuple(get_effect(e).name for e in effects)
        if len(set(self.effects)) != len(self.effects):
            raise ValueError(f"SoftChain effects must be distinct, got {list(self.effects)}")
        self.eps = float(eps)
        self.last_evaluations: int = 0
        """Proxy evaluations (batch items x effects) in the last forward: the cost skipping saves."""

    @property
    def n_effects(self) -> int:
        return len(self.effects)

    def effect_params(self, params: torch.Tensor, n: int) -> dict[str, torch.Tensor]:
        """Normalised params (B, N, MAX_PARAMS) -> real-unit keyword tensors (B,) for effect n."""
        return proxy_kwargs(self.effects[n], params[:, n])

    def forward(
        self,
        dry: torch.Tensor,
        perm: torch.Tensor,
        gates: torch.Tensor,
        params: torch.Tensor,
        sample_rate: float,
    ) -> torch.Tensor:
        """dry (B, C, T), perm (B, N, N) rows=slots cols=effects, gates (B, N) in [0, 1],
        params (B, N, MAX_PARAMS) normalised -> wet (B, C, T)."""
        n = self.n_effects
        if dry.ndim != 3:
            raise ValueError(f"SoftChain takes (B, C, T) audio, got shape {tuple(dry.shape)}")
        b = dry.shape[0]
        if perm.shape != (b, n, n) or gates.shape != (b, n) or params.shape[:2] != (b, n):
            raise ValueError(
                f"SoftChain with {n} effects and batch {b} needs perm ({b}, {n}, {n}), gates ({b}, {n}), "
                f"params ({b}, {n}, {MAX_PARAMS}); got {tuple(perm.shape)}, {tuple(gates.shape)}, {tuple(params.shape)}"
            )
        weights = perm * gates.unsqueeze(1)  # (B, K, N)
        active = (weights >= self.eps) & (weights > 0)  # (B, K, N)
        active_np = active.detach().cpu().numpy()  # one device sync per forward
        w_used = torch.where(active, weights, torch.zeros_like(weights))  # skipped -> bypass
        residual = 1.0 - w_used.sum(-1)  # (B, K) bypass weight of each slot
        real_params = [self.effect_params(params, j) for j in range(n)]

        x = dry
        evaluations = 0
        for k in range(n):
            out = residual[:, k, None, None] * x  # (B, C, T)
            for j in range(n):
                rows = np.flatnonzero(active_np[:, k, j])
                if rows.size == 0:
                    continue
                evaluations += rows.size
                w = w_used[:, k, j]  # (B,)
                if rows.size == b:
                    y = apply(self.effects[j], x, sample_rate, **real_params[j])
                    out = out + w[:, None, None] * y
                else:
                    idx = torch.from_numpy(rows).to(dry.device)
                    kw = {name: v.index_select(0, idx) for name, v in real_params[j].items()}
                    y = apply(self.effects[j], x.index_select(0, idx), sample_rate, **kw)
                    out = out.index_add(0, idx, w.index_select(0, idx)[:, None, None] * y)
            x = out
        self.last_evaluations = evaluations
        return x


# --- targets -> chains (chains -> targets: ddspfx.targets) ----------------------------------


def targets_to_chain(
    perm: torch.Tensor | np.ndarray,
    gates: torch.Tensor | np.ndarray,
    params: torch.Tensor | np.ndarray,
    threshold: float = 0.5,
    effects: Sequence[str] = EFFECT_NAMES,
) -> Chain:
    """(perm (N, N), gates (N,), params (N, MAX_PARAMS)) -> the Chain they describe.

    Effects with ``gates > threshold`` are present; their order is the slot the Hungarian
    assignment of ``perm`` gives them (so a soft ``perm`` is read as its nearest permutation);
    params are denormalised to real units.
    """
    perm_t = torch.as_tensor(np.asarray(perm.detach().cpu() if isinstance(perm, torch.Tensor) else perm))
    gates_np = np.asarray(gates.detach().cpu() if isinstance(gates, torch.Tensor) else gates, dtype=np.float64)
    params_np = np.asarray(params.detach().cpu() if isinstance(params, torch.Tensor) else params, dtype=np.float64)
    effects = tuple(effects)
    hard = hard_permutation(perm_t.double()[None])[0].numpy()  # (K, N)
    slot_of = hard.argmax(axis=0)  # (N,) slot of each effect
    present = [j for j in range(len(effects)) if gates_np[j] > threshold]
    present.sort(key=lambda j: slot_of[j])
    return Chain([Pedal(effects[j], denormalise_params(effects[j], params_np[j])) for j in present])


__all__ = [
    "SoftChain",
    "targets_to_chain",
]
