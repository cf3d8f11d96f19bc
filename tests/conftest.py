"""Shared fixtures: a tiny (untrained) model checkpoint saved through the real export path."""

from __future__ import annotations

import pytest
import torch

# The suite's tensors are small: one intra-op thread is faster than two and immune to a busy
# machine (measured: a 20-step proxy fit took 1.5 s with 1 thread, 27 s with 2 beside a training run).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A debug-config model saved with ``ddspfx.checkpoint.save_model`` (safetensors + JSON sidecar)."""
    from ddspfx.checkpoint import save_model
    from ddspfx.config import load_config
    from ddspfx.model import DdspfxModel

    torch.manual_seed(0)
    cfg = load_config("debug")
    model = DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_model(model, path, data={"source": "none (untrained test model)"})
    return path


@pytest.fixture(scope="session")
def dry_checkpoint(tmp_path_factory):
    """A dry-aware (``frontend.paired``) debug model, untrained, saved through the real export path."""
    from ddspfx.checkpoint import save_model
    from ddspfx.config import load_config
    from ddspfx.model import DdspfxModel

    torch.manual_seed(1)
    cfg = load_config("debug", ["--model.frontend.paired", "true", "--model.input_level", "true"])
    path = tmp_path_factory.mktemp("dry") / "dry.safetensors"
    save_model(DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s), path, data={"source": "none (test)"})
    return path
