"""The front-end interface: audio -> a sequence of frame tokens for the transformer."""

from __future__ import annotations

import abc
from typing import Any

from torch import nn


class FrontEnd(nn.Module, abc.ABC):
    """``forward(audio (B, T), lengths (B,) | None) -> (tokens (B, F, D), mask (B, F) bool)``.

    ``mask`` is True on valid frames. ``sample_rate`` is the rate the front end expects
    its input at; ``config()`` is stored in checkpoints so the same front end is rebuilt
    at inference.
    """

    name: str = "base"
    sample_rate: int
    dim: int

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this front end (stored in checkpoints)."""

    @abc.abstractmethod
    def frames_for(self, num_samples: int) -> int:
        """How many frames ``num_samples`` of audio become."""
