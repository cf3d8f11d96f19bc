"""Speed of the proxies and of the switching-matrix chain, against pedalboard.

One table: forward and forward+backward time of each proxy and of the full SoftChain (a soft
permutation of all 7 effects, and a near-hard one with and without skipping negligible
evaluations) for a batch of mono guitar clips, at 44.1 kHz and 22.05 kHz, next to pedalboard's
render of the same thing (a loop over the batch: pedalboard cannot take batches).

    python -m experiments.bench_proxies [--batch 8] [--seconds 2] [--threads 2] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, TYPICAL_ORDER, denormalise_params, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.model.sinkhorn import sinkhorn
from ddspfx.proxies import get_proxy
from ddspfx.proxies.switching import SoftChain
from ddspfx.targets import chain_to_targets
from experiments.proxy_recovery import dry_clips


@dataclass
class Row:
    name: str
    sample_rate: int
    evaluations: int  # proxy evaluations (batch items x effects) per forward
    forward_s: float
    backward_s: float  # forward + backward
    pedalboard_s: float


def _best(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: numba compilation, allocator, FFT plans
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _pedalboard(dry: np.ndarray, chains: Sequence[Chain], sample_rate: int) -> None:
    for i, chain in enumerate(chains):
        chain.to_pedalboard()(dry[i], float(sample_rate), reset=True)  # (1, T) float32


def bench_rate(sample_rate: int, batch: int, seconds: float, repeats: int, seed: int) -> list[Row]:
    rng = np.random.default_rng(seed)
    dry_np = dry_clips(rng, batch, seconds, sample_rate)[:, None, :]  # (B, 1, T)
    dry = torch.from_numpy(dry_np)
    u = 0.15 + 0.7 * rng.uniform(size=(batch, len(EFFECT_NAMES), MAX_PARAMS))  # (B, N, P) normalised
    settings = [[denormalise_params(e, u[b, n]) for n, e in enumerate(EFFECT_NAMES)] for b in range(batch)]
    rows = []

    for n, effect in enumerate(EFFECT_NAMES):
        fn = get_proxy(effect)
        names = get_effect(effect).param_names

        def make_params(grad: bool, n: int = n, names: tuple[str, ...] = names) -> dict:
            return {k: torch.tensor([settings[b][n][k] for b in range(batch)], requires_grad=grad) for k in names}

        def fwd(fn: Callable = fn, make_params: Callable = make_params) -> None:
            with torch.no_grad():
                fn(dry, sample_rate, **make_params(False))

        def fwd_bwd(fn: Callable = fn, make_params: Callable = make_params) -> None:
            x = dry.clone().requires_grad_(True)
            fn(x, sample_rate, **make_params(True)).square().mean().backward()

        chains = [Chain([Pedal(effect, settings[b][n])]) for b in range(batch)]
        def render(chains: list[Chain] = chains) -> None:
            _pedalboard(dry_np, chains, sample_rate)

        rows.append(Row(effect, sample_rate, batch, _best(fwd, repeats), _best(fwd_bwd, repeats), _best(render, repeats)))

    # the full chain: all 7 effects, typical order for pedalboard and for the near-hard perm
    full = [Chain([Pedal(e, settings[b][EFFECT_NAMES.index(e)]) for e in TYPICAL_ORDER]) for b in range(batch)]
    t_pedalboard = _best(lambda: _pedalboard(dry_np, full, sample_rate), repeats)
    hard, gates, _ = chain_to_targets(full[0])
    gates = gates.expand(batch, -1)
    params = torch.from_numpy(u).float()
    g = torch.Generator().manual_seed(seed)
    soft = sinkhorn(torch.randn(batch, len(EFFECT_NAMES), len(EFFECT_NAMES), generator=g), tau=1.0)  # every weight >> eps
    near = sinkhorn(6.0 * hard + 0.3 * torch.randn(batch, *hard.shape, generator=g), tau=0.3, n_iters=50)
    cases = [("SoftChain soft perm", soft, 1e-3), ("SoftChain near-hard, skip < 1e-3", near, 1e-3),
             ("SoftChain near-hard, no skipping", near, 0.0)]
    for name, perm, eps in cases:
        chain = SoftChain(EFFECT_NAMES, eps=eps)

        def chain_fwd(chain: SoftChain = chain, perm: torch.Tensor = perm) -> None:
            with torch.no_grad():
                chain(dry, perm, gates, params, sample_rate)

        def chain_fwd_bwd(chain: SoftChain = chain, perm: torch.Tensor = perm) -> None:
            p = params.clone().requires_grad_(True)
            pm = perm.clone().requires_grad_(True)
            chain(dry, pm, gates, p, sample_rate).square().mean().backward()

        t_f = _best(chain_fwd, repeats)
        rows.append(Row(name, sample_rate, chain.last_evaluations, t_f, _best(chain_fwd_bwd, repeats), t_pedalboard))
    return rows


def format_table(rows: Sequence[Row], batch: int, seconds: float, threads: int, repeats: int) -> str:
    lines = [
        f"Batch {batch} x {seconds:g} s mono guitar, torch.set_num_threads({threads}), best of {repeats}; "
        f"pedalboard renders the same effect / 7-effect chain in a loop over the batch (one thread).",
        "",
        "| what | rate (Hz) | evaluations | forward (s) | forward+backward (s) | pedalboard (s) | forward / pedalboard |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.name} | {r.sample_rate} | {r.evaluations} | {r.forward_s:.3f} | {r.backward_s:.3f} | "
                     f"{r.pedalboard_s:.3f} | {r.forward_s / r.pedalboard_s:.1f}x |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the CI machine's cores)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rates", type=int, nargs="+", default=[44_100, 22_050])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for sr in args.rates:
        rows += bench_rate(sr, args.batch, args.seconds, args.repeats, args.seed)
    print(format_table(rows, args.batch, args.seconds, args.threads, args.repeats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
