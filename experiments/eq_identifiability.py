"""Is a blind eq heard on a guitar the model never heard? Each model's eq probability on an eq'd clip vs the same clip clean.

Why: every thirteen-type candidate lost the eq on the classic seven (eq F1 0.11-0.25 against R8's 0.43-0.65) while
R8 names an eq on about half of the clean clips of two never-heard guitars. A guitar's body and pickup make peaks
and dips of a few dB, like a peak eq does. If no model tells an eq'd clip from the same guitar clean, a blind eq
of that size is not identifiable on a new guitar, and a rule that counts it as a miss judges the impossible.

For each never-heard guitar, ``--n`` clips through one peak eq (knobs drawn as the test sets draw them: gain
5-12 dB either way, 200 Hz-5 kHz) from development seeds (``--seed``, 20,000,000 + seed onwards; never the test
seeds). Reported per model and guitar: the ROC AUC of the eq probability, eq'd clips against the clean clips
(0.5 = chance; the same dry clips, so the guitar is the same on both sides), by gain magnitude; the share of
pairs where the eq'd clip scores higher than its own dry; recall and clean-clip false alarms at the model's
calibrated eq threshold.

    python -m experiments.eq_identifiability --model R8= --model c13e=/work/runs/c13e [--n 100] [--seed 990000]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ddspfx.checkpoint import load_model
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text, file_sha256
from experiments.blind_identifiability import roc_auc
from experiments.evaluation.ablation import command_line, provenance
from experiments.evaluation.models import model_paths
from experiments.evaluation.sets import make_set

SOURCES = ("sf2:gmbank", "tonejs:electric", "tonejs:acoustic", "procedural:heldout")
GAIN_BINS: tuple[tuple[float, float], ...] = ((5.0, 7.5), (7.5, 10.0), (10.0, 12.0))


def eq_probabilities(model: Any, clips: Sequence[np.ndarray], batch: int = 16) -> np.ndarray:
    """(N,) the model's eq presence probability on each clip (as ``ddspfx.calibration`` reads it)."""
    column = list(model.effects).index("eq")
    out = []
    with torch.no_grad():
        for s in range(0, len(clips), batch):
            x = torch.from_numpy(np.stack(clips[s:s + batch]).astype(np.float32))
            memory, mask = model.encode(x, None)
            out.append(torch.sigmoid(model.heads(memory, mask)["presence_logits"].float())[:, column].numpy())
    return np.concatenate(out)


def eq_scores(p_wet: np.ndarray, p_dry: np.ndarray, gains: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC of eq'd vs clean (all, and per |gain| bin), paired wins, recall and clean-clip alarms at ``threshold``."""
    labels = np.r_[np.ones(len(p_wet)), np.zeros(len(p_dry))]
    row = {"auc": roc_auc(labels, np.r_[p_wet, p_dry]),
           "paired_wins": float(np.mean(p_wet > p_dry)),
           "recall": float(np.mean(p_wet >= threshold)),
           "clean_alarms": float(np.mean(p_dry >= threshold))}
    for lo, hi in GAIN_BINS:
        sel = (np.abs(gains) >= lo) & (np.abs(gains) <= hi)
        row[f"auc_{lo:g}_{hi:g}"] = roc_auc(np.r_[np.ones(sel.sum()), np.zeros(len(p_dry))],
                                            np.r_[p_wet[sel], p_dry]) if sel.any() else float("nan")
    return row


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.eq_identifiability", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", required=True, metavar="NAME=CHECKPOINT",
                   help="a model to score (CHECKPOINT empty: the shipped one); repeatable")
    p.add_argument("--n", type=int, default=100, help="eq'd clips per guitar (default 100)")
    p.add_argument("--seed", type=int, default=990_000, help="development seed offset (default 990000)")
    p.add_argument("--seconds", type=float, default=2.0, help="clip length (default 2)")
    p.add_argument("--out", type=Path, required=True, help="folder for report.md and results.json")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 4:
        raise DdspfxError(f"--n {args.n}: need at least 4 clips per guitar")
    torch.set_num_threads(1)
    models = {name: load_model(path or None) for name, path in model_paths(args.model).items()}
    results: dict[str, Any] = {"models": {}, "rows": [], **provenance(command_line(__file__, argv))}
    for name, model in models.items():
        if "eq" not in model.effects:
            raise DdspfxError(f"model {name} does not know the eq")
        results["models"][name] = {"sha256": file_sha256(model.checkpoint_path),
                                   "eq_threshold": float(model.presence_thresholds[list(model.effects).index("eq")])}
    for source in SOURCES:
        clips, _ = make_set(source, args.n, args.seed, args.seconds, effects=("eq",), pedals=(1, 1))
        gains = np.array([c.chain.pedals[0].params["gain_db"] for c in clips])
        for name, model in models.items():
            p_wet = eq_probabilities(model, [c.wet for c in clips])
            p_dry = eq_probabilities(model, [c.dry for c in clips])
            row = eq_scores(p_wet, p_dry, gains, results["models"][name]["eq_threshold"])
            results["rows"].append({"source": source, "model": name, **row})
            print(source, name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    keys = ["auc"] + [f"auc_{lo:g}_{hi:g}" for lo, hi in GAIN_BINS] + ["paired_wins", "recall", "clean_alarms"]
    head = ["guitar", "model", "AUC", *[f"AUC, {lo:g}-{hi:g} dB" for lo, hi in GAIN_BINS],
            "eq'd above its own dry", "recall at threshold", "clean-clip alarms"]
    lines = ["# Is a blind eq heard on a guitar never heard?", "",
             f"{args.n} clips per guitar through one peak eq, {args.seconds:g} s, development seeds "
             f"{20_000_000 + args.seed:,}+; AUC of the eq probability, eq'd clips against the same clips clean "
             "(0.5 = chance). Chance baselines: AUC 0.5, eq'd above its own dry 0.5; \"no pedal\" has recall 0 "
             "and alarms 0.", "",
             f"Git commit `{results['git_commit']}` (clean tree: {results['clean_tree']}); command `{results['command']}`.", ""]
    lines += [f"- {n}: SHA-256 `{m['sha256']}`, eq threshold {m['eq_threshold']:.2f}" for n, m in results["models"].items()]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([r["source"], r["model"], *[f"{r[k]:.3f}" for k in keys]]) + " |" for r in results["rows"]]
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "report.md", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "results.json", json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
