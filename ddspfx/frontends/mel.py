"""The embedded front end: log-mel frames with a learned per-frame projection.

Weight-free analysis (``torch.stft`` + a Slaney-style mel filterbank built in numpy, no
torchaudio/librosa), so the shipped model needs nothing but torch. ``stack`` consecutive
frames are concatenated before the projection to shorten the encoder's sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from einops import rearrange
from torch import nn

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.frontends.base import FrontEnd
from ddspfx.frontends.conv import spectral_stem, token_frames, token_mask

CPU_CHUNK = 2
"""Clips per piece of a CPU batch through the log-mel and the conv stem at inference (:meth:`MelFrontEnd.features`).
Why: a whole batch's maps are tens of MB (16 3-s clips: 34 MB of complex STFT, 21 MB out of the first conv), which
the allocator takes fresh from the OS on every call (page faults, then cache misses), while two clips' pieces come
from its pool and stay in cache. Pieces of two or three clips take the batch's conv kernels, and are joined in the
stem's own layout, so the projection sums in the same order: bit for bit the same tokens. Batch of 16 3-s clips, one thread, CPU time under load: 11.2 -> 6.3 ms per clip
(experiments/results/latency/infer_speed_2026-12-07_session4.md)."""


def _pieces(batch: int) -> list[int]:
    """Sizes of ``CPU_CHUNK``-clip pieces of a batch, an odd remainder joined to the last piece: a piece of one clip
    can take another conv kernel than the batch (last bits differ), a piece of three the same one."""
    sizes = [CPU_CHUNK] * max(1, batch // CPU_CHUNK)
    sizes[-1] += batch - sum(sizes)
    return sizes


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above (as librosa's default)."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sample_rate: float, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Triangular, area-normalised (Slaney) mel filters, shape (n_mels, n_fft // 2 + 1)."""
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    fb = np.maximum(0.0, np.minimum(lower, upper))
    fb *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return fb.astype(np.float32)


def log_mel(audio: torch.Tensor, window: torch.Tensor, fb: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, T) audio -> (B, F, n_mels) natural-log mel power, F = T // hop + 1 (centred frames)."""
    spec = torch.stft(audio, n_fft, hop_length=hop, window=window, center=True, return_complex=True)  # (B, K, F)
    parts = torch.view_as_real(spec).square()  # (B, K, F, 2): re^2, im^2 (squaring the strided .real and .imag
    power = parts[..., 0] + parts[..., 1]  # views was 2.4x slower for the same sums)
    mel = torch.einsum("mk,bkf->bfm", fb, power)  # (B, F, M)
    return torch.log(mel + 1e-8)


class MelFrontEnd(FrontEnd):
    """``audio (B, T) -> (tokens (B, F', dim), mask (B, F'))`` with F' = ceil(frames / stack)."""

    name = "mel"
    window: torch.Tensor  # (n_fft,) buffer
    fb: torch.Tensor  # (n_mels, n_fft // 2 + 1) buffer

    def __init__(
        self,
        dim: int = 128,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = 2048,
        hop: int = 512,
        n_mels: int = 80,
        f_min: float = 30.0,
        f_max: float = 16000.0,
        stack: int = 2,
        conv_channels: int = 0,
        conv_time_pool: int = 4,
        paired: bool = False,
    ) -> None:
        super().__init__()
        self.sample_rate, self.dim = int(sample_rate), int(dim)
        self.n_fft, self.hop, self.n_mels, self.stack = int(n_fft), int(hop), int(n_mels), int(stack)
        self.f_min, self.f_max = float(f_min), float(min(f_max, sample_rate / 2))
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        # Log-mel of a -20 dBFS guitar sits around -10 +- 5 nats; a fixed shift/scale (in
        # ``features``) keeps the projection's input near unit range. No per-frame normalisation:
        # the frame level *is* the signal for compressors (envelope) and delay (echo decay).
        # Optional CNN stem (``conv_channels`` = c > 0): four conv blocks of c, 2c, 4c, 8c channels,
        # each halving the mel axis, the first log2(conv_time_pool) also halving time: local
        # spectro-temporal filters, as in the CNN baseline. Front-end ablation at equal steps (800):
        # presence µF1 0.72 with the stem vs 0.66 with per-frame projection.
        self.conv_channels, self.conv_time_pool = int(conv_channels), int(conv_time_pool)
        per_frame, self._time_pools = self.n_mels, list[int]()
        if self.conv_channels > 0:
            self.conv, self._time_pools, per_frame = spectral_stem(self.conv_channels, self.conv_time_pool, self.n_mels)
        # paired (dry-aware): the wet and the dry through the same mel + stem, and their difference (the
        # pedals' log spectral ratio, frame by frame), side by side into the projection
        self.paired = bool(paired)
        self.proj = nn.Sequential(
            nn.Linear(per_frame * self.stack * (3 if self.paired else 1), self.dim), nn.GELU(), nn.Linear(self.dim, self.dim)
        )

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name, "dim": self.dim, "sample_rate": self.sample_rate, "n_fft": self.n_fft,
            "hop": self.hop, "n_mels": self.n_mels, "f_min": self.f_min, "f_max": self.f_max, "stack": self.stack,
            "conv_channels": self.conv_channels, "conv_time_pool": self.conv_time_pool, "paired": self.paired,
        }

    def frames_for(self, num_samples: int) -> int:
        return token_frames(num_samples // self.hop + 1, self._time_pools, self.stack)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, F', per_frame * stack): scaled log-mel (through the conv stem if any), stacked."""
        if self.conv_channels > 0:
            if audio.device.type == "cpu" and not self.training and audio.shape[0] > CPU_CHUNK:
                y = torch.cat([self._stem_map(part) for part in audio.split(_pieces(audio.shape[0]))])  # (B, C, M', F')
            else:  # training: BatchNorm's statistics are the whole batch's
                y = self._stem_map(audio)
            x = rearrange(y, "b c m f -> b f (c m)")
        else:
            x = self._log_mel(audio)
        b, f, m = x.shape
        pad = (-f) % self.stack
        if pad:
            x = torch.cat([x, x.min().detach().expand(b, pad, m)], dim=1)  # pad with the minimum, no host sync
        return rearrange(x, "b (f s) m -> b f (s m)", s=self.stack)  # ``stack`` frames side by side

    def _log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, F, M): the log-mel, shifted and scaled to about unit range."""
        with torch.autocast(device_type=audio.device.type, enabled=False):
            return (log_mel(audio.float(), self.window, self.fb, self.n_fft, self.hop) + 10.0) / 5.0

    def _stem_map(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, C, M', F / conv_time_pool): the conv stem's map of the log-mel."""
        return self.conv(rearrange(self._log_mel(audio), "b f m -> b 1 m f"))

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None,
                dry: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.features(audio)
        if self.paired:
            if dry is None or dry.shape != audio.shape:
                raise DdspfxError("this model hears the clip's dry too: pass the dry, the same shape as the clip "
                                  "(python -m ddspfx.infer CLIP --dry DRY.wav)")
            dry_feats = self.features(dry)
            feats = torch.cat([feats, dry_feats, feats - dry_feats], dim=-1)  # (B, F', 3 * M*stack)
        tokens = self.proj(feats)  # (B, F', D)
        b, f, _ = tokens.shape
        return tokens, token_mask(lengths, f, b, self.hop, self._time_pools, self.stack, audio.device)
