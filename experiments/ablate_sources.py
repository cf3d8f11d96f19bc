"""The source-count curve: how far does hearing more distinct guitars carry the answer to guitars never heard?

Why (issue 28, item 1): the first lever ablation (``experiments/results/guitars``) found that a fresh procedural
guitar per clip lowers clean-clip alarms and raises precision on never-heard SoundFont guitars. This study asks
whether the number of distinct guitars is the lever and where it saturates: the same recipe trained on the first
1, 2, 4, 8, 16 and 64 procedural training guitars (``--data.source procedural:N``: nested sets) and on all of them
(``procedural``: a fresh guitar per clip out of 900,000), and (unless ``--no-adversary``) with the guitar-identity
adversary (``ddspfx.adversary``, ``--loss.adversary``) on all of them.

Why from scratch: every variant trains the same steps from the same weight seed (the config's, 0) with no
``--trainer.init_from``, as the dry front-end ablation does (``experiments.evaluation.ablation``), so the variants
differ in their guitars only. A warm start would hand every variant what its start model heard: the thirteen-type
model this study was first written for was lost, and the shipped model heard the TimGM6mb and Csound GM banks, two
of the test sources. ``--warm-start MODEL`` fine-tunes every variant from MODEL instead (recorded with its
SHA-256); a model whose card says it trained on a test source is refused.

Test sets (development seeds, ``--seed`` 1,020,000 by default: seeds 21,020,000+; never the test seeds): chains
of 0-5 pedals, and clean clips, on five sources no variant trains on -- held-out procedural guitars
(``procedural:heldout``, ids 900,000+), the dry guitars of the Csound GM and TimGM6mb SoundFont banks
(``sf2:gmbank``, ``sf2:timgm6mb``) and the recorded tonejs electric and acoustic guitars (``tonejs:electric``,
``tonejs:acoustic``) -- and, as an in-distribution reference, the training guitars (``procedural``) at the same
seeds. The harness draws test clips through ``experiments.evaluation.sets.make_dry_source`` (a ``ddspfx.sources``
spec, or the recorded tonejs notes, fetched with npm on first use); a tonejs source that cannot be loaded here (no
npm, no network) is left out with a one-line message and named in ``curve.md``. Reported against the number of training guitars: presence
µF1 and precision (chain sets) and the clean-clip alarm rate (share of clean clips answered with any pedal) per
source, their mean over the never-heard sources, and the training guitars apart, beside "no pedal" and a random
chain. Outputs in ``--out``: the harness's ``table.md``, ``results.json``, ``bars.png``, and this study's
``curve.md``, ``curve.json`` and ``curve.png`` (log2 x-axis), with the git commit, whether the tree was clean, and
each model's SHA-256 (and the warm start's). ``--resume`` keeps the variants already trained in ``--out`` (same
config); every output is written whole or not at all.

    python -m experiments.ablate_sources [--steps 600] [--budget-min 0] [--n-test 100] [--seed 1020000]
                                          [--warm-start MODEL] [--resume] [--no-adversary]
                                          [--variants "1 guitar,all guitars"]

Cost, estimated (not measured) from the dry front-end run on this shared 2-core box (2026-12-08, load average 3
at its end): its paired-mel variant, the same config, size and steps with a mel stem on wet, dry and their
difference, trained 600 steps in 11.3 min; a variant here hears the wet alone, so about 11 min or less each,
about 1.5 h for the eight, plus scoring 8 sets x 100 clips by 8 models (the dry run scored 7 x 100 by 2 in about
2 min: about 9 min here). Beside a long training at normal priority, at nice 19, the dry study measured 47 s a
step (load 10) against 1.1 s: run it on a free box.

Rule proposal (NOT the rule: the lead writes ``experiments/results/sources/rule.md`` and commits it before the run;
this text is a draft):

    # How the source-count curve is read (written before the run)

    Run: ``python -m experiments.ablate_sources --steps 600 --budget-min 0 --n-test 100`` from a clean tree, every
    variant from scratch (no warm start) for the same 600 steps from the same weight seed; development seeds
    21,020,000+ (never the test seeds). Never-heard guitars: held-out procedural guitars (ids 900,000+), the
    Csound GM and TimGM6mb banks, the tonejs electric and acoustic recordings. "Mean" = the mean over these five
    sources (over those the run scored, when ``curve.md`` names one left out); alarms = clean-clip alarm rate. The
    training guitars (``procedural``) are reported beside, not in the mean.

    1. **Diversity is the lever** when "all guitars" against "1 guitar" raises the mean presence µF1 by at least
       0.05 or lowers the mean alarms by at least 0.10, with the mean precision not more than 0.02 lower.
    2. **Where it saturates**: the smallest N of 1..64 whose mean µF1 is within 0.03 of "all guitars" and whose
       mean alarms are within 0.05 of it. None: the curve has not saturated by 64 and the recipe keeps a fresh
       guitar per clip.
    3. **The adversary joins the recipe** when, against "all guitars", its mean precision is at least 0.03 higher
       or its mean alarms at least 0.10 lower, and its µF1 is not more than 0.02 lower on any never-heard source;
       it does not join when µF1 falls by more than 0.02 on a source; otherwise it is undecided at this budget
       (with 100 clips per set a 95 % interval on µF1 is about ±0.04) and is rerun at a longer budget.

    This rule is not amended after the run; an amended rule is a new rule, judged on fresh development seeds
    (1,020,500+).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

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
DEV_SEED = 1_020_000
COUNTS: tuple[int, ...] = (1, 2, 4, 8, 16, 64)
ALL_GUITARS = 900_000  # len(ddspfx.sources.procedural.TRAIN_IDS): "all" draws a fresh one of them per clip
COMMON: tuple[str, ...] = ("--model.input_level", "true")
ADVERSARY_WEIGHT = 0.1
SOURCES: tuple[tuple[str, str], ...] = (("held-out procedural", "procedural:heldout"), ("GM bank", "sf2:gmbank"),
                                        ("TimGM6mb", "sf2:timgm6mb"), ("tonejs electric", "tonejs:electric"),
                                        ("tonejs acoustic", "tonejs:acoustic"))
"""(name, spec) of the never-heard guitars: no variant trains on any of them; "mean" is over these."""
OPTIONAL: frozenset[str] = frozenset({"tonejs:electric", "tonejs:acoustic"})
"""Never-heard sources left out (one line on stderr) where the harness cannot load them; the others must load."""
IN_DISTRIBUTION = ("training guitars", "procedural")
"""(name, spec) of the reference: the training guitars' own distribution, reported beside the mean, not in it."""
BASELINES: tuple[tuple[str, str], ...] = (("no pedal", "no effect (dry)"), ("random chain", "random chain"))
"""(row name here, the harness's reference system) shown beside the models."""


def variant_name(count: int | None) -> str:
    return "all guitars" if count is None else f"{count} guitar{'s' if count > 1 else ''}"


def harness_cannot_load(spec: str) -> str:
    """Why the harness cannot draw a clip of ``spec`` on this machine ("" when it can): one clip down its own path
    (the harness builds its sets from ``experiments.evaluation.sets.make_dry_source``: a ``ddspfx.sources`` spec or a
    recorded tonejs guitar, fetched with npm on first use)."""
    from experiments.evaluation.sets import make_dry_source

    try:
        make_dry_source(spec).sample(np.random.default_rng(0), 0.5)
    except (DdspfxError, OSError) as exc:
        return str(exc)
    return ""


def scored_sources(cannot_load: Callable[[str], str] = harness_cannot_load
                   ) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
    """(the never-heard sources to score, {left-out spec: why}): an :data:`OPTIONAL` source that cannot load is
    left out with one line on stderr; any other source is scored, and fails loudly if it cannot load."""
    kept, left_out = [], {}
    for name, spec in SOURCES:
        why = cannot_load(spec) if spec in OPTIONAL else ""
        if why:
            left_out[spec] = why
            print(f"[{NAME}] {spec} left out of the test sets: the harness cannot load it here ({why})",
                  file=sys.stderr)
        else:
            kept.append((name, spec))
    return tuple(kept), left_out


def ablation(adversary: bool = True, sources: Sequence[tuple[str, str]] = SOURCES) -> Ablation:
    variants = [Variant(variant_name(n), COMMON + ("--data.source", f"procedural:{n}"), "tokens",
                        f"The first {n} procedural training guitar{'s' if n > 1 else ''}.") for n in COUNTS]
    variants.append(Variant(variant_name(None), COMMON + ("--data.source", "procedural"), "tokens",
                            "A fresh procedural training guitar per clip (900,000 of them)."))
    if adversary:
        variants.append(Variant("all guitars + adversary",
                                COMMON + ("--data.source", "procedural", "--loss.adversary", f"{ADVERSARY_WEIGHT:g}"),
                                "tokens", "All guitars, and a guitar-identity adversary through gradient reversal."))
    test_sets = []
    for name, spec in (*sources, IN_DISTRIBUTION):
        test_sets += [TestSet(f"{name}, chains", spec, "uniform"), TestSet(f"{name}, clean", spec, "uniform", max_effects=0)]
    return Ablation(
        name=NAME, title="the source-count curve: 1 to all procedural training guitars",
        question="Does the number of distinct training guitars decide how well the answer holds on guitars the "
                 "model never heard, and where does it stop paying?",
        variants=variants, test_sets=test_sets, references=tuple(theirs for _, theirs in BASELINES),
        notes=["Every variant trains from scratch (or, with --warm-start, from the same model) for the same steps "
               "from the same weight seed.",
               "Clean test sets: every reported pedal is a false alarm; alarm rate = 1 - their 'exact chain'.",
               "No variant trains on a never-heard source: held-out procedural ids (900,000+) are never drawn by a "
               "training spec, and no variant trains on a SoundFont or a recording.",
               f"'{IN_DISTRIBUTION[0]}' ({IN_DISTRIBUTION[1]}): the distribution every variant draws its guitars "
               "from, as a reference; not in the never-heard mean."])


def warm_start(spec: str) -> Path:
    """The model file ``--warm-start`` names; refused when missing, or when its card says it heard a test source."""
    from experiments.evaluation.sets import heard

    path = Path(spec)
    path = path / "model.safetensors" if path.is_dir() else path
    if not path.is_file():
        raise DdspfxError(f"--warm-start {spec}: no such model; pass a model.safetensors or a run folder")
    from ddspfx.checkpoint import read_sidecar, sidecar_path

    # the card read as every model's is (a corrupt one is a one-line error); no card: nothing says what it heard
    meta = read_sidecar(path) if sidecar_path(path).is_file() else {}
    trained_on = str(meta.get("data", {}).get("source", ""))
    hit = [s for _, s in SOURCES if trained_on and heard(s, trained_on) == "yes"]
    if hit:
        raise DdspfxError(f"--warm-start {spec} trained on {trained_on}, which plays the test source(s) "
                          f"{', '.join(hit)}; start from scratch or from a model that heard none of them")
    return path


def guitar_count(rec: dict[str, Any]) -> int:
    """The number of distinct training guitars of a variant, from the source it trained on."""
    source = str(rec["data"]["source"])
    if source == "procedural":
        return ALL_GUITARS
    head, _, count = source.partition(":")
    if head != "procedural" or not count.isdigit():
        raise DdspfxError(f"variant trained on {source!r}, not on procedural guitars")
    return int(count)


def never_heard(results: dict[str, Any]) -> list[str]:
    """The never-heard sources a run scored (a left-out one has no test set), in :data:`SOURCES` order."""
    return [name for name, _ in SOURCES if f"{name}, chains" in results["test_sets"]]


def curve(results: dict[str, Any]) -> dict[str, Any]:
    """Per variant that ran: its guitar count and, per scored never-heard source, their mean and the training
    guitars, µF1, precision and clean-clip alarms; the same for the reference systems."""
    names = never_heard(results)

    def scores(per_set: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        out = {}
        for name in (*names, IN_DISTRIBUTION[0]):
            chains, clean = per_set[f"{name}, chains"], per_set[f"{name}, clean"]
            out[name] = {"micro_f1": float(chains["micro_f1"]), "precision": float(chains["micro_precision"]),
                         "alarms": 1.0 - float(clean["exact_chain_acc"])}
        out["mean"] = {k: float(np.mean([out[n][k] for n in names])) for k in ("micro_f1", "precision", "alarms")}
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
    return {"never_heard": names, "variants": rows, "baselines": refs}


def _x_label(guitars: int) -> str:
    return "all" if guitars == ALL_GUITARS else str(guitars)


def curve_markdown(c: dict[str, Any], meta: dict[str, Any]) -> str:
    names = c["never_heard"]
    cols = [*names, "mean", IN_DISTRIBUTION[0]]
    specs = dict(SOURCES)
    left = "".join(f" Left out: `{spec}` ({why})." for spec, why in meta["left_out"].items())
    lines = ["# The source-count curve", "", f"Command: `{meta['command']}`  ",
             f"Code: git `{meta['git_commit']}` (clean tree: {meta['clean_tree']}).  ",
             f"Warm start: {meta['warm_start'] or 'none (from scratch)'}"
             + (f", SHA-256 `{meta['warm_start_sha256']}`" if meta["warm_start"] else "") + ".  ",
             f"Test clips: {meta['n_test']} per set, development seeds {meta['seeds'][0]:,}.."
             f"{meta['seeds'][1] - 1:,}; never-heard guitars (mean): "
             f"{', '.join(f'{n} (`{specs[n]}`)' for n in names)}; in distribution: {IN_DISTRIBUTION[0]} "
             f"(`{IN_DISTRIBUTION[1]}`), not in the mean.{left}", ""]
    for key, title in (("micro_f1", "presence µF1 (chains)"), ("precision", "precision (chains)"),
                       ("alarms", "clean-clip alarm rate (lower is better)")):
        lines += [f"## {title}", "", "| system | training guitars | steps | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 3) + "|"]
        for name, row in c["variants"].items():
            s = row["scores"]
            lines.append(f"| {name} | {_x_label(row['guitars'])} | {row['steps']} | "
                         + " | ".join(f"{s[n][key]:.3f}" for n in cols) + " |")
        for name, s in c["baselines"].items():
            lines.append(f"| {name} | – | – | " + " | ".join(f"{s[n][key]:.3f}" for n in cols) + " |")
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
        for src in [*c["never_heard"], "mean", IN_DISTRIBUTION[0]]:
            xs = [xpos(g) for g, _ in plain]
            ys = [c["variants"][n]["scores"][src][key] for _, n in plain]
            ax.plot(xs, ys, marker="o", lw=2.2 if src == "mean" else 1.0, color="k" if src == "mean" else None,
                    ls="--" if src == IN_DISTRIBUTION[0] else "-",
                    label=f"{src} (in distribution)" if src == IN_DISTRIBUTION[0] else src)
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


def parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the study's: from scratch, 600 steps, development seeds 21,020,000+."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap, NAME, default_budget_min=0.0, default_n_test=100)
    ap.add_argument("--warm-start", default="", metavar="MODEL",
                    help="fine-tune every variant from these weights (a model.safetensors or run folder) instead of "
                         "training from scratch")
    ap.add_argument("--resume", action="store_true",
                    help="keep the variants whose model already exists in --out (same config) instead of refusing")
    ap.add_argument("--no-adversary", action="store_true", help="leave out the 'all guitars + adversary' variant")
    ap.set_defaults(seed=DEV_SEED, steps=600)
    return ap


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.steps < 1:
        raise DdspfxError(f"--steps must be at least 1, got {args.steps}")
    warm_sha = ""
    if args.warm_start:
        warm = warm_start(args.warm_start)
        warm_sha = file_sha256(warm)
        args.extra = [*args.extra, f"trainer.init_from={warm.resolve()}"]
    refuse_finished_runs(args, ablation(adversary=not args.no_adversary))  # a refusal is the only line printed
    sources, left_out = scored_sources()
    ab = ablation(adversary=not args.no_adversary, sources=sources)
    budget = budget_from_args(args)
    command = command_line("ablate_sources.py", argv)
    results = run_ablation(ab, budget, args.out, command, selected(args))
    meta = {**provenance(command), "warm_start": args.warm_start, "warm_start_sha256": warm_sha, "n_test": budget.n_test,
            "seeds": results["test_sets"][f"{sources[0][0]}, chains"]["seeds"], "left_out": left_out}
    c = curve(results)
    atomic_write_text(args.out / "curve.json", json.dumps({"meta": meta, **c}, indent=1))
    atomic_write_text(args.out / "curve.md", curve_markdown(c, meta))
    plot_curve(args.out / "curve.png", c)
    print((args.out / "curve.md").read_text())
    print(f"wrote {args.out / 'curve.md'}, curve.json, curve.png and the harness's table.md, results.json, bars.png",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
