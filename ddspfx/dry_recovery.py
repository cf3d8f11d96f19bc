"""Dry recovery: the clean guitar back from a wet clip (issue 32), as long as the clip and lined up with it.

Two ways, measured against each other and against the wet itself in ``experiments/dry_recovery.py``:

- **Inversion through the proxies** (:func:`invert_chain`), no training: given a chain (the user's, the blind
  model's estimate, or the true one for an upper bound), a dry signal is optimised by gradient descent so that the
  chain's exact differentiable proxies (``ddspfx.proxies``, rendered as ``ddspfx.refine.render_proxies`` does)
  applied to it match the wet. The objective is scale-invariant (the clip's output gain is unknown): the waveform
  residual left after the best gain (smooth at a perfect fit, so a chain that changes nothing leaves the wet where
  it started), minimised by L-BFGS over the dry's samples from the wet.
- **A small network on the wet** (:class:`DryRecoveryNet`): a bounded complex ratio mask over an STFT from a
  bidirectional GRU (< 1 M parameters); it needs no chain. Trained by ``python -m ddspfx.dry_recovery_train``;
  shipped as ``ddspfx/checkpoints/dry_recovery.safetensors`` + ``.json`` when one is trained (none is yet).

Hard cases, said plainly: a distortion or fuzz folds many dry signals onto one wet (saturation), an octave adds
what no mask removes, a noise gate deletes what was under its threshold; the inversion finds *a* dry that renders
to the wet, not always the one that was played. Measured on 25 development clips (``experiments/results/dry_recovery/``):
through the true chain +17.0 dB SI-SDR over the wet on average (single linear pedals +13 to +68 dB, distortion and
fuzz ~0); through the blind model's estimate -4.2 dB (a wrong chain always has a dry that renders the wet, so the fit
cannot tell). So :func:`recover_dry` never inverts an estimate on its own: without a chain it runs the network.

The long training (the same command starts it and continues it, in this or a later session: ``--resume`` without
a ``last.pt`` starts afresh; the examples it made are kept in the run folder and read back), ~90 min on 2 cores::

    python -m ddspfx.dry_recovery_train --out runs_dry/dry_recovery --resume --max-time-min 90 --threads 2 \
        --val-every 50 --export ddspfx/checkpoints/dry_recovery.safetensors

``--export`` copies the final ``model.safetensors`` + ``.json`` to :data:`DEFAULT_DRY_RECOVERY`, where the package
ships it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor, nn

from ddspfx.audio import resample
from ddspfx.catalog import SAMPLE_RATE, normalise_params
from ddspfx.chain import Chain
from ddspfx.checkpoint import fill_weights, read_weights
from ddspfx.config import DEFAULT_DRY_RECOVERY
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text, file_sha256
from ddspfx.refine import render_proxies
from ddspfx.render import fit_length

FORMAT = "ddspfx-dry-recovery"
FORMAT_VERSION = 2  # 2: the frame level joined the features (a version-1 model has a narrower input layer)
METHODS: tuple[str, ...] = ("auto", "invert", "network")

INVERT_SECONDS = 10.0
"""Default time limit of :func:`invert_chain` (wall seconds, one thread): issue 32 asks for <= 20 s per 3-s clip."""


# ---------------------------------------------------------------------------------------------- inversion


@dataclass(frozen=True)
class InvertConfig:
    """How :func:`invert_chain` descends (L-BFGS on the dry's samples)."""

    time_limit_s: float = INVERT_SECONDS  # wall seconds for the whole descent (checked before each render)
    max_evals: int = 2000  # most renders + gradients (each ~0.05-0.3 s for a 3-s clip)
    inner: int = 10  # L-BFGS iterations per step
    history: int = 20  # L-BFGS memory
    tolerance: float = 1e-4  # a step that lowers the residual by less than this share made no progress
    patience: int = 3  # stop after this many L-BFGS steps in a row without progress (its progress comes in bursts)


def waveform_residual(render: Tensor, wet: Tensor) -> Tensor:
    """Share of the wet's energy the render misses at its best gain, ``1 - cos^2(render, wet)`` on zero-mean (..., T)
    signals, one per row (...): ``10 log10(1 / residual - 1)`` is the SI-SDR of the wet against the render; 0 at a
    perfect fit, where its gradient vanishes too (a chain that changes nothing leaves the wet where it started)."""
    r = render - render.mean(dim=-1, keepdim=True)
    w = wet - wet.mean(dim=-1, keepdim=True)
    cos2 = (r * w).sum(-1) ** 2 / ((r * r).sum(-1) * (w * w).sum(-1)).clamp_min(1e-20)
    return (1.0 - cos2).clamp_min(0.0)


def render_through(chain: Chain, x: Tensor, sample_rate: int) -> Tensor:
    """(1, 1, T) through ``chain``'s proxies, knobs as ``ddspfx.refine.render_proxies`` takes them (float64 knobs,
    so a delay time lands on the sample pedalboard uses)."""
    knobs = [torch.from_numpy(normalise_params(p.effect, p.params))[None] for p in chain]  # (1, P) each
    return render_proxies(chain.effects, x, sample_rate, knobs)


@dataclass
class InvertResult:
    """The dry found and how the fit went (SI-SDR of the chain's proxy render of the dry against the wet, dB)."""

    dry: np.ndarray
    fit_before: float
    fit_after: float
    evals: int
    seconds: float


class _Stop(Exception):
    """Raised inside the L-BFGS closure when the time limit or the evaluation budget is spent."""


def invert_chain(wet: np.ndarray, chain: Chain, sample_rate: int = SAMPLE_RATE, config: InvertConfig | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> InvertResult:
    """Analysis by synthesis without training: the dry whose proxy render through ``chain`` best matches ``wet``.

    ``wet`` (T,) float; returns a float32 (T,) dry on the wet's time axis, at the wet's RMS. The dry starts at the wet
    and L-BFGS lowers :func:`waveform_residual` of its render: the objective is scale-invariant (the clip's output
    gain is unknown) and, for a linear chain, a quadratic form that L-BFGS solves in a few dozen renders (Adam's
    per-sample steps, tried first, put noise into the quiet parts and gained nothing in 8 s: see the experiment).
    The dry with the lowest residual seen is returned, so it never renders farther from the wet than the wet does.
    ``on_progress(evals, max_evals)`` after each render.
    """
    cfg = config or InvertConfig()
    start = time.perf_counter()
    w = torch.from_numpy(np.ascontiguousarray(wet, dtype=np.float32).reshape(-1).copy())
    n = w.shape[0]
    if not len(chain) or n == 0:
        return InvertResult(w.numpy(), math.inf, math.inf, 0, time.perf_counter() - start)
    scale = w.pow(2).mean().sqrt().clamp_min(1e-8)
    z = (w / scale).clone().requires_grad_(True)  # the dry at unit wet RMS, (T,)
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=cfg.inner, history_size=cfg.history,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-14)
    start = time.perf_counter()  # the first optimiser of a process imports torch._dynamo (20-50 s under load): not
    # the descent's time (measured with cProfile on a compressor clip: the fit got no render in its 10 s)
    best: list[Any] = [math.inf, z.detach().clone()]  # (residual, dry)
    first = [math.nan]
    evals = [0]

    def closure() -> Tensor:
        if evals[0] >= cfg.max_evals or (evals[0] and time.perf_counter() - start > cfg.time_limit_s):
            raise _Stop  # also inside a step: one L-BFGS step can take ~25 renders, ~1 s each through a fuzz
        opt.zero_grad()
        res = waveform_residual(render_through(chain, z.view(1, 1, -1), sample_rate).reshape(-1), w)
        value = float(res.detach())
        evals[0] += 1
        if math.isnan(first[0]):
            first[0] = value
        if value < best[0]:
            best[0], best[1] = value, z.detach().clone()
        res.backward()
        if on_progress is not None:
            on_progress(evals[0], cfg.max_evals)
        return res

    stale = 0
    try:
        while time.perf_counter() - start < cfg.time_limit_s and stale < cfg.patience:
            before = best[0]
            opt.step(closure)
            if not math.isfinite(best[0]) or best[0] <= 0.0:
                break
            stale = stale + 1 if before - best[0] <= cfg.tolerance * before else 0
    except _Stop:
        pass
    dry = (best[1] * scale).numpy().astype(np.float32)
    return InvertResult(dry, _residual_db(first[0]), _residual_db(best[0]), evals[0], time.perf_counter() - start)


def _residual_db(res: float) -> float:
    """SI-SDR (dB) of a :func:`waveform_residual`."""
    if not math.isfinite(res):
        return math.nan
    return 10.0 * math.log10(max(1.0 - res, 1e-12) / max(res, 1e-12))


# ------------------------------------------------------------------------------------------------ network


@dataclass
class DryRecoveryConfig:
    """The mask network's shape (defaults: ~0.9 M parameters, ~0.1 s per 3-s clip on one thread)."""

    n_fft: int = 1024  # STFT size (23 ms at 44.1 kHz)
    hop: int = 256  # frame hop (5.8 ms)
    hidden: int = 128  # GRU units per direction
    layers: int = 2  # bidirectional GRU layers: both sides of a frame, as an echo or a reverb tail needs
    embed: int = 192  # frame embedding width after the input projection
    max_gain: float = 2.0  # largest magnitude of the complex ratio mask (a pedal may cut what the dry had)
    sample_rate: int = SAMPLE_RATE  # the rate it was trained at; other rates are resampled to it

    def __post_init__(self) -> None:
        if not self.max_gain > 1.0:
            raise DdspfxError(f"max_gain must exceed 1 (the mask starts at 1), got {self.max_gain}")


def bound_mask(raw: Tensor, max_gain: float) -> Tensor:
    """Real (..., 2) (real, imaginary) -> complex (...) mask of magnitude ``max_gain tanh(|raw|)`` and raw's phase:
    bounded, smooth, and 1 at ``raw = (atanh(1 / max_gain), 0)`` (the identity start)."""
    m = torch.view_as_complex(raw)
    size = m.abs()
    return m * (max_gain * torch.tanh(size) / size.clamp_min(1e-6))


class DryRecoveryNet(nn.Module):
    """Wet (B, T) -> dry estimate (B, T): a bounded complex ratio mask on the wet's STFT.

    Level-free: the wet is divided by its RMS before the STFT and the dry multiplied back, so ``net(k x) = k net(x)``
    for any gain ``k > 0`` (the recording level says nothing about the pedals).

    Features per frame (:meth:`features`): log magnitude (F bins) normalised over the bins, plus the frame's level
    (F + 1) -> linear -> BiGRU x layers -> linear -> (F, 2) mask, bounded to
    ``max_gain`` in magnitude (tanh of its norm), applied to the wet's complex STFT and inverted to the clip's length
    (same window and hop both ways, so the output is lined up with the input).
    """

    window: Tensor
    metadata: dict[str, Any]  # the sidecar of a loaded model (empty for a fresh one)

    def __init__(self, config: DryRecoveryConfig | None = None) -> None:
        super().__init__()
        self.config = config or DryRecoveryConfig()
        self.metadata = {}
        c = self.config
        bins = c.n_fft // 2 + 1
        self.norm = nn.LayerNorm(bins)
        self.proj = nn.Linear(bins + 1, c.embed)
        self.rnn = nn.GRU(c.embed, c.hidden, num_layers=c.layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * c.hidden, 2 * bins)  # rows: bins real parts, then bins imaginary parts
        with torch.no_grad():  # start as the exact identity mask (the wet, the baseline): zero weights, so a clip
            # without pedals starts at its ~100 dB SI-SDR; 0.01-scaled random weights left it at ~50 dB, and the loss's
            # steepest gradient (a near-perfect clip's) then went to undoing that noise (issue 32, overfit probe)
            self.head.weight.zero_()
            self.head.bias.zero_()
            self.head.bias[:bins] = math.atanh(1.0 / c.max_gain)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)

    def features(self, spec: Tensor) -> Tensor:
        """complex (B, F, frames) -> (B, frames, F + 1): each frame's log magnitude layer-normalised over its bins (its
        spectral shape), then its mean log magnitude / 4 (its level; the clip is at unit RMS). The LayerNorm alone
        removes the level, and with it everything a tremolo, a compressor, a gate or an echo does to the envelope: a
        version-1 network saw a frame and the same frame 6 dB down as one (issue 32)."""
        logmag = torch.log(spec.abs() + 1e-5).transpose(1, 2)  # (B, frames, F)
        return torch.cat([self.norm(logmag), 0.25 * logmag.mean(dim=-1, keepdim=True)], dim=-1)

    def mask(self, spec: Tensor) -> Tensor:
        """complex (B, F, frames) -> complex mask (B, F, frames), ``|mask| <= max_gain``."""
        h, _ = self.rnn(torch.relu(self.proj(self.features(spec))))  # (B, frames, 2H)
        m = self.head(h).view(h.shape[0], h.shape[1], 2, -1).permute(0, 3, 1, 2)  # (B, F, frames, 2)
        return bound_mask(m.contiguous(), self.config.max_gain)

    def through_mask(self, wet: Tensor, mask_of: Callable[[Tensor], Tensor]) -> Tensor:
        """Wet (B, T) -> (B, T) through the complex mask ``mask_of`` gives for its STFT at unit RMS (B, F, frames):
        the network's own in :meth:`forward`; an oracle's or a free tensor's in the overfit checks (issue 32), so they
        take the very STFT, iSTFT and level handling the network does."""
        c = self.config
        n = wet.shape[-1]
        scale = wet.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)  # (B, 1): level-free input
        spec = torch.stft(wet / scale, c.n_fft, c.hop, window=self.window, return_complex=True)  # (B, F, frames)
        out = torch.istft(spec * mask_of(spec), c.n_fft, c.hop, window=self.window, length=n)  # (B, T)
        return out * scale

    def forward(self, wet: Tensor) -> Tensor:
        return self.through_mask(wet, self.mask)


def save_dry_model(model: DryRecoveryNet, path: str | Path, notes: dict[str, Any] | None = None) -> None:
    """Weights (safetensors) then their JSON sidecar (config, SHA-256, notes), each written atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": dataclasses.asdict(model.config),
            "sha256": file_sha256(path), "notes": notes or {}}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2))


def load_dry_model(path: str | Path | None = None) -> DryRecoveryNet:
    """The dry-recovery network at ``path`` (None: the shipped one), in eval mode; one-line DdspfxError if missing,
    corrupt or of another shape."""
    path = DEFAULT_DRY_RECOVERY if path is None else Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        hint = ("none ships yet: train one with python -m ddspfx.dry_recovery_train, or pass a chain to invert"
                if path == DEFAULT_DRY_RECOVERY else "check the path")
        raise DdspfxError(f"dry-recovery model {path} not found; {hint}")
    side = path.with_suffix(".json")
    try:
        meta = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise DdspfxError(f"dry-recovery model {path} needs its sidecar {side.name} (readable JSON); re-export it") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DdspfxError(f"{side} is not a dry-recovery sidecar (format {FORMAT!r} expected)")
    if meta.get("format_version", 1) != FORMAT_VERSION:
        raise DdspfxError(f"dry-recovery model {path} is format version {meta.get('format_version', 1)}, this ddspfx reads "
                          f"{FORMAT_VERSION} (the frame level joined the features); retrain it")
    if meta.get("sha256") and meta["sha256"] != file_sha256(path):
        raise DdspfxError(f"dry-recovery model {path} does not match its sidecar (SHA-256 differs); re-export it")
    try:
        config = DryRecoveryConfig(**meta["config"])
    except (KeyError, TypeError) as exc:
        raise DdspfxError(f"dry-recovery model {path}: config unreadable ({exc}); made by another ddspfx?") from None
    model = DryRecoveryNet(config)
    fill_weights(model, read_weights(path, f"dry-recovery model {path}", "re-export it"),
                 f"dry-recovery model {path}", "network", "re-export it")
    model.metadata = meta
    return model.eval()


def run_network(model: DryRecoveryNet, wet: np.ndarray, sample_rate: int) -> np.ndarray:
    """The network's dry for a (T,) clip at any rate (resampled to the model's and back, trimmed to T)."""
    rate = model.config.sample_rate
    x = np.asarray(wet, np.float32).reshape(-1)
    xin = resample(x, sample_rate, rate) if sample_rate != rate else x
    with torch.no_grad():
        y = model(torch.from_numpy(np.ascontiguousarray(xin)).view(1, -1))[0].numpy()
    if sample_rate != rate:
        y = resample(y, rate, sample_rate)
    return fit_length(y.reshape(1, -1), x.shape[0])[0].astype(np.float32)


# ---------------------------------------------------------------------------------------------- public API


def recover_dry(audio: np.ndarray, sample_rate: int, chain: Chain | None = None, method: str = "auto",
                time_limit_s: float = INVERT_SECONDS, model_path: str | Path | None = None) -> np.ndarray:
    """The clean guitar of a wet mono clip: float32 (T,), as long as ``audio`` and lined up with it.

    ``method``: ``"invert"`` fits a dry through ``chain``'s proxies (:func:`invert_chain`, at most ``time_limit_s``);
``"network"`` runs the dry-recovery network (``model_path``, default the shipped one); ``"auto"`` inverts when a
    chain is given, else runs the network (a one-line DdspfxError says when none is available).
    """
    if method not in METHODS:
        raise DdspfxError(f"dry-recovery method must be one of {', '.join(METHODS)}, got {method!r}")
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise AudioError(f"recover_dry takes one mono clip (T,), got shape {x.shape}; mix it down first")
    if not np.all(np.isfinite(x)):
        raise AudioError("the clip holds NaN or infinite samples; recover_dry needs finite audio")
    if method == "invert" or (method == "auto" and chain is not None):
        if chain is None:
            raise DdspfxError("dry recovery by inversion needs the chain (pass chain=..., e.g. ddspfx.estimate's answer)")
        return invert_chain(x, chain, int(sample_rate), InvertConfig(time_limit_s=time_limit_s)).dry
    return run_network(load_dry_model(model_path), x, int(sample_rate))


__all__ = ["DEFAULT_DRY_RECOVERY", "DryRecoveryConfig", "DryRecoveryNet", "InvertConfig", "InvertResult", "METHODS",
           "bound_mask", "invert_chain", "load_dry_model", "recover_dry", "render_through", "run_network", "save_dry_model",
           "waveform_residual"]
