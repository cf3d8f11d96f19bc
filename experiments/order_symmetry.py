"""The order-symmetry study: which pedal orders sound the same?

For every pair of catalog effects (A, B), over ``--n`` draws of parameters (the sampler's audible
sub-ranges, ``ddspfx.sampler.sample_params``) and dry synth clips, pedalboard renders A->B and B->A
and we measure how far apart they sound with the evaluator's distance (``MRSTFTDistance``:
multi-resolution STFT on peak-normalised clips), normalised by how far the wet is from the dry.

Normalised distance of one draw (why this one): the evaluator (``ddspfx.evaluate.Scorer``) calls a
predicted order right when ``d(alt, wet) / d(dry, wet) <= tau``, with ``wet`` the true order. The
distance is not symmetric (auraloss' spectral convergence divides by the second clip), so the
directional ratio with A->B as the truth is ``r(A,B) = d(BA, AB) / d(dry, AB)``; the heatmap shows
its median per ordered pair. A pair *commutes* on a draw when the evaluator would accept the swap
whichever order was true: ``max(r(A,B), r(B,A)) <= tau``. That max is, up to the asymmetry of d, the
``d(AB, BA) / min(d(AB, dry), d(BA, dry))`` of the issue: dividing by the *smaller* distance from
the dry keeps a pedal that barely changes the sound from making every swap look inaudible.
A pair is declared commuting when at least ``--min-fraction`` (0.9) of its draws commute.

Longer chains: random chains of 3..5 effects (uniform order), one random adjacent swap each; the
swap is audibly equivalent when the same max-ratio test passes for the whole chain. The pairwise
rule ("the swap is inaudible iff the swapped pair commutes") is scored by precision and recall,
next to the linear time-invariant rule.

Writes ``<out>/heatmap.png``, ``<out>/table.md``, ``<out>/results.json`` and the package table
``ddspfx/commuting.json`` (``--package-json``; read by ``ddspfx.commuting``). Seeded; one thread.

    python -m experiments.order_symmetry [--n 20] [--chains 200] [--scale 1] [--tau 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.commuting import COMMUTING_JSON, lti_pairs
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.metrics import MRSTFTDistance, precision_recall_f1
from ddspfx.render import run_reference
from ddspfx.sampler import ChainSampler, SamplerConfig, sample_params
from ddspfx.sources import make_source

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "experiments" / "results" / "order_symmetry"


@dataclass
class SwapRatios:
    """Directional evaluator ratios of one swap: truth = first order (fwd) or second order (bwd)."""

    fwd: float
    bwd: float

    @property
    def sym(self) -> float:
        return max(self.fwd, self.bwd)


def swap_ratios(dist: MRSTFTDistance, dry: np.ndarray, first: Chain, second: Chain) -> SwapRatios:
    """Render both orders with pedalboard (no output gain: the distance peak-normalises) and compare."""
    y1 = run_reference(dry, first, SAMPLE_RATE)[0]  # (T,)
    y2 = run_reference(dry, second, SAMPLE_RATE)[0]
    fwd = dist(y2, y1) / max(dist(dry, y1), 1e-8)
    bwd = dist(y1, y2) / max(dist(dry, y2), 1e-8)
    return SwapRatios(float(fwd), float(bwd))


def pair_seed(seed: int, i: int, j: int, draw: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, 1, i, j, draw])


def study_pairs(dry_clips: Sequence[np.ndarray], n: int, seed: int, dist: MRSTFTDistance) -> dict[tuple[str, str], list[SwapRatios]]:
    """Ratios per unordered pair (catalog order a < b), ``n`` draws each; draw k uses dry clip k."""
    out: dict[tuple[str, str], list[SwapRatios]] = {}
    for (i, a), (j, b) in combinations(enumerate(EFFECT_NAMES), 2):
        rows = []
        for k in range(n):
            rng = np.random.default_rng(pair_seed(seed, i, j, k))
            pa, pb = Pedal(a, sample_params(rng, a)), Pedal(b, sample_params(rng, b))
            rows.append(swap_ratios(dist, dry_clips[k % len(dry_clips)], Chain([pa, pb]), Chain([pb, pa])))
        out[(a, b)] = rows
        print(f"  {a:>10} <-> {b:<10} median {np.median([r.sym for r in rows]):.3f}", file=sys.stderr, flush=True)
    return out


def pair_stats(rows: Sequence[SwapRatios], tau: float) -> dict[str, float]:
    sym = np.array([r.sym for r in rows])
    return {
        "median": float(np.median(sym)),
        "p90": float(np.percentile(sym, 90)),
        "frac_under_tau": float(np.mean(sym <= tau)),
        "median_a_first": float(np.median([r.fwd for r in rows])),  # truth a->b
        "median_b_first": float(np.median([r.bwd for r in rows])),  # truth b->a
        "n": len(rows),
    }


def study_chains(dry_source: Any, n_chains: int, seed: int, tau: float, commuting: frozenset[frozenset[str]],
                 dist: MRSTFTDistance) -> dict[str, Any]:
    """Random 3..5-effect chains, one random adjacent swap each: audible equivalence vs the pairwise rules."""
    sampler = ChainSampler(SamplerConfig(min_effects=3, max_effects=5))
    lti = lti_pairs()
    records: list[dict[str, Any]] = []
    for k in range(n_chains):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 2, k]))
        dry = dry_source.sample(rng, 2.0)
        chain = sampler.sample(rng)
        pos = int(rng.integers(len(chain) - 1))
        pedals = list(chain.pedals)
        pedals[pos], pedals[pos + 1] = pedals[pos + 1], pedals[pos]
        r = swap_ratios(dist, dry, chain, Chain(pedals))
        pair = frozenset((pedals[pos].effect, pedals[pos + 1].effect))
        records.append({"effects": chain.effects, "swap": pos, "ratio": r.sym, "equivalent": r.sym <= tau,
                        "rule": pair in commuting, "lti_rule": pair in lti})

    def score(key: str) -> dict[str, float]:
        tp = sum(r[key] and r["equivalent"] for r in records)
        fp = sum(r[key] and not r["equivalent"] for r in records)
        fn = sum((not r[key]) and r["equivalent"] for r in records)
        acc = np.mean([r[key] == r["equivalent"] for r in records])
        precision, recall, _ = precision_recall_f1(tp, fp, fn, empty=float("nan"))
        return {"precision": float(precision), "recall": float(recall),
                "accuracy": float(acc), "predicted_equivalent": tp + fp}

    by_len = {}
    for m in (3, 4, 5):
        sub = [r for r in records if len(r["effects"]) == m]
        if sub:
            by_len[str(m)] = {"n": len(sub), "frac_equivalent": float(np.mean([r["equivalent"] for r in sub]))}
    return {"n": len(records), "frac_equivalent": float(np.mean([r["equivalent"] for r in records])),
            "measured_rule": score("rule"), "lti_rule": score("lti_rule"), "by_length": by_len, "records": records}


def plot_heatmap(path: Path, pairs: dict[tuple[str, str], list[SwapRatios]], tau: float, caption: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(EFFECT_NAMES)
    m = np.full((n, n), np.nan)  # row = first in the true order, column = second
    for (a, b), rows in pairs.items():
        i, j = EFFECT_NAMES.index(a), EFFECT_NAMES.index(b)
        m[i, j] = np.median([r.fwd for r in rows])
        m[j, i] = np.median([r.bwd for r in rows])
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    im = ax.imshow(np.log10(np.clip(m, 1e-3, None)), cmap="magma_r", vmin=-2, vmax=0.3)
    for i in range(n):
        for j in range(n):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > 0.3 else "black", weight="bold" if m[i, j] <= tau else "normal")
    ax.set_xticks(range(n), EFFECT_NAMES, rotation=40, ha="right")
    ax.set_yticks(range(n), EFFECT_NAMES)
    ax.set_xlabel("B (second in the true order)")
    ax.set_ylabel("A (first in the true order)")
    ax.set_title(f"median d(B->A, A->B) / d(dry, A->B); bold <= tau={tau}", fontsize=10)
    fig.colorbar(im, ax=ax, label="log10 normalised distance")
    fig.text(0.01, 0.01, caption, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def markdown(stats: dict[str, dict[str, float]], commuting: list[list[str]], chains: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Order symmetry: which adjacent pedal swaps are inaudible",
        "",
        f"Command: `{meta['command']}`  ",
        f"{meta['n']} draws per pair (params uniform over the sampler's audible sub-ranges, seed {meta['seed']}), "
        f"{meta['dry_clips']} dry synth clips of 2 s at {SAMPLE_RATE} Hz, pedalboard renders, "
        f"one thread, {meta['seconds']:.0f} s wall on a shared 2-core CPU.",
        "",
        "Normalised distance of a draw = max over the two possible true orders of the evaluator's ratio "
        "d(swapped, true) / d(dry, true) (MR-STFT, peak-normalised). A pair commutes when at least "
        f"{meta['min_fraction']:.0%} of draws are <= tau = {meta['tau']}.",
        "",
        "| A | B | LTI pair | median | p90 | frac <= tau | median (A first) | median (B first) | commutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lti = lti_pairs()
    cset = {frozenset(p) for p in commuting}
    for key, s in sorted(stats.items(), key=lambda kv: kv[1]["median"]):
        a, b = key.split("|")
        lines.append(f"| {a} | {b} | {'yes' if frozenset((a, b)) in lti else ''} | {s['median']:.3f} | {s['p90']:.3f} | "
                     f"{s['frac_under_tau']:.2f} | {s['median_a_first']:.3f} | {s['median_b_first']:.3f} | "
                     f"{'**yes**' if frozenset((a, b)) in cset else 'no'} |")
    lines += ["", f"Commuting pairs (measured): {', '.join(' ~ '.join(p) for p in commuting) or 'none'}.", ""]
    agree = cset == set(lti)
    lines.append("The measured set " + ("equals" if agree else "differs from") + " the hand-made LTI set"
                 + ("." if agree else f": added {sorted(sorted(p) for p in cset - lti)}, "
                    f"dropped {sorted(sorted(p) for p in lti - cset)}."))
    mr, lr = chains["measured_rule"], chains["lti_rule"]
    lines += [
        "",
        f"## Longer chains ({chains['n']} random chains of 3-5 effects, one random adjacent swap each)",
        "",
        f"Swaps audibly equivalent (same max-ratio test on the whole chain): {chains['frac_equivalent']:.1%}"
        + "".join(f"; {m} effects {v['frac_equivalent']:.1%} (n={v['n']})" for m, v in chains["by_length"].items()) + ".",
        "",
        "| rule: swap is inaudible iff the pair ... | precision | recall | accuracy | swaps predicted inaudible |",
        "|---|---|---|---|---|",
        f"| is in the measured commuting set | {mr['precision']:.2f} | {mr['recall']:.2f} | {mr['accuracy']:.2f} | {mr['predicted_equivalent']} |",
        f"| is a linear time-invariant pair | {lr['precision']:.2f} | {lr['recall']:.2f} | {lr['accuracy']:.2f} | {lr['predicted_equivalent']} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20, help="draws per pair (default 20)")
    ap.add_argument("--chains", type=int, default=200, help="random 3-5 effect chains (default 200)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --n and --chains (e.g. 10 on a big machine)")
    ap.add_argument("--dry-clips", type=int, default=20, help="distinct dry synth clips the pair draws cycle through")
    ap.add_argument("--tau", type=float, default=0.1, help="audible-equivalence threshold, as in ddspfx.evaluate")
    ap.add_argument("--min-fraction", type=float, default=0.9, help="a pair commutes when this share of draws is <= tau")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--package-json", type=Path, default=COMMUTING_JSON,
                    help="where to write the commuting table ddspfx reads (default ddspfx/commuting.json)")
    ap.add_argument("--no-package-json", action="store_true", help="do not write the package table")
    args = ap.parse_args(argv)
    if not 0 < args.tau < 1 or not 0 < args.min_fraction <= 1 or args.n < 1 or args.chains < 1:
        ap.error("need 0 < --tau < 1, 0 < --min-fraction <= 1, --n >= 1 and --chains >= 1")
    torch.set_num_threads(1)
    n, n_chains = max(1, round(args.n * args.scale)), max(1, round(args.chains * args.scale))
    command = " ".join(["python -m experiments.order_symmetry", shlex.join(argv if argv is not None else sys.argv[1:])]).strip()
    t0 = time.perf_counter()

    source = make_source("synth")
    dist = MRSTFTDistance()
    clip_rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0]))
    dry_clips = [source.sample(clip_rng, 2.0) for _ in range(min(args.dry_clips, n))]
    print(f"pairs: {n} draws each", file=sys.stderr)
    pairs = study_pairs(dry_clips, n, args.seed, dist)
    stats = {f"{a}|{b}": pair_stats(rows, args.tau) for (a, b), rows in pairs.items()}
    commuting = [[a, b] for (a, b) in pairs if stats[f"{a}|{b}"]["frac_under_tau"] >= args.min_fraction]
    cset = frozenset(frozenset(p) for p in commuting)
    print(f"chains: {n_chains}", file=sys.stderr)
    chains = study_chains(source, n_chains, args.seed, args.tau, cset, dist)
    seconds = time.perf_counter() - t0

    meta = {"command": command, "n": n, "chains": n_chains, "dry_clips": len(dry_clips), "seed": args.seed,
            "tau": args.tau, "min_fraction": args.min_fraction, "seconds": seconds, "threads": 1,
            "distance": "ddspfx.metrics.MRSTFTDistance (auraloss MR-STFT, fft 256/1024/4096, peak-normalised)",
            "normalised_distance": "max(d(BA,AB)/d(dry,AB), d(AB,BA)/d(dry,BA))"}
    args.out.mkdir(parents=True, exist_ok=True)
    plot_heatmap(args.out / "heatmap.png", pairs, args.tau,
                 f"{n} draws/pair, seed {args.seed}, audible sub-ranges, 2-s synth clips; {command}")
    atomic_write_text(args.out / "table.md", markdown(stats, commuting, chains, meta))
    atomic_write_text(args.out / "results.json", json.dumps({
        "meta": meta, "pairs": stats, "commuting_pairs": commuting,
        "draws": {f"{a}|{b}": [[r.fwd, r.bwd] for r in rows] for (a, b), rows in pairs.items()},
        "chains": chains}, indent=1))
    if not args.no_package_json:
        summary = {k: {m: round(v[m], 4) for m in ("median", "p90", "frac_under_tau")} | {"n": v["n"]}
                   for k, v in stats.items()}
        table = json.dumps({
            "tau": args.tau, "min_fraction": args.min_fraction, "commuting_pairs": "@pairs",
            "measured": {k: f"@{k}" for k in summary}, "command": command, "seed": args.seed, "draws_per_pair": n,
            "chain_rule": {k: chains["measured_rule"][k] for k in ("precision", "recall", "accuracy")},
            "normalised_distance": meta["normalised_distance"]}, indent=1)
        # one line per pair: the table is read by people too
        table = table.replace('"@pairs"', json.dumps(commuting))
        for k, v in summary.items():
            table = table.replace(f'"@{k}"', json.dumps(v))
        atomic_write_text(args.package_json, table + "\n")
    print(markdown(stats, commuting, chains, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
