"""The CNN-on-mel baseline: a small 2-D CNN over a log-mel spectrogram with three heads.

The kind of classifier published for guitar-effect recognition (e.g. Comunità, Stowell and
Reiss, "Guitar effects recognition and parameter estimation with convolutional neural
networks", JAES 2021: conv blocks over a spectrogram, global pooling, dense heads), extended
to chains: a presence head (N sigmoids), a slot head (per effect, a softmax over the
``max_effects`` chain positions) and a parameter head (N x MAX_PARAMS values in [0, 1]).
It has no decoder and no proxies: it is the "plain classifier" row of the evaluation table,
trained on the same data (``EffectsDataset``, train seeds 0..) for the same wall-clock budget
as the main model.

Decoding always yields a valid chain: effects with presence > 0.5 (at most ``max_effects``,
the most probable), placed in the first k slots by a Hungarian assignment on -log p(slot),
with parameters denormalised through the catalog table.

``python -m ddspfx.baselines.cnn train --out DIR [--max-time-min 28] [--batch-size 32]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, SAMPLE_RATE, denormalise_params, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.checkpoint import fill_weights, read_weights
from ddspfx.config import load_config
from ddspfx.data.collate import collate
from ddspfx.datamodule import make_dataset
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text, file_sha256
from ddspfx.frontends.conv import conv_blocks, pooled_length
from ddspfx.frontends.mel import log_mel, mel_filterbank
from ddspfx.metrics import PresenceCounts
from ddspfx.training import data_description

FORMAT = "ddspfx-cnn-baseline"
FORMAT_VERSION = 1
WEIGHTS_NAME = "cnn.safetensors"
SIDECAR_NAME = "cnn.json"


@dataclass
class CNNConfig:
    sample_rate: int = SAMPLE_RATE  # analysis rate (Hz)
    clip_seconds: float = 2.0  # training clip length (s); recorded for users of the checkpoint
    n_fft: int = 2048  # STFT size (samples), as the main model's mel front end
    hop: int = 512  # STFT hop (samples)
    n_mels: int = 80  # mel bands
    f_min: float = 30.0  # lowest mel edge (Hz)
    f_max: float = 16000.0  # highest mel edge (Hz)
    channels: tuple[int, ...] = (16, 32, 64, 128)  # conv blocks (3x3 conv, BN, ReLU, 2x2 max-pool each)
    hidden: int = 256  # dense trunk width after global pooling
    dropout: float = 0.2  # dropout before the heads
    max_effects: int = 5  # chain slots the position head predicts over

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CNNConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DdspfxError(f"CNN baseline config has unknown key {unknown[0]}; made by another ddspfx version?")
        kwargs = dict(data)
        if "channels" in kwargs:
            kwargs["channels"] = tuple(int(c) for c in kwargs["channels"])
        return cls(**kwargs)


def slot_targets(order: torch.Tensor, length: torch.Tensor, max_effects: int) -> torch.Tensor:
    """(B, N) chain position of each effect, -1 where absent, from the dataset's ``order`` (B, N) and ``length`` (B,)."""
    b, n = order.shape
    slots = torch.full((b, n), -1, dtype=torch.int64, device=order.device)
    pos = torch.arange(n, device=order.device).expand(b, n)  # (B, N) slot index of order[:, s]
    valid = pos < length[:, None].clamp(max=max_effects)
    slots.scatter_(1, order, torch.where(valid, pos, torch.full_like(pos, -1)))
    return slots


def assign_slots(log_p: np.ndarray) -> list[int]:
    """Order k chosen effects: Hungarian assignment to slots 0..k-1 maximising summed log p.

    ``log_p`` is (k, S) with S >= k; returns row indices sorted by assigned slot.
    """
    k = log_p.shape[0]
    if k == 0:
        return []
    rows, cols = linear_sum_assignment(-log_p[:, :k])
    return [int(r) for _, r in sorted(zip(cols, rows))]


class CNNBaseline(nn.Module):
    """``audio (B, T) -> presence logits (B, N), slot logits (B, N, S), params (B, N, MAX_PARAMS) in [0, 1]``."""

    window: torch.Tensor  # (n_fft,) buffer
    fb: torch.Tensor  # (n_mels, n_fft // 2 + 1) buffer

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or CNNConfig()
        self.n_effects = len(EFFECT_NAMES)
        self.metadata: dict[str, Any] = {}  # the sidecar, once loaded from files
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        fb = mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min, min(c.f_max, c.sample_rate / 2))
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        self.conv = conv_blocks(c.channels, [(2, 2)] * len(c.channels))
        c_in = c.channels[-1]
        self.trunk = nn.Sequential(nn.Linear(2 * c_in, c.hidden), nn.ReLU(inplace=True), nn.Dropout(c.dropout))
        n, s = self.n_effects, c.max_effects
        self.presence_head = nn.Linear(c.hidden, n)
        self.slot_head = nn.Linear(c.hidden, n * s)
        self.param_head = nn.Linear(c.hidden, n * MAX_PARAMS)

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    def _valid_frames(self, lengths: torch.Tensor, frames: int) -> torch.Tensor:
        """(B,) valid CNN output frames for audio ``lengths`` (samples): centred STFT, then ceil-halving per block."""
        v = torch.div(lengths, self.config.hop, rounding_mode="floor") + 1
        v = pooled_length(v, [2] * len(self.config.channels))
        return v.clamp(1, frames)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        c = self.config
        with torch.autocast(device_type=audio.device.type, enabled=False):
            x = (log_mel(audio.float(), self.window, self.fb, c.n_fft, c.hop) + 10.0) / 5.0  # (B, F, M), as MelFrontEnd
        y = self.conv(x.transpose(1, 2)[:, None])  # (B, C, M', F')
        y = y.mean(dim=2)  # (B, C, F'): frequency pooled
        b, _, f = y.shape
        if lengths is None:
            pooled = torch.cat([y.mean(-1), y.amax(-1)], dim=1)  # (B, 2C)
        else:
            valid = self._valid_frames(lengths.to(audio.device), f)
            mask = (torch.arange(f, device=audio.device)[None, :] < valid[:, None])[:, None, :]  # (B, 1, F')
            mean = (y * mask).sum(-1) / mask.sum(-1)
            peak = y.masked_fill(~mask, float("-inf")).amax(-1)
            pooled = torch.cat([mean, peak], dim=1)  # (B, 2C)
        h = self.trunk(pooled)  # (B, H)
        n, s = self.n_effects, c.max_effects
        return {
            "presence": self.presence_head(h),  # (B, N) logits
            "slots": self.slot_head(h).view(b, n, s),  # (B, N, S) logits
            "params": torch.sigmoid(self.param_head(h).view(b, n, MAX_PARAMS)),  # (B, N, P) in [0, 1]
        }

    def loss(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """BCE on presence + CE on the slot of present effects + L1 on their normalised params."""
        out = self(batch["wet"], batch.get("lengths"))
        presence = batch["presence"].to(out["presence"].dtype)
        bce = F.binary_cross_entropy_with_logits(out["presence"], presence)
        slots = slot_targets(batch["order"], batch["length"], self.config.max_effects)  # (B, N)
        present = slots >= 0
        if present.any():
            ce = F.cross_entropy(out["slots"][present], slots[present])
        else:
            ce = out["slots"].sum() * 0.0
        mask = batch["param_mask"].to(out["params"].dtype)
        l1 = ((out["params"] - batch["params"]).abs() * mask).sum() / mask.sum().clamp(min=1.0)
        total = bce + ce + l1
        return total, {"loss": float(total.detach()), "presence_bce": float(bce.detach()),
                       "slot_ce": float(ce.detach()), "param_l1": float(l1.detach())}

    @torch.inference_mode()
    def decode(self, out: dict[str, torch.Tensor], threshold: float = 0.5) -> list[Chain]:
        """Head outputs -> one valid Chain per clip (presence > threshold, Hungarian order, catalog params)."""
        prob = torch.sigmoid(out["presence"]).cpu().numpy()  # (B, N)
        log_slot = torch.log_softmax(out["slots"].float(), dim=-1).cpu().numpy()  # (B, N, S)
        params = out["params"].float().cpu().numpy()  # (B, N, P)
        chains = []
        for b in range(prob.shape[0]):
            chosen = [int(e) for e in np.argsort(-prob[b], kind="stable") if prob[b, e] > threshold]
            chosen = chosen[: self.config.max_effects]
            ordered = [chosen[i] for i in assign_slots(log_slot[b, chosen])]
            chains.append(Chain([Pedal(EFFECT_NAMES[e], denormalise_params(EFFECT_NAMES[e],
                                                                            params[b, e, : len(get_effect(EFFECT_NAMES[e]).params)]))
                                 for e in ordered]))
        return chains

    def predict_chains(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> list[Chain]:
        """``audio`` (B, T) mono at ``sample_rate``, peak-normalised like the training wets -> B chains."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return self.decode(self(audio, lengths))
        finally:
            self.train(was_training)

    def predict_clips(self, clips: Sequence[np.ndarray], batch_size: int = 32) -> list[Chain]:
        """Many mono float clips of any lengths -> one chain each (batched, zero-padded with lengths)."""
        chains: list[Chain] = []
        for s in range(0, len(clips), batch_size):
            chunk = [np.asarray(c, dtype=np.float32).reshape(-1) for c in clips[s:s + batch_size]]
            n = max(c.shape[0] for c in chunk)
            batch = np.zeros((len(chunk), n), dtype=np.float32)
            for j, c in enumerate(chunk):
                batch[j, : c.shape[0]] = c
            device = self.fb.device
            chains += self.predict_chains(torch.from_numpy(batch).to(device),
                                          torch.tensor([c.shape[0] for c in chunk], device=device))
        return chains

    # --- files -------------------------------------------------------------------------

    def save(self, folder: str | Path, notes: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write ``folder/cnn.safetensors`` and ``folder/cnn.json`` atomically (no pickles)."""
        folder = Path(folder)
        weights = folder / WEIGHTS_NAME
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(weights) as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
            digest = file_sha256(tmp)
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "weights": WEIGHTS_NAME, "sha256": digest,
            "config": asdict(self.config), "effects": list(EFFECT_NAMES), "max_params": MAX_PARAMS,
            "parameters": int(sum(p.numel() for p in self.parameters())), "notes": notes or {},
        }
        side = folder / SIDECAR_NAME
        atomic_write_text(side, json.dumps(meta, indent=2, default=str) + "\n")
        return weights, side

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> "CNNBaseline":
        """Load a baseline saved by :meth:`save` (a folder, or its ``cnn.safetensors``), in eval mode."""
        folder = Path(folder)
        if folder.suffix in (".safetensors", ".json"):
            folder = folder.parent
        weights, side = folder / WEIGHTS_NAME, folder / SIDECAR_NAME
        if not weights.is_file() or not side.is_file():
            raise DdspfxError(f"no CNN baseline in {folder} (needs {WEIGHTS_NAME} and {SIDECAR_NAME}); "
                              f"train one with python -m ddspfx.baselines.cnn train --out {folder}")
        try:
            meta = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DdspfxError(f"{side} is not valid JSON; retrain or re-save the CNN baseline") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise DdspfxError(f"{side} is not a CNN baseline sidecar (format {FORMAT!r} expected)")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise DdspfxError(f"{side} has format version {meta.get('format_version')}; upgrade ddspfx")
        if meta.get("effects") != list(EFFECT_NAMES) or meta.get("max_params") != MAX_PARAMS:
            raise DdspfxError(f"{weights} was trained with another effect catalog ({meta.get('effects')}); retrain it")
        if meta.get("sha256") and meta["sha256"] != file_sha256(weights):
            raise DdspfxError(f"{weights} does not match {side.name} (SHA-256 differs): corrupt or mixed files; re-save it")
        state = read_weights(weights, str(weights), "retrain or re-save it")
        model = cls(CNNConfig.from_dict(meta["config"]))
        fill_weights(model, state, str(weights), "CNN", "re-save it")
        model.metadata = meta
        return model.to(device).eval()


# --- training ----------------------------------------------------------------------------


@dataclass
class CnnTrainConfig:
    max_time_min: float = 28.0  # wall-clock budget (minutes), the main model's trainer.max_time_min
    max_steps: int = 100_000  # step cap; the time budget normally ends the run first
    batch_size: int = 32  # clips per step, as the main model's data.batch_size
    lr: float = 1e-3  # AdamW peak learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    warmup_steps: int = 200  # linear warm-up, then cosine decay over the elapsed fraction of the time budget
    min_lr_ratio: float = 0.05  # cosine floor as a fraction of lr
    grad_clip: float = 1.0  # gradient-norm clip
    val_every: int = 500  # steps between validations (and checkpoint writes)
    val_clips: int = 128  # validation clips (validation seed range), rendered once
    seed: int = 0  # weights, shuffling
    threads: int = 1  # torch CPU threads (the data worker gets the other core)
    num_workers: int = 1  # data-loader processes (rendering is CPU-bound)
    config: str = "default"  # main-model config whose data section defines the training data


def _lr_factor(step: int, elapsed_fraction: float, tc: CnnTrainConfig) -> float:
    if step < tc.warmup_steps:
        return (step + 1) / tc.warmup_steps
    progress = min(1.0, max(0.0, elapsed_fraction))
    return tc.min_lr_ratio + (1 - tc.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def validate(model: CNNBaseline, batches: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean loss terms and presence micro-F1 / exact-chain accuracy on pre-rendered batches."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    counts = PresenceCounts.empty()
    exact, n = 0, 0
    for batch in batches:
        _, terms = model.loss(batch)
        for k, v in terms.items():
            totals[k] = totals.get(k, 0.0) + v * len(batch["chain"])
        preds = model.decode(model(batch["wet"]))
        for truth_json, pred in zip(batch["chain"], preds):
            truth = Chain.from_json(truth_json).effects
            counts.add(truth, pred.effects)
            exact += truth == pred.effects
        n += len(batch["chain"])
    model.train(was_training)
    out = {f"val/{k}": v / max(n, 1) for k, v in totals.items()}
    out["val/micro_f1"] = float(counts.scores()["micro_f1"])
    out["val/exact_chain_acc"] = exact / max(n, 1)
    return out


def train_cnn(out: str | Path, tc: CnnTrainConfig, model_config: CNNConfig | None = None, progress: bool = True) -> dict[str, Any]:
    """Train on the main model's data (same source, sampler, seeds) for ``tc.max_time_min``; save to ``out``."""
    start = time.time()  # the budget counts everything the main model's run counts: data, validation, saving
    out = Path(out)
    cfg = load_config(tc.config)
    torch.set_num_threads(max(1, tc.threads))
    torch.manual_seed(tc.seed)
    mc = model_config or CNNConfig(clip_seconds=cfg.data.duration_s, max_effects=cfg.data.max_effects)
    model = CNNBaseline(mc)
    train_set = make_dataset(cfg.data, "train", mc.sample_rate)
    val_set = make_dataset(cfg.data, "val", mc.sample_rate)
    generator = torch.Generator().manual_seed(tc.seed)
    loader = DataLoader(train_set, batch_size=tc.batch_size, shuffle=True, drop_last=True, collate_fn=collate,
                        num_workers=tc.num_workers, generator=generator,
                        prefetch_factor=4 if tc.num_workers > 0 else None, persistent_workers=tc.num_workers > 0)
    n_val = min(tc.val_clips, len(val_set))
    val_batches = [collate([val_set[i] for i in range(s, min(s + tc.batch_size, n_val))])
                   for s in range(0, n_val, tc.batch_size)]
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    budget_s = tc.max_time_min * 60.0
    step, history, metrics = 0, [], {}
    bar = tqdm(total=None if budget_s > 0 else tc.max_steps, desc="cnn baseline", unit="step", disable=not progress,
               dynamic_ncols=True)
    notes = {"data": data_description(cfg), "train": asdict(tc),
             "reproduce": f"python -m ddspfx.baselines.cnn train --out {out} --max-time-min {tc.max_time_min:g} "
                          f"--batch-size {tc.batch_size}"}
    model.train()
    done = False
    while not done:
        for batch in loader:
            elapsed = time.time() - start
            if step >= tc.max_steps or (budget_s > 0 and elapsed >= budget_s):
                done = True
                break
            for g in opt.param_groups:
                g["lr"] = tc.lr * _lr_factor(step, elapsed / budget_s if budget_s > 0 else step / tc.max_steps, tc)
            loss, terms = model.loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{terms['loss']:.3f}", refresh=False)
            if step % tc.val_every == 0:
                metrics = validate(model, val_batches) | {"step": step, "elapsed_s": round(time.time() - start, 1)}
                history.append(metrics)
                bar.write(json.dumps(metrics))
                model.save(out, notes | {"metrics": metrics, "history": history})
    bar.close()
    metrics = validate(model, val_batches) | {"step": step, "elapsed_s": round(time.time() - start, 1)}
    history.append(metrics)
    model.save(out, notes | {"metrics": metrics, "history": history})
    atomic_write_text(out / "history.json", json.dumps(history, indent=2) + "\n")
    return {"folder": out, "metrics": metrics, "steps": step, "seconds": time.time() - start}


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.baselines.cnn", description="The CNN-on-mel baseline classifier.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on the main model's data for the same wall-clock budget")
    t.add_argument("--out", required=True, help="folder for cnn.safetensors, cnn.json and history.json")
    t.add_argument("--max-time-min", type=float, default=CnnTrainConfig.max_time_min, help="wall-clock budget (default 28)")
    t.add_argument("--max-steps", type=int, default=CnnTrainConfig.max_steps, help="step cap (default: time decides)")
    t.add_argument("--batch-size", type=int, default=CnnTrainConfig.batch_size, help="clips per step (default 32)")
    t.add_argument("--lr", type=float, default=CnnTrainConfig.lr)
    t.add_argument("--val-every", type=int, default=CnnTrainConfig.val_every)
    t.add_argument("--val-clips", type=int, default=CnnTrainConfig.val_clips)
    t.add_argument("--seed", type=int, default=CnnTrainConfig.seed)
    t.add_argument("--threads", type=int, default=CnnTrainConfig.threads)
    t.add_argument("--num-workers", type=int, default=CnnTrainConfig.num_workers)
    t.add_argument("--config", default=CnnTrainConfig.config, help="main-model config whose data section to use (default: default)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.max_steps < 1 or args.val_every < 1:
        raise DdspfxError("--batch-size, --max-steps and --val-every must be at least 1")
    if args.max_time_min < 0:
        raise DdspfxError("--max-time-min must be >= 0 (0 = no time limit)")
    if (Path(args.out) / WEIGHTS_NAME).exists():
        raise DdspfxError(f"{args.out} already holds a CNN baseline; choose another --out")
    tc = CnnTrainConfig(max_time_min=args.max_time_min, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
                     val_every=args.val_every, val_clips=args.val_clips, seed=args.seed, threads=args.threads,
                     num_workers=args.num_workers, config=args.config)
    result = train_cnn(args.out, tc, progress=not args.no_progress)
    print(json.dumps({"folder": str(result["folder"]), "steps": result["steps"],
                      "seconds": round(result["seconds"], 1), **result["metrics"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
