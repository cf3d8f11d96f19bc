"""Front-end ablation: log-mel with and without the CNN stem vs DAC codes.

- **mel + CNN stem**: the default weight-free front end: log-mel through four conv-BN-ReLU-pool
  blocks (``frontend.conv_channels``, time pooled by ``frontend.conv_time_pool``), one token per 4 frames.
- **mel, frame projection**: the same log-mel, two frames stacked per token and projected by an MLP
  (``conv_channels 0, stack 2``: the front end the first shipped model used).
- **DAC**: frozen Descript Audio Codec codes, embedded per codebook (``frontend.name dac``). Run only
  when ``import dac`` works *and* the 44 kHz weights are in DAC's cache
  (``~/.cache/descript/dac/``, or ``--dac-weights PATH``); otherwise its row says why it was not run. On a CPU the codec runs on
  every training batch and is slow; precomputed codes (``python -m ddspfx.data encode``) are the
  faster route for a long run.

Default (2-core CPU): 26 min of training split over the variants that can run (2 x 13 min without
DAC, 3 x 8.7 min with it) + about 1.5 min of evaluation on 200 clips ~= 28 min.

    python -m experiments.ablate_frontend [--budget-min M] [--n-test 200] [--scale 1] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
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
    split_budget,
)

NAME = "frontend"
TOTAL_TRAIN_MIN = 26.0


def dac_unavailable(weights: Path | None = None, model_type: str = "44khz") -> str:
    """Why the DAC variant cannot run here ("" when it can): package missing, weights not found."""
    try:
        import dac  # noqa: F401
    except ImportError:
        return "descript-audio-codec is not installed (pip install 'ddspfx[dac]')"
    from ddspfx.frontends.dac import cached_weights_path

    path = weights or cached_weights_path(model_type)
    if not path.is_file():
        return f"DAC {model_type} weights not found at {path} (python -m dac download --model_type {model_type})"
    return ""


def ablation(dac_reason: str, dac_weights: Path | None = None) -> Ablation:
    dac = ("--model.frontend.name", "dac") + (("--model.frontend.dac_weights", str(dac_weights)) if dac_weights else ())
    return Ablation(
        name=NAME, title="front end: mel vs DAC",
        question="Which audio representation lets the same encoder/decoders identify the pedal chain best at equal "
                 "training time: log-mel through a CNN stem (the default), log-mel frames projected one by one, or a "
                 "frozen neural codec's codes (DAC)?",
        variants=[
            Variant("mel + CNN stem", (), "tokens", "Default: log-mel through 4 conv blocks, 1 token per 4 frames."),
            Variant("mel, frame projection", ("--model.frontend.conv_channels", "0", "--model.frontend.stack", "2"),
                    "tokens", "Log-mel, 2 frames stacked per token, MLP projection (no conv)."),
            Variant("DAC", dac, "tokens", "Frozen DAC 44 kHz codes, one embedding per codebook, summed.",
                    skip=dac_reason),
        ],
        test_sets=[TestSet("synth")],
        notes=["DAC availability is checked at run time; when it is missing the row says so and nothing is trained for it."],
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=None, default_n_test=200,
                    budget_help=f"{TOTAL_TRAIN_MIN:g} min split over the variants that can run")
    ap.add_argument("--dac-weights", type=Path, default=None, help="DAC weights file (default: DAC's cache)")
    args = ap.parse_args(argv)
    ab = ablation(dac_unavailable(args.dac_weights), args.dac_weights)
    split_budget(args, ab, TOTAL_TRAIN_MIN)
    budget = budget_from_args(args)
    results = run_ablation(ab, budget, args.out, command_line("ablate_frontend.py", argv), selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
