"""Parameter recovery through the proxies: can gradient descent find a pedal's settings?

For each effect and ``n`` random settings: render a dry guitar clip through the *pedalboard*
pedal, start the proxy's normalised parameters at a random point, and run Adam on a
multi-resolution STFT loss (auraloss) between proxy(dry) and the pedalboard wet clip. This is
the analysis-by-synthesis inner loop in its simplest form, and shows which knobs the loss
landscape can and cannot find from a cold start.

Success is reported two ways, because some knobs are near-unidentifiable by ear:
  * params: every parameter within ``param_tol`` (0.1) of the truth in normalised units;
  * audio:  pedalboard re-rendered at the recovered params is within ``audio_tol`` (0.1) of the
    target relative to the effect's parameter spread: D(pb(found), wet) / median_j D(pb(start_j), wet_j),
    with D the MR-STFT distance. Each start is an independent random setting, so the median over
    trials estimates the "parameter spread" that ``experiments.proxy_fidelity`` divides by (a median,
    not each trial's own start, so a lucky start near the truth does not inflate the ratio).

All trials of one effect run as one batch (each item its own clip, truth and start); the loss is
summed over items so the trials do not interact. ``--restarts R`` gives each setting R random
starts in the same batch and keeps the one with the lowest proxy loss (never the truth); within
a run the lowest-loss iterate is kept, as Adam can climb out of a good point:
LFO rates and delay times have many local minima that one start rarely escapes.

    python -m experiments.proxy_recovery [--n 20] [--effects distortion eq] [--steps 300] [--seed 0] [--restarts 1]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ddspfx.catalog import (
    EFFECT_NAMES,
    SAMPLE_RATE,
    check_effect_names,
    denormalise_params,
    get_effect,
    normalise,
)
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.knobs import proxy_kwargs
from ddspfx.proxies import apply
from ddspfx.render import run_reference
from ddspfx.spectral import METRIC, Resolutions, mrstft, per_item


@dataclass
class RecoveryConfig:
    n: int = 20  # random settings (trials) per effect
    effects: tuple[str, ...] = EFFECT_NAMES
    steps: int = 300  # Adam steps
    restarts: int = 1  # random starts per trial, run in the same batch; the lowest final loss is kept
    seed: int = 0
    lr: float = 0.1  # Adam step size on the parameters' logits
    duration_s: float = 1.0  # dry clip length (s)
    sample_rate: int = SAMPLE_RATE  # Hz
    param_tol: float = 0.1  # normalised units, every param
    audio_tol: float = 0.1  # relative MR-STFT distance, see module docstring
    fft_sizes: tuple[int, ...] = METRIC.fft_sizes  # MR-STFT resolutions (window = size, hop = size / 4)


@dataclass
class EffectRecovery:
    """Per-effect outcome; arrays are per trial."""

    effect: str
    truth: np.ndarray  # (n, P) normalised
    start: np.ndarray  # (n, P)
    found: np.ndarray  # (n, P)
    rel_distance: np.ndarray  # (n,) D(pb(found), wet) / median D(pb(start), wet)
    spread: float  # median D(pb(start), wet): the denominator of rel_distance
    initial_loss: np.ndarray  # (n,) proxy MR-STFT loss at the start (of the kept restart)
    final_loss: np.ndarray  # (n,) proxy MR-STFT loss of the kept (lowest-loss) iterate
    param_tol: float = 0.1
    audio_tol: float = 0.1
    seconds: float = 0.0
    param_names: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_error(self) -> np.ndarray:
        return np.abs(self.found - self.truth).max(axis=1)  # (n,)

    @property
    def param_success(self) -> np.ndarray:
        return self.max_error <= self.param_tol

    @property
    def audio_success(self) -> np.ndarray:
        return self.rel_distance <= self.audio_tol

    def per_param_median_error(self) -> dict[str, float]:
        err = np.abs(self.found - self.truth)
        return {name: float(np.median(err[:, i])) for i, name in enumerate(self.param_names)}


def dry_clips(rng: np.random.Generator, n: int, duration_s: float, sample_rate: int) -> np.ndarray:
    """n dry guitar clips (n, T) float32: the synthetic guitar's phrases."""
    from ddspfx.sources.synth import render_phrase

    t_len = int(round(duration_s * sample_rate))
    out = np.zeros((n, t_len), dtype=np.float32)
    for i in range(n):
        for _ in range(20):  # a short phrase can start after the clip ends: redraw silent ones
            out[i] = render_phrase(rng, duration_s, sample_rate)
            if np.sqrt(np.mean(out[i] ** 2)) > 0.01:
                break
        else:
            raise DdspfxError(f"the synth gave silent {duration_s:g} s clips; use a longer --seconds")
    return out


def _pedalboard(effect: str, dry: np.ndarray, u: np.ndarray, sample_rate: int) -> np.ndarray:
    """Render each row of dry (n, T) through the effect's reference renderer (pedalboard, or ddspfx's own DSP for
    the pedals pedalboard lacks) at normalised params u (n, P) -> (n, T)."""
    out = np.empty_like(dry)
    for i in range(dry.shape[0]):
        out[i] = run_reference(dry[i], Chain([Pedal(effect, denormalise_params(effect, u[i]))]), sample_rate)[0]
    return out


def recover_effect(effect: str, cfg: RecoveryConfig, rng: np.random.Generator, progress=None) -> EffectRecovery:
    """Run ``cfg.n`` recovery trials of one effect as one batch; see module docstring."""
    import time

    eff = get_effect(effect)
    n, sr = cfg.n, cfg.sample_rate
    t0 = time.perf_counter()
    dry = dry_clips(rng, n, cfg.duration_s, sr)  # (n, T)
    lo = np.array([normalise(p.sample_low, p) for p in eff.params])
    hi = np.array([normalise(p.sample_high, p) for p in eff.params])
    truth = lo + (hi - lo) * rng.uniform(size=(n, len(eff.params)))  # (n, P), audible sub-range
    r = max(1, cfg.restarts)
    starts = rng.uniform(0.05, 0.95, size=(n, r, len(eff.params)))  # (n, R, P)
    start = starts[:, 0]  # (n, P): the first start of each trial, an independent random setting
    wet = _pedalboard(effect, dry, truth, sr)  # (n, T)

    loss_fn = mrstft(Resolutions.quarter_hop(cfg.fft_sizes))
    x = torch.from_numpy(dry)[:, None, :].repeat_interleave(r, dim=0)  # (n R, 1, T)
    wet_t = torch.from_numpy(wet)[:, None, :]  # (n, 1, T)
    target = wet_t.repeat_interleave(r, dim=0)  # (n R, 1, T)
    z = torch.logit(torch.from_numpy(starts.reshape(n * r, -1)).float()).requires_grad_(True)  # (n R, P)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    initial = best_loss = torch.full((n * r,), math.inf)
    best_u = torch.sigmoid(z).detach().clone()  # (n R, P) lowest-loss iterate so far
    for step in range(cfg.steps + 1):
        u = torch.sigmoid(z)
        y = apply(effect, x, sr, **proxy_kwargs(eff, u))
        losses = per_item(loss_fn, y, target)  # (n R,)
        loss_now = losses.detach()
        if step == 0:
            initial = loss_now
        better = loss_now < best_loss
        best_loss = torch.where(better, loss_now, best_loss)
        best_u = torch.where(better[:, None], u.detach(), best_u)
        if step == cfg.steps:  # the last pass only measures the final iterate
            break
        opt.zero_grad()
        losses.sum().backward()
        opt.step()
        if progress is not None:
            progress.update(1)
    final = best_loss.view(n, r)
    best = final.argmin(dim=1)  # the restart with the lowest proxy loss: no peeking at the truth
    found = best_u.double().view(n, r, -1)[torch.arange(n), best].numpy()  # (n, P)
    initial = initial.view(n, r)[torch.arange(n), best]
    final = final[torch.arange(n), best]

    with torch.no_grad():
        d_found = per_item(loss_fn, torch.from_numpy(_pedalboard(effect, dry, found, sr))[:, None], wet_t)
        d_start = per_item(loss_fn, torch.from_numpy(_pedalboard(effect, dry, start, sr))[:, None], wet_t)
    spread = float(d_start.median().clamp_min(1e-9))
    rel = (d_found / spread).numpy()
    return EffectRecovery(
        effect=effect, truth=truth, start=start, found=found, rel_distance=rel, spread=spread,
        initial_loss=initial.numpy(), final_loss=final.numpy(), param_tol=cfg.param_tol, audio_tol=cfg.audio_tol,
        seconds=time.perf_counter() - t0, param_names=eff.param_names,
    )


def run_recovery(cfg: RecoveryConfig, show_progress: bool = True) -> list[EffectRecovery]:
    """All effects of ``cfg``; each effect draws from its own generator, so subsets reproduce."""
    from tqdm import tqdm

    results = []
    with tqdm(total=cfg.steps * len(cfg.effects), disable=not show_progress, desc="recovery", unit="step") as bar:
        for effect in cfg.effects:
            bar.set_postfix_str(effect)
            rng = np.random.default_rng([cfg.seed, EFFECT_NAMES.index(effect)])
            results.append(recover_effect(effect, cfg, rng, progress=bar))
    return results


def format_table(results: Sequence[EffectRecovery], cfg: RecoveryConfig) -> str:
    """A markdown table: one row per effect."""
    lines = [
        f"Recovery: n={cfg.n} settings/effect, {cfg.restarts} start(s) each, {cfg.steps} Adam steps (lr {cfg.lr}), "
        f"{cfg.duration_s:g} s clips at "
        f"{cfg.sample_rate} Hz, seed {cfg.seed}. Success: all params within {cfg.param_tol} (normalised), or "
        f"pedalboard re-render within {cfg.audio_tol} x the parameter spread (MR-STFT).",
        "",
        "| effect | params ok | audio ok | either | median max-param err | median rel. distance | per-param median err | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        either = r.param_success | r.audio_success
        per_param = ", ".join(f"{k} {v:.3f}" for k, v in r.per_param_median_error().items())
        lines.append(
            f"| {r.effect} | {r.param_success.mean():.0%} | {r.audio_success.mean():.0%} | {either.mean():.0%} | "
            f"{np.median(r.max_error):.3f} | {np.median(r.rel_distance):.3f} | {per_param} | {r.seconds:.1f} |"
        )
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.proxy_recovery", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20, help="random settings per effect (default 20)")
    parser.add_argument("--effects", nargs="+", default=list(EFFECT_NAMES), help="canonical effect names (default: all)")
    parser.add_argument("--steps", type=int, default=300, help="Adam steps (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restarts", type=int, default=1, help="random starts per setting; keeps the lowest loss (default 1)")
    parser.add_argument("--lr", type=float, default=0.1, help="Adam step size on param logits (default 0.1)")
    parser.add_argument("--seconds", type=float, default=1.0, help="dry clip length (default 1)")
    parser.add_argument("--sample-rate", type=int, default=SAMPLE_RATE, help="Hz (default 44100)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; 0 = torch's choice)")
    return parser.parse_args(argv)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    check_effect_names(args.effects)
    if args.n < 1 or args.steps < 1 or args.restarts < 1 or args.seconds <= 0 or args.sample_rate < 8000:
        raise DdspfxError("--n, --steps and --restarts must be >= 1, --seconds > 0 and --sample-rate >= 8000")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cfg = RecoveryConfig(
        n=args.n, effects=tuple(args.effects), steps=args.steps, restarts=args.restarts, seed=args.seed, lr=args.lr,
        duration_s=args.seconds, sample_rate=args.sample_rate,
    )
    results = run_recovery(cfg)
    print(format_table(results, cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
