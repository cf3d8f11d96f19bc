"""Audible fraction of each plugin implementation's drawn settings (issue 17), beside pedalboard's.

For every table entry in ``ddspfx.plugins.table`` (installed here), draw ``--n`` control settings with
``ddspfx.plugins.render.sample_controls``, render each alone on one of ``--clips`` synthetic guitar clips
(``ddspfx.sources.make_source('synth')``, 2 s) and score it with ``ddspfx.audibility.change_score``
against the effect's threshold (``THRESHOLDS_DB``). The pedalboard rows draw the catalog's audible
sub-range (``ddspfx.sampler.sample_params``) on the same clips.

    python -m experiments.plugin_audibility [--n 40] [--clips 4] [--seed 0] [--effects ...] [--implementations ...]
        [--out experiments/results/plugin_audibility/<name>.txt]

A row also counts the draws whose render blew up (not finite, or peaking above ``BLOW_UP_PEAK``; they count as
inaudible): a plugin that does so at some setting needs its range narrowed, whatever its other scores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ddspfx.audibility import THRESHOLDS_DB, change_score, effect_score, synth_dry
from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.plugins.render import PluginPedal, installed_implementations, run_plugin, sample_controls
from ddspfx.plugins.table import implementations_for
from ddspfx.sampler import sample_params

BLOW_UP_PEAK = 100.0
"""A render peaking above this (the synthetic clips peak below 1) is a plugin fault, e.g. LSP's gate near zone 1."""


def pedalboard_scores(effect: str, clips: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Audibility scores (dB) of ``n`` pedalboard settings of ``effect`` drawn from the catalog's audible
    sub-range, on ``clips`` cycled: the reference row every plugin implementation is read beside."""
    return np.array([effect_score(effect, sample_params(rng, effect), clips[i % len(clips)], SAMPLE_RATE)
                     for i in range(n)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="draws per implementation (default 40)")
    parser.add_argument("--clips", type=int, default=4, help="synthetic guitar clips, reused (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--effects", nargs="*", default=list(EFFECT_NAMES))
    parser.add_argument("--implementations", nargs="*", default=[],
                        help="only table entries whose name starts with one of these, e.g. zyn invada/phaser (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this text file")
    args = parser.parse_args()
    chosen = tuple(args.implementations)

    rng = np.random.default_rng(args.seed)
    clips = [synth_dry(rng, 2.0, SAMPLE_RATE) for _ in range(args.clips)]
    lines: list[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    head = (f"{'effect':<11} {'implementation':<24} {'thr dB':>6} {'p5':>6} {'median':>7} {'audible':>8}"
            f" {'blow-ups':>8}")
    emit(head)
    emit("-" * len(head))
    for effect in args.effects:
        thr = THRESHOLDS_DB[effect]
        rows: list[tuple[str, np.ndarray, int]] = []
        rows.append(("pedalboard", pedalboard_scores(effect, clips, args.n, rng), 0))
        for impl in installed_implementations(effect):
            if chosen and not impl.name.startswith(chosen):
                continue
            scores, broken = [], 0
            for i in range(args.n):
                dry = clips[i % len(clips)]
                pedal = PluginPedal(effect, impl.name, sample_controls(rng, impl))
                wet = run_plugin(dry, pedal, SAMPLE_RATE)
                if not np.all(np.isfinite(wet)) or float(np.max(np.abs(wet))) > BLOW_UP_PEAK:
                    broken += 1
                    continue
                scores.append(change_score(dry, wet, SAMPLE_RATE))
            rows.append((impl.name, np.array(scores), broken))
        for name, s, broken in rows:
            p5, median = (np.percentile(s, 5), np.median(s)) if s.size else (np.nan, np.nan)
            emit(f"{effect:<11} {name:<24} {thr:>6.2f} {p5:>6.2f} {median:>7.2f}"
                 f" {np.sum(s >= thr) / (s.size + broken):>8.1%} {broken:>8d}")
        missing = [i.name for i in implementations_for(effect)
                   if i not in installed_implementations(effect) and (not chosen or i.name.startswith(chosen))]
        if missing:
            emit(f"{effect:<11} not installed: {', '.join(missing)}")
    if args.out is not None:
        from ddspfx.fileio import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
