"""Decoder ablation: autoregressive pedal tokens vs predicting the set, then searching the order.

One model is trained (the default objective); its predictions are read out four ways on the same
held-out clips:

- **tokens (AR)**: grammar-constrained beam search over pedal tokens; the decoder picks the effects too.
- **presence set -> tokens (AR) order**: the shipped inference (``model.effect_set: presence``): the
  presence head fixes the set, the same beam search may only open those effects (order and bins).
- **set -> search**: the presence head gives the set (gate > 0.5, at most max_effects), the
  parameter head the settings; then every order of that set is rendered with pedalboard on the
  clip's **dry** recording and the order whose render is closest to the wet clip wins
  (``ddspfx.metrics.MRSTFTDistance``, the evaluator's distance). Exhaustive over all k! orders up to
  ``--max-orders`` (120 = every order of 5 pedals), best-insertion greedy beyond.
- **tokens set -> search**: the token decoder's set and parameters, order re-chosen by the same search.
- **true set -> search** (oracle set): the true effects with the parameter head's settings, order by
  search -- how good the search is once the set is right.

The search needs the dry signal, which the token decoder does not: the comparison is between a
blind estimator and an analysis-by-synthesis one (``python -m ddspfx.infer --dry``), as in the
published set-then-search systems. Cost: k! pedalboard renders + distances per clip (about 18 ms
each on this CPU: 2 s for a 5-pedal set).

Default (2-core CPU): 1 run x 20 min + about 5 min of evaluation on 150 clips ~= 26 min.

    python -m experiments.ablate_decoder [--budget-min 20] [--n-test 150] [--max-orders 120] [--scale 1] [--smoke]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from typing import Any, Sequence

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, denormalise_params, effect_index, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import cli_entry
from ddspfx.metrics import MRSTFTDistance
from ddspfx.scoring import LabelledClip
from experiments.evaluation.ablation import (
    Ablation,
    DecodeSettings,
    TestSet,
    Variant,
    add_common_args,
    budget_from_args,
    command_line,
    decode_tokens,
    head_outputs,
    heads_chain,
    report,
    run_ablation,
    selected,
)

NAME = "decoder"


def render_distance(dry: np.ndarray, wet: np.ndarray, pedals: Sequence[Pedal], dist: MRSTFTDistance) -> float:
    """MR-STFT distance between pedalboard(pedals in this order)(dry) and the wet clip."""
    from ddspfx.render import render_chain

    y, _ = render_chain(dry, Chain(list(pedals)), SAMPLE_RATE)
    return dist(y, wet)


def search_order(dry: np.ndarray, wet: np.ndarray, pedals: Sequence[Pedal], dist: MRSTFTDistance,
                 max_orders: int = 120) -> Chain:
    """The order of ``pedals`` whose pedalboard render of ``dry`` is closest to ``wet``.

    Exhaustive when k! <= ``max_orders``; otherwise best insertion: pedals are added one at a time
    (in the given order) at whichever position renders closest, (k^2 + k) / 2 renders in all.
    """
    pedals = list(pedals)
    if len(pedals) < 2:
        return Chain(pedals)
    if math.factorial(len(pedals)) <= max_orders:
        best = min(itertools.permutations(pedals), key=lambda order: render_distance(dry, wet, order, dist))
        return Chain(list(best))
    order = [pedals[0]]
    for p in pedals[1:]:
        cands = [order[:i] + [p] + order[i:] for i in range(len(order) + 1)]
        order = min(cands, key=lambda c: render_distance(dry, wet, c, dist))
    return Chain(order)


def head_pedal(h: dict[str, np.ndarray], effect: str) -> Pedal:
    """The parameter head's settings for ``effect`` as a Pedal."""
    n = len(get_effect(effect).params)
    return Pedal(effect, denormalise_params(effect, h["params"][effect_index(effect)][:n].astype(np.float64)))


def make_decoders(max_orders: int) -> dict[str, Any]:
    dist = MRSTFTDistance()

    def set_search(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[Chain]:
        heads = head_outputs(model, examples, s)
        return [search_order(ex.dry, ex.wet, heads_chain(h, s.max_effects).pedals, dist, max_orders)
                for ex, h in zip(examples, heads)]

    def tokens_search(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[Chain]:
        return [search_order(ex.dry, ex.wet, c.pedals, dist, max_orders)
                for ex, c in zip(examples, decode_tokens(model, examples, s, effect_set="decoder"))]

    def true_set_search(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[Chain]:
        heads = head_outputs(model, examples, s)
        out = []
        for ex, h in zip(examples, heads):
            pedals = [head_pedal(h, e) for e in sorted(ex.chain.effects, key=EFFECT_NAMES.index)]  # order hidden
            out.append(search_order(ex.dry, ex.wet, pedals, dist, max_orders))
        return out

    return {"set-search": set_search, "tokens-search": tokens_search, "true-set-search": true_set_search}


def ablation(max_orders: int) -> Ablation:
    return Ablation(
        name=NAME, title="decoder: autoregressive tokens vs set-then-search",
        question="Given one trained model, is the order better read from the autoregressive token decoder, or found by "
                 "predicting the unordered set and searching the orders by re-rendering with pedalboard (needs the dry)?",
        variants=[
            Variant("tokens (AR)", (), "tokens-own-set",
                    "Beam search over pedal tokens, the decoder picks the effects too; blind (wet only)."),
            Variant("presence set -> tokens (AR) order", (), "tokens",
                    "Shipped inference: presence-head set, the token beam search orders it and bins the params; blind."),
            Variant("set -> search", (), "set-search", "Presence-head set + parameter head, order by pedalboard search on the dry."),
            Variant("tokens set -> search", (), "tokens-search",
                    "The token decoder's own set and params, order re-chosen by the search."),
            Variant("true set -> search", (), "true-set-search",
                    "Oracle: the true set with the parameter head's settings, order by search (upper bound of the search)."),
        ],
        test_sets=[TestSet("synth")],
        decoders=make_decoders(max_orders),
        notes=[f"Order search: every permutation when k! <= {max_orders}, else best insertion; each candidate rendered by "
               "pedalboard (`ddspfx.render.render_chain`) on the test clip's dry signal and compared with the wet by "
               "`ddspfx.metrics.MRSTFTDistance` (peak-normalised MR-STFT, the evaluator's distance). Search variants use the "
               "dry signal; 'tokens (AR)' does not.",
               "All variants read the same trained model (trained once)."],
    )


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=20.0, default_n_test=150)
    ap.add_argument("--max-orders", type=int, default=120, help="exhaustive search up to this many orders (default 120 = 5!)")
    args = ap.parse_args(argv)
    budget = budget_from_args(args)
    results = run_ablation(ablation(max(1, args.max_orders)), budget, args.out, command_line("ablate_decoder.py", argv),
                           selected(args))
    report(results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
