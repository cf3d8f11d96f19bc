"""Refinement's speed against its quality (issue 20: <= 20 s per 3-s clip on one core, never farther than the dry).

``python -m experiments.refine_speed [--n 6] [--seed 700000] [--sources synth,sf2:gmbank] [--systems before,...]
[--before COMMIT] [--out DIR]``

Each development clip (``experiments.real_sources.make_set``, pedalboard chains of 1-5 pedals: clips drawn with no
pedal are skipped until ``--n`` per source) is handed over as ``experiments.with_dry`` hands it (the dry at another
level and start, lined up and levelled by ``ddspfx.estimator.line_up_dry``); the model ``infer --dry`` uses (the shipped
dry-aware one, else the blind one: ``ddspfx.estimator.dry_estimator``) estimates the chain once, and every system refines
that same estimate with the lined-up dry (until session 26 the blind model's). Systems (``--systems``):

- ``before``: ``ddspfx/refine.py`` as it was at ``--before`` (loaded from git), its defaults;
- ``exhaustive``: today's ``refine`` with every candidate fitted for all its steps on the whole clip
  (``Schedule.exhaustive()``): what the exact speed-ups (cached target spectra, batched grid search) and keeping
  the closest knobs seen give alone;
- ``race``: the whole clip, candidates raced and stopped when they stall (``Schedule(search_seconds=None)``);
- ``search1s``: raced on 1-s excerpts, no polish (``Schedule(polish=0)``);
- ``no-waveform``: today's ``refine`` without its last stage (``waveform_s=0``: the MR-STFT fit alone) and without a
  time limit: the estimate's own candidates however long they take (the default until session 26);
- ``no-reserve``: today's ``refine`` with its time limit, but the search may spend it all (``polish_reserve=0``);
- ``insert``: today's ``refine``, trying the pedals the estimate lacks when time is left (``insert_absent=True``);
- ``default``: today's ``refine`` at its defaults (``Schedule()``: raced on 1-s excerpts, the two closest polished
  on the whole clip, other orders and subsets while ``DEFAULT_BUDGET_S`` lasts, 40 % of it kept for the polish; the
  waveform stage is off).

``exhaustive``, ``race``, ``search1s`` and ``no-waveform`` run without a time limit (``budget_s=None``), as they were
measured; ``no-reserve``, ``insert`` and ``default`` with ``DEFAULT_BUDGET_S``.

The systems run one after another on each clip, so they share the machine's load. Seconds: wall and CPU
(``time.process_time``: this process' own core time, the load's share excluded) of ``refine`` alone, one torch
thread. Quality, from ``experiments.with_dry.score_system``: the answer re-rendered by pedalboard onto the true dry
against the wet: MR-STFT distance (mean and median), SI-SDR (median), presence µF1, share of clips worse than the dry
(by SI-SDR and by MR-STFT). Writes ``report.md`` and ``results.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text

BEFORE = "413ecac4cbe30877b4afa4279fe7584f8384549e"
"""The last commit of ``ddspfx/refine.py`` before this speed work: the ``before`` system."""

SYSTEMS = ("before", "exhaustive", "race", "search1s", "no-waveform", "no-reserve", "insert", "default")

COLUMNS: tuple[tuple[str, str], ...] = (
    ("seconds_mean", "s/clip"), ("seconds_median", "s/clip median"), ("seconds_max", "s/clip max"),
    ("cpu_seconds_mean", "CPU s/clip"), ("cpu_seconds_max", "CPU s max"), ("mrstft_mean", "MR-STFT"), ("mrstft_median", "MR-STFT median"),
    ("sisdr_median", "SI-SDR median"), ("micro_f1", "µF1"), ("worse_sisdr", "worse than dry (SI-SDR)"),
    ("worse_mrstft", "worse than dry (MR-STFT)"), ("candidates", "candidates"),
)


def load_refine_at(commit: str) -> ModuleType:
    """``ddspfx/refine.py`` as committed at ``commit``, imported as a module of its own."""
    root = Path(__file__).resolve().parent.parent
    try:
        src = subprocess.run(["git", "show", f"{commit}:ddspfx/refine.py"], cwd=root, capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise DdspfxError(f"cannot read ddspfx/refine.py at {commit}: {e}") from None
    path = Path(tempfile.mkdtemp()) / f"refine_{commit[:10]}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def refiners(systems: Sequence[str], before: str) -> dict[str, Callable[..., Any]]:
    """name -> ``refine(wet, dry, analysis, sample_rate)`` for each system."""
    from ddspfx.refine import Schedule, refine

    out: dict[str, Callable[..., Any]] = {}
    for name in systems:
        if name == "before":
            out[name] = load_refine_at(before).refine
        elif name == "exhaustive":
            out[name] = partial(refine, schedule=Schedule.exhaustive(), budget_s=None)
        elif name == "race":
            out[name] = partial(refine, schedule=Schedule(search_seconds=None), budget_s=None)
        elif name == "search1s":
            out[name] = partial(refine, schedule=Schedule(polish=0), budget_s=None)
        elif name == "no-waveform":
            out[name] = partial(refine, waveform_s=0.0, budget_s=None)
        elif name == "no-reserve":
            out[name] = partial(refine, schedule=Schedule(polish_reserve=0.0))
        elif name == "insert":
            out[name] = partial(refine, schedule=Schedule(insert_absent=True))
        elif name == "default":
            out[name] = refine
        else:
            raise DdspfxError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
    return out


def development_set(spec: str, n: int, seed: int, seconds: float) -> list[Any]:
    """The first ``n`` clips of ``spec`` with at least one pedal, handed over as ``experiments.with_dry`` does."""
    from experiments.evaluation.sets import make_set
    from experiments.with_dry import hand_over

    examples, _ = make_set(spec, 3 * n, seed, seconds, "pedalboard")
    clips = [hand_over(ex, np.random.default_rng([TEST_SEED_BASE + seed, i, 20]), SAMPLE_RATE)
             for i, ex in enumerate(examples)]
    return [c for c in clips if len(c.example.chain) >= 1][:n]


def summarise(clips: Sequence[Any], answers: Sequence[Any], dry_s: Sequence[float], dry_d: Sequence[float],
              candidates: Sequence[float]) -> tuple[dict[str, float], list[float], list[float]]:
    from experiments.with_dry import score_system

    r, s, d = score_system(clips, answers, True, dry_s, dry_d)
    secs = np.asarray([a.seconds for a in answers])
    r.update(seconds_median=float(np.median(secs)),
             mrstft_mean=float(np.mean(d)), candidates=float(np.mean(candidates)))
    return r, s, d


def table(rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    lines = ["| system | " + " | ".join(c for _, c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for system, r in rows:
        lines.append(f"| {system} | " + " | ".join(f"{r.get(k, math.nan):.3f}" for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.refine_speed", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=6, help="clips per source (default 6)")
    p.add_argument("--seed", type=int, default=700000, help="test-seed offset (default 700000: development)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3: the issue's 3-s clips)")
    p.add_argument("--sources", default="synth,sf2:gmbank", help="comma-separated dry sources (real_sources specs)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, from {', '.join(SYSTEMS)}")
    p.add_argument("--before", default=BEFORE, help="the commit whose refine.py is the 'before' system")
    p.add_argument("--out", default="experiments/results/refine_speed", help="output folder")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1 or not args.seconds > 0:
        raise DdspfxError("--n must be >= 1 and --seconds > 0")
    import torch

    from ddspfx.checkpoint import provenance
    from ddspfx.estimator import Estimator, dry_estimator, line_up_dry
    from experiments.with_dry import DRY, Answer, Clock, score_system

    torch.set_num_threads(1)  # the budget is per clip on one core
    systems = [s for s in (x.strip() for x in args.systems.split(",")) if s]
    run = refiners(systems, args.before)
    model = dry_estimator() or Estimator(None)  # as infer --dry: the dry-aware model where it is shipped
    prov = provenance(model.model)
    kind = "dry-aware" if model.hears_dry else "blind"
    clips = [c for spec in filter(None, (s.strip() for s in args.sources.split(",")))
             for c in development_set(spec, args.n, args.seed, args.seconds)]
    answers: dict[str, list[Answer]] = {s: [] for s in [DRY, *systems]}
    cands: dict[str, list[float]] = {s: [] for s in systems}
    records: list[dict[str, Any]] = []
    for i, clip in enumerate(clips):
        dry, _ = line_up_dry(clip.dry, clip.example.wet, SAMPLE_RATE)
        analysis = model.analyse_many([clip.example.wet], [dry] if model.hears_dry else None)[0]
        answers[DRY].append(Answer(Chain([]), 0.0, cpu_seconds=0.0))
        record: dict[str, Any] = {"truth": clip.example.chain.to_list(), "estimate": analysis.chain.to_list()}
        for system in systems:  # one after another on the same clip: the same load for each
            clock = Clock()
            r = run[system](clip.example.wet, dry, analysis, SAMPLE_RATE)
            answer = clock.answer(r.analysis.chain)
            answers[system].append(answer)
            cands[system].append(float(len(r.scored)))
            record[system] = {"chain": r.analysis.chain.to_list(), "seconds": answer.seconds,
                              "cpu_seconds": answer.cpu_seconds, "distance_refine": r.distance_after}
        records.append(record)
        print(f"clip {i + 1}/{len(clips)} {clip.example.chain.effects}: "
              + ", ".join(f"{s} {record[s]['seconds']:.1f} s ({record[s]['cpu_seconds']:.1f} CPU) "
                          f"d {record[s]['distance_refine']:.3f}" for s in systems), flush=True)
    _, dry_s, dry_d = score_system(clips, answers[DRY], True)
    rows: list[tuple[str, dict[str, float]]] = []
    for system in systems:
        r, s, d = summarise(clips, answers[system], dry_s, dry_d, cands[system])
        rows.append((system, r))
        for rec, si, di in zip(records, s, d):
            rec[system].update(sisdr_db=si, mrstft=di)
    out = Path(args.out)
    header = (f"{len(clips)} development clips of {args.seconds:g} s ({args.n} per source: {args.sources}; "
              f"pedalboard chains of 1-5 pedals), seeds {TEST_SEED_BASE + args.seed}+, handed over and lined up as "
              f"in `experiments.with_dry`; every system refines the shipped {kind} model's estimate with the lined-up "
              f"dry, at `refine`'s defaults unless named. Seconds: `refine` alone, one torch thread, wall and CPU; "
              f"the systems ran one after another on each clip, under the same load. Quality: the answer "
              f"re-rendered by pedalboard onto the true dry, against the wet.")
    report = (f"# Refinement: speed against quality\n\n{header}\n\n"
              f"Model `{prov['checkpoint']}`, SHA-256 `{prov['sha256']}`; git commit `{prov['git_commit']}`; "
              f"`before` is `ddspfx/refine.py` at `{args.before}`.\n\n{table(rows)}\n\n"
              f"Command: `python -m experiments.refine_speed {' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    atomic_write_text(out / "report.md", report)
    atomic_write_text(out / "results.json", json.dumps({"setup": vars(args), "provenance": prov,
                                                        "rows": [{"system": s, **r} for s, r in rows],
                                                        "clips": records}, indent=2))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
