"""Where the time of one analysis goes: per-stage latency of the shipped model on 3-s clips, one thread.

``python -m experiments.latency [--n 41] [--beam 4] [--checkpoint M] [--out experiments/results/latency]``
``python -m experiments.latency --against DIR [--pairs 3]``

Stages of ``Estimator.analyse_many`` (timed by wrapping the functions it calls, so the code measured is the
code shipped): level + log-mel + CNN stem + encoder ("encode"), the query heads, the beam search, the exhaustive
order search, the bins knob readout, the guitar check, and the rest (read-out, windows, vote). Each stage in wall
time and in CPU time of this process (``time.process_time``): on a machine that other jobs share, the CPU time
is far less inflated than the wall time.

``--against DIR``: the same whole ``analyse_many`` measured for another version of the package, interleaved with
this one (A B A B ..., each in a fresh process, ``--pairs`` times), so both see the same load. DIR holds that
version's ``ddspfx`` folder, e.g. ``git archive 8f9a70d ddspfx | tar -x -C /tmp/before``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ddspfx.errors import CliParser, cli_entry
from ddspfx.fileio import atomic_write_text


def clips(n: int, seed: int = 1, seconds: float = 3.0) -> list[np.ndarray]:
    """``n`` wet clips: the synthetic guitar through random chains (the CLI's typical input)."""
    from ddspfx.catalog import SAMPLE_RATE
    from ddspfx.render import render_chain
    from ddspfx.sampler import ChainSampler, SamplerConfig
    from ddspfx.sources import make_source

    rng = np.random.default_rng(seed)
    src, sampler = make_source("synth"), ChainSampler(SamplerConfig())
    out = []
    for _ in range(n):
        dry = src.sample(rng, seconds)
        out.append(render_chain(dry, sampler.sample(rng, dry, SAMPLE_RATE), SAMPLE_RATE)[0])
    return out


@contextmanager
def timed(owner: Any, name: str, wall: dict[str, float], cpu: dict[str, float], label: str) -> Iterator[None]:
    """Wrap ``owner.name`` so that its calls add their wall and CPU time to ``wall[label]`` and ``cpu[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t, c = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            wall[label] += time.perf_counter() - t
            cpu[label] += time.process_time() - c

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def stage_times(estimator: Any, data: Sequence[np.ndarray]) -> tuple[dict[str, tuple[float, float]], list[list[str]]]:
    """(wall, CPU) seconds per clip in each stage, and the chains found."""
    import ddspfx.estimator as estimator_module
    import ddspfx.model.model as model_module

    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    model = estimator.model
    with timed(model, "encode", wall, cpu, "encode (level, mel, stem, encoder)"), \
            timed(model.heads, "forward", wall, cpu, "heads"), \
            timed(model_module, "beam_search", wall, cpu, "beam search"), \
            timed(model_module, "order_search", wall, cpu, "order search"), \
            timed(model, "bin_medians_many", wall, cpu, "bins knob readout"), \
            timed(estimator_module, "check_guitar", wall, cpu, "guitar check"):
        t, c = time.perf_counter(), time.process_time()
        chains = [a.chain.effects for a in estimator.analyse_many(list(data))]
        wall["whole analyse_many"], cpu["whole analyse_many"] = time.perf_counter() - t, time.process_time() - c
    for totals in (wall, cpu):
        totals["rest (read-out, windows, vote)"] = 2 * totals["whole analyse_many"] - sum(totals.values())
    return {k: (wall[k] / len(data), cpu[k] / len(data)) for k in wall}, chains


def whole_times(estimator: Any, data: Sequence[np.ndarray], repeats: int) -> tuple[float, float]:
    """The least (wall, CPU) seconds per clip of ``analyse_many`` over ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        estimator.analyse_many(list(data))
        walls.append((time.perf_counter() - t) / len(data))
        cpus.append((time.process_time() - c) / len(data))
    return min(walls), min(cpus)


def against(root: Path, n: int, pairs: int, repeats: int) -> str:
    """Markdown: this tree's and ``root``'s whole ``analyse_many`` per clip, interleaved in fresh processes."""
    import statistics
    import subprocess

    here = Path(__file__).resolve().parent.parent
    runs: dict[str, list[tuple[float, float]]] = {"this tree": [], str(root): []}
    for _ in range(pairs):
        # run from the version's own folder: ``python -m`` puts the working directory first on sys.path, so
        # ``ddspfx`` is that version's and ``experiments`` (found through PYTHONPATH) this tree's
        for name, folder in ((str(root), root), ("this tree", here)):
            out = subprocess.run([sys.executable, "-m", "experiments.latency", "--whole", "--n", str(n),
                                  "--repeats", str(repeats)],
                                 env=dict(os.environ, PYTHONPATH=str(here), OMP_NUM_THREADS="1"),
                                 cwd=folder, check=True, capture_output=True, text=True).stdout
            wall, cpu = json.loads(out.strip().splitlines()[-1])
            runs[name].append((wall, cpu))
    rows = ["| code | CPU ms per clip (median of runs; each the least of its repeats) | wall ms per clip | runs (CPU) |",
            "|---|---|---|---|"]
    for name, r in runs.items():
        rows.append(f"| {name} | {1e3 * statistics.median(c for _, c in r):.1f} | "
                    f"{1e3 * statistics.median(w for w, _ in r):.1f} | {', '.join(f'{1e3 * c:.1f}' for _, c in r)} |")
    return "\n".join(rows) + f"\n\nload average at the end: {os.getloadavg()[0]:.1f}\n"


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.latency", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=41)
    p.add_argument("--beam", type=int, default=None, help="beam width (default: the Estimator's)")
    p.add_argument("--checkpoint")
    p.add_argument("--out", default="experiments/results/latency")
    p.add_argument("--against", type=Path, help="a folder holding another version's ddspfx: compare, interleaved")
    p.add_argument("--pairs", type=int, default=3, help="with --against: runs of each version")
    p.add_argument("--repeats", type=int, default=3, help="analyse_many runs per process (the least is kept)")
    p.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)  # --against's child: one JSON line
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.against is not None:
        print(against(args.against, args.n, args.pairs, args.repeats))
        return 0
    import torch

    from ddspfx.checkpoint import provenance
    from ddspfx.estimator import Estimator

    torch.set_num_threads(1)
    est = Estimator(args.checkpoint, beam=args.beam)
    data = clips(args.n)
    est.analyse_many(data[:2])  # warm-up (first calls allocate)
    if args.whole:
        import ddspfx

        print(f"ddspfx from {Path(ddspfx.__file__).parent}", file=sys.stderr)
        print(json.dumps(whole_times(est, data, args.repeats)))
        return 0
    times, chains = stage_times(est, data)
    rows = ["| stage | wall ms per 3-s clip | CPU ms per 3-s clip | share (CPU) |", "|---|---|---|---|"]
    whole = times["whole analyse_many"]
    rows += [f"| {k} | {1000 * w:.1f} | {1000 * c:.1f} | {c / whole[1]:.0%} |"
             for k, (w, c) in times.items() if k != "whole analyse_many"]
    rows.append(f"| **whole analyse_many** | **{1000 * whole[0]:.1f}** | **{1000 * whole[1]:.1f}** | 100% |")
    prov = provenance(est.model)
    table = "\n".join(rows)
    text = (f"# Latency per stage ({args.n} clips of 3 s, beam {est.beam}, one torch thread)\n\n"
            f"Model SHA-256 `{prov['sha256']}`, git `{prov['git_commit']}`. Wall and CPU times on a 2-core machine; "
            f"other jobs may have shared it (load average {os.getloadavg()[0]:.1f} at the end).\n\n{table}\n")
    out = Path(args.out)
    atomic_write_text(out / "table.md", text)
    atomic_write_text(out / "results.json", json.dumps({"setup": {k: str(v) for k, v in vars(args).items()},
                                                        "provenance": prov,
                                                        "ms_per_clip": {k: {"wall": 1000 * w, "cpu": 1000 * c}
                                                                        for k, (w, c) in times.items()},
                                                        "chains": chains}, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
