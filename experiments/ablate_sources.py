"""The source-count curve: how far does hearing more distinct guitars carry the answer to guitars never heard?

Why (issue 28, item 1): the first lever ablation (``experiments/results/guitars``) found that a fresh procedural
guitar per clip lowers clean-clip alarms and raises precision on never-heard SoundFont guitars. This study asks
whether the number of distinct guitars is the lever and where it saturates: the same recipe trained on the first
1, 2, 4, 8, 16 and 64 procedural training guitars (``--data.source procedural:N``: nested sets) and on all of them
(``procedural``: a fresh guitar per clip out of 900,000), optionally with the guitar-identity adversary
(``ddspfx.adversary``, ``--loss.adversary``) on all of them. Every variant trains the same steps / minutes from
the same start (``--warm-start``: a model that already knows the thirteen pedal types, fine-tuned per variant).

Test sets (development seeds, ``--seed`` 900,000 by default, as in the guitars ablation; never the test seeds):
chains of 0-5 pedals, and clean clips, on three sources no variant trains on -- held-out procedural guitars
(``procedural:heldout``, ids 900,000+), and the dry guitars of the TimGM6mb and Csound GM SoundFont banks.
Reported against the number of training guitars: held-out-source presence µF1 and precision (chain sets) and the
clean-clip alarm rate (share of clean clips answered with any pedal), beside "no pedal" and a random chain.
Outputs in ``--out``: the harness's ``table.md``, ``results.json``, ``bars.png``, and this study's ``curve.md``,
``curve.json`` and ``curve.png`` (log2 x-axis), with the git commit, whether the tree was clean, and each model's
SHA-256 (and the warm start's).

    python -m experiments.ablate_sources [--warm-start MODEL] [--steps 600] [--budget-min 0] [--n-test 100]
                                          [--resume] [--no-adversary] [--variants "1 guitar,all guitars"]

Rule proposal (NOT the rule: the lead writes ``experiments/results/sources/rule.md`` and commits it before the run;
this text is a draft):

    # How the source-count curve is read (written before the run)

    Run: ``python -m experiments.ablate_sources --warm-start W --steps S --budget-min 0 --n-test 100`` from a
    clean tree, every variant fine-tuned from the same model W for the same S steps; development seeds
    20,900,000+ (never the test seeds). Never-heard guitars: held-out procedural guitars (ids 900,000+), the
    TimGM6mb and Csound GM banks. "Mean" = the mean over these three sources; alarms = clean-clip alarm rate.

    1. **Diversity is the lever** when "all guitars" against "1 guitar" raises the mean presence µF1 by at least
       0.05 or lowers the mean alarms by at least 0.10, with the mean precision not more than 0.02 lower.
    2. **Where it saturates**: the smallest N of 1..64 whose mean µF1 is within 0.03 of "all guitars" and whose
       mean alarms are within 0.05 of it. None: the curve has not saturated by 64 and the recipe keeps a fresh
       guitar per clip.
    3. **The adversary joins the recipe** when, against "all guitars", its mean precision is at least 0.03 higher
       or its mean alarms at least 0.10 lower, and its µF1 is not more than 0.02 lower on any of the three
       sources; it does not join when µF1 falls by more than 0.02 on a source; otherwise it is undecided at this
       budget (with 100 clips per set a 95 % interval on µF1 is about ±0.04) and is rerun at a longer budget.

    This rule is not amended after the run; an amended rule is a new rule, judged on fresh development seeds
    (900,500+).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text, file_sha256
from experiments.evaluation.ablation import (
    Ablation,
    TestSet,
    Variant,
    add_common_args,
    budget_from_args,
    command_line,
    provenance,
    refuse_finished_runs,
    run_ablation,
    selected,
)

NAME = "sources"
DEV_SEED = 900_000
COUNTS: tuple[int, ...] = (1, 2, 4, 8, 16, 64)
ALL_GUITARS = 900_000  # len(ddspfx.sources.procedural.TRAIN_IDS): "all" draws a fresh one of them per clip
COMMON: tuple[str, ...] = ("--model.input_level", "true")
ADVERSARY_WEIGHT = 0.1
SOURCES: tuple[tuple[str, str], ...] = (("held-out procedural", "procedural:heldout"), ("GM bank", "sf2:gmbank"),
                                        ("TimGM6mb", "sf2:timgm6mb"))
"""(name, spec) of the never-heard guitars: no variant trains on any of them."""
BASELINES: tuple[tuple[str, str], ...] = (("no pedal", "no effect (dry)"), ("random chain", "random chain"))
"""(row name here, the harness's reference system) shown beside the models."""


def variant_name(count: int | None) -> str:
    return "all guitars" if count is None else f"{count} guitar{'s' if count > 1 else ''}"


def ablation(adversary: bool = True) -> Ablation:
    variants = [Variant(variant_name(n), COMMON + ("--data.source", f"procedural:{n}"), "tokens",
                        f"The first {n} procedural training guitar{'s' if n > 1 else ''}.") for n in COUNTS]
    variants.append(Variant(variant_name(None), COMMON + ("--data.source", "procedural"), "tokens",
                            "A fresh procedural training guitar per clip (900,000 of them)."))
    if adversary:
        variants.append(Variant("all guitars + adversary",
                                COMMON + ("--data.source", "procedural", "--loss.adversary", f"{ADVERSARY_WEIGHT:g}"),
                                "tokens", "All guitars, and a guitar-identity adversary through gradient reversal."))
    test_sets = [TestSet(f"{name}, chains", spec, "uniform") for name, spec in SOURCES]
    test_sets += [TestSet(f"{name}, clean", spec, "uniform", max_effects=0) for name, spec in SOURCES]
    return Ablation(
        name=NAME, title="the source-count curve: 1 to all procedural training guitars",
        question="Does the number of distinct training guitars decide how well the answer holds on guitars the "
                 "model never heard, and where does it stop paying?",
        variants=variants, test_sets=test_sets,
        notes=["Clean test sets: every reported pedal is a false alarm; alarm rate = 1 - their 'exact chain'.",
               "No variant trains on a test source: held-out procedural ids (900,000+) are never drawn by a training "
               "spec, and no variant trains on a SoundFont."])


def guitar_count(rec: dict[str, Any]) -> int:
    """The number of distinct training guitars of a variant, from the source it trained on."""
    source = str(rec["data"]["source"])
    if source == "procedural":
        return ALL_GUITARS
    head, _, count = source.partition(":")
    if head != "procedural" or not count.isdigit():
        raise DdspfxError(f"variant trained on {source!r}, not on procedural guitars")
    return int(count)


def curve(results: dict[str, Any]) -> dict[str, Any]:
    """Per variant that ran: its guitar count and, per never-heard source, µF1, precision and clean-clip alarms;
    the same for the reference systems."""
    def scores(per_set: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        out = {}
        for name, _ in SOURCES:
            chains, clean = per_set[f"{name}, chains"], per_set[f"{name}, clean"]
            out[name] = {"micro_f1": float(chains["micro_f1"]), "precision": float(chains["micro_precision"]),
                         "alarms": 1.0 - float(clean["exact_chain_acc"])}
        out["mean"] = {k: float(np.mean([out[n][k] for n, _ in SOURCES])) for k in ("micro_f1", "precision", "alarms")}
        return out

    rows = {}
    for name, rec in results["variants"].items():
        if rec["skip"]:
            continue
        rows[name] = {"guitars": guitar_count(rec), "adversary": "adversary" in name,
                      "steps": int(rec["train"]["steps"]), "model": rec["train"]["model"],
                      "sha256": file_sha256(Path(rec["train"]["model"])), "scores": scores(rec["results"])}
    refs = {ours: scores({ts: results["baselines"][ts][theirs] for ts in results["baselines"]})
            for ours, theirs in BASELINES}
    return {"variants": rows, "baselines": refs}


def _x_label(guitars: int) -> str:
    return "all" if guitars == ALL_GUITARS else str(guitars)


def curve_markdown(c: dict[str, Any], meta: dict[str, Any]) -> str:
    names = [n for n, _ in SOURCES]
    lines = ["# The source-count curve", "", f"Command: `{meta['command']}`  ",
             f"Code: git `{meta['git_commit']}` (clean tree: {meta['clean_tree']}).  ",
             f"Warm start: {meta['warm_start'] or 'none (from scratch)'}"
             + (f", SHA-256 `{meta['warm_start_sha256']}`" if meta["warm_start"] else "") + ".  ",
             f"Test clips: {meta['n_test']} per set, development seeds {meta['seeds'][0]:,}.."
             f"{meta['seeds'][1] - 1:,}; never-heard guitars: {', '.join(f'{n} (`{s}`)' for n, s in SOURCES)}.", ""]
    for key, title in (("micro_f1", "presence µF1 (chains)"), ("precision", "precision (chains)"),
                       ("alarms", "clean-clip alarm rate (lower is better)")):
        lines += [f"## {title}", "", "| system | training guitars | steps | " + " | ".join(names) + " | mean |",
                  "|---" * (len(names) + 4) + "|"]
        for name, row in c["variants"].items():
            s = row["scores"]
            lines.append(f"| {name} | {_x_label(row['guitars'])} | {row['steps']} | "
                         + " | ".join(f"{s[n][key]:.3f}" for n in names) + f" | {s['mean'][key]:.3f} |")
        for name, s in c["baselines"].items():
            lines.append(f"| {name} | – | – | " + " | ".join(f"{s[n][key]:.3f}" for n in names)
                         + f" | {s['mean'][key]:.3f} |")
        lines.append("")
    lines += ["## Models", "", "| variant | model | SHA-256 |", "|---|---|---|"]
    lines += [f"| {n} | `{r['model']}` | `{r['sha256']}` |" for n, r in c["variants"].items()]
    lines += ["", "![curve](curve.png)", ""]
    return "\n".join(lines)


def plot_curve(path: Path, c: dict[str, Any]) -> None:
    """µF1, precision and clean-clip alarms against training guitars (log2 axis; "all" one octave-pair past 64)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def xpos(guitars: int) -> float:
        return float(np.log2(max(COUNTS)) + 2.0) if guitars == ALL_GUITARS else float(np.log2(guitars))

    plain = sorted(((r["guitars"], n) for n, r in c["variants"].items() if not r["adversary"]), key=lambda t: t[0])
    adv = [(r["guitars"], n) for n, r in c["variants"].items() if r["adversary"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (key, title) in zip(axes, (("micro_f1", "presence µF1 (chains)"), ("precision", "precision (chains)"),
                                       ("alarms", "clean-clip alarm rate"))):
        for src in [n for n, _ in SOURCES] + ["mean"]:
            xs = [xpos(g) for g, _ in plain]
            ys = [c["variants"][n]["scores"][src][key] for _, n in plain]
            ax.plot(xs, ys, marker="o", lw=2.2 if src == "mean" else 1.0, color="k" if src == "mean" else None,
                    label=src)
        for g, n in adv:
            ax.scatter([xpos(g)], [c["variants"][n]["scores"]["mean"][key]], marker="*", s=140, color="tab:red",
                       zorder=5, label=f"{n} (mean)")
        for (name, s), style in zip(c["baselines"].items(), (":", "--")):
            ax.axhline(s["mean"][key], color="grey", ls=style, lw=1, label=f"{name} (mean)")
        ticks = sorted({xpos(g) for g, _ in plain + adv})
        labels = {xpos(g): _x_label(g) for g, _ in plain + adv}
        ax.set_xticks(ticks, [labels[t] for t in ticks])
        ax.set_xlabel("distinct training guitars (log2)")
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=6, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=0.0, default_n_test=100)
    ap.add_argument("--warm-start", default="", metavar="CHECKPOINT",
                    help="fine-tune every variant from these weights (a model.safetensors or run folder)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the variants whose model already exists in --out (same config) instead of refusing")
    ap.add_argument("--no-adversary", action="store_true", help="leave out the 'all guitars + adversary' variant")
    ap.set_defaults(seed=DEV_SEED, steps=600)
    args = ap.parse_args(argv)
    if args.steps < 1:
        raise DdspfxError(f"--steps must be at least 1, got {args.steps}")
    warm_sha = ""
    if args.warm_start:
        warm = Path(args.warm_start)
        warm = warm / "model.safetensors" if warm.is_dir() else warm
        if not warm.is_file():
            raise DdspfxError(f"--warm-start {args.warm_start}: no such model; pass a model.safetensors or a run folder")
        warm_sha = file_sha256(warm)
        args.extra = [*args.extra, f"trainer.init_from={warm.resolve()}"]
    ab = ablation(adversary=not args.no_adversary)
    refuse_finished_runs(args, ab)
    budget = budget_from_args(args)
    command = command_line("ablate_sources.py", argv)
    results = run_ablation(ab, budget, args.out, command, selected(args))
    meta = {**provenance(command), "warm_start": args.warm_start, "warm_start_sha256": warm_sha, "n_test": budget.n_test,
            "seeds": results["test_sets"][f"{SOURCES[0][0]}, chains"]["seeds"]}
    c = curve(results)
    atomic_write_text(args.out / "curve.json", json.dumps({"meta": meta, **c}, indent=1))
    atomic_write_text(args.out / "curve.md", curve_markdown(c, meta))
    plot_curve(args.out / "curve.png", c)
    print((args.out / "curve.md").read_text())
    print(f"wrote {args.out / 'curve.md'}, curve.json, curve.png and the harness's table.md, results.json",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
