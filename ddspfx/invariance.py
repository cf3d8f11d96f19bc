"""Invariance by construction: one chain on two guitars must get one answer.

Why: the blind model's answer moved with the guitar (a clean guitar heard as an eq at its body resonance).
With ``data.pair_guitars`` each training example carries its chain played by a second guitar
(``wet_pair``/``dry_pair``, ``ddspfx.data.recipe``); :func:`with_pairs` stacks both into one batch of 2B with
the labels repeated, so both halves learn the same targets, and :func:`invariance_loss` adds a penalty on any
difference between the two halves' answers (presence probabilities and the knobs of the pedals present),
weighted by ``loss.invariance``.
"""

from __future__ import annotations

from typing import Any

import torch

PAIR_KEYS: tuple[str, str] = ("wet_pair", "dry_pair")


def with_pairs(batch: dict[str, Any]) -> dict[str, Any]:
    """A batch of B examples with pairs -> 2B examples: first the B clips, then the same chains on their second
    guitars. Labels (every per-example tensor or list) are repeated; the pair keys are consumed."""
    b = batch["wet"].shape[0]
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if key in PAIR_KEYS:
            continue
        if key in ("wet", "dry"):
            out[key] = torch.cat([value, batch[f"{key}_pair"]])  # (2B, T)
        elif isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == b:
            out[key] = torch.cat([value, value])
        elif isinstance(value, list) and len(value) == b:
            out[key] = value + value
        else:
            out[key] = value
    return out


def invariance_loss(out: dict[str, torch.Tensor], param_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the halves of a :func:`with_pairs` batch's answers.

    ``out``: the model's heads on 2B clips (``presence_logits`` (2B, N), ``params`` (2B, N, P) in [0, 1]);
    ``param_mask`` (2B, N, P): the knobs that are labelled (present pedals), whose difference counts.
    """
    p = torch.sigmoid(out["presence_logits"].float())
    b = p.shape[0] // 2
    presence = (p[:b] - p[b:]).pow(2).mean()
    mask = param_mask[:b].float()
    knobs = ((out["params"][:b].float() - out["params"][b:].float()).pow(2) * mask).sum() / mask.sum().clamp_min(1.0)
    return presence + knobs
