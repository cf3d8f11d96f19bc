"""The shared ablation runner: train named variants, score them on one held-out set, write a table.

An ablation is a list of :class:`Variant` s (config overrides on top of a base config, plus how the
trained model's predictions are read out) and a list of :class:`TestSet` s. :func:`run_ablation`

1. trains every distinct override set once through ``ddspfx.training.train`` (training's
   Python entry) with the same wall-clock budget per variant (``trainer.max_time_min``; the LR
   cosine follows time, so every run ends at its low learning rate), under
   ``<out>/runs/<variant>/`` (git-ignored); a finished run with the identical config is reused;
2. generates each test set once from the evaluation seeds (``ddspfx.scoring.make_examples``:
   20,000,000 + ``--seed`` onwards, disjoint from training 0.. and validation 10,000,000..), so
   every variant is scored on the same clips by the evaluator's own ``Scorer`` (``ddspfx.scoring``);
3. writes ``<out>/table.md`` (one row per variant per test set, then the evaluator's untrained
   reference systems), ``<out>/results.json`` and ``<out>/bars.png``. Each table states the seeds,
   the data sizes and the compute (device, wall time and optimisation steps per variant).

Budgets: on a GPU use ``--config gpu --scale 10`` (``--scale`` multiplies the training budget and
the test-set size). ``--smoke`` runs the debug config for a few steps on 8 test clips (tests).
The scripts ``experiments/ablate_*.py`` define the variants; this module is not run directly. The read-out
scripts (one trained checkpoint, no training) share its command-line helpers and table writer at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import yaml

from ddspfx.chain import Chain
from ddspfx.config import TEST_SEED_BASE, Config, load_config, parse_overrides
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.scoring import LabelledClip, Scorer, baseline_systems, make_examples
from experiments.evaluation.sets import make_dry_source

if TYPE_CHECKING:
    from ddspfx.sampler import Order

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "experiments" / "results"

NO_EFFECT = "no effect (dry)"
"""The reference system that names no pedal, scored beside every ablation's variants."""

Decoder = Callable[[Any, list[LabelledClip], "DecodeSettings"], list[Chain]]
"""(trained DdspfxModel, test examples, settings) -> one predicted Chain per example."""


@dataclass
class Variant:
    """One row of an ablation: how the model is trained (overrides) and how it is read out (decoder)."""

    name: str
    overrides: tuple[str, ...] = ()  # "--section.key", "VALUE" pairs on top of the base config
    decoder: str = "tokens"  # key of DECODERS (or of the ablation's own decoders)
    note: str = ""  # one line for the table: what this variant is
    skip: str = ""  # non-empty: not run; the reason is written in its row


@dataclass
class TestSet:
    """A held-out set: dry source and chain prior (chain length: the base config's by default)."""

    name: str
    source: str = "synth"
    order: Order = "uniform"
    max_effects: int | None = None


@dataclass
class Ablation:
    name: str  # results folder name
    title: str
    question: str  # what the ablation measures, for the top of the table
    variants: list[Variant]
    test_sets: list[TestSet]
    decoders: dict[str, Decoder] = field(default_factory=dict)  # extra readouts beside DECODERS
    notes: list[str] = field(default_factory=list)  # method notes written under the tables
    references: tuple[str, ...] | None = None  # reference systems scored beside "no effect (dry)"; None = all of
    # ``ddspfx.scoring.baseline_systems`` (a study naming the rows it reads skips the others' scoring)


@dataclass
class DecodeSettings:
    beam: int
    device: str
    max_effects: int  # longest chain the decoders may return
    batch_size: int = 16


@dataclass
class Budget:
    """Training/eval size of one invocation, after --scale and --smoke."""

    config: str
    minutes: float  # wall-clock limit per trained variant (0 = none, steps only)
    max_steps: int | None  # None: the config's own
    n_test: int
    beam: int
    seed: int
    tau: float
    extra: tuple[str, ...]  # user overrides applied to every variant (--set)


# --- read-outs ------------------------------------------------------------------------------


def batch_audio(model: Any, chunk: Sequence[LabelledClip], device: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A chunk of clips -> (wet (B, T), dry (B, T) for a dry-aware model, else None): a dry-aware model is scored
    hearing each clip's own dry, as the pedals did (without it, it cannot answer at all)."""
    wet = torch.from_numpy(np.stack([ex.wet for ex in chunk]).astype(np.float32)).to(device)
    if not getattr(model, "hears_dry", False):
        return wet, None
    return wet, torch.from_numpy(np.stack([ex.dry for ex in chunk]).astype(np.float32)).to(device)


def decode_tokens(model: Any, examples: list[LabelledClip], s: DecodeSettings, effect_set: str | None = None
                  ) -> list[Chain]:
    """The model's own inference: grammar-constrained beam search over pedal tokens (and the model config's
    order search), values from the parameter head; a dry-aware model hears each clip's dry (:func:`batch_audio`).

    ``effect_set``: who picks the effects ("decoder" or "presence"); None = the model config's (shipped) choice.
    """
    out: list[Chain] = []
    for i in range(0, len(examples), s.batch_size):
        wet, dry = batch_audio(model, examples[i:i + s.batch_size], s.device)
        out += [p.chain for p in model.predict(wet, beam=s.beam, effect_set=effect_set, dry=dry)]
    return out


def decode_tokens_own_set(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[Chain]:
    """Beam search over pedal tokens where the token decoder also chooses the effects (no presence head)."""
    return decode_tokens(model, examples, s, effect_set="decoder")


@torch.no_grad()
def head_outputs(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[dict[str, np.ndarray]]:
    """Per clip: presence probabilities (N,), Sinkhorn soft permutation (N, N), normalised params (N, P); a
    dry-aware model hears each clip's dry (:func:`batch_audio`)."""
    from ddspfx.model.sinkhorn import sinkhorn

    model.eval()
    rows: list[dict[str, np.ndarray]] = []
    for i in range(0, len(examples), s.batch_size):
        wet, dry = batch_audio(model, examples[i:i + s.batch_size], s.device)
        memory, mask = model.encode(wet, dry=dry)
        h = model.heads(memory, mask)
        perm = sinkhorn(h["perm_logits"].float(), tau=model.config.sinkhorn_tau, n_iters=model.config.sinkhorn_iters)
        for b in range(wet.shape[0]):
            rows.append({"presence": torch.sigmoid(h["presence_logits"][b]).float().cpu().numpy(),
                         "perm": perm[b].cpu().numpy(), "params": h["params"][b].float().cpu().numpy()})
    return rows


def heads_chain(h: dict[str, np.ndarray], max_effects: int, threshold: float = 0.5) -> Chain:
    """Presence gates > threshold (at most the ``max_effects`` most confident) in the Hungarian order of the
    switching matrix, with the parameter head's values: how a model trained without token CE is read."""
    from ddspfx.proxies.switching import targets_to_chain

    gates = h["presence"].copy()
    keep = np.argsort(-gates)[:max_effects]
    capped = np.zeros_like(gates)
    capped[keep] = gates[keep]
    return targets_to_chain(h["perm"], capped, h["params"], threshold=threshold)


def decode_heads(model: Any, examples: list[LabelledClip], s: DecodeSettings) -> list[Chain]:
    """Read the chain from the continuous heads only (no token decoder); see :func:`heads_chain`."""
    return [heads_chain(h, s.max_effects) for h in head_outputs(model, examples, s)]


DECODERS: dict[str, Decoder] = {"tokens": decode_tokens, "tokens-own-set": decode_tokens_own_set, "heads": decode_heads}
DECODER_NOTES: dict[str, str] = {
    "tokens": "beam search over pedal tokens with the config's effect_set and order_search (the shipped inference; "
              "a dry-aware model hears each clip's dry)",
    "tokens-own-set": "beam search over pedal tokens; the token decoder also picks the effects (then the config's "
                      "order_search)",
    "heads": "presence head > 0.5 -> set; Hungarian order of the Sinkhorn switching matrix; parameter head values",
}


# --- training -------------------------------------------------------------------------------


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "variant"


def variant_config(budget: Budget, variant: Variant) -> Config:
    """Base config < budget (time/steps) < the variant's overrides < the user's --set overrides."""
    data: dict[str, Any] = {"trainer": {"max_time_min": budget.minutes}}
    if budget.max_steps is not None:
        data["trainer"]["max_steps"] = budget.max_steps
    for extra in (parse_overrides(variant.overrides), parse_overrides(budget.extra)):
        data = _merge(data, extra)
    return load_config(budget.config, data)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def describe_device(cfg: Config) -> str:
    if cfg.trainer.accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}, precision {cfg.trainer.precision}"
    return (f"CPU {platform.machine()} ({os.cpu_count()} cores, shared), torch threads {cfg.trainer.threads}, "
            f"{cfg.data.num_workers} data worker(s)")


def train_variant(cfg: Config, run_dir: Path, command: str) -> dict[str, Any]:
    """Train (or reuse an identical finished run); returns {model, seconds, steps, reused, metrics}."""
    from ddspfx.training import train

    model_path = run_dir / "model.safetensors"
    wanted = yaml.safe_dump(cfg.to_dict(), sort_keys=False)
    if run_dir.exists():
        saved = run_dir / "config.yaml"
        same = saved.is_file() and saved.read_text() == wanted
        if same and model_path.is_file():
            meta = json.loads(model_path.with_suffix(".json").read_text())
            metrics = meta.get("metrics", {})
            return {"model": str(model_path), "seconds": float(meta.get("notes", {}).get("train_seconds_this_session", 0.0)),
                    "steps": int(metrics.get("global_step", 0)), "reused": True, "metrics": metrics}
        raise DdspfxError(f"{run_dir} holds an unfinished run or one with another config; delete it or pass another --out")
    result = train(cfg, run_dir, progress=False, command=command)
    return {"model": str(result["model"]), "seconds": float(result["seconds"]),
            "steps": int(result["metrics"].get("global_step", 0)), "reused": False, "metrics": result["metrics"]}


# --- the run --------------------------------------------------------------------------------


def run_ablation(ab: Ablation, budget: Budget, out: Path, command: str, only: Sequence[str] = ()) -> dict[str, Any]:
    """Train, evaluate and report every variant of ``ab``; returns the results.json content."""
    from ddspfx.checkpoint import load_model
    from ddspfx.sampler import SamplerConfig

    torch.set_num_threads(1)
    t_start = time.time()
    variants = [v for v in ab.variants if not only or v.name in only]
    if only and len(variants) != len(set(only)):
        known = ", ".join(v.name for v in ab.variants)
        raise DdspfxError(f"--variants names one that {ab.name} does not have; its variants: {known}")
    decoders = {**DECODERS, **ab.decoders}
    for v in variants:
        if v.decoder not in decoders:
            raise DdspfxError(f"variant {v.name!r}: unknown decoder {v.decoder!r}")
    references = [*baseline_systems(SamplerConfig(max_effects=0), budget.seed), NO_EFFECT]
    if ab.references is not None and set(ab.references) - set(references):
        raise DdspfxError(f"{ab.name}: unknown reference system(s) {sorted(set(ab.references) - set(references))}; "
                          f"known: {', '.join(references)}")
    base = load_config(budget.config, parse_overrides(budget.extra))
    device = "cuda" if base.trainer.accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available() else "cpu"

    # 1. train each distinct config once
    trained: dict[str, dict[str, Any]] = {}  # config yaml -> record
    records: dict[str, dict[str, Any]] = {}
    for v in variants:
        rec: dict[str, Any] = {"overrides": list(v.overrides), "decoder": v.decoder, "note": v.note, "skip": v.skip}
        records[v.name] = rec
        if v.skip:
            continue
        cfg = variant_config(budget, v)
        key = yaml.safe_dump(cfg.to_dict(), sort_keys=True)
        if key not in trained:
            run_dir = out / "runs" / slug(v.name)
            limit = f"{budget.minutes:g} min" if budget.minutes > 0 else f"{cfg.trainer.max_steps} steps"
            print(f"[{ab.name}] {v.name!r}: {limit} budget -> {run_dir}", file=sys.stderr, flush=True)
            trained[key] = train_variant(cfg, run_dir, f"{command}  # variant {v.name}")
            if trained[key]["reused"]:
                print(f"[{ab.name}] {v.name!r}: reused the finished run in {run_dir} (same config)", file=sys.stderr)
            trained[key]["trained_as"] = v.name
            trained[key]["device"] = describe_device(cfg)
        rec["train"] = trained[key]
        rec["data"] = {"source": cfg.data.source, "order": cfg.data.order, "effects": f"{cfg.data.min_effects}-{cfg.data.max_effects}",
                       "clip_s": cfg.data.duration_s, "batch_size": cfg.data.batch_size,
                       "clips_seen": rec["train"]["steps"] * cfg.data.batch_size}
        rec["cfg_max_effects"] = cfg.model.max_effects

    # 2. the same held-out clips for every variant; 3. score
    results: dict[str, Any] = {"variants": {}, "baselines": {}, "test_sets": {}}
    models: dict[str, Any] = {}
    for ts in ab.test_sets:
        max_eff = base.data.max_effects if ts.max_effects is None else ts.max_effects  # 0: clean clips only
        print(f"[{ab.name}] test set {ts.name!r}: {budget.n_test} clips", file=sys.stderr, flush=True)
        examples = make_examples(make_dry_source(ts.source), budget.n_test, budget.seed, base.data.duration_s, max_eff,
                                 ts.order)
        results["test_sets"][ts.name] = {"source": ts.source, "order": ts.order, "effects": f"0-{max_eff}",
                                         "n": budget.n_test, "clip_s": base.data.duration_s,
                                         "seeds": [TEST_SEED_BASE + budget.seed, TEST_SEED_BASE + budget.seed + budget.n_test]}
        for v in variants:
            rec = records[v.name]
            if v.skip:
                continue
            path = rec["train"]["model"]
            if path not in models:
                models[path] = load_model(path).to(device).eval()
            settings = DecodeSettings(beam=budget.beam, device=device, max_effects=rec["cfg_max_effects"])
            t0 = time.time()
            preds = decoders[v.decoder](models[path], examples, settings)
            decode_s = time.time() - t0
            sc = Scorer(tau=budget.tau)
            for ex, pred in zip(examples, preds):
                sc.add(ex, pred)
            rec.setdefault("results", {})[ts.name] = {**sc.summary(), "decode_seconds": decode_s}
        refs: dict[str, dict[str, float]] = {}
        systems = baseline_systems(SamplerConfig(max_effects=max_eff, order=ts.order), budget.seed)
        systems[NO_EFFECT] = lambda ex: Chain()
        for name, system in systems.items():
            if ab.references is not None and name not in (*ab.references, NO_EFFECT):
                continue
            sc = Scorer(tau=budget.tau)
            for ex in examples:
                sc.add(ex, system(ex))
            refs[name] = sc.summary()
        results["baselines"][ts.name] = refs
    results["variants"] = records
    results["meta"] = {
        "ablation": ab.name, "title": ab.title, "command": command, "budget": asdict(budget),
        "base_config": budget.config, "device": describe_device(base), "eval_device": device,
        "train_seeds": [0, base.data.train_size], "val_seeds": [10_000_000, 10_000_000 + base.data.val_size],
        "weight_seed": base.trainer.seed, "wall_seconds": time.time() - t_start,
        "load_average_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1, default=str))
    atomic_write_text(out / "table.md", markdown(ab, results))
    plot_bars(out / "bars.png", ab, results)
    return results


# --- report ---------------------------------------------------------------------------------

TABLE_COLUMNS: list[tuple[str, str]] = [
    ("micro_precision", "precision"), ("micro_recall", "recall"), ("micro_f1", "presence µF1"), ("exact_chain_acc", "exact chain"), ("equivalent_chain_acc", "equiv. chain (τ)"),
    ("pairwise_order_acc_nonlinear", "pair order (nonlin)"), ("chain_length_mae", "length MAE"),
    ("param_error", "param err"), ("rerender_mrstft", "re-render MRSTFT"), ("rerender_sisdr_db", "SI-SDR dB"),
]


def _fmt(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.3f}"


def variant_rows(ab: Ablation, results: dict[str, Any], test_set: str) -> list[str]:
    head = "| variant | decoder | steps | train min | " + " | ".join(c for _, c in TABLE_COLUMNS) + " |"
    rows = [head, "|---" * (len(TABLE_COLUMNS) + 4) + "|"]
    for name, rec in results["variants"].items():
        if rec["skip"]:
            rows.append(f"| {name} | {rec['decoder']} | — | — | not run: {rec['skip']} |" + " |" * (len(TABLE_COLUMNS) - 1))
            continue
        r = rec["results"][test_set]
        tr = rec["train"]
        rows.append(f"| {name} | {rec['decoder']} | {tr['steps']} | {tr['seconds'] / 60:.1f} | "
                    + " | ".join(_fmt(r.get(k)) for k, _ in TABLE_COLUMNS) + " |")
    return rows


def markdown(ab: Ablation, results: dict[str, Any]) -> str:
    m = results["meta"]
    b = m["budget"]
    trained = {rec["train"]["trained_as"]: rec["train"] for rec in results["variants"].values() if not rec["skip"]}
    lines = [
        f"# Ablation: {ab.title}", "", ab.question, "",
        f"Command: `{m['command']}`  ",
        f"Base config `{m['base_config']}`; extra overrides: {' '.join(b['extra']) or 'none'}. "
        f"Training: {len(trained)} run(s), each limited to "
        + (f"{b['minutes']:g} min wall clock" if b["minutes"] > 0 else "no wall-clock limit")
        + (f" and {b['max_steps']} steps" if b["max_steps"] is not None else " (and the config's max_steps)")
        + f", weight seed {m['weight_seed']}, training examples generated on the fly from seeds "
          f"{m['train_seeds'][0]}..{m['train_seeds'][1]:,} (validation seeds {m['val_seeds'][0]:,}+, {m['val_seeds'][1] - m['val_seeds'][0]} clips).  ",
        f"Compute: {m['device']}; evaluation on {m['eval_device']}; whole ablation {m['wall_seconds'] / 60:.1f} min wall"
        + (f" (load average {m['load_average_end']:.1f} at the end)" if m.get("load_average_end") is not None else "") + ".  ",
        f"Scoring: `ddspfx.scoring.Scorer` (τ = {b['tau']}), beam {b['beam']}.",
        "",
    ]
    for ts, info in results["test_sets"].items():
        lines += [f"## Test set: {ts}", "",
                  f"{info['n']} clips of {info['clip_s']:g} s, source {info['source']}, chains of {info['effects']} effects "
                  f"({info['order']} order), seeds {info['seeds'][0]:,}..{info['seeds'][1] - 1:,}.", ""]
        lines += variant_rows(ab, results, ts)
        lines.append("")
    lines += ["## Variants", ""]
    for name, rec in results["variants"].items():
        ov = " ".join(rec["overrides"]) or "(base config)"
        extra = ""
        if not rec["skip"]:
            tr, d = rec["train"], rec["data"]
            extra = (f" Trained as {tr['trained_as']!r}{' (reused run)' if tr['reused'] else ''}: {tr['steps']} steps, "
                     f"{tr['seconds'] / 60:.1f} min, {d['clips_seen']:,} clips seen ({d['source']}, {d['order']} order, "
                     f"{d['effects']} effects, {d['clip_s']:g} s).")
        lines.append(f"- **{name}** — {rec['note']} Overrides: `{ov}`. Decoder: {DECODER_NOTES.get(rec['decoder'], rec['decoder'])}.{extra}")
    if ab.notes:
        lines += ["", "## Method notes", ""] + [f"- {n}" for n in ab.notes]
    lines += ["", "## Reference systems (no training)", ""]
    for ts, refs in results["baselines"].items():
        lines += [f"Test set {ts}:", "", "| system | " + " | ".join(c for _, c in TABLE_COLUMNS) + " |",
                  "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
        lines += [f"| {name} | " + " | ".join(_fmt(r.get(k)) for k, _ in TABLE_COLUMNS) + " |" for name, r in refs.items()]
        lines.append("")
    lines.append("![bars](bars.png)")
    return "\n".join(lines) + "\n"


BAR_METRICS: list[tuple[str, str]] = [("micro_f1", "presence µF1"), ("exact_chain_acc", "exact chain"),
                                      ("equivalent_chain_acc", "equiv. chain"), ("pairwise_order_acc_nonlinear", "pair order")]


def plot_bars(path: Path, ab: Ablation, results: dict[str, Any]) -> None:
    """Grouped bars: one panel per test set, one group per metric, one bar per variant that ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, rec in results["variants"].items() if not rec["skip"]]
    sets = list(results["test_sets"])
    fig, axes = plt.subplots(len(sets), 1, figsize=(8, 3.2 * len(sets)), squeeze=False)
    width = 0.8 / max(1, len(names))
    for ax, ts in zip(axes[:, 0], sets):
        for i, n in enumerate(names):
            r = results["variants"][n]["results"][ts]
            vals = [r.get(k, float("nan")) for k, _ in BAR_METRICS]
            ax.bar(np.arange(len(BAR_METRICS)) + (i - (len(names) - 1) / 2) * width, vals, width, label=n)
        ax.set_xticks(range(len(BAR_METRICS)), [c for _, c in BAR_METRICS])
        ax.set_ylim(0, 1)
        ax.set_title(f"{ab.title}: test set {ts} (n={results['test_sets'][ts]['n']})", fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    skipped = [n for n, rec in results["variants"].items() if rec["skip"]]
    if skipped:
        fig.text(0.01, 0.005, "not run: " + ", ".join(skipped), fontsize=7)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


# --- command line shared by the ablate_*.py scripts -----------------------------------------


def add_common_args(ap: argparse.ArgumentParser, name: str, default_budget_min: float | None, default_n_test: int,
                    budget_help: str = "") -> None:
    """The options every ablation script shares; ``default_budget_min=None``: the script sets it (``budget_help``)."""
    ap.add_argument("--config", default="default", help="base config: default | gpu | debug | PATH.yaml (default: default)")
    ap.add_argument("--budget-min", type=float, default=default_budget_min,
                    help="training wall-clock minutes per trained variant (default "
                         + (f"{default_budget_min:g})" if default_budget_min is not None else f"{budget_help})"))
    ap.add_argument("--n-test", type=int, default=default_n_test, help=f"held-out clips per test set (default {default_n_test})")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply --budget-min and --n-test (e.g. 10 on a GPU)")
    ap.add_argument("--steps", type=int, default=None, help="also cap training at this many steps")
    ap.add_argument("--beam", type=int, default=4, help="beam width for token decoding (default 4)")
    ap.add_argument("--tau", type=float, default=0.1, help="audible-equivalence threshold of the evaluator")
    ap.add_argument("--seed", type=int, default=0, help="test-set seed offset (test seeds start at 20,000,000)")
    ap.add_argument("--variants", default="", help="comma-separated subset of variant names to run")
    ap.add_argument("--set", dest="extra", action="append", default=[], metavar="section.key=VALUE",
                    help="config override for every variant (repeatable)")
    ap.add_argument("--out", type=Path, default=RESULTS / name, help=f"output folder (default experiments/results/{name})")
    ap.add_argument("--smoke", action="store_true", help="debug config, 3 steps, 8 test clips, beam 1 (seconds; for tests)")


def add_stft_schedule_args(ap: argparse.ArgumentParser) -> None:
    """--stft-warmup / --stft-ramp: when the proxy MR-STFT term of the ablation's audio variants starts."""
    ap.add_argument("--stft-warmup", type=int, default=150,
                    help="steps before the proxy MR-STFT term starts (x --scale; default 150)")
    ap.add_argument("--stft-ramp", type=int, default=100, help="steps of the proxy-term ramp (x --scale; default 100)")


def stft_schedule(args: argparse.Namespace) -> tuple[int, int]:
    """(warm-up, ramp) steps from :func:`add_stft_schedule_args`, times --scale; (1, 1) for --smoke."""
    if args.smoke:
        return 1, 1
    return round(args.stft_warmup * args.scale), max(1, round(args.stft_ramp * args.scale))


def stft_overrides(warmup: int, ramp: int, weight: float = 1.0) -> tuple[str, ...]:
    """Config overrides that switch the proxy MR-STFT term on after ``warmup`` steps."""
    return ("--loss.stft", f"{weight:g}", "--loss.stft_warmup_steps", str(warmup), "--loss.stft_ramp_steps", str(ramp))


def split_budget(args: argparse.Namespace, ab: Ablation, total_min: float) -> None:
    """Without --budget-min, share ``total_min`` of training equally among the variants that can run."""
    if args.budget_min is None:
        runnable = [v for v in ab.variants if not v.skip and (not selected(args) or v.name in selected(args))]
        args.budget_min = total_min / max(1, len(runnable))


def budget_from_args(args: argparse.Namespace) -> Budget:
    if args.n_test < 1 or args.scale <= 0 or args.budget_min < 0 or args.beam < 1:
        raise DdspfxError("need --n-test >= 1, --scale > 0, --budget-min >= 0 and --beam >= 1")
    extra: list[str] = []
    for item in args.extra:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise DdspfxError(f"--set {item!r}: write section.key=VALUE, e.g. --set model.d_model=256")
        extra += [f"--{key.lstrip('-')}", value]
    if args.smoke:
        return Budget(config="debug", minutes=0.0, max_steps=3, n_test=8, beam=1, seed=args.seed, tau=args.tau,
                      extra=tuple(extra))
    return Budget(config=args.config, minutes=args.budget_min * args.scale, max_steps=args.steps,
                  n_test=max(1, round(args.n_test * args.scale)), beam=args.beam, seed=args.seed, tau=args.tau,
                  extra=tuple(extra))


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """The command that reproduces a run of ``experiments/<script>``: ``python -m experiments.<name> ARGS``."""
    module = "experiments." + Path(script).stem
    return " ".join(["python", "-m", module, shlex.join(list(sys.argv[1:] if argv is None else argv))]).strip()


def write_table(out: Path, title: str, command: str, header: str, table: str, payload: dict[str, Any]) -> None:
    """``out/table.md`` (title, command, header, table) and ``out/results.json`` (payload), written
    atomically, and the header and table printed: the report of a one-table experiment script."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "table.md", f"# {title}\n\nCommand: `{command}`\n\n{header}\n\n{table}\n")
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2))
    print(header)
    print(table)
    print(f"wrote {out / 'table.md'} and {out / 'results.json'}")


# --- read-out scripts: one trained checkpoint scored on held-out clips, no training ---------------


def add_readout_args(p: argparse.ArgumentParser, out: Path, n: int = 1000, batch: bool = True) -> None:
    """--checkpoint, --n, --seed (development seeds by default), [--batch], --out."""
    p.add_argument("--checkpoint", help="model (.safetensors or run folder); default: the shipped model")
    p.add_argument("--n", type=int, default=n, help=f"clips (default {n})")
    p.add_argument("--seed", type=int, default=700000, help="offset from the evaluation seeds (default 700000: dev)")
    if batch:
        p.add_argument("--batch", type=int, default=32)
    p.add_argument("--out", default=str(out))


def readout_setup(args: argparse.Namespace) -> tuple[Any, list[LabelledClip]]:
    """The checkpoint (eval mode, 1 CPU thread) and its ``args.n`` held-out synth clips (chains of
    0..max_effects, uniform order) from seed offset ``args.seed``."""
    from ddspfx.checkpoint import load_model

    if args.n < 1:
        raise DdspfxError("--n must be at least 1")
    torch.set_num_threads(1)
    model = load_model(args.checkpoint).eval()
    return model, make_examples("synth", args.n, args.seed, model.clip_seconds, model.config.max_effects, "uniform")


def predict_batched(model: Any, examples: Sequence[LabelledClip], batch: int, desc: str = "predict", **kwargs: Any) -> list:
    """``model.predict`` over the clips in batches of ``batch`` (kwargs: beam, order, ...)."""
    from tqdm import tqdm

    out: list = []
    for s in tqdm(range(0, len(examples), batch), desc=desc, unit="batch", leave=False):
        wet = torch.from_numpy(np.stack([ex.wet for ex in examples[s:s + batch]]).astype(np.float32))
        out += model.predict(wet, **kwargs)
    return out


def selected(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.variants.split(",") if s.strip()]


def refuse_finished_runs(args: argparse.Namespace, ab: Ablation) -> None:
    """Refuse an ``--out`` that already holds runs of the variants asked for, unless ``--resume`` keeps them: a new
    study must not silently mix its variants with an older study's."""
    names = [v.name for v in ab.variants if not selected(args) or v.name in selected(args)]
    there = [n for n in names if (args.out / "runs" / slug(n)).exists()]
    if there and not args.resume:
        raise DdspfxError(f"{args.out} already holds runs of {', '.join(there)}; pass --resume to keep the finished "
                          "ones, or another --out")


def provenance(command: str) -> dict[str, Any]:
    """The command, the git commit and whether the tree was clean: every study's summary records them."""
    from ddspfx.checkpoint import git_commit

    commit = git_commit(REPO)
    return {"command": command, "git_commit": commit, "clean_tree": not commit.endswith("-dirty")}


def report(results: dict[str, Any], out: Path) -> None:
    print((out / "table.md").read_text())
    print(f"wrote {out / 'table.md'}, {out / 'results.json'}, {out / 'bars.png'}", file=sys.stderr)


__all__ = ["Ablation", "Budget", "DecodeSettings", "TestSet", "Variant", "DECODERS", "add_common_args", "batch_audio",
           "budget_from_args",
           "decode_heads", "decode_tokens", "head_outputs", "heads_chain", "run_ablation", "variant_config"]
