"""How exact must each knob be for a re-render to reach 25 dB SI-SDR (issue 20)? Knob by knob, effect by effect.

``python -m experiments.sisdr_sensitivity [--n 40] [--seed 700000] [--seconds 3] [--source synth]
[--answers experiments/results/release_d1/dev_d1_measurement2.json] [--out experiments/results/sisdr_sensitivity]``

Issue 20 asks that the answer, re-rendered by pedalboard onto the dry, reach a median SI-SDR of 25 dB against
the wet clip. SI-SDR compares waveforms sample by sample, so a knob that is nearly right can still cost most of
it (a delay 1 ms late, an LFO whose phase has drifted). This study measures the cost with the true chain and one
knob moved by a known amount, so that no estimator is involved:

- ``--n`` dry clips from ``--source`` (clip i's dry is the dry of ``experiments.real_sources.make_set`` clip i:
  ``example_seed(TEST_SEED_BASE + seed, i)``; development seeds, never ``--seed 0``, which is the test set);
- for each catalog effect, its knobs drawn as training draws them: ``ddspfx.knobs.sample_params`` (what
  ``ChainSampler.sample`` calls for every pedal with the default ``check_audibility=False``: uniform in
  normalised space over each knob's audible sub-range, minus dead zones), from a generator seeded per (clip,
  effect); the one-pedal chain rendered with ``ddspfx.render.render_chain`` is the wet;
- one knob (or every knob of the pedal, the "all knobs" rows) moved by ``delta`` in its normalised [0, 1] scale
  (``ddspfx.catalog.normalise``), each knob's direction drawn once per (clip, effect) and kept for every delta so
  the deltas are paired; a move that would leave [0, 1] goes the other way instead of being clipped, so every
  knob moves by exactly ``delta`` (clipping only where both ways leave the range, which no ``delta`` <= 0.5
  does); knobs that are not moved keep their exact real value;
- the re-render's SI-SDR against the wet (``ddspfx.metrics.si_sdr``) and, for contrast, the MR-STFT distance
  refinement minimises (``ddspfx.metrics.MRSTFTDistance``).

Rows per effect: the dry itself (no pedal), ``delta`` 0 (the same chain rendered again: the float limit, a check),
each knob at each ``DELTAS`` value, all knobs at each value, and all knobs moved by our estimates' own typical
error (below). A second table does the same for chains of 3 distinct pedals in a random order (``ChainSampler``
with ``min_effects = max_effects = 3``), every knob of every pedal moved: how the errors compound.

"Our typical knob error" comes from ``--answers``: a ``experiments.with_dry`` results.json (default: the
dry-aware model's development run kept in ``experiments/results/release_d1/``, 100 clips each of tonejs:electric,
tonejs:acoustic and synth, pedalboard chains of 0-5 pedals). Per effect and knob: the median absolute normalised
error of the ``dry-aware`` answers on pedals that are in both the truth and the answer
(``ddspfx.metrics.knob_errors``). Without that file those columns are left out, with a note.

Outputs in ``--out``: ``report.md``, ``sensitivity.json`` (every row, with per-clip values) and
``sisdr_vs_knob_error.png``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: BLAS threads on a busy machine made each SI-SDR 10x slower

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
from collections.abc import Mapping, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE, Param, denormalise, get_effect, normalise  # noqa: E402
from ddspfx.chain import Chain, Pedal  # noqa: E402
from ddspfx.config import TEST_SEED_BASE  # noqa: E402
from ddspfx.data.dataset import example_seed  # noqa: E402
from ddspfx.errors import CliParser, DdspfxError, cli_entry  # noqa: E402
from ddspfx.fileio import atomic_write_text  # noqa: E402
from ddspfx.knobs import sample_params  # noqa: E402
from ddspfx.metrics import MRSTFTDistance, knob_errors, si_sdr  # noqa: E402
from ddspfx.render import render_chain  # noqa: E402
from ddspfx.sampler import ChainSampler, SamplerConfig  # noqa: E402

DELTAS: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1)
"""Knob offsets in the knob's normalised [0, 1] scale (a full-range knob of 0.001 is a thousandth of its travel)."""

TARGET_DB = 25.0
"""Issue 20's target: median SI-SDR of the re-render against the wet (dB)."""

ALL = "all knobs"
OURS = "our errors"
"""Rows where every knob moves by its own median error of the dry-aware answers (see ``knob_error_table``)."""

CHAIN3 = "3-pedal chain"
DRY_ROW = "dry itself"
Key = tuple[str, str, str, float | str]
"""A row: (table ``single`` or ``chain3``, effect or ``CHAIN3``, knob or ``ALL`` / ``DRY_ROW`` / ``OURS``, delta
or ``"dry"`` / ``"ours"``)."""

DEFAULT_ANSWERS = "experiments/results/release_d1/dev_d1_measurement2.json"
ANSWER_SYSTEM = "dry-aware"
"""The system of ``--answers`` whose knob errors are read (``experiments.with_dry.DRY_AWARE``)."""


# --- perturbation and scoring ---------------------------------------------------------------


def perturb(u: np.ndarray, delta: float | np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Normalised knobs ``u`` (P,) moved by ``delta`` (scalar or (P,)) in the directions ``signs`` (P,) of +-1.

    A move that would leave [0, 1] goes the other way, so the offset is exactly ``delta``; only where both ways
    leave the range (``delta`` above both ``u`` and ``1 - u``) is the result clipped.
    """
    u = np.asarray(u, dtype=np.float64)
    step = np.asarray(signs, dtype=np.float64) * np.asarray(delta, dtype=np.float64)
    moved = u + step
    moved = np.where((moved < 0.0) | (moved > 1.0), u - step, moved)
    return np.clip(moved, 0.0, 1.0)


def perturbed_pedal(pedal: Pedal, knobs: Sequence[int], delta: float | np.ndarray, signs: np.ndarray) -> Pedal:
    """``pedal`` with the knobs at indices ``knobs`` (catalog order) moved by ``delta`` (see :func:`perturb`);
    the other knobs keep their exact real values (no normalise/denormalise round trip)."""
    eff = get_effect(pedal.effect)
    u = np.array([normalise(pedal.params[p.name], p) for p in eff.params])  # (P,)
    moved = perturb(u, delta, signs)
    params = dict(pedal.params)
    for k in knobs:
        p = eff.params[k]
        params[p.name] = float(denormalise(float(moved[k]), p))
    return Pedal(pedal.effect, params)


def perturbed_chain(chain: Chain, delta: float | Sequence[np.ndarray], signs: Sequence[np.ndarray]) -> Chain:
    """Every knob of every pedal moved; ``delta`` a scalar or one (P,) array per pedal, ``signs`` one per pedal."""
    deltas: list[float | np.ndarray] = [float(delta)] * len(chain) if isinstance(delta, (int, float)) else list(delta)
    return Chain([perturbed_pedal(p, range(len(p.params)), d, s) for p, d, s in zip(chain, deltas, signs)])


@dataclass
class Scores:
    """Per-clip figures of one row: SI-SDR (dB) and MR-STFT distance of the re-render against the wet."""

    sisdr: list[float] = field(default_factory=list)
    mrstft: list[float] = field(default_factory=list)

    def add(self, estimate: np.ndarray, wet: np.ndarray, distance: MRSTFTDistance | None) -> None:
        self.sisdr.append(si_sdr(estimate, wet))
        self.mrstft.append(distance(estimate, wet) if distance is not None else math.nan)

    def summary(self) -> dict[str, float]:
        s = np.asarray(self.sisdr)
        return {"sisdr_median": float(np.median(s)), "sisdr_p10": float(np.percentile(s, 10)),
                "share_25": float(np.mean(s >= TARGET_DB)), "mrstft_median": float(np.median(self.mrstft))}


def rerender(dry: np.ndarray, chain: Chain, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``chain`` rendered onto ``dry`` exactly as the wet was (``render_chain``, output-gain rule included)."""
    return render_chain(dry, chain, sample_rate)[0]


def real_step(param: Param, delta: float) -> str:
    """What a normalised step means on the knob: +-units on a linear knob, +-percent on a log one."""
    if param.scale == "log":
        return f"×{(param.high / param.low) ** delta:.4g}"
    step = delta * (param.high - param.low)
    if param.unit == "s":
        return f"±{step * 1000:.3g} ms"
    return f"±{step:.3g}{(' ' + param.unit) if param.unit else ''}"


# --- our estimates' knob errors ---------------------------------------------------------------


def knob_error_table(results: Mapping[str, Any], system: str = ANSWER_SYSTEM
                     ) -> dict[str, dict[str, Any]]:
    """Per effect: median absolute normalised error of each knob (and of all its knobs pooled) of ``system``'s
    answers on pedals present in both the truth and the answer, and how many such pedals there were.

    ``results``: an ``experiments.with_dry`` results.json (``clips[*].truth`` and ``clips[*].answers[system].chain``,
    knobs in real units). Effects ``system`` never found in a true chain are left out.
    """
    errors: dict[str, list[np.ndarray]] = {}
    for clip in results.get("clips", []):
        answer = clip.get("answers", {}).get(system)
        if answer is None:
            continue
        for effect, err in knob_errors(Chain.from_list(clip["truth"]), Chain.from_list(answer["chain"])):
            errors.setdefault(effect, []).append(err)
    out: dict[str, dict[str, Any]] = {}
    for effect, errs in errors.items():
        e = np.stack(errs)  # (pedals, P)
        names = get_effect(effect).param_names
        out[effect] = {"pedals": int(e.shape[0]), "pooled": float(np.median(e)),
                       "knobs": {n: float(np.median(e[:, k])) for k, n in enumerate(names)}}
    return out


def load_knob_errors(path: str) -> tuple[dict[str, dict[str, Any]], str]:
    """(``knob_error_table`` of the file, a sentence on where it came from); empty with the reason when unusable."""
    p = Path(path)
    if not p.is_file():
        return {}, f"`{path}` does not exist, so the columns of our estimates' knob errors are left out."
    try:
        results = json.loads(p.read_text())
        table = knob_error_table(results)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        return {}, f"`{path}` could not be read as an experiments.with_dry results.json ({e}); columns left out."
    if not table:
        return {}, f"`{path}` has no `{ANSWER_SYSTEM}` answers with a correctly found pedal; columns left out."
    setup = results.get("setup", {})
    n = len(results.get("clips", []))
    return table, (f"Our knob errors: `{ANSWER_SYSTEM}` answers of `{path}` ({n} clips, sources "
                   f"{setup.get('sources', '?')}, seed {setup.get('seed', '?')}, renderer "
                   f"{setup.get('renderer', '?')}, model `{Path(str(setup.get('dry_model', '?'))).name}`): median "
                   f"absolute normalised error per knob on pedals present in both the truth and the answer.")


# --- the study --------------------------------------------------------------------------------


def row_key(table: str, effect: str, knob: str, delta: float | str) -> Key:
    return (table, effect, knob, delta)


def run_study(source: Any, n: int, seed: int, seconds: float, errors: Mapping[str, Mapping[str, Any]],
              with_mrstft: bool = True, progress: bool = True) -> dict[Key, Scores]:
    """Every row's per-clip scores, keyed by :func:`row_key`."""
    distance = MRSTFTDistance() if with_mrstft else None
    rows: dict[Key, Scores] = {}
    base = TEST_SEED_BASE + seed
    sampler = ChainSampler(SamplerConfig(min_effects=3, max_effects=3))

    def add(key: Key, estimate: np.ndarray, wet: np.ndarray) -> None:
        rows.setdefault(key, Scores()).add(estimate, wet, distance)

    def ours(effect: str) -> np.ndarray | None:
        e = errors.get(effect)
        return None if e is None else np.array([e["knobs"][p] for p in get_effect(effect).param_names])

    for i in tqdm(range(n), desc="clips", unit="clip", disable=not progress):
        dry = np.asarray(source.sample(np.random.default_rng(example_seed(base, i)), seconds), dtype=np.float32)
        for e_idx, effect in enumerate(EFFECT_NAMES):
            rng = np.random.default_rng([base, i, 30, e_idx])  # this clip's knobs and directions for this effect
            pedal = Pedal(effect, sample_params(rng, effect))
            signs = rng.choice([-1.0, 1.0], size=len(pedal.params))
            wet = rerender(dry, Chain([pedal]))
            add(row_key("single", effect, DRY_ROW, "dry"), dry, wet)
            add(row_key("single", effect, ALL, 0.0), rerender(dry, Chain([pedal])), wet)
            for k, name in enumerate(pedal.params):
                for d in DELTAS:
                    add(row_key("single", effect, name, d), rerender(dry, Chain([perturbed_pedal(pedal, [k], d, signs)])),
                        wet)
            every = range(len(pedal.params))
            for d in DELTAS:
                add(row_key("single", effect, ALL, d), rerender(dry, Chain([perturbed_pedal(pedal, every, d, signs)])),
                    wet)
            own = ours(effect)
            if own is not None:
                add(row_key("single", effect, OURS, "ours"),
                    rerender(dry, Chain([perturbed_pedal(pedal, every, own, signs)])), wet)
        rng = np.random.default_rng([base, i, 31])  # the 3-pedal chain of this clip
        chain = sampler.sample(rng)
        signs3 = [rng.choice([-1.0, 1.0], size=len(p.params)) for p in chain]
        wet = rerender(dry, chain)
        add(row_key("chain3", CHAIN3, DRY_ROW, "dry"), dry, wet)
        add(row_key("chain3", CHAIN3, ALL, 0.0), rerender(dry, chain), wet)
        for d in DELTAS:
            add(row_key("chain3", CHAIN3, ALL, d), rerender(dry, perturbed_chain(chain, d, signs3)), wet)
        owns = [ours(p.effect) for p in chain]
        if all(o is not None for o in owns):
            add(row_key("chain3", CHAIN3, OURS, "ours"),
                rerender(dry, perturbed_chain(chain, [o for o in owns if o is not None], signs3)), wet)
    return rows


def precision_needed(medians: Mapping[float, float]) -> float:
    """The largest delta of ``DELTAS`` up to which every median SI-SDR is >= the target; 0 when even the smallest
    fails (read: finer than ``DELTAS[0]``)."""
    best = 0.0
    for d in DELTAS:
        if not medians[d] >= TARGET_DB:
            break
        best = d
    return best


def demand(medians: Mapping[float, float]) -> tuple[float, float]:
    """How demanding a knob is, for ranking (smaller: more demanding): (precision needed, median SI-SDR at the
    first delta that fails, else at the largest), so knobs that need the same precision are told apart by which
    falls lowest where they fail."""
    need = precision_needed(medians)
    first_fail = DELTAS[min(DELTAS.index(need) + 1, len(DELTAS) - 1)] if need > 0 else DELTAS[0]
    return need, medians[first_fail]


def fmt_precision(d: float) -> str:
    if d == 0.0:
        return f"< {DELTAS[0]:g}"
    return f">= {d:g}" if d == DELTAS[-1] else f"{d:g}"


def headline(summary: Mapping[Key, dict[str, float]], errors: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per effect (and the 3-pedal chain): the precision all knobs need, the most demanding knob, our error."""
    out = []
    for effect in [*EFFECT_NAMES, CHAIN3]:
        table = "chain3" if effect == CHAIN3 else "single"
        med = {d: summary[row_key(table, effect, ALL, d)]["sisdr_median"] for d in DELTAS}
        row: dict[str, Any] = {"effect": effect, "needed_all": precision_needed(med),
                               "dry_sisdr": summary[row_key(table, effect, DRY_ROW, "dry")]["sisdr_median"]}
        if effect != CHAIN3:
            params = get_effect(effect).params
            medians = {p.name: {d: summary[row_key(table, effect, p.name, d)]["sisdr_median"] for d in DELTAS}
                       for p in params}
            per_knob = {name: precision_needed(m) for name, m in medians.items()}
            worst = min(params, key=lambda p: demand(medians[p.name]))
            row.update(per_knob=per_knob, worst_knob=worst.name, needed_worst=per_knob[worst.name])
            if effect in errors:
                row.update(our_error=errors[effect]["pooled"], our_pedals=errors[effect]["pedals"])
        ours = summary.get(row_key(table, effect, OURS, "ours"))
        if ours is not None:
            row.update(ours_sisdr=ours["sisdr_median"], ours_share=ours["share_25"])
        out.append(row)
    return out


# --- report -----------------------------------------------------------------------------------


def headline_table(rows: Sequence[Mapping[str, Any]], have_errors: bool) -> str:
    cols = ["effect", "dry SI-SDR median (dB)", "precision needed, all knobs", "most demanding knob",
            "its precision needed (real units)"]
    if have_errors:
        cols += ["our median knob error (pedals)", "median SI-SDR at our errors (dB)", f"share >= {TARGET_DB:g} dB"]
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for r in rows:
        cells = [r["effect"], f"{r['dry_sisdr']:.1f}", fmt_precision(r["needed_all"])]
        if "worst_knob" in r:
            p = get_effect(r["effect"]).param(r["worst_knob"])
            need = r["needed_worst"]
            cells += [r["worst_knob"], fmt_precision(need) + (f" ({real_step(p, need)})" if need > 0 else
                                                             f" (< {real_step(p, DELTAS[0])})")]
        else:
            cells += ["—", "—"]
        if have_errors:
            cells.append(f"{r['our_error']:.3f} ({r['our_pedals']})" if "our_error" in r else "—")
            cells += [f"{r['ours_sisdr']:.1f}", f"{r['ours_share']:.2f}"] if "ours_sisdr" in r else ["n/a", "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(summary: Mapping[Key, dict[str, float]], table: str, effects: Sequence[str],
                 errors: Mapping[str, Mapping[str, Any]], metric: str) -> str:
    """One line per (effect, knob): ``metric`` at each delta; the "all knobs" line also has the dry itself and
    delta 0 (the same chain rendered again)."""
    cols = ["effect", "knob", "dry itself", "delta 0", *[f"{d:g}" for d in DELTAS]]
    if errors:
        cols += ["our median error", "at our errors"]
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    fmt = (lambda v: f"{v:.1f}") if metric == "sisdr_median" else (lambda v: f"{v:.2f}") if metric == "share_25" \
        else (lambda v: f"{v:.3f}")
    for effect in effects:
        dry = summary[row_key(table, effect, DRY_ROW, "dry")][metric]
        knobs = [ALL] if table == "chain3" else [*get_effect(effect).param_names, ALL]
        for knob in knobs:
            vals = [dry if knob == ALL else math.nan,
                    summary[row_key(table, effect, knob, 0.0)][metric] if knob == ALL else math.nan,
                    *[summary[row_key(table, effect, knob, d)][metric] for d in DELTAS]]
            cells = [fmt(v) if math.isfinite(v) else "—" for v in vals]
            if errors:
                e = errors.get(effect)
                err = "—" if e is None else f"{e['pooled']:.3f}" if knob == ALL else f"{e['knobs'][knob]:.3f}"
                ours = summary.get(row_key(table, effect, OURS, "ours")) if knob == ALL else None
                cells += [err if table == "single" else "—", fmt(ours[metric]) if ours else "—"]
            lines.append(f"| {effect} | {knob} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def conclusions(rows: Sequence[Mapping[str, Any]], have_errors: bool) -> str:
    """Sentences written from the measured numbers (no judgement beyond them)."""
    single = [r for r in rows if r["effect"] != CHAIN3]
    chain = next(r for r in rows if r["effect"] == CHAIN3)
    never = [r["effect"] for r in single if r["needed_all"] == 0.0]
    loose = [f"{r['effect']} ({fmt_precision(r['needed_all'])})" for r in single if r["needed_all"] > 0.0]
    out = [f"With every knob of one pedal off by the smallest offset tried ({DELTAS[0]:g} of its normalised range), "
           f"the median SI-SDR stays below {TARGET_DB:g} dB for: {', '.join(never) or 'none'}. The precision each "
           f"other effect needs (largest offset that keeps the median at {TARGET_DB:g} dB or more, all knobs moved): "
           f"{', '.join(loose) or 'none'}."]
    worst = sorted(single, key=lambda r: (r["needed_worst"], r["effect"]))
    out.append("The most demanding single knobs: " + ", ".join(
        f"{r['effect']} {r['worst_knob']} ({fmt_precision(r['needed_worst'])})" for r in worst[:4]) + ".")
    out.append(f"3-pedal chains, every knob moved: precision needed {fmt_precision(chain['needed_all'])} "
               f"(dry itself: median {chain['dry_sisdr']:.1f} dB).")
    if have_errors:
        reach = [r["effect"] for r in single if r.get("ours_sisdr", -math.inf) >= TARGET_DB]
        ratio = [f"{r['effect']} {r['our_error'] / r['needed_all']:.0f}x" if r["needed_all"] > 0
                 else f"{r['effect']} > {r['our_error'] / DELTAS[0]:.0f}x" for r in single if "our_error" in r]
        out.append(f"Moved by our dry-aware answers' own median knob errors, the effects whose median re-render "
                   f"still reaches {TARGET_DB:g} dB: {', '.join(reach) or 'none'}; 3-pedal chains at our errors: "
                   f"median {chain.get('ours_sisdr', math.nan):.1f} dB. Our median error over the precision needed "
                   f"(all knobs): {', '.join(ratio)}.")
    return " ".join(out)


def plot(path: Path, summary: Mapping[Key, dict[str, float]]) -> None:
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(8, 5))
    for effect in EFFECT_NAMES:
        ax.plot(DELTAS, [summary[row_key("single", effect, ALL, d)]["sisdr_median"] for d in DELTAS], marker="o",
                label=effect)
    ax.plot(DELTAS, [summary[row_key("chain3", CHAIN3, ALL, d)]["sisdr_median"] for d in DELTAS], marker="s",
            color="black", linestyle="--", label=CHAIN3)
    ax.axhline(TARGET_DB, color="red", linewidth=1, label=f"target {TARGET_DB:g} dB")
    ax.set_xscale("log")
    ax.set_xlabel("knob error, every knob (normalised units)")
    ax.set_ylabel("median SI-SDR of the re-render vs the wet (dB)")
    ax.set_title("SI-SDR against knob error (pedalboard re-render, true dry)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


CAVEATS = (
    "Caveats. The grid stops at 0.001: for effects that fail there it says only that they need finer knobs, not how "
    "fine. Pedalboard's delay line is whole-sample: the tests measure that a quarter-sample change of the delay time "
    "changes nothing and a one-sample change already gives about -4.2 dB (white noise, mix 0.5, no feedback), so the "
    "delay time must be exact to the sample (0.001 of its range is 24 samples). The row \"at our errors\" moves every "
    "knob by that knob's median error at once, in random directions: one representative point, not the distribution "
    "of real answers. Those errors were measured on the answers file's clips (its chains and sources, named above); the "
    "re-renders here are one pedal (or three) on this run's source. Only pedalboard renders are studied.")


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.sisdr_sensitivity", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40, help="dry clips (default 40)")
    p.add_argument("--seed", type=int, default=700000, help="test-seed offset (default 700000: development)")
    p.add_argument("--seconds", type=float, default=3.0, help="clip length (default 3: the issue's 3-s clips)")
    p.add_argument("--source", default="synth", help="dry source (ddspfx.sources spec, default synth)")
    p.add_argument("--answers", default=DEFAULT_ANSWERS,
                   help="an experiments.with_dry results.json whose dry-aware knob errors are set beside the "
                        f"precision needed (default {DEFAULT_ANSWERS})")
    p.add_argument("--no-mrstft", action="store_true", help="skip the MR-STFT distance (about half the run time)")
    p.add_argument("--out", default="experiments/results/sisdr_sensitivity", help="output folder")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1:
        raise DdspfxError(f"--n must be at least 1, got {args.n}")
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        raise DdspfxError(f"--seconds must be a positive number, got {args.seconds}")
    if args.seed == 0:
        raise DdspfxError("--seed 0 is the test set; use a development offset such as 700000")
    import torch

    from ddspfx.sources import make_source

    torch.set_num_threads(1)  # MR-STFT on one 3-s clip: one thread is fastest on a shared machine
    if args.source.startswith("tonejs:"):  # the recorded guitars of experiments.real_sources (slow import)
        from experiments.evaluation.sets import make_dry_source

        source = make_dry_source(args.source)
    else:
        source = make_source(args.source)
    errors, errors_note = load_knob_errors(args.answers)
    if not errors:
        print(errors_note, file=sys.stderr)
    rows = run_study(source, args.n, args.seed, args.seconds, errors, with_mrstft=not args.no_mrstft)
    summary = {k: s.summary() for k, s in rows.items()}
    heads = headline(summary, errors)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m experiments.sisdr_sensitivity " + " ".join(shlex.quote(a) for a in (
        sys.argv[1:] if argv is None else argv))
    plot(out / "sisdr_vs_knob_error.png", summary)
    atomic_write_text(out / "sensitivity.json", json.dumps({
        "setup": vars(args), "command": command, "deltas": list(DELTAS), "target_db": TARGET_DB,
        "seeds": f"dry clip i: example_seed({TEST_SEED_BASE + args.seed}, i)", "knob_errors": errors,
        "knob_errors_note": errors_note, "headline": heads,
        "rows": [{"table": t, "effect": e, "knob": k, "delta": d, **summary[key], "sisdr": rows[key].sisdr,
                  "mrstft": rows[key].mrstft}
                 for key in rows for t, e, k, d in [key]]}, indent=1))
    have = bool(errors)
    header = (f"{args.n} dry clips of {args.seconds:g} s from `{args.source}` (dry clip i as in "
              f"`experiments.real_sources.make_set`, seeds `example_seed({TEST_SEED_BASE + args.seed}, i)`). Knobs "
              f"drawn as training draws them (`ddspfx.knobs.sample_params`: uniform in normalised space over the "
              f"audible sub-range). Wet = the true chain rendered by `ddspfx.render.render_chain`; each row "
              f"re-renders it with knobs moved by delta in their normalised [0, 1] scale (direction random per clip, "
              f"the same for every delta; a move past an end of the range goes the other way) and scores the "
              f"re-render against the wet. \"{ALL}\": every knob of the pedal moved; \"{OURS}\" / \"at our errors\": "
              f"every knob moved by its own median error of our answers.")
    effects = list(EFFECT_NAMES)
    report = (f"# How exact must knobs be for {TARGET_DB:g} dB SI-SDR?\n\n`{command}`\n\n{header}\n\n{errors_note}\n\n"
              f"## Headline\n\n"
              f"Precision needed: the largest delta (of {', '.join(f'{d:g}' for d in DELTAS)}) up to which the "
              f"median SI-SDR stays >= {TARGET_DB:g} dB; \"< {DELTAS[0]:g}\": even the smallest fails. The real-unit "
              f"column translates that knob's delta (±units on a linear knob, a factor on a log one).\n\n"
              f"{headline_table(heads, have)}\n\n{conclusions(heads, have)}\n\n{CAVEATS}\n\n"
              f"![SI-SDR vs knob error](sisdr_vs_knob_error.png)\n\n"
              f"## Median SI-SDR (dB) per knob and delta, one pedal\n\n"
              f"{detail_table(summary, 'single', effects, errors, 'sisdr_median')}\n\n"
              f"## Share of clips >= {TARGET_DB:g} dB, one pedal\n\n"
              f"{detail_table(summary, 'single', effects, errors, 'share_25')}\n\n"
              + ("" if args.no_mrstft else
                 f"## Median MR-STFT distance per knob and delta, one pedal (what refinement minimises)\n\n"
                 f"{detail_table(summary, 'single', effects, errors, 'mrstft_median')}\n\n")
              + f"## 3-pedal chains (3 distinct pedals, random order), every knob moved\n\n"
              f"Median SI-SDR (dB):\n\n{detail_table(summary, 'chain3', [CHAIN3], errors, 'sisdr_median')}\n\n"
              f"Share >= {TARGET_DB:g} dB:\n\n{detail_table(summary, 'chain3', [CHAIN3], errors, 'share_25')}\n"
              + ("" if args.no_mrstft else
                 f"\nMedian MR-STFT:\n\n{detail_table(summary, 'chain3', [CHAIN3], errors, 'mrstft_median')}\n"))
    atomic_write_text(out / "report.md", report)
    print(headline_table(heads, have))
    print(conclusions(heads, have))
    print(f"wrote {out / 'report.md'}, {out / 'sensitivity.json'}, {out / 'sisdr_vs_knob_error.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
