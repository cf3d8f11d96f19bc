"""Training data: pedalboard-rendered (dry, wet, chain) examples.

``EffectsDataset`` items are dicts with
``"dry"``/``"wet"`` float32 (T,), ``"tokens"`` int64 (L,) PedalVocab ids, ``"presence"`` float32 (N,),
``"order"`` int64 (N,) effect id per chain slot (absent effects fill the tail in catalog order, so it is
a full permutation), ``"length"`` int64 () real slots, ``"params"`` float32 (N, MAX_PARAMS) normalised,
``"param_mask"`` bool (N, MAX_PARAMS), ``"output_gain"`` float32 (), ``"chain"`` JSON string.
N = len(EFFECT_NAMES). ``collate`` batches them. ``python -m ddspfx.data make|preview`` materialises.
"""

from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset, example_seed, make_item
from ddspfx.targets import chain_targets

__all__ = ["EffectsDataset", "collate", "chain_targets", "example_seed", "make_item"]
