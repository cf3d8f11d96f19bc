"""Dry-aware front ends: today's wet + dry + difference against a front end that hears only their relation.

Why (issue 28, item 6): with the dry beside the wet, the guitar should not matter. The paired mel front end
(``--model.frontend.paired true``) hands the encoder the wet's and the dry's log-mel and their difference, so it
can still learn the guitar; the relation front end (``--model.frontend.name relation``, ``ddspfx.frontends.relation``)
hands it only per-band transfer, added power, cross-spectrum delay, phase rotation, coherency and the envelope
ratio, none of which a guitar decides for a time-invariant linear chain. Both variants train on the same recipe,
steps and weight seed (the default config's, 0): procedural training guitars (a fresh one per clip),
``model.input_level`` on; their run configs differ in ``model.frontend`` only.

Why from scratch, although ``--trainer.init_from`` can now start a relation model from a mel model's encoder,
decoder and heads with a fresh front end (``ddspfx.training.swap_front_end``): a warm start hands the paired variant
more than the relation one. From the shipped dry-aware model it *is* that model (hours of training, on other
sources); from the shipped blind model it starts as exactly that model (``widen_to_paired``: its trained stem
included) while the relation stem starts from nothing under a body tuned to mel-stem tokens. Equal steps from
scratch compare the two inputs and nothing else. The warm start is for after an adoption: the relation front end
under the shipped dry-aware model's body, ``python -m ddspfx.train --config dry --trainer.init_from
ddspfx/checkpoints/default_dry.safetensors --model.frontend.name relation --model.frontend.paired false``.

Test sets (development seeds, ``--seed`` 900,000 by default, as the source-count study; never the test seeds),
each clip with its own dry: chains of 0-5 pedals and clean clips on three sources no variant trains on (held-out
procedural guitars ``procedural:heldout``, ids 900,000+; the TimGM6mb and Csound GM SoundFont banks: whole
sources left out), and chains on the training guitars' distribution (``procedural``, the same development seeds)
as the in-distribution check. Reported per variant and per source: presence µF1, precision, exact chain, clean-clip alarm
rate, beside "no pedal" and a random chain. Outputs in ``--out``: the harness's ``table.md``, ``results.json``,
``bars.png``, and this study's ``summary.md`` / ``summary.json`` (one table, with the git commit, whether the tree
was clean, each model's SHA-256, and the proposed rule's reading).

    python -m experiments.ablate_dry_frontend [--steps 600] [--budget-min 0] [--n-test 100] [--resume]
                                              [--variants "paired mel,relation"]

The full run (the lead schedules it; from a clean tree, after committing the rule):

    python -m experiments.ablate_dry_frontend --steps 600 --budget-min 0 --n-test 100

Its cost, measured on 2026-12-07 on the shared 2-core box (load average 10, a long training at normal priority,
these processes at nice 19), timing 20 steps of each variant's config through ``ddspfx.training.train`` (one run
each, at different times: noisy): at full size (the default config with this study's overrides: 2-s clips, batch
32, d_model 128) a step took, in CPU time over steps 6-20, paired mel 1.23 s in the main process and 0.55 s in its
data worker, relation 2.08 s and 0.51 s (the relation maps and the 7-channel stem cost more per step). On two
otherwise idle cores a step takes about the main process's CPU time (the worker runs on the other core), so 600
steps take about 12 min (paired mel) and 21 min (relation), and with the calibration of each model on 256
validation clips and the scoring of 7 sets x 100 clips (2-s, beam 4, by both models and two references; not
measured at full size) the run takes about an hour and a quarter. Under that day's load the wall clock was 47 s
(paired mel) and 55 s (relation) per step, 600 steps about 8-9 h per variant: run it on a free box. The smoke
size, ``--config debug --steps 10 --n-test 3 --beam 2 --set trainer.log_audio=false``, ran end to end in 22 min of
wall clock under that load.

Rule proposal (NOT the rule: the lead writes ``experiments/results/dry_frontend/rule.md`` and commits it before the
run; this text is a draft, and ``summary.md`` reports what it would say):

    # How the dry front-end ablation is read (written before the run)

    Run: ``python -m experiments.ablate_dry_frontend --steps S --budget-min 0 --n-test 100`` from a clean tree,
    both variants from scratch for the same S steps; development seeds 20,900,000+ (never the test seeds).
    Never-heard guitars: held-out procedural guitars, the TimGM6mb and Csound GM banks. "Mean" = the mean over
    these three; alarms = clean-clip alarm rate; "spread" = the largest minus the smallest µF1 of the three.

    1. **The relation front end is adopted** for the dry-aware model when, against "paired mel", its mean µF1 is at
       least 0.03 higher, its µF1 is not more than 0.02 lower on any never-heard source, its mean alarms are not
       more than 0.03 higher, and its in-distribution µF1 is not more than 0.02 lower.
    2. **It is rejected** when its mean µF1 is more than 0.02 lower, or its in-distribution µF1 more than 0.05 lower.
    3. Otherwise the result is **undecided at this budget** (with 100 clips per set a 95 % interval on µF1 is about
       +-0.04): the ablation is rerun at four times the steps on fresh development seeds (900,500+) under this same
       rule, and the paired mel front end stays meanwhile. A smaller spread of the relation front end is reported
       as evidence that the guitar matters less, not as a condition.

    This rule is not amended after the run; an amended rule is a new rule, judged on fresh development seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text, file_sha256
from experiments.evaluation.ablation import (
    Ablation,
    TestSet,
    Variant,
    add_common_args,
    budget_from_args,
    command_line,
    provenance,
    refuse_finished_runs,
    run_ablation,
    selected,
)

NAME = "dry_frontend"
DEV_SEED = 900_000
COMMON: tuple[str, ...] = ("--model.input_level", "true", "--data.source", "procedural")
PAIRED, RELATION = "paired mel", "relation"
VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    PAIRED: (("--model.frontend.paired", "true"),
             "Today's dry-aware input: wet, dry and their log-mel difference through the mel CNN stem."),
    RELATION: (("--model.frontend.name", "relation"),
               "Only the wet-dry relation (ddspfx.frontends.relation) through a CNN stem of the same widths."),
}
SOURCES: tuple[tuple[str, str], ...] = (("held-out procedural", "procedural:heldout"), ("GM bank", "sf2:gmbank"),
                                        ("TimGM6mb", "sf2:timgm6mb"))
"""(name, spec) of the never-heard guitars: no variant trains on any of them."""
IN_DISTRIBUTION = ("training guitars", "procedural")
BASELINES: tuple[tuple[str, str], ...] = (("no pedal", "no effect (dry)"), ("random chain", "random chain"))
"""(row name here, the harness's reference system) shown beside the models."""
DECODER = "tokens"
"""The shipped inference (beam search, the config's effect set and order search); the harness hands a dry-aware
model each clip's own dry (``experiments.evaluation.ablation.batch_audio``)."""


def ablation() -> Ablation:
    variants = [Variant(name, COMMON + overrides, DECODER, note) for name, (overrides, note) in VARIANTS.items()]
    test_sets = [TestSet(f"{name}, chains", spec, "uniform") for name, spec in SOURCES]
    test_sets += [TestSet(f"{name}, clean", spec, "uniform", max_effects=0) for name, spec in SOURCES]
    test_sets.append(TestSet(f"{IN_DISTRIBUTION[0]}, chains", IN_DISTRIBUTION[1], "uniform"))
    return Ablation(
        name=NAME, title="dry-aware front end: wet + dry + difference vs the wet-dry relation only",
        question="Given the dry, does a front end that can hear only how the wet differs from it identify the chain "
                 "better on guitars the model never heard than today's wet, dry and difference?",
        variants=variants, test_sets=test_sets, references=tuple(theirs for _, theirs in BASELINES),
        notes=["Clean test sets: every reported pedal is a false alarm; alarm rate = 1 - their 'exact chain'.",
               "No variant trains on a never-heard source: held-out procedural ids (900,000+) are never drawn by a "
               "training spec, and no variant trains on a SoundFont.",
               "Each clip is decoded with its own dry, exactly as the pedals heard it."])


def scores(per_set: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per never-heard source (and their mean and µF1 spread) and in distribution: µF1, precision, exact, alarms."""
    out: dict[str, dict[str, float]] = {}
    for name, _ in SOURCES:
        chains, clean = per_set[f"{name}, chains"], per_set[f"{name}, clean"]
        out[name] = {"micro_f1": float(chains["micro_f1"]), "precision": float(chains["micro_precision"]),
                     "exact": float(chains["exact_chain_acc"]), "alarms": 1.0 - float(clean["exact_chain_acc"])}
    keys = ("micro_f1", "precision", "exact", "alarms")
    out["mean"] = {k: float(np.mean([out[n][k] for n, _ in SOURCES])) for k in keys}
    f1s = [out[n]["micro_f1"] for n, _ in SOURCES]
    out["mean"]["spread"] = float(max(f1s) - min(f1s))
    ind = per_set[f"{IN_DISTRIBUTION[0]}, chains"]
    out[IN_DISTRIBUTION[0]] = {"micro_f1": float(ind["micro_f1"]), "precision": float(ind["micro_precision"]),
                               "exact": float(ind["exact_chain_acc"]), "alarms": float("nan")}
    return out


def rule_reading(relation: dict[str, dict[str, float]], paired: dict[str, dict[str, float]]) -> str:
    """What the proposed rule (this module's docstring) says: "adopted", "rejected" or "undecided"."""
    d_mean = relation["mean"]["micro_f1"] - paired["mean"]["micro_f1"]
    d_ind = relation[IN_DISTRIBUTION[0]]["micro_f1"] - paired[IN_DISTRIBUTION[0]]["micro_f1"]
    worst = min(relation[n]["micro_f1"] - paired[n]["micro_f1"] for n, _ in SOURCES)
    d_alarms = relation["mean"]["alarms"] - paired["mean"]["alarms"]
    if d_mean >= 0.03 and worst >= -0.02 and d_alarms <= 0.03 and d_ind >= -0.02:
        return "adopted"
    if d_mean < -0.02 or d_ind < -0.05:
        return "rejected"
    return "undecided"


def summary(results: dict[str, Any]) -> dict[str, Any]:
    rows = {}
    for name, rec in results["variants"].items():
        if rec["skip"]:
            continue
        rows[name] = {"steps": int(rec["train"]["steps"]), "minutes": float(rec["train"]["seconds"]) / 60,
                      "model": rec["train"]["model"], "sha256": file_sha256(Path(rec["train"]["model"])),
                      "scores": scores(rec["results"])}
    refs = {ours: scores({ts: results["baselines"][ts][theirs] for ts in results["baselines"]})
            for ours, theirs in BASELINES}
    reading = (rule_reading(rows[RELATION]["scores"], rows[PAIRED]["scores"])
               if RELATION in rows and PAIRED in rows else "not read (both variants are needed)")
    return {"variants": rows, "baselines": refs, "rule_reading": reading}


def summary_markdown(s: dict[str, Any], meta: dict[str, Any]) -> str:
    cols = [n for n, _ in SOURCES] + ["mean"]
    lines = ["# Dry-aware front end: paired mel vs the wet-dry relation", "", f"Command: `{meta['command']}`  ",
             f"Code: git `{meta['git_commit']}` (clean tree: {meta['clean_tree']}).  ",
             f"Test clips: {meta['n_test']} per set, development seeds {meta['seeds'][0]:,}.."
             f"{meta['seeds'][1] - 1:,}; never-heard guitars: {', '.join(f'{n} (`{p}`)' for n, p in SOURCES)}; "
             f"in distribution: `{IN_DISTRIBUTION[1]}` at the same seeds.", "",
             "| system | steps | " + " | ".join(f"µF1 {c}" for c in cols) + " | µF1 spread | precision mean | "
             "exact mean | alarms mean | µF1 in distribution |", "|---" * (len(cols) + 7) + "|"]

    def row(name: str, steps: str, sc: dict[str, dict[str, float]]) -> str:
        m = sc["mean"]
        return (f"| {name} | {steps} | " + " | ".join(f"{sc[c]['micro_f1']:.3f}" for c in cols)
                + f" | {m['spread']:.3f} | {m['precision']:.3f} | {m['exact']:.3f} | {m['alarms']:.3f} | "
                  f"{sc[IN_DISTRIBUTION[0]]['micro_f1']:.3f} |")

    lines += [row(n, str(r["steps"]), r["scores"]) for n, r in s["variants"].items()]
    lines += [row(n, "–", sc) for n, sc in s["baselines"].items()]
    lines += ["", f"The proposed rule (module docstring) reads: **{s['rule_reading']}**.", "",
              "## Models", "", "| variant | model | SHA-256 |", "|---|---|---|"]
    lines += [f"| {n} | `{r['model']}` | `{r['sha256']}` |" for n, r in s["variants"].items()]
    return "\n".join(lines) + "\n"


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=0.0, default_n_test=100)
    ap.add_argument("--resume", action="store_true",
                    help="keep the variants whose model already exists in --out (same config) instead of refusing")
    ap.set_defaults(seed=DEV_SEED, steps=600)
    args = ap.parse_args(argv)
    if args.steps < 1:
        raise DdspfxError(f"--steps must be at least 1, got {args.steps}")
    ab = ablation()
    refuse_finished_runs(args, ab)
    budget = budget_from_args(args)
    command = command_line("ablate_dry_frontend.py", argv)
    results = run_ablation(ab, budget, args.out, command, selected(args))
    meta = {**provenance(command), "n_test": budget.n_test, "seeds": results["test_sets"][f"{SOURCES[0][0]}, chains"]["seeds"]}
    s = summary(results)
    atomic_write_text(args.out / "summary.json", json.dumps({"meta": meta, **s}, indent=1))
    atomic_write_text(args.out / "summary.md", summary_markdown(s, meta))
    print((args.out / "summary.md").read_text())
    print(f"wrote {args.out / 'summary.md'}, summary.json and the harness's table.md, results.json, bars.png",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
