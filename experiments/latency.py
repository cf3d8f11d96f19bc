"""Where the time of one analysis goes: per-stage latency of the shipped model on 3-s clips, one thread.

``python -m experiments.latency [--n 41] [--beam 4] [--checkpoint M] [--out experiments/results/latency]``

Stages of ``DdspfxModel.predict`` (timed by wrapping the functions it calls, so the code measured is the
code shipped): level + log-mel + CNN stem + encoder ("encode"), the query heads, the beam search, the
greedy pass merged into the beam, the exhaustive order search, and the rest (parameter read-out, Python).
Also the whole ``Estimator.analyse_many`` per clip, and the same with the greedy merge switched off
(``--no-greedy-merge`` effect measured on the same clips: do the chains change?).
"""

from __future__ import annotations

import argparse
import json
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
def timed(owner: Any, name: str, totals: dict[str, float], label: str) -> Iterator[None]:
    """Wrap ``owner.name`` so that its calls add their wall time to ``totals[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - t

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def stage_times(estimator: Any, data: Sequence[np.ndarray]) -> tuple[dict[str, float], list[list[str]]]:
    """Seconds per clip in each stage, and the chains found."""
    import ddspfx.model.model as model_module

    totals: dict[str, float] = defaultdict(float)
    model = estimator.model
    real_beam = model_module.beam_search

    def beam(*args: Any, **kwargs: Any) -> Any:  # decode runs the beam, then a greedy pass (beam=1) to merge
        label = "beam search" if kwargs.get("beam", 1) > 1 or estimator.beam == 1 else "greedy merge"
        t = time.perf_counter()
        try:
            return real_beam(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - t

    model_module.beam_search = beam
    try:
        with timed(model, "encode", totals, "encode (level, mel, stem, encoder)"), \
                timed(model.heads, "forward", totals, "heads"), \
                timed(model_module, "order_search", totals, "order search"):
            t = time.perf_counter()
            chains = [a.chain.effects for a in estimator.analyse_many(list(data))]
            totals["whole analyse_many"] = time.perf_counter() - t
    finally:
        model_module.beam_search = real_beam
    named = sum(v for k, v in totals.items() if k != "whole analyse_many")
    totals["rest (read-out, windows, vote)"] = totals["whole analyse_many"] - named
    return {k: v / len(data) for k, v in totals.items()}, chains


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.latency", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=41)
    p.add_argument("--beam", type=int, default=None, help="beam width (default: the Estimator's)")
    p.add_argument("--checkpoint")
    p.add_argument("--out", default="experiments/results/latency")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from ddspfx.checkpoint import provenance
    from ddspfx.estimator import Estimator

    torch.set_num_threads(1)
    est = Estimator(args.checkpoint, beam=args.beam)
    data = clips(args.n)
    est.analyse_many(data[:2])  # warm-up (first calls allocate)
    times, chains = stage_times(est, data)
    rows = ["| stage | ms per 3-s clip | share |", "|---|---|---|"]
    whole = times["whole analyse_many"]
    rows += [f"| {k} | {1000 * v:.1f} | {v / whole:.0%} |" for k, v in times.items() if k != "whole analyse_many"]
    rows.append(f"| **whole analyse_many** | **{1000 * whole:.1f}** | 100% |")
    prov = provenance(est.model)
    table = "\n".join(rows)
    text = (f"# Latency per stage ({args.n} clips of 3 s, beam {est.beam}, one torch thread)\n\n"
            f"Model SHA-256 `{prov['sha256']}`, git `{prov['git_commit']}`. Wall times on a 2-core machine; other "
            f"jobs may have shared it (see the closing note of the session that ran it).\n\n{table}\n")
    out = Path(args.out)
    atomic_write_text(out / "table.md", text)
    atomic_write_text(out / "results.json", json.dumps({"setup": vars(args), "provenance": prov,
                                                        "ms_per_clip": {k: 1000 * v for k, v in times.items()},
                                                        "chains": chains}, indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
