"""Calibrating a model's per-pedal presence thresholds on validation clips (never the test seeds).

Each pedal's threshold is chosen (:mod:`ddspfx.thresholds`) from the model's presence probabilities on
validation clips (seeds 10,000,000+). Measured on the first CNN-stem model (300 development clips): thresholds
0.5 -> accuracy -> f1 gave presence micro-F1 0.750 -> 0.772 -> 0.789, exact chain 0.277 -> 0.270 -> 0.217,
length error 0.75 -> 0.63 -> 0.74. Training (:func:`ddspfx.training.train`) calibrates (accuracy) on its
validation split before writing the model; :func:`recalibrate` (``python -m ddspfx.calibrate``) re-calibrates
an exported model, e.g. on your own dry guitar, and rewrites only its sidecar (the weights are unchanged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.checkpoint import load_model, update_sidecar
from ddspfx.config import DataConfig
from ddspfx.data.collate import collate
from ddspfx.datamodule import make_dataset
from ddspfx.thresholds import best_thresholds, f1_per_pedal


def presence_probabilities(model: Any, dataset: Any, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(presence probabilities (M, N), true presence (M, N)) of the model on every item of ``dataset``."""
    probs, labels = [], []
    columns = [EFFECT_NAMES.index(e) for e in model.effects]  # the data's presence targets hold every catalog effect
    model.eval()
    with torch.no_grad():
        for s in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(s, min(s + batch_size, len(dataset)))])
            lengths = batch["audio_mask"].sum(-1) if "audio_mask" in batch else None
            memory, mask = model.encode(batch["wet"], lengths, codes=batch.get("dac_codes"),
                                        dry=batch["dry"] if model.hears_dry else None)
            probs.append(torch.sigmoid(model.heads(memory, mask)["presence_logits"].float()).numpy())
            labels.append(batch["presence"].numpy()[:, columns])
    return np.concatenate(probs), np.concatenate(labels)


def calibrate(model: Any, dataset: Any, objective: str = "accuracy", batch_size: int = 32) -> dict[str, Any]:
    """Set ``model.presence_thresholds`` from ``dataset``; returns the thresholds and F1 before/after."""
    probs, labels = presence_probabilities(model, dataset, batch_size)
    th = best_thresholds(probs, labels, objective)
    before, after = f1_per_pedal(probs, labels, 0.5), f1_per_pedal(probs, labels, th)
    model.presence_thresholds = torch.tensor(th, dtype=torch.float32)
    names = model.effects
    return {"thresholds": dict(zip(names, th.tolist())), "objective": objective, "clips": int(len(probs)),
            "f1_at_0.5": dict(zip(names, np.round(before, 4).tolist())),
            "f1_calibrated": dict(zip(names, np.round(after, 4).tolist()))}


def recalibrate(checkpoint: str | Path | None, source: str = "synth", clips: int = 512, objective: str = "accuracy",
                threads: int = 1) -> tuple[dict[str, Any], Path]:
    """Calibrate an exported model (``None``: the shipped one) on ``clips`` validation clips from the dry
    ``source`` and write the thresholds into its sidecar only; returns (:func:`calibrate`'s result with its
    ``"source"``, the sidecar written)."""
    torch.set_num_threads(max(1, threads))
    model = load_model(checkpoint)
    cfg = DataConfig(source=source, val_size=clips, duration_s=model.clip_seconds,
                     max_effects=model.config.max_effects, effects=model.config.effects)
    result = calibrate(model, make_dataset(cfg, "val", model.sample_rate), objective)
    result["source"] = source
    side = update_sidecar(model.checkpoint_path, presence_thresholds=result["thresholds"], calibration=result)
    return result, side
