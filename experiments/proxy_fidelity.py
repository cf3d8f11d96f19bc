"""How close each torch proxy sounds to its pedalboard pedal, as a table (and a speed table).

For each effect we draw ``n`` settings uniformly in normalised parameter space and ``n``
guitar clips, render each clip with pedalboard and with the proxy at setting a, and report

    ratio = MRSTFT(proxy(a), pedalboard(a)) / MRSTFT(pedalboard(b), pedalboard(a))

where b is a second independent setting: the proxy's error measured in units of how much
the knobs themselves change the sound ("parameter spread"). Median and p90 over the
settings, plus the largest absolute sample error seen.

    python -m experiments.proxy_fidelity --n 50 --seconds 2 --effects distortion eq delay reverb --out table.md
    python -m experiments.proxy_fidelity --bench --effects distortion eq delay reverb
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, check_effect_names, denormalise_params, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.proxies import get_proxy
from ddspfx.render import run_reference
from ddspfx.sources import make_source
from ddspfx.spectral import FIDELITY, mrstft


@dataclass
class FidelityConfig:
    """What ``fidelity_table`` measures."""

    n: int = 50  # settings (and clips) per effect
    seconds: float = 2.0  # clip length
    seed: int = 0  # everything random derives from it
    sample_rate: int = SAMPLE_RATE  # Hz
    effects: tuple[str, ...] = field(default_factory=lambda: EFFECT_NAMES)
    source: str = "synth"  # the dry guitar (a ddspfx.sources spec): "synth", or a sampled guitar such as sf2:timgm6mb


@dataclass
class EffectFidelity:
    """One row of the table."""

    effect: str
    median_ratio: float
    p90_ratio: float
    max_abs_error: float
    median_spread: float
    n: int


def guitar_clip(rng: np.random.Generator, seconds: float, sample_rate: int) -> np.ndarray:
    """A dry guitar phrase (T,) float32 from the synthetic guitar, zero-padded to ``seconds``."""
    from ddspfx.sources.synth import render_phrase

    x = np.asarray(render_phrase(rng, seconds, sample_rate), dtype=np.float32)
    t = int(round(seconds * sample_rate))
    return np.pad(x, (0, max(0, t - x.size)))[:t]


def random_params(effect: str, rng: np.random.Generator) -> dict[str, float]:
    """A setting drawn uniformly in normalised space over the catalog's full range, real units."""
    return denormalise_params(effect, rng.uniform(0.0, 1.0, size=len(get_effect(effect).params)))


def render_proxy(effect: str, x: np.ndarray, params: dict[str, float], sample_rate: int) -> np.ndarray:
    """The proxy on a (C, T) float32 clip, as (C, T) float32 (no grad)."""
    with torch.no_grad():
        y = get_proxy(effect)(torch.from_numpy(x)[None], sample_rate, **params)
    return y[0].numpy()


def _mrstft() -> Callable[[np.ndarray, np.ndarray], float]:
    """The MR-STFT distance at ``ddspfx.spectral.FIDELITY`` (auraloss's default resolutions) on (C, T) clips."""
    loss = mrstft(FIDELITY)

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        with torch.no_grad():
            return float(loss(torch.from_numpy(a)[None], torch.from_numpy(b)[None]))

    return distance


def measure_effect(effect: str, config: FidelityConfig, progress: Callable[[], None] | None = None) -> EffectFidelity:
    """Fidelity of one effect's proxy over ``config.n`` random settings and clips."""
    rng = np.random.default_rng([config.seed, EFFECT_NAMES.index(effect)])
    distance = _mrstft()
    ratios, spreads, max_err = [], [], 0.0
    dry_source = None if config.source == "synth" else make_source(config.source, sample_rate=config.sample_rate)
    for _ in range(config.n):
        if dry_source is None:
            x = guitar_clip(rng, config.seconds, config.sample_rate)[None]  # (1, T)
        else:
            x = np.asarray(dry_source.sample(rng, config.seconds), dtype=np.float32)[None]  # (1, T)
        a, b = random_params(effect, rng), random_params(effect, rng)
        ref_a = run_reference(x, Chain([Pedal(effect, a)]), config.sample_rate)
        ref_b = run_reference(x, Chain([Pedal(effect, b)]), config.sample_rate)
        y = render_proxy(effect, x, a, config.sample_rate)
        spread = distance(ref_b, ref_a)
        spreads.append(spread)
        ratios.append(distance(y, ref_a) / max(spread, 1e-12))
        max_err = max(max_err, float(np.max(np.abs(y - ref_a))))
        if progress is not None:
            progress()
    return EffectFidelity(
        effect,
        median_ratio=float(np.median(ratios)),
        p90_ratio=float(np.percentile(ratios, 90)),
        max_abs_error=max_err,
        median_spread=float(np.median(spreads)),
        n=config.n,
    )


def fidelity_table(config: FidelityConfig, show_progress: bool = True) -> list[EffectFidelity]:
    """One :class:`EffectFidelity` per effect in ``config.effects``."""
    from tqdm import tqdm

    rows = []
    with tqdm(total=config.n * len(config.effects), disable=not show_progress, desc="fidelity") as bar:
        for effect in config.effects:
            bar.set_postfix_str(effect)
            rows.append(measure_effect(effect, config, progress=lambda: bar.update(1)))
    return rows


def format_table(rows: Sequence[EffectFidelity], config: FidelityConfig) -> str:
    """Markdown table of :func:`fidelity_table` rows."""
    lines = [
        f"Proxy vs its reference renderer (pedalboard, or ddspfx's own DSP where pedalboard has no such pedal): "
        f"{config.n} random settings per effect, {config.seconds:g} s clips of the {config.source} guitar at "
        f"{config.sample_rate} Hz, seed {config.seed}. ratio = MRSTFT(proxy, pedalboard) / MRSTFT(pedalboard a, pedalboard b).",
        "",
        "| effect | median ratio | p90 ratio | max abs error | median spread (MRSTFT) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.effect} | {r.median_ratio:.2e} | {r.p90_ratio:.2e} | {r.max_abs_error:.2e} | {r.median_spread:.3f} |"
        )
    return "\n".join(lines) + "\n"


def benchmark(effects: Sequence[str], batch: int = 8, seconds: float = 2.0, sample_rate: int = SAMPLE_RATE,
              repeats: int = 3, seed: int = 0) -> list[tuple[str, float, float, float]]:
    """(effect, forward s, forward+backward s, pedalboard s for the same batch), best of ``repeats``."""
    rng = np.random.default_rng(seed)
    x_np = np.stack([guitar_clip(rng, seconds, sample_rate) for _ in range(batch)])[:, None]  # (B, 1, T)
    rows = []
    for effect in effects:
        eff = get_effect(effect)
        u = rng.uniform(0.0, 1.0, size=(batch, len(eff.params)))
        settings = [denormalise_params(effect, row) for row in u]
        fn = get_proxy(effect)
        fwd, bwd, ped = [], [], []
        for _ in range(repeats):
            params = {p.name: torch.tensor([s[p.name] for s in settings], dtype=torch.float32, requires_grad=True)
                      for p in eff.params}
            x = torch.from_numpy(x_np).requires_grad_(True)
            t0 = time.perf_counter()
            with torch.no_grad():
                fn(x, sample_rate, **params)
            fwd.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fn(x, sample_rate, **params).square().mean().backward()
            bwd.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for i in range(batch):
                run_reference(x_np[i], Chain([Pedal(effect, settings[i])]), sample_rate)
            ped.append(time.perf_counter() - t0)
        rows.append((effect, min(fwd), min(bwd), min(ped)))
    return rows


def format_benchmark(rows: Sequence[tuple[str, float, float, float]], batch: int, seconds: float, sample_rate: int,
                     threads: int) -> str:
    lines = [
        f"Batch {batch} x {seconds:g} s mono at {sample_rate} Hz, {threads} torch thread(s), best of 3.",
        "",
        "| effect | forward (s) | forward+backward (s) | pedalboard, same batch (s) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {e} | {f:.3f} | {b:.3f} | {p:.3f} |" for e, f, b, p in rows]
    return "\n".join(lines) + "\n"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m experiments.proxy_fidelity", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="random settings (and clips) per effect (default 50)")
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length in seconds (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-rate", type=int, default=SAMPLE_RATE, help="Hz (default 44100)")
    parser.add_argument("--effects", nargs="+", default=list(EFFECT_NAMES), metavar="EFFECT",
                        help=f"effects to measure (default all: {' '.join(EFFECT_NAMES)})")
    parser.add_argument("--source", default="synth", help="dry guitar: synth, or a ddspfx.sources spec (sf2:timgm6mb)")
    parser.add_argument("--out", default=None, help="also write the markdown table to this file")
    parser.add_argument("--bench", action="store_true", help="time the proxies instead (batch 8 by default)")
    parser.add_argument("--batch", type=int, default=8, help="batch size for --bench (default 8)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for --bench (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    check_effect_names(args.effects)
    if args.n < 1 or args.seconds <= 0 or args.batch < 1 or args.sample_rate < 8000:
        raise DdspfxError("--n and --batch must be >= 1, --seconds > 0 and --sample-rate >= 8000")
    if args.bench:
        torch.set_num_threads(args.threads)
        text = format_benchmark(benchmark(args.effects, args.batch, args.seconds, args.sample_rate, seed=args.seed),
                                args.batch, args.seconds, args.sample_rate, args.threads)
    else:
        config = FidelityConfig(n=args.n, seconds=args.seconds, seed=args.seed, sample_rate=args.sample_rate,
                                effects=tuple(args.effects), source=args.source)
        text = format_table(fidelity_table(config, show_progress=not args.no_progress), config)
    print(text, end="")
    if args.out:
        atomic_write_text(args.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
