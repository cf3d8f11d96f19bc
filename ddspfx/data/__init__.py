"""Training data: pedalboard-rendered (dry, wet, chain) examples.

``ddspfx.data.dataset.EffectsDataset`` items are dicts with
``"dry"``/``"wet"`` float32 (T,), ``"tokens"`` int64 (L,) PedalVocab ids, ``"presence"`` float32 (N,),
``"order"`` int64 (N,) effect id per chain slot (absent effects fill the tail in catalog order, so it is
a full permutation), ``"length"`` int64 () real slots, ``"params"`` float32 (N, MAX_PARAMS) normalised,
``"param_mask"`` bool (N, MAX_PARAMS), ``"output_gain"`` float32 (), ``"chain"`` JSON string.
N = len(EFFECT_NAMES). ``ddspfx.data.collate.collate`` batches them. ``python -m ddspfx.data make|preview``
materialises (:mod:`ddspfx.data.materialise`, :mod:`ddspfx.data.preview`).

Nothing is imported here: ``python -m ddspfx.data`` runs this file first and must answer a bad flag before
torch loads, so import from the submodules.
"""
