"""When does the model miss a pedal? Presence recall per effect, split by where the pedal sits and how it is set.

No training: one checkpoint predicts the effect set of held-out clips (the presence head with its
calibrated thresholds, which is what ``ddspfx.infer`` reports), and every true pedal counts as found
or missed under several conditions:

- **position**: whether a nonlinear pedal (compressor, distortion) comes before it in the chain,
  only after it, or not at all -- an eq before a distortion is partly flattened by the clipping;
- **chain length**: how many other pedals share the clip;
- **knob**: each parameter's value in thirds of the range the sampler draws from (uniform in the
  knob's own scale, so a log knob's thirds are octave-like); a knob with a dead zone (the eq's
  -5..+5 dB) in halves of each side, so the weaker and the stronger settings get their own rows.

The last row gives the false alarms: the share of clips without the pedal where it was reported.
The default clips are the development seeds (20,700,000+), not the test seeds of the README's table.

    python -m experiments.detect_conditions [--checkpoint PATH] [--n 1000] [--seed 700000] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, Param, denormalise, get_effect, normalise
from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, cli_entry
from experiments.evaluation.ablation import add_readout_args, command_line, predict_batched, readout_setup, write_table

OUT = Path(__file__).resolve().parent / "results" / "detect_conditions"
NONLINEAR = ("compressor", "distortion")
MIN_COUNT = 20  # cells with fewer true pedals print as "-": their recall is noise


def knob_bins(param: Param) -> list[tuple[float, float]]:
    """(low, high) edges in real units: thirds of the sampled range, or halves of each side of a dead zone."""
    def edges(lo: float, hi: float, n: int) -> list[float]:
        u = np.linspace(normalise(lo, param), normalise(hi, param), n + 1)
        return [float(denormalise(x, param)) for x in u]

    if param.dead_zone is None:
        e = edges(param.sample_low, param.sample_high, 3)
        return list(zip(e[:-1], e[1:]))
    below, above = edges(param.sample_low, param.dead_zone[0], 2), edges(param.dead_zone[1], param.sample_high, 2)
    return list(zip(below[:-1], below[1:])) + list(zip(above[:-1], above[1:]))


def knob_condition(param: Param, value: float) -> str:
    """``knob gain: 8.5..12 dB`` -- the bin of :func:`knob_bins` that holds ``value`` (the nearest, outside)."""
    bins = knob_bins(param)
    lo, hi = min(bins, key=lambda b: 0.0 if b[0] <= value <= b[1] else min(abs(value - b[0]), abs(value - b[1])))
    unit = f" {param.unit}" if param.unit and param.unit != ":1" else param.unit

    def fmt(v: float) -> str:
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3g}"

    return f"knob {param.label or param.name}: {fmt(lo)}..{fmt(hi)}{unit}"


def pedal_conditions(chain: Chain, i: int) -> list[str]:
    """The conditions the i-th pedal of ``chain`` falls under (row labels of the table)."""
    pedal = chain.pedals[i]
    before = any(p.effect in NONLINEAR for p in chain.pedals[:i])
    after = any(p.effect in NONLINEAR for p in chain.pedals[i + 1:])
    position = ("after a nonlinear pedal" if before else "before a nonlinear pedal only" if after
                else "no other nonlinear pedal")
    others = len(chain) - 1
    rows = [f"position: {position}", f"other pedals: {others if others < 3 else '3-4'}"]
    rows += [knob_condition(param, pedal.params[param.name]) for param in get_effect(pedal.effect).params]
    return rows


def recall_by_condition(truths: Sequence[Chain], found: Sequence[set[str]]) -> dict[str, dict[str, list[int]]]:
    """{condition: {effect: [found, total]}}, plus "all" and "false alarms" ([reported, clips without it])."""
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for truth, pred in zip(truths, found):
        present = set(truth.effects)
        for i, pedal in enumerate(truth.pedals):
            for row in ["all", *pedal_conditions(truth, i)]:
                cell = table[row][pedal.effect]
                cell[0] += pedal.effect in pred
                cell[1] += 1
        for effect in EFFECT_NAMES:
            if effect not in present:
                cell = table["false alarms (clips without it)"][effect]
                cell[0] += effect in pred
                cell[1] += 1
    return {row: dict(cells) for row, cells in table.items()}


def markdown(table: dict[str, dict[str, list[int]]]) -> str:
    def cell(c: list[int] | None) -> str:
        return "" if c is None else "-" if c[1] < MIN_COUNT else f"{c[0] / c[1]:.2f} ({c[1]})"

    lines = ["| condition | " + " | ".join(EFFECT_NAMES) + " |", "|---" * (len(EFFECT_NAMES) + 1) + "|"]
    groups = ("all", "position", "other pedals", "knob", "false alarms")
    for row in sorted(table, key=lambda r: (next(i for i, g in enumerate(groups) if r.startswith(g)), r)):
        lines.append(f"| {row} | " + " | ".join(cell(table[row].get(e)) for e in EFFECT_NAMES) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.detect_conditions", description=__doc__.splitlines()[0])
    add_readout_args(p, OUT)
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model, examples = readout_setup(args)
    found = [set(p.chain.effects) for p in predict_batched(model, examples, args.batch, beam=1, order="beam")]
    table = recall_by_condition([ex.chain for ex in examples], found)
    header = (f"Checkpoint {args.checkpoint or 'shipped'} (effect set: {model.config.effect_set}); {args.n} clips of "
              f"{model.clip_seconds:g} s (synth, chains of 0-{model.config.max_effects}, uniform order), seeds "
              f"{TEST_SEED_BASE + args.seed}+. Cells: recall of the true pedals (how many); '-' = fewer than "
              f"{MIN_COUNT}. Knob rows: thirds of the range the sampler draws from; the eq's gain: halves of "
              f"each side of its -5..+5 dB dead zone.")
    write_table(Path(args.out), "Presence recall by condition", command_line("detect_conditions.py", argv),
                header, markdown(table), {"setup": vars(args), "recall": table})
    return 0


if __name__ == "__main__":
    sys.exit(main())
