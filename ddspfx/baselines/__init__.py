"""Baselines for the evaluation table that need training (the untrained ones live in ``ddspfx.evaluate``).

``CNNBaseline``: a CNN-on-mel multi-label + order + parameter classifier, trained on the same data
and wall-clock budget as the main model (``python -m ddspfx.baselines.cnn train --out DIR``).
Names are resolved lazily so ``python -m ddspfx.baselines.cnn`` does not import its module twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CNNBaseline", "CNNConfig", "CnnTrainConfig", "assign_slots", "slot_targets"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ddspfx.baselines import cnn  # lazily: python -m ddspfx.baselines.cnn would run a second copy

        return getattr(cnn, name)
    raise AttributeError(f"module 'ddspfx.baselines' has no attribute {name!r}")
