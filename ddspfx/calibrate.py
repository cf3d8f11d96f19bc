"""``python -m ddspfx.calibrate CHECKPOINT``: re-choose an exported model's per-pedal presence thresholds.

Thresholds are chosen on validation clips (seeds 10,000,000+, never the test seeds) by ``--objective accuracy``
(default: each pedal's yes/no decision right as often as possible), ``f1`` (each pedal's own F1: finds more of
the pedals, but a rare pedal's false alarms cost the whole answer) or ``micro_f1`` (all thresholds together, for
the best presence F1 over all pedals), e.g. on your own dry guitar (``--source folder:PATH``). The clips' chains
are drawn as the model's training drew them (its recorded pedal types, effect weights, chain lengths and order),
because a threshold chosen on other chains is tuned to other pedal frequencies; ``--uniform-chains`` draws them
uniformly over the model's pedal types instead. Only the model's sidecar is rewritten (the weights are
unchanged). The library behind it: :mod:`ddspfx.calibration`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ddspfx.config import THRESHOLD_OBJECTIVES
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.sources import SPECS

SHIPPED = "default"
"""The checkpoint argument that names the shipped model (as training's ``--trainer.init_from default`` does)."""


def build_parser() -> argparse.ArgumentParser:
    ap = CliParser(prog="python -m ddspfx.calibrate", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="exported model (.safetensors with its .json sidecar, or its run folder); "
                                       f"{SHIPPED!r}: the shipped model (its sidecar in the package is rewritten)")
    ap.add_argument("--source", default="synth", help=f"dry source of the calibration clips: {' | '.join(SPECS)} "
                                                      "(default synth)")
    ap.add_argument("--objective", choices=THRESHOLD_OBJECTIVES, default="accuracy",
                    help="accuracy: each pedal's decision right most often (default); f1: each pedal's own F1 "
                         "(finds more pedals, more false alarms); micro_f1: all thresholds together for the best "
                         "presence F1 over all pedals")
    ap.add_argument("--uniform-chains", action="store_true",
                    help="draw the clips' chains uniformly over the model's pedal types instead of as its training "
                         "did (its recorded effect weights, chain lengths and order)")
    ap.add_argument("--n", type=int, default=512, help="calibration clips (validation seeds; default 512)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    return ap


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 50:
        raise DdspfxError("--n must be at least 50: fewer clips cannot choose a threshold per pedal")
    if args.checkpoint != SHIPPED and not Path(args.checkpoint).exists():  # a typo is said before seconds of imports
        raise DdspfxError(f"checkpoint {args.checkpoint} not found; check the path")
    from ddspfx.calibration import recalibrate  # why here: torch loads after the flags are checked

    result, side = recalibrate(None if args.checkpoint == SHIPPED else args.checkpoint, args.source, args.n,
                               args.objective, args.threads, trained_chains=not args.uniform_chains)
    print(chains_line(result.get("chains", {})))
    print("| pedal | threshold | F1 at 0.5 | F1 calibrated |\n|---|---|---|---|")
    for name, threshold in result["thresholds"].items():
        print(f"| {name} | {threshold:.2f} | {result['f1_at_0.5'][name]:.3f} | {result['f1_calibrated'][name]:.3f} |")
    if "micro_f1_calibrated" in result:
        print(f"presence micro-F1 on these clips: {result['micro_f1_at_0.5']:.3f} at 0.5, "
              f"{result['micro_f1_calibrated']:.3f} calibrated")
    print(f"wrote the thresholds to {side} ({args.objective}, {result['clips']} clips from {args.source}, validation seeds)")
    return 0


def chains_line(chains: dict[str, Any]) -> str:
    """One line saying how the calibration clips' chains were drawn (:func:`ddspfx.calibration.recalibrate`'s
    ``"chains"``): which effect weights, so a user sees whether the model's training distribution was used."""
    if not chains:
        return "chains: not recorded"
    how = ("as in the model's training" if chains.get("drawn_as") == "training"
           else "uniformly over the model's pedal types")
    return (f"chains drawn {how}: {chains.get('min_effects')}-{chains.get('max_effects')} pedals, effect weights "
            f"{chains.get('effect_weights') or 'all equal'}, order {chains.get('order')}, "
            f"pedal types {chains.get('effects') or 'every catalog effect'}")


if __name__ == "__main__":
    sys.exit(main())
