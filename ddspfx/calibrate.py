"""Per-pedal presence thresholds chosen on held-out clips: ``python -m ddspfx.calibrate CHECKPOINT``.

Why: one 0.5 threshold for every pedal assumes the presence head is equally sure of each; it is not
(eq and phaser rarely reach 0.5 although their probabilities still rank clips well). Each pedal's
threshold is chosen on validation clips (seeds 10,000,000+, never the test seeds), by one of two
objectives: ``accuracy`` (default: each pedal's yes/no decision right as often as possible, which is
what a whole chain being right needs) or ``f1`` (find more of the pedals, at the price of more
false alarms). Measured on the first CNN-stem model (300 development clips): thresholds 0.5 ->
accuracy -> f1 gave presence micro-F1 0.750 -> 0.772 -> 0.789, exact chain 0.277 -> 0.270 -> 0.217,
length error 0.75 -> 0.63 -> 0.74. ``python -m ddspfx.train`` calibrates (accuracy) on its validation
split before writing the model; this command re-calibrates an exported model, e.g. on your own dry
guitar (``--source folder:PATH``), and rewrites only its sidecar (the weights are unchanged).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.config import DataConfig
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.metrics import precision_recall_f1
from ddspfx.sources import SPECS

# torch is imported inside the functions that use it ("# flags first"): ``python -m ddspfx.calibrate`` reports a bad
# flag before seconds of imports

GRID: np.ndarray = np.round(np.arange(0.05, 0.951, 0.05), 2)
"""Candidate thresholds (coarse on purpose: a few hundred clips cannot resolve finer steps)."""


OBJECTIVES: tuple[str, ...] = ("accuracy", "f1")

SHIPPED = "default"
"""The checkpoint argument that names the shipped model (as training's ``--trainer.init_from default`` does)."""


def best_thresholds(probs: np.ndarray, labels: np.ndarray, objective: str = "accuracy", grid: np.ndarray = GRID,
                    min_positives: int = 10, default: float = 0.5) -> np.ndarray:
    """probs, labels (M, N) -> (N,) the grid threshold maximising each column's ``objective``.

    Ties go to the threshold closest to ``default``; a column with fewer than ``min_positives``
    positives (too few to choose from) keeps ``default``.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    out = np.full(probs.shape[1], float(default))
    for j in range(probs.shape[1]):
        y = labels[:, j]
        if y.sum() < min_positives:
            continue
        every = np.broadcast_to(probs[:, [j]], (len(y), len(grid)))  # column j against each grid threshold
        if objective == "f1":
            score = f1_per_pedal(every, y[:, None], grid)
        else:
            score = ((every > grid) == y[:, None]).mean(0)
        best = np.flatnonzero(np.isclose(score, score.max()))
        out[j] = float(grid[best[np.argmin(np.abs(grid[best] - default))]])
    return out


def presence_probabilities(model: Any, dataset: Any, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(presence probabilities (M, N), true presence (M, N)) of the model on every item of ``dataset``."""
    import torch  # flags first: this module is also the command line

    from ddspfx.data import collate  # flags first

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


def f1_per_pedal(probs: np.ndarray, labels: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """(N,) F1 of each pedal when detected as ``probs > thresholds``."""
    pred, y = probs > np.asarray(thresholds), np.asarray(labels).astype(bool)
    tp = (pred & y).sum(0)
    return precision_recall_f1(tp, pred.sum(0) - tp, y.sum(0) - tp, empty=0.0)[2]


def calibrate(model: Any, dataset: Any, objective: str = "accuracy", batch_size: int = 32) -> dict[str, Any]:
    """Set ``model.presence_thresholds`` from ``dataset``; returns the thresholds and F1 before/after."""
    import torch  # flags first: this module is also the command line

    probs, labels = presence_probabilities(model, dataset, batch_size)
    th = best_thresholds(probs, labels, objective)
    before, after = f1_per_pedal(probs, labels, 0.5), f1_per_pedal(probs, labels, th)
    model.presence_thresholds = torch.tensor(th, dtype=torch.float32)
    names = model.effects
    return {"thresholds": dict(zip(names, th.tolist())), "objective": objective, "clips": int(len(probs)),
            "f1_at_0.5": dict(zip(names, np.round(before, 4).tolist())),
            "f1_calibrated": dict(zip(names, np.round(after, 4).tolist()))}


def build_parser() -> argparse.ArgumentParser:
    ap = CliParser(prog="python -m ddspfx.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="exported model (.safetensors with its .json sidecar, or its run folder); "
                                       f"{SHIPPED!r}: the shipped model (its sidecar in the package is rewritten)")
    ap.add_argument("--source", default="synth", help=f"dry source of the calibration clips: {' | '.join(SPECS)} "
                                                      "(default synth)")
    ap.add_argument("--objective", choices=OBJECTIVES, default="accuracy",
                    help="accuracy: each pedal's decision right most often (default); f1: find more pedals")
    ap.add_argument("--n", type=int, default=512, help="calibration clips (validation seeds; default 512)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    return ap


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 50:
        raise DdspfxError("--n must be at least 50: fewer clips cannot choose a threshold per pedal")
    import torch  # flags first

    from ddspfx.checkpoint import load_model, update_sidecar  # flags first
    from ddspfx.datamodule import make_dataset  # flags first

    torch.set_num_threads(max(1, args.threads))
    model = load_model(None if args.checkpoint == SHIPPED else args.checkpoint)
    cfg = DataConfig(source=args.source, val_size=args.n, duration_s=model.clip_seconds,
                     max_effects=model.config.max_effects, effects=model.config.effects)
    result = calibrate(model, make_dataset(cfg, "val", model.sample_rate), args.objective)
    print("| pedal | threshold | F1 at 0.5 | F1 calibrated |\n|---|---|---|---|")
    for name in model.effects:
        print(f"| {name} | {result['thresholds'][name]:.2f} | {result['f1_at_0.5'][name]:.3f} | "
              f"{result['f1_calibrated'][name]:.3f} |")
    result["source"] = args.source
    side = update_sidecar(model.checkpoint_path, presence_thresholds=result["thresholds"], calibration=result)
    print(f"wrote the thresholds to {side} ({args.objective}, {result['clips']} clips from {args.source}, validation seeds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
