"""Which distance should choose the pedal set when refining with the dry? MR-STFT against a long-term spectrum.

``python -m experiments.set_distance [--n 10] [--seed 700000] [--sources tonejs:electric,sf2:gmbank,synth]
[--steps 60] [--out DIR]``

Why: refinement keeps a changed pedal set only when it comes ``SET_MARGIN`` closer to the clip by the MR-STFT distance,
and on development clips trying every missing pedal changed no answer (``experiments/results/refine_insert/``): a
chorus whose LFO is slightly off in rate or phase keeps the frame-by-frame distance high whatever the other pedals
do, so a missing distortion brings the render only ~1 % closer. A long-term average spectrum (:func:`ltas_db`: the
power spectrum averaged over the whole clip, in log bands, level-free) does not see an LFO's phase, and does see the
harmonics a distortion adds. Its bands are ``ddspfx.audibility``'s (48 log bands, 60 Hz-16 kHz).

Each development clip (as ``experiments.refine_speed`` hands them: the dry at another level and start, lined up) gets
the shipped dry-aware estimate; its candidates are the estimate's chain, the chain with each missing pedal inserted
where a typical pedalboard puts it (``ddspfx.refine.inserted``) and without each of its pedals. Each is fitted by
``ddspfx.refine.fit_params`` on the whole clip (``--steps``, the refinement's prior) and rendered by pedalboard; both
distances are measured on every render. A set is chosen per distance the way ``refine.choose`` does (another set must
be ``margin`` closer than the estimate's), at several margins, and scored by presence µF1 against the truth; beside:
the estimate, and the best set among the candidates (what a perfect distance could reach here).

Writes ``report.md`` and ``results.json`` (every candidate's distances) to ``--out``. Development seeds only: this
study chooses nothing that ships.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.metrics import PresenceCounts

MARGINS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
LTAS_WINDOW = 4096
"""Frame length of :func:`ltas_db` (93 ms at 44.1 kHz): long frames, since only the average over the clip counts."""


def ltas_db(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip's long-term average power spectrum in dB per band, at unit RMS (the level is not a pedal): the
    per-frame band energies of ``ddspfx.audibility`` (its log bands), averaged in power over the whole clip."""
    from ddspfx.audibility import _rms_match, band_energies_db

    frames = band_energies_db(_rms_match(np.asarray(x, np.float32)), sample_rate, LTAS_WINDOW)
    return 10.0 * np.log10(np.mean(10.0 ** (frames / 10.0), axis=0))


def ltas_distance(a: np.ndarray, b: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Mean absolute difference of two clips' :func:`ltas_db`, in dB."""
    return float(np.mean(np.abs(ltas_db(a, sample_rate) - ltas_db(b, sample_rate))))


def candidates(chain: Chain) -> list[Chain]:
    """The estimate's chain, then each missing pedal inserted, then each pedal left out."""
    from ddspfx.refine import inserted

    out = [chain] + [inserted(chain, e) for e in EFFECT_NAMES if e not in chain.effects]
    return out + [Chain([p for p in chain if p is not drop]) for drop in chain.pedals]


def choose_set(sets: Sequence[Sequence[str]], dists: Sequence[float], margin: float) -> int:
    """``refine.choose`` with candidate 0 the estimate's set (the only candidate with it)."""
    from ddspfx.refine import choose

    return choose(list(zip(sets, dists)), sets[0], margin)


def measure_clip(clip: Any, model: Any, steps: int) -> dict[str, Any]:
    """Every candidate of one clip, fitted and rendered, with both distances."""
    from ddspfx.estimator import line_up_dry
    from ddspfx.refine import PRIOR, ClipDistance, fit_params
    from ddspfx.render import render_chain

    wet = clip.example.wet
    dry, _ = line_up_dry(clip.dry, wet, SAMPLE_RATE)
    estimate = model.analyse_many([wet], [dry] if model.hears_dry else None)[0].chain
    mrstft = ClipDistance(wet)
    rows = []
    for cand in candidates(estimate):
        fitted = fit_params(cand, dry, wet, SAMPLE_RATE, steps=steps, prior=PRIOR,
                            anchored=[p.effect in estimate.effects for p in cand]) if cand.pedals else cand
        render = render_chain(dry, fitted, SAMPLE_RATE)[0] if fitted.pedals else dry
        rows.append({"effects": fitted.effects, "mrstft": mrstft(render), "ltas_db": ltas_distance(render, wet)})
    return {"truth": clip.example.chain.effects, "estimate": estimate.effects, "candidates": rows}


def summarise(records: Sequence[dict[str, Any]]) -> list[tuple[str, float, float, float]]:
    """(system, precision, recall, µF1) rows: the estimate, each distance at each margin, the best candidate."""
    def score(pick: Any) -> tuple[float, float, float]:
        counts = PresenceCounts.empty()
        for r in records:
            counts.add(r["truth"], pick(r))
        s = counts.scores()
        return s["micro_precision"], s["micro_recall"], s["micro_f1"]

    def best_possible(r: dict[str, Any]) -> list[str]:
        def f1(effects: Sequence[str]) -> float:
            c = PresenceCounts.empty()
            c.add(r["truth"], effects)
            return c.scores()["micro_f1"] if r["truth"] or effects else 1.0
        sets: list[list[str]] = [c["effects"] for c in r["candidates"]]
        return max(sets, key=f1)

    rows = [("the dry-aware estimate", *score(lambda r: r["estimate"]))]
    for key, label in (("mrstft", "MR-STFT"), ("ltas_db", "long-term spectrum")):
        for m in MARGINS:
            def pick(r: dict[str, Any], key: str = key, m: float = m) -> list[str]:
                sets = [c["effects"] for c in r["candidates"]]
                return list(sets[choose_set(sets, [c[key] for c in r["candidates"]], m)])
            rows.append((f"{label}, margin {m:g}", *score(pick)))
    rows.append(("the best candidate (oracle)", *score(best_possible)))
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.set_distance", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=10, help="clips per source (default 10)")
    p.add_argument("--seed", type=int, default=700000, help="seed offset (default 700000: development)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3)")
    p.add_argument("--sources", default="tonejs:electric,sf2:gmbank,synth", help="comma-separated dry sources")
    p.add_argument("--steps", type=int, default=60, help="descent steps per candidate (default 60)")
    p.add_argument("--out", default="experiments/results/set_distance", help="output folder")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1 or args.steps < 1 or not args.seconds > 0:
        raise DdspfxError("--n and --steps must be >= 1 and --seconds > 0")
    import torch

    from ddspfx.checkpoint import provenance
    from ddspfx.estimator import Estimator, dry_estimator
    from experiments.refine_speed import development_set

    torch.set_num_threads(1)
    model = dry_estimator() or Estimator(None)
    prov = provenance(model.model)
    clips = [c for spec in filter(None, (s.strip() for s in args.sources.split(",")))
             for c in development_set(spec, args.n, args.seed, args.seconds)]
    records = []
    for i, clip in enumerate(clips):
        records.append(measure_clip(clip, model, args.steps))
        print(f"clip {i + 1}/{len(clips)} {records[-1]['truth']} <- {records[-1]['estimate']}", flush=True)
    rows = summarise(records)
    table = "\n".join(["| set chosen by | precision | recall | µF1 |", "|---|---|---|---|"]
                      + [f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} |" for name, p, r, f in rows])
    out = Path(args.out)
    report = (f"# Which distance should choose the pedal set?\n\n{len(clips)} development clips ({args.n} per source: "
              f"{args.sources}; seeds offset {args.seed}; {args.seconds:g} s; chains of 1-5 pedals), the dry handed "
              f"over and lined up; candidates: the estimate's chain, each missing pedal inserted, each pedal left out; "
              f"each fitted {args.steps} steps on the whole clip and rendered by pedalboard.\n\nModel `{prov['checkpoint']}`, "
              f"SHA-256 `{prov['sha256']}`; git commit `{prov['git_commit']}`.\n\n{table}\n\n"
              f"Command: `python -m experiments.set_distance {' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    atomic_write_text(out / "report.md", report)
    atomic_write_text(out / "results.json", json.dumps({"setup": vars(args), "provenance": prov, "clips": records,
                                                        "rows": [dict(zip(("system", "precision", "recall", "micro_f1"), r))
                                                                 for r in rows]}, indent=2))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
