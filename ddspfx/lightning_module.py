"""LightningModule: one ``_common_step`` for train/val, AdamW + warm-up/cosine, TensorBoard media."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from ddspfx.adversary import GuitarAdversary, guitar_labels
from ddspfx.catalog import EFFECT_NAMES, get_effect, value_to_bin
from ddspfx.chain import Chain
from ddspfx.commuting import equivalent_canonical
from ddspfx.config import Config, config_from_dict
from ddspfx.errors import DdspfxError
from ddspfx.invariance import invariance_loss, with_pairs
from ddspfx.losses import DdspfxLoss, choice_weights, token_accuracy
from ddspfx.metrics import param_error, precision_recall_f1
from ddspfx.model import DdspfxModel
from ddspfx.plots import _matplotlib
from ddspfx.sources.procedural import DESCRIPTORS


def chain_scores(pred: Chain, true: Chain) -> dict[str, float]:
    """Exact chain match (effects, order and every parameter bin), same order (exactly, and up to swapping
    adjacent pedals that audibly commute: ``ddspfx.commuting.equivalent_canonical`` with the shipped measured
    pairs, the equivalence scoring and inference use), parameter error sums and presence counts."""
    def bins(c: Chain) -> list[tuple]:
        return [(p.effect, tuple(value_to_bin(p.params[q.name], q) for q in get_effect(p.effect).params)) for p in c]

    ps, ts = set(pred.effects), set(true.effects)
    errs = param_error(true, pred)
    return {
        "order": float(pred.effects == true.effects),
        "order_equiv": float(equivalent_canonical(pred.effects) == equivalent_canonical(true.effects)),
        "param_err_sum": float(sum(errs)), "param_err_n": float(len(errs)),
        "exact": float(bins(pred) == bins(true)),
        "tp": float(len(ps & ts)), "fp": float(len(ps - ts)), "fn": float(len(ts - ps)),
    }


class DdspfxLightning(L.LightningModule):
    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dict: safe to reload
        self.cfg: Config = config_from_dict(config)
        if self.cfg.data.max_effects > self.cfg.model.max_effects:
            raise DdspfxError(f"data.max_effects {self.cfg.data.max_effects} > model.max_effects "
                              f"{self.cfg.model.max_effects}: the decoder could never produce such chains; raise model.max_effects")
        self.model = DdspfxModel(self.cfg.model, clip_seconds=self.cfg.data.duration_s)
        if self.model.effects != EFFECT_NAMES:  # the data's targets hold one row per catalog effect, in catalog order
            raise DdspfxError(f"model.effects {self.cfg.model.effects!r}: a model in training knows every catalog effect "
                              f"({', '.join(EFFECT_NAMES)}); leave model.effects empty (data.effects chooses what is drawn)")
        self.loss_fn = DdspfxLoss(self.cfg.loss, self.model.vocab.pad_id, self.model.sample_rate,
                                  self.cfg.model.sinkhorn_tau, self.cfg.model.sinkhorn_iters,
                                  choice_weights(self.model.vocab, self.cfg.loss.ce_choice_weight))
        # the guitar-identity adversary: built only when weighted (weight 0 = the same parameters and random draws
        # as without it), kept off self.model so an exported model never holds it
        self.adversary: GuitarAdversary | None = None
        if self.cfg.loss.adversary < 0 or self.cfg.loss.adversary_classes < 2:
            raise DdspfxError(f"loss.adversary must be >= 0 (got {self.cfg.loss.adversary}) and loss.adversary_classes "
                              f">= 2 (got {self.cfg.loss.adversary_classes})")
        if self.cfg.loss.adversary > 0:
            self.adversary = GuitarAdversary(self.cfg.model.d_model, self.cfg.loss.adversary_classes, len(DESCRIPTORS),
                                             self.cfg.loss.grl_scale)
        self._val_counts: dict[str, float] = {}
        self.train_seconds = 0.0  # training wall time so far, kept across --resume (checkpoint state)
        self._tick: float | None = None

    def forward(self, batch: dict) -> dict[str, torch.Tensor]:
        return self.model(batch)

    def _common_step(self, batch: dict, stage: str) -> torch.Tensor:
        paired = "wet_pair" in batch
        labels = guitar_labels(batch) if self.adversary is not None else None  # before the pairs are stacked
        if self.adversary is not None and labels is None:
            raise DdspfxError("loss.adversary needs to know who played each clip, and these examples do not say (a "
                              "folder made before ddspfx recorded it): remake the folder or set loss.adversary 0")
        if paired:  # one chain on two guitars: both halves learn the labels, and their answers are pulled together
            batch = with_pairs(batch)
        out = self.model(batch)
        terms = self.loss_fn(out, batch, int(self.global_step) if stage == "train" else None)
        if paired:
            terms["invariance"] = invariance_loss(out, batch["param_mask"])
            if self.cfg.loss.invariance > 0:
                terms["loss"] = terms["loss"] + self.cfg.loss.invariance * terms["invariance"]
        if self.adversary is not None and labels is not None:
            terms.update(self.adversary.loss(out["memory"], out["memory_mask"], labels))
            terms["loss"] = terms["loss"] + self.cfg.loss.adversary * terms["adversary"]
        tok_acc, seq_acc = token_accuracy(out["token_logits"], batch["tokens"][:, 1:], self.model.vocab.pad_id)
        presence_acc = ((out["presence_logits"] > 0).float() == batch["presence"]).float().mean()
        b = batch["tokens"].shape[0]
        logs = {f"{stage}/{k}": v.detach() for k, v in terms.items() if k != "loss"}
        logs.update({f"{stage}/token_acc": tok_acc, f"{stage}/seq_acc_tf": seq_acc, f"{stage}/presence_acc": presence_acc})
        per_epoch = stage != "train"  # validation: epoch means, reduced across DDP ranks
        self.log_dict(logs, prog_bar=False, on_step=not per_epoch, on_epoch=per_epoch, batch_size=b, sync_dist=per_epoch)
        self.log(f"{stage}/loss", terms["loss"].detach(), prog_bar=True, on_step=not per_epoch, on_epoch=per_epoch,
                 batch_size=b, sync_dist=per_epoch)
        return terms["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        now = time.monotonic()
        if self._tick is not None:
            self.train_seconds += min(now - self._tick, 600.0)  # a long validation pause is not training time
        self._tick = now
        return self._common_step(batch, "train")

    def on_validation_start(self) -> None:
        self._tick = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ddspfx_train_seconds"] = self.train_seconds

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.train_seconds = float(checkpoint.get("ddspfx_train_seconds", 0.0))

    def schedule_progress(self, step: int) -> float:
        """Fraction of the run done: by steps or by wall time (trainer.max_time_min), whichever is further.

        Tying the cosine decay to time as well makes a time-limited CPU run end at the low
        learning rate however fast the machine is.
        """
        t = self.cfg.trainer
        by_steps = step / max(1, t.max_steps)
        by_time = self.train_seconds / (60.0 * t.max_time_min) if t.max_time_min > 0 else 0.0
        return min(1.0, max(by_steps, by_time))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._common_step(batch, "val")
        lengths = batch["audio_mask"].sum(-1) if "audio_mask" in batch else None
        preds = self.model.predict(batch["wet"], beam=self.cfg.trainer.beam, lengths=lengths, codes=batch.get("dac_codes"),
                                   dry=batch["dry"] if self.model.hears_dry else None)
        for pred, js in zip(preds, batch["chain"]):
            truth = Chain.from_json(js)
            for k, v in chain_scores(pred.chain, truth).items():
                self._val_counts[k] = self._val_counts.get(k, 0.0) + v
            # the presence head alone (gate > 0.5): decides model.effect_set="presence" vs "decoder"
            head, true = {e for e, p in pred.effect_confidence.items() if p > 0.5}, set(truth.effects)
            for k, v in (("head_tp", len(head & true)), ("head_fp", len(head - true)), ("head_fn", len(true - head))):
                self._val_counts[k] = self._val_counts.get(k, 0.0) + v
            self._val_counts["n"] = self._val_counts.get("n", 0.0) + 1
        if batch_idx == 0 and self.cfg.trainer.log_audio:
            self._log_media(batch)

    def on_validation_epoch_start(self) -> None:
        self._val_counts = {}

    def on_validation_epoch_end(self) -> None:
        c = self._val_counts
        if not c.get("n"):
            return
        f1 = float(precision_recall_f1(c["tp"], c["fp"], c["fn"], empty=0.0)[2])
        head_f1 = float(precision_recall_f1(c["head_tp"], c["head_fp"], c["head_fn"], empty=0.0)[2])
        self.log_dict({"val/chain_acc": c["order"] / c["n"], "val/chain_exact": c["exact"] / c["n"],
                       "val/chain_acc_equiv": c["order_equiv"] / c["n"],
                       "val/param_err": c["param_err_sum"] / max(1.0, c["param_err_n"]),
                       "val/presence_f1": f1, "val/presence_f1_head": head_f1}, prog_bar=True, sync_dist=True)

    @torch.no_grad()
    def _log_media(self, batch: dict, n: int = 2) -> None:
        """Wet vs proxy reconstruction (predicted soft perm, gates, params) as audio and spectrograms."""
        if not isinstance(self.logger, TensorBoardLogger) or self.global_rank != 0:
            return
        plt = _matplotlib()
        rows = slice(0, min(n, batch["wet"].shape[0]))
        out = self.model({k: v[rows] if torch.is_tensor(v) else v for k, v in batch.items()})
        try:
            recon, wet = self.loss_fn.reconstruct(out, batch, rows)
        except Exception as exc:  # a proxy failing must not stop training; say so in the log
            self.print(f"reconstruction for TensorBoard failed: {exc}")
            return
        tb = self.logger.experiment
        sr = self.model.sample_rate
        for i in range(recon.shape[0]):
            w, r = wet[i, 0].float().cpu(), recon[i, 0].float().cpu().clamp(-1, 1)
            tiny = 1e-7 * torch.randn(w.shape[-1], generator=torch.Generator().manual_seed(0))  # no log10(0) in specgram
            tb.add_audio(f"val/{i}_wet", w, self.global_step, sample_rate=sr)
            tb.add_audio(f"val/{i}_reconstruction", r, self.global_step, sample_rate=sr)
            fig, axes = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
            for ax, x, title in ((axes[0], w + tiny, "wet"), (axes[1], r + tiny, "proxy reconstruction")):
                ax.specgram(x.numpy(), NFFT=1024, Fs=sr, noverlap=768, cmap="magma")
                ax.set_title(title, fontsize=9)
                ax.set_ylabel("Hz")
            axes[0].set_title(f"wet: {Chain.from_json(batch['chain'][i])}"[:110], fontsize=7)
            axes[1].set_xlabel("s")
            tb.add_figure(f"val/{i}_spectrogram", fig, self.global_step)
            plt.close(fig)

    def configure_optimizers(self):
        o, t = self.cfg.optim, self.cfg.trainer
        decay, no_decay = [], []
        named = list(self.model.named_parameters())
        if self.adversary is not None:
            named += [(f"adversary.{n}", p) for n, p in self.adversary.named_parameters()]
        for name, p in named:
            (no_decay if p.ndim < 2 or "embed" in name or "pos" in name or "queries" in name else decay).append(p)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=(0.9, 0.98))

        def lr_lambda(step: int) -> float:
            if step < o.warmup_steps:
                return (step + 1) / max(1, o.warmup_steps)
            start = o.warmup_steps / max(1, t.max_steps)
            progress = min(1.0, max(0.0, (self.schedule_progress(step) - start) / max(1e-9, 1.0 - start)))
            return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


__all__ = ["DdspfxLightning", "chain_scores"]
