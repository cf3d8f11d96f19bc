"""Baselines for the evaluation table that need training (the untrained ones live in ``ddspfx.evaluate``).

``CNNBaseline``: a CNN-on-mel multi-label + order + parameter classifier, trained on the same data
and wall-clock budget as the main model (``python -m ddspfx.baselines.cnn train --out DIR``).
"""

from ddspfx.baselines.cnn import CNNBaseline, CNNConfig, TrainConfig, assign_slots, slot_targets

__all__ = ["CNNBaseline", "CNNConfig", "TrainConfig", "assign_slots", "slot_targets"]
