"""ddspfx: which guitar pedals, in which order, with which settings.

Public API::

    import ddspfx
    chain = ddspfx.estimate(audio, sample_rate)   # -> ddspfx.Chain
    board = chain.to_pedalboard()                 # -> pedalboard.Pedalboard
    dry = ddspfx.recover_dry(audio, sample_rate)  # -> the clean guitar, float32 (T,), lined up with the clip
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ddspfx.catalog import EFFECT_NAMES, EFFECTS, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal

if TYPE_CHECKING:
    import numpy as np

__version__ = "0.1.0"

__all__ = ["Chain", "Pedal", "EFFECTS", "EFFECT_NAMES", "SAMPLE_RATE", "estimate", "recover_dry", "__version__"]


def estimate(audio, sample_rate: int, **kwargs) -> Chain:
    """Estimate the pedal chain of a wet guitar clip (see ``ddspfx.estimator.estimate``)."""
    from ddspfx.estimator import estimate as _estimate  # `import ddspfx` stays light: the model stack loads here

    return _estimate(audio, sample_rate, **kwargs)


def recover_dry(audio: np.ndarray, sample_rate: int, **kwargs: Any) -> np.ndarray:
    """The clean guitar of a wet mono clip, float32 (T,), as long as ``audio`` and lined up with it, at
    ``sample_rate`` (see ``ddspfx.dry_recovery.recover_dry``: without a chain it needs the dry-recovery network, and
    says in one line when none is installed)."""
    from ddspfx.dry_recovery import recover_dry as _recover_dry  # `import ddspfx` stays light: torch loads here

    return _recover_dry(audio, sample_rate, **kwargs)
