"""Train the dry-recovery network (``ddspfx.dry_recovery.DryRecoveryNet``) on the pairs the data pipeline makes.

``python -m ddspfx.dry_recovery_train --out DIR [--resume] [--max-time-min M] [--max-steps N] [--source S]``

Examples come from :func:`ddspfx.data.generate_example` on the training seeds (``ddspfx.config.TRAIN_SEED`` on;
validation clips from ``VAL_SEED``): a dry guitar from ``--source`` (default synth and procedural guitars), a chain
of 0-5 pedals from the project's sampler (a clip without pedals teaches the network to leave a dry alone), the
reference render. The loss is the negative SI-SDR of the network's dry against the true dry, softly capped at
30 dB (:data:`SI_SDR_CAP_DB`); the validation figures use the same cap.

Written to ``DIR``: ``last.pt`` (weights, optimiser, step, config: what ``--resume`` continues from),
``model.safetensors`` + ``model.json`` (the exportable network, ``ddspfx.dry_recovery.load_dry_model``), each
replaced atomically, and TensorBoard logs (``tensorboard --logdir DIR``): loss, validation SI-SDR improvement,
and validation audio (wet, true dry, recovered). The long run (see ``ddspfx.dry_recovery``'s docstring)::

    nice -n 19 python -m ddspfx.dry_recovery_train --out runs_dry/dry_recovery --max-time-min 600 --resume
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from ddspfx.config import TRAIN_SEED, VAL_SEED
from ddspfx.data.dataset import example_seed, generate_example
from ddspfx.data.recipe import Recipe
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, save_dry_model
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.sources import make_source, reserved_spec


@dataclass
class DryRecoveryTrainConfig:
    """One training run of the dry-recovery network."""

    source: str = "mix:synth=1,procedural=1"  # dry guitars (ddspfx.sources specs; never held-out banks)
    seconds: float = 1.5  # clip length in training (long enough for a 0.6-s echo and a reverb's body)
    batch: int = 8  # clips per step
    lr: float = 1e-3  # Adam
    max_effects: int = 5  # chains of 0..max_effects pedals
    min_effects: int = 0
    val_clips: int = 8  # validation clips (VAL_SEED on), scored every val_every steps
    val_every: int = 100
    audio_clips: int = 2  # validation clips written to TensorBoard as audio
    save_every: int = 100  # steps between checkpoints (one is also written at the end)
    seed: int = TRAIN_SEED  # first training seed (example i is example_seed(seed, i))
    pool: int = 0  # > 0: cycle over the first ``pool`` training examples, kept in memory (a smoke test on a slow CPU)
    model: DryRecoveryConfig = field(default_factory=DryRecoveryConfig)


SI_SDR_CAP_DB = 30.0
"""The loss's soft cap (Wisdom et al. 2020, "Unsupervised sound separation using mixture invariant training": SNR with
a threshold): a clip without pedals has wet == dry, an SI-SDR of 100+ dB, whose log would outweigh every other clip
(measured: with it, 8 validation clips of which some were dry scored the identity mask -13 dB below the wet)."""


def neg_si_sdr(est: torch.Tensor, ref: torch.Tensor, cap_db: float = SI_SDR_CAP_DB, eps: float = 1e-8) -> torch.Tensor:
    """Mean negative SI-SDR (dB) over a batch of (B, T) pairs (Le Roux et al. 2019, as ``ddspfx.metrics.si_sdr``),
    each softly capped at ``cap_db``: ``10 log10(|t|^2 / (|n|^2 + 10^(-cap/10) |t|^2))``."""
    est = est - est.mean(dim=-1, keepdim=True)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    target = (alpha * ref).pow(2).sum(-1)
    noise = (est - alpha * ref).pow(2).sum(-1)
    return -(10 * torch.log10((target + eps) / (noise + 10 ** (-cap_db / 10) * target + eps))).mean()


class PairStream:
    """(wet, dry) float32 (T,) pairs of a seed range, example ``i`` depending only on ``(seed, i)``."""

    def __init__(self, cfg: DryRecoveryTrainConfig, seed: int, pool: int = 0) -> None:
        why = reserved_spec(cfg.source)
        if why:
            raise DdspfxError(f"source {cfg.source!r} {why}: never train on it")
        self.source = make_source(cfg.source, cfg.model.sample_rate)
        self.recipe = Recipe(sampler=SamplerConfig(min_effects=cfg.min_effects, max_effects=cfg.max_effects))
        self.sampler = ChainSampler(self.recipe.sampler)
        self.cfg = cfg
        self.seed = seed
        self.pool = pool
        self.cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.pool > 0:
            index %= self.pool
            if index in self.cache:
                return self.cache[index]
        ex = generate_example(self.source, example_seed(self.seed, index), self.cfg.seconds, self.cfg.model.sample_rate,
                              self.recipe, self.sampler)
        if self.pool > 0:
            self.cache[index] = (ex.wet, ex.dry)
        return ex.wet, ex.dry

    def batch(self, start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(wet, dry) (n, T) of examples start .. start + n - 1."""
        pairs = [self.pair(start + k) for k in range(n)]
        return (torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs])))


def save_state(path: Path, model: DryRecoveryNet, opt: torch.optim.Optimizer, step: int, seen: int,
               cfg: DryRecoveryTrainConfig) -> None:
    """``last.pt`` (atomic): what ``--resume`` needs."""
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "seen": seen,
                    "config": dataclasses.asdict(cfg)}, tmp)


def load_state(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one message
        raise DdspfxError(f"cannot resume from {path} ({exc.__class__.__name__}); remove it or use another --out") from None


def dry_train_config_from_dict(d: dict[str, Any]) -> DryRecoveryTrainConfig:
    d = dict(d)
    return DryRecoveryTrainConfig(**{**d, "model": DryRecoveryConfig(**d.get("model", {}))})


def train_dry_recovery(cfg: DryRecoveryTrainConfig, out: Path, resume: bool = False,
                       max_time_min: float | None = None, max_steps: int | None = None, log: Any = print) -> dict[str, float]:
    """Train until ``max_time_min`` or ``max_steps``; returns the last validation figures."""
    state_path = out / "last.pt"
    state: dict[str, Any] | None = None
    if state_path.exists():
        if not resume:
            raise DdspfxError(f"{state_path} exists; pass --resume to continue it, or choose another --out")
        state = load_state(state_path)
        cfg = dry_train_config_from_dict(state["config"])  # a resumed run keeps its own recipe
    torch.manual_seed(cfg.seed)
    model = DryRecoveryNet(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, seen = 0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, seen = int(state["step"]), int(state["seen"])
        log(f"resumed {state_path} at step {step}")
    train_stream, val_stream = PairStream(cfg, cfg.seed, cfg.pool), PairStream(cfg, VAL_SEED)
    val_wet, val_dry = val_stream.batch(0, cfg.val_clips)
    writer = SummaryWriter(str(out / "tb"))
    start = time.perf_counter()
    figures: dict[str, float] = {}

    def validate() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            rec = model(val_wet)
        model.train()
        base = -neg_si_sdr(val_wet, val_dry).item()
        got = -neg_si_sdr(rec, val_dry).item()
        writer.add_scalar("val/si_sdr_db", got, step)
        writer.add_scalar("val/si_sdr_improvement_db", got - base, step)
        for i in range(min(cfg.audio_clips, cfg.val_clips)):
            for name, x in (("wet", val_wet[i]), ("dry", val_dry[i]), ("recovered", rec[i])):
                peak = float(x.abs().max().clamp_min(1e-8))
                writer.add_audio(f"val/{i}_{name}", (x / peak).view(1, -1), step, sample_rate=cfg.model.sample_rate)
        return {"step": float(step), "val_si_sdr_db": got, "val_improvement_db": got - base}

    def checkpoint() -> None:
        save_state(state_path, model, opt, step, seen, cfg)
        save_dry_model(model, out / "model.safetensors",
                       {"steps": step, "examples": seen, "source": cfg.source, "seconds": cfg.seconds,
                        "train_seed": cfg.seed, "config": dataclasses.asdict(cfg), **figures})

    if state is None:  # the untrained network is the identity mask: its figure is the wet's, 0 dB
        figures = validate()
        log(f"step 0: validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB")
    model.train()
    while True:
        elapsed_min = (time.perf_counter() - start) / 60.0
        if (max_steps is not None and step >= max_steps) or (max_time_min is not None and elapsed_min >= max_time_min):
            break
        wet, dry = train_stream.batch(seen, cfg.batch)
        seen += cfg.batch
        loss = neg_si_sdr(model(wet), dry)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        writer.add_scalar("train/neg_si_sdr_db", loss.item(), step)
        if step % cfg.val_every == 0:
            figures = validate()
            log(f"step {step}: loss {loss.item():.2f}, validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB")
        if step % cfg.save_every == 0:
            checkpoint()
    figures = validate()
    checkpoint()
    writer.close()
    log(f"stopped at step {step} ({seen} examples): validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB; "
        f"model in {out / 'model.safetensors'}")
    return figures


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.dry_recovery_train", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="run folder (checkpoints, exported model, TensorBoard logs)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--max-time-min", type=float, help="stop after this many minutes (wall)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps in all (resumed ones included)")
    p.add_argument("--source", default=DryRecoveryTrainConfig.source, help="dry guitars, a ddspfx.sources spec")
    p.add_argument("--seconds", type=float, default=DryRecoveryTrainConfig.seconds)
    p.add_argument("--batch", type=int, default=DryRecoveryTrainConfig.batch)
    p.add_argument("--lr", type=float, default=DryRecoveryTrainConfig.lr)
    p.add_argument("--val-every", type=int, default=DryRecoveryTrainConfig.val_every)
    p.add_argument("--pool", type=int, default=0, help="cycle over the first N training examples (smoke tests)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_time_min is None and args.max_steps is None:
        raise DdspfxError("give --max-time-min or --max-steps (a run without an end would never export its model)")
    if args.batch < 1 or args.seconds <= 0 or args.lr <= 0 or args.val_every < 1:
        raise DdspfxError("--batch, --val-every, --seconds and --lr must be positive")
    torch.set_num_threads(max(1, args.threads))
    cfg = DryRecoveryTrainConfig(source=args.source, seconds=args.seconds, batch=args.batch, lr=args.lr,
                      val_every=args.val_every, save_every=args.val_every, pool=max(0, args.pool))
    train_dry_recovery(cfg, Path(args.out), args.resume, args.max_time_min, args.max_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
