"""The analysis API: a trained model listens to wet clips and answers with an :class:`~ddspfx.analysis.Analysis`.

:class:`Estimator` loads a model once and analyses many clips (window by window, batched, then voted by
:func:`ddspfx.analysis.aggregate`); :func:`estimate` is the one-call Python API. With the clip's own dry recording,
:func:`answer_with_dry` gives the answer ``infer --dry`` and the app give: the dry lined up on the clip
(:func:`line_up_dry`), the dry-aware model's estimate (:func:`dry_estimator`), then a refinement (``ddspfx.refine``).
The command line (``python -m ddspfx.infer``) and the app are thin layers over this module.
Importing it loads torch and the model stack, so ``ddspfx.estimate`` and the command line import it only once
they need a model (after parsing their flags).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ddspfx import audio as audio_io  # module attributes, read at call time (tests patch read_span)
from ddspfx import checkpoint as ckpt
from ddspfx.align import align_dry
from ddspfx.analysis import Analysis, aggregate, loud_enough, window_spans, window_starts
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.errors import DdspfxError
from ddspfx.guitar_check import check_guitar
from ddspfx.refine import RefineResult
from ddspfx.render import fit_length
from ddspfx.sources import TARGET_DBFS

BEAM_WITH_ORDER_SEARCH, BEAM_WITH_BEAM_ORDER = 1, 4
"""Default beam widths. With the exhaustive order search the beam only proposes the knob bins the order
scores are conditioned on (the pedals come from the presence head, the order from the search, the values
from the parameter head): on 300 development clips beam 1 scored as beam 4 (exact chains 0.453 vs 0.450,
equivalent 0.547 vs 0.540, nonlinear pairs 0.826 vs 0.822) at a third less time
(experiments/results/latency/). With the beam's own order the beam is the search."""


def with_guitar_check(analysis: Analysis, clip: np.ndarray, sample_rate: int) -> Analysis:
    """The analysis with ``guitar_check`` set: whether the clip sounds like a guitar at all (noise, drums, a voice
    or a bass get pedals named too; the user is told, nothing is refused)."""
    analysis.guitar_check = check_guitar(clip, sample_rate)
    return analysis


class Estimator:
    """Loads a model once; analyses many clips in batches."""

    def __init__(self, checkpoint: str | Path | None = None, beam: int | None = None, batch_size: int = 16,
                 device: str = "cpu", effect_set: str | None = None, order_search: str | None = None):
        self.model = ckpt.load_model(checkpoint).to(device).eval()
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
        lined up and as long as its clip (:func:`ddspfx.align.align_dry`).

        Only windows of the same length share a batch: a window zero-padded to a longer one's length would be
        heard with silence at its end, so a clip's answer would depend on the other clips of the call.
        """
        if self.hears_dry and (drys is None or any(d.shape != c.shape for c, d in zip(clips, drys))):
            raise DdspfxError("this model hears the clip's dry too: give each clip its dry, lined up and as long "
                              "(python -m ddspfx.infer CLIP --dry DRY.wav)")
        pieces: list[tuple[np.ndarray, np.ndarray | None]] = []
        owner: list[int] = []
        for i, clip in enumerate(clips):
            for span in window_spans(clip, self.window):
                pieces.append((clip[span], drys[i][span] if self.hears_dry and drys is not None else None))
                owner.append(i)
        by_length: dict[int, list[int]] = defaultdict(list)  # window length -> its pieces, in order
        for k, (piece, _) in enumerate(pieces):
            by_length[piece.shape[-1]].append(k)
        preds: list[Any] = [None] * len(pieces)
        for n, ks in by_length.items():
            for s in range(0, len(ks), self.batch_size):
                chunk = ks[s:s + self.batch_size]
                batch = np.stack([pieces[k][0] for k in chunk]).astype(np.float32, copy=False)  # (B, n)
                chunk_drys = [d for d in (pieces[k][1] for k in chunk) if d is not None]
                dry_batch = np.stack(chunk_drys).astype(np.float32, copy=False) if self.hears_dry else None
                for k, pred in zip(chunk, self._predict(batch, [n] * len(chunk), dry_batch)):
                    preds[k] = pred
        grouped: dict[int, list[Any]] = defaultdict(list)
        for o, p in zip(owner, preds):
            grouped[o].append(p)
        return [with_guitar_check(aggregate(grouped[i]), clip, self.sample_rate) for i, clip in enumerate(clips)]

    def _predict(self, batch: np.ndarray, lengths: Sequence[int] | None = None, dry: np.ndarray | None = None) -> list[Any]:
        """The model on one batch of windows (B, T), with this Estimator's decoding settings."""
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
        name = str(path)
        with audio_io.open_audio(path) as f:
            native = max(1, int(round(self.window * f.samplerate / self.sample_rate)))
            if f.frames <= int(1.5 * native):  # one window: nothing to stream
                clip = audio_io.read_span(f, 0, f.frames, self.sample_rate, name)
                audio_io.check_audio(clip, self.sample_rate, name=name)
                return self.analyse_many([clip])[0]
            starts = window_starts(f.frames, native)
            rms, peak = np.zeros(len(starts)), np.zeros(len(starts))
            for i, s in enumerate(starts):  # first pass: levels only (native rate, no resampling)
                w = audio_io.read_span(f, s, native, f.samplerate, name).astype(np.float64)
                rms[i], peak[i] = np.sqrt(np.mean(w * w)), np.max(np.abs(w))
            if peak.max() < 10 ** (audio_io.SILENCE_DBFS / 20):  # a silent file: the same one-line error as a short clip gets
                audio_io.check_audio(np.full(self.window, peak.max(), np.float32), self.sample_rate, name=name)
            kept = [s for s, keep in zip(starts, loud_enough(rms)) if keep]
            preds: list[Any] = []
            head = np.zeros(0, np.float32)
            bar = tqdm(total=len(kept), desc=Path(name).name, unit="window", disable=not progress, leave=False)
            for b in range(0, len(kept), self.batch_size):
                # a resampled window may be a sample off: fitted to the window
                batch = np.stack([fit_length(audio_io.read_span(f, s, native, self.sample_rate, name), self.window)
                                  for s in kept[b:b + self.batch_size]])
                preds.extend(self._predict(batch))
                if b == 0:  # the guitar check hears the first batch of loud windows (no extra read, same memory)
                    head = batch.reshape(-1)
                bar.update(len(batch))
            bar.close()
        return with_guitar_check(aggregate(preds), head, self.sample_rate)

    def analyse(self, audio: np.ndarray, sample_rate: int) -> Analysis:
        """One clip as an array: (T,), (C, T) or (T, C), at any rate."""
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise DdspfxError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
        x = audio_io.as_float(np.asarray(audio))
        if x.ndim == 2:
            # soundfile gives (T, C), pedalboard (C, T): channels are the short axis
            x = audio_io.to_mono(x.T if x.shape[0] > x.shape[1] else x)
        elif x.ndim != 1:
            raise DdspfxError(f"audio must be (T,), (C, T) or (T, C); got shape {x.shape}")
        if sample_rate != self.sample_rate:
            x = audio_io.resample(x, sample_rate, self.sample_rate)
        audio_io.check_audio(x, self.sample_rate, name="audio")
        return self.analyse_many([x])[0]


_CACHE: dict[tuple[str, int | None], Estimator] = {}


def estimate(audio: np.ndarray, sample_rate: int, checkpoint: str | Path | None = None, beam: int | None = None) -> Chain:
    """The Python API: a wet clip (T,) or (C, T) at any rate -> the estimated ``Chain``."""
    key = (str(checkpoint), beam)
    if key not in _CACHE:
        _CACHE[key] = Estimator(checkpoint, beam=beam)
    return _CACHE[key].analyse(audio, sample_rate).chain


def dry_estimator(path: str | Path | None = None, remedy: str = "pass it as --checkpoint", **options: Any
                  ) -> Estimator | None:
    """The dry-aware model for clips given with their dry: ``path``, else the shipped one
    (``DEFAULT_DRY_CHECKPOINT``) if it exists, else None (the blind model's estimate is refined instead).
    ``options``: :class:`Estimator`'s. A blind model at ``path`` is refused, with ``remedy``."""
    default = ckpt.DEFAULT_DRY_CHECKPOINT  # read at call time: a test or a study may point it elsewhere
    path = path or (default if default.is_file() else None)
    if path is None:
        return None
    est = Estimator(path, **options)
    if not est.hears_dry:
        raise DdspfxError(f"{path} is a blind model, not a dry-aware one (frontend.paired); {remedy}")
    return est


Refiner = Callable[[np.ndarray, np.ndarray, Analysis], RefineResult]
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
    aligned, lag = align_dry(dry, clip, sample_rate)  # a DI and its wet track rarely start together
    return audio_io.normalise_loudness(aligned, TARGET_DBFS)[0], lag


__all__ = ["BEAM_WITH_BEAM_ORDER", "BEAM_WITH_ORDER_SEARCH", "Estimator", "Refiner", "answer_with_dry",
           "dry_estimator", "estimate", "line_up_dry"]
