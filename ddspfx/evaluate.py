"""``python -m ddspfx.evaluate``: honest figures on a held-out set, with baselines beside them.

The test set is generated with seeds disjoint from training and validation (20_000_000+),
from any dry source (synthetic guitar by default; ``--source folder:PATH`` for real guitar).
Every system -- the model and the baselines -- is scored by the same function: the scoring library is
``ddspfx.scoring`` (imported from there, never from here); this module is only its command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from ddspfx.chain import Chain
from ddspfx.config import EFFECT_SET_MODES, ORDER_SEARCH_MODES, TEST_SEED_BASE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.sampler import SamplerConfig
from ddspfx.sources import SPECS

# --- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.evaluate", description="Evaluate a model on a held-out set, with baselines.")
    p.add_argument("--checkpoint", help="model checkpoint; default: the shipped model")
    p.add_argument("--n", type=int, default=1000, help="test clips (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="test-set seed offset (seeds start at 20,000,000)")
    p.add_argument("--source", default="synth", help=f"dry source: {' | '.join(SPECS)} (default synth)")
    p.add_argument("--seconds", type=float, default=2.0, help="clip length (default 2.0)")
    p.add_argument("--max-effects", type=int, default=5, help="longest chain in the test set (default 5)")
    p.add_argument("--order", choices=["uniform", "typical"], default="uniform", help="order prior of the test set")
    p.add_argument("--tau", type=float, default=0.1, help="audible-equivalence threshold (default 0.1)")
    p.add_argument("--beam", type=int, default=None, help="beam width (default: the Estimator's, see ddspfx.infer)")
    p.add_argument("--effect-set", choices=EFFECT_SET_MODES, default=None,
                   help="who picks the effects: 'decoder' or 'presence' head (default: the checkpoint's setting)")
    p.add_argument("--order-search", choices=ORDER_SEARCH_MODES, default=None,
                   help="'exhaustive' (every order of the found effects) or 'beam' (default: the checkpoint's setting)")
    p.add_argument("--no-baselines", action="store_true", help="score only the model")
    p.add_argument("--cnn-checkpoint", help="folder of a trained CNN-on-mel baseline "
                   "(python -m ddspfx.baselines.cnn train --out DIR); adds its row to the table")
    p.add_argument("--out", default="eval", help="output folder for report.md, results.json and PNGs")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the work is many small tensors, and on a busy machine "
                        "two threads were measured ~30x slower)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1:
        raise DdspfxError("--n must be at least 1")
    if not 0 < args.tau < 1:
        raise DdspfxError("--tau must be between 0 and 1")
    if args.threads < 1:
        raise DdspfxError("--threads must be at least 1")
    # why here: torch and the model take seconds to import; --help and a bad flag answer before that
    import torch  # why here: seconds to import; --help and a bad flag answer first

    torch.set_num_threads(args.threads)
    from ddspfx.estimator import Estimator  # why here: the model stack (torch), after the flags
    from ddspfx.scoring import (  # why here: metrics and the datasets (torch), after the flags
        LabelledClip,
        Scorer,
        baseline_systems,
        make_examples,
        markdown_table,
        per_pedal_table,
        plot_results,
    )

    out = Path(args.out)
    estimator = Estimator(args.checkpoint, beam=args.beam, effect_set=args.effect_set, order_search=args.order_search)
    cnn = None
    if args.cnn_checkpoint:
        from ddspfx.baselines.cnn import CNNBaseline  # why here: its module imports the trainer (Lightning), seconds

        cnn = CNNBaseline.load(args.cnn_checkpoint)  # fails fast, before the test set is rendered
    examples = make_examples(args.source, args.n, args.seed, args.seconds, args.max_effects, args.order,
                             effects=estimator.model.effects)
    analyses = []
    for s in tqdm(range(0, len(examples), 32), desc="model", unit="batch"):
        analyses += estimator.analyse_many([ex.wet for ex in examples[s:s + 32]])
    systems: dict[str, Callable[[LabelledClip], Chain]] = {}
    model_chains = iter([a.chain for a in analyses])
    systems["ddspfx"] = lambda ex: next(model_chains)
    if cnn is not None:
        cnn_chains = iter(cnn.predict_clips([ex.wet for ex in examples]))
        systems["CNN on mel (baseline)"] = lambda ex: next(cnn_chains)
    if not args.no_baselines:
        systems.update(baseline_systems(SamplerConfig(max_effects=args.max_effects, order=args.order), args.seed))
    results: dict[str, dict[str, float]] = {}
    scorers: dict[str, Scorer] = {}
    for name, system in systems.items():
        sc = Scorer(tau=args.tau)
        for ex in tqdm(examples, desc=f"score {name}", unit="clip", leave=False):
            sc.add(ex, system(ex))
        scorers[name] = sc
        results[name] = sc.summary()
    dry_scorer = Scorer(tau=args.tau)
    for ex in examples:
        dry_scorer.add(ex, Chain())
    results["no effect (dry)"] = dry_scorer.summary()
    header = (f"Held-out set: {args.n} clips of {args.seconds:g} s, source {args.source}, chains of 0-{args.max_effects} "
              f"effects ({args.order} order), seeds {TEST_SEED_BASE + args.seed}+, tau={args.tau}.")
    table = markdown_table(results)
    pedals = per_pedal_table(results)
    plots = plot_results(out, scorers["ddspfx"])
    atomic_write_text(out / "report.md", f"# ddspfx evaluation\n\n{header}\n\n{table}\n\n"
                      f"## Per pedal (F1) and per knob (mean absolute normalised error on detected pedals)\n\n{pedals}\n\n" +
                      "".join(f"![{p}]({p})\n" for p in plots))
    atomic_write_text(out / "results.json", json.dumps({"setup": vars(args), "results": results}, indent=2))
    print(header)
    print(table)
    print(pedals)
    print(f"wrote {out / 'report.md'}, {out / 'results.json'} and {', '.join(plots)}")
    return 0


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
