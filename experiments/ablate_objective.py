"""Objective ablation: CE only / CE + multi-resolution STFT / STFT only, at equal wall-clock budget.

- **CE only**: the supervised objective without any audio loss -- token cross-entropy plus the
  heads' supervised terms (presence BCE, permutation NLL, parameter L1); ``loss.stft 0``.
  Decoded by the token beam search.
- **CE + MR-STFT**: the same, plus the MR-STFT between the proxy chain (soft permutation, presence
  gates and parameters from the heads) and the wet clip, after a short CE warm-up
  (``--stft-warmup`` steps, then a ``--stft-ramp`` step ramp). Decoded by the token beam search.
- **STFT only**: no label is used at all; only the MR-STFT through the proxies trains the model
  (from step 0), the presence gates included (``loss.stft_gate_grad``: with labels the gates are
  trained by their BCE only, because the audio gradient switches them off). The token decoder gets no gradient, so this variant is decoded from the heads:
  effects whose presence gate is > 0.5 (at most max_effects, most confident first), ordered by the
  Hungarian assignment of the Sinkhorn switching matrix, with the parameter head's values.

All variants get the same training minutes, so the STFT variants, whose steps cost about twice as
much on a CPU (``experiments/results/benchmarks.md``), take fewer steps; the table shows how many.

Default (2-core CPU): 3 runs x 8 min + about 2 min of evaluation on 200 clips ~= 27 min.

    python -m experiments.ablate_objective [--budget-min 8] [--n-test 200] [--scale 1] [--config default] [--smoke]
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
    add_stft_schedule_args,
    budget_from_args,
    command_line,
    report,
    run_ablation,
    selected,
    stft_overrides,
    stft_schedule,
)

NAME = "objective"


def ablation(stft_warmup: int, stft_ramp: int) -> Ablation:
    ramp = stft_overrides(stft_warmup, stft_ramp)
    return Ablation(
        name=NAME, title="training objective",
        question="What does the audio (MR-STFT through the proxies) loss add to the supervised token/heads objective, "
                 "and can the audio loss alone, without labels, learn the chain?",
        variants=[
            Variant("CE only", ("--loss.stft", "0"), "tokens",
                    "Token CE + presence BCE + permutation NLL + param L1; no audio loss."),
            Variant("CE + MR-STFT", ramp, "tokens",
                    f"As CE only, plus MR-STFT through the proxy chain after {stft_warmup} warm-up steps ({stft_ramp}-step ramp)."),
            Variant("STFT only", ("--loss.ce", "0", "--loss.presence", "0", "--loss.perm", "0", "--loss.params", "0",
                                  "--loss.stft_gate_grad", "true", *stft_overrides(0, 1)),
                    "heads", "Only MR-STFT through the proxies, from step 0; decoded from the heads (no token decoder)."),
        ],
        test_sets=[TestSet("synth")],
        notes=["The MR-STFT term runs on `loss.stft_batch` clips of each batch on a `loss.stft_crop_s` crop (config values), "
               "so per step it sees less audio than the CE terms see labels.",
               "Equal wall-clock budgets, not equal steps: the 'steps' column is part of the result."],
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=8.0, default_n_test=200)
    add_stft_schedule_args(ap)
    args = ap.parse_args(argv)
    budget = budget_from_args(args)
    warmup, ramp = stft_schedule(args)
    results = run_ablation(ablation(warmup, ramp), budget, args.out, command_line("ablate_objective.py", argv), selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
