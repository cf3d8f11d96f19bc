"""Training with Lightning, the library behind ``python -m ddspfx.train``: :func:`train` and its parts.

A run writes TensorBoard logs in ``OUT/``, checkpoints in ``OUT/checkpoints/`` atomically (temp file + rename)
and, at the end, the exportable model ``OUT/model.safetensors`` + ``OUT/model.json`` with presence thresholds
calibrated on the validation split (the folder's layout: :mod:`ddspfx.run_folder`). :func:`initialise_from`
starts a new run from an exported model's weights (``--trainer.init_from``), widening them to a dry-aware model
(:func:`widen_to_paired`) or to more pedal types (:func:`widen_to_effects`), or keeping their body and heads under
another front end (:func:`swap_front_end`).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Sequence, cast, get_args

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ddspfx.calibration import calibrate
from ddspfx.catalog import EFFECT_NAMES, resolve_effects
from ddspfx.checkpoint import load_model, save_model
from ddspfx.config import Config
from ddspfx.datamodule import EffectsDataModule, make_dataset
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.lightning_module import DdspfxLightning
from ddspfx.plugins.render import installed_implementations
from ddspfx.plugins.table import name_list, named_by
from ddspfx.run_folder import check_run_folder, checkpoint_dir, config_path, last_checkpoint, latest_last
from ddspfx.vocab import PedalVocab

Precision = Literal["64-true", "32-true", "16-true", "bf16-true", "16-mixed", "bf16-mixed"]
"""The ``trainer.precision`` values Lightning takes (its current names)."""


def check_precision(precision: str) -> Precision:
    """``trainer.precision`` as a :data:`Precision`, or a one-line error naming the choices."""
    if precision not in get_args(Precision):
        raise DdspfxError(f"trainer.precision must be one of {', '.join(get_args(Precision))}, got {precision!r}")
    return cast(Precision, precision)


class AtomicCheckpointIO(TorchCheckpointIO):
    """A Lightning CheckpointIO whose files appear only complete (temp file in the same folder + rename)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


class SaveLastOnException(L.Callback):
    """Writes ``path`` when training stops on an exception (Ctrl-C included).

    Lightning's own OnExceptionCheckpoint deletes its file at teardown, which defeats --resume.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.global_step > 0:
            trainer.save_checkpoint(self.path)


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
    token_rows = [new.id(old.token(i)) for i in range(len(old))]  # row i of the old tables goes to token_rows[i]
    n_old, n_new = len(old.effects), len(new.effects)
    query_rows = [new.effects.index(name) for name in old.effects] + [n_new + slot for slot in range(n_old)]
    out = dict(state)
    for key, rows in [*((k, token_rows) for k in VOCAB_ROWS), (EFFECT_QUERIES, query_rows)]:
        w = fresh[key].clone()
        w[rows] = state[key]
        out[key] = w
    return out


FRONT_END = "frontend."
"""The prefix of the front end's weights and buffers in a model's state dict (``DdspfxModel.frontend``)."""


def swap_front_end(source: dict[str, Any], model: Any) -> dict[str, Any]:
    """A trained model's weights for ``model``, which has another kind of front end (``frontend.name``): the
    encoder, token decoder and heads are the trained ones; the whole front end keeps ``model``'s fresh
    initialisation. Why: a front end's weights mean nothing to another front end (a relation stem's projection has
    the blind mel stem's shape but reads other maps), while the body that reads tokens into a chain transfers, and
    its hours of training need not be repeated; the new front end learns to speak to it."""
    fresh = model.state_dict()
    return {**{k: v for k, v in source.items() if not k.startswith(FRONT_END)},
            **{k: v for k, v in fresh.items() if k.startswith(FRONT_END)}}


def initialise_from(model: Any, spec: str) -> list[str]:
    """Copy the weights of an exported model (``"default"`` = the shipped one) into ``model`` to fine-tune it;
    returns the names of the weights that keep ``model``'s own initialisation (none for a same-kind model).

    Why: fine-tuning the shipped model on your own guitar or other data needs a fresh optimiser and
    learning-rate schedule, which ``--resume`` (it continues a run where it stopped) does not give. A dry-aware
    model (``--model.frontend.paired true``) may start from a blind one of the same size (:func:`widen_to_paired`),
    a model that knows more pedal types from one that knows some of them (:func:`widen_to_effects`), and a model
    with another front end (``--model.frontend.name relation`` from the mel models) from its body and heads, the
    front end fresh (:func:`swap_front_end`).
    """
    source = load_model(None if spec == "default" else spec)

    def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    ours, theirs = flat(dataclasses.asdict(model.config)), flat(dataclasses.asdict(source.config))
    state = source.state_dict()
    swapped = ours["frontend.name"] != theirs["frontend.name"]
    if swapped:
        state = swap_front_end(state, model)
    elif ours.get("frontend.paired") and not theirs.get("frontend.paired"):
        state = widen_to_paired(state, model.state_dict())
    if set(source.effects) < set(model.effects):
        state = widen_to_effects(state, source.vocab, model)
    mismatch = [k for k, v in model.state_dict().items() if k not in state or state[k].shape != v.shape]
    if mismatch or set(state) - set(model.state_dict()):
        diff = " ".join(f"--model.{k} {theirs[k]}" for k in ours if k in theirs and ours[k] != theirs[k]
                        and not (swapped and k.startswith(FRONT_END)))
        raise DdspfxError(f"--trainer.init_from {spec}: that model has another architecture; pass {diff or 'its config'}")
    model.load_state_dict(state)
    return [k for k in model.state_dict() if k.startswith(FRONT_END)] if swapped else []


def train(cfg: Config, out: str | Path, resume: bool = False, progress: bool = True, command: str | None = None,
          extra_callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Run training; returns {"model": path, "metrics": {...}, "seconds": wall time, "rank": this process' DDP rank}."""
    out = Path(out)
    check_run_folder(out, resume)
    ckpt_dir, last = checkpoint_dir(out), last_checkpoint(out)
    t = cfg.trainer
    if t.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise DdspfxError("this config trains on a GPU but none is visible; use --config default or --trainer.accelerator cpu")
    torch.set_num_threads(max(1, t.threads))
    L.seed_everything(t.seed, workers=True, verbose=False)
    atomic_write_text(config_path(out), yaml.safe_dump(cfg.to_dict(), sort_keys=False))
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
    callbacks: list[Any] = [checkpoint, SaveLastOnException(last),
                            LearningRateMonitor(logging_interval="step"), *extra_callbacks]
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    trainer = L.Trainer(
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, precision=check_precision(t.precision),
        max_steps=t.max_steps, max_time=timedelta(minutes=t.max_time_min) if t.max_time_min > 0 else None,
        val_check_interval=t.val_every, check_val_every_n_epoch=None, limit_val_batches=t.limit_val_batches,
        log_every_n_steps=t.log_every, gradient_clip_val=cfg.optim.grad_clip, callbacks=callbacks,
        logger=TensorBoardLogger(str(out), name="tb", version=""), plugins=[AtomicCheckpointIO()],
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
