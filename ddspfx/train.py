"""``python -m ddspfx.train [--config default|debug|gpu|long|PATH.yaml] [--out runs/NAME] [--resume] [--section.key VALUE ...]``

Trains the model with Lightning: progress bar, TensorBoard logs in ``OUT/``, checkpoints
in ``OUT/checkpoints/`` written atomically (temp file + rename), ``--resume`` continues from
``OUT/checkpoints/last.ckpt`` with the run's saved ``OUT/config.yaml``. At the end the
exportable model is written to ``OUT/model.safetensors`` + ``OUT/model.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence, cast, get_args

import yaml

from ddspfx.calibrate import calibrate
from ddspfx.catalog import EFFECT_NAMES, resolve_effects
from ddspfx.config import Config, load_config
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.plugins.render import installed_implementations
from ddspfx.plugins.table import name_list, named_by

# torch and Lightning are imported inside the functions that train ("# flags first"): the command line reports a bad
# flag at once instead of after seconds of imports
if TYPE_CHECKING:  # torch loads only when training starts, so a bad flag is reported at once
    from ddspfx.vocab import PedalVocab

Precision = Literal["64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed"]
"""The ``trainer.precision`` values Lightning takes (its current names)."""


def check_precision(precision: str) -> Precision:
    """``trainer.precision`` as a :data:`Precision`, or a one-line error naming the choices."""
    if precision not in get_args(Precision):
        raise DdspfxError(f"trainer.precision must be one of {', '.join(get_args(Precision))}, got {precision!r}")
    return cast(Precision, precision)


def atomic_checkpoint_io():
    """A Lightning CheckpointIO whose files appear only complete (temp file in the same folder + rename)."""
    import torch  # flags first
    from lightning.pytorch.plugins.io import TorchCheckpointIO  # flags first

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any = None) -> None:
            with atomic_path(path) as tmp:
                torch.save(checkpoint, tmp)

    return AtomicCheckpointIO()


def latest_last(ckpt_dir: Path) -> Path:
    """The newest ``last*.ckpt`` in ``ckpt_dir``: Lightning versions it (``last-v1.ckpt``) when a run was copied to
    another folder and resumed there, and ``--resume`` must continue from the newest, not from the copy."""
    return max(ckpt_dir.glob("last*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))


def save_last_on_exception(path: Path):
    """A callback writing ``path`` when training stops on an exception (Ctrl-C included).

    Lightning's own OnExceptionCheckpoint deletes its file at teardown, which defeats --resume.
    """
    import lightning as L  # flags first

    class SaveLastOnException(L.Callback):
        def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
            if trainer.global_step > 0:
                trainer.save_checkpoint(path)

    return SaveLastOnException()


def data_description(cfg: Config) -> dict[str, Any]:
    d = cfg.data
    return {"source": d.source, "duration_s": d.duration_s, "effects": f"{d.min_effects}-{d.max_effects}",
            "order": d.order, "train_seed_range": [0, d.train_size], "val_seed_range": [10_000_000, 10_000_000 + d.val_size],
            "train_folder": d.train_folder or None, "render_variants": d.render_variants, "dry_tone": d.dry_tone,
            "noise_floor": d.noise_floor, "plugin_render": d.plugin_render, "plugin_exclude": d.plugin_exclude,
            "room": d.room, "recording": d.recording, "pair_guitars": d.pair_guitars,
            "pedal_types": list(resolve_effects(d.effects)),
            "plugin_implementations": drawable_plugins(d) if d.plugin_render > 0 else []}


def drawable_plugins(d: Any) -> list[str]:
    """The plugin implementations this run can draw (installed here, not excluded): what "trained on" means for
    a plugin, recorded because the table and the installed packages change after a model is trained."""
    exclude = name_list(d.plugin_exclude)
    return sorted(i.name for e in EFFECT_NAMES for i in installed_implementations(e) if not named_by(i.name, exclude))


PAIRED_PROJECTION = "frontend.proj.0.weight"
"""The one weight a dry-aware (``frontend.paired``) model shapes differently: its input is [wet, dry, wet - dry]."""


def widen_to_paired(blind: dict[str, Any], paired: dict[str, Any]) -> dict[str, Any]:
    """A blind model's weights for a dry-aware model of the same size: the projection's wet block is the blind
    one and the dry and difference blocks start at zero, so the dry-aware model starts as exactly the blind model
    (whatever the dry) and training teaches it what the dry adds. Why: a warm start from a trained model instead
    of hours from scratch on a CPU."""
    w = blind.get(PAIRED_PROJECTION)
    target = paired.get(PAIRED_PROJECTION)
    if w is None or target is None or tuple(target.shape) != (w.shape[0], 3 * w.shape[1]):
        return blind
    wide = w.new_zeros(w.shape[0], 3 * w.shape[1])  # [wet | dry | wet - dry] blocks: the wet one is the blind's
    wide[:, : w.shape[1]] = w
    return {**blind, PAIRED_PROJECTION: wide}


VOCAB_ROWS = ("decoder.embed.weight", "decoder.head.weight", "decoder.head.bias")
"""The weights with one row per pedal token: they grow with the list of pedal types a model knows."""
EFFECT_QUERIES = "heads.queries"
"""One query row per pedal type, then one per chain slot (:class:`ddspfx.model.heads.QueryHeads`)."""


def widen_to_effects(state: dict[str, Any], old: PedalVocab, model: Any) -> dict[str, Any]:
    """A trained model's weights for ``model``, which knows more pedal types: each token and each pedal type's and
    slot's query keeps its trained row (matched by name, not position) and what is new keeps ``model``'s fresh
    initialisation. Why: the pedals and knobs a model already hears need not be learned again when the catalog
    grows; hours from scratch on a CPU become a fine-tune."""
    new, fresh = model.vocab, model.state_dict()
    rows = [(new.id(old.token(i)), i) for i in range(len(old))]
    out = dict(state)
    for key in VOCAB_ROWS:
        w = fresh[key].clone()
        for j, i in rows:
            w[j] = state[key][i]
        out[key] = w
    q, n_old, n_new = fresh[EFFECT_QUERIES].clone(), len(old.effects), len(new.effects)
    for i, name in enumerate(old.effects):
        q[new.effects.index(name)] = state[EFFECT_QUERIES][i]
    for slot in range(min(n_old, n_new)):
        q[n_new + slot] = state[EFFECT_QUERIES][n_old + slot]
    out[EFFECT_QUERIES] = q
    return out


def initialise_from(model, spec: str) -> None:
    """Copy the weights of an exported model (``"default"`` = the shipped one) into ``model`` to fine-tune it.

    Why: fine-tuning the shipped model on your own guitar or other data needs a fresh optimiser and
    learning-rate schedule, which ``--resume`` (it continues a run where it stopped) does not give. A dry-aware
    model (``--model.frontend.paired true``) may start from a blind one of the same size (:func:`widen_to_paired`),
    and a model that knows more pedal types from one that knows some of them (:func:`widen_to_effects`).
    """
    from ddspfx.checkpoint import load_model  # flags first

    source = load_model(None if spec == "default" else spec)

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    ours, theirs = flat(dataclasses.asdict(model.config)), flat(dataclasses.asdict(source.config))
    state = source.state_dict()
    if ours.get("frontend.paired") and not theirs.get("frontend.paired"):
        state = widen_to_paired(state, model.state_dict())
    if set(source.effects) < set(model.effects):
        state = widen_to_effects(state, source.vocab, model)
    mismatch = [k for k, v in model.state_dict().items() if k not in state or state[k].shape != v.shape]
    if mismatch or set(state) - set(model.state_dict()):
        diff = " ".join(f"--model.{k} {theirs[k]}" for k in ours if k in theirs and ours[k] != theirs[k])
        raise DdspfxError(f"--trainer.init_from {spec}: that model has another architecture; pass {diff or 'its config'}")
    model.load_state_dict(state)


def train(cfg: Config, out: str | Path, resume: bool = False, progress: bool = True, command: str | None = None,
          extra_callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run training; returns {"model": path, "metrics": {...}, "seconds": wall time, "rank": this process' DDP rank}."""
    import lightning as L  # flags first
    import torch  # flags first
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar  # flags first
    from lightning.pytorch.loggers import TensorBoardLogger  # flags first

    from ddspfx.checkpoint import save_model  # flags first
    from ddspfx.datamodule import EffectsDataModule, make_dataset  # flags first
    from ddspfx.lightning_module import DdspfxLightning  # flags first

    out = Path(out)
    ckpt_dir = out / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    if resume and not last.is_file():
        raise DdspfxError(f"--resume: no {last}; start a new run without --resume")
    if not resume and last.is_file():
        raise DdspfxError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    t = cfg.trainer
    if t.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise DdspfxError("this config trains on a GPU but none is visible; use --config default or --trainer.accelerator cpu")
    torch.set_num_threads(max(1, t.threads))
    L.seed_everything(t.seed, workers=True, verbose=False)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    module = DdspfxLightning(cfg.to_dict())
    if t.init_from and not resume:
        initialise_from(module.model, t.init_from)
    data = EffectsDataModule(cfg.data, module.model.sample_rate,
                             dac_weights_hash=getattr(module.model.frontend, "weights_sha256", None), seed=t.seed)
    # no version counter: a run copied to another folder to continue it would otherwise write last-v1.ckpt
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="step{step:07d}", auto_insert_metric_name=False,
                                 save_last=True, save_top_k=1, monitor="val/loss", mode="min",
                                 every_n_train_steps=t.val_every, save_on_train_epoch_end=False,
                                 enable_version_counter=False)
    # Ctrl-C or a crash writes last.ckpt at the current step, so --resume loses nothing
    callbacks: list[Any] = [checkpoint, save_last_on_exception(last),
                            LearningRateMonitor(logging_interval="step"), *extra_callbacks]
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    trainer = L.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, precision=check_precision(t.precision),
        max_steps=t.max_steps, max_time=timedelta(minutes=t.max_time_min) if t.max_time_min > 0 else None,
        val_check_interval=t.val_every, check_val_every_n_epoch=None, limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every, gradient_clip_val=cfg.optim.grad_clip, callbacks=callbacks,
        logger=TensorBoardLogger(str(out), name="tb", version=""), plugins=[atomic_checkpoint_io()],
        enable_progress_bar=progress, num_sanity_val_steps=0, default_root_dir=str(out), enable_model_summary=progress,
    )
    # the DataModule's ResumableShuffle re-enters the interrupted epoch itself (seek to global_step)
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    start = time.time()
    trainer.fit(module, datamodule=data, ckpt_path=str(latest_last(ckpt_dir)) if resume else None)
    seconds = time.time() - start
    # Lightning writes last.ckpt only with validation, so a run ended by its time limit between two
    # checks would resume from the older one: write the final state, and --resume extends a finished run
    trainer.save_checkpoint(last)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
    metrics["global_step"] = int(trainer.global_step)
    model_path = out / "model.safetensors"
    if trainer.is_global_zero:
        model = module.model.cpu()
        # per-pedal presence thresholds (accuracy objective) from the validation split, never the test seeds
        calibration = calibrate(model, make_dataset(cfg.data, "val", model.sample_rate,
                                                    getattr(model.frontend, "weights_sha256", None)))
        calibration["source"] = cfg.data.val_folder or f"{cfg.data.source} (validation seeds)"
        save_model(model, model_path, data=data_description(cfg), metrics=metrics, calibration=calibration,
                   notes={"config": cfg.to_dict(), "train_seconds_this_session": round(seconds, 1),
                          "reproduce": command or f"python -m ddspfx.train --out {out}"})
    return {"model": model_path, "metrics": metrics, "seconds": seconds, "rank": int(trainer.global_rank)}


def _parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.train", description="Train the ddspfx model.",
                  epilog="Any --section.key VALUE overrides the config, e.g. --model.d_model 256 --trainer.max_steps 100")
    p.add_argument("--config", default=None, help="default | debug | gpu | long | real | dry | PATH.yaml (default: default)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    bad = [a for a in rest if a.startswith("--") and "." not in a.split("=")[0]]
    if bad:
        raise DdspfxError(f"unknown option {bad[0]}; see python -m ddspfx.train --help")
    name = args.config or "default"
    out = Path(args.out or f"runs/{Path(name).stem}")
    if args.resume and (out / "config.yaml").is_file():
        if args.config:
            raise DdspfxError("--resume reuses the run's own config.yaml; drop --config (overrides are still applied)")
        cfg = load_config(str(out / "config.yaml"), rest)
    else:
        cfg = load_config(name, rest)
    command = "python -m ddspfx.train " + shlex.join(list(sys.argv[1:] if argv is None else argv))
    result = train(cfg, out, resume=args.resume, progress=not args.no_progress, command=command.strip())
    if result["rank"] != 0:  # DDP: the other processes trained too, but rank 0 wrote the model and reports
        return 0
    m = result["metrics"]
    shown = ", ".join(f"{k} {m[k]:.3f}" for k in ("val/loss", "val/chain_acc", "val/presence_f1") if k in m)
    print(f"trained {m.get('global_step', 0)} steps in {result['seconds'] / 60:.1f} min; {shown}")
    print(f"model: {result['model']} (+ .json); TensorBoard: tensorboard --logdir {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "train", "atomic_checkpoint_io"]
