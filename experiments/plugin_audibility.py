"""Audible fraction of each plugin implementation's drawn settings (issue 17), beside pedalboard's.

For every table entry in ``ddspfx.plugins.table`` (installed here), draw ``--n`` control settings with
``ddspfx.plugins.render.sample_controls``, render each alone on one of ``--clips`` synthetic guitar clips
(``ddspfx.sources.make_source('synth')``, 2 s) and score it with ``ddspfx.audibility.change_score``
against the effect's threshold (``THRESHOLDS_DB``). The pedalboard rows draw the catalog's audible
sub-range (``ddspfx.sampler.sample_params``) on the same clips.

    python -m experiments.plugin_audibility [--n 40] [--clips 4] [--seed 0] [--effects ...] [--implementations ...]
"""

from __future__ import annotations

import argparse

import numpy as np

from ddspfx.audibility import THRESHOLDS_DB, change_score, effect_score, synth_dry
from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.plugins.render import PluginPedal, installed_implementations, run_plugin, sample_controls
from ddspfx.plugins.table import implementations_for
from ddspfx.sampler import sample_params


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
    args = parser.parse_args()
    chosen = tuple(args.implementations)

    rng = np.random.default_rng(args.seed)
    clips = [synth_dry(rng, 2.0, SAMPLE_RATE) for _ in range(args.clips)]
    head = f"{'effect':<11} {'implementation':<20} {'thr dB':>6} {'p5':>6} {'median':>7} {'audible':>8}"
    print(head)
    print("-" * len(head))
    for effect in args.effects:
        thr = THRESHOLDS_DB[effect]
        rows: list[tuple[str, np.ndarray]] = []
        rows.append(("pedalboard", pedalboard_scores(effect, clips, args.n, rng)))
        for impl in installed_implementations(effect):
            if chosen and not impl.name.startswith(chosen):
                continue
            scores = []
            for i in range(args.n):
                dry = clips[i % len(clips)]
                pedal = PluginPedal(effect, impl.name, sample_controls(rng, impl))
                scores.append(change_score(dry, run_plugin(dry, pedal, SAMPLE_RATE), SAMPLE_RATE))
            rows.append((impl.name, np.array(scores)))
        for name, s in rows:
            print(f"{effect:<11} {name:<20} {thr:>6.2f} {np.percentile(s, 5):>6.2f} {np.median(s):>7.2f} {np.mean(s >= thr):>8.1%}")
        missing = [i.name for i in implementations_for(effect)
                   if i not in installed_implementations(effect) and (not chosen or i.name.startswith(chosen))]
        if missing:
            print(f"{effect:<11} not installed: {', '.join(missing)}")


if __name__ == "__main__":
    main()
