"""Throughput of the whole generation path vs pedalboard's own render (issue 2, "Measure").

For 2-s clips with k = 1..5 effects, with 1 and 2 worker processes, it times
  - whole path: EffectsDataset item = source clip + chain sampling + render_chain + tokens/targets,
  - floor: pedalboard alone (``chain.to_pedalboard()(dry)``) on the same dry clips and chains,
both in the same run, and prints clips/s and the ratio (goal: whole / floor <= 1.3).

    python experiments/bench_render.py [--n 200] [--seconds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

_STATE: dict = {}


def _init(k: int, seconds: float) -> None:
    import torch

    torch.set_num_threads(1)
    from ddspfx.data import EffectsDataset
    from ddspfx.sampler import SamplerConfig

    ds = EffectsDataset("synth", n=10**9, seed=k, duration_s=seconds, sampler=SamplerConfig(min_effects=k, max_effects=k))
    _STATE["ds"] = ds
    _ = ds.source  # build the source (and compile it) before timing
    ds[0]


def _whole(i: int) -> float:
    t = time.perf_counter()
    _STATE["ds"][i]
    return time.perf_counter() - t


def _floor(i: int) -> float:
    """pedalboard alone on example i's dry clip and chain (generated untimed)."""
    ex = _STATE["ds"].example(i)
    x = ex.dry[None, :]
    t = time.perf_counter()
    ex.chain.to_pedalboard()(x, _STATE["ds"].sample_rate, reset=True)
    return time.perf_counter() - t


def _throughput(fn, k: int, n: int, seconds: float, workers: int) -> float:
    """clips/s of ``fn`` over n clips: summed per-clip time / workers (both columns are timed the same way,
    so load from other processes on a shared machine does not favour either; pool set-up is excluded)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(k, seconds)) as pool:
        times = pool.map(fn, range(n), chunksize=max(1, n // (4 * workers)))
    return n / (sum(times) / workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="clips per cell (default 200)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--effects", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"{args.seconds:g}-s clips, n={args.n} per cell; clips/s (higher is better)")
    print(f"{'effects':>7} {'workers':>7} | {'pedalboard':>10} {'whole path':>10} {'ratio':>6}")
    for w in args.workers:
        for k in args.effects:
            floor = _throughput(_floor, k, args.n, args.seconds, w)
            whole = _throughput(_whole, k, args.n, args.seconds, w)
            print(f"{k:>7} {w:>7} | {floor:>10.1f} {whole:>10.1f} {floor / whole:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
