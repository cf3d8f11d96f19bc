"""ddspfx: which guitar pedals, in which order, with which settings.

Public API::

    import ddspfx
    chain = ddspfx.estimate(audio, sample_rate)   # -> ddspfx.Chain
    board = chain.to_pedalboard()                 # -> pedalboard.Pedalboard
"""

from ddspfx.catalog import EFFECT_NAMES, EFFECTS, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal

__version__ = "0.1.0"

__all__ = ["Chain", "Pedal", "EFFECTS", "EFFECT_NAMES", "SAMPLE_RATE", "estimate", "__version__"]


def estimate(audio, sample_rate: int, **kwargs) -> Chain:
    """Estimate the pedal chain of a wet guitar clip (see ``ddspfx.estimator.estimate``)."""
    from ddspfx.estimator import estimate as _estimate  # `import ddspfx` stays light: the model stack loads here

    return _estimate(audio, sample_rate, **kwargs)
