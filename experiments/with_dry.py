"""With the dry signal (issue 20): how close blind, dry-aware and refined answers come to each clip, and at what cost.

``python -m experiments.with_dry [--n 20] [--seed 700000] [--sources sf2:gmbank,synth] [--renderer pedalboard|plugins]
[--model NAME=CHECKPOINT ...] [--dry-model CHECKPOINT] [--budgets 1,3,10,30,60] [--out DIR]``

Each held-out clip (``experiments.real_sources.make_set``: a dry source, a chain of 0-5 pedals rendered by
pedalboard or by third-party plugins) is handed over as a user would hand it: the wet clip, and its dry at a
random level (``LEVEL_DB``) and a random start (``OFFSET_MS`` either way), seeded per clip. The dry is lined up
and levelled as ``infer --dry`` does it (``ddspfx.estimator.line_up_dry``); the table says how often alignment
found the offset to the sample. Systems, each row scored on the same clips:

- ``dry itself``: no pedal. The floor: an answer made with the dry should never sound farther from the clip;
- ``true chain``: the labels re-rendered by pedalboard onto the dry. For pedalboard clips the same audio (the
  upper bound, SI-SDR near the float limit); for plugin clips, how close pedalboard gets with the labelled knobs;
- ``blind: NAME``: each ``--model`` on the wet alone;
- ``dry-aware``: ``--dry-model`` (default ``DEFAULT_DRY_CHECKPOINT`` where it exists) on the wet and the dry;
- ``dry-aware, given the true dry``: the same model handed the dry exactly as the pedals heard it: the gap to the
  row above is what a dry at another level and start costs after ``line_up_dry``;
- ``refined``: ``ddspfx.refine.refine`` from the dry-aware estimate (else the first ``--model``'s), at
  ``infer --refine``'s default budget (``ddspfx.refine.DEFAULT_BUDGET_S``) and at each ``--budgets`` budget
  (``--refine-budget``: the estimate's own candidates, then other orders and subsets while time is left).

Metrics (``ddspfx.evaluate.Scorer``): presence precision / recall / µF1, exact and audibly equivalent chains,
nonlinear pair order, parameter error, per-pedal F1; the re-render (the answer rendered by pedalboard onto the
true dry) against the wet: SI-SDR median and 10th percentile, MR-STFT distance, and the share of clips worse
than the dry itself, by SI-SDR (the issue's target) and by MR-STFT (what refinement minimises and promises not
to lose to the dry); seconds per clip from the wet and the given dry to the answer, on one thread: wall (what a
user waits, and what ``--budgets`` caps) and this process's CPU seconds (what one free core would take: the issue's
20-s target is judged on these, since two runs often share the machine's cores). For
plugin clips knob values do not transfer: parameter error and equivalent chains are NaN there.

Outputs in ``--out``: ``report.md``, ``results.json`` (every clip's truth, offset and answers; rewritten after
each source), ``quality_vs_time.png`` and ``answers.jsonl``: every clip's answers as soon as they are made (one line
per clip, synced), so that ``--resume`` continues a run a session's end or a crash stopped (refinement rows take
minutes per clip) with the same settings and models, and redoes no clip. Seeds as in ``real_sources``: ``--seed 700000`` for development.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.config import DEFAULT_BUDGET_S, TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.scoring import LabelledClip, Scorer, score_cell
from experiments.evaluation.models import model_paths
from experiments.evaluation.sets import make_set

LEVEL_DB: tuple[float, float] = (-24.0, 6.0)
"""Range of the level the dry is handed over at, relative to the level the pedals heard (dB, uniform)."""

OFFSET_MS = 10.0
"""Largest offset between the given dry and the wet, either way (ms, uniform): recorder and plugin latencies."""

WORSE_DB, WORSE_REL = 0.01, 1e-4
"""A re-render is worse than the dry when its SI-SDR is more than ``WORSE_DB`` below the dry's own, or its
MR-STFT distance more than ``WORSE_REL`` (relative) above: margins for float rounding, not for judgement."""

TARGETS: tuple[tuple[str, str, str, float], ...] = (
    # (metric key, label, direction, target): issue 20, with the dry, real guitar, pedalboard chains
    ("micro_f1", "µF1", ">=", 0.97), ("equivalent_chain_acc", "equivalent chains", ">=", 0.80),
    ("sisdr_median", "median re-render SI-SDR (dB)", ">=", 25.0),
    ("worse_sisdr", "share of clips worse than the dry (SI-SDR)", "<=", 0.0),
    ("cpu_seconds_max", "CPU seconds per clip, slowest", "<=", 20.0),
)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("micro_precision", "precision"), ("micro_recall", "recall"), ("micro_f1", "µF1"), ("exact_chain_acc", "exact"),
    ("equivalent_chain_acc", "equiv."), ("pairwise_order_acc_nonlinear", "nonlin pair"), ("param_error", "param err"),
    ("sisdr_median", "SI-SDR median"), ("sisdr_p10", "SI-SDR p10"), ("worse_sisdr", "worse than dry (SI-SDR)"),
    ("rerender_mrstft", "MR-STFT"), ("worse_mrstft", "worse than dry (MR-STFT)"), ("seconds_mean", "s/clip"),
    ("seconds_max", "s/clip max"), ("cpu_seconds_mean", "CPU s/clip"), ("cpu_seconds_max", "CPU s max"),
    ("offset_found", "offset found"),
    ("offset_within_1", "offset ±1 sample"),
    ("clean_any", "clean: any pedal"),
)

DRY, TRUE, DRY_AWARE = "dry itself (no pedal)", "true chain (re-rendered)", "dry-aware"
TRUE_DRY = "dry-aware, given the true dry"
"""The dry-aware model handed the dry the pedals heard (no offset, the sources' level): what the line-up and
levelling of a dry handed over at another level and start can at best give; the gap is what they cost."""


def refined_name(budget: float | None) -> str:
    """The row of refinement at ``budget`` seconds; None: ``infer --refine``'s default."""
    return f"refined, default ({DEFAULT_BUDGET_S:g} s budget)" if budget is None else f"refined, {budget:g} s budget"


@dataclass
class Handed:
    """One held-out clip as a user hands it over: the wet, and its dry at another level and start."""

    example: LabelledClip  # the truth: the dry the pedals heard, the wet, the chain
    dry: np.ndarray  # the dry as given
    offset: int  # samples by which the wet lags the given dry: what alignment must find
    gain_db: float  # level of the given dry relative to the dry the pedals heard


def hand_over(ex: LabelledClip, rng: np.random.Generator, sample_rate: int) -> Handed:
    """``ex`` with its dry scaled by a random level and delayed (or advanced) by a random offset."""
    from ddspfx.align import shift

    gain_db = float(rng.uniform(*LEVEL_DB))
    most = int(round(OFFSET_MS * 1e-3 * sample_rate))
    delay = int(rng.integers(-most, most + 1))  # the given dry starts this much later than the wet
    given = shift(ex.dry * np.float32(10.0 ** (gain_db / 20.0)), delay).astype(np.float32)
    return Handed(ex, given, -delay, gain_db)


@dataclass
class Answer:
    """One system's answer for one clip and what it cost."""

    chain: Chain
    seconds: float = math.nan  # wall time from the wet (and the given dry) to the chain
    lag: int | None = None  # the offset alignment found, for systems that use the dry
    refine: dict[str, float] | None = None  # refinement's own MR-STFT distances on the lined-up dry
    clean: Chain | None = None  # a model's answer when the "wet" is the clip's dry itself (no pedal was used)
    cpu_seconds: float = math.nan  # this process's CPU time for the same work

    def to_json(self) -> dict[str, Any]:
        return {"chain": self.chain.to_list(), "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "lag_found": self.lag,
                **({"clean": self.clean.to_list()} if self.clean is not None else {}),
                **({"refine": self.refine} if self.refine is not None else {})}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Answer":
        return cls(Chain.from_list(d["chain"]), d["seconds"], d["lag_found"], d.get("refine"),
                   Chain.from_list(d["clean"]) if "clean" in d else None, d.get("cpu_seconds", math.nan))


class AnswerCache:
    """``answers.jsonl``: a first line with the run's settings and models, then one line per answered clip.

    Why: a test-seed run with refinement rows takes hours on one core, longer than a session; each clip's answers
    are appended and synced as soon as they exist, and ``--resume`` reads them back instead of answering again.
    A line cut short by a kill is dropped (the file is rewritten whole, atomically, without it). A run with other
    settings or models is refused: its answers are not this run's."""

    NAME = "answers.jsonl"

    def __init__(self, out: Path, setup: dict[str, Any], resume: bool):
        self.path = out / self.NAME
        self.answers: dict[tuple[str, int], dict[str, Answer]] = {}
        if self.path.exists() and not resume:
            raise DdspfxError(f"{self.path} holds the answers of an earlier run; pass --resume to continue it or "
                              f"choose another --out")
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut short when the run was killed
                continue
        if records and records[0].get("setup") != setup:
            raise DdspfxError(f"--resume: {self.path} was made with other settings or models "
                              f"({diff_setup(records[0].get('setup') or {}, setup)}); use another --out")
        for r in records[1:]:
            self.answers[(r["source"], r["index"])] = {k: Answer.from_json(v) for k, v in r["answers"].items()}
        out.mkdir(parents=True, exist_ok=True)
        if len(records) != len(lines) or not records:  # start the file, or drop a torn line
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in (records or [{"setup": setup}])))

    def get(self, source: str, index: int) -> dict[str, Answer] | None:
        return self.answers.get((source, index))

    def add(self, source: str, index: int, answers: dict[str, Answer]) -> None:
        line = json.dumps({"source": source, "index": index, "answers": {k: a.to_json() for k, a in answers.items()}})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.answers[(source, index)] = answers


def diff_setup(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The first setting that differs, for the refusal's one line."""
    key = next((k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)), "?")
    return f"{key}: {old.get(key)!r} then, {new.get(key)!r} now"


def run_setup(args: argparse.Namespace, budgets: Sequence[float | None], prov: dict[str, dict[str, str]]
              ) -> dict[str, Any]:
    """What makes a clip's answers: every setting but the clip count, the sources and the output folder, and the
    models' weights (by SHA-256). A resumed run may add clips or sources; it may not change how they are answered."""
    return {"seed": args.seed, "seconds": args.seconds, "renderer": args.renderer, "plugins_from": args.plugins_from,
            "budgets": list(budgets), "default_budget": DEFAULT_BUDGET_S, "steps": args.steps, "toggles": args.toggles,
            "models": {name: p["sha256"] for name, p in prov.items()}}


class Clock:
    """Wall and CPU seconds of this process since it was started."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def answer(self, chain: Chain, **rest: Any) -> "Answer":
        """``chain`` as an :class:`Answer` that took the time since the clock started."""
        return Answer(chain, time.perf_counter() - self.wall, cpu_seconds=time.process_time() - self.cpu, **rest)


def answer_clip(clip: Handed, blind: dict[str, Any], dry_model: Any | None, budgets: Sequence[float | None],
                steps: int, toggles: int, sample_rate: int) -> dict[str, Answer]:
    """Every system's answer for one clip: baselines, blind models, the dry-aware model, refinement per budget."""
    from ddspfx.estimator import line_up_dry
    from ddspfx.refine import refine

    wet, clean = clip.example.wet, clip.example.dry
    out = {DRY: Answer(Chain([]), 0.0, cpu_seconds=0.0), TRUE: Answer(clip.example.chain)}
    for name, est in blind.items():
        clock = Clock()
        chain = est.analyse_many([wet])[0].chain
        out[f"blind: {name}"] = clock.answer(chain)
        out[f"blind: {name}"].clean = est.analyse_many([clean])[0].chain  # not part of the user's wait
    start_from = dry_model if dry_model is not None else next(iter(blind.values()))

    def estimate() -> tuple[np.ndarray, int, Any]:
        dry, lag = line_up_dry(clip.dry, wet, sample_rate)
        return dry, lag, start_from.analyse_many([wet], [dry] if dry_model is not None else None)[0]

    if dry_model is not None:
        clock = Clock()
        _, lag, analysis = estimate()
        out[DRY_AWARE] = clock.answer(analysis.chain, lag=lag)
        dry, _ = line_up_dry(clip.dry, clean, sample_rate)
        out[DRY_AWARE].clean = dry_model.analyse_many([clean], [dry])[0].chain
        out[TRUE_DRY] = Answer(dry_model.analyse_many([wet], [clip.example.dry])[0].chain)
    for budget in budgets:  # each budget from scratch, estimate included: its seconds are a user's wait
        clock = Clock()
        dry, lag, analysis = estimate()
        r = refine(wet, dry, analysis, sample_rate, steps=steps, toggles=toggles,
                   budget_s=DEFAULT_BUDGET_S if budget is None else budget)
        out[refined_name(budget)] = clock.answer(r.analysis.chain, lag=lag, refine={
            "dry": r.distance_dry, "estimate": r.distance_before, "refined": r.distance_after,
            "candidates": float(len(r.scored))})
    return out


def score_system(clips: Sequence[Handed], answers: Sequence[Answer], knobs: bool,
                 dry_sisdr: Sequence[float] | None = None, dry_dist: Sequence[float] | None = None
                 ) -> tuple[dict[str, float], list[float], list[float]]:
    """(Scorer's summary with the re-render's spread, time and alignment; per-clip SI-SDR; per-clip MR-STFT).

    ``dry_sisdr`` / ``dry_dist``: the dry's own per-clip figures, for the share of clips worse than the dry
    (itself, when None). Without ``knobs`` (plugin clips) the knob and re-rendered-order columns are NaN."""
    sc = Scorer()  # re-renders onto the true dry: the chain is judged, not the alignment
    for clip, a in zip(clips, answers):
        sc.add(clip.example, a.chain)
    r = sc.summary()
    if not knobs:
        r.update(param_error=math.nan, equivalent_chain_acc=math.nan)
    s, d = np.asarray(sc.rerender_sisdr), np.asarray(sc.rerender_dist)
    ds = s if dry_sisdr is None else np.asarray(dry_sisdr)
    dd = d if dry_dist is None else np.asarray(dry_dist)
    secs = np.asarray([a.seconds for a in answers], float)
    cpu = np.asarray([a.cpu_seconds for a in answers], float)
    lags = [(a.lag, c.offset) for a, c in zip(answers, clips) if a.lag is not None]
    r.update(sisdr_median=float(np.median(s)), sisdr_p10=float(np.percentile(s, 10)),
             worse_sisdr=float(np.mean(s < ds - WORSE_DB)), mrstft_median=float(np.median(d)),
             worse_mrstft=float(np.mean(d > dd * (1.0 + WORSE_REL))),
             seconds_mean=float(np.mean(secs)) if np.isfinite(secs).all() else math.nan,
             seconds_max=float(np.max(secs)) if np.isfinite(secs).all() else math.nan,
             cpu_seconds_mean=float(np.mean(cpu)) if np.isfinite(cpu).all() else math.nan,
             cpu_seconds_max=float(np.max(cpu)) if np.isfinite(cpu).all() else math.nan,
             offset_found=float(np.mean([found == true for found, true in lags])) if lags else math.nan,
             offset_within_1=float(np.mean([abs(found - true) <= 1 for found, true in lags])) if lags else math.nan,
             clean_any=float(np.mean([a.clean is not None and len(a.clean) > 0 for a in answers])) if answers[0].clean is not None
             else math.nan)
    return r, [float(v) for v in s], [float(v) for v in d]


def parse_budgets(text: str) -> list[float | None]:
    """``"1,3,10"`` -> [None, 1, 3, 10]: ``infer --refine``'s default first, then each positive budget (the default's
    own value is not run twice)."""
    try:
        values = sorted({float(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise DdspfxError(f"--budgets takes seconds separated by commas (e.g. 1,3,10), got {text!r}") from None
    if any(not (v > 0 and math.isfinite(v)) for v in values):
        raise DdspfxError(f"--budgets must be positive seconds, got {text!r}")
    return [None, *(v for v in values if v != DEFAULT_BUDGET_S)]


def table(rows: Sequence[tuple[str, str, dict[str, float]]]) -> str:
    lines = ["| source | system | " + " | ".join(c for _, c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for source, system, r in rows:
        lines.append(f"| {source} | {system} | " + " | ".join(f"{r.get(k, math.nan):.3f}" for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def per_pedal_table(rows: Sequence[tuple[str, str, dict[str, float]]]) -> str:
    lines = ["| source | system | " + " | ".join(f"{e} F1" for e in EFFECT_NAMES) + " |",
             "|---" * (len(EFFECT_NAMES) + 2) + "|"]
    for source, system, r in rows:
        if system not in (DRY, TRUE):
            lines.append(f"| {source} | {system} | " + " | ".join(score_cell(r.get(f'f1/{e}'), 2) for e in EFFECT_NAMES) + " |")
    return "\n".join(lines)


def targets_table(rows: Sequence[tuple[str, str, dict[str, float]]], system: str) -> str:
    """Each source's ``system`` row against the issue's targets."""
    lines = ["| source | " + " | ".join(f"{label} {op} {t:g}" for _, label, op, t in TARGETS) + " |",
             "|---" * (len(TARGETS) + 1) + "|"]
    for source, name, r in rows:
        if name == system:
            cells = []
            for key, _, op, target in TARGETS:
                v = r.get(key, math.nan)
                ok = (v >= target) if op == ">=" else (v <= target)
                cells.append(f"{v:.3f} {'✓' if ok else '✗'}" if math.isfinite(v) else "n/a")
            lines.append(f"| {source} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(path: Path, rows: Sequence[tuple[str, str, dict[str, float]]], budgets: Sequence[float | None]) -> None:
    from ddspfx.plots import plot_quality_vs_time

    refined = {refined_name(b): "default" if b is None else f"{b:g} s" for b in budgets}
    curves: dict[str, list[tuple[str, float, float, float]]] = {}
    references: dict[str, tuple[float, float]] = {}
    for source, system, r in rows:
        point = (r["sisdr_median"], r["micro_f1"])
        if system in refined:
            curves.setdefault(f"{source}: refined", []).append((refined[system], r["seconds_mean"], *point))
        elif system == DRY:
            references[f"{source}: dry itself"] = (point[0], math.nan)
        elif system != TRUE:
            references[f"{source}: {system}"] = point
    plot_quality_vs_time(str(path), curves, references)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.with_dry", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20, help="clips per source (default 20)")
    p.add_argument("--seed", type=int, default=700000, help="test-seed offset (default 700000: development)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3: the issue's 3-s clips)")
    p.add_argument("--sources", default="sf2:gmbank,synth", help="comma-separated dry sources (real_sources specs)")
    p.add_argument("--renderer", choices=["pedalboard", "plugins"], default="pedalboard",
                   help="who renders the pedals: pedalboard (labels carry knobs) or third-party LADSPA and LV2 plugins")
    p.add_argument("--model", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="a blind model (repeatable; the first is refined when there is no dry-aware model); "
                        "default: shipped=the shipped model")
    p.add_argument("--dry-model", metavar="CHECKPOINT",
                   help="a dry-aware model (frontend.paired); default: the shipped one where it exists")
    p.add_argument("--budgets", default="1,3,10,30,60",
                   help="refinement time budgets in seconds (default 1,3,10,30,60); infer's default "
                        f"({DEFAULT_BUDGET_S:g} s) is always run too")
    p.add_argument("--no-refine", action="store_true",
                   help="score the models' own answers only (no refinement rows): the dry-aware ship check")
    p.add_argument("--effects", default="", metavar="NAMES",
                   help="comma-separated pedal types the test chains draw (default: those every evaluated model knows)")
    p.add_argument("--plugins-from", default="", metavar="NAMES",
                   help="with --renderer plugins: draw only these implementations ('held-out' = the held-out set)")
    p.add_argument("--steps", type=int, default=150, help="optimisation steps per candidate (default 150, as infer)")
    p.add_argument("--toggles", type=int, default=2, help="changed effect sets tried (default 2, as infer)")
    p.add_argument("--out", default="experiments/results/with_dry/dev", help="output folder")
    p.add_argument("--resume", action="store_true",
                   help="continue a run stopped in --out: its clips' answers are read back, not made again")
    return p


def load_models(args: argparse.Namespace) -> tuple[dict[str, Any], Any | None, str]:
    """(blind estimators by name, the dry-aware estimator or None, a sentence on where the dry-aware row comes from)."""
    from ddspfx.checkpoint import DEFAULT_DRY_CHECKPOINT
    from ddspfx.estimator import Estimator, dry_estimator

    blind = {name: Estimator(path or None) for name, path in model_paths(args.model, {"shipped": ""}).items()}
    for name, est in blind.items():
        if est.hears_dry:
            raise DdspfxError(f"--model {name} is a dry-aware model; pass it as --dry-model")
    dry_model = dry_estimator(args.dry_model, remedy="pass it as --model")
    if dry_model is None:
        return blind, None, (f"No dry-aware model: no --dry-model was given and `{DEFAULT_DRY_CHECKPOINT.name}` does "
                             f"not exist, so there is no dry-aware row and refinement starts from the blind "
                             f"estimate of `{next(iter(blind))}`.")
    return blind, dry_model, (f"Refinement starts from the dry-aware estimate "
                              f"(`{Path(dry_model.model.checkpoint_path).name}`).")


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1 or args.steps < 0 or args.toggles < 0 or not args.seconds > 0:
        raise DdspfxError("--n must be >= 1, --steps and --toggles >= 0, --seconds > 0")
    budgets = [] if args.no_refine else parse_budgets(args.budgets)
    from experiments.evaluation.renderers import parse_plugins_from
    from experiments.evaluation.sets import chain_effects

    plugins_from = parse_plugins_from(args.plugins_from)
    if plugins_from and args.renderer != "plugins":
        raise DdspfxError("--plugins-from needs --renderer plugins")
    import torch

    from ddspfx.checkpoint import provenance

    torch.set_num_threads(1)  # the budget is per clip on one core
    blind, dry_model, dry_note = load_models(args)
    knobs = args.renderer == "pedalboard"
    out = Path(args.out)
    rows: list[tuple[str, str, dict[str, float]]] = []
    records: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    aligned: list[str] = []
    prov = {f"blind: {n}": provenance(e.model) for n, e in blind.items()}
    if dry_model is not None:
        prov[DRY_AWARE] = provenance(dry_model.model)
    commit = next(iter(prov.values()))["git_commit"]
    cache = AnswerCache(out, run_setup(args, budgets, prov), args.resume)

    def write() -> None:
        atomic_write_text(out / "results.json", json.dumps(
            {"setup": vars(args), "budgets": budgets, "provenance": prov, "skipped": skipped,
             "rows": [{"source": s, "system": m, **r} for s, m, r in rows], "clips": records}, indent=2))

    for spec in filter(None, (s.strip() for s in args.sources.split(","))):
        try:
            examples, impls = make_set(spec, args.n, args.seed, args.seconds, args.renderer, plugins_from,
                                       chain_effects(args.effects, [e.model for e in blind.values()]
                                                    + ([dry_model.model] if dry_model is not None else [])))
        except DdspfxError as e:
            skipped[spec] = str(e)
            print(f"skipped {spec}: {e}", file=sys.stderr)
            continue
        clips = [hand_over(ex, np.random.default_rng([TEST_SEED_BASE + args.seed, i, 20]), SAMPLE_RATE)
                 for i, ex in enumerate(examples)]
        answers = []
        for i, c in enumerate(tqdm(clips, desc=f"answer {spec}", unit="clip")):
            done = cache.get(spec, i)
            if done is None:
                done = answer_clip(c, blind, dry_model, budgets, args.steps, args.toggles, SAMPLE_RATE)
                cache.add(spec, i, done)
            answers.append(done)
        dry_r, dry_s, dry_d = score_system(clips, [a[DRY] for a in answers], knobs)
        per_clip: dict[str, tuple[list[float], list[float]]] = {DRY: (dry_s, dry_d)}
        rows.append((spec, DRY, dry_r))
        for system in [s for s in answers[0] if s != DRY]:
            r, s, d = score_system(clips, [a[system] for a in answers], knobs, dry_s, dry_d)
            rows.append((spec, system, r))
            per_clip[system] = (s, d)
        lined_up = [a[s].lag == c.offset for a, c in zip(answers, clips) for s in (DRY_AWARE, refined_name(None))
                    if s in a][:len(clips)]  # one alignment per clip: the dry-aware row's, else refinement's
        if lined_up:
            aligned.append(f"{spec}: {sum(lined_up)} of {len(clips)}")
        records += [{"source": spec, "index": i, "truth": c.example.chain.to_list(), "implementations": im,
                     "offset": c.offset, "gain_db": c.gain_db,
                     "answers": {system: {**a.to_json(), "sisdr_db": per_clip[system][0][i],
                                          "mrstft": per_clip[system][1][i]} for system, a in ans.items()}}
                    for i, (c, im, ans) in enumerate(zip(clips, impls, answers))]
        print(table([r for r in rows if r[0] == spec]), flush=True)
        write()
    if not rows:
        raise DdspfxError("no source could be rendered: " + "; ".join(f"{s}: {w}" for s, w in skipped.items()))
    if budgets:
        plot(out / "quality_vs_time.png", rows, budgets)
    prov_lines = "\n".join(f"- {name}: `{p['checkpoint']}`, SHA-256 `{p['sha256']}`, trained on `{p['trained_on']}`"
                           for name, p in prov.items())
    renderer = "pedalboard" if knobs else "third-party LADSPA and LV2 plugins (ddspfx.plugins)"
    header = (f"{args.n} clips of {args.seconds:g} s per source, chains of 0-5 pedals rendered by {renderer}, "
              f"seeds {TEST_SEED_BASE + args.seed}+. The dry is handed over at {LEVEL_DB[0]:g}..{LEVEL_DB[1]:+g} dB "
              f"and up to {OFFSET_MS:g} ms early or late, lined up and levelled by `ddspfx.estimator.line_up_dry`; "
              f"offset found to the sample: {', '.join(aligned)}. Refinement: {args.steps} steps per candidate, "
              f"{args.toggles} toggles; seconds are wall and CPU time on one thread, estimate included.")
    default = refined_name(None) if budgets else DRY_AWARE
    report = (f"# With the dry signal\n\n{header}\n\n{dry_note}\n\nModels (git commit `{commit}`):\n{prov_lines}\n\n"
              f"SI-SDR in dB of the answer rendered by pedalboard onto the true dry against the wet; worse than dry: "
              f"share of clips below the dry's own SI-SDR (by more than {WORSE_DB:g} dB), or above its MR-STFT "
              f"distance.\n\n{table(rows)}\n\n## Per pedal F1\n\n{per_pedal_table(rows)}\n\n"
              f"## Targets of the issue, {default}\n\n"
              + ("" if knobs else "The targets are for pedalboard chains; these clips are plugin renders.\n\n")
              + ("" if args.seconds == 3.0 else f"The time target is per 3-s clip; these clips are {args.seconds:g} s.\n\n")
              + f"{targets_table(rows, default)}\n"
              + ("\n## Quality against time\n\n![quality vs time](quality_vs_time.png)\n" if budgets else "")
              + "".join(f"\nSkipped {s}: {why}\n" for s, why in skipped.items()))
    atomic_write_text(out / "report.md", report)
    write()
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
