"""Dry recovery (issue 32): how close each way of getting the dry back comes to the true dry, on development clips.

``nice -n 19 python -m experiments.dry_recovery [--per-type 1] [--per-length 3] [--time-limit 10]
[--candidates wet,invert_true,invert_estimate,network] [--network PATH] [--out experiments/results/dry_recovery]``

Clips: 3-s development clips (seeds ``DEV_SEED`` = 30,000,000+, never the test seeds 20,000,000+), the dry from
``synth`` and ``procedural`` in turn, chains from the project's sampler (``ddspfx.data.generate_example``): ``per-type``
single-pedal clips of each pedal type, and ``per-length`` clips of each chain length 2-5. Candidates:

- ``wet``: the wet itself, the baseline (its improvement is 0 by definition; its SI-SDR is shown);
- ``invert_true``: :func:`ddspfx.dry_recovery.invert_chain` through the true chain (an upper bound for inversion);
- ``invert_estimate``: the same through the shipped blind model's estimate (``ddspfx.estimate``), the blind path;
- ``invert_estimate_lti``: the same through the estimate's time-invariant linear pedals only (:data:`LTI`);
- ``network``: the dry-recovery network at ``--network`` (a smoke-test model unless said otherwise).

Figures: SI-SDR improvement = SI-SDR(recovered, dry) - SI-SDR(wet, dry) in dB, the MR-STFT distance
(``ddspfx.metrics.MRSTFTDistance``) of the recovered to the dry, and wall seconds per clip on one torch thread
(the estimate's time included in ``invert_estimate``). Written: ``README.md`` (tables), ``results.json`` (every clip,
provenance: git commit, whether the tree was clean, models' SHA-256), ``by_type.png``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text

DEV_SEED = 30_000_000
"""Development seeds of this study (the test seeds start at 20,000,000 and stay below 30,000,000)."""
SOURCES: tuple[str, ...] = ("synth", "procedural")
CANDIDATES: tuple[str, ...] = ("wet", "invert_true", "invert_estimate", "invert_estimate_lti", "network")
LTI: tuple[str, ...] = ("eq", "delay", "reverb")
"""The pedals whose estimate ``invert_estimate_lti`` keeps: time-invariant and linear (an LFO pedal's estimated rate and
phase are never those of the clip, and inverting the wrong modulation writes it into the dry)."""
LENGTHS: tuple[int, ...] = (2, 3, 4, 5)


def dev_set(per_type: int, per_length: int, seconds: float) -> list[dict[str, Any]]:
    """The clips: (group, dry, wet, chain, seed, source) for every single-pedal type and every chain length."""
    from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
    from ddspfx.data.dataset import example_seed, generate_example
    from ddspfx.data.recipe import Recipe
    from ddspfx.sampler import SamplerConfig
    from ddspfx.sources import make_source

    sources = {s: make_source(s) for s in SOURCES}
    plan = [(e, SamplerConfig(min_effects=1, max_effects=1, effects=(e,))) for e in EFFECT_NAMES for _ in range(per_type)]
    plan += [(f"{n} pedals", SamplerConfig(min_effects=n, max_effects=n)) for n in LENGTHS for _ in range(per_length)]
    out = []
    for i, (group, sampler) in enumerate(plan):
        source = SOURCES[i % len(SOURCES)]
        seed = example_seed(DEV_SEED, i)
        ex = generate_example(sources[source], seed, seconds, SAMPLE_RATE, Recipe(sampler=sampler))
        out.append({"group": group, "dry": ex.dry, "wet": ex.wet, "chain": ex.chain, "seed": seed, "source": source})
    return out


def recover(candidate: str, clip: dict[str, Any], time_limit: float, network: Any) -> tuple[np.ndarray, str]:
    """(recovered dry, note) of one candidate on one clip."""
    from ddspfx.catalog import SAMPLE_RATE
    from ddspfx.dry_recovery import InvertConfig, invert_chain, run_network

    if candidate == "wet":
        return clip["wet"], ""
    if candidate == "network":
        return run_network(network, clip["wet"], SAMPLE_RATE), ""
    if candidate == "invert_true":
        chain = clip["chain"]
    else:
        import ddspfx
        from ddspfx.chain import Chain

        chain = ddspfx.estimate(clip["wet"], SAMPLE_RATE)
        if candidate == "invert_estimate_lti":
            chain = Chain([p for p in chain if p.effect in LTI])
    res = invert_chain(clip["wet"], chain, SAMPLE_RATE, InvertConfig(time_limit_s=time_limit))
    return res.dry, f"{' > '.join(chain.effects) or '-'}; fit {res.fit_before:.1f} -> {res.fit_after:.1f} dB, {res.evals} renders"


def tree_state() -> dict[str, Any]:
    """git commit and whether tracked files had uncommitted changes (this study's files and everyone else's)."""
    from ddspfx.checkpoint import git_commit

    commit = git_commit()
    try:
        mine = subprocess.run(["git", "status", "--porcelain", "--", "ddspfx/dry_recovery.py", "experiments/dry_recovery.py"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        mine = "?"
    return {"git_commit": commit, "clean_tree": not commit.endswith("-dirty"), "study_files_committed": mine == ""}


def summarise(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {candidate: {mean improvement, median, mean SI-SDR, MR-STFT, seconds, n}}} grouped by ``key``."""
    acc: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        acc[r[key]][r["candidate"]].append(r)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for group, by_cand in acc.items():
        out[group] = {}
        for cand, rs in by_cand.items():
            imp = np.array([r["improvement_db"] for r in rs])
            out[group][cand] = {"improvement_db": float(imp.mean()), "median_improvement_db": float(np.median(imp)),
                                "share_6db": float(np.mean(imp >= 6.0)), "share_worse": float(np.mean(imp < -0.5)),
                                "sisdr_db": float(np.mean([r["sisdr_db"] for r in rs])),
                                "mrstft": float(np.mean([r["mrstft"] for r in rs])),
                                "seconds": float(np.mean([r["seconds"] for r in rs])), "n": len(rs)}
    return out


def table(summary: dict[str, dict[str, dict[str, float]]], candidates: Sequence[str], groups: Sequence[str]) -> str:
    head = "| clips | n | " + " | ".join(f"{c}: SI-SDR impr. dB (MR-STFT, s/clip)" for c in candidates) + " |"
    lines = [head, "|" + "---|" * (len(candidates) + 2)]
    for g in groups:
        if g not in summary:
            continue
        cells = []
        for c in candidates:
            s = summary[g].get(c)
            if s is None:
                cells.append("-")
            elif c == "wet":
                cells.append(f"0 (SI-SDR {s['sisdr_db']:.1f}; {s['mrstft']:.2f})")
            else:
                cells.append(f"{s['improvement_db']:+.1f} (median {s['median_improvement_db']:+.1f}; >=6 dB "
                             f"{s['share_6db']:.0%}, worse {s['share_worse']:.0%}; {s['mrstft']:.2f}, {s['seconds']:.1f} s)")
        n = next(iter(summary[g].values()))["n"]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(path: Path, summary: dict[str, dict[str, dict[str, float]]], candidates: Sequence[str],
         groups: Sequence[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [c for c in candidates if c != "wet"]
    groups = [g for g in groups if g in summary]
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.7 * len(groups))), 4.5))
    width = 0.8 / max(1, len(shown))
    for k, c in enumerate(shown):
        vals = [summary[g].get(c, {}).get("improvement_db", np.nan) for g in groups]
        ax.bar(np.arange(len(groups)) + k * width, vals, width, label=c)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(groups)) + width * (len(shown) - 1) / 2, groups, rotation=45, ha="right")
    ax.set_ylabel("SI-SDR improvement over the wet (dB)")
    ax.set_title("Dry recovery on development clips (mean per group)")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.dry_recovery", description=__doc__.split("\n")[0])
    p.add_argument("--per-type", type=int, default=1, help="single-pedal clips per pedal type")
    p.add_argument("--per-length", type=int, default=3, help="clips per chain length 2-5")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--time-limit", type=float, default=10.0, help="inversion's wall seconds per clip")
    p.add_argument("--candidates", default="wet,invert_true,invert_estimate")
    p.add_argument("--network", help="a dry-recovery network (model.safetensors) for the 'network' candidate")
    p.add_argument("--out", default="experiments/results/dry_recovery")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
    from ddspfx.checkpoint import DEFAULT_CHECKPOINT
    from ddspfx.dry_recovery import load_dry_model
    from ddspfx.fileio import file_sha256
    from ddspfx.metrics import MRSTFTDistance, si_sdr

    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    bad = [c for c in candidates if c not in CANDIDATES]
    if bad:
        raise DdspfxError(f"unknown candidate(s) {', '.join(bad)}; choose from {', '.join(CANDIDATES)}")
    if "wet" not in candidates:
        candidates.insert(0, "wet")
    network = load_dry_model(args.network) if "network" in candidates else None
    torch.set_num_threads(1)
    prov = tree_state()  # the code that runs is the code at the start (a commit made meanwhile is not it)
    clips = dev_set(args.per_type, args.per_length, args.seconds)
    distance = MRSTFTDistance()
    torch.optim.LBFGS([torch.zeros(1, requires_grad=True)])  # the first optimiser imports torch._dynamo: not timed
    if any(c.startswith("invert_estimate") for c in candidates):  # load the blind model before timing
        import ddspfx

        ddspfx.estimate(clips[0]["wet"], SAMPLE_RATE)
    rows = []
    for i, clip in enumerate(clips):
        base = si_sdr(clip["wet"], clip["dry"])
        for cand in candidates:
            t = time.perf_counter()
            rec, note = recover(cand, clip, args.time_limit, network)
            seconds = time.perf_counter() - t
            if rec.shape != clip["wet"].shape:
                raise DdspfxError(f"{cand} returned {rec.shape} for a clip of {clip['wet'].shape}")
            s = si_sdr(rec, clip["dry"])
            rows.append({"clip": i, "group": clip["group"], "length": len(clip["chain"]), "source": clip["source"],
                         "seed": clip["seed"], "chain": clip["chain"].to_list(), "candidate": cand, "sisdr_db": s,
                         "improvement_db": s - base, "mrstft": distance(rec, clip["dry"]), "seconds": seconds,
                         "note": note})
            print(f"[{i + 1}/{len(clips)}] {clip['group']:10s} {cand:16s} {s - base:+6.1f} dB {seconds:5.1f} s {note}",
                  flush=True)
    groups = [*EFFECT_NAMES, *(f"{n} pedals" for n in LENGTHS)]
    by_group = summarise(rows, "group")
    by_length = summarise(rows, "length")
    overall = summarise([{**r, "all": "all"} for r in rows], "all")
    models: dict[str, str] = {}
    if any(c.startswith("invert_estimate") for c in candidates):
        models["blind estimator"] = f"{DEFAULT_CHECKPOINT.name} {file_sha256(DEFAULT_CHECKPOINT)}"
    if network is not None:
        models["dry-recovery network"] = f"{args.network} {network.metadata.get('sha256', '?')}"
    out = Path(args.out)
    plot(out / "by_type.png", by_group, candidates, groups)
    text = (f"# Dry recovery on development clips\n\n{len(clips)} clips of {args.seconds:g} s (seeds {DEV_SEED:,}+, dry "
            f"{' / '.join(SOURCES)} in turn), {args.per_type} single-pedal clip(s) per type and {args.per_length} per "
            f"chain length 2-5; inversion time limit {args.time_limit:g} s; one torch thread on a shared 2-core machine "
            f"(times are wall seconds under load). git `{prov['git_commit']}` (clean tree: {prov['clean_tree']}; "
            f"study files committed: {prov['study_files_committed']}). Models: "
            f"{'; '.join(f'{k} `{v}`' for k, v in models.items()) or 'none'}.\n\n"
            "Cells: mean SI-SDR improvement over the wet in dB (median; share of clips improved by >= 6 dB, issue 32's "
            "target, and made worse by more than 0.5 dB; mean MR-STFT to the true dry, mean seconds per clip). The wet "
            "column gives its own SI-SDR to the dry.\n\n"
            f"## All clips\n\n{table(overall, candidates, ['all'])}\n\n"
            f"## Per pedal type (single-pedal clips) and chain length\n\n{table(by_group, candidates, groups)}\n\n"
            f"## Per chain length (single-pedal clips are length 1)\n\n"
            f"{table(by_length, candidates, sorted(by_length, key=int))}\n\n![by type](by_type.png)\n")
    atomic_write_text(out / "README.md", text)
    atomic_write_text(out / "results.json", json.dumps(
        {"setup": vars(args), "provenance": {**prov, "models": models}, "overall": overall, "by_group": by_group,
         "by_length": by_length, "rows": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
