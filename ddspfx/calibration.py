"""Calibrating a model's per-pedal presence thresholds on validation clips (never the test seeds).

Each pedal's threshold is chosen (:mod:`ddspfx.thresholds`) from the model's presence probabilities on
validation clips (seeds 10,000,000+). Measured on the first CNN-stem model (300 development clips): thresholds
0.5 -> accuracy -> f1 gave presence micro-F1 0.750 -> 0.772 -> 0.789, exact chain 0.277 -> 0.270 -> 0.217,
length error 0.75 -> 0.63 -> 0.74. Training (:func:`ddspfx.training.train`) calibrates (accuracy) on its
validation split before writing the model; :func:`recalibrate` (``python -m ddspfx.calibrate``) re-calibrates
an exported model, e.g. on your own dry guitar, and rewrites only its sidecar (the weights are unchanged).

Which chains the calibration clips carry matters as much as the guitar: a threshold is a statement about how
often a pedal is there, so it must be chosen on the chain distribution the model was trained on. Re-calibration
therefore draws chains with the run's own sampler settings (:data:`SAMPLER_SETTINGS`, from the sidecar's
recorded training config) on whatever dry source it is given. Measured on a thirteen-type model trained with
weighted types: thresholds chosen on a uniform draw of the types scored presence micro-F1 0.840 on seven-type
synth chains, on its weighted training draw 0.866. A sidecar that records no training config keeps the uniform
draw over the model's pedal types.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.checkpoint import load_model, update_sidecar
from ddspfx.config import DataConfig
from ddspfx.data.collate import collate
from ddspfx.datamodule import make_dataset
from ddspfx.thresholds import best_thresholds, f1_per_pedal, micro_f1


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
            "f1_calibrated": dict(zip(names, np.round(after, 4).tolist())),
            "micro_f1_at_0.5": round(micro_f1(probs, labels, 0.5), 4),
            "micro_f1_calibrated": round(micro_f1(probs, labels, th), 4)}


SAMPLER_SETTINGS: tuple[str, ...] = ("max_effects", "min_effects", "order", "effects", "effect_weights",
                                     "whole_ranges", "drop_inaudible")
"""The ``data.*`` settings that decide which chains are drawn on a validation clip (the training-only
augmentations never reach validation clips: :func:`ddspfx.datamodule.recipe_from_config`)."""


def trained_sampler(model: Any) -> dict[str, Any]:
    """The sampler settings of :data:`SAMPLER_SETTINGS` that the model's sidecar records from its training run
    (``notes.config.data``, written by :func:`ddspfx.training.train`); only those recorded, none for a model
    exported without its config. An empty ``effects`` ("every catalog effect" when it trained) is left out:
    the model's own resolved list says which effects that was."""
    notes = (getattr(model, "metadata", None) or {}).get("notes") or {}
    data = (notes.get("config") or {}).get("data") or {}
    recorded = {k: data[k] for k in SAMPLER_SETTINGS if k in data}
    if not recorded.get("effects"):
        recorded.pop("effects", None)
    return recorded


def calibration_data(model: Any, source: str, clips: int, trained_chains: bool = True) -> DataConfig:
    """The data config of a model's calibration clips: ``clips`` validation clips of ``source`` at the model's
    clip length, chains drawn as the model's training drew them (``trained_chains``: its recorded sampler
    settings, e.g. its effect weights) or uniformly over the model's pedal types (before: the only way)."""
    cfg = DataConfig(source=source, val_size=clips, duration_s=model.clip_seconds,
                     max_effects=model.config.max_effects, effects=model.config.effects)
    return dataclasses.replace(cfg, **trained_sampler(model)) if trained_chains else cfg


def chains_description(cfg: DataConfig) -> dict[str, Any]:
    """The sampler settings of ``cfg`` (:data:`SAMPLER_SETTINGS`), as recorded in a calibration's result."""
    return {k: getattr(cfg, k) for k in SAMPLER_SETTINGS}


def recalibrate(checkpoint: str | Path | None, source: str = "synth", clips: int = 512, objective: str = "accuracy",
                threads: int = 1, trained_chains: bool = True) -> tuple[dict[str, Any], Path]:
    """Calibrate an exported model (``None``: the shipped one) on ``clips`` validation clips from the dry
    ``source``, chains drawn as in its training (:func:`calibration_data`), and write the thresholds into its
    sidecar only; returns (:func:`calibrate`'s result with its ``"source"`` and ``"chains"``, the sidecar
    written)."""
    torch.set_num_threads(max(1, threads))
    model = load_model(checkpoint)
    cfg = calibration_data(model, source, clips, trained_chains)
    result = calibrate(model, make_dataset(cfg, "val", model.sample_rate), objective)
    result["source"] = source
    drawn_as = "training" if trained_chains and trained_sampler(model) else "uniform"
    result["chains"] = {**chains_description(cfg), "drawn_as": drawn_as}
    side = update_sidecar(model.checkpoint_path, presence_thresholds=result["thresholds"], calibration=result)
    return result, side
