"""LightningDataModule over EffectsDataset with disjoint seed ranges per split.

Seeds: train examples come from seed 0 (indices 0..train_size-1), validation from
10_000_000, and 20_000_000.. is reserved for held-out evaluation (``ddspfx.evaluate``), so no
clip is ever shared between splits. Examples are generated deterministically from
(seed, index), so workers and resumed runs see the same data.
"""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.config import DataConfig
from ddspfx.errors import DdspfxError

TRAIN_SEED = 0
VAL_SEED = 10_000_000
TEST_SEED = 20_000_000


def sampler_config(cfg: DataConfig):
    from ddspfx.sampler import SamplerConfig

    return SamplerConfig(max_effects=cfg.max_effects, min_effects=cfg.min_effects, order=cfg.order)


def make_dataset(cfg: DataConfig, split: str, sample_rate: int = SAMPLE_RATE, dac_weights_hash: str | None = None):
    """The EffectsDataset of ``split`` ("train" or "val").

    With a materialised folder and ``dac_weights_hash`` (a DAC front end), items carry the codes
    cached by ``python -m ddspfx.data encode``, so the codec does not run every epoch.
    """
    from ddspfx.data import EffectsDataset

    folder = cfg.train_folder if split == "train" else cfg.val_folder
    if folder:
        return EffectsDataset.from_folder(folder, dac_weights_hash=dac_weights_hash)
    seed, n = (TRAIN_SEED, cfg.train_size) if split == "train" else (VAL_SEED, cfg.val_size)
    if seed + n > (VAL_SEED if split == "train" else TEST_SEED):
        raise DdspfxError(f"data.{split}_size {n} would overlap the next split's seed range; keep it below 10_000_000")
    return EffectsDataset(source_spec=cfg.source, n=n, seed=seed, duration_s=cfg.duration_s,
                          sample_rate=sample_rate, sampler=sampler_config(cfg))


class EffectsDataModule(L.LightningDataModule):
    def __init__(self, cfg: DataConfig, sample_rate: int = SAMPLE_RATE, dac_weights_hash: str | None = None) -> None:
        super().__init__()
        self.cfg, self.sample_rate, self.dac_weights_hash = cfg, sample_rate, dac_weights_hash
        self.train_set = self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set = make_dataset(self.cfg, "train", self.sample_rate, self.dac_weights_hash)
            self.val_set = make_dataset(self.cfg, "val", self.sample_rate, self.dac_weights_hash)

    def _loader(self, dataset, shuffle: bool) -> DataLoader:
        from ddspfx.data import collate

        w = self.cfg.num_workers
        return DataLoader(dataset, batch_size=self.cfg.batch_size, shuffle=shuffle, num_workers=w,
                          collate_fn=collate, persistent_workers=w > 0, drop_last=shuffle,
                          prefetch_factor=4 if w > 0 else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
