"""``python -m ddspfx.app --listening-report DB``: what the listeners heard, per condition.

Post-screening follows ITU-R BS.1534-3 (section 4.1.2): a listener who rates the hidden reference
below 90 for more than 15 % of their trials is excluded, and named in the report. Over the kept
listeners, each condition's mean score gets a 95 % confidence interval from a two-way bootstrap
(:func:`bootstrap_interval`): listeners and items are both drawn again with replacement, so the interval
is as wide as listeners disagree and as items differ (ratings of one listener, or of one item, are not
independent), and its percentile ends lie inside 0-100 by construction. Student's t over all ratings
pooled, which this replaces, put the ends outside the scale on few, extreme ratings (-4.6 .. 154.6 for a
hidden reference rated 100, 100, 100, 0) and counted a listener's ratings as independent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.app.listening import CONDITIONS, read_ratings, write_ratings_csv
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.plots import _matplotlib

REFERENCE_FLOOR = 90
"""BS.1534 post-screening: a hidden-reference score below this counts against the listener..."""

MAX_MISSED_SHARE = 0.15
"""...and a listener who does so in more than this share of their trials is excluded."""

CONFIDENCE = 0.95
"""The intervals' coverage."""

BOOTSTRAP_RESAMPLES = 10_000
"""Resamples per interval: the percentile ends move by well under a point between seeds at this count."""

BOOTSTRAP_SEED = 0
"""Fixed, so the same ratings always give the same report."""


@dataclass
class ConditionStats:
    condition: str
    n: int
    mean: float
    low: float
    high: float


@dataclass
class ListenerScreen:
    listener: str
    trials: int
    reference_below: int

    @property
    def excluded(self) -> bool:
        return self.reference_below > MAX_MISSED_SHARE * self.trials


def _table(stats: Sequence[ConditionStats]) -> list[str]:
    out = ["| condition | ratings | mean | 95 % interval (bootstrap over listeners and items) |", "|---|---|---|---|"]
    for s in stats:
        interval = f"{s.low:.1f} .. {s.high:.1f}" if math.isfinite(s.low) else "n/a (one rating)"
        out.append(f"| {s.condition} | {s.n} | {s.mean:.1f} | {interval} |")
    return out


@dataclass
class ListeningReport:
    stats: list[ConditionStats]
    """Over the listeners kept by post-screening (empty when none is kept)."""
    listeners: list[ListenerScreen]
    unscreened: list[ConditionStats] = field(default_factory=list)
    """Over every listener, for comparison."""
    files: list[Path] = field(default_factory=list)

    def markdown(self) -> str:
        kept = [s for s in self.listeners if not s.excluded]
        out = ["After post-screening:", ""]
        out += _table(self.stats) if self.stats else ["(no listener passed post-screening)"]
        out += ["", "All listeners (before post-screening):", "", *_table(self.unscreened), ""]
        out.append(f"Listeners kept: {len(kept)} of {len(self.listeners)} (BS.1534 post-screening: excluded when "
                   f"the hidden reference is rated below {REFERENCE_FLOOR} in more than "
                   f"{MAX_MISSED_SHARE:.0%} of their trials).")
        for who in self.listeners:
            if who.excluded:
                out.append(f"- excluded: {who.listener} (hidden reference below {REFERENCE_FLOOR} in "
                           f"{who.reference_below} of {who.trials} trials)")
        return "\n".join(out) + "\n"


def screen(rows: Sequence[dict[str, Any]]) -> list[ListenerScreen]:
    """Per listener: trials rated and how many of them gave the hidden reference < ``REFERENCE_FLOOR``."""
    trials: dict[str, set[str]] = defaultdict(set)
    below: dict[str, int] = defaultdict(int)
    for r in rows:
        trials[r["listener"]].add(r["trial"])
        if r["condition"] == "reference" and r["score"] < REFERENCE_FLOOR:
            below[r["listener"]] += 1
    return [ListenerScreen(name, len(ts), below[name]) for name, ts in sorted(trials.items())]


def bootstrap_interval(scores: np.ndarray, rated: np.ndarray, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of the mean score when listeners and items are drawn again with replacement.

    ``scores`` and ``rated`` are ``(listeners, items)``; a cell not ``rated`` (a listener who stopped early) counts
    in no resample. Each resample weights listener ``l`` and item ``i`` by how often they were drawn, and its mean
    is ``sum w_l w_i s_li / sum w_l w_i`` over rated cells. The ends are means of scores, so inside their range.
    """
    n_listeners, n_items = scores.shape
    rng = np.random.default_rng(seed)
    w_listeners = rng.multinomial(n_listeners, np.full(n_listeners, 1.0 / n_listeners), size=resamples)  # (B, L)
    w_items = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=resamples).astype(np.float64)  # (B, I)
    mask = rated.astype(np.float64)
    num = ((w_listeners @ (np.where(rated, scores, 0.0))) * w_items).sum(axis=1)  # (B,)
    den = ((w_listeners @ mask) * w_items).sum(axis=1)
    means = num[den > 0] / den[den > 0]
    tail = 50.0 * (1.0 - confidence)
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return float(low), float(high)


def condition_stats(rows: Sequence[dict[str, Any]], conditions: Sequence[str] = CONDITIONS) -> list[ConditionStats]:
    """Mean and 95 % interval (:func:`bootstrap_interval`) of each condition's scores (conditions with no ratings
    left out; one rating has no interval)."""
    out = []
    for condition in conditions:
        cells = {(r["listener"], r["trial"]): float(r["score"]) for r in rows if r["condition"] == condition}
        n = len(cells)
        if n == 0:
            continue
        listeners = sorted({who for who, _ in cells})
        items = sorted({item for _, item in cells})
        scores = np.zeros((len(listeners), len(items)))
        rated = np.zeros_like(scores, dtype=bool)
        for (who, item), score in cells.items():
            scores[listeners.index(who), items.index(item)] = score
            rated[listeners.index(who), items.index(item)] = True
        mean = float(scores[rated].mean())
        low, high = bootstrap_interval(scores, rated) if n > 1 else (math.nan, math.nan)
        out.append(ConditionStats(condition, n, mean, low, high))
    return out


def analyse_ratings(rows: Sequence[dict[str, Any]]) -> ListeningReport:
    listeners = screen(rows)
    excluded = {s.listener for s in listeners if s.excluded}
    return ListeningReport(condition_stats([r for r in rows if r["listener"] not in excluded]), listeners,
                           unscreened=condition_stats(rows))


def plot_report(path: Path, report: ListeningReport) -> None:
    plt = _matplotlib()
    kept = sum(not s.excluded for s in report.listeners)
    stats = report.stats or report.unscreened
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    xs = range(len(stats))
    means = [s.mean for s in stats]
    errs = [[s.mean - s.low if math.isfinite(s.low) else 0.0 for s in stats],
            [s.high - s.mean if math.isfinite(s.high) else 0.0 for s in stats]]
    ax.errorbar(xs, means, yerr=errs, fmt="o", capsize=6, color="black")
    ax.set_xticks(list(xs), [f"{s.condition}\n(n={s.n})" for s in stats])
    ax.set_xlim(-0.5, len(stats) - 0.5)
    ax.set_ylim(0, 100)
    for y, label in zip((10, 30, 50, 70, 90), ("bad", "poor", "fair", "good", "excellent")):
        ax.text(-0.45, y, label, ha="left", va="center", fontsize=8, color="grey")
    ax.set_ylabel("MUSHRA score (mean, 95 % bootstrap CI)")
    ax.set_title(f"ddspfx listening test: {kept} of {len(report.listeners)} listener(s) kept by post-screening"
                 + ("" if report.stats else "\n(none kept: all listeners shown)"), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(db: str | Path, out: str | Path) -> ListeningReport:
    """``out/report.md`` (table + screening), ``out/report.png`` (means with intervals), ``out/ratings.csv``."""
    rows = read_ratings(db)
    if not rows:
        raise DdspfxError(f"{db} holds no ratings yet; run the listening test first")
    report = analyse_ratings(rows)
    out = Path(out)
    excluded = {s.listener for s in report.listeners if s.excluded}
    md = out / "report.md"
    atomic_write_text(md, f"# Listening test report ({Path(db).name})\n\n![means](report.png)\n\n" + report.markdown())
    png = out / "report.png"
    plot_report(png, report)
    csv_path = write_ratings_csv([{**r, "excluded": r["listener"] in excluded} for r in rows], out / "ratings.csv",
                                 extra=("excluded",))
    report.files = [md, png, csv_path]
    return report
