"""Hear the pedals, not the guitar: each data lever alone against the same baseline, on guitars no variant heard.

Why: the shipped blind model hears a clean guitar as pedals (an eq at its body resonance, a reverb, a light
distortion) and its answer moves with the guitar. The issue's levers change what the model learns; each is
measured alone, on the same development clips, before it joins the recipe (``experiments/results/guitars/rule.md``
says how each is judged, written before the run).

Every variant knows all thirteen pedal types and trains for the same wall-clock budget from scratch, on the
embedded synthetic guitars only (the SoundFont banks are the never-heard guitars of the test):

- **two guitars** (baseline): the two embedded synthetic guitars (``mix:synth=0.5,modal=0.5``);
- **procedural guitars**: a fresh virtual guitar per clip (``ddspfx.sources.procedural``), nothing else changed;
- **recording character**: the baseline with a recording's own colour after the pedals on half the clips
  (``data.recording 0.5``, unlabelled);
- **pairs + invariance**: the baseline with each chain also played by a second guitar and a loss on the
  difference between the two answers (``data.pair_guitars``, ``loss.invariance 1``); a step sees twice the clips;
- **whole ranges**: knobs drawn over their whole range, a pedal nobody hears left out of the chain
  (``data.whole_ranges``, ``data.drop_inaudible``).

Test sets (development seeds: ``--seed`` 900,000 by default, never the test seeds 0..): chains of 0-5 of the
thirteen pedals on the two Debian SoundFont banks' dry guitars (TimGM6mb, the Csound GM bank), and clean clips
of both (no pedal: every pedal reported is a false alarm).

    python -m experiments.ablate_guitars [--budget-min 12] [--n-test 100] [--seed 900000] [--variants ...]
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ddspfx.errors import cli_entry
from experiments.evaluation.ablation import (
    Ablation,
    TestSet,
    Variant,
    add_common_args,
    budget_from_args,
    command_line,
    report,
    run_ablation,
    selected,
)

NAME = "guitars"
DEV_SEED = 900_000
BASE_SOURCE = "mix:synth=0.5,modal=0.5"
COMMON: tuple[str, ...] = ("--model.input_level", "true", "--data.source", BASE_SOURCE)


def ablation() -> Ablation:
    return Ablation(
        name=NAME, title="hearing the pedals, not the guitar: one data lever at a time",
        question="Which change to the training data makes the answer hold on guitars the model never heard, and "
                 "stops a clean guitar from being heard as pedals?",
        variants=[
            Variant("two guitars", COMMON, "tokens", "Baseline: the two embedded synthetic guitars."),
            Variant("procedural guitars", COMMON + ("--data.source", "procedural"), "tokens",
                    "A fresh procedural virtual guitar per clip."),
            Variant("recording character", COMMON + ("--data.recording", "0.5"), "tokens",
                    "A recording's own colour after the pedals on half the clips, unlabelled."),
            Variant("pairs + invariance", COMMON + ("--data.pair_guitars", "true", "--loss.invariance", "1.0"),
                    "tokens", "Each chain on two guitars; loss on the difference of their answers."),
            Variant("whole ranges", COMMON + ("--data.whole_ranges", "true", "--data.drop_inaudible", "true"),
                    "tokens", "Whole knob ranges; inaudible pedals left out of the chain."),
        ],
        test_sets=[
            TestSet("TimGM6mb, chains", "sf2:timgm6mb", "uniform"),
            TestSet("GM bank, chains", "sf2:gmbank", "uniform"),
            TestSet("TimGM6mb, clean", "sf2:timgm6mb", "uniform", max_effects=0),
            TestSet("GM bank, clean", "sf2:gmbank", "uniform", max_effects=0),
        ],
        notes=["Clean test sets: every reported pedal is a false alarm; their 'exact chain' is the share of clips "
               "answered 'no pedal'.",
               "No variant trains on a SoundFont: both banks are guitars no variant heard."],
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=12.0, default_n_test=100)
    ap.set_defaults(seed=DEV_SEED)
    args = ap.parse_args(argv)
    budget = budget_from_args(args)
    results = run_ablation(ablation(), budget, args.out, command_line("ablate_guitars.py", argv), selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
