"""LightningDataModule over EffectsDataset with disjoint seed ranges per split.

Seeds: train examples come from seed 0 (indices 0..train_size-1), validation from
10_000_000, and 20_000_000.. is reserved for held-out evaluation (``ddspfx.evaluate``), so no
clip is ever shared between splits (the constants live in ``ddspfx.config``). Examples are generated deterministically from
(seed, index), so workers and resumed runs see the same data; the training order is a seeded
permutation per epoch that a resumed run re-enters where the interrupted one stopped
(``ResumableShuffle``), so ``--resume`` trains on examples it has not seen yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from ddspfx.catalog import SAMPLE_RATE, resolve_effects
from ddspfx.config import TEST_SEED_BASE, TRAIN_SEED, VAL_SEED, DataConfig
from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.layout import META
from ddspfx.data.recipe import Recipe
from ddspfx.errors import DdspfxError
from ddspfx.plugins.table import name_list
from ddspfx.sampler import SamplerConfig, check_order, effect_weights
from ddspfx.sources import reserved_spec
from ddspfx.sources.soundfont import check_training_source


def sampler_config(cfg: DataConfig) -> SamplerConfig:
    effects = resolve_effects(cfg.effects)
    return SamplerConfig(max_effects=cfg.max_effects, min_effects=cfg.min_effects, order=check_order(cfg.order),
                         effects=effects, effect_weights=effect_weights(cfg.effect_weights, effects),
                         whole_ranges=cfg.whole_ranges, drop_inaudible=cfg.drop_inaudible)


def recipe_from_config(cfg: DataConfig, split: str = "train") -> Recipe:
    """The data recipe of ``split``: augmentations apply to training only (validation is the plain chain)."""
    if split != "train":
        return Recipe(sampler=sampler_config(cfg))
    return Recipe(sampler=sampler_config(cfg), render_variants=cfg.render_variants, dry_tone=cfg.dry_tone,
                  noise_floor=cfg.noise_floor, plugin_render=cfg.plugin_render,
                  plugin_exclude=name_list(cfg.plugin_exclude), room=cfg.room, recording=cfg.recording,
                  pair=cfg.pair_guitars)


def check_folder(folder: str, cfg: DataConfig, split: str) -> None:
    """A materialised folder is trained on only if it was made from a training source with this config's recipe.

    Why: the folder's wet clips were rendered when it was made; a config asking for other augmentations would
    train on something else than the model card says. Folders made before recipes were recorded hold the plain
    chain sampler's clips, so their recipe is that.
    """
    meta_path = Path(folder) / META
    if not meta_path.is_file():
        raise DdspfxError(f"{folder} has no {META}: make it with python -m ddspfx.data make")
    meta = json.loads(meta_path.read_text())
    reason = reserved_spec(str(meta.get("source", "")))
    if reason:
        raise DdspfxError(f"{folder} was made from {meta.get('source')!r}, {reason}; make the folder from another source")
    made = Recipe.from_dict(meta["recipe"]) if "recipe" in meta else Recipe.from_dict({"sampler": meta.get("sampler", {})})
    wanted = recipe_from_config(cfg, split)
    diff = made.differences(wanted)
    # the sampler's drawing of chains is the folder's own business only where the config asks for nothing else
    if diff:
        raise DdspfxError(f"{folder} was made with another data recipe than data.* asks for ({'; '.join(diff)}); "
                          "make a folder with these settings or set data.* to the folder's")


def make_dataset(cfg: DataConfig, split: str, sample_rate: int = SAMPLE_RATE,
                 dac_weights_hash: str | None = None) -> EffectsDataset:
    """The EffectsDataset of ``split`` ("train" or "val").

    With a materialised folder and ``dac_weights_hash`` (a DAC front end), items carry the codes
    cached by ``python -m ddspfx.data encode``, so the codec does not run every epoch.
    """
    folder = cfg.train_folder if split == "train" else cfg.val_folder
    if folder:
        check_folder(folder, cfg, split)
        return EffectsDataset.from_folder(folder, dac_weights_hash=dac_weights_hash)
    seed, n = (TRAIN_SEED, cfg.train_size) if split == "train" else (VAL_SEED, cfg.val_size)
    if seed + n > (VAL_SEED if split == "train" else TEST_SEED_BASE):
        raise DdspfxError(f"data.{split}_size {n} would overlap the next split's seed range; keep it below 10_000_000")
    dataset = EffectsDataset(source_spec=cfg.source, n=n, seed=seed, duration_s=cfg.duration_s,
                             sample_rate=sample_rate, recipe=recipe_from_config(cfg, split))
    check_training_source(dataset.source)  # the held-out judges' SoundFonts never reach training or validation
    return dataset


class ResumableShuffle(Sampler[int]):
    """A seeded permutation of ``range(n)`` per epoch that can start part-way through one.

    Why: a plain shuffled DataLoader restarts its epoch from the top after ``--resume``, so a
    resumed run would replay the examples it already trained on. Here the permutation depends
    only on (seed, epoch), and ``seek(step, samples_per_step)`` skips what the interrupted run
    consumed. A resumed epoch still yields ``n`` indices, the consumed ones rotated to the end:
    Lightning restores its in-epoch batch counter and ends the epoch after the unseen part, and
    under DDP its sampler wrapper needs ``len()`` indices to deal out to the ranks (in order, so
    ``samples_per_step`` is the global batch: batch size x world size).
    """

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed = int(n), int(seed)
        self.epoch, self.start = 0, 0

    def seek(self, step: int, samples_per_step: int) -> None:
        """Position after ``step`` optimiser steps of ``samples_per_step`` examples (drop_last epochs)."""
        steps_per_epoch = max(1, self.n // samples_per_step)
        self.epoch, within = divmod(int(step), steps_per_epoch)
        self.start = within * samples_per_step

    def permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))

    def __iter__(self) -> Iterator[int]:
        perm = self.permutation(self.epoch)
        order = torch.cat([perm[self.start:], perm[:self.start]])
        self.epoch, self.start = self.epoch + 1, 0
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.n


class EffectsDataModule(L.LightningDataModule):
    def __init__(self, cfg: DataConfig, sample_rate: int = SAMPLE_RATE, dac_weights_hash: str | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.cfg, self.sample_rate, self.dac_weights_hash, self.seed = cfg, sample_rate, dac_weights_hash, seed
        self.train_set: EffectsDataset | None = None
        self.val_set: EffectsDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        self._datasets()

    def _datasets(self) -> tuple[EffectsDataset, EffectsDataset]:
        """(train, val), built on first use."""
        if self.train_set is None or self.val_set is None:
            self.train_set = make_dataset(self.cfg, "train", self.sample_rate, self.dac_weights_hash)
            self.val_set = make_dataset(self.cfg, "val", self.sample_rate, self.dac_weights_hash)
        return self.train_set, self.val_set

    def _loader(self, dataset, sampler: Sampler[int] | None = None) -> DataLoader:
        w = self.cfg.num_workers
        return DataLoader(dataset, batch_size=self.cfg.batch_size, sampler=sampler, num_workers=w,
                          collate_fn=collate, persistent_workers=w > 0, drop_last=sampler is not None,
                          prefetch_factor=4 if w > 0 else None)

    def train_dataloader(self) -> DataLoader:
        train_set = self._datasets()[0]
        sampler = ResumableShuffle(len(train_set), seed=self.seed)
        if self.trainer is not None:  # Lightning restores global_step before it asks for the loader
            sampler.seek(self.trainer.global_step, self.cfg.batch_size * self.trainer.world_size)
        return self._loader(train_set, sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._datasets()[1])
