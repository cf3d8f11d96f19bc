"""What stands in the way on other people's plugins: the guitar, or the implementation?

``python -m experiments.implementation_gap [--reference PEDALBOARD.json] [--other PLUGINS.json] [--model R8]
[--out DIR]``

Both files are ``experiments/real_sources.py`` results on the *same* clips (same ``--seed``, ``--n``,
``--seconds`` and sources: the same dry guitar notes and the same true chains), once with every pedal rendered by
pedalboard (``--reference``) and once by a third-party plugin of its type (``--other``, e.g. ``--renderer plugins
--plugins-from judges``). Clips are paired by (source, index), and the pairing is refused when a pair's true
chains differ. Each error the model makes on an ``--other`` clip is then one of two kinds:

- it makes the same error when pedalboard renders the same chain on the same guitar: the *guitar* (or the model)
  stands in the way, and a plugin that sounded exactly like pedalboard would not remove it;
- it makes it only with the other implementation: the *implementation* stands in the way.

Errors are on the effect *set* (presence by effect type; order and knobs ignored): a miss is a true type the model
did not report, a false alarm a reported type that is not in the truth. A chain holds each type at most once (the
sampler draws distinct types; the script counts and reports chains that do not) and is scored as a set either way,
as ``ddspfx.metrics.PresenceCounts`` does. "Precision if the implementation gap closed" is the precision the model
has on the same clips when pedalboard renders them.

Writes ``report.md`` (also printed), ``gap.json`` and ``recall_by_effect.png`` to ``--out``. As a sanity check,
every (source, model) row of each file (micro precision, recall, F1) and its ``implementation_recall`` must equal
what the file's own clips give; a file that disagrees with itself is refused.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import EFFECT_NAMES
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.metrics import PresenceCounts

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "experiments" / "results" / "release_r8"
DEFAULT_REFERENCE = RESULTS / "test_R8.json"
DEFAULT_OTHER = RESULTS / "test_R8_judges.json"
DEFAULT_OUT = RESULTS / "implementation_gap"
CLIP_KEYS: tuple[str, ...] = ("source", "model", "index", "truth", "implementations", "predicted")
TOLERANCE = 1e-9
"""How far a file's row may be from what its clips give (both are the same float sums)."""


# --- reading the two files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """One real_sources results.json: its path, a label for tables ("pedalboard", "plugins (judges)") and data."""

    flag: str  # the command-line flag that named it, for error messages
    path: Path
    data: dict[str, Any]

    @property
    def label(self) -> str:
        setup = self.data.get("setup", {}) or {}
        renderer = str(setup.get("renderer") or self.path.stem)
        return f"{renderer} ({setup['plugins_from']})" if setup.get("plugins_from") else renderer

    @property
    def clips(self) -> list[dict[str, Any]]:
        return self.data["clips"]

    def models(self) -> set[str]:
        return {c["model"] for c in self.clips}

    def row(self, source: str, model: str) -> dict[str, Any] | None:
        return next((r for r in self.data.get("rows", []) if r.get("source") == source and r.get("model") == model),
                    None)


def load_results(path: Path, flag: str) -> Results:
    """Read and check a results.json; anything unusable is a one-line DdspfxError."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DdspfxError(f"{flag} {path}: no such file; run python -m experiments.real_sources first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DdspfxError(f"{flag} {path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    except json.JSONDecodeError as exc:
        raise DdspfxError(f"{flag} {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        raise DdspfxError(f"{flag} {path}: not a real_sources results.json (no 'clips' list)")
    for i, c in enumerate(data["clips"]):
        if not is_clip(c):
            raise DdspfxError(f"{flag} {path}: clip {i} is not a real_sources clip (needs {', '.join(CLIP_KEYS)}, "
                              "one implementation per true pedal)")
        unknown = sorted(set(effect_list(c["truth"]) + effect_list(c["predicted"])) - set(EFFECT_NAMES))
        if unknown:
            raise DdspfxError(f"{flag} {path}: clip {i} names unknown effect types {unknown}; known: "
                              f"{', '.join(EFFECT_NAMES)}")
    return Results(flag, path, data)


def is_clip(c: Any) -> bool:
    """A real_sources clip: its keys, chains of ``{effect, params}`` and one implementation per true pedal."""
    if not isinstance(c, dict) or any(k not in c for k in CLIP_KEYS):
        return False
    chains = (c["truth"], c["predicted"])
    return (isinstance(c["index"], int) and all(isinstance(x, list) and all(isinstance(p, dict) and "effect" in p for p in x) for x in chains)
            and isinstance(c["implementations"], list) and len(c["implementations"]) == len(c["truth"]))


def effect_list(chain: Sequence[Mapping[str, Any]]) -> list[str]:
    """The effect types of a JSON chain (``Chain.to_list()``), in order."""
    return [str(p["effect"]) for p in chain]


def effect_set(chain: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(effect_list(chain))


def has_duplicates(chain: Sequence[Mapping[str, Any]]) -> bool:
    names = effect_list(chain)
    return len(names) != len(set(names))


# --- pairing -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One clip under both renderers: its true types, each true pedal's other implementation, both answers."""

    source: str
    index: int
    truth: frozenset[str]
    implementations: tuple[tuple[str, str], ...]  # (effect type, implementation in the other file) per true pedal
    reference: frozenset[str]  # types the model reported on the reference (pedalboard) clip
    other: frozenset[str]  # types it reported on the other-implementation clip
    duplicates: bool  # a chain (truth or either answer) named a type twice


def pair_clips(ref: Results, other: Results, model: str) -> tuple[list[Pair], dict[str, int]]:
    """Pairs of ``model``'s clips by (source, index) over the sources both files hold, and how many clips of those
    sources had no partner in the other file. Refuses a model missing from a file and pairs whose truths differ."""
    absent = [r for r in (ref, other) if model not in r.models()]
    if absent:
        raise DdspfxError(f"model {model!r} is not in both files: "
                          + "; ".join(f"{r.flag} {r.path.name} has {', '.join(sorted(r.models())) or 'no clips'}"
                                      for r in (ref, other)))
    by_key = [{(c["source"], c["index"]): c for c in r.clips if c["model"] == model} for r in (ref, other)]
    sources = {s for s, _ in by_key[0]} & {s for s, _ in by_key[1]}
    keys = sorted(by_key[0].keys() & by_key[1].keys())
    if not keys:
        raise DdspfxError(f"no clip of model {model!r} is in both files (same source and index); sources: "
                          f"{ref.flag} {sorted({s for s, _ in by_key[0]})}, {other.flag} {sorted({s for s, _ in by_key[1]})}")
    differ = [k for k in keys if by_key[0][k]["truth"] != by_key[1][k]["truth"]]
    if differ:
        raise DdspfxError(f"{len(differ)} of {len(keys)} paired clips have different true chains in {ref.path.name} "
                          f"and {other.path.name} (first: {differ[0][0]} #{differ[0][1]}): they are not the same clips; "
                          "rerun real_sources with the same --seed, --n, --seconds and sources")
    paired = set(keys)
    unpaired = {r.flag.lstrip("-"): sum(1 for s, i in d if s in sources and (s, i) not in paired)
                for r, d in zip((ref, other), by_key)}
    pairs = []
    for k in keys:
        a, b = by_key[0][k], by_key[1][k]
        pairs.append(Pair(source=k[0], index=k[1], truth=effect_set(b["truth"]),
                          implementations=tuple(zip(effect_list(b["truth"]), map(str, b["implementations"]))),
                          reference=effect_set(a["predicted"]), other=effect_set(b["predicted"]),
                          duplicates=any(has_duplicates(x) for x in (b["truth"], a["predicted"], b["predicted"]))))
    return pairs, unpaired


# --- the decomposition ----------------------------------------------------------------------------------------


@dataclass
class Gap:
    """Presence counts under both renderers on paired clips, and where each error of the other renderer comes from."""

    reference: PresenceCounts = field(default_factory=PresenceCounts.empty)
    other: PresenceCounts = field(default_factory=PresenceCounts.empty)
    clips: int = 0
    pedals: int = 0
    miss_both: int = 0  # a true type missed on both clips: the guitar
    miss_other_only: int = 0  # found with pedalboard, missed with the other implementation: the implementation
    miss_reference_only: int = 0
    fa_both: int = 0  # a type reported on both clips but not in the truth
    fa_other_only: int = 0
    fa_reference_only: int = 0
    clean: int = 0  # clips with no pedal
    clean_any_reference: int = 0  # ... on which some pedal was reported
    clean_any_other: int = 0
    clean_same_answer: int = 0  # ... on which both renders got the same answer (an empty chain is the dry clip)

    def add(self, p: Pair) -> None:
        self.reference.add(sorted(p.truth), sorted(p.reference))
        self.other.add(sorted(p.truth), sorted(p.other))
        self.clips += 1
        self.pedals += len(p.truth)
        for e in p.truth:
            r, o = e in p.reference, e in p.other
            self.miss_both += not r and not o
            self.miss_other_only += r and not o
            self.miss_reference_only += o and not r
        for e in (p.reference | p.other) - p.truth:
            r, o = e in p.reference, e in p.other
            self.fa_both += r and o
            self.fa_other_only += o and not r
            self.fa_reference_only += r and not o
        if not p.truth:
            self.clean += 1
            self.clean_any_reference += bool(p.reference)
            self.clean_any_other += bool(p.other)
            self.clean_same_answer += p.reference == p.other

    def summary(self) -> dict[str, float]:
        r, o = self.reference.scores(), self.other.scores()
        out: dict[str, float] = {"clips": self.clips, "pedals": self.pedals, "clean_clips": self.clean}
        for name, s in (("reference", r), ("other", o)):
            out |= {f"precision_{name}": s["micro_precision"], f"recall_{name}": s["micro_recall"],
                    f"f1_{name}": s["micro_f1"]}
        out |= {k: getattr(self, k) for k in ("miss_both", "miss_other_only", "miss_reference_only",
                                               "fa_both", "fa_other_only", "fa_reference_only")}
        out["precision_if_gap_closed"] = r["micro_precision"]  # the same clips, rendered by the reference
        out["clean_any_reference"] = self.clean_any_reference / self.clean if self.clean else float("nan")
        out["clean_any_other"] = self.clean_any_other / self.clean if self.clean else float("nan")
        out["clean_same_answer"] = self.clean_same_answer
        return out

    def per_effect(self) -> dict[str, dict[str, float]]:
        """Per type: true pedals, recall under each renderer, and its false-alarm rate (the share of clips without
        that type in the truth on which it was reported)."""
        out = {}
        for i, e in enumerate(EFFECT_NAMES):
            n = int(self.reference.tp[i] + self.reference.fn[i])
            without = self.clips - n
            out[e] = {"pedals": n, "clips_without": without,
                      **{f"recall_{k}": float(c.tp[i] / n) if n else float("nan")
                         for k, c in (("reference", self.reference), ("other", self.other))},
                      **{f"fa_rate_{k}": float(c.fp[i] / without) if without else float("nan")
                         for k, c in (("reference", self.reference), ("other", self.other))}}
        return out


def gaps_by_source(pairs: Iterable[Pair]) -> dict[str, Gap]:
    """One Gap per source, in first-seen order, and ``all`` pooled."""
    out: dict[str, Gap] = {}
    pooled = Gap()
    for p in pairs:
        out.setdefault(p.source, Gap()).add(p)
        pooled.add(p)
    return out | {"all": pooled}


def implementation_gap(pairs: Iterable[Pair], key: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """Per implementation (or per ``key(name)``, e.g. its family): recall of the pedals it rendered, and recall of
    the same pedals (same clips, same type) when the reference rendered them; worst gap first."""
    acc: dict[str, dict[str, Any]] = {}
    for p in pairs:
        for effect, name in p.implementations:
            a = acc.setdefault(key(name), {"effects": set(), "n": 0, "hits_reference": 0, "hits_other": 0,
                                           "miss_other_only": 0, "miss_reference_only": 0})
            r, o = effect in p.reference, effect in p.other
            a["effects"].add(effect)
            a["n"] += 1
            a["hits_reference"] += r
            a["hits_other"] += o
            a["miss_other_only"] += r and not o
            a["miss_reference_only"] += o and not r
    rows = [{"name": k, "effects": sorted(a.pop("effects"), key=EFFECT_NAMES.index), **a,
             "recall_reference": a["hits_reference"] / a["n"], "recall_other": a["hits_other"] / a["n"],
             "gap": (a["hits_reference"] - a["hits_other"]) / a["n"]} for k, a in acc.items()]
    return sorted(rows, key=lambda r: (-r["gap"], r["name"]))


def family(name: str) -> str:
    """``calf/multichorus`` -> ``calf``."""
    return name.partition("/")[0]


# --- the files' own rows must agree with their clips -----------------------------------------------------------


def presence_scores(clips: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    counts = PresenceCounts.empty()
    for c in clips:
        counts.add(sorted(effect_set(c["truth"])), sorted(effect_set(c["predicted"])))
    return counts.scores()


def check_rows(res: Results) -> list[str]:
    """Each (source, model) row of ``res`` (micro precision, recall, F1) and implementation_recall must equal what
    its clips give; a mismatch is refused. Returns what was checked, one line per (source, model)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in res.clips:
        groups.setdefault((c["source"], c["model"]), []).append(c)
    recalls = {(r.get("source"), r.get("model")): r for r in res.data.get("implementation_recall", [])}
    lines = []
    for (source, model), clips in groups.items():
        mine = presence_scores(clips)
        row, checked = res.row(source, model), []
        if row is not None:
            for k in ("micro_precision", "micro_recall", "micro_f1"):
                if k in row and abs(float(row[k]) - mine[k]) > TOLERANCE:
                    raise DdspfxError(f"{res.flag} {res.path.name}: the row of {source}/{model} gives {k} "
                                      f"{float(row[k]):.6f} but its {len(clips)} clips give {mine[k]:.6f}: the file "
                                      "disagrees with itself")
            checked.append("precision, recall, F1")
        if (source, model) in recalls:
            hits: dict[str, list[bool]] = {}
            for c in clips:
                found = effect_set(c["predicted"])
                for effect, name in zip(effect_list(c["truth"]), c["implementations"]):
                    hits.setdefault(name, []).append(effect in found)
            for name, v in hits.items():
                said = recalls[(source, model)].get(name)
                if said is None or abs(float(said) - float(np.mean(v))) > TOLERANCE:
                    raise DdspfxError(f"{res.flag} {res.path.name}: implementation_recall of {source}/{model} gives "
                                      f"{name} {said} but its clips give {np.mean(v):.6f}: the file disagrees with itself")
            checked.append("implementation recall")
        lines.append(f"{res.label} {source}/{model}: " + (" and ".join(checked) + " agree with the clips"
                                                          if checked else "no row to check"))
    return lines


def check_paired(gaps: Mapping[str, Gap], ref: Results, other: Results, model: str) -> list[str]:
    """Where every clip of a source was paired, the paired precision and recall under each renderer must equal that
    file's row for the source; a mismatch is refused."""
    lines = []
    for source, g in gaps.items():
        said = []
        for key, res in (("reference", ref), ("other", other)):
            row = res.row(source, model)
            n = sum(1 for c in res.clips if c["source"] == source and c["model"] == model)
            if row is None or n != g.clips:
                said.append(f"{res.label}: not checked ({'no row' if row is None else f'{n - g.clips} clips unpaired'})")
                continue
            s = g.summary()
            for k in ("precision", "recall"):
                if abs(s[f"{k}_{key}"] - float(row[f"micro_{k}"])) > TOLERANCE:
                    raise DdspfxError(f"paired {source}: {res.label} {k} {s[f'{k}_{key}']:.6f} differs from "
                                      f"{res.path.name}'s row ({float(row[f'micro_{k}']):.6f})")
            said.append(f"{res.label} precision {s[f'precision_{key}']:.4f}, recall {s[f'recall_{key}']:.4f} "
                        f"= {res.path.name}'s row")
        if source != "all":
            lines.append(f"paired {source}/{model}: " + "; ".join(said))
    return lines


def clean_rows(gaps: Mapping[str, Gap], ref: Results, other: Results, model: str) -> str:
    """The clean-clip answers, and the rows' ``clean_any`` (each source's dry clips, analysed on their own)."""
    parts = []
    for source, g in gaps.items():
        if source == "all":
            continue
        rows = [r.row(source, model) or {} for r in (ref, other)]
        any_ = " / ".join(f"{r['clean_any']:.3f}" if "clean_any" in r else "–" for r in rows)
        parts.append(f"{source}: the same answer on {g.clean_same_answer} of {g.clean} clean clips; rows' clean_any "
                     f"(dry clips) {any_}")
    return "; ".join(parts)


# --- tables -------------------------------------------------------------------------------------------------------


def arrow(a: float, b: float, digits: int = 3) -> str:
    return f"{a:.{digits}f} → {b:.{digits}f}"


def source_table(gaps: Mapping[str, Gap], ref: str, other: str) -> str:
    lines = [f"Cells with an arrow: {ref} → {other}. Misses and false alarms: made on both clips / only with {other} / "
             f"only with {ref}.", "",
             "| source | clips | pedals | clean clips | precision | recall | µF1 | misses | false alarms | "
             "clean clips, any pedal |", "|---" * 10 + "|"]
    for source, g in gaps.items():
        s = g.summary()
        lines.append(f"| {source} | {g.clips} | {g.pedals} | {g.clean} | "
                     f"{arrow(s['precision_reference'], s['precision_other'])} | "
                     f"{arrow(s['recall_reference'], s['recall_other'])} | {arrow(s['f1_reference'], s['f1_other'])} | "
                     f"{g.miss_both} / {g.miss_other_only} / {g.miss_reference_only} | "
                     f"{g.fa_both} / {g.fa_other_only} / {g.fa_reference_only} | "
                     f"{arrow(s['clean_any_reference'], s['clean_any_other'], 2)} |")
    return "\n".join(lines)


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def source_sentences(gaps: Mapping[str, Gap], ref: str, other: str) -> str:
    """The decomposition in words, one paragraph per source."""
    out = []
    for source, g in gaps.items():
        s = g.summary()
        misses, fas = g.miss_both + g.miss_other_only, g.fa_both + g.fa_other_only
        out.append(
            f"- **{source}**: with {other} the model misses {misses} of {g.pedals} pedals; {g.miss_both} "
            f"({share(g.miss_both, misses)}) are missed with {ref} too on the same guitar, {g.miss_other_only} "
            f"({share(g.miss_other_only, misses)}) only with {other}; {ref} also misses {g.miss_reference_only} that "
            f"{other} finds. Of its {fas} false alarms, {g.fa_both} ({share(g.fa_both, fas)}) also appear with {ref}, "
            f"{g.fa_other_only} ({share(g.fa_other_only, fas)}) only with {other}; {ref} has {g.fa_reference_only} "
            f"of its own. Precision if the implementation gap closed: {s['precision_if_gap_closed']:.3f} ({ref}'s "
            f"precision on these clips), against {s['precision_other']:.3f} with {other}; recall would be "
            f"{s['recall_reference']:.3f} against {s['recall_other']:.3f}.")
    return "\n".join(out)


def effect_table(g: Gap, ref: str, other: str) -> str:
    lines = [f"| effect | pedals | recall {ref} | recall {other} | gap | false alarms {ref} | false alarms {other} |",
             "|---" * 7 + "|"]
    for e, v in g.per_effect().items():
        lines.append(f"| {e} | {v['pedals']} | {v['recall_reference']:.3f} | {v['recall_other']:.3f} | "
                     f"{v['recall_reference'] - v['recall_other']:+.3f} | {v['fa_rate_reference']:.3f} | "
                     f"{v['fa_rate_other']:.3f} |")
    return "\n".join(lines)


def effect_by_source_table(gaps: Mapping[str, Gap], what: str) -> str:
    """``what`` = recall or fa_rate; cells ``reference → other``."""
    sources = [s for s in gaps if s != "all"]
    per = {s: gaps[s].per_effect() for s in sources}
    lines = ["| effect | " + " | ".join(sources) + " |", "|---" * (len(sources) + 1) + "|"]
    for e in EFFECT_NAMES:
        cells = [f"{arrow(per[s][e][f'{what}_reference'], per[s][e][f'{what}_other'], 2)}"
                 + (f" (n={per[s][e]['pedals']})" if what == "recall" else "") for s in sources]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def implementation_table(rows: Sequence[Mapping[str, Any]], ref: str, other: str, title: str) -> str:
    lines = [f"| {title} | effect | pedals | recall {ref} (same pedals) | recall {other} | gap | "
             f"missed only with {other} | missed only with {ref} |", "|---" * 8 + "|"]
    lines += [f"| {r['name']} | {', '.join(r['effects'])} | {r['n']} | {r['recall_reference']:.3f} | "
              f"{r['recall_other']:.3f} | {r['gap']:+.3f} | {r['miss_other_only']} | {r['miss_reference_only']} |"
              for r in rows]
    return "\n".join(lines)


def baselines(ref: Results, other: Results, model: str, sources: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The other models of either file, scored on their own clips of each paired source (None where absent)."""
    out: dict[str, dict[str, Any]] = {}
    for m in sorted((ref.models() | other.models()) - {model}):
        out[m] = {}
        for s in sources:
            clips = {k: [c for c in r.clips if c["model"] == m and c["source"] == s]
                     for k, r in (("reference", ref), ("other", other))}
            out[m][s] = {k: presence_scores(v) if v else None for k, v in clips.items()}
    return out


def baseline_lines(base: Mapping[str, Mapping[str, Any]], ref: str, other: str) -> str:
    def fig(s: Mapping[str, float] | None, where: str, label: str) -> str:
        if s is None:
            return f"{label}: not in the {where} file"
        return f"{label}: P {s['micro_precision']:.3f} / R {s['micro_recall']:.3f} / µF1 {s['micro_f1']:.3f}"

    return "\n".join(f"- {source}, {m}: {fig(v['other'], 'other', other)}; {fig(v['reference'], 'reference', ref)}"
                     for m, per in base.items() for source, v in per.items()) or "- no other model in either file"


# --- plot ---------------------------------------------------------------------------------------------------------


def plot_recall(path: Path, gaps: Mapping[str, Gap], ref: str, other: str, model: str) -> None:
    """Recall per effect type under both renderers: all sources pooled, then each source."""
    from ddspfx.plots import _matplotlib

    plt = _matplotlib()
    panels = ["all", *(s for s in gaps if s != "all")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), sharey=True, squeeze=False)
    x = np.arange(len(EFFECT_NAMES))
    for ax, s in zip(axes[0], panels):
        per = gaps[s].per_effect()
        for j, (k, label) in enumerate((("reference", ref), ("other", other))):
            ax.bar(x + (j - 0.5) * 0.4, [per[e][f"recall_{k}"] for e in EFFECT_NAMES], 0.4, label=label)
        ax.set_xticks(x, EFFECT_NAMES, rotation=45, ha="right", fontsize=8)
        ax.set_title("all sources" if s == "all" else s, fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel(f"recall ({model}, paired clips)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# --- entry point --------------------------------------------------------------------------------------------------


def shown(path: Path) -> str:
    """A path as a reader would type it: relative to the repository when it lies inside."""
    p = path.resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(path)


def provenance_line(res: Results, model: str) -> str:
    p = (res.data.get("provenance", {}) or {}).get(model)
    if not p:
        return f"- {res.flag} `{shown(res.path)}` ({res.label}): no provenance recorded for {model}"
    return (f"- {res.flag} `{shown(res.path)}` ({res.label}, seed {res.data.get('setup', {}).get('seed', '?')}): "
            f"`{p.get('checkpoint', '?')}`, SHA-256 `{p.get('sha256', '?')}`, git commit `{p.get('git_commit', '?')}`, "
            f"trained on `{p.get('trained_on', '?')}`")


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.implementation_gap", description=__doc__.splitlines()[0])
    p.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                   help=f"real_sources results with pedalboard renders (default {shown(DEFAULT_REFERENCE)})")
    p.add_argument("--other", type=Path, default=DEFAULT_OTHER,
                   help=f"real_sources results on the same clips, another renderer (default {shown(DEFAULT_OTHER)})")
    p.add_argument("--model", default="R8", help="the model's name in both files (default R8)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {shown(DEFAULT_OUT)})")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    ref, other = load_results(args.reference, "--reference"), load_results(args.other, "--other")
    pairs, unpaired = pair_clips(ref, other, args.model)
    gaps = gaps_by_source(pairs)
    checks = check_rows(ref) + check_rows(other) + check_paired(gaps, ref, other, args.model)
    sources = [s for s in gaps if s != "all"]
    impls = implementation_gap(pairs)
    families = implementation_gap(pairs, family)
    base = baselines(ref, other, args.model, sources)
    a, b = ref.label, other.label
    prov = {r.flag.lstrip("-"): (r.data.get("provenance", {}) or {}).get(args.model, {}) for r in (ref, other)}
    same_weights = bool(prov["reference"].get("sha256")) and prov["reference"].get("sha256") == prov["other"].get("sha256")
    duplicates = sum(p.duplicates for p in pairs)
    command = shlex.join(["python", "-m", "experiments.implementation_gap", "--reference", shown(args.reference),
                          "--other", shown(args.other), "--model", args.model, "--out", shown(args.out)])

    report = f"""# What stands in the way on other people's plugins: {args.model}, the guitar or the implementation?

{len(pairs)} clips of {args.model} paired by (source, index) with identical true chains; each chain rendered once
by {a} and once by {b}. Unpaired clips of the shared sources: {unpaired['reference']} in the reference, \
{unpaired['other']} in the other file. Chains naming a type twice: {duplicates} (scored as sets).

{provenance_line(ref, args.model)}
{provenance_line(other, args.model)}
- the same weights in both files: {'yes' if same_weights else '**no**: the pairing compares two different models'}

Reproduce: `{command}`

Scores are on the effect set (presence by type; order and knobs ignored), micro-averaged over pedals as in
`ddspfx.metrics.PresenceCounts`. A miss or false alarm of the {b} clip is "both" when the model makes it on
the {a} clip of the same chain and guitar too (the guitar stands in the way) and "only {b}" when it does not
(the implementation stands in the way); "only {a}" counts the reverse. "Clean clips" are those with an empty
chain. Precision if the implementation gap closed = {a}'s precision on the same clips.

## Per source

{source_table(gaps, a, b)}

{source_sentences(gaps, a, b)}

Clean clips ({a} / {b}): {clean_rows(gaps, ref, other, args.model)}.

Other models (their own clips of the same sources):
{baseline_lines(base, a, b)}

## Per effect type, all sources

Recall of the type's true pedals; false alarms = the share of clips without that type in the truth on which it
was reported.

{effect_table(gaps['all'], a, b)}

### Recall per source ({a} → {b})

{effect_by_source_table(gaps, 'recall')}

### False alarms per source ({a} → {b})

{effect_by_source_table(gaps, 'fa_rate')}

## Per implementation, all sources (worst gap first)

Recall of the pedals an implementation rendered, and of the same pedals (same clips, same type) rendered by {a}.

{implementation_table(impls, a, b, 'implementation')}

### Per family

{implementation_table(families, a, b, 'family')}

## Checks

""" + "\n".join(f"- {line}" for line in checks) + "\n"
    out = Path(args.out)
    atomic_write_text(out / "report.md", report)
    atomic_write_text(out / "gap.json", json.dumps({
        "model": args.model, "command": command, "same_weights": same_weights, "paired_clips": len(pairs),
        "unpaired": unpaired, "duplicate_type_chains": duplicates,
        "files": {k: {"path": shown(r.path), "label": r.label, "setup": r.data.get("setup", {}), "provenance": prov[k]}
                  for k, r in (("reference", ref), ("other", other))},
        "per_source": {s: g.summary() for s, g in gaps.items()},
        "per_effect": {s: g.per_effect() for s, g in gaps.items()},
        "per_implementation": impls, "per_family": families, "other_models": base, "checks": checks,
    }, indent=2))
    plot_recall(out / "recall_by_effect.png", gaps, a, b, args.model)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
