"""How the development figures grow with training: one table and one plot, and a log-linear extrapolation.

Each point is a trained model and the ``results.json`` that ``python -m ddspfx.evaluate`` wrote for it
(same held-out clips for every point: pass evaluations of one ``--seed`` and ``--n``). The x axis is the
number of training clips the model has seen (steps x batch, summed over its stages), which compares CPU
and GPU stages; CPU-minutes are given beside it. For each metric a line ``a + b log2(clips)`` is fitted by
least squares to the points from ``--fit-from`` clips on, and the table says how many clips that line
needs to reach the issue's target. That is the recent rate carried on, not a prediction: curves like these
usually bend down, so the figure is a lower bound on what the same model and recipe would need.

    python -m experiments.scaling_curve --point "28-min default" 102528 28 runs/dev_default/results.json \\
        --point ... --out experiments/results/scaling
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddspfx.fileio import atomic_write_text

METRICS: tuple[tuple[str, str, float, bool], ...] = (
    # (results.json key, label, issue-4 target, higher is better)
    ("micro_f1", "presence µF1", 0.97, True),
    ("equivalent_chain_acc", "equiv. chain (τ)", 0.80, True),
    ("pairwise_order_acc_nonlinear", "pair order (nonlin)", 0.95, True),
    ("param_error", "param err", 0.06, False),
)


@dataclass(frozen=True)
class Point:
    label: str
    clips: float
    minutes: float
    values: dict[str, float]
    setup: dict


def read_point(label: str, clips: str, minutes: str, path: str) -> Point:
    data = json.loads(Path(path).read_text())
    r = data["results"]["ddspfx"]
    return Point(label, float(clips), float(minutes), {k: float(r[k]) for k, *_ in METRICS}, data.get("setup", {}))


def fit_log2(clips: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(a, b) of values ~ a + b log2(clips), least squares."""
    b, a = np.polyfit(np.log2(np.asarray(clips, dtype=float)), np.asarray(values, dtype=float), 1)
    return float(a), float(b)


def clips_to_target(a: float, b: float, target: float, higher: bool) -> float:
    """Clips at which the fitted line reaches the target; inf where it moves the wrong way or not at all."""
    if abs(b) < 1e-9 or (b > 0) != higher:
        return math.inf
    exponent = (target - a) / b
    return math.inf if exponent > 1000 else float(2.0 ** exponent)


def table(points: Sequence[Point], fit_from: float) -> str:
    head = "| model | clips seen | CPU-min (equiv.) | " + " | ".join(m[1] for m in METRICS) + " |"
    lines = [head, "|" + "---|" * (3 + len(METRICS))]
    for p in points:
        lines.append(f"| {p.label} | {p.clips / 1e6:.2f} M | {p.minutes:.0f} | "
                     + " | ".join(f"{p.values[k]:.3f}" for k, *_ in METRICS) + " |")
    fit = [p for p in points if p.clips >= fit_from]
    lines += ["", f"Log-linear fit on the {len(fit)} points from {fit_from / 1e6:g} M clips on: change per doubling of "
              "the clips seen, and the clips that rate needs to reach the issue's target.", "",
              "| metric | per doubling | target | clips needed at that rate | x the last point |", "|---|---|---|---|---|"]
    for key, label, target, higher in METRICS:
        if len(fit) < 2:
            break
        a, b = fit_log2([p.clips for p in fit], [p.values[key] for p in fit])
        need = clips_to_target(a, b, target, higher)
        ratio = need / fit[-1].clips
        lines.append(f"| {label} | {b:+.4f} | {target:g} | "
                     + ("never (no progress)" if math.isinf(need) else f"{need / 1e6:,.0f} M") + " | "
                     + ("—" if math.isinf(need) else f"{ratio:,.0f}") + " |")
    return "\n".join(lines)


def plot(points: Sequence[Point], out: Path) -> None:
    from ddspfx.fileio import atomic_path
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    xs = [p.clips for p in points]
    for i, (ax, (key, label, target, _)) in enumerate(zip(axes.flat, METRICS)):
        ax.plot(xs, [p.values[key] for p in points], "o-")
        for j, p in enumerate(points):  # numbers on the points, names in the legend text of the first panel
            ax.annotate(str(j + 1), (p.clips, p.values[key]), fontsize=7, xytext=(2, 4), textcoords="offset points")
        if i == 0:
            ax.text(0.02, 0.98, "\n".join(f"{j + 1}: {p.label}" for j, p in enumerate(points)), transform=ax.transAxes,
                    va="top", fontsize=7)
        ax.axhline(target, ls="--", c="grey", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training clips seen")
        ax.set_title(f"{label} (target {target:g}, dashed)", fontsize=9)
    fig.tight_layout()
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point", nargs=4, action="append", required=True, metavar=("LABEL", "CLIPS", "MINUTES", "RESULTS"),
                    help="a model: label, training clips seen, CPU-minutes (or equivalent), evaluate's results.json")
    ap.add_argument("--fit-from", type=float, default=7e5, help="fit the line to points with at least this many clips")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        points = sorted((read_point(*p) for p in args.point), key=lambda p: p.clips)
    except (OSError, KeyError, ValueError) as e:
        ap.error(f"cannot read a point: {e}")
    setups = {(p.setup.get("n"), p.setup.get("seed"), p.setup.get("source")) for p in points}
    if len(setups) > 1:
        ap.error(f"the points were evaluated on different clips (n, seed, source): {sorted(map(str, setups))}")
    args.out.mkdir(parents=True, exist_ok=True)
    n, seed, source = setups.pop()
    text = (f"# Development figures vs training\n\nCommand: `python -m experiments.scaling_curve` (see README here).  \n"
            f"Evaluation: {n} clips, source {source}, seeds {seed}+ (development seeds).\n\n" + table(points, args.fit_from))
    atomic_write_text(args.out / "table.md", text + "\n\n![scaling.png](scaling.png)\n")
    plot(points, args.out / "scaling.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
