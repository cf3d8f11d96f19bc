"""Level invariance: the model input is scaled to one RMS, so a recording's level cannot change the answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddspfx.config import ModelConfig, model_config_from_dict
from ddspfx.model import DdspfxModel
from ddspfx.model.model import normalise_level
from ddspfx.sources import TARGET_DBFS


def test_normalise_level_known_values():
    t = torch.arange(44_100) / 44_100
    sine = 0.5 * torch.sin(2 * torch.pi * 440 * t)  # RMS 0.5 / sqrt(2)
    y = normalise_level(sine[None])
    assert float(y.square().mean().sqrt()) == pytest.approx(10 ** (TARGET_DBFS / 20), rel=1e-4)

    padded = torch.cat([sine, torch.zeros(20_000)])[None]  # zeros past the clip's length do not count
    z = normalise_level(padded, torch.tensor([sine.numel()]))
    assert torch.allclose(z[0, : sine.numel()], y[0], atol=1e-6)
    silent = torch.zeros(1, 1000)
    assert torch.equal(normalise_level(silent), silent)  # nothing to hear: no gain


def test_model_with_input_level_hears_the_same_at_any_level():
    torch.manual_seed(0)
    model = DdspfxModel(ModelConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=1, input_level=True)).eval()
    rng = np.random.default_rng(0)
    clip = torch.from_numpy((0.1 * rng.standard_normal(44_100) * np.exp(-np.arange(44_100) / 8000)).astype(np.float32))
    with torch.inference_mode():
        ref, _ = model.encode(clip[None])
        for gain_db in (-30.0, -10.0, 0.0, 12.0):
            mem, _ = model.encode(clip[None] * 10 ** (gain_db / 20))
            assert torch.allclose(mem, ref, atol=1e-4)
        chains = {tuple(model.predict(clip[None] * g, beam=1)[0].chain.effects) for g in (0.03, 0.3, 1.0, 3.0)}
    assert len(chains) == 1


def test_models_saved_before_input_level_keep_their_behaviour():
    assert model_config_from_dict({"d_model": 128}).input_level is False
