"""``python -m ddspfx.infer clip.wav``: which pedals, in which order, with which settings.

Long clips are cut into windows of the model's training length; each window is decoded
(grammar-constrained beam search, then every order of the found effects scored) and the windows
vote: the chain whose audibly equivalent orders hold the most probability wins, its parameters
are the median over the windows that found each effect, and the runner-up order (one that would
sound different) is reported when it is close.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.catalog import SAMPLE_RATE, denormalise_params, normalise_params
from ddspfx.chain import Chain, Pedal
from ddspfx.config import EFFECT_SET_MODES, ORDER_SEARCH_MODES
from ddspfx.errors import CliParser, DdspfxError, cli_entry

STREAM_SECONDS = 60.0
"""Files longer than this are analysed window by window from disk (bounded memory, a progress bar)."""

BEAM_WITH_ORDER_SEARCH, BEAM_WITH_BEAM_ORDER = 1, 4
"""Default beam widths. With the exhaustive order search the beam only proposes the knob bins the order
scores are conditioned on (the pedals come from the presence head, the order from the search, the values
from the parameter head): on 300 development clips beam 1 scored as beam 4 (exact chains 0.453 vs 0.450,
equivalent 0.547 vs 0.540, nonlinear pairs 0.826 vs 0.822) at a third less time
(experiments/results/latency/). With the beam's own order the beam is the search."""

ORDER_RUNNER_UP_RATIO = 0.25
"""Report the runner-up order when its probability is at least this fraction of the best."""


@dataclass
class Analysis:
    """What ddspfx heard in one clip."""

    chain: Chain
    effect_confidence: dict[str, float]
    order_confidence: float
    alternatives: list[tuple[Chain, float]] = field(default_factory=list)
    windows: int = 1

    def runner_up_order(self) -> tuple[Chain, float] | None:
        """The most likely *other order* of the same effects, if it is close to the best."""
        best_p = self.order_confidence
        for chain, p in self.alternatives:
            if sorted(chain.effects) == sorted(self.chain.effects) and chain.effects != self.chain.effects:
                return (chain, p) if p >= ORDER_RUNNER_UP_RATIO * best_p else None
        return None

    def to_json(self, file: str) -> dict[str, Any]:
        return {
            "file": file,
            "chain": self.chain.to_list(),
            "confidence": {"effects": {k: round(v, 4) for k, v in self.effect_confidence.items()},
                           "order": round(self.order_confidence, 4)},
            "alternatives": [{"effects": c.effects, "probability": round(p, 4)} for c, p in self.alternatives],
            "windows": self.windows,
        }

    def describe(self) -> str:
        lines = [str(self.chain)]
        if self.chain.pedals:
            conf = ", ".join(f"{e} {self.effect_confidence.get(e, 0.0):.2f}" for e in self.chain.effects)
            lines.append(f"  confidence: {conf}; order {self.order_confidence:.2f}")
        ru = self.runner_up_order()
        if ru is not None:
            lines.append(f"  order uncertain; runner-up: {' -> '.join(ru[0].effects)} (p={ru[1]:.2f})")
        absent_but_likely = [f"{e} {p:.2f}" for e, p in self.effect_confidence.items()
                             if e not in self.chain.effects and p >= 0.3]
        if absent_but_likely:
            lines.append(f"  possibly also: {', '.join(absent_but_likely)}")
        return "\n".join(lines)


def window_starts(num_samples: int, window: int) -> list[int]:
    """Where the windows of a clip start: every ``window`` samples, plus one that ends with the clip,
    so every sample is heard. A clip up to 1.5 windows long is one window (the model takes any length)."""
    if num_samples <= int(1.5 * window):
        return [0]
    starts = list(range(0, num_samples - window + 1, window))
    if starts[-1] + window < num_samples:
        starts.append(num_samples - window)  # overlaps the previous window rather than dropping the end
    return starts


def window_spans(audio: np.ndarray, window: int) -> list[slice]:
    """The windows of :func:`window_starts` that are heard (all of ``window`` samples, or the whole clip).

    Windows that are near-silent compared with the loudest one are dropped: they carry no
    information about the pedals and would vote noise.
    """
    starts = window_starts(audio.shape[-1], window)
    if len(starts) == 1:
        return [slice(0, audio.shape[-1])]
    rms = np.array([np.sqrt(np.mean(audio[s:s + window].astype(np.float64) ** 2)) for s in starts])
    return [slice(s, s + window) for s, keep in zip(starts, loud_enough(rms)) if keep]


def loud_enough(rms: np.ndarray) -> np.ndarray:
    """Which windows (by RMS) are heard: those within 20 dB of the loudest; quieter ones would vote noise."""
    return rms >= 0.1 * rms.max()


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad (T,) to n samples (a resampled window may be a sample off)."""
    return x[:n] if x.shape[-1] >= n else np.pad(x, (0, n - x.shape[-1]))


def aggregate(predictions: Sequence[Any]) -> Analysis:
    """Vote over per-window predictions (``ddspfx.model.Prediction``) -> one Analysis.

    Each window spreads its probability over its chain and alternatives; the windows' votes are
    averaged per order, then pooled over *audibly equivalent* orders (``ddspfx.commuting``: orders
    that differ only by swaps of adjacent commuting pedals, e.g. eq and delay, sound the same).
    The class with the most probability wins and its most voted order represents it; the order
    confidence is the class's probability (the chance that the order is audibly right), and the
    alternatives are the other classes' representatives, i.e. orders that would sound different.
    """
    from ddspfx.commuting import equivalent_canonical

    votes: dict[tuple[str, ...], float] = defaultdict(float)
    examples: dict[tuple[str, ...], Chain] = {}
    per_effect_params: dict[str, list[np.ndarray]] = defaultdict(list)
    confidence: dict[str, list[float]] = defaultdict(list)
    for pred in predictions:
        cands = [(pred.chain, None)] + list(pred.alternatives)
        logps = np.array([lp for _, lp in pred.alternatives], dtype=np.float64)
        # the best chain's probability: from the alternatives list when it is there, else 1
        probs = _beam_probabilities(pred, logps)
        for (chain, _), p in zip(cands, probs):
            sig = tuple(chain.effects)
            votes[sig] += p / len(predictions)
            examples.setdefault(sig, chain)
        for pedal in pred.chain:
            per_effect_params[pedal.effect].append(normalise_params(pedal.effect, pedal.params))
        for name, p in pred.effect_confidence.items():
            confidence[name].append(float(p))
    classes: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for sig in sorted(votes, key=lambda s: -votes[s]):  # most voted first within each class
        classes[equivalent_canonical(sig)].append(sig)
    mass = {key: sum(votes[s] for s in sigs) for key, sigs in classes.items()}
    ranked = sorted(classes, key=lambda key: -mass[key])
    best_sig = classes[ranked[0]][0]
    pedals = []
    for name in best_sig:
        vals = per_effect_params.get(name)
        u = np.median(np.stack(vals), axis=0) if vals else normalise_params(name, examples[best_sig].pedals[best_sig.index(name)].params)
        pedals.append(Pedal(name, denormalise_params(name, u)))
    alternatives = [(examples[classes[key][0]], float(mass[key])) for key in ranked[1:6]]
    return Analysis(
        chain=Chain(pedals),
        effect_confidence={k: float(np.mean(v)) for k, v in confidence.items()},
        order_confidence=float(mass[ranked[0]]),
        alternatives=alternatives,
        windows=len(predictions),
    )


def _beam_probabilities(pred: Any, alt_logps: np.ndarray) -> np.ndarray:
    """Normalise the beam's scores (best first, then alternatives) to probabilities."""
    best_logp = getattr(pred, "log_prob", None)
    if best_logp is None:
        best_logp = float(alt_logps.max()) + 1.0 if alt_logps.size else 0.0
    logps = np.concatenate([[best_logp], alt_logps])
    logps = logps - logps.max()
    p = np.exp(logps)
    return p / p.sum()


class Estimator:
    """Loads a model once; analyses many clips in batches."""

    def __init__(self, checkpoint: str | Path | None = None, beam: int | None = None, batch_size: int = 16,
                 device: str = "cpu", effect_set: str | None = None, order_search: str | None = None):
        from ddspfx.checkpoint import load_model

        self.model = load_model(checkpoint).to(device).eval()
        self.device = device
        exhaustive = (order_search or self.model.config.order_search) == "exhaustive"
        self.beam = beam if beam is not None else (BEAM_WITH_ORDER_SEARCH if exhaustive else BEAM_WITH_BEAM_ORDER)
        self.effect_set = effect_set  # None: the checkpoint's model.effect_set
        self.order_search = order_search  # None: the checkpoint's model.order_search
        self.batch_size = batch_size
        self.sample_rate = int(getattr(self.model, "sample_rate", SAMPLE_RATE))
        self.window = int(round(float(getattr(self.model, "clip_seconds", 2.0)) * self.sample_rate))

    @property
    def hears_dry(self) -> bool:
        """A dry-aware model: :meth:`analyse_many` needs each clip's dry (``drys``)."""
        return bool(getattr(self.model, "hears_dry", False))

    def analyse_many(self, clips: Sequence[np.ndarray], drys: Sequence[np.ndarray] | None = None) -> list[Analysis]:
        """Clips are mono float arrays at ``self.sample_rate``; a dry-aware model also takes each clip's dry,
        lined up and as long as its clip (:func:`ddspfx.align.align_dry`)."""

        if self.hears_dry and (drys is None or any(d.shape != c.shape for c, d in zip(clips, drys))):
            raise DdspfxError("this model hears the clip's dry too: give each clip its dry, lined up and as long "
                              "(python -m ddspfx.infer CLIP --dry DRY.wav)")
        pieces: list[tuple[np.ndarray, np.ndarray | None]] = []
        owner: list[int] = []
        for i, clip in enumerate(clips):
            for span in window_spans(clip, self.window):
                pieces.append((clip[span], drys[i][span] if self.hears_dry and drys is not None else None))
                owner.append(i)
        preds: list[Any] = []
        for s in range(0, len(pieces), self.batch_size):
            chunk = pieces[s:s + self.batch_size]
            n = max(p.shape[-1] for p, _ in chunk)
            batch = np.zeros((len(chunk), n), dtype=np.float32)
            dry_batch = np.zeros((len(chunk), n), dtype=np.float32)
            lengths = []
            for j, (p, d) in enumerate(chunk):
                batch[j, : p.shape[-1]] = p
                if d is not None:
                    dry_batch[j, : d.shape[-1]] = d
                lengths.append(p.shape[-1])
            preds.extend(self._predict(batch, lengths, dry_batch if self.hears_dry else None))
        grouped: dict[int, list[Any]] = defaultdict(list)
        for o, p in zip(owner, preds):
            grouped[o].append(p)
        return [aggregate(grouped[i]) for i in range(len(clips))]

    def _predict(self, batch: np.ndarray, lengths: Sequence[int] | None = None, dry: np.ndarray | None = None) -> list[Any]:
        """The model on one batch of windows (B, T), with this Estimator's decoding settings."""
        import torch

        def tensor(x: Any) -> torch.Tensor:
            return torch.as_tensor(x).to(self.device)

        with torch.inference_mode():
            return list(self.model.predict(tensor(batch), beam=self.beam, effect_set=self.effect_set,
                                           order=self.order_search, lengths=None if lengths is None else tensor(lengths),
                                           dry=None if dry is None else tensor(dry)))

    def analyse_file(self, path: str | Path, progress: bool = False) -> Analysis:
        """A file of any length, read one window at a time (memory: one batch of windows, not the file).

        Same windows, silence rule and vote as :meth:`analyse_many`; each window is resampled on its own,
        so for files not at the model's rate the result may differ from a whole-file read in the last digits.
        """
        from tqdm import tqdm

        from ddspfx.audio import SILENCE_DBFS, check_audio, open_audio, read_span

        name = str(path)
        with open_audio(path) as f:
            native = max(1, int(round(self.window * f.samplerate / self.sample_rate)))
            if f.frames <= int(1.5 * native):  # one window: nothing to stream
                clip = read_span(f, 0, f.frames, self.sample_rate, name)
                check_audio(clip, self.sample_rate, name=name)
                return self.analyse_many([clip])[0]
            starts = window_starts(f.frames, native)
            rms, peak = np.zeros(len(starts)), np.zeros(len(starts))
            for i, s in enumerate(starts):  # first pass: levels only (native rate, no resampling)
                w = read_span(f, s, native, f.samplerate, name).astype(np.float64)
                rms[i], peak[i] = np.sqrt(np.mean(w * w)), np.max(np.abs(w))
            if peak.max() < 10 ** (SILENCE_DBFS / 20):  # a silent file: the same one-line error as a short clip gets
                check_audio(np.full(self.window, peak.max(), np.float32), self.sample_rate, name=name)
            kept = [s for s, keep in zip(starts, loud_enough(rms)) if keep]
            preds: list[Any] = []
            bar = tqdm(total=len(kept), desc=Path(name).name, unit="window", disable=not progress, leave=False)
            for b in range(0, len(kept), self.batch_size):
                batch = np.stack([_fit(read_span(f, s, native, self.sample_rate, name), self.window)
                                  for s in kept[b:b + self.batch_size]])
                preds.extend(self._predict(batch))
                bar.update(len(batch))
            bar.close()
        return aggregate(preds)

    def analyse(self, audio: np.ndarray, sample_rate: int) -> Analysis:
        from ddspfx.audio import as_float, check_audio, resample, to_mono

        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise DdspfxError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
        x = as_float(np.asarray(audio))
        if x.ndim == 2:
            # soundfile gives (T, C), pedalboard (C, T): channels are the short axis
            x = to_mono(x.T if x.shape[0] > x.shape[1] else x)
        elif x.ndim != 1:
            raise DdspfxError(f"audio must be (T,), (C, T) or (T, C); got shape {x.shape}")
        if sample_rate != self.sample_rate:
            x = resample(x, sample_rate, self.sample_rate)
        check_audio(x, self.sample_rate, name="audio")
        return self.analyse_many([x])[0]


_CACHE: dict[tuple[str, int | None], Estimator] = {}


def estimate(audio: np.ndarray, sample_rate: int, checkpoint: str | Path | None = None, beam: int | None = None) -> Chain:
    """The Python API: a wet clip (T,) or (C, T) at any rate -> the estimated ``Chain``."""
    key = (str(checkpoint), beam)
    if key not in _CACHE:
        _CACHE[key] = Estimator(checkpoint, beam=beam)
    return _CACHE[key].analyse(audio, sample_rate).chain


# --- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.infer", description="Estimate the pedal chain of wet guitar clips.")
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
    p.add_argument("--dry", metavar="DRY.wav", help="the clip's own dry recording, for --refine")
    p.add_argument("--refine", action="store_true",
                   help="analysis by synthesis with --dry: optimise params, pick the order, check unsure pedals")
    p.add_argument("--refine-steps", type=int, default=150, help="optimisation steps for --refine (default 150)")
    from ddspfx.refine import DEFAULT_BUDGET_S

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
    p.add_argument("--plot", metavar="OUT.png", help="spectrograms and the chain drawn as pedals")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if not args.clips and not args.demo:
        raise DdspfxError("give at least one clip (python -m ddspfx.infer clip.wav), or --demo to try it without one")
    if args.beam is not None and args.beam < 1:
        raise DdspfxError(f"--beam must be at least 1, got {args.beam}")
    if args.refine and not args.dry:
        raise DdspfxError("--refine needs the clip's dry recording: add --dry DRY.wav")
    if args.dry_checkpoint and not args.dry:
        raise DdspfxError("--dry-checkpoint is the model for clips given with their dry: add --dry DRY.wav")
    if args.out and not args.render_onto:
        raise DdspfxError("--out is where --render-onto writes; add --render-onto DRY.wav")
    several = len(args.clips) > 1
    for flag in ("render_onto", "dry", "plot"):
        if getattr(args, flag) and several:
            raise DdspfxError(f"--{flag.replace('_', '-')} works with one clip at a time; got {len(args.clips)} clips")
    if args.refine_budget is not None and (not args.refine or not args.refine_budget > 0):
        raise DdspfxError("--refine-budget is a positive number of seconds for --refine; add --refine (and --dry)")
    if args.refine_steps < 0:
        raise DdspfxError("--refine-steps must be >= 0")
    if args.refine_waveform < 0 or (args.refine_waveform > 0 and not args.refine):
        raise DdspfxError("--refine-waveform is seconds >= 0 for --refine; add --refine (and --dry)")
    if args.refine_toggles < 0:
        raise DdspfxError("--refine-toggles must be >= 0")


def dry_estimator(path: str | Path | None = None, remedy: str = "pass it as --checkpoint", **options: Any
                  ) -> Estimator | None:
    """The dry-aware model for clips given with their dry: ``path``, else the shipped one
    (``DEFAULT_DRY_CHECKPOINT``) if it exists, else None (the blind model's estimate is refined instead).
    ``options``: :class:`Estimator`'s. A blind model at ``path`` is refused, with ``remedy``."""
    from ddspfx.checkpoint import DEFAULT_DRY_CHECKPOINT

    path = path or (DEFAULT_DRY_CHECKPOINT if DEFAULT_DRY_CHECKPOINT.is_file() else None)
    if path is None:
        return None
    est = Estimator(path, **options)
    if not est.hears_dry:
        raise DdspfxError(f"{path} is a blind model, not a dry-aware one (frontend.paired); {remedy}")
    return est


Refiner = Callable[[np.ndarray, np.ndarray, "Analysis"], Any]
"""``refiner(wet, lined-up dry, analysis) -> RefineResult``: how :func:`answer_with_dry` runs the refinement (the CLI
calls ``ddspfx.refine.refine`` with its flags; the app runs it in a process it can cancel)."""


def answer_with_dry(clip: np.ndarray, dry: np.ndarray, blind: Analysis, sample_rate: int,
                    dry_model: Estimator | None, refiner: Refiner) -> tuple[Analysis, np.ndarray, dict[str, Any]]:
    """The answer for a clip given with its dry, as ``infer --dry`` and the app give it: the dry lined up on the
    clip (:func:`line_up_dry`), the dry-aware model's estimate (the ``blind`` one when there is none), then
    ``refiner`` (``steps=0`` there only measures). Returns (analysis, lined-up dry, what to report)."""
    lined, lag = line_up_dry(dry, clip, sample_rate)
    analysis = dry_model.analyse_many([clip], [lined])[0] if dry_model is not None else blind
    result = refiner(clip, lined, analysis)
    return result.analysis, lined, {"estimate": "dry-aware" if dry_model is not None else "blind",
                                    "refine": result.summary(), "dry_offset_ms": round(1000.0 * lag / sample_rate, 2)}


def line_up_dry(dry: np.ndarray, clip: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """The clip's dry recording as its pedals heard it: moved onto the clip's timeline
    (:func:`ddspfx.align.align_dry`), as long as the clip, at the sources' loudness (``TARGET_DBFS`` RMS).

    Why the level: every model learned its knob values on dry clips at that loudness, and a drive or a
    compressor threshold means something else on a DI recorded 15 dB quieter. Returns (dry, lag applied).
    """
    from ddspfx.align import align_dry
    from ddspfx.audio import normalise_loudness
    from ddspfx.sources import TARGET_DBFS

    aligned, lag = align_dry(dry, clip, sample_rate)  # a DI and its wet track rarely start together
    return normalise_loudness(aligned, TARGET_DBFS)[0], lag


def _long_file(path: str) -> bool:
    """True for a readable file longer than ``STREAM_SECONDS`` (read from its header only)."""
    from ddspfx.audio import audio_info

    info = audio_info(path)
    return info is not None and info.frames / info.samplerate > STREAM_SECONDS


def _load(path: str, sample_rate: int) -> np.ndarray:
    """Read, resample and downmix a clip, and refuse one ddspfx cannot analyse (one-line error)."""
    from ddspfx.audio import check_audio, load_audio

    x = load_audio(path, sample_rate=sample_rate, mono=True)
    check_audio(x, sample_rate, name=path)
    return x


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    out = sys.stdout
    estimator = Estimator(args.checkpoint, beam=args.beam, effect_set=args.effect_set, order_search=args.order_search)
    sr = estimator.sample_rate
    if args.demo:
        return _demo(estimator, args.seed, out)
    clips: list[np.ndarray | None] = []
    names: list[str] = []
    streamed: dict[str, Analysis] = {}
    failed = 0
    whole_clip_needed = bool(args.dry or args.render_onto or args.plot)
    for path in args.clips:
        try:
            info = None if whole_clip_needed else _long_file(path)
            if info:  # long file: window by window from disk, with progress on stderr
                streamed[path] = estimator.analyse_file(path, progress=True)
                clips.append(None)
            else:
                clips.append(_load(path, sr))
            names.append(path)
        except DdspfxError as exc:
            print(f"ddspfx: error: {exc}", file=sys.stderr)
            failed += 1
    in_memory = [c for c in clips if c is not None]
    analysed = iter(estimator.analyse_many(in_memory) if in_memory else [])
    analyses = [streamed[n] if c is None else next(analysed) for n, c in zip(names, clips)]
    dry_model = (dry_estimator(args.dry_checkpoint, beam=args.beam, effect_set=args.effect_set,
                               order_search=args.order_search) if args.dry else None)
    for name, clip, analysis in zip(names, clips, analyses):
        extra: dict[str, Any] = {}
        dry_aligned: np.ndarray | None = None
        if args.dry:
            from ddspfx.refine import DEFAULT_BUDGET_S, refine

            assert clip is not None  # --dry reads whole clips

            def refiner(wet: np.ndarray, dry: np.ndarray, start: Analysis) -> Any:
                return refine(wet, dry, start, sr, steps=args.refine_steps if args.refine else 0,
                              toggles=args.refine_toggles, progress=args.refine,
                              budget_s=DEFAULT_BUDGET_S if args.refine_budget is None else args.refine_budget,
                              waveform_s=args.refine_waveform)

            analysis, dry_aligned, found = answer_with_dry(clip, _load(args.dry, sr), analysis, sr, dry_model, refiner)
            extra.update(found)
        if args.render_onto:
            from ddspfx.audio import save_audio
            from ddspfx.render import render_chain

            dry_user = _load(args.render_onto, sr)
            wet, _gain = render_chain(dry_user, analysis.chain, sr)
            target = args.out or str(Path(args.render_onto).with_name(Path(args.render_onto).stem + "_ddspfx.wav"))
            save_audio(target, wet, sr)
            extra["rendered"] = target
        if args.plot:
            from ddspfx.plots import plot_analysis

            dry_for_plot = dry_aligned if args.dry else None
            assert clip is not None  # --plot reads whole clips
            plot_analysis(args.plot, clip, analysis.chain, sr, dry=dry_for_plot, title=Path(name).name)
            extra["plot"] = args.plot
        if args.json:
            out.write(json.dumps({**analysis.to_json(name), **extra}) + "\n")
        else:
            out.write(f"{name}: {analysis.describe()}\n")
            if "refine" in extra:
                out.write(f"  refine: {extra['refine']} (dry moved by {extra['dry_offset_ms']:g} ms to line up)\n")
            for key in ("rendered", "plot"):
                if key in extra:
                    out.write(f"  wrote {extra[key]}\n")
        out.flush()
    return 1 if failed else 0


def _demo(estimator: Estimator, seed: int, out) -> int:
    """Synthetic guitar -> random chain (pedalboard) -> estimate; prints truth beside the estimate."""
    from ddspfx.render import render_chain
    from ddspfx.sampler import ChainSampler, SamplerConfig
    from ddspfx.sources import make_source

    rng = np.random.default_rng(seed)
    sr = estimator.sample_rate
    dry = make_source("synth", sample_rate=sr).sample(rng, 3.0)
    truth = ChainSampler(SamplerConfig(min_effects=2, max_effects=4)).sample(rng)
    wet, _ = render_chain(dry, truth, sr)
    analysis = estimator.analyse_many([wet])[0]
    out.write(f"demo (seed {seed}): a synthetic guitar phrase through a random pedalboard chain\n")
    out.write(f"  true:      {truth}\n")
    out.write(f"  estimated: {analysis.describe()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
