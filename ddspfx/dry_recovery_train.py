"""Train the dry-recovery network (``ddspfx.dry_recovery.DryRecoveryNet``) on the pairs the data pipeline makes.

``python -m ddspfx.dry_recovery_train --out DIR [--resume] [--max-time-min M] [--max-steps N] [--export PATH]``

Examples come from :func:`ddspfx.data.generate_example` on the training seeds (``ddspfx.config.TRAIN_SEED`` on;
validation clips from ``VAL_SEED``; never the development seeds 30,000,000+ of ``experiments/dry_recovery.py``, and
never a held-out source: :func:`ddspfx.sources.reserved_spec` refuses them): a dry guitar from ``--source`` (default
synth and procedural guitars), a chain of 0-5 pedals from the project's sampler (a clip without pedals teaches the
network to leave a dry alone), the reference render.

Data: one example takes ~3-4 s to make on this CPU, longer than a training step, so each step makes
``--fresh-per-step`` new ones and trains on a batch drawn from the newest ``--pool-max`` (random ``--crop-seconds``
windows); every example is kept in ``DIR/examples`` (with its recipe in ``meta.json``, checked on reuse), so a
resumed run reads them back instead of rendering them again.

Loss (``--loss``): ``log_residual`` (default), ``10 log10`` of the share of the true dry's energy the network's dry
misses at its best gain, floored at -30 dB (:func:`log_residual`): the negative SI-SDR (capped at 30 dB,
:data:`SI_SDR_CAP_DB`) wherever the wet is anywhere near its dry, but with a bounded gradient on a clip whose wet has
nothing left of its dry (an octave at full mix, a fuzz, a long echo: ~1 clip in 4), where the negative SI-SDR's
gradient grows as 1 / cos(recovered, dry) and took half the squared gradient of r1's batches (issue 32); ``si_sdr``
(the negative capped SI-SDR itself, what runs before it trained on). Plus ``--mrstft-weight`` x ``ddspfx.spectral``'s
MR-STFT distance on unit-RMS signals; Adam with a linear warm-up. The validation figures are the capped SI-SDR.

Written to ``DIR``: ``last.pt`` (weights, optimiser, step, examples made, config: what ``--resume`` continues from,
in this or a later session), ``model.safetensors`` + ``model.json`` (the exportable network,
``ddspfx.dry_recovery.load_dry_model``), each replaced atomically, and TensorBoard logs (``tensorboard --logdir
DIR``): loss, gradient norm, validation SI-SDR improvement, validation audio and log spectrograms (wet, true dry,
recovered). ``--export ddspfx/checkpoints/dry_recovery.safetensors`` copies the final model where the package
ships it (``ddspfx.dry_recovery.DEFAULT_DRY_RECOVERY``). The long run: see ``ddspfx.dry_recovery``'s docstring.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
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
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, save_dry_model, waveform_residual
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.sources import make_source, reserved_spec
from ddspfx.spectral import TRAINING, mrstft


@dataclass
class DryRecoveryTrainConfig:
    """One training run of the dry-recovery network."""

    source: str = "mix:synth=1,procedural=1"  # dry guitars (ddspfx.sources specs; never held-out banks)
    seconds: float = 1.5  # clip length in training (long enough for a 0.6-s echo and a reverb's body)
    batch: int = 8  # clips per step
    lr: float = 1e-3  # Adam
    max_effects: int = 5  # chains of 0..max_effects pedals
    min_effects: int = 0
    val_clips: int = 32  # validation clips (VAL_SEED on), scored every val_every steps (8 swung +-1 dB with nothing learnt)
    val_every: int = 100
    audio_clips: int = 2  # validation clips written to TensorBoard as audio
    save_every: int = 100  # steps between checkpoints (one is also written at the end)
    seed: int = TRAIN_SEED  # first training seed (example i is example_seed(seed, i))
    pool: int = 0  # > 0: only the first ``pool`` training examples, ever (an overfit or smoke test)
    fresh_per_step: int = 2  # new examples made per step (~3-4 s each on this CPU, more than a step's training)
    pool_max: int = 384  # batches are drawn from the newest this-many examples (~0.5 MB each in memory)
    crop_seconds: float = 1.0  # random crop of each drawn pair (same offset in wet and dry); 0: the whole clip
    warmup: int = 50  # steps of linear learning-rate warm-up from 0
    mrstft_weight: float = 0.0  # weight of ddspfx.spectral's MR-STFT distance (TRAINING set) on unit-RMS signals
    loss: str = "log_residual"  # one of LOSSES: log_residual (bounded gradient on hopeless clips) or si_sdr
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


LOSSES: tuple[str, ...] = ("log_residual", "si_sdr")


def log_residual(est: torch.Tensor, ref: torch.Tensor, cap_db: float = SI_SDR_CAP_DB) -> torch.Tensor:
    """Mean over a batch of (B, T) pairs of ``10 log10(1 - cos^2(est, ref) + 10^(-cap/10))`` (dB): the residual share
    of :func:`ddspfx.dry_recovery.waveform_residual`, floored at ``-cap_db``.

    Equal to :func:`neg_si_sdr` up to ``10 log10(cos^2)``, i.e. the same near a good estimate, but where the estimate
    has (next to) nothing of ``ref`` (cos -> 0) it tends to 0 with a vanishing gradient instead of the negative SI-SDR's
    gradient ~ 1 / cos, which let such clips steer whole batches (issue 32)."""
    return (10 * torch.log10(waveform_residual(est, ref) + 10 ** (-cap_db / 10))).mean()


CACHE_META = "meta.json"


class PairStream:
    """(wet, dry) float32 (T,) pairs of a seed range, example ``i`` depending only on ``(seed, i)``.

    ``cache``: a folder where each example, once made (~3-4 s each here), is kept as ``{seed}_{i}.npz``, so a
    resumed run or a rerun reads it back instead of rendering it again. The folder's recipe (source, length, rate,
    chain lengths) is written to its ``meta.json`` and checked on every later use: a cache never feeds another recipe.
    """

    def __init__(self, cfg: DryRecoveryTrainConfig, seed: int, pool: int = 0, cache: Path | None = None) -> None:
        why = reserved_spec(cfg.source)
        if why:
            raise DdspfxError(f"source {cfg.source!r} {why}: never train on it")
        self.source = make_source(cfg.source, cfg.model.sample_rate)
        self.recipe = Recipe(sampler=SamplerConfig(min_effects=cfg.min_effects, max_effects=cfg.max_effects))
        self.sampler = ChainSampler(self.recipe.sampler)
        self.cfg = cfg
        self.seed = seed
        self.pool = pool
        self.memory: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # index -> pair (a pool's, or the newest few)
        self.cache = cache
        if cache is not None:
            meta = {"source": cfg.source, "seconds": cfg.seconds, "sample_rate": cfg.model.sample_rate,
                    "min_effects": cfg.min_effects, "max_effects": cfg.max_effects}
            side = cache / CACHE_META
            if side.exists():
                try:
                    found = json.loads(side.read_text())
                except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                    found = None
                if found != meta:
                    raise DdspfxError(f"example cache {cache} holds another recipe ({found}); use another --out")
            else:
                atomic_write_text(side, json.dumps(meta, indent=2))

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if self.pool > 0:
            index %= self.pool
        if index in self.memory:
            return self.memory[index]
        file = None if self.cache is None else self.cache / f"{self.seed}_{index}.npz"
        if file is not None and file.exists():
            with np.load(file) as z:
                got = (z["wet"].astype(np.float32), z["dry"].astype(np.float32))
        else:
            ex = generate_example(self.source, example_seed(self.seed, index), self.cfg.seconds,
                                  self.cfg.model.sample_rate, self.recipe, self.sampler)
            got = (np.asarray(ex.wet, np.float32), np.asarray(ex.dry, np.float32))
            if file is not None:
                with atomic_path(file, suffix=".npz") as tmp:
                    np.savez(tmp, wet=got[0], dry=got[1])
        self.memory[index] = got
        return got

    def forget_below(self, index: int) -> None:
        """Drop in-memory pairs older than ``index`` (the pool window moved on; the disk cache keeps them)."""
        for k in [k for k in self.memory if k < index]:
            del self.memory[k]

    def batch(self, start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(wet, dry) (n, T) of examples start .. start + n - 1."""
        return self.stack([start + k for k in range(n)])

    def stack(self, indices: Sequence[int], crop: int = 0, rng: np.random.Generator | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(wet, dry) (n, T) of ``indices``; ``crop`` > 0 samples: a random window of that length from each pair,
        the same in wet and dry (``rng`` draws the offsets)."""
        pairs = [self.pair(i) for i in indices]
        if crop > 0:
            rng = rng or np.random.default_rng(0)
            cut = []
            for wet, dry in pairs:
                off = int(rng.integers(0, max(1, wet.shape[0] - crop + 1)))
                cut.append((wet[off:off + crop], dry[off:off + crop]))
            pairs = cut
        return (torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs])))


def draw_batch(cfg: DryRecoveryTrainConfig, step: int, made: int) -> list[int]:
    """The example indices of training step ``step`` when ``made`` examples exist: ``cfg.batch`` drawn uniformly
    from the newest ``cfg.pool_max`` (one random stream per step, so a resumed run draws what it would have)."""
    rng = np.random.default_rng((cfg.seed, step))
    low = max(0, made - cfg.pool_max)
    return [int(i) for i in rng.integers(low, max(made, low + 1), size=cfg.batch)]


def unit_rms(x: torch.Tensor) -> torch.Tensor:
    """(B, T) each row divided by its RMS (the dry's level is arbitrary: the clip's output gain is unknown)."""
    return x / x.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)


class DryLoss(torch.nn.Module):
    """:func:`log_residual` (``kind="log_residual"``) or the negative capped SI-SDR (``"si_sdr"``), in dB, plus
    ``mrstft_weight`` x ddspfx.spectral's MR-STFT distance between the unit-RMS recovered and true dry (the one
    spectral distance of the project, its TRAINING resolutions)."""

    def __init__(self, mrstft_weight: float = 0.0, cap_db: float = SI_SDR_CAP_DB, kind: str = "log_residual") -> None:
        super().__init__()
        if kind not in LOSSES:
            raise DdspfxError(f"dry-recovery loss must be one of {', '.join(LOSSES)}, got {kind!r}")
        self.kind = kind
        self.mrstft_weight = mrstft_weight
        self.cap_db = cap_db
        self.spectral = mrstft(TRAINING) if mrstft_weight > 0 else None

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        loss = (log_residual if self.kind == "log_residual" else neg_si_sdr)(est, ref, self.cap_db)
        if self.spectral is not None:
            loss = loss + self.mrstft_weight * self.spectral(unit_rms(est)[:, None], unit_rms(ref)[:, None])
        return loss


def learning_rate(cfg: DryRecoveryTrainConfig, step: int) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then ``cfg.lr`` (Adam's first steps on a GRU are its largest)."""
    return cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))


def log_spectrogram(x: torch.Tensor, n_fft: int = 1024, hop: int = 256) -> torch.Tensor:
    """(T,) -> (1, F, frames) image in [0, 1]: log magnitude over an 80 dB range, low frequencies at the bottom."""
    spec = torch.stft(x, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True).abs()
    db = 20 * torch.log10(spec / spec.max().clamp_min(1e-8) + 1e-8)
    return ((db.clamp_min(-80.0) + 80.0) / 80.0).flip(0)[None]


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
    d.setdefault("loss", "si_sdr")  # a run from before the loss was a choice trained on the negative SI-SDR
    return DryRecoveryTrainConfig(**{**d, "model": DryRecoveryConfig(**d.get("model", {}))})


def train_dry_recovery(cfg: DryRecoveryTrainConfig, out: Path, resume: bool = False,
                       max_time_min: float | None = None, max_steps: int | None = None, log: Any = print,
                       export: Path | None = None) -> dict[str, float]:
    """Train until ``max_time_min`` (this session's minutes) or ``max_steps`` (in all); returns the last validation
    figures. Each step makes ``cfg.fresh_per_step`` new examples (kept in ``out/examples``) and trains on a batch
    drawn from the newest ``cfg.pool_max``; ``export``: also copy the final model (and sidecar) there."""
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
    loss_fn = DryLoss(cfg.mrstft_weight, kind=cfg.loss)
    step, made = 0, 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, made = int(state["step"]), int(state["seen"])
        log(f"resumed {state_path} at step {step} ({made} examples made)")
    cache = out / "examples"
    train_stream = PairStream(cfg, cfg.seed, cfg.pool, cache)
    val_stream = PairStream(cfg, VAL_SEED, 0, cache)
    val_wet, val_dry = val_stream.batch(0, cfg.val_clips)
    writer = SummaryWriter(str(out / "tb"))
    start = time.perf_counter()
    figures: dict[str, float] = {}
    crop = int(round(cfg.crop_seconds * cfg.model.sample_rate))
    limit = cfg.pool if cfg.pool > 0 else None  # a pool: only its examples, ever

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
                writer.add_image(f"val_spectrogram/{i}_{name}", log_spectrogram(x), step)
        writer.flush()
        return {"step": float(step), "val_si_sdr_db": got, "val_improvement_db": got - base}

    def checkpoint() -> None:
        save_state(state_path, model, opt, step, made, cfg)
        save_dry_model(model, out / "model.safetensors",
                       {"steps": step, "examples": made, "source": cfg.source, "seconds": cfg.seconds,
                        "train_seed": cfg.seed, "config": dataclasses.asdict(cfg), **figures})

    if state is None:  # the untrained network is the identity mask: its figure is the wet's, 0 dB
        figures = validate()
        log(f"step 0: validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB")
    model.train()
    while True:
        elapsed_min = (time.perf_counter() - start) / 60.0
        if (max_steps is not None and step >= max_steps) or (max_time_min is not None and elapsed_min >= max_time_min):
            break
        target = made + max(1, cfg.fresh_per_step) if made else max(cfg.batch, cfg.fresh_per_step)
        while made < (target if limit is None else limit):  # a pool is made whole at once
            train_stream.pair(made)
            made += 1
        train_stream.forget_below(made - cfg.pool_max)
        wet, dry = train_stream.stack(draw_batch(cfg, step, made), crop, np.random.default_rng((cfg.seed, step, 1)))
        loss = loss_fn(model(wet), dry)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalar("train/grad_norm", float(grad_norm), step)
        writer.add_scalar("train/examples_made", made, step)
        if step % cfg.val_every == 0:
            figures = validate()
            log(f"step {step}: loss {loss.item():.2f}, validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB")
        if step % cfg.save_every == 0:
            checkpoint()
    figures = validate()
    checkpoint()
    writer.close()
    if export is not None:
        with atomic_path(export) as tmp:
            shutil.copyfile(out / "model.safetensors", tmp)
        with atomic_path(export.with_suffix(".json")) as tmp:
            shutil.copyfile(out / "model.json", tmp)
    log(f"stopped at step {step} ({made} examples): validation SI-SDR improvement {figures['val_improvement_db']:+.2f} dB; "
        f"model in {out / 'model.safetensors'}" + (f", exported to {export}" if export is not None else ""))
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
    p.add_argument("--pool", type=int, default=0, help="only the first N training examples, ever (overfit tests)")
    p.add_argument("--fresh-per-step", type=int, default=DryRecoveryTrainConfig.fresh_per_step,
                   help="new examples made per step")
    p.add_argument("--pool-max", type=int, default=DryRecoveryTrainConfig.pool_max,
                   help="batches are drawn from the newest N examples")
    p.add_argument("--crop-seconds", type=float, default=DryRecoveryTrainConfig.crop_seconds,
                   help="random crop of each drawn pair (0: whole clips)")
    p.add_argument("--warmup", type=int, default=DryRecoveryTrainConfig.warmup, help="learning-rate warm-up steps")
    p.add_argument("--mrstft-weight", type=float, default=DryRecoveryTrainConfig.mrstft_weight,
                   help="weight of the MR-STFT term beside the SI-SDR loss")
    p.add_argument("--loss", choices=LOSSES, default=DryRecoveryTrainConfig.loss,
                   help="log_residual (bounded gradient where the wet kept nothing of its dry) or si_sdr")
    p.add_argument("--val-clips", type=int, default=DryRecoveryTrainConfig.val_clips,
                   help="validation clips scored every --val-every steps")
    p.add_argument("--max-gain", type=float, default=DryRecoveryConfig.max_gain,
                   help="largest magnitude of the network's complex mask (> 1)")
    p.add_argument("--export", help="copy the final model (.safetensors + .json) here, e.g. "
                   "ddspfx/checkpoints/dry_recovery.safetensors (what the package ships)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_time_min is None and args.max_steps is None:
        raise DdspfxError("give --max-time-min or --max-steps (a run without an end would never export its model)")
    if (args.batch < 1 or args.seconds <= 0 or args.lr <= 0 or args.val_every < 1 or args.fresh_per_step < 1
            or args.pool_max < 1 or args.val_clips < 1 or args.crop_seconds < 0 or args.warmup < 0 or args.mrstft_weight < 0):
        raise DdspfxError("--batch, --val-every, --val-clips, --seconds, --lr, --fresh-per-step and --pool-max must be "
                          "positive; "
                          "--crop-seconds, --warmup and --mrstft-weight not negative")
    if args.crop_seconds > args.seconds:
        raise DdspfxError(f"--crop-seconds {args.crop_seconds} exceeds the clips' --seconds {args.seconds}")
    torch.set_num_threads(max(1, args.threads))
    cfg = DryRecoveryTrainConfig(source=args.source, seconds=args.seconds, batch=args.batch, lr=args.lr,
                                 val_every=args.val_every, save_every=args.val_every, pool=max(0, args.pool),
                                 fresh_per_step=args.fresh_per_step, pool_max=args.pool_max,
                                 crop_seconds=args.crop_seconds, warmup=args.warmup, mrstft_weight=args.mrstft_weight,
                                 loss=args.loss, val_clips=args.val_clips,
                                 model=DryRecoveryConfig(max_gain=args.max_gain))
    train_dry_recovery(cfg, Path(args.out), args.resume, args.max_time_min, args.max_steps,
                       log=lambda line: print(line, flush=True),  # a log file shows each line as it comes
                       export=None if args.export is None else Path(args.export))
    return 0


if __name__ == "__main__":
    sys.exit(main())
