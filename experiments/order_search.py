"""How should a trained model choose the order? Beam vs exhaustive order search, on one held-out set.

No training: one checkpoint is read out several ways on the same clips. The effect set and the
parameters are the same in every row (the presence head's set, the parameter head's values), so the
rows differ only in the order:

- **beam**: the order of the grammar-constrained beam search (``--order-search beam``);
- **exhaustive, slot weight w**: every order of the found effects scored by the decoder's choice
  tokens (renormalised over the effects not yet placed) + w x the switching-matrix head's
  log soft permutation (``ddspfx.model.search.order_search``); w=0 is the decoder alone, a large w
  the switching head alone. The shipped setting is the checkpoint's ``model.order_slot_weight``.

The default clips are the development seeds (20,700,000+), not the test seeds the README's table uses,
so choosing a weight here does not tune to the test set.

    python -m experiments.order_search [--checkpoint PATH] [--n 1000] [--seed 700000] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, cli_entry
from ddspfx.scoring import Scorer
from experiments.evaluation.ablation import add_readout_args, command_line, predict_batched, readout_setup, write_table

OUT = Path(__file__).resolve().parent / "results" / "order_search"
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 1000.0)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.order_search", description=__doc__.splitlines()[0])
    add_readout_args(p, OUT)
    p.add_argument("--beam", type=int, default=4)
    return p


def readouts(shipped_weight: float) -> list[tuple[str, str, float]]:
    """(row name, order mode, slot weight)."""
    rows = [("beam", "beam", shipped_weight)]
    for w in sorted(set(WEIGHTS) | {shipped_weight}):
        label = "decoder only" if w == 0 else "switching head only" if w >= 100 else f"slot weight {w:g}"
        rows.append((f"exhaustive, {label}" + (" (shipped)" if w == shipped_weight else ""), "exhaustive", w))
    return rows


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model, examples = readout_setup(args)
    shipped = float(model.config.order_slot_weight)
    results: dict[str, dict[str, float]] = {}
    for name, mode, weight in readouts(shipped):
        model.config.order_slot_weight = weight
        t0 = time.perf_counter()  # clips are rendered beforehand: this times the read-out alone
        chains = [p.chain for p in predict_batched(model, examples, args.batch, desc=name, beam=args.beam, order=mode)]
        seconds = time.perf_counter() - t0
        sc = Scorer(rerender=False)
        for ex, chain in zip(examples, chains):
            sc.add(ex, chain)
        results[name] = {**sc.summary(), "n_pairs_nonlinear": len(sc.pairs_nonlinear),
                         "n_pairs_linear": len(sc.pairs_linear), "ms_per_clip": 1000 * seconds / len(examples)}
    model.config.order_slot_weight = shipped
    cols = [("pairwise_order_acc_nonlinear", "nonlinear pair order"), ("pairwise_order_acc_linear", "linear pair order"),
            ("exact_chain_acc", "exact chain"), ("equivalent_chain_acc", "equiv. chain (τ 0.1)"),
            ("ms_per_clip", "decode ms / clip")]
    first = next(iter(results.values()))
    header = (f"Checkpoint {args.checkpoint or 'shipped'}; {args.n} clips of {model.clip_seconds:g} s (synth, chains of "
              f"0-{model.config.max_effects}, uniform order), seeds {TEST_SEED_BASE + args.seed}+, beam {args.beam}, "
              f"1 CPU thread. Same effect sets and values in every row (presence µF1 {first['micro_f1']:.3f}); "
              f"{first['n_pairs_nonlinear']} nonlinear / {first['n_pairs_linear']} linear common pairs "
              f"(standard error of a pair accuracy near 0.7: about "
              f"{np.sqrt(0.21 / max(first['n_pairs_nonlinear'], 1)):.3f} / {np.sqrt(0.21 / max(first['n_pairs_linear'], 1)):.3f}).")
    lines = ["| order read-out | " + " | ".join(c for _, c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{r[k]:.1f}" if k == "ms_per_clip" else f"{r[k]:.3f}"
                                                  for k, _ in cols) + " |")
    table = "\n".join(lines)
    write_table(Path(args.out), "Order read-out: beam vs exhaustive search", command_line("order_search.py", argv),
                header, table, {"setup": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
