"""Throughput of the LADSPA plugin renderer beside pedalboard's, in 2-s clips per second per core (issue 17).

One process, one thread. For each plugin implementation (installed here) and for pedalboard's catalog
effect of the same type: render ``--n`` single-pedal clips (controls drawn beforehand, so only
rendering is timed: instantiate, run, clean up, output gain). Then 3-pedal chains in typical order:
plugins (``render_plugin_chain``, implementations drawn per clip) vs pedalboard (``render_chain``) on
the same dry clips and effect types. clips/s/core = clips / CPU seconds of this process
(``time.process_time``, robust to other jobs on the machine); wall-clock clips/s beside it.

    python -m experiments.bench_plugins [--n 100] [--seconds 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

from ddspfx.audibility import synth_dry  # noqa: E402
from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE  # noqa: E402
from ddspfx.chain import Chain, Pedal  # noqa: E402
from ddspfx.plugins.render import (  # noqa: E402
    PluginPedal,
    installed_implementations,
    render_plugin_chain,
    sample_controls,
    sample_plugin_pedal,
)
from ddspfx.render import render_chain  # noqa: E402
from ddspfx.sampler import sample_params, typical_order  # noqa: E402


def _time(jobs: list[Callable[[], object]]) -> tuple[float, float]:
    """(clips per CPU second, clips per wall second) over the jobs, after one warm-up call."""
    jobs[0]()
    c0, w0 = time.process_time(), time.perf_counter()
    for job in jobs:
        job()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return len(jobs) / max(cpu, 1e-9), len(jobs) / max(wall, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="renders per row (default 100)")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    clips = [synth_dry(rng, args.seconds, SAMPLE_RATE) for _ in range(8)]
    sr = SAMPLE_RATE

    print(f"{args.seconds:g}-s clips, 1 thread, n={args.n} per row")
    head = f"{'effect':<11} {'renderer':<20} {'clips/s/core':>12} {'clips/s wall':>12}"
    print(head)
    print("-" * len(head))
    for effect in EFFECT_NAMES:
        chains = [Chain([Pedal(effect, sample_params(rng, effect))]) for _ in range(args.n)]
        rows = [("pedalboard", _time([partial(render_chain, clips[i % 8], chains[i], sr) for i in range(args.n)]))]
        for impl in installed_implementations(effect):
            pedals = [PluginPedal(effect, impl.name, sample_controls(rng, impl)) for _ in range(args.n)]
            rows.append((impl.name, _time([partial(render_plugin_chain, clips[i % 8], [pedals[i]], sr)
                                           for i in range(args.n)])))
        for name, (cpu, wall) in rows:
            print(f"{effect:<11} {name:<20} {cpu:>12.1f} {wall:>12.1f}")

    # 3-pedal chains: the same effect types in typical order for both renderers
    types = [typical_order(list(rng.choice(EFFECT_NAMES, size=3, replace=False))) for _ in range(args.n)]
    pb = [Chain([Pedal(e, sample_params(rng, e)) for e in t]) for t in types]
    pl = [[sample_plugin_pedal(rng, e, installed_implementations(e)) for e in t] for t in types]
    for name, (cpu, wall) in (
        ("pedalboard", _time([partial(render_chain, clips[i % 8], pb[i], sr) for i in range(args.n)])),
        ("plugins", _time([partial(render_plugin_chain, clips[i % 8], pl[i], sr) for i in range(args.n)])),
    ):
        print(f"{'3-pedal':<11} {name:<20} {cpu:>12.1f} {wall:>12.1f}")


if __name__ == "__main__":
    main()
