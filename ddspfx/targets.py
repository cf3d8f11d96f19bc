"""A chain as training targets: which pedals, in which slots, with which normalised settings.

This is the one place a :class:`~ddspfx.chain.Chain` becomes the tensors the heads and the switching
chain are trained against (the token form is :class:`ddspfx.vocab.PedalVocab`). Two layouts of the
same targets:

- :func:`chain_targets`: the dataset's dict (``presence``, ``order``, ``length``, ``params``,
  ``param_mask``), which ``collate`` batches;
- :func:`chain_to_targets`: ``(perm, gates, params)`` for :class:`ddspfx.proxies.switching.SoftChain`,
  ``perm`` being the one-hot of ``order``. Its inverse is ``ddspfx.proxies.switching.targets_to_chain``.
"""

from __future__ import annotations

from typing import Collection, Sequence

import torch
import torch.nn.functional as F

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, get_effect, normalise
from ddspfx.chain import Chain


def chain_targets(chain: Chain, effects: Sequence[str] = EFFECT_NAMES,
                  unlabelled: Collection[tuple[str, str]] = ()) -> dict[str, torch.Tensor]:
    """presence (N,) float32, order (N,) int64, length () int64, params (N, MAX_PARAMS) float32,
    param_mask (N, MAX_PARAMS) bool, with N = len(effects) and effect n = ``effects[n]``.

    ``order[k]`` is the effect in slot k: the chain's pedals first, then the absent effects in
    ``effects`` order, so ``order`` is a full permutation. Params are normalised (``catalog.normalise``),
    0 and masked out for absent effects and unused columns, and masked for the ``unlabelled`` (effect, knob)
    pairs (a knob the clip's renderer does not define the catalog's way).
    """
    effects = tuple(effects)
    n = len(effects)
    missing = [e for e in chain.effects if e not in effects]
    if missing:
        raise ValueError(f"chain uses effects {missing} that are not among {list(effects)}")
    presence = torch.zeros(n, dtype=torch.float32)
    params = torch.zeros(n, MAX_PARAMS, dtype=torch.float32)
    mask = torch.zeros(n, MAX_PARAMS, dtype=torch.bool)
    slots = []
    for pedal in chain:
        e = effects.index(pedal.effect)
        presence[e] = 1.0
        u = [normalise(pedal.params[p.name], p) for p in get_effect(pedal.effect).params]
        params[e, : len(u)] = torch.tensor(u, dtype=torch.float32)
        mask[e, : len(u)] = torch.tensor([(pedal.effect, p.name) not in unlabelled for p in get_effect(pedal.effect).params])
        slots.append(e)
    order = slots + [e for e in range(n) if e not in slots]  # absent effects fill the tail in `effects` order
    return {
        "presence": presence,
        "order": torch.tensor(order, dtype=torch.int64),
        "length": torch.tensor(len(slots), dtype=torch.int64),
        "params": params,
        "param_mask": mask,
    }


def chain_to_targets(
    chain: Chain, effects: Sequence[str] = EFFECT_NAMES
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A chain -> (perm (N, N), gates (N,), params (N, MAX_PARAMS)) float32, for the switching chain.

    Row k of ``perm`` is slot k and holds a 1 at the effect playing there (one-hot of
    :func:`chain_targets`'s ``order``); ``gates`` is its ``presence`` and ``params`` its ``params``.
    """
    t = chain_targets(chain, effects)
    perm = F.one_hot(t["order"], len(t["order"])).float()  # (N slots, N effects)
    return perm, t["presence"], t["params"]


__all__ = ["chain_targets", "chain_to_targets"]
