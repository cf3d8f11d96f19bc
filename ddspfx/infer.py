"""``python -m ddspfx.infer clip.wav``: which pedals, in which order, with which settings.

The command line only: it parses the flags, checks the files, calls the analysis API (``ddspfx.estimator``,
``ddspfx.analysis``, ``ddspfx.refine``) and prints. Nothing imports this module for its classes.

Exit status: 0 every clip analysed; 1 a file could not be read, analysed or written (one line each on stderr; the
other clips are still answered); 2 a flag or a model is wrong (one line). ``--json`` prints one object per clip per
line.

``--recover-dry OUT`` also writes the clean guitar recovered from the clip (``ddspfx.dry_recovery``'s network), and
``--refine`` without ``--dry`` checks the answer by re-rendering onto that recovered dry (issue 32).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

from ddspfx.analysis import Analysis
from ddspfx.audio import audio_info, check_audio, load_audio, open_audio, save_audio
from ddspfx.config import DEFAULT_BUDGET_S, DEFAULT_DRY_RECOVERY, EFFECT_SET_MODES, ORDER_SEARCH_MODES
from ddspfx.errors import AudioError, CliParser, DdspfxError, cli_entry
from ddspfx.render import render_chain
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.sources import make_source

if TYPE_CHECKING:  # the model (torch) loads after the flags and files are checked: see _main
    from ddspfx.dry_recovery import DryRecoveryNet
    from ddspfx.estimator import Estimator
    from ddspfx.refine import RefineResult

STREAM_SECONDS = 60.0
"""Files longer than this are analysed window by window from disk (bounded memory, a progress bar)."""

PLOT_SUFFIX = ".png"
"""``--plot`` writes a PNG image, so its name must say so."""

RECOVERY_MODEL = DEFAULT_DRY_RECOVERY
"""The network ``--recover-dry`` runs unless ``--recovery-model`` names another (tests point it elsewhere)."""

RECOVERED_NAME = "{stem}_dry.wav"
"""What ``--recover-dry FOLDER`` calls each clip's recovered dry."""


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.infer", description="Estimate the pedal chain of wet guitar clips.",
                  epilog="exit status: 0 all clips analysed, 1 a file could not be read or analysed, 2 a bad flag "
                         "or model")
    p.add_argument("clips", nargs="*", help="wet guitar clips (wav, flac, ...; any rate, length, channels)")
    p.add_argument("--demo", action="store_true",
                   help="no clip needed: synthesise a guitar phrase, put it through a random chain, estimate it")
    p.add_argument("--seed", type=int, default=0, help="seed for --demo (default 0)")
    p.add_argument("--checkpoint", help="model checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--dry-checkpoint", help="a dry-aware model (frontend.paired) for clips given with --dry; "
                                            "default: the shipped one if there is one, else the blind model")
    p.add_argument("--json", action="store_true", help="one JSON object per clip per line on stdout, nothing else")
    p.add_argument("--beam", type=int, default=None,
                   help="beam width for decoding (default 1 with the exhaustive order search, 4 with the beam's order)")
    p.add_argument("--effect-set", choices=EFFECT_SET_MODES, default=None,
                   help="who picks the effects: the token 'decoder' or the 'presence' head (then the decoder orders "
                        "them); default: the checkpoint's setting")
    p.add_argument("--order-search", choices=ORDER_SEARCH_MODES, default=None,
                   help="'exhaustive' scores every order of the found effects, 'beam' keeps the beam's order; "
                        "default: the checkpoint's setting")
    p.add_argument("--render-onto", metavar="DRY.wav", help="apply the estimated chain (pedalboard) to your own dry recording")
    p.add_argument("--out", metavar="OUT.wav", help="where --render-onto writes (default: <dry>_ddspfx.wav)")
    p.add_argument("--dry", metavar="DRY.wav",
                   help="the clip's own dry recording: lined up on the clip, heard by the dry-aware model beside it "
                        "(its distance to the clip is measured), and fitted to with --refine")
    p.add_argument("--refine", action="store_true",
                   help="analysis by synthesis: optimise params, pick the order, check unsure pedals by re-rendering "
                        "onto the --dry recording (without --dry: onto the dry recovered from the clip, when the "
                        "dry-recovery network is installed)")
    p.add_argument("--refine-steps", type=int, default=150, help="optimisation steps for --refine (default 150)")
    p.add_argument("--refine-budget", type=float, default=None, metavar="SECONDS",
                   help="--refine's time limit: it fits the estimate's candidates, then keeps searching (other orders "
                        "that sound different, then subsets of the pedals) until this many seconds are spent "
                        f"(default {DEFAULT_BUDGET_S:g})")
    p.add_argument("--refine-waveform", type=float, default=0.0, metavar="SECONDS",
                   help="--refine then fits the chosen chain's knobs to the clip's waveform for this many seconds "
                        "(e.g. 10: a delay time to the sample, an LFO's rate; worth it when the chain is nearly "
                        "right); default 0: off")
    p.add_argument("--refine-toggles", type=int, default=2,
                   help="--refine also tries adding or removing this many of the least certain pedals (default 2; "
                        "0 keeps the estimate's pedals)")
    p.add_argument("--plot", metavar="OUT.png", help="spectrograms and the chain drawn as pedals (a PNG image)")
    p.add_argument("--recover-dry", metavar="OUT.wav",
                   help="also write the clean guitar recovered from the clip (its pedals taken off): mono, as long "
                        "as the clip, lined up with it, at its sample rate; with several clips give a folder, where "
                        "each is written as <clip name>_dry.wav")
    p.add_argument("--recovery-model", metavar="MODEL.safetensors",
                   help="the dry-recovery network for --recover-dry and for --refine without --dry (default: the "
                        "shipped one)")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.demo:
        given = [f"--{flag.replace('_', '-')}" for flag in ("render_onto", "dry", "plot", "recover_dry")
                 if getattr(args, flag)]
        if args.clips or given:
            raise DdspfxError(f"--demo makes its own clip: give clips or --demo, not both "
                              f"(got {', '.join([*args.clips, *given])})")
    elif not args.clips:
        raise DdspfxError("give at least one clip (python -m ddspfx.infer clip.wav), or --demo to try it without one")
    for flag in ("checkpoint", "dry_checkpoint"):  # a wrong model is a flag's fault: said before the files' faults
        if getattr(args, flag) and not Path(getattr(args, flag)).exists():
            raise DdspfxError(f"checkpoint {getattr(args, flag)} not found; check the path")
    if args.beam is not None and args.beam < 1:
        raise DdspfxError(f"--beam must be at least 1, got {args.beam}")
    _check_recovery(args)
    if args.dry_checkpoint and not args.dry:
        raise DdspfxError("--dry-checkpoint is the model for clips given with their dry: add --dry DRY.wav")
    if args.out and not args.render_onto:
        raise DdspfxError("--out is where --render-onto writes; add --render-onto DRY.wav")
    several = len(args.clips) > 1
    for flag in ("render_onto", "dry", "plot"):
        if getattr(args, flag) and several:
            raise DdspfxError(f"--{flag.replace('_', '-')} works with one clip at a time; got {len(args.clips)} clips")
    if args.refine_budget is not None:
        if not args.refine:
            raise DdspfxError("--refine-budget is --refine's time limit; add --refine")
        if not args.refine_budget > 0:
            raise DdspfxError(f"--refine-budget must be a positive number of seconds, got {args.refine_budget:g}")
    if args.refine_steps < 0:
        raise DdspfxError("--refine-steps must be >= 0")
    if args.refine_waveform < 0 or (args.refine_waveform > 0 and not args.refine):
        raise DdspfxError("--refine-waveform is seconds >= 0 for --refine; add --refine")
    if args.refine_toggles < 0:
        raise DdspfxError("--refine-toggles must be >= 0")
    if args.plot:
        plot = Path(args.plot)
        if plot.suffix.lower() != PLOT_SUFFIX:
            raise DdspfxError(f"--plot writes a PNG image: give a name ending in {PLOT_SUFFIX}, got {args.plot}")
        if not plot.parent.is_dir():
            raise DdspfxError(f"--plot: the folder {plot.parent} does not exist; create it or write elsewhere")


def _recovery_path(args: argparse.Namespace) -> Path:
    """The dry-recovery network the flags ask for (``--recovery-model``, else the shipped one)."""
    return Path(args.recovery_model) if args.recovery_model else RECOVERY_MODEL


def _needs_recovery(args: argparse.Namespace) -> bool:
    """Whether the command recovers a dry: ``--recover-dry``, or ``--refine`` with no dry given."""
    return bool(args.recover_dry or (args.refine and not args.dry))


def _check_recovery(args: argparse.Namespace) -> None:
    """The dry-recovery flags, before torch loads: each fault one line."""
    if args.recover_dry and args.dry:
        raise DdspfxError("--recover-dry recovers the clip's dry, but --dry already gives it: nothing to recover "
                          "(drop one)")
    if args.recovery_model and not _needs_recovery(args):
        raise DdspfxError("--recovery-model is the network for --recover-dry and for --refine without --dry; add one")
    if not _needs_recovery(args):
        return
    path = _recovery_path(args)
    if args.recovery_model and not path.exists():
        raise DdspfxError(f"--recovery-model {path} not found; check the path")
    if not path.exists():
        why = ("no dry-recovery network ships with this ddspfx yet (train one with python -m "
               "ddspfx.dry_recovery_train and give it as --recovery-model)")
        if args.recover_dry:
            raise DdspfxError(f"--recover-dry needs the dry-recovery network, and {why}")
        raise DdspfxError(f"--refine needs the clip's dry recording (add --dry DRY.wav) or a dry recovered from the "
                          f"clip, and {why}")
    if args.recover_dry:
        _recover_targets(args)  # its faults, said now


def _recover_targets(args: argparse.Namespace) -> dict[str, Path]:
    """Where ``--recover-dry`` writes each clip's dry: the file named, or a folder's ``RECOVERED_NAME``s. Refuses (one
    line) a name soundfile cannot write, a missing folder, several clips without a folder, two clips on one file, and
    a target that is one of the command's own inputs."""
    out = Path(args.recover_dry)
    if out.is_dir():
        targets = {clip: out / RECOVERED_NAME.format(stem=Path(clip).stem) for clip in args.clips}
    else:
        if len(args.clips) > 1:
            raise DdspfxError(f"--recover-dry with {len(args.clips)} clips takes a folder, where each clip's dry is "
                              f"written as {RECOVERED_NAME.format(stem='<clip name>')}; {out} is not a folder")
        kind = out.suffix[1:].upper()
        if kind not in sf.available_formats():
            raise DdspfxError(f"--recover-dry writes audio: give a name ending in .wav or .flac (or a folder), "
                              f"got {args.recover_dry}")
        if not out.parent.is_dir():
            raise DdspfxError(f"--recover-dry: the folder {out.parent} does not exist; create it or write elsewhere")
        targets = {clip: out for clip in args.clips}
    written: dict[Path, str] = {}
    inputs = {Path(p).resolve() for p in [*args.clips, args.render_onto, args.out, args.plot] if p}
    for clip, target in targets.items():
        where = target.resolve()
        if where in inputs:
            raise DdspfxError(f"--recover-dry would write over {target}, which this command reads or writes; "
                              "give another name")
        if where in written and written[where] != clip:
            raise DdspfxError(f"--recover-dry: {written[where]} and {clip} would both write {target}; rename one "
                              "or run them apart")
        written[where] = clip
    return targets


def _probe(path: str) -> None:
    """Refuse a missing, unreadable or empty audio file from its header alone (AudioError, one line): before the
    model loads, so a typo is reported at once."""
    open_audio(path).close()


def _long_file(path: str) -> bool:
    """True for a readable file longer than ``STREAM_SECONDS`` (read from its header only)."""
    info = audio_info(path)
    return info is not None and info.frames / info.samplerate > STREAM_SECONDS


def _load(path: str, sample_rate: int) -> np.ndarray:
    """Read, resample and downmix a clip, and refuse one ddspfx cannot analyse (one-line error)."""
    x = load_audio(path, sample_rate=sample_rate, mono=True)
    check_audio(x, sample_rate, name=path)
    return x


def _error(exc: DdspfxError) -> None:
    print(f"ddspfx: error: {exc}", file=sys.stderr)


class _RefineBar:
    """``refine``'s ``on_progress`` on the command line: a bar on stderr of the seconds its time limit allows (or of
    the candidate fits, without a limit), with the fits done."""

    def __init__(self, budget_s: float | None) -> None:
        self.began, self.budget_s = time.perf_counter(), budget_s
        self.bar = tqdm(total=budget_s, desc="refine", leave=False, unit="s" if budget_s is not None else "chain",
                        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}" if budget_s is not None else None)

    def __call__(self, done: int, total: int) -> None:
        if self.budget_s is None:
            self.bar.total, self.bar.n = total, done
        else:
            self.bar.n = min(time.perf_counter() - self.began, self.budget_s)
        self.bar.set_postfix_str(f"{done} chain(s) fitted")

    def close(self) -> None:
        self.bar.close()


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv, sys.stdout)
    except BrokenPipeError:  # the reader went away (infer ... --json | head -1): stop quietly, as pipes expect
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's last flush does not fail again
        except (OSError, ValueError):  # stdout is not a file (tests capture it)
            pass
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


def _main(argv: Sequence[str] | None, out: IO[str]) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    unreadable: dict[str, AudioError] = {}
    for path in args.clips:  # from the headers, before the model (and torch) load
        try:
            _probe(path)
        except AudioError as exc:
            unreadable[path] = exc
    if args.clips and len(unreadable) == len(args.clips):  # nothing to analyse: said at once
        for fault in unreadable.values():
            _error(fault)
        return 1
    try:
        for other in (args.dry, args.render_onto):
            if other:
                _probe(other)
    except AudioError as exc:  # the same fault as an unreadable clip, the same exit status
        _error(exc)
        return 1
    from ddspfx.estimator import Estimator, answer_with_dry, dry_estimator  # torch, after the flags and headers

    recovery = _recovery_model(args) if _needs_recovery(args) else None  # a bad network: said before the model loads
    estimator = Estimator(args.checkpoint, beam=args.beam, effect_set=args.effect_set, order_search=args.order_search)
    if args.demo:
        return _demo(estimator, args.seed, args.json, out)
    sr = estimator.sample_rate
    try:
        dry = _load(args.dry, sr) if args.dry else None
        dry_user = _load(args.render_onto, sr) if args.render_onto else None
    except AudioError as exc:
        _error(exc)
        return 1
    clips: list[np.ndarray | None] = []
    names: list[str] = []
    streamed: dict[str, Analysis] = {}
    whole_clip_needed = bool(args.dry or args.render_onto or args.plot or recovery is not None)
    failed = 0
    for path in args.clips:  # the errors in the order of the files
        try:
            if path in unreadable:
                raise unreadable[path]
            if not whole_clip_needed and _long_file(path):  # window by window from disk, with progress on stderr
                streamed[path] = estimator.analyse_file(path, progress=True)
                clips.append(None)
            else:
                clips.append(_load(path, sr))
            names.append(path)
        except DdspfxError as exc:
            _error(exc)
            failed += 1
    in_memory = [c for c in clips if c is not None]
    analysed = iter(estimator.analyse_many(in_memory) if in_memory else [])
    analyses = [streamed[n] if c is None else next(analysed) for n, c in zip(names, clips)]
    dry_model = None
    if dry is not None:
        dry_model = dry_estimator(args.dry_checkpoint, beam=args.beam, effect_set=args.effect_set,
                                  order_search=args.order_search)
    targets = _recover_targets(args) if args.recover_dry else {}
    for name, clip, analysis in zip(names, clips, analyses):
        extra: dict[str, Any] = {}
        dry_aligned: np.ndarray | None = None
        heard = analysis.guitar_check
        if dry is not None:
            assert clip is not None  # --dry reads whole clips
            bar = _RefineBar(_budget(args)) if args.refine else None
            results: list[RefineResult] = []
            try:
                analysis, dry_aligned, found = answer_with_dry(clip, dry, analysis, sr, dry_model,
                                                               _refiner(args, sr, bar, results))
            finally:
                if bar is not None:
                    bar.close()
            extra.update(found, dry="given")
            if args.refine and results:
                extra.update(refine_changed=results[-1].change, refine_said=results[-1].change_line())
        recovered: np.ndarray | None = None
        if recovery is not None:
            assert clip is not None  # recovery reads whole clips
            from ddspfx.dry_recovery import run_network  # torch is loaded already (the estimator)

            recovered = run_network(recovery, clip, sr)  # (T,) at the analysis rate, lined up with the clip
            if args.recover_dry:
                try:
                    extra["recovered_dry"] = _write_recovered(name, targets[name], recovery, clip, recovered, sr)
                except DdspfxError as exc:  # this clip's file could not be written: said, the answer still given
                    _error(exc)
                    failed += 1
        if args.refine and dry is None:
            assert clip is not None and recovered is not None  # _check_recovery: it needs the network
            result = _refine_on_recovered(args, sr, clip, recovered, analysis)
            analysis = result.analysis
            extra.update(estimate="blind", dry="recovered", refine=result.summary(), refine_changed=result.change,
                         refine_said=result.change_line())
        analysis.guitar_check = analysis.guitar_check or heard  # the clip's check, whichever model answered
        if dry_user is not None:
            wet, _gain = render_chain(dry_user, analysis.chain, sr)
            target = args.out or str(Path(args.render_onto).with_name(Path(args.render_onto).stem + "_ddspfx.wav"))
            save_audio(target, wet, sr)
            extra["rendered"] = target
        if args.plot:
            from ddspfx.plots import plot_analysis  # matplotlib and scipy.signal (~1 s): only for --plot

            assert clip is not None  # --plot reads whole clips
            plot_analysis(args.plot, clip, analysis.chain, sr, dry=dry_aligned, title=Path(name).name)
            extra["plot"] = args.plot
        said = extra.pop("refine_said", None)  # the text line's words; the JSON says refine_changed
        if args.json:
            if analysis.guitar_check is not None and not analysis.guitar_check.likely_guitar:
                print(f"ddspfx: warning: {name}: {analysis.guitar_check.reason}", file=sys.stderr)
            out.write(json.dumps({**analysis.to_json(name), **extra}) + "\n")
        else:
            out.write(f"{name}: {analysis.describe()}\n")
            if "refine" in extra:  # a "refine:" line only where refinement ran; else what the dry measured
                moved = f"dry moved by {extra['dry_offset_ms']:g} ms to line up" if "dry_offset_ms" in extra else ""
                if args.refine:
                    out.write(f"  refine: {extra['refine']}; {said}" + (f" ({moved})" if moved else "") + "\n")
                else:
                    out.write(f"  dry: {extra['refine']}; {moved}\n")
            for key in ("rendered", "plot"):
                if key in extra:
                    out.write(f"  wrote {extra[key]}\n")
            if "recovered_dry" in extra:
                out.write(f"  wrote {extra['recovered_dry']} (the clean guitar recovered from the clip)\n")
        out.flush()
    return 1 if failed else 0


def _budget(args: argparse.Namespace) -> float:
    """``--refine``'s time limit in seconds."""
    return DEFAULT_BUDGET_S if args.refine_budget is None else args.refine_budget


def _refiner(args: argparse.Namespace, sr: int, bar: _RefineBar | None, results: list[RefineResult] | None = None
             ) -> Callable[[np.ndarray, np.ndarray, Analysis], RefineResult]:
    """``--dry`` (and ``--refine``): the refinement :func:`ddspfx.estimator.answer_with_dry` runs, with the flags'
    settings (steps 0 without ``--refine``: the dry only measures the estimate); each result is appended to
    ``results``."""
    from ddspfx import refine  # why here: torch (seconds), after the flags and files are checked

    def refiner(wet: np.ndarray, lined: np.ndarray, start: Analysis) -> RefineResult:
        result = refine.refine(wet, lined, start, sr, steps=args.refine_steps if args.refine else 0,
                               toggles=args.refine_toggles, budget_s=_budget(args),
                               waveform_s=args.refine_waveform, on_progress=bar)
        if results is not None:
            results.append(result)
        return result

    return refiner


def _recovery_model(args: argparse.Namespace) -> DryRecoveryNet:
    """The dry-recovery network of the flags (one-line ``DdspfxError`` if it cannot be read)."""
    from ddspfx.dry_recovery import load_dry_model  # why here: torch, after the flags and files are checked

    return load_dry_model(_recovery_path(args))


def _write_recovered(path: str, target: Path, model: DryRecoveryNet, clip: np.ndarray, recovered: np.ndarray,
                     sr: int) -> str:
    """Write the clip's recovered dry to ``target`` at the file's own rate, mono, as long as the file (atomically:
    an existing file is replaced only when the new one is complete); returns the name written. ``recovered`` is the
    dry of ``clip`` at ``sr``, reused when the file is at that rate."""
    from ddspfx.dry_recovery import run_network  # torch is loaded already (the estimator)

    info = audio_info(path)
    rate = sr if info is None else int(info.samplerate)
    dry = recovered if rate == sr else run_network(model, _load(path, rate), rate)
    try:
        save_audio(target, dry, rate)
    except (OSError, RuntimeError) as exc:  # a full disk, a read-only folder, a format soundfile refuses
        raise DdspfxError(f"could not write {target} ({exc}); nothing was written there") from None
    return str(target)


def _refine_on_recovered(args: argparse.Namespace, sr: int, clip: np.ndarray, recovered: np.ndarray,
                         start: Analysis) -> RefineResult:
    """``--refine`` without ``--dry``: the flags' refinement against the dry recovered from the clip."""
    from ddspfx import refine  # why here: torch (seconds), after the flags and files are checked

    bar = _RefineBar(_budget(args))
    try:
        return refine.refine(clip, refine.level_dry(recovered), start, sr, steps=args.refine_steps,
                             toggles=args.refine_toggles, budget_s=_budget(args), waveform_s=args.refine_waveform,
                             on_progress=bar, dry_source="recovered")
    finally:
        bar.close()


def _demo(estimator: Estimator, seed: int, as_json: bool, out: IO[str]) -> int:
    """Synthetic guitar -> random chain (pedalboard) -> estimate; prints truth beside the estimate."""
    rng = np.random.default_rng(seed)
    sr = estimator.sample_rate
    dry = make_source("synth", sample_rate=sr).sample(rng, 3.0)
    known = tuple(getattr(estimator.model, "effects", ())) or SamplerConfig().effects  # pedals the model can name
    truth = ChainSampler(SamplerConfig(min_effects=2, max_effects=4, effects=known)).sample(rng)
    wet, _ = render_chain(dry, truth, sr)
    analysis = estimator.analyse_many([wet])[0]
    if as_json:
        out.write(json.dumps({**analysis.to_json(f"demo (seed {seed})"), "true_chain": truth.to_list()}) + "\n")
    else:
        out.write(f"demo (seed {seed}): a synthetic guitar phrase through a random pedalboard chain\n")
        out.write(f"  true:      {truth}\n")
        out.write(f"  estimated: {analysis.describe()}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
