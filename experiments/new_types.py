"""Per pedal type: how often each model names a type on clips of never-heard guitars, and how often it is right.

``python -m experiments.new_types [--n 50] [--chain-n N] [--seed 700000] [--model NAME=CHECKPOINT ...]
[--sources A,B] [--effects NAMES|all] [--renderers pedalboard,held-out] [--out DIR]``

Issue 29, "evaluation per type". Two test sets per renderer, each ``--n`` clips per dry source:

- **single pedal**: for every type of ``--effects`` (default: the six types after the classic seven -- tremolo,
  flanger, fuzz, octave, wah, noise_gate; ``all`` = every catalog type), clips with exactly that one pedal, its
  knobs drawn by the project's sampler over their audible ranges. Per type: *recall* = the share of that type's
  clips where the system names the type; *precision* = of all clips of the whole single-pedal set where the
  system names the type, the share that hold it. And the micro-F1 of the whole set.
- **chains**: chains of 1-5 pedals drawn from ``--effects`` (uniform order); per type recall and precision.

Renderers: ``pedalboard`` is the reference renderer (``ddspfx.render.run_reference``: pedalboard plus ddspfx's
own DSP for tremolo, wah and the rest); ``held-out`` renders each pedal with its type's held-out implementation
(``ddspfx.plugins.table.HELD_OUT``: the one per type that training never draws). Tremolo has no held-out
implementation (the allowed packages have one tremolo plugin, so none could be kept out of training): its rows
say so, and the held-out chain set draws the other types. No reserved judge stands in for it.

The sets are the studies' shared ones (``experiments.evaluation.sets.make_set``, as in ``real_sources.py``); the
counts and F1 are ``ddspfx.metrics``'. Beside each model: the trivial baselines "no pedal" and "random chain" (a chain drawn
like the set's own). A model that does not know a type never names it (recall 0). The header states issue 29's
target -- each new type found on >= 80 % of its single-pedal clips of never-heard guitars rendered by its
held-out implementation, with precision >= 0.80 over everything reported there -- and whether each model meets
it per type.

Seeds: clips are drawn from seed 20,000,000 + ``--seed``, as in real_sources: any offset > 0 gives development
seeds (default ``--seed 700000``); ``--seed 0`` gives the test seeds, kept for the final report. Clip i of every set plays the same dry phrase (the same
seed), so types and renderers are compared on the same guitar. Writes ``report.md``, ``results.json`` (every
clip's truth and answers, each model's SHA-256, the git commit and whether the tree was clean) and
``recall.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import CLASSIC_EFFECTS, EFFECT_NAMES, resolve_effects
from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.metrics import PresenceCounts, precision_recall_f1
from ddspfx.sampler import SamplerConfig
from ddspfx.scoring import LabelledClip, baseline_systems, score_cell
from experiments.evaluation.models import model_paths
from experiments.evaluation.renderers import plugins_heard
from experiments.evaluation.sets import heard, make_dry_source, make_set, trained_on

NEW_TYPES: tuple[str, ...] = tuple(e for e in EFFECT_NAMES if e not in CLASSIC_EFFECTS)
"""The types added after the classic seven (tremolo, flanger, fuzz, octave, wah, noise_gate): issue 29's subject."""

DEFAULT_SOURCES = "sf2:gmbank,tonejs:electric,tonejs:acoustic,procedural:heldout"
"""Guitars no shipped recipe trains on (the reserved banks stay for the final report)."""

RENDERERS: dict[str, str] = {
    "pedalboard": "the reference renderer (pedalboard + ddspfx's own DSP)",
    "held-out": "each type's held-out implementation (ddspfx.plugins.table.HELD_OUT)",
}
"""``--renderers`` choices and how the report names them."""

CHAIN_PEDALS: tuple[int, int] = (1, 5)
"""Fewest and most pedals of a chain-set clip (fewer when ``--effects`` names fewer types)."""

TARGET_RECALL = 0.80
TARGET_PRECISION = 0.80
"""Issue 29: each new type found on >= 80 % of its held-out single-pedal clips, precision >= 0.80 there."""

NO_HELD_OUT = "no held-out implementation"

System = Callable[[Sequence[LabelledClip]], list[Chain]]
"""Anything that answers a chain per clip: a model, a baseline, a test's oracle."""

Progress = Callable[[int, int, str], None]
"""``on_progress(done, total, what)``: called after each rendered set and each scored system."""


@dataclass
class StudyConfig:
    """What is rendered and how much of it."""

    sources: tuple[str, ...] = tuple(DEFAULT_SOURCES.split(","))  # dry guitar specs (evaluation.sets.make_dry_source)
    effects: tuple[str, ...] = NEW_TYPES  # the types of the single-pedal sets and the chain set's draw
    renderers: tuple[str, ...] = tuple(RENDERERS)  # who renders the pedals
    n: int = 50  # single-pedal clips per (source, type)
    chain_n: int = 50  # chain-set clips per source (0: no chain set)
    seed: int = 700000  # seed offset: > 0 development seeds, 0 the test seeds (final report)
    seconds: float = 2.0  # clip length


@dataclass
class TestSet:
    """One rendered set: every clip's example, dry source and the implementation of each of its pedals."""

    kind: str  # "single" or "chains"
    renderer: str  # a RENDERERS key
    effects: tuple[str, ...]  # the types drawn
    pedals: tuple[int, int]  # fewest, most pedals per clip
    examples: list[LabelledClip] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    implementations: list[list[str]] = field(default_factory=list)

    __test__ = False  # not a pytest class

    def add(self, source: str, examples: Sequence[LabelledClip], implementations: Sequence[list[str]]) -> None:
        self.examples += examples
        self.sources += [source] * len(examples)
        self.implementations += implementations


@dataclass
class Study:
    """The sets, every system's answers and their scores, and what could not be rendered (and why)."""

    config: StudyConfig
    sets: list[TestSet] = field(default_factory=list)
    answers: dict[tuple[str, str, str], list[Chain]] = field(default_factory=dict)  # (kind, renderer, system)
    scores: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def set_of(self, kind: str, renderer: str) -> TestSet | None:
        return next((s for s in self.sets if s.kind == kind and s.renderer == renderer), None)


def parse_effects(text: str) -> tuple[str, ...]:
    """``--effects``: "" = the new types, ``all`` = every catalog type, else comma-separated names (unknown ones
    are a one-line error naming the choices)."""
    if not text.strip():
        return NEW_TYPES
    if text.strip().lower() == "all":
        return EFFECT_NAMES
    return resolve_effects(text)


def parse_renderers(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    bad = [r for r in names if r not in RENDERERS]
    if bad or not names:
        raise DdspfxError(f"--renderers {text!r}: choose from {', '.join(RENDERERS)} (comma-separated)")
    return names


def held_out_implementation(effect: str) -> str | None:
    """The implementation of ``effect`` that training never draws (``ddspfx.plugins.table.HELD_OUT``), or None."""
    from ddspfx.plugins.table import HELD_OUT, get_implementation

    return next((name for name in HELD_OUT if get_implementation(name).effect == effect), None)


def renderable(effects: Sequence[str], renderer: str) -> tuple[str, ...]:
    """The types ``renderer`` can render: all for pedalboard, those with a held-out implementation for held-out."""
    return tuple(effects) if renderer == "pedalboard" else tuple(e for e in effects if held_out_implementation(e))


def render_set(renderer: str, spec: str, effects: Sequence[str], pedals: tuple[int, int], n: int, cfg: StudyConfig
               ) -> tuple[list[LabelledClip], list[list[str]]]:
    """``n`` clips of source ``spec`` (``evaluation.sets.make_set``); held-out renders each type with its held-out
    implementation only."""
    if renderer == "pedalboard":
        return make_set(spec, n, cfg.seed, cfg.seconds, "pedalboard", (), effects, pedals)
    names = tuple(name for name in (held_out_implementation(e) for e in effects) if name)
    return make_set(spec, n, cfg.seed, cfg.seconds, "plugins", names, effects, pedals)


def make_sets(cfg: StudyConfig, on_progress: Progress | None = None, total: int = 0) -> tuple[list[TestSet], dict[str, str]]:
    """The single-pedal and chain sets of every renderer (an empty one is left out); a source, type or renderer
    that cannot be rendered is skipped with its reason (a recorded guitar npm cannot fetch, a plugin not
    installed, a renderer with no implementation of any type asked for)."""
    skipped: dict[str, str] = {}
    sources = []
    for spec in cfg.sources:
        try:
            make_dry_source(spec)
            sources.append(spec)
        except DdspfxError as e:
            skipped[spec] = str(e)
    sets, done = [], 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, total, what)

    for renderer in cfg.renderers:
        drawn = renderable(cfg.effects, renderer)
        if not drawn:
            skipped[renderer] = f"no type of {', '.join(cfg.effects)} has an implementation there ({NO_HELD_OUT})"
            continue
        single = TestSet("single", renderer, drawn, (1, 1))
        chains = TestSet("chains", renderer, drawn, (min(CHAIN_PEDALS[0], len(drawn)), min(CHAIN_PEDALS[1], len(drawn))))
        for spec in sources:
            for effect in drawn:
                try:
                    single.add(spec, *render_set(renderer, spec, (effect,), (1, 1), cfg.n, cfg))
                except DdspfxError as e:
                    skipped[f"{renderer} / {spec} / {effect}"] = str(e)
                    continue
                step(f"rendered {cfg.n} {effect} clips of {spec} ({renderer})")
            if cfg.chain_n:
                try:
                    chains.add(spec, *render_set(renderer, spec, drawn, chains.pedals, cfg.chain_n, cfg))
                except DdspfxError as e:
                    skipped[f"{renderer} / {spec} / chains"] = str(e)
                    continue
                step(f"rendered {cfg.chain_n} chains of {spec} ({renderer})")
        sets += [ts for ts in (single, chains) if ts.examples]
    return sets, skipped


def model_system(estimator: Any, batch: int = 32) -> System:
    """An ``ddspfx.estimator.Estimator`` as a system (a dry-aware model also gets each clip's dry)."""

    def answer(examples: Sequence[LabelledClip]) -> list[Chain]:
        out: list[Chain] = []
        for s in range(0, len(examples), batch):
            chunk = examples[s:s + batch]
            drys = [ex.dry for ex in chunk] if estimator.hears_dry else None
            out += [a.chain for a in estimator.analyse_many([ex.wet for ex in chunk], drys)]
        return out

    return answer


def baselines_for(test_set: TestSet, seed: int) -> dict[str, System]:
    """"no pedal" and "random chain" (``ddspfx.scoring.baseline_systems``, drawn like the set's own chains)."""
    draw = baseline_systems(SamplerConfig(min_effects=test_set.pedals[0], max_effects=test_set.pedals[1],
                                          effects=test_set.effects), seed)["random chain"]
    return {"baseline: no pedal": lambda exs: [Chain([]) for _ in exs],
            "baseline: random chain": lambda exs: [draw(ex) for ex in exs]}


def type_scores(examples: Sequence[LabelledClip], answers: Sequence[Chain]) -> dict[str, Any]:
    """Per type recall, precision and F1 over the whole set (NaN: no clip holds the type / the system never
    names it), the counts behind them, and the set's micro precision, recall and F1 (``ddspfx.metrics``)."""
    counts = PresenceCounts.empty()
    for ex, pred in zip(examples, answers):
        counts.add(ex.chain.effects, pred.effects)
    precision, recall, f1 = precision_recall_f1(counts.tp, counts.fp, counts.fn, empty=float("nan"))
    micro = counts.scores()
    types = {e: {"recall": float(recall[i]), "precision": float(precision[i]), "f1": float(f1[i]),
                 "n": int(counts.tp[i] + counts.fn[i]), "named": int(counts.tp[i] + counts.fp[i]),
                 "tp": int(counts.tp[i])}
             for i, e in enumerate(EFFECT_NAMES) if counts.tp[i] + counts.fn[i] + counts.fp[i] > 0}
    return {"n_clips": len(examples), "micro_precision": micro["micro_precision"], "micro_recall": micro["micro_recall"],
            "micro_f1": micro["micro_f1"], "types": types}


def named_on(test_set: TestSet, answers: Sequence[Chain]) -> dict[str, dict[str, float]]:
    """Single-pedal set: per true type, the share of its clips on which each type (or nothing) was named."""
    out: dict[str, dict[str, float]] = {}
    for effect in test_set.effects:
        picked = [a for ex, a in zip(test_set.examples, answers) if effect in ex.chain.effects]
        tally = Counter(e for a in picked for e in set(a.effects)) + Counter("nothing" for a in picked if not a.effects)
        out[effect] = {k: v / len(picked) for k, v in tally.most_common()} if picked else {}
    return out


def run_study(cfg: StudyConfig, systems: Mapping[str, System], baselines: bool = True,
              on_progress: Progress | None = None) -> Study:
    """Render the sets, ask every system (models, then the baselines) and score each set."""
    live = sum(bool(renderable(cfg.effects, r)) for r in cfg.renderers)  # renderers with something to render
    renders = sum(len(renderable(cfg.effects, r)) for r in cfg.renderers) + (live if cfg.chain_n else 0)  # per source
    n_sets = live * (1 + bool(cfg.chain_n))
    per_set = len(systems) + 2 * baselines
    total = len(cfg.sources) * renders + n_sets * per_set
    sets, skipped = make_sets(cfg, on_progress, total)
    study = Study(cfg, sets, skipped=skipped)
    done = total - len(sets) * per_set
    for ts in sets:
        every = dict(systems) | (baselines_for(ts, cfg.seed) if baselines else {})
        for name, system in every.items():
            answers = system(ts.examples) if ts.examples else []
            key = (ts.kind, ts.renderer, name)
            study.answers[key] = answers
            study.scores[key] = type_scores(ts.examples, answers) | {
                "by_source": {s: type_scores([ex for ex, src in zip(ts.examples, ts.sources) if src == s],
                                             [a for a, src in zip(answers, ts.sources) if src == s])
                              for s in dict.fromkeys(ts.sources)}}
            if ts.kind == "single":
                study.scores[key]["named_on"] = named_on(ts, answers)
            done += 1
            if on_progress:
                on_progress(done, total, f"scored {name} on the {ts.kind} set ({ts.renderer})")
    return study


# --- report --------------------------------------------------------------------------------


def cell(scores: dict[str, Any] | None, effect: str) -> str:
    """"recall / precision" of one type ("–": no clip holds it / never named)."""
    t = (scores or {}).get("types", {}).get(effect)
    if t is None:
        return "–"
    return f"{score_cell(t['recall'], 2)} / {score_cell(t['precision'], 2)}"


def type_table(study: Study, kind: str, systems: Sequence[str]) -> str:
    """Rows: types (and the set's micro-F1); columns: n clips per renderer, then recall / precision per
    (system, renderer)."""
    cfg = study.config
    cols = [(s, r) for s in systems for r in cfg.renderers]
    head = ("| type | held-out implementation | " + " | ".join(f"n ({r})" for r in cfg.renderers) + " | "
            + " | ".join(f"{s} · {r}" for s, r in cols) + " |")
    lines = [head, "|---" * (2 + len(cfg.renderers) + len(cols)) + "|"]
    for effect in cfg.effects:
        impl = held_out_implementation(effect)
        ns = []
        for r in cfg.renderers:
            ts = study.set_of(kind, r)
            ns.append(str(sum(effect in ex.chain.effects for ex in ts.examples)) if ts else "–")
        cells = [cell(study.scores.get((kind, r, s)), effect) if r == "pedalboard" or impl else "n/a"
                 for s, r in cols]
        lines.append(f"| {effect} | {impl or NO_HELD_OUT} | " + " | ".join(ns) + " | " + " | ".join(cells) + " |")
    micro = [score_cell(study.scores[(kind, r, s)]["micro_f1"], 3) if (kind, r, s) in study.scores else "–" for s, r in cols]
    ns = [str(len(ts.examples)) if (ts := study.set_of(kind, r)) else "–" for r in cfg.renderers]
    lines.append("| **whole set: micro-F1** | | " + " | ".join(ns) + " | " + " | ".join(micro) + " |")
    return "\n".join(lines)


def named_instead_table(study: Study, models: Sequence[str], top: int = 3) -> str:
    """Single-pedal set: per type, what each model names most often on that type's clips (share of its clips)."""
    cfg = study.config
    cols = [(m, r) for m in models for r in cfg.renderers]
    lines = ["| type | " + " | ".join(f"{m} · {r}" for m, r in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for effect in cfg.effects:
        cells = []
        for m, r in cols:
            named = study.scores.get(("single", r, m), {}).get("named_on", {}).get(effect)
            cells.append(", ".join(f"{k} {v:.2f}" for k, v in list(named.items())[:top]) if named else "–")
        lines.append(f"| {effect} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_verdict(scores: dict[str, Any] | None, effect: str) -> tuple[bool | None, str]:
    """Issue 29's target for one type on the held-out single-pedal set: (met, words); None = not measurable."""
    if held_out_implementation(effect) is None:
        return None, f"not measurable: {NO_HELD_OUT}"
    t = (scores or {}).get("types", {}).get(effect)
    if t is None or not t["n"]:
        return None, "not measured: no held-out single-pedal clips of this type"
    precision = t["precision"]
    met = t["recall"] >= TARGET_RECALL and not math.isnan(precision) and precision >= TARGET_PRECISION
    return met, f"{'met' if met else 'not met'} (recall {score_cell(t['recall'], 2)}, precision {score_cell(precision, 2)})"


def targets(study: Study, models: Sequence[str]) -> dict[str, dict[str, tuple[bool | None, str]]]:
    """Per model, per new type of ``--effects``: the verdict (held-out renderer not run: not measured)."""
    out: dict[str, dict[str, tuple[bool | None, str]]] = {}
    for m in models:
        out[m] = {}
        for e in (e for e in study.config.effects if e in NEW_TYPES):
            if "held-out" not in study.config.renderers:
                out[m][e] = (None, "not measured: --renderers has no held-out")
            else:
                out[m][e] = target_verdict(study.scores.get(("single", "held-out", m)), e)
    return out


def targets_table(verdicts: dict[str, dict[str, tuple[bool | None, str]]]) -> str:
    models = list(verdicts)
    effects = list(next(iter(verdicts.values()), {}))
    lines = ["| type | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for e in effects:
        lines.append(f"| {e} | " + " | ".join(verdicts[m][e][1] for m in models) + " |")
    return "\n".join(lines)


def plot_recall(path: Path, study: Study, systems: Sequence[str]) -> None:
    """One panel per renderer: recall per type on the single-pedal set, a bar per system (baselines grey), the
    target as a dotted line; a type a renderer cannot render is marked."""
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    cfg = study.config
    fig, axes = plt.subplots(1, len(cfg.renderers), figsize=(max(6.0, 1.1 * len(cfg.effects)) * len(cfg.renderers), 4.2),
                             squeeze=False)
    x = np.arange(len(cfg.effects))
    w = 0.8 / max(1, len(systems))
    models = [s for s in systems if not s.startswith("baseline")]
    colours = dict(zip(models, plt.get_cmap("tab10").colors))
    greys = dict(zip([s for s in systems if s.startswith("baseline")], ("#bbbbbb", "#777777", "#444444")))
    for ax, renderer in zip(axes[0], cfg.renderers):
        for j, s in enumerate(systems):
            t = study.scores.get(("single", renderer, s), {}).get("types", {})
            ys = [t[e]["recall"] if e in t and t[e]["n"] else np.nan for e in cfg.effects]
            xs = x + (j - len(systems) / 2 + 0.5) * w
            ax.bar(xs, ys, w, label=s, color=colours.get(s, greys.get(s, "k")))
            for xi, y in zip(xs, ys):
                if y == 0.0:  # a bar of height 0 is invisible: say it is 0 (never named), not missing
                    ax.text(xi, 0.005, "0", ha="center", va="bottom", fontsize=6)
        for i, e in enumerate(cfg.effects):
            if renderer == "held-out" and held_out_implementation(e) is None:
                ax.text(i, 0.5, NO_HELD_OUT, ha="center", va="center", fontsize=7, rotation=90)
        ax.axhline(TARGET_RECALL, color="k", lw=0.7, ls=":")
        ax.set_xticks(x, list(cfg.effects), rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("recall (share of its single-pedal clips named)")
        ax.set_title(f"rendered by {RENDERERS[renderer]}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _jsonable(x: Any) -> Any:
    """NaN as null (strict JSON), recursively."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def clip_records(study: Study, systems: Sequence[str]) -> list[dict[str, Any]]:
    """Every clip's set, source, truth, implementations and each system's answer (for studies after the fact)."""
    out = []
    for ts in study.sets:
        index: Counter[tuple[str, tuple[str, ...]]] = Counter()
        for i, (ex, src, impl) in enumerate(zip(ts.examples, ts.sources, ts.implementations)):
            part = tuple(ex.chain.effects) if ts.kind == "single" else ()
            out.append({"set": ts.kind, "renderer": ts.renderer, "source": src, "index": index[(src, part)],
                        "truth": ex.chain.to_list(), "implementations": impl,
                        "predicted": {s: study.answers[(ts.kind, ts.renderer, s)][i].effects for s in systems
                                      if (ts.kind, ts.renderer, s) in study.answers}})
            index[(src, part)] += 1
    return out


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.new_types", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50, help="single-pedal clips per source and type (default 50)")
    p.add_argument("--chain-n", type=int, default=None, help="chain-set clips per source (default: --n; 0: none)")
    p.add_argument("--seed", type=int, default=700000,
                   help="seed offset (default 700000: development seeds; 0: the test seeds, only for the final report)")
    p.add_argument("--seconds", type=float, default=2.0, help="clip length in seconds (default 2)")
    p.add_argument("--model", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="a model to score (repeatable); default: shipped=the shipped model")
    p.add_argument("--sources", default=DEFAULT_SOURCES,
                   help=f"comma-separated dry sources, never-heard guitars (default {DEFAULT_SOURCES}; specs: "
                        "ddspfx.sources.SPECS or tonejs:KIND)")
    p.add_argument("--effects", default="", metavar="NAMES",
                   help=f"comma-separated pedal types (default: the new types {','.join(NEW_TYPES)}; all = all "
                        f"{len(EFFECT_NAMES)})")
    p.add_argument("--renderers", default=",".join(RENDERERS),
                   help="comma-separated: pedalboard (the reference renderer) and/or held-out (each type's held-out "
                        "implementation, ddspfx.plugins.table.HELD_OUT) (default both)")
    p.add_argument("--no-baselines", action="store_true", help="score only the models")
    p.add_argument("--out", default="experiments/results/new_types/dev", help="output folder")
    return p


def _say(done: int, total: int, what: str) -> None:
    print(f"[{done}/{total}] {what}", file=sys.stderr, flush=True)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chain_n = args.n if args.chain_n is None else args.chain_n
    if args.n < 1 or chain_n < 0 or args.seconds <= 0:
        raise DdspfxError("--n must be >= 1, --chain-n >= 0 and --seconds > 0")
    paths = model_paths(args.model, {"shipped": ""})
    cfg = StudyConfig(sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
                      effects=parse_effects(args.effects), renderers=parse_renderers(args.renderers),
                      n=args.n, chain_n=chain_n, seed=args.seed, seconds=args.seconds)
    if not cfg.sources:
        raise DdspfxError("--sources names no source")
    import torch

    from ddspfx.checkpoint import git_commit, provenance
    from ddspfx.estimator import Estimator

    torch.set_num_threads(1)
    estimators = {name: Estimator(path or None) for name, path in paths.items()}
    study = run_study(cfg, {name: model_system(est) for name, est in estimators.items()}, not args.no_baselines, _say)
    models = list(estimators)
    systems = list(dict.fromkeys(s for (_, _, s) in study.scores))
    commit = git_commit()
    prov = {name: provenance(est.model) for name, est in estimators.items()}
    knows = {name: tuple(getattr(est.model, "effects", EFFECT_NAMES)) for name, est in estimators.items()}
    verdicts = targets(study, models)
    impls = {e: held_out_implementation(e) for e in cfg.effects}
    heard_guitars = {m: [s for s in cfg.sources if heard(s, trained_on(est.model)) == "yes"] for m, est in estimators.items()}
    heard_impls = {m: [i for i in impls.values() if i and plugins_heard(est.model, i)] for m, est in estimators.items()}
    warnings = [f"{m} trained on {', '.join(v)}: those rows are not never-heard guitars" for m, v in heard_guitars.items() if v]
    warnings += [f"{m} trained on held-out implementation(s) {', '.join(v)}" for m, v in heard_impls.items() if v]
    warnings += [f"{m} does not know {', '.join(e for e in cfg.effects if e not in knows[m])}: it never names them "
                 "(recall 0)" for m in models if any(e not in knows[m] for e in cfg.effects)]
    chain_pedals = next((ts.pedals for ts in study.sets if ts.kind == "chains"), None)
    header = (f"{cfg.n} single-pedal clips per source and type, {cfg.chain_n} chain clips per source, {cfg.seconds:g} s "
              f"each; sources {', '.join(cfg.sources)}; types {', '.join(cfg.effects)}; "
              f"{'test' if cfg.seed == 0 else 'development'} seeds {TEST_SEED_BASE + cfg.seed}+; knobs drawn by "
              "the project's sampler over their audible ranges. Cells: recall / precision of the type over the whole "
              "set ('–' recall: no clip of the type; '–' precision: never named; 'n/a': the renderer has no implementation "
              "of the type). The held-out "
              f"sets have no {', '.join(e for e in cfg.effects if not held_out_implementation(e)) or '–'} clips "
              "(no held-out implementation): their precisions are over the other types' clips.")
    prov_lines = "\n".join(f"- {name}: `{p['checkpoint']}`, SHA-256 `{p['sha256']}`, trained on `{p['trained_on']}`, "
                           f"knows {len(knows[name])} types" for name, p in prov.items())
    report = (f"# Evaluation per pedal type (issue 29)\n\n{header}\n\n"
              f"## Issue 29 targets\n\nEach new type found on >= {TARGET_RECALL:.0%} of its single-pedal clips of "
              f"never-heard guitars rendered by its held-out implementation, with precision >= {TARGET_PRECISION:.2f} "
              f"over everything reported there.\n\n{targets_table(verdicts)}\n\n"
              f"Models (git commit `{commit}`, tree {'clean' if not commit.endswith('-dirty') else 'with uncommitted changes'}):"
              f"\n{prov_lines}\n" + "".join(f"\nNote: {w}.\n" for w in warnings)
              + f"\n## Single pedal\n\n{type_table(study, 'single', systems)}\n"
              + f"\n### What each model names on a type's single-pedal clips (top 3, share of the clips; 'nothing': no pedal named)\n\n"
              f"{named_instead_table(study, models)}\n"
              + (f"\n## Chains of {chain_pedals[0]}-{chain_pedals[1]} pedals\n\n{type_table(study, 'chains', systems)}\n"
                 if chain_pedals else "")
              + "".join(f"\nSkipped {s}: {why}\n" for s, why in study.skipped.items()))
    out = Path(args.out)
    results = {"setup": vars(args) | {"effects": list(cfg.effects), "sources": list(cfg.sources),
                                      "renderers": list(cfg.renderers), "chain_n": cfg.chain_n,
                                      "test_seed_base": TEST_SEED_BASE + cfg.seed, "chain_pedals": chain_pedals},
               "git_commit": commit, "tree_clean": not commit.endswith("-dirty") and commit != "unknown",
               "provenance": prov, "knows": knows, "held_out_implementations": impls,
               "heard_in_training": {"guitars": heard_guitars, "implementations": heard_impls},
               "targets": {m: {e: {"met": v[0], "verdict": v[1]} for e, v in per.items()} for m, per in verdicts.items()},
               "scores": [{"set": k, "renderer": r, "system": s, **v} for (k, r, s), v in study.scores.items()],
               "skipped": study.skipped, "clips": clip_records(study, systems)}
    atomic_write_text(out / "results.json", json.dumps(_jsonable(results), indent=1))
    plot_recall(out / "recall.png", study, systems)
    atomic_write_text(out / "report.md", report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
