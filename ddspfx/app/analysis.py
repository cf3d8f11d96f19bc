"""The pure functions behind the analysis page: clip in, chain, pictures, re-renders and downloads out.

Nothing here imports Gradio, so every step is testable (and usable) without a server. Each function
reuses the command line's own code: the clip is read and checked by ``ddspfx.audio`` (the same one-line
messages as ``python -m ddspfx.infer``), the JSON object is ``Analysis.to_json`` (what ``infer --json``
prints), the spectrogram figure is ``ddspfx.plots.plot_analysis`` and renders go through
``ddspfx.render.render_chain`` (pedalboard). With a dry-recovery network (``ddspfx.dry_recovery``), the page also
gives the clean guitar recovered from the clip, and refines on it when no dry was given (``infer --refine``'s way).
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.analysis import Analysis
from ddspfx.audio import check_audio, load_audio, save_audio
from ddspfx.catalog import get_effect
from ddspfx.chain import Chain
from ddspfx.config import DEFAULT_BUDGET_S
from ddspfx.dry_recovery import DEFAULT_DRY_RECOVERY, DryRecoveryNet, load_dry_model, run_network
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.estimator import Estimator, answer_with_dry
from ddspfx.plots import plot_analysis
from ddspfx.refine import level_dry, refine
from ddspfx.render import render_chain
from ddspfx.sources import make_source

MAX_UPLOAD_MB = 50.0
"""Largest upload the page analyses (MB, 10^6 bytes): 50 MB holds about 5 minutes of 44.1 kHz 24-bit stereo wav."""

BUILTIN_DRY_SEED = 0
"""Seed of the built-in dry guitar phrase (``ddspfx.sources.synth``): the same phrase on every visit."""

BUILTIN_DRY_MAX_SECONDS = 30.0
"""The built-in phrase is as long as the clip, but at most this long (s)."""

REFINE_STEPS = 150
"""Each candidate's most descent steps when the page refines: the time limit, not this, decides how far it gets."""

Progress = Callable[[float, str], None]
"""``progress(fraction in [0, 1], what is happening)``; the page passes Gradio's progress bar."""


def _no_progress(fraction: float, desc: str) -> None:
    return None


def error_line(exc: BaseException) -> str:
    """The line the command line prints for a user error (``ddspfx: error: ...``)."""
    return f"ddspfx: error: {exc}"


def read_clip(path: str | os.PathLike[str], sample_rate: int, name: str | None = None,
              max_mb: float = MAX_UPLOAD_MB) -> np.ndarray:
    """Read, resample and downmix an uploaded clip and refuse one ddspfx cannot analyse.

    ``name`` is what the user called the file (an upload lives under a temporary name); messages use it,
    so the page says what ``python -m ddspfx.infer name`` would. Returns float32 ``(T,)`` at ``sample_rate``.
    """
    path = Path(path)
    shown = name or path.name
    if path.is_file():
        size_mb = path.stat().st_size / 1e6
        if size_mb > max_mb:
            raise AudioError(f"{shown} is {size_mb:.1f} MB; the page takes files up to {max_mb:.0f} MB "
                             "(trim the clip, or run python -m ddspfx.infer on it)")
    try:
        x = load_audio(path, sample_rate=sample_rate, mono=True)
        check_audio(x, sample_rate, name=str(path))
    except DdspfxError as exc:
        raise type(exc)(str(exc).replace(str(path), shown)) from None
    return x


@dataclass
class PageResult:
    """Everything the analysis page shows for one clip (paths live in the request's temporary folder)."""

    analysis: Analysis
    record: dict[str, Any]
    """The ``infer --json`` object (plus ``refine`` when refined, as the CLI adds it)."""
    snippet: str
    plot: Path
    renders: dict[str, Path] = field(default_factory=dict)
    """Re-renders by kind: ``clip_dry`` (a), ``your_dry`` (b), ``builtin_dry`` (c)."""
    downloads: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    refined: Any = None
    """The ``ddspfx.refine.RefineResult`` when refinement ran (None when it did not, or only measured)."""
    refine_seconds: float = 0.0
    refine_limit_s: float = 0.0
    estimate: Chain | None = None
    """The chain refinement started from (the model's estimate), when it ran."""
    clean: Path | None = None
    """The clean guitar recovered from the clip (``ddspfx.dry_recovery``), when the page has the network."""


def _changes(before: Chain, after: Chain) -> str:
    """What refinement did to the estimate's pedals, in words."""
    added = [e for e in after.effects if e not in before.effects]
    removed = [e for e in before.effects if e not in after.effects]
    said = [f"{verb} {', '.join(fx)}" for verb, fx in (("added", added), ("removed", removed)) if fx]
    if said:
        return "It " + " and ".join(said) + "."
    if after.effects != before.effects:
        return "It changed the order to " + " -> ".join(after.effects) + "."
    if after == before:
        return "Nothing it tried came closer: the estimate stands."
    return "It kept the estimate's pedals and retuned their knobs."


def status_line(page: PageResult, name: str) -> str:
    """The page's status (Markdown): what was analysed and, only when refinement ran, what it found, in words."""
    out = f"Analysed **{Path(name).name}** in {page.seconds:.1f} s."
    result = page.refined
    if result is None:
        return out
    recovered = getattr(result, "dry_source", "given") == "recovered"
    on, alone = (("the clean guitar recovered from the clip (no dry was given)", "the recovered dry alone")
                 if recovered else ("your dry", "the dry alone"))
    out += (f"\n\nRefined for {page.refine_seconds:.0f} s (limit {page.refine_limit_s:g} s). How far each "
            f"re-render on {on} sounds from the clip (a spectral distance: 0 is the same sound, lower is "
            f"closer): {alone} {result.distance_dry:.2f}, the model's estimate {result.distance_before:.2f}, "
            f"refined **{result.distance_after:.2f}**. ")
    return out + _changes(page.estimate or page.analysis.chain, page.analysis.chain)


def pedalboard_snippet(chain: Chain, source: str = "the clip") -> str:
    """A short, self-contained Python program that builds the chain as a ``pedalboard.Pedalboard``.

    Values are written with ``repr`` (the shortest exact float), so the board renders the same samples as
    ``Chain.to_pedalboard()``. A chain with pedals plain pedalboard lacks (tremolo, wah, ...) gets a program
    that renders it with ddspfx instead, and says which pedals need it.
    """
    missing = chain.needs_ddspfx()
    if missing:
        return "\n".join([
            f"# ddspfx's estimate for {source}: {' -> '.join(chain.effects)}",
            f"# pedalboard has no {', '.join(missing)}: ddspfx renders this chain (its own DSP for those pedals,",
            "# pedalboard for the rest), each pedal in its place in the chain.",
            "import soundfile as sf", "from ddspfx.chain import Chain", "from ddspfx.render import render_chain", "",
            f"chain = Chain.from_json({chain.to_json()!r})",
            'dry, sr = sf.read("my_dry_guitar.wav", dtype="float32", always_2d=True)  # (T, C)',
            "wet, gain = render_chain(dry.T, chain, sr)  # (C, T); ddspfx turns down only what would clip",
            'sf.write("my_wet_guitar.wav", wet.T, sr, subtype="FLOAT")  # float32, as ddspfx writes wavs', ""])
    lines = [f"# ddspfx's estimate for {source}: {' -> '.join(chain.effects) or 'no effects (dry)'}",
             "import numpy as np", "import pedalboard", "import soundfile as sf", "",
             "board = pedalboard.Pedalboard(["]
    for pedal in chain:
        eff = get_effect(pedal.effect)
        kwargs = {p.name: float(pedal.params[p.name]) for p in eff.params}
        kwargs.update({k: float(v) for k, v in eff.fixed.items()})
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        lines.append(f"    pedalboard.{eff.pedalboard_class}({args}),")
    lines += ["])", "",
              'dry, sr = sf.read("my_dry_guitar.wav", dtype="float32", always_2d=True)  # (T, C)',
              "wet = board(np.ascontiguousarray(dry.T), sr, reset=True)  # (C, T)",
              "wet *= min(1.0, 0.99 / max(float(np.abs(wet).max()), 1e-12))  # ddspfx turns down only what would clip",
              'sf.write("my_wet_guitar.wav", wet.T, sr, subtype="FLOAT")  # float32, as ddspfx writes wavs', ""]
    return "\n".join(lines)


def _knobs(pedal_describe: str) -> list[str]:
    """``"delay (time 380 ms, feedback 0.35)"`` -> ``["time 380 ms", "feedback 0.35"]`` (``Pedal.describe``'s units)."""
    return pedal_describe.split("(", 1)[1].rstrip(")").split(", ") if "(" in pedal_describe else []


def chain_html(analysis: Analysis) -> str:
    """The chain as pedals in signal order, each knob in real units, with the confidences and the runner-up.

    Each pedal is a ``div.ddspfx-pedal`` with ``data-effect`` and ``data-position`` (1 = hears the guitar
    first), and the CLI's text (``Analysis.describe``) is in ``pre.ddspfx-describe``, so people and the
    browser test read the same page.
    """
    esc = html.escape
    chain = analysis.chain
    parts = ['<div class="ddspfx-chain" style="display:flex;flex-wrap:wrap;align-items:center;gap:6px">',
             '<div class="ddspfx-io" style="font-weight:bold">guitar &rarr;</div>']
    if not chain.pedals:
        parts.append('<div class="ddspfx-pedal ddspfx-dry" data-effect="" data-position="0" '
                     'style="padding:10px;border:2px dashed #888;border-radius:10px">no effects (dry)</div>')
    for i, pedal in enumerate(chain, start=1):
        eff = get_effect(pedal.effect)
        conf = analysis.effect_confidence.get(pedal.effect, 0.0)
        knobs = "".join(f'<li class="ddspfx-knob">{esc(k)}</li>' for k in _knobs(pedal.describe()))
        parts.append(
            f'<div class="ddspfx-pedal" data-effect="{esc(pedal.effect)}" data-position="{i}" '
            f'data-confidence="{conf:.4f}" title="{esc(eff.pedalboard_class or "rendered by ddspfx")}" '
            'style="min-width:150px;padding:8px 10px;border:2px solid #333;border-radius:10px;background:#f4f1ea">'
            f'<div style="font-weight:bold">{i}. {esc(pedal.effect.upper())}</div>'
            f'<ul style="margin:4px 0;padding-left:16px;font-size:90%">{knobs}</ul>'
            f'<div class="ddspfx-confidence" style="font-size:85%">present: {conf:.2f}</div></div>')
        parts.append('<div style="font-size:150%">&rarr;</div>')
    parts.append('<div class="ddspfx-io" style="font-weight:bold">amp</div></div>')
    notes = [f"order confidence: {analysis.order_confidence:.2f} (over {analysis.windows} window(s))"]
    runner_up = analysis.runner_up_order()
    if runner_up is not None:
        notes.append(f'runner-up order (would sound different): <span class="ddspfx-runner-up">'
                     f'{esc(" -> ".join(runner_up[0].effects))}</span> (p={runner_up[1]:.2f})')
    else:
        notes.append("runner-up order: none close (no other order of these pedals within "
                     "a quarter of the best's probability)")
    absent = [f"{esc(e)} {p:.2f}" for e, p in analysis.effect_confidence.items()
              if e not in chain.effects and p >= 0.3]
    if absent:
        notes.append("possibly also: " + ", ".join(absent))
    parts.append("<ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")
    parts.append(f'<pre class="ddspfx-describe" style="white-space:pre-wrap">{esc(analysis.describe())}</pre>')
    return "".join(parts)


def builtin_dry(seconds: float, sample_rate: int) -> np.ndarray:
    """The built-in dry guitar phrase (``ddspfx.sources.synth``, fixed seed), ``seconds`` long (capped)."""
    seconds = float(min(max(seconds, 1.0), BUILTIN_DRY_MAX_SECONDS))
    return make_source("synth", sample_rate=sample_rate).sample(np.random.default_rng(BUILTIN_DRY_SEED), seconds)


def render_onto(dry: np.ndarray, chain: Chain, sample_rate: int) -> np.ndarray:
    """The chain put on ``dry`` with pedalboard (``ddspfx.render.render_chain``: peak <= 0.99, same length)."""
    wet, _gain = render_chain(dry, chain, sample_rate)
    return wet


def write_outputs(workdir: Path, wet: np.ndarray, analysis: Analysis, sample_rate: int, name: str,
                  dry: np.ndarray | None = None, your_dry: np.ndarray | None = None,
                  extra: dict[str, Any] | None = None, progress: Progress = _no_progress,
                  clean: np.ndarray | None = None) -> PageResult:
    """Plot, re-render and write the downloads of an analysed clip into ``workdir`` (a temporary folder); ``clean``
    is the clean guitar recovered from the clip (written as ``<clip>_clean_guitar.wav``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    chain = analysis.chain
    stem = Path(name).stem or "clip"
    record = {**analysis.to_json(name), **(extra or {})}
    snippet = pedalboard_snippet(chain, source=name)
    progress(0.75, "drawing the spectrograms")
    plot = workdir / f"{stem}_spectrograms.png"
    plot_analysis(str(plot), wet, chain, sample_rate, dry=dry, title=Path(name).name)
    progress(0.85, "re-rendering the chain with pedalboard")
    sources = {"clip_dry": dry, "your_dry": your_dry,
               "builtin_dry": builtin_dry(len(wet) / sample_rate, sample_rate)}
    renders: dict[str, Path] = {}
    for kind, source in sources.items():
        if source is None:
            continue
        path = workdir / f"{stem}_on_{kind}.wav"
        save_audio(path, render_onto(source, chain, sample_rate), sample_rate)
        renders[kind] = path
    clean_path = None
    if clean is not None:
        clean_path = workdir / f"{stem}_clean_guitar.wav"
        save_audio(clean_path, clean, sample_rate)
    json_path = workdir / f"{stem}_pedals.json"
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    py_path = workdir / f"{stem}_board.py"
    py_path.write_text(snippet)
    downloads = [*renders.values(), *([clean_path] if clean_path else []), json_path, py_path, plot]
    return PageResult(analysis, record, snippet, plot, renders, downloads, clean=clean_path)


def analyse_upload(estimator: Estimator, workdir: Path, wet_path: str, name: str | None = None,
                   dry_path: str | None = None, your_dry_path: str | None = None, refine: bool = False,
                   refine_seconds: float = DEFAULT_BUDGET_S, refiner: Callable[..., Any] | None = None,
                   progress: Progress = _no_progress, max_mb: float = MAX_UPLOAD_MB,
                   dry_estimator: Estimator | None = None, recovery: DryRecoveryNet | None = None) -> PageResult:
    """Upload in, page out: read and check the clips, estimate the chain, optionally refine it, render.

    With the clip's own dry, the answer is ``infer --dry``'s (``ddspfx.infer.answer_with_dry``): the dry lined up on
    the clip, ``dry_estimator``'s estimate where there is one (else the blind one), then the refinement.

    With a dry-recovery network (``recovery``), the page also gives the clean guitar recovered from the clip
    (``PageResult.clean``), and without the clip's dry, refining re-renders onto it (``infer --refine`` without
    ``--dry``); without either, refining is refused in one line.

    ``refine_seconds`` is refinement's time limit (``ddspfx.refine.refine``'s ``budget_s``): what a visitor
    chooses, since the limit, not a step count, decides how far the search gets.
    ``refiner(wet, dry, analysis, sample_rate, seconds, progress, dry_source)`` returns a ``RefineResult``
    (``seconds`` 0: only measure the estimate; ``dry_source`` is refine's, ``"recovered"`` for the clean guitar); the page passes one that runs in a cancellable process
    (:func:`ddspfx.app.jobs.refine_in_process`), the default runs ``ddspfx.refine.refine`` here. Raises
    ``DdspfxError`` with the CLI's one-line messages.
    """
    start = time.perf_counter()
    sr = estimator.sample_rate
    name = name or Path(wet_path).name
    progress(0.05, "reading the clip")
    wet = read_clip(wet_path, sr, name=name, max_mb=max_mb)
    dry = read_clip(dry_path, sr, max_mb=max_mb) if dry_path else None
    your_dry = read_clip(your_dry_path, sr, max_mb=max_mb) if your_dry_path else None
    if refine and dry is None and recovery is None:
        raise DdspfxError("refining needs the clip's own dry recording: add it under Advanced (without it, refining "
                          "re-renders onto a dry recovered from the clip, and no dry-recovery network is installed)")
    if refine and not refine_seconds > 0:
        raise DdspfxError(f"the refinement time limit must be positive, got {refine_seconds:g} s")
    progress(0.15, f"listening: {max(1, round(len(wet) / estimator.window))} window(s) of "
                   f"{estimator.window / sr:.0f} s")
    analysis = estimator.analyse_many([wet])[0]
    clean = None
    if recovery is not None:
        progress(0.2, "recovering the clean guitar")
        clean = run_network(recovery, wet, sr)  # (T,), lined up with the clip
    extra: dict[str, Any] = {}
    ran: list[tuple[Any, float, Chain]] = []  # (RefineResult, seconds, estimate) of the refinement
    seconds = float(refine_seconds) if refine else 0.0

    def refine_timed(w: np.ndarray, d: np.ndarray, a: Analysis, source: str = "given") -> Any:
        began = time.perf_counter()
        result = (refiner or _refine_here)(w, d, a, sr, seconds, progress, source)
        ran.append((result, time.perf_counter() - began, a.chain))
        return result

    if dry is not None:
        analysis, dry, extra = answer_with_dry(wet, dry, analysis, sr, dry_estimator, refine_timed)
        extra["dry"] = "given"
    elif refine and clean is not None:  # infer --refine without --dry: the check on the recovered dry
        result = refine_timed(wet, level_dry(clean), analysis, "recovered")
        analysis = result.analysis
        extra = {"estimate": "blind", "dry": "recovered", "refine": result.summary()}
    if refine and ran:
        extra["refine_changed"] = ran[0][0].change
    page = write_outputs(workdir, wet, analysis, sr, name, dry=dry, your_dry=your_dry, extra=extra,
                         progress=progress, clean=clean)
    if refine and ran:
        page.refined, page.refine_seconds, page.estimate = ran[0]
        page.refine_limit_s = float(refine_seconds)
    page.seconds = time.perf_counter() - start
    progress(1.0, "done")
    return page


def _refine_here(wet: np.ndarray, dry: np.ndarray, analysis: Analysis, sample_rate: int, seconds: float,
                 progress: Progress, dry_source: str = "given") -> Any:
    if seconds <= 0:
        progress(0.3, "measuring the estimate on the dry")
        return refine(wet, dry, analysis, sample_rate, steps=0, dry_source=dry_source)
    progress(0.3, f"refining: fitting candidate chains to the dry (at most ~{seconds:g} s)")
    return refine(wet, dry, analysis, sample_rate, steps=REFINE_STEPS, budget_s=seconds, dry_source=dry_source)


def recovery_network(path: str | os.PathLike[str] | None = None) -> DryRecoveryNet | None:
    """The page's dry-recovery network: the one at ``path`` (a one-line ``DdspfxError`` if it cannot be read), else
    the shipped one, else None (none ships yet: the page then hides the clean guitar and says why)."""
    if path is not None:
        return load_dry_model(Path(path))
    return load_dry_model(DEFAULT_DRY_RECOVERY) if DEFAULT_DRY_RECOVERY.is_file() else None
