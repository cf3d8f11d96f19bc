"""A guitar-identity adversary: the encoder learns to forget which guitar played the clip.

Why: the blind model's answer moves with the guitar (a clean guitar's body resonance heard as an eq). A small
head on the pooled encoder memory predicts who played the clip, and a gradient-reversal layer between the
encoder and the head (Ganin & Lempitsky 2015, "Unsupervised domain adaptation by backpropagation") turns the
head's gradient around: the head learns to tell guitars apart, the encoder learns to leave out what tells them
apart. Weighted by ``loss.adversary`` (0 = no head at all), reversed with ``loss.grl_scale``.

Labels (``ddspfx.data.dataset.source_fields``, present in every generated item and in folders made since):

- **identity**: one of ``loss.adversary_classes`` buckets of (mix part, procedural guitar id): every guitar of
  ``procedural:N`` gets its own class when N < classes; a fresh guitar per clip (``procedural``) makes the
  buckets unpredictable, so this term then teaches nothing;
- **descriptors**: for procedural guitars, their drawn make-up in [0, 1] (electric, miked, sustain, pick, pickup,
  ... :data:`ddspfx.sources.procedural.DESCRIPTORS`), a binary cross-entropy per descriptor; clips of other
  sources leave this term out.

The head lives on the training module, not on :class:`ddspfx.model.DdspfxModel`: an exported model never
holds it, so models trained with and without it load the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

_PART_STRIDE = 7919  # a prime: the parts of a mix fall into distinct buckets when there are fewer than classes


class GradientReversal(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``-scale``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = float(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``x`` unchanged; the gradient that flows back through it is ``-scale`` times the incoming one."""
    return cast(torch.Tensor, GradientReversal.apply(x, scale))


def pool(memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the valid frames: memory (B, F, D), mask (B, F) True = valid -> (B, D)."""
    m = mask.to(memory.dtype).unsqueeze(-1)  # (B, F, 1)
    return (memory * m).sum(1) / m.sum(1).clamp_min(1.0)


def identity_class(source_index: torch.Tensor, guitar_id: torch.Tensor, classes: int) -> torch.Tensor:
    """(B,) int64 bucket of (mix part, procedural guitar id or -1): ``(part * 7919 + id + 1) mod classes``."""
    return (source_index.long() * _PART_STRIDE + guitar_id.long() + 1).remainder(classes)


@dataclass
class GuitarLabels:
    """Who played each clip of a batch (B,): mix part, procedural guitar id (-1: another source), descriptors (B, D)."""

    source_index: torch.Tensor
    guitar_id: torch.Tensor
    descriptors: torch.Tensor


def guitar_labels(batch: dict[str, Any]) -> GuitarLabels | None:
    """The batch's labels, None when its items lack them (a folder made before they existed).

    Read before ``ddspfx.invariance.with_pairs``: a paired batch's second half (``*_pair``) was played by other
    guitars, so its labels are appended in the order ``with_pairs`` stacks the clips.
    """
    if "guitar_id" not in batch:
        return None
    keys = ("source_index", "guitar_id", "guitar_descriptors")
    parts = [batch[k] for k in keys]
    if "wet_pair" in batch:
        parts = [torch.cat([p, batch[f"{k}_pair"]]) for p, k in zip(parts, keys)]
    return GuitarLabels(*parts)


class GuitarAdversary(nn.Module):
    """Pooled memory (B, D) -> reversed gradient -> MLP -> identity logits (B, classes), descriptor logits (B, n)."""

    def __init__(self, dim: int, classes: int, n_descriptors: int, scale: float = 1.0, hidden: int = 0) -> None:
        super().__init__()
        if classes < 2:
            raise ValueError(f"the adversary needs at least 2 identity classes, got {classes}")
        hidden = hidden or dim
        self.classes, self.scale = int(classes), float(scale)
        self.body = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU())
        self.identity = nn.Linear(hidden, classes)
        self.descriptors = nn.Linear(hidden, n_descriptors)

    def forward(self, memory: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(reverse_gradient(pool(memory.float(), mask), self.scale))  # (B, H)
        return {"identity_logits": self.identity(h), "descriptor_logits": self.descriptors(h)}

    def loss(self, memory: torch.Tensor, mask: torch.Tensor, labels: GuitarLabels) -> dict[str, torch.Tensor]:
        """``adversary`` (identity CE + descriptor BCE over procedural clips), ``adversary_acc`` (identity accuracy)
        and ``adversary_descriptors`` (the BCE alone; 0 without a procedural clip)."""
        out = self(memory, mask)
        target = identity_class(labels.source_index, labels.guitar_id, self.classes).to(memory.device)
        ce = F.cross_entropy(out["identity_logits"], target)
        known = (labels.guitar_id >= 0).to(memory.device)  # (B,) procedural clips: descriptors known
        bce = F.binary_cross_entropy_with_logits(out["descriptor_logits"], labels.descriptors.to(memory.device).float(),
                                                 reduction="none").mean(-1)  # (B,)
        desc = (bce * known).sum() / known.sum().clamp_min(1)
        acc = (out["identity_logits"].argmax(-1) == target).float().mean()
        return {"adversary": ce + desc, "adversary_acc": acc, "adversary_descriptors": desc}


__all__ = ["GradientReversal", "GuitarAdversary", "GuitarLabels", "guitar_labels", "identity_class", "pool",
           "reverse_gradient"]
