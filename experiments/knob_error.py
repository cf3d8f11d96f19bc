"""Why are the blind model's knobs ~0.17 off (issue 28 item 5)? Knob by knob: head, bin token, floors, audibility.

``python -m experiments.knob_error [--n 300] [--seed 910000] [--sources synth,sf2:timgm6mb,sf2:gmbank]
[--checkpoint PATH] [--no-audibility] [--out experiments/results/knob_error]``

The model answers a knob twice (``ddspfx.model.model``): the token decoder emits one bin token per knob (16
bins, ``catalog.Param.bins``), and the continuous parameter head predicts a normalised value, which
``DdspfxModel.refine`` puts in the shipped chain. For every pedal the model found that is truly in the chain
(``ddspfx.metrics.knob_errors``: the evaluator's ``param_error``), per knob, in the knob's normalised [0, 1]
scale (``catalog.normalise``):

- ``head``: |shipped value - truth| (the parameter head; what the evaluator scores);
- ``token``: |decoded bin token's centre - truth| (``Prediction.ids`` -> ``PedalVocab.decode``);
- ``token median``: |median of the decoder's own bin distribution - truth| (teacher-forced on the decoded
  sequence, renormalised over the knob's 16 bins, each bin uniform over its width): the decoder's L1-optimal
  answer, i.e. what a fusion of the token posterior and the metric would give with no training (and
  ``head_token_mean``, the mean of the head's value and that median, in results.json);
- ``floor``: |centre of the true value's own bin - truth|: a perfect bin classifier's error (quantisation);
- ``prior``: |middle of the sampled range - truth| (the sampler draws uniformly over ``Param.sample_low`` ..
  ``sample_high`` in normalised space, ``ddspfx.knobs.sample_params``): a trivial answer that ignores the audio;
- ``r``: Pearson correlation of the head's values with the truth (0: the knob is guessed, not heard);
- audibility (unless ``--no-audibility``): the true chain rendered by ``ddspfx.render.render_chain`` on the dry,
  and again with only this knob set to the head's value; ``ddspfx.audibility.change_score`` between the two
  against the pedal's ``THRESHOLDS_DB``. A wrong value (head error >= one bin, ``WRONG``) under the threshold is
  *inaudible*. A third render puts the knob at the far end of its sampled range: under the threshold even there,
  the knob is *dead* at this setting (no value of it would be heard, e.g. a compressor's attack with the
  threshold above the clip's peak).

The head's error is also split by whether the bin token was right, by chain length and by the pedal's position
in the true chain. Test clips: ``ddspfx.scoring.make_examples(source, n, seed, model.clip_seconds, 5,
"uniform", effects=model.effects)`` with a development seed offset (never 0, the test set). The model is run as
``ddspfx.estimator.Estimator`` runs it (beam ``BEAM_WITH_ORDER_SEARCH``, the checkpoint's effect-set and order
modes; a 2-s clip is one window, so the head's values are the shipped ones).

Outputs in ``--out``: ``table.md`` (printed too), ``results.json`` (summaries and compact per-knob rows) and
``knob_error.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import Param, denormalise, get_effect, normalise, value_to_bin
from ddspfx.chain import Chain, Pedal
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.scoring import LabelledClip

WRONG = 1.0 / 16.0
"""A head value counts as wrong when it is at least one bin width (of 16) off, in normalised units: closer
than that, even a perfect token could not do better by more than half a bin."""

SOURCES: tuple[str, ...] = ("synth", "sf2:timgm6mb", "sf2:gmbank")
TRAINED_ON = {"synth": "yes", "sf2:timgm6mb": "yes", "sf2:gmbank": "no"}
BATCH = 16


# --- the per-knob columns: pure functions of the truth and the answers (normalised units) -----------------


def sampled_range(param: Param) -> tuple[float, float]:
    """(low, high) of the knob's training draw in its normalised scale (the audible sub-range)."""
    return normalise(param.sample_low, param), normalise(param.sample_high, param)


def prior_value(param: Param) -> float:
    """The middle of the sampled range (normalised): the L1-optimal constant for a uniform draw without a gap."""
    lo, hi = sampled_range(param)
    return 0.5 * (lo + hi)


def bin_centre(u: float, param: Param) -> float:
    """The normalised centre of the bin the normalised value ``u`` falls in (``catalog.value_to_bin``)."""
    return (value_to_bin(denormalise(float(u), param), param) + 0.5) / param.bins


def far_end(u: float, param: Param) -> float:
    """The end of the sampled range farthest from ``u`` (normalised): the biggest move a trained answer could make."""
    lo, hi = sampled_range(param)
    return lo if abs(u - lo) >= abs(u - hi) else hi


@dataclass
class KnobRow:
    """One knob of one pedal that is both in the truth and in the answer (normalised units)."""

    source: str
    clip: int
    effect: str
    knob: str
    truth: float
    head: float  # the shipped value (parameter head)
    token: float  # the decoded bin token's centre
    token_median: float  # the median of the decoder's bin distribution (nan when not measured)
    token_bin: int
    true_bin: int
    chain_length: int
    position: int  # the pedal's index in the true chain
    change_db: float = math.nan  # change_score(truth render, render with this knob at the head's value)
    dead_db: float = math.nan  # change_score(truth render, render with this knob at the far end of its range)
    threshold_db: float = math.nan

    @property
    def param(self) -> Param:
        return get_effect(self.effect).param(self.knob)

    def errors(self) -> dict[str, float]:
        """The table's error columns for this knob."""
        p = self.param
        return {"head": abs(self.head - self.truth), "token": abs(self.token - self.truth),
                "token_median": abs(self.token_median - self.truth),
                "head_token_mean": abs(0.5 * (self.head + self.token_median) - self.truth),
                "floor": abs(bin_centre(self.truth, p) - self.truth), "prior": abs(prior_value(p) - self.truth)}

    @property
    def wrong(self) -> bool:
        return abs(self.head - self.truth) >= WRONG

    @property
    def inaudible(self) -> bool:
        """The head's value, put in the true chain, is not heard (False when audibility was not measured)."""
        return bool(self.change_db < self.threshold_db)

    @property
    def dead(self) -> bool:
        """No value of this knob in its sampled range would be heard at this setting."""
        return bool(self.dead_db < self.threshold_db)


# --- running the model -------------------------------------------------------------------------------------


@dataclass
class Answer:
    """The model's answer for one clip: the chain with the parameter head's values, the decoded ids, and per pedal the
    median of the decoder's teacher-forced distribution over each knob's bins (``DdspfxModel.bin_medians``)."""

    chain: Chain
    ids: list[int]
    bin_medians: dict[str, list[float]]


def answer_clips(model: Any, wets: Sequence[np.ndarray], batch: int = BATCH) -> list[Answer]:
    """The model on 2-s clips as ``Estimator`` runs it, knobs from its parameter head (what this study measures,
    whatever readout the model ships with), plus each knob's bin-distribution median."""
    import torch

    from ddspfx.estimator import BEAM_WITH_BEAM_ORDER, BEAM_WITH_ORDER_SEARCH

    beam = BEAM_WITH_ORDER_SEARCH if model.config.order_search == "exhaustive" else BEAM_WITH_BEAM_ORDER
    shipped, model.config.knob_readout = model.config.knob_readout, "head"
    out: list[Answer] = []
    try:
        for s in range(0, len(wets), batch):
            x = torch.as_tensor(np.stack([np.asarray(w, np.float32) for w in wets[s:s + batch]]))  # (B, T)
            lengths = torch.full((x.shape[0],), x.shape[1])
            with torch.inference_mode():
                preds = model.predict(x, beam=beam, lengths=lengths)
                memory, mask = model.encode(x, lengths)
                for b, pred in enumerate(preds):
                    medians = model.bin_medians(pred.ids, memory[b:b + 1], mask[b:b + 1]) if pred.ids else {}
                    out.append(Answer(pred.chain, list(pred.ids), medians))
    finally:
        model.config.knob_readout = shipped
    return out


def knob_rows(source: str, clip: int, ex: LabelledClip, answer: Answer, vocab: Any) -> list[KnobRow]:
    """One row per knob of each pedal in both the true chain and the answer (as ``metrics.knob_errors`` pairs them)."""
    truth = {p.effect: p for p in ex.chain}
    tokens = {p.effect: p for p in vocab.decode(answer.ids)} if answer.ids else {}
    rows = []
    for pedal in answer.chain:
        if pedal.effect not in truth:
            continue
        eff = get_effect(pedal.effect)
        tok = tokens.get(pedal.effect)
        for k, p in enumerate(eff.params):
            t = normalise(truth[pedal.effect].params[p.name], p)
            tok_u = normalise(tok.params[p.name], p) if tok is not None else math.nan
            medians = answer.bin_medians.get(pedal.effect, [])
            rows.append(KnobRow(
                source=source, clip=clip, effect=eff.name, knob=p.name, truth=t, head=normalise(pedal.params[p.name], p),
                token=tok_u, token_median=medians[k] if k < len(medians) else math.nan,
                token_bin=value_to_bin(tok.params[p.name], p) if tok is not None else -1,
                true_bin=value_to_bin(truth[pedal.effect].params[p.name], p),
                chain_length=len(ex.chain), position=ex.chain.effects.index(eff.name)))
    return rows


def with_knob(chain: Chain, effect: str, knob: str, u: float) -> Chain:
    """``chain`` with only ``effect``'s ``knob`` set to the normalised value ``u``; every other value kept exactly."""
    p = get_effect(effect).param(knob)
    return Chain([Pedal(q.effect, {**q.params, knob: float(denormalise(float(u), p))}) if q.effect == effect else q
                  for q in chain])


def measure_audibility(ex: LabelledClip, rows: Sequence[KnobRow], sample_rate: int) -> None:
    """Fill ``change_db``, ``dead_db`` and ``threshold_db`` of this clip's rows (renders with pedalboard)."""
    from ddspfx.audibility import THRESHOLDS_DB, change_score
    from ddspfx.render import render_chain

    if not rows:
        return
    ref, _ = render_chain(ex.dry, ex.chain, sample_rate)
    for r in rows:
        r.threshold_db = THRESHOLDS_DB[r.effect]
        alt, _ = render_chain(ex.dry, with_knob(ex.chain, r.effect, r.knob, r.head), sample_rate)
        r.change_db = change_score(ref, alt, sample_rate)
        far, _ = render_chain(ex.dry, with_knob(ex.chain, r.effect, r.knob, far_end(r.truth, r.param)), sample_rate)
        r.dead_db = change_score(ref, far, sample_rate)


def run_source(model: Any, source: str, examples: Sequence[LabelledClip], audibility: bool = True,
               on_progress: Callable[[int, int], None] | None = None) -> tuple[list[KnobRow], list[float]]:
    """(rows, the evaluator's per-pedal ``param_error`` values) for one source's clips."""
    from ddspfx.metrics import param_error

    answers = answer_clips(model, [ex.wet for ex in examples])
    rows: list[KnobRow] = []
    pedal_errors: list[float] = []
    for i, (ex, ans) in enumerate(zip(examples, answers)):
        clip_rows = knob_rows(source, i, ex, ans, model.vocab)
        if audibility:
            measure_audibility(ex, clip_rows, int(model.sample_rate))
        rows += clip_rows
        pedal_errors += param_error(ex.chain, ans.chain)
        if on_progress is not None:
            on_progress(i + 1, len(examples))
    return rows, pedal_errors


# --- summaries ---------------------------------------------------------------------------------------------

COLUMNS = ("head", "token", "token_median", "head_token_mean", "floor", "prior")


def summarise(rows: Sequence[KnobRow]) -> dict[str, float]:
    """Means of the error columns, r(head, truth), and the audibility shares over ``rows``."""
    out: dict[str, float] = {"n": float(len(rows))}
    if not rows:
        return out
    errs = [r.errors() for r in rows]
    for c in COLUMNS:
        v = np.array([e[c] for e in errs])
        out[c] = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
    head = np.array([e["head"] for e in errs])
    t, h = np.array([r.truth for r in rows]), np.array([r.head for r in rows])
    out["r"] = float(np.corrcoef(t, h)[0, 1]) if len(rows) > 2 and t.std() > 0 and h.std() > 0 else math.nan
    out["token_right"] = float(np.mean([r.token_bin == r.true_bin for r in rows]))
    out["wrong"] = float(np.mean([r.wrong for r in rows]))
    measured = [r for r in rows if math.isfinite(r.change_db)]
    if measured:
        wrong = [r for r in measured if r.wrong]
        e = np.array([abs(r.head - r.truth) for r in measured])
        inaud = np.array([r.inaudible for r in measured])
        dead = np.array([r.dead for r in measured])
        out["inaudible_share_of_wrong"] = float(np.mean([r.inaudible for r in wrong])) if wrong else math.nan
        out["dead_share"] = float(dead.mean())
        out["error_mass_inaudible"] = float(e[inaud].sum() / max(e.sum(), 1e-12))
        out["error_mass_dead"] = float(e[dead].sum() / max(e.sum(), 1e-12))
        out["head_if_inaudible_free"] = float(np.where(inaud, 0.0, e).mean())  # inaudible errors counted as 0
        # the thresholds say whether a pedal is there at all; a knob change may be heard below them on an A/B
        half = np.array([r.change_db < 0.5 * r.threshold_db for r in measured])
        out["error_mass_inaudible_half"] = float(e[half].sum() / max(e.sum(), 1e-12))
        out["head_if_inaudible_free_half"] = float(np.where(half, 0.0, e).mean())
        prior = np.array([abs(prior_value(r.param) - r.truth) for r in measured])
        out["head_dead"] = float(e[dead].mean()) if dead.any() else math.nan
        out["prior_dead"] = float(prior[dead].mean()) if dead.any() else math.nan
        out["head_alive"] = float(e[~dead].mean()) if (~dead).any() else math.nan  # on knobs that can be heard
        out["prior_alive"] = float(np.mean([errs[i]["prior"] for i in np.flatnonzero(~dead)])) if (~dead).any() else math.nan
    out["head_token_right"] = float(np.mean([e for e, r in zip(head, rows) if r.token_bin == r.true_bin])) \
        if any(r.token_bin == r.true_bin for r in rows) else math.nan
    out["head_token_wrong"] = float(np.mean([e for e, r in zip(head, rows) if r.token_bin != r.true_bin])) \
        if any(r.token_bin != r.true_bin for r in rows) else math.nan
    return out


def knob_names(rows: Sequence[KnobRow], effects: Sequence[str]) -> list[tuple[str, str]]:
    """(effect, knob) in catalog order for the effects of the model."""
    return [(e, p.name) for e in effects for p in get_effect(e).params]


def split(rows: Sequence[KnobRow], key: Callable[[KnobRow], Any]) -> dict[Any, dict[str, float]]:
    groups: dict[Any, list[KnobRow]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return {k: summarise(v) for k, v in sorted(groups.items())}


def summary_for_source(rows: Sequence[KnobRow], pedal_errors: Sequence[float], effects: Sequence[str]) -> dict[str, Any]:
    return {
        "param_error_evaluator": float(np.mean(pedal_errors)) if pedal_errors else math.nan,
        "all": summarise(rows),
        "per_knob": {f"{e}.{k}": summarise([r for r in rows if r.effect == e and r.knob == k])
                     for e, k in knob_names(rows, effects)},
        "per_effect": {e: summarise([r for r in rows if r.effect == e]) for e in effects},
        "by_chain_length": split(rows, lambda r: r.chain_length),
        "by_position": split(rows, lambda r: r.position),
        "by_token": {"right bin": summarise([r for r in rows if r.token_bin == r.true_bin]),
                     "off by 1 bin": summarise([r for r in rows if abs(r.token_bin - r.true_bin) == 1]),
                     "off by 2+ bins": summarise([r for r in rows if abs(r.token_bin - r.true_bin) >= 2])},
    }


def _f(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.0f} %" if pct else f"{v:.3f}"


KNOB_HEAD = ("| knob | n | head err | bin-token err | token median err | quantisation floor | prior (mid-range) | "
             "r(head, truth) | token bin right | wrong (>= 1 bin) | inaudible share of wrong | dead here | "
             "error share inaudible (½ threshold) | head err, inaudible = 0 |")


def knob_line(name: str, s: dict[str, float]) -> str:
    return (f"| {name} | {int(s.get('n', 0))} | {_f(s.get('head'))} | {_f(s.get('token'))} | "
            f"{_f(s.get('token_median'))} | {_f(s.get('floor'))} | {_f(s.get('prior'))} | {_f(s.get('r'))} | "
            f"{_f(s.get('token_right'), True)} | {_f(s.get('wrong'), True)} | "
            f"{_f(s.get('inaudible_share_of_wrong'), True)} | {_f(s.get('dead_share'), True)} | "
            f"{_f(s.get('error_mass_inaudible'), True)} ({_f(s.get('error_mass_inaudible_half'), True)}) | "
            f"{_f(s.get('head_if_inaudible_free'))} |")


def source_tables(source: str, summ: dict[str, Any], n_clips: int) -> str:
    lines = [f"### {source} (heard in training: {TRAINED_ON.get(source, '?')}; {n_clips} clips; evaluator's "
             f"param_error {_f(summ['param_error_evaluator'])})", "", KNOB_HEAD, "|---" * 14 + "|"]
    lines.append(knob_line("**all knobs**", summ["all"]))
    for name, s in summ["per_effect"].items():
        if s.get("n"):
            lines.append(knob_line(f"**{name}**", s))
            lines += [knob_line(f"{name}.{k.split('.', 1)[1]}", v) for k, v in summ["per_knob"].items()
                      if k.split(".", 1)[0] == name and v.get("n")]
    lines += ["", "| head err split by | group | n | head err | bin-token err | token median err | prior |",
              "|---|---|---|---|---|---|---|"]
    for title, key in (("bin token", "by_token"), ("chain length", "by_chain_length"),
                       ("position in true chain (0 = first)", "by_position")):
        for g, s in summ[key].items():
            if s.get("n"):
                lines.append(f"| {title} | {g} | {int(s['n'])} | {_f(s.get('head'))} | {_f(s.get('token'))} | "
                             f"{_f(s.get('token_median'))} | {_f(s.get('prior'))} |")
    return "\n".join(lines)


HEADLINE_HEAD = ("| source | heard in training | evaluator param_error | head err | bin-token err | token median err | "
                 "quantisation floor | prior (mid-range) | token bin right | error share inaudible (½ threshold) | "
                 "head err, inaudible = 0 (½ threshold) | dead knobs: share, head err, prior err |")


def headline(summaries: dict[str, dict[str, Any]]) -> str:
    """One line per source: the means over all knobs."""
    lines = [HEADLINE_HEAD, "|---" * 12 + "|"]
    for source, summ in summaries.items():
        a = summ["all"]
        lines.append(
            f"| {source} | {TRAINED_ON.get(source, '?')} | {_f(summ['param_error_evaluator'])} | {_f(a.get('head'))} | "
            f"{_f(a.get('token'))} | {_f(a.get('token_median'))} | {_f(a.get('floor'))} | {_f(a.get('prior'))} | "
            f"{_f(a.get('token_right'), True)} | {_f(a.get('error_mass_inaudible'), True)} "
            f"({_f(a.get('error_mass_inaudible_half'), True)}) | {_f(a.get('head_if_inaudible_free'))} "
            f"({_f(a.get('head_if_inaudible_free_half'))}) | {_f(a.get('dead_share'), True)}, {_f(a.get('head_dead'))}, "
            f"{_f(a.get('prior_dead'))} |")
    return "\n".join(lines)


def plot(path: Path, summaries: dict[str, dict[str, Any]]) -> None:
    """One panel per source: per-knob bars of prior, head, bin token, token median, floor and head with inaudible
    errors counted as 0."""
    from ddspfx.fileio import atomic_path
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    fig, axes = plt.subplots(len(summaries), 1, figsize=(15, 4.2 * len(summaries)), squeeze=False)
    bars = (("prior", "prior (mid-range)", "#bbbbbb"), ("head", "head (shipped)", "#d62728"),
            ("token", "bin token", "#1f77b4"), ("token_median", "token median", "#9467bd"),
            ("head_if_inaudible_free", "head, inaudible errors = 0", "#ff9896"),
            ("floor", "quantisation floor", "#2ca02c"))
    for ax, (source, summ) in zip(axes[:, 0], summaries.items()):
        names = [k for k, v in summ["per_knob"].items() if v.get("n")]
        x = np.arange(len(names))
        w = 0.8 / len(bars)
        for j, (key, label, colour) in enumerate(bars):
            ax.bar(x + (j - len(bars) / 2 + 0.5) * w, [summ["per_knob"][k].get(key, np.nan) for k in names], w,
                   label=label, color=colour)
        labels = [f"{n.split('.')[0]} {get_effect(n.split('.')[0]).param(n.split('.')[1]).label}" for n in names]
        ax.set_xticks(x, labels, fontsize=7, rotation=35, ha="right")
        ax.set_ylabel("mean |error| (normalised)")
        ax.set_title(f"{source}: evaluator param_error {summ['param_error_evaluator']:.3f}", fontsize=10)
        ax.axhline(WRONG, color="k", lw=0.6, ls=":")
    axes[0, 0].legend(fontsize=7, ncol=len(bars), loc="upper right")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def compact_rows(rows: Sequence[KnobRow]) -> dict[str, list[Any]]:
    """Per-knob rows as columns (rounded) so results.json stays small."""
    cols: dict[str, list[Any]] = {k: [] for k in asdict(rows[0])} if rows else {}
    for r in rows:
        for k, v in asdict(r).items():
            cols[k].append(round(v, 4) if isinstance(v, float) and math.isfinite(v) else
                           (None if isinstance(v, float) else v))
    cols.pop("source", None)
    return cols


def progress_of(bar: Any) -> Callable[[int, int], None]:
    """An ``on_progress(done, total)`` that moves a tqdm bar to ``done``."""

    def update(done: int, total: int) -> None:
        bar.update(done - bar.n)

    return update


def json_ready(x: Any) -> Any:
    """``x`` with non-finite floats as None (strict JSON) and tuple keys/values made plain."""
    if isinstance(x, dict):
        return {str(k): json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_ready(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.knob_error", description=__doc__.split("\n\n")[0] if __doc__ else "")
    p.add_argument("--n", type=int, default=300, help="clips per source (default 300)")
    p.add_argument("--seed", type=int, default=910000, help="development seed offset (never 0: the test set)")
    p.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated sources (default {','.join(SOURCES)})")
    p.add_argument("--checkpoint", default=None, help="model (default: the shipped one)")
    p.add_argument("--no-audibility", action="store_true", help="skip the re-renders (columns left empty)")
    p.add_argument("--out", default="experiments/results/knob_error")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n < 1:
        raise DdspfxError(f"--n must be at least 1, got {args.n}")
    if args.seed == 0:
        raise DdspfxError("--seed 0 is the test set; use a development offset such as 910000")
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    if not sources:
        raise DdspfxError("--sources is empty")
    import torch
    from tqdm import tqdm

    from ddspfx.checkpoint import load_model, provenance
    from ddspfx.config import TEST_SEED_BASE
    from ddspfx.fileio import atomic_write_text
    from ddspfx.scoring import make_examples

    torch.set_num_threads(1)  # the machine's cores are shared
    model = load_model(args.checkpoint)
    prov = provenance(model)
    command = "python -m experiments.knob_error " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summaries: dict[str, dict[str, Any]] = {}
    all_rows: dict[str, dict[str, list[Any]]] = {}
    for source in sources:
        examples = make_examples(source, args.n, args.seed, model.clip_seconds, 5, "uniform", effects=model.effects)
        with tqdm(total=len(examples), desc=f"knobs {source}", unit="clip") as bar:
            rows, pedal_errors = run_source(model, source, examples, audibility=not args.no_audibility,
                                            on_progress=progress_of(bar))
        summaries[source] = summary_for_source(rows, pedal_errors, model.effects)
        all_rows[source] = compact_rows(rows)
    header = (f"# Knob error of the blind model, knob by knob\n\n`{command}`\n\n"
              f"Model `{prov['checkpoint']}`, SHA-256 `{prov['sha256']}`, trained on `{prov['trained_on']}`; "
              f"git commit `{prov['git_commit']}`. {args.n} clips of {model.clip_seconds:g} s per source, chains of "
              f"0-5 of the model's pedals ({', '.join(model.effects)}), uniform order, development seeds "
              f"{TEST_SEED_BASE + args.seed}+. Rows: every knob of every pedal the model found that is truly present. "
              f"Errors are mean |answer - truth| in the knob's normalised [0, 1] scale. \"wrong\": head error >= "
              f"1/16 (one bin). \"inaudible\": the true chain with only this knob at the head's value differs from the "
              f"true render by less than the pedal's audibility threshold (`ddspfx.audibility`). \"dead here\": even "
              f"the far end of the knob's sampled range is inaudible at this setting. \"error share inaudible\": the "
              f"share of the head's total error carried by inaudible knobs (in brackets: with half the threshold, "
              f"since the thresholds say whether a pedal is there at all and a knob change may be heard below them). "
              f"\"head err, inaudible = 0\": the head's error with inaudible wrong values counted as right.")
    body = "\n\n".join(source_tables(s, summaries[s], args.n) for s in sources)
    table = (f"{header}\n\n## All knobs\n\n{headline(summaries)}\n\n## Per knob\n\n{body}\n\n"
             f"![per-knob errors](knob_error.png)\n")
    print(table)
    plot(out / "knob_error.png", summaries)
    atomic_write_text(out / "table.md", table)
    payload = {"command": command, "setup": vars(args), "provenance": prov, "wrong_threshold": WRONG,
               "seeds": f"{TEST_SEED_BASE + args.seed}+", "summaries": summaries, "rows": all_rows}
    text = json.dumps(json_ready(payload), separators=(",", ":"), allow_nan=False)
    if len(text) > 1_000_000:  # the rows are the bulk; the summaries always fit
        payload["rows"] = "left out: over 1 MB (rerun to get them)"
        text = json.dumps(json_ready(payload), separators=(",", ":"), allow_nan=False)
    atomic_write_text(out / "results.json", text)
    print(f"wrote {out / 'table.md'}, {out / 'results.json'} and {out / 'knob_error.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
