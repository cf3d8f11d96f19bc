"""Data ablation: maximum chain length, order prior, and synthetic vs real dry guitar.

Trained variants (everything else from the base config, K = its ``data.max_effects``, 5 by default):

- **base**: synthetic dry guitar, uniform order over permutations, chains of 0..K effects;
- **short chains**: the same with at most S = K - 2 effects (the decoder may still emit K);
- **typical order**: the typical-pedalboard order prior (``data.order typical``: the usual order,
  with one random deviation 20 % of the time);
- **real dry**: ``--real-folder PATH`` (a folder of clean guitar recordings) instead of the synth;
  without the option its row says so.

Each variant is evaluated across every test set: synth with uniform order, synth with typical
order, and -- with ``--real-folder`` -- real dry guitar (``--real-test-folder``, default the same
folder: then test clips come from the same recordings as training, only with other crops and
chains, and the table says so).

Default (2-core CPU): 22 min of training split over the variants that run (3 x 7.3 min, or 4 x 5.5
with ``--real-folder``) + about 4 min of evaluation (150 clips x 2-3 test sets) ~= 27 min.

    python -m experiments.ablate_data [--real-folder PATH] [--budget-min M] [--n-test 150] [--scale 1] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ddspfx.config import load_config, parse_overrides
from ddspfx.errors import DdspfxError, cli_entry
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
    split_budget,
)

NAME = "data"
TOTAL_TRAIN_MIN = 22.0


def ablation(max_effects: int, real_folder: Path | None, real_test_folder: Path | None) -> Ablation:
    short = max(1, max_effects - 2)
    test_sets = [TestSet("synth, uniform order", "synth", "uniform"), TestSet("synth, typical order", "synth", "typical")]
    notes = [f"All variants keep model.max_effects; 'short chains' only changes the training data (0..{short} effects).",
             "Training example i is generated on the fly from seed i, dry clip first: the synthetic variants train on "
             "the same dry clips, under different chains."]
    if real_folder is not None:
        test_folder = real_test_folder or real_folder
        test_sets.append(TestSet("real dry", f"folder:{test_folder}", "uniform"))
        if real_test_folder is None or real_test_folder.resolve() == real_folder.resolve():
            notes.append(f"The real test set is drawn from the training folder {real_folder} (other crops, chains and "
                         "seeds, same recordings): pass --real-test-folder with held-out recordings for a clean split.")
    return Ablation(
        name=NAME, title="training data: chain length, order prior, real vs synthetic dry",
        question="How do the training chains (how long, in which orders) and the dry guitar (synthetic or recorded) "
                 "change accuracy on each kind of held-out clip?",
        variants=[
            Variant("base (synth, uniform, <=%d)" % max_effects, (), "tokens", "Synthetic dry, uniform order prior."),
            Variant(f"short chains (<={short})", ("--data.max_effects", str(short)), "tokens",
                    f"Training chains of at most {short} effects."),
            Variant("typical order", ("--data.order", "typical"), "tokens", "Typical-pedalboard order prior."),
            Variant("real dry", ("--data.source", f"folder:{real_folder}") if real_folder else (), "tokens",
                    "Dry guitar recordings from --real-folder.",
                    skip="" if real_folder else "no --real-folder PATH given (a folder of clean guitar recordings)"),
        ],
        test_sets=test_sets, notes=notes,
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=None, default_n_test=150,
                    budget_help=f"{TOTAL_TRAIN_MIN:g} min split over the variants that run")
    ap.add_argument("--real-folder", type=Path, default=None, help="folder of real dry guitar recordings to train on")
    ap.add_argument("--real-test-folder", type=Path, default=None,
                    help="held-out real recordings for the real test set (default: --real-folder)")
    args = ap.parse_args(argv)
    for flag, folder in (("--real-folder", args.real_folder), ("--real-test-folder", args.real_test_folder)):
        if folder is not None and not folder.is_dir():
            raise DdspfxError(f"{flag} {folder} is not a folder; pass a folder of dry guitar recordings")
    if args.real_test_folder is not None and args.real_folder is None:
        raise DdspfxError("--real-test-folder needs --real-folder (the recordings to train the 'real dry' variant on)")
    extra = [a for item in args.extra for a in (f"--{item.partition('=')[0]}", item.partition('=')[2])]
    base = load_config("debug" if args.smoke else args.config, parse_overrides(extra))
    ab = ablation(base.data.max_effects, args.real_folder, args.real_test_folder)
    split_budget(args, ab, TOTAL_TRAIN_MIN)
    budget = budget_from_args(args)
    results = run_ablation(ab, budget, args.out, command_line("ablate_data.py", argv), selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
