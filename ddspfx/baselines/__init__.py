"""Baselines for the evaluation table that need training (the untrained ones live in ``ddspfx.evaluate``).

``ddspfx.baselines.cnn.CNNBaseline``: a CNN-on-mel multi-label + order + parameter classifier, trained on the same
data and wall-clock budget as the main model (``python -m ddspfx.baselines.cnn train --out DIR``). Import it from
``ddspfx.baselines.cnn``: this package re-exports nothing, so ``python -m ddspfx.baselines.cnn`` never imports its
module twice.
"""
