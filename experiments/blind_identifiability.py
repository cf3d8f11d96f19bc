"""Can one pedal be heard without the dry signal? Lone pedal vs no pedal, from the clip's spectrum and from the model.

For each effect, ``--n`` dry synth guitar clips; every second one goes through that effect alone
(settings drawn by the chain sampler, so always audible against its own dry). Two blind judges
tell the wet clips from the dry ones:

- **long-term spectrum**: the clip's average spectrum in 48 log-spaced bands (dB, mean removed, so
  loudness does not count), classified by logistic regression and by a small MLP trained on 75 % of
  the clips and scored on the other 25 %. If the effect is a static tone change, this is the
  feature that carries it; a low score means the synthetic guitars' own tone (random body modes,
  pickup resonance, string damping) varies as much as the effect does.
- **the model**: its presence probability for that effect on the same 25 %, with recall and false
  alarms at its calibrated threshold (what ``ddspfx.infer`` reports).

The score is the ROC AUC (0.5 = chance, 1 = always told apart). The clips come from their own seed
(``--seed``), not from the training, validation or test seeds.

    python -m experiments.blind_identifiability [--checkpoint PATH] [--n 1600] [--seed 31] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from experiments.evaluation.ablation import command_line, write_table

OUT = Path(__file__).resolve().parent / "results" / "blind_identifiability"
N_BANDS, F_MIN, F_MAX = 48, 60.0, 16_000.0


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        raise ValueError("ROC AUC needs both classes")
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def long_term_spectrum(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """(N_BANDS,) band levels in dB of the Welch spectrum, mean removed."""
    from scipy.signal import welch

    f, p = welch(x, sample_rate, nperseg=8192)
    edges = np.geomspace(F_MIN, min(F_MAX, sample_rate / 2), N_BANDS + 1)
    levels = np.array([p[(f >= lo) & (f < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])])
    db = 10 * np.log10(levels + 1e-12)
    return (db - db.mean()).astype(np.float32)


def probe_auc(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, hidden: int = 0,
              epochs: int = 1500, seed: int = 0) -> float:
    """Test AUC of a logistic regression (hidden 0) or a 2-layer MLP trained full-batch on standardised features."""
    torch.manual_seed(seed)
    xt, xv = torch.from_numpy(x_train), torch.from_numpy(x_test)
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    d = xt.shape[1]
    net = (torch.nn.Linear(d, 1) if hidden == 0 else
           torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                               torch.nn.ReLU(), torch.nn.Linear(hidden, 1)))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    yt = torch.from_numpy(y_train).float()
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(xt).squeeze(-1), yt).backward()
        opt.step()
    with torch.no_grad():
        return roc_auc(y_test, net(xv).squeeze(-1).numpy())


def lone_pedal_clips(effect: str, n: int, seed: int, seconds: float, sample_rate: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(n, T) wet clips and (n,) labels: odd clips through ``effect`` alone, even ones dry (same level rule)."""
    from ddspfx.render import render_chain
    from ddspfx.sampler import sample_params
    from ddspfx.sources import make_source

    src = make_source("synth", sample_rate)
    rng = np.random.default_rng([seed, EFFECT_NAMES.index(effect)])
    clips, labels = [], np.arange(n) % 2
    for label in tqdm(labels, desc=effect, unit="clip", leave=False):
        dry = src.sample(rng, seconds)
        chain = Chain([Pedal(effect, sample_params(rng, effect))] if label else [])
        wet, _ = render_chain(dry, chain, sample_rate)  # dry clips get the same output level rule
        clips.append(wet.astype(np.float32))
    return np.stack(clips), labels


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.blind_identifiability", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", help="model (.safetensors or run folder); default: the shipped model")
    p.add_argument("--n", type=int, default=1600, help="clips per effect, half of them wet (default 1600)")
    p.add_argument("--seed", type=int, default=31)
    p.add_argument("--effects", default=",".join(EFFECT_NAMES), help="comma-separated (default: all)")
    p.add_argument("--epochs", type=int, default=1500, help="full-batch epochs of the spectrum probes")
    p.add_argument("--out", default=str(OUT))
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 8:
        raise DdspfxError("--n must be at least 8 (both classes in the 25 % test part)")
    torch.set_num_threads(1)
    from ddspfx.catalog import check_effect_names
    from ddspfx.checkpoint import load_model

    effects = check_effect_names([e.strip() for e in args.effects.split(",") if e.strip()])
    model = load_model(args.checkpoint).eval()
    sr, n_train = model.sample_rate, int(0.75 * args.n)
    results: dict[str, dict[str, float]] = {}
    for effect in effects:
        clips, labels = lone_pedal_clips(effect, args.n, args.seed, model.clip_seconds, sr)
        feats = np.stack([long_term_spectrum(c, sr) for c in clips])
        split = (feats[:n_train], labels[:n_train], feats[n_train:], labels[n_train:])
        probs = []
        for s in range(n_train, args.n, 32):
            preds = model.predict(torch.from_numpy(clips[s:s + 32]), beam=1, order="beam")
            probs += [p.effect_confidence[effect] for p in preds]
        probs_a, y = np.array(probs), labels[n_train:]
        threshold = float(model.presence_thresholds[EFFECT_NAMES.index(effect)])
        found = probs_a > threshold
        results[effect] = {
            "spectrum_logistic_auc": probe_auc(*split, hidden=0, epochs=args.epochs),
            "spectrum_mlp_auc": probe_auc(*split, hidden=128, epochs=args.epochs),
            "model_auc": roc_auc(y, probs_a),
            "model_recall": float(found[y == 1].mean()), "model_false_alarms": float(found[y == 0].mean()),
            "model_mean_prob_wet": float(probs_a[y == 1].mean()), "model_mean_prob_dry": float(probs_a[y == 0].mean()),
            "threshold": threshold, "n_test": int(len(y)),
        }
    cols = [("spectrum_logistic_auc", "spectrum, logistic AUC"), ("spectrum_mlp_auc", "spectrum, MLP AUC"),
            ("model_auc", "model AUC"), ("model_recall", "model recall"), ("model_false_alarms", "model false alarms"),
            ("model_mean_prob_wet", "mean prob. wet"), ("model_mean_prob_dry", "mean prob. dry")]
    lines = ["| lone pedal vs dry | " + " | ".join(c for _, c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {e} | " + " | ".join(f"{r[k]:.3f}" for k, _ in cols) + " |" for e, r in results.items()]
    header = (f"Checkpoint {args.checkpoint or 'shipped'}; per effect {args.n} synth clips of {model.clip_seconds:g} s "
              f"(half through the effect alone), seed {args.seed}; probes trained on {n_train}, everything scored on "
              f"the other {args.n - n_train}. Recall and false alarms at the model's calibrated thresholds.")
    write_table(Path(args.out), "Blind identifiability of a lone pedal", command_line("blind_identifiability.py", argv),
                header, "\n".join(lines), {"setup": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
