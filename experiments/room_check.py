"""A little room on clean guitar: is it a reverb pedal to the models, and is it quieter than the catalog's quietest?

``python -m experiments.room_check [--n 60] [--sources sf2:gmbank,tonejs:acoustic] [--model NAME=CKPT ...]``

Two measurements, no training:

1. **Direct-to-reverberant ratio** (DRR, dB) of the catalog's reverb at its quietest labelled settings (room
   size at its audible floor, wet level at the quiet third, every damping and dry level) from pedalboard's impulse
   response, beside the rooms ``ddspfx.sources.tone.random_room`` draws. If the rooms' DRR lies above the
   quietest reverb's, a model can learn "room = no pedal" without losing the quiet reverbs the labels name.
2. **Sensitivity**: each model's false alarms on clean clips of held-out guitars (development seeds), as they
   come and with a little room added (same clips, seeded rooms). A rise in the reverb column says the models call
   a recording's room a reverb pedal, the explanation offered for the recorded electric notes' clean-clip alarms.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.config import TEST_SEED_BASE
from ddspfx.errors import CliParser, cli_entry
from ddspfx.render import run_reference
from ddspfx.sources.tone import apply_room, diffuse_room_ir, random_room
from experiments.evaluation.models import model_paths


def drr_db(ir: np.ndarray, direct: float) -> float:
    """Direct-to-reverberant ratio of an impulse response whose direct part is ``direct`` at t=0 (energy ratio)."""
    reverberant = float(np.sum(np.asarray(ir, np.float64) ** 2)) - direct ** 2
    return float(10.0 * np.log10(direct ** 2 / max(reverberant, 1e-30)))


def rt60_s(ir: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Reverberation time of the reverberant part (``ir[1:]``): Schroeder's backward-integrated energy decay,
    the -5..-25 dB span (T20) extrapolated to 60 dB."""
    tail = np.asarray(ir[1:], np.float64) ** 2
    edc = 10.0 * np.log10(np.maximum(np.cumsum(tail[::-1])[::-1] / max(tail.sum(), 1e-30), 1e-30))
    t5, t25 = int(np.argmax(edc <= -5.0)), int(np.argmax(edc <= -25.0))
    return float(3.0 * (t25 - t5) / sample_rate)


def reverb_ir(room_size: float, damping: float, wet: float, dry: float) -> np.ndarray:
    x = np.zeros(3 * SAMPLE_RATE, np.float32)
    x[0] = 1.0
    ir = run_reference(x, Chain([Pedal("reverb", {"room_size": room_size, "damping": damping, "wet_level": wet,
                                                   "dry_level": dry})]), SAMPLE_RATE).reshape(-1)
    return np.asarray(ir, np.float64)


def reverb_drr(ir: np.ndarray) -> float:
    """JUCE's reverb scales the dry path (x2 in pedalboard 0.9) and its combs add nothing at t=0: ir[0] is direct."""
    return drr_db(ir, float(ir[0]))


def drr_table(n_rooms: int = 200) -> str:
    rows = ["| what | DRR dB: min / median / max | RT60 s: min / median / max |", "|---|---|---|"]

    def row(what: str, irs: list[np.ndarray]) -> str:
        d, t = [reverb_drr(ir) for ir in irs], [rt60_s(ir) for ir in irs]
        return (f"| {what} | {min(d):.1f} / {np.median(d):.1f} / {max(d):.1f} | "
                f"{min(t):.2f} / {np.median(t):.2f} / {max(t):.2f} |")

    rows.append(row("catalog reverb, quiet third (room 0.25, wet 0.2-0.333, any damping, dry 0.4-1)",
                    [reverb_ir(0.25, d, w, dr) for d in (0.0, 0.5, 1.0) for w in (0.2, 0.27, 0.333) for dr in (0.4, 0.7, 1.0)]))
    rows.append(row("catalog reverb, smallest room (0.1), wet 0.2-0.6",
                    [reverb_ir(0.1, d, w, 1.0) for d in (0.0, 0.5, 1.0) for w in (0.2, 0.4, 0.6)]))
    rng = np.random.default_rng(0)
    rows.append(row(f"random_room ({n_rooms} draws)", [diffuse_room_ir(random_room(rng), SAMPLE_RATE, rng) for _ in range(n_rooms)]))
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.room_check", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60, help="clean clips per source")
    p.add_argument("--seed", type=int, default=700000, help="test-seed offset (default: development)")
    p.add_argument("--sources", default="sf2:gmbank,tonejs:acoustic")
    p.add_argument("--model", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="a model to check (repeatable; CHECKPOINT empty: the shipped one); default: shipped=the shipped model")
    p.add_argument("--out", default="experiments/results/room_check", help="folder for report.md")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    models = model_paths(args.model, {"shipped": ""})
    import torch

    from ddspfx.data.dataset import example_seed
    from ddspfx.estimator import Estimator
    from experiments.evaluation.sets import make_dry_source
    from experiments.ood_check import dry_false_alarms

    torch.set_num_threads(1)
    estimators = {name: Estimator(path or None) for name, path in models.items()}
    lines = ["| source | model | clips | any pedal | reverb | eq | compressor |", "|---|---|---|---|---|---|---|"]
    for spec in filter(None, (s.strip() for s in args.sources.split(","))):
        source = make_dry_source(spec)
        clips = [np.asarray(source.sample(np.random.default_rng(example_seed(TEST_SEED_BASE + args.seed, i)), 2.0),
                 np.float32) for i in range(args.n)]
        roomed = []
        for i, x in enumerate(clips):
            rng = np.random.default_rng([example_seed(TEST_SEED_BASE + args.seed, i), 6])
            roomed.append(apply_room(x, random_room(rng), SAMPLE_RATE, rng))
        for name, est in estimators.items():
            for label, xs in (("as they come", clips), ("+ a little room", roomed)):
                fa = dry_false_alarms([a.chain for a in est.analyse_many(xs)])
                lines.append(f"| {spec} | {name} | {label} | {fa['any']:.2f} | {fa['reverb']:.2f} | {fa['eq']:.2f} | "
                             f"{fa['compressor']:.2f} |")
                print(lines[-1], flush=True)
    from pathlib import Path

    from ddspfx.checkpoint import provenance
    from ddspfx.fileio import atomic_write_text

    prov = "\n".join(f"- {name}: `{p['checkpoint']}`, SHA-256 `{p['sha256']}`, git commit `{p['git_commit']}`"
                     for name, p in ((n, provenance(e.model)) for n, e in estimators.items()))
    report = (f"# A little room on clean guitar\n\n`python -m experiments.room_check {' '.join(argv or sys.argv[1:])}`"
              f"\n\nModels:\n{prov}\n\n## Direct-to-reverberant ratio and decay time\n\n{drr_table()}\n\n"
              f"## Clean-clip false alarms ({args.n} clips of 2 s per source, seeds {TEST_SEED_BASE + args.seed}+; "
              f"rooms seeded per clip)\n\n" + "\n".join(lines) + "\n")
    atomic_write_text(Path(args.out) / "report.md", report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
