"""The multi-resolution STFT distance, one implementation with named resolution sets.

The distance is auraloss's ``MultiResolutionSTFTLoss`` (Yamamoto et al. 2020, "Parallel WaveGAN"): spectral
convergence plus mean absolute log-magnitude difference, averaged over a few STFT resolutions. The training loss,
the evaluator's re-render metric, refinement and the proxy studies all build it here. Each keeps the resolutions it
was measured with: they are named below instead of being written out at each use.

:class:`SpectralTarget` is the same distance against one fixed target, for loops that score many renders against
the same clip (refinement): the target's spectra are computed once, and each batch item gets its own value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import auraloss
import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Resolutions:
    """The STFTs of a multi-resolution distance: FFT size, hop and Hann window length (samples) of each."""

    fft_sizes: tuple[int, ...]
    hop_sizes: tuple[int, ...]
    win_lengths: tuple[int, ...]

    def __post_init__(self) -> None:
        if not (len(self.fft_sizes) == len(self.hop_sizes) == len(self.win_lengths) > 0):
            raise ValueError(f"one hop and one window per FFT size, got {self}")
        if any(w > n for n, w in zip(self.fft_sizes, self.win_lengths)):
            raise ValueError(f"a window longer than its FFT: {self}")

    @classmethod
    def quarter_hop(cls, fft_sizes: Sequence[int]) -> Resolutions:
        """Windows as long as the FFT, hop a quarter of it."""
        sizes = tuple(int(s) for s in fft_sizes)
        return cls(sizes, tuple(s // 4 for s in sizes), sizes)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:  # (FFT size, hop, window length) of each
        return iter(zip(self.fft_sizes, self.hop_sizes, self.win_lengths))

    def __len__(self) -> int:
        return len(self.fft_sizes)


TRAINING = Resolutions((2048, 512, 128), (512, 128, 32), (2048, 512, 128))
"""The training loss's proxy term (``ddspfx.losses``): sub-second crops, so frames down to 3 ms."""

METRIC = Resolutions.quarter_hop((256, 1024, 4096))
"""The evaluator's re-render distance (``ddspfx.metrics.MRSTFTDistance``) and the parameter-recovery study's loss:
long frames as well (93 ms), where reverb tails and delay repeats show."""

REFINE = METRIC
"""What refinement's fits minimise (``ddspfx.refine``): the distance that then picks the winner, so the same."""

FIDELITY = Resolutions((1024, 2048, 512), (120, 240, 50), (600, 1200, 240))
"""The proxy-vs-pedalboard fidelity study (``experiments/proxy_fidelity.py``): auraloss's own defaults."""


def mrstft(resolutions: Resolutions) -> nn.Module:
    """auraloss's ``MultiResolutionSTFTLoss`` at ``resolutions``: ``loss(x, y)`` on (B, C, T) pairs -> a scalar
    (its spectral convergence pools the norms over the batch: see :func:`per_item` for one value per item)."""
    return auraloss.freq.MultiResolutionSTFTLoss(
        fft_sizes=list(resolutions.fft_sizes), hop_sizes=list(resolutions.hop_sizes),
        win_lengths=list(resolutions.win_lengths),
    )


def per_item(loss: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """``loss`` of each batch item alone: x, y (B, C, T) -> (B,)."""
    return torch.stack([loss(x[i:i + 1], y[i:i + 1]) for i in range(x.shape[0])])


class SpectralTarget:
    """The :func:`mrstft` distance to one fixed target, whose magnitudes are computed once.

    A fit evaluates the distance hundreds of times against the same wet: auraloss recomputes the target's STFT
    every call, and both phases (unused). Per batch item: x (B, 1, T) -> (B,), each row equal to auraloss's
    loss of that row alone (auraloss would pool the spectral convergence norms over the batch).
    """

    def __init__(self, target: Tensor, resolutions: Resolutions = REFINE, eps: float = 1e-8) -> None:
        self.resolutions = resolutions
        self.eps = eps
        self.windows = [torch.hann_window(w) for _, _, w in resolutions]
        with torch.no_grad():
            self.mags = [self._magnitude(target.reshape(1, -1), k) for k in range(len(resolutions))]
            self.log_mags = [m.log() for m in self.mags]
            self.norms = [m.flatten(1).norm(dim=1) for m in self.mags]  # (1,)

    def _magnitude(self, x: Tensor, k: int) -> Tensor:
        """(B, T) -> (B, n_fft // 2 + 1, frames), as auraloss: sqrt(clamp(|X|^2, eps))."""
        n_fft, hop, win = self.resolutions.fft_sizes[k], self.resolutions.hop_sizes[k], self.resolutions.win_lengths[k]
        spec = x.stft(n_fft, hop, win, self.windows[k], return_complex=True)
        return (spec.real ** 2 + spec.imag ** 2).clamp_min(self.eps).sqrt()

    def __call__(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)  # (B, T)
        total = flat.new_zeros(flat.shape[0])
        for k in range(len(self.resolutions)):
            mag = self._magnitude(flat, k)  # (B, F, frames)
            convergence = (self.mags[k] - mag).flatten(1).norm(dim=1) / self.norms[k]
            log_l1 = (mag.log() - self.log_mags[k]).abs().flatten(1).mean(dim=1)
            total = total + convergence + log_l1
        return total / len(self.resolutions)


__all__ = ["FIDELITY", "METRIC", "REFINE", "TRAINING", "Resolutions", "SpectralTarget", "mrstft", "per_item"]
