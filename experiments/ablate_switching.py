"""Switching-matrix ablation: the soft permutation through the proxies vs none (token decoder alone).

- **none (tokens only)**: no switching matrix at all -- token CE + presence BCE + param L1; the
  permutation NLL and the proxy MR-STFT are off (``loss.perm 0``, ``loss.stft 0``).
- **soft permutation through proxies**: the permutation NLL on the Sinkhorn matrix and the MR-STFT
  between the proxy chain *ordered by the predicted soft permutation* and the wet clip.
- **teacher order through proxies**: the same proxy MR-STFT, but the chain is driven by the true
  order (``loss.stft_teacher_perm``): the audio gradient reaches parameters and gates, not the
  order -- separates what the switching matrix adds from what the proxy loss adds.

The token beam search decodes every variant (the shipped inference); the two proxy variants are
also read from their heads (presence set in the Hungarian order of the switching matrix), which
shows whether the switching matrix itself learned the order.

Default (2-core CPU): 3 runs x 8 min + about 2 min of evaluation on 200 clips ~= 27 min.

    python -m experiments.ablate_switching [--budget-min 8] [--n-test 200] [--scale 1] [--smoke]
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

NAME = "switching"


def ablation(stft_warmup: int, stft_ramp: int) -> Ablation:
    proxy = stft_overrides(stft_warmup, stft_ramp)
    teacher = proxy + ("--loss.stft_teacher_perm", "true")
    return Ablation(
        name=NAME, title="switching matrix (soft permutation through the proxies)",
        question="Does routing the audio loss through a learned soft permutation of the proxies help the chain estimate, "
                 "compared with the token decoder alone and with the proxies driven in the true order?",
        variants=[
            Variant("none (tokens only)", ("--loss.perm", "0", "--loss.stft", "0"), "tokens",
                    "No switching matrix: token CE + presence + params."),
            Variant("soft perm through proxies", proxy, "tokens",
                    f"Permutation NLL + MR-STFT through the Sinkhorn-ordered proxy chain (after {stft_warmup} steps)."),
            Variant("teacher order through proxies", teacher, "tokens",
                    "Permutation NLL + MR-STFT through the proxy chain in the true order."),
            Variant("soft perm through proxies [heads]", proxy, "heads",
                    "The 'soft perm' model read from its heads: the switching matrix chooses the order."),
            Variant("teacher order through proxies [heads]", teacher, "heads",
                    "The 'teacher order' model read from its heads."),
        ],
        test_sets=[TestSet("synth")],
        notes=["Rows with the same overrides share one trained model ('[heads]' rows re-read a model, no extra training).",
               "Equal wall-clock budgets: proxy variants take fewer steps (their steps cost about twice as much on a CPU)."],
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=8.0, default_n_test=200)
    add_stft_schedule_args(ap)
    args = ap.parse_args(argv)
    budget = budget_from_args(args)
    warmup, ramp = stft_schedule(args)
    results = run_ablation(ablation(warmup, ramp), budget, args.out, command_line("ablate_switching.py", argv), selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
