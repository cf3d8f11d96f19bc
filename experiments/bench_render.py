"""Throughput of the whole generation path vs pedalboard's own render (issue 2, "Measure").

For 2-s clips with k = 1..5 effects, with 1 and 2 worker processes, each worker times, clip by clip
and back to back (paired, so load from other processes hits both alike):
  - whole path: an EffectsDataset item = source clip + chain sampling + render_chain + tokens/targets,
  - floor: pedalboard alone (``chain.to_pedalboard()(dry)``) on the same dry clip and chain,
  - source: the dry source alone (part of the whole path; shown so its share is visible).
clips/s = workers / mean per-clip time (means, unlike medians, add up: the synth source's cost varies
10x from a single note to a riff). Goal: whole / floor <= 1.3.

    python -m experiments.bench_render [--n 200] [--seconds 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

_STATE: dict = {}


def _init(k: int, seconds: float) -> None:
    import torch

    torch.set_num_threads(1)
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.data.recipe import Recipe
    from ddspfx.sampler import SamplerConfig

    ds = EffectsDataset("synth", n=10**9, seed=k, duration_s=seconds, recipe=Recipe(sampler=SamplerConfig(min_effects=k, max_effects=k)))
    _STATE["ds"] = ds
    for i in range(3):  # build and compile the source, warm pedalboard
        ds[10**8 + i]


def _time_clip(i: int) -> tuple[float, float, float]:
    """(whole, pedalboard, source) seconds for example i."""
    import numpy as np

    from ddspfx.data.dataset import example_seed

    ds = _STATE["ds"]
    t0 = time.perf_counter()
    ds[i]
    t1 = time.perf_counter()
    ex = ds.example(i)  # untimed: the same dry clip and chain again
    board = ex.chain.to_pedalboard()
    x = ex.dry[None, :]
    t2 = time.perf_counter()
    board(x, ds.sample_rate, reset=True)
    t3 = time.perf_counter()
    rng = np.random.default_rng(example_seed(ds.seed, i))
    t4 = time.perf_counter()
    ds.source.sample(rng, ds.duration_s)
    t5 = time.perf_counter()
    # the floor includes building the board, which any pedalboard user pays per chain
    return t1 - t0, (t3 - t2) + _board_build_time(ex.chain), t5 - t4


def _board_build_time(chain) -> float:
    t = time.perf_counter()
    chain.to_pedalboard()
    return time.perf_counter() - t


def measure(k: int, n: int, seconds: float, workers: int) -> tuple[float, float, float]:
    """clips/s of (whole path, pedalboard, source) with ``workers`` processes."""
    import numpy as np

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(k, seconds)) as pool:
        times = np.array(pool.map(_time_clip, range(n), chunksize=max(1, n // (4 * workers))))  # (n, 3)
    return tuple(float(workers / t) for t in times.mean(axis=0))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="clips per cell (default 200)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--effects", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"{args.seconds:g}-s clips, n={args.n} per cell; clips/s = workers / mean per-clip time")
    print(f"{'effects':>7} {'workers':>7} | {'pedalboard':>10} {'whole path':>10} {'ratio':>6} | {'source':>7} {'ratio w/o source':>16}")
    for w in args.workers:
        for k in args.effects:
            whole, floor, source = measure(k, args.n, args.seconds, w)
            rest = 1.0 / (1.0 / whole - 1.0 / source)  # clips/s of everything but the source (means add up)
            print(f"{k:>7} {w:>7} | {floor:>10.1f} {whole:>10.1f} {floor / whole:>6.2f} | {source:>7.1f} {floor / rest:>16.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
