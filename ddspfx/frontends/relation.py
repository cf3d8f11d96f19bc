"""The relation front end: a dry-aware model that hears only how the wet differs from the dry.

Why (issue 28, item 6): the paired mel front end hands the encoder the wet, the dry *and* their difference, so it
can still learn the guitar. This one hands it only quantities that a chain of pedals decides and a guitar does
not (for a linear, time-invariant chain they are the chain's transfer function, whatever was played through it):

- ``transfer``: per mel band and frame, the wet's band power over the dry's, in dB (a floor ``floor_db`` below
  the dry's mean band power keeps silent bands at 0 dB). Eq, wah, fuzz tone, phaser and chorus combs, tremolo and
  compressor gain changes, reverb and echo tails (wet power where the dry has none);
- ``added``: per band, the share of the wet's power that no per-bin linear filter of the dry explains
  (1 - magnitude-squared coherence, power-weighted, coherence averaged over ``smooth`` frames): the harmonics and
  inharmonic products of drive, fuzz and octave, noise, long echoes and diffuse reverb; 0 for an eq;
- ``delay``: per band, the group delay of the cross-spectrum (wet x conj(dry)) from its phase step over
  ``DELAY_STEP`` bins, in samples (unambiguous within +-n_fft/6, 7.7 ms at n_fft 2048; read where the content is
  broadband, such as pick attacks and noise: between two partials the step is not the bins' spacing);
- ``rotation``: per band, how far the cross-spectrum's phase turns from one frame to the next (radians per hop):
  the moving delays and allpasses of chorus, flanger and phaser; 0 for any time-invariant chain;
- ``coherency``: per band, the complex coherency of wet and dry (the band's smoothed cross-spectrum over the root
  of its two powers): its phase is the allpass/delay phase an LTI chain leaves, its magnitude how much of the
  relation is a filter at all (so where the wet has nothing of the dry, the phase reads as 0, not as noise; a band
  silent in both reads 1, as identical tracks do);
- ``envelope``: per frame, the broadband wet-to-dry power ratio in dB (the gain a compressor or tremolo applies).

Level invariance: scaling the wet by ``a`` and the dry by ``b`` changes none of these. ``added``, ``delay``,
``rotation`` and ``coherency`` are ratios and angles (exact); ``transfer`` and ``envelope`` would shift by
``20 log10(a / b)`` dB, and :func:`level_offset` removes that shift: it is the median over bands of the clip's
band-power ratio, subtracted before the floor is applied, with each floor relative to its own signal's power.
A chain's overall gain is therefore not heard (the model levels each track on its own anyway, ``model.input_level``).

Cost: two STFTs (as the paired mel front end), a few elementwise ops on (B, K, F) and a box filter over frames;
the maps (B, 7, M, F) go through the same CNN stem and projection as the mel front end (``conv_channels``), so
the encoder sees as many tokens as the paired mel front end's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.frontends.base import FrontEnd
from ddspfx.frontends.conv import spectral_stem, token_frames, token_mask
from ddspfx.frontends.mel import mel_filterbank

TINY = 1e-20
"""Absolute power floor: keeps digital silence (both tracks all zeros) finite; far below any floor_db."""

DELAY_STEP = 3
"""Bins between the cross-spectrum pairs whose phase step gives the delay: the first step at which a Hann window's
bins are uncorrelated (no bias towards 0); delays read unambiguously within +-n_fft / (2 DELAY_STEP) samples."""

CHANNELS: tuple[str, ...] = ("transfer", "added", "delay", "rotation", "coherency_re", "coherency_im", "envelope")
"""The maps the stem hears, in order (see :meth:`Relation.maps` for their scaling)."""


@dataclass
class Relation:
    """What the wet has relative to the dry. Shapes: B clips, M mel bands, F frames."""

    transfer: torch.Tensor  # (B, M, F) dB, wet band power / dry band power, offset removed
    added: torch.Tensor  # (B, M, F) in [0, 1]: share of the wet's band power the dry does not explain linearly
    delay: torch.Tensor  # (B, M, F) samples: group delay of the cross-spectrum, wet later than dry > 0
    rotation: torch.Tensor  # (B, M, F) radians per hop: turn of the cross-spectrum's phase since the previous frame
    coherency: torch.Tensor  # (B, M, F) complex, |.| <= 1: the band's smoothed cross-spectrum / sqrt(wet x dry power)
    # (both levelled and floored alike: 1 for identical or silent tracks)
    envelope: torch.Tensor  # (B, F) dB: broadband wet power / dry power per frame, offset removed
    offset: torch.Tensor  # (B,) dB: the level difference removed (20 log10 of the wet's scale over the dry's)

    def maps(self, n_fft: int) -> torch.Tensor:
        """(B, 7, M, F) network input, each channel scaled to about unit range (order: ``CHANNELS``)."""
        m = self.transfer.shape[1]
        return torch.stack([self.transfer / 10.0, self.added, self.delay / (n_fft / (2 * DELAY_STEP)), self.rotation / math.pi,
                            self.coherency.real, self.coherency.imag,
                            (self.envelope / 10.0)[:, None, :].expand(-1, m, -1)], dim=1)


def spectrum(audio: torch.Tensor, window: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, T) -> complex (B, K, F) STFT, K = n_fft // 2 + 1, F = T // hop + 1 (centred frames, as the mel front end)."""
    return torch.stft(audio, n_fft, hop_length=hop, window=window, center=True, return_complex=True)


def power(spec: torch.Tensor) -> torch.Tensor:
    """|spec|^2 of a complex tensor, as a real tensor of the same shape."""
    parts = torch.view_as_real(spec).square()
    return parts[..., 0] + parts[..., 1]


def level_offset(wet_band: torch.Tensor, dry_band: torch.Tensor, floor: float) -> torch.Tensor:
    """(B, M, F) band powers of wet and dry -> (B,) the level difference in nats of power: the median over bands of
    log(clip band power of the wet / of the dry), each floored at ``floor`` times its own mean band power.

    Scaling the wet by a and the dry by b adds exactly log(a^2 / b^2); a median rather than a mean so that a pedal
    acting on fewer than half of the bands (an eq, a wah) reads as a change in those bands, not as a level change
    everywhere else. Zero-padded frames add no power, so padding does not move it.
    """
    w, d = wet_band.sum(-1), dry_band.sum(-1)  # (B, M)
    w = w + floor * w.mean(-1, keepdim=True) + TINY
    d = d + floor * d.mean(-1, keepdim=True) + TINY
    return torch.median(torch.log(w) - torch.log(d), dim=-1).values  # lower median when M is even


def box_smooth(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, C, F) -> the centred running mean over ``frames`` (odd) frames; shorter at the ends (no zero padding)."""
    if frames <= 1:
        return x
    return F.avg_pool1d(x, frames, stride=1, padding=frames // 2, count_include_pad=False)


def band_angle(pairs: torch.Tensor, fb: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """Complex (B, K', F) products -> (B, M, F) angle of their ``fb``-weighted sum per band, with ``floor`` (B, 1, 1)
    per unit of filter weight added to the real part: a band whose products are far below it reads 0 (neutral),
    not the angle of rounding noise."""
    k = pairs.shape[1]
    s = torch.view_as_real(pairs)  # (B, K', F, 2)
    band = torch.einsum("mk,bkfc->bmfc", fb[:, :k], s)  # (B, M, F, 2)
    return torch.atan2(band[..., 1], band[..., 0] + floor * fb[:, :k].sum(1)[:, None])


def relation(wet: torch.Tensor, dry: torch.Tensor, window: torch.Tensor, fb: torch.Tensor, n_fft: int, hop: int,
             smooth: int = 7, floor_db: float = -40.0) -> Relation:
    """Wet and dry (B, T), same shape, float32 -> their :class:`Relation` on ``fb``'s (M, K) bands.

    ``smooth``: frames over which the coherence of ``added`` is averaged (odd); ``floor_db``: the power floor,
    relative to each track's mean, under which a band counts as silent.
    """
    floor = 10.0 ** (floor_db / 10.0)
    y, x = spectrum(wet, window, n_fft, hop), spectrum(dry, window, n_fft, hop)  # (B, K, F) complex
    syy, sxx = power(y), power(x)  # (B, K, F)
    wet_band = torch.einsum("mk,bkf->bmf", fb, syy)  # (B, M, F)
    dry_band = torch.einsum("mk,bkf->bmf", fb, sxx)
    offset = level_offset(wet_band, dry_band, floor)  # (B,) nats
    gain = torch.exp(-offset)[:, None, None]  # the wet brought to the dry's level
    e = floor * dry_band.mean(dim=(1, 2), keepdim=True) + TINY  # (B, 1, 1) one floor for both, after levelling
    to_db = 10.0 / math.log(10.0)
    transfer = (torch.log(wet_band * gain + e) - torch.log(dry_band + e)) * to_db
    m = fb.shape[0]
    envelope = (torch.log((wet_band * gain).sum(1) + m * e[:, 0]) - torch.log(dry_band.sum(1) + m * e[:, 0])) * to_db

    cross = y * x.conj()  # (B, K, F): wet x conj(dry); its phase is the chain's where the chain is LTI
    b, k, f = syy.shape
    cr = torch.view_as_real(cross)  # (B, K, F, 2)
    stacked = torch.cat([cr[..., 0], cr[..., 1], sxx, syy], dim=1)  # (B, 4K, F)
    sm = box_smooth(stacked, smooth)
    c_re, c_im, s_xx, s_yy = sm[:, :k], sm[:, k:2 * k], sm[:, 2 * k:3 * k], sm[:, 3 * k:]
    e_x = floor * s_xx.mean(dim=(1, 2), keepdim=True) + TINY
    e_y = floor * s_yy.mean(dim=(1, 2), keepdim=True) + TINY
    residual = (s_yy - (c_re.square() + c_im.square()) / (s_xx + e_x)).clamp_min(0.0)  # wet power no filter explains
    added = torch.einsum("mk,bkf->bmf", fb, residual) / (torch.einsum("mk,bkf->bmf", fb, s_yy) + e_y * fb.sum(1)[:, None])

    smoothed = torch.complex(c_re, c_im)  # (B, K, F)
    # Y = H X with H = exp(-j w d): cross = |X|^2 exp(-j w d); cross[k] conj(cross[k+s]) turns by +d * 2 pi s / n_fft.
    # s = DELAY_STEP bins: a Hann window's bins k and k+s are correlated for s < 3, and that correlation (the same in
    # the wet as in the dry, whatever the delay) adds a zero-phase term that pulls the estimate towards 0.
    # The pairs scale as (wet power x dry power): times ``gain``, in the dry's power squared, as is their floor.
    s = DELAY_STEP
    pair_floor = floor * s_xx.mean(dim=(1, 2), keepdim=True).square() + TINY  # (B, 1, 1)
    pairs = smoothed[:, :-s] * smoothed[:, s:].conj() * gain
    delay = band_angle(pairs, fb, pair_floor) * (n_fft / (2 * math.pi * s))
    turn = cross[..., 1:] * cross[..., :-1].conj() * gain  # (B, K, F-1): this frame's cross-spectrum against the last's
    rotation = F.pad(band_angle(turn, fb, pair_floor), (1, 0))  # (B, M, F), 0 at the first frame
    # coherency with one floor for both tracks after levelling (the wet's power x gain, its amplitude x sqrt(gain)),
    # added to the cross term too: a band silent in both reads 1 (the neutral relation), not 0 (no relation)
    band_e = e_x * fb.sum(1)[:, None]  # (B, M, 1)
    band_cross = torch.einsum("mk,bkfc->bmfc", fb, torch.stack([c_re, c_im], dim=-1)) * gain[..., None].sqrt()
    band_xx = torch.einsum("mk,bkf->bmf", fb, s_xx) + band_e
    band_yy = torch.einsum("mk,bkf->bmf", fb, s_yy) * gain + band_e
    coherency = torch.complex(band_cross[..., 0] + band_e, band_cross[..., 1]) / torch.sqrt(band_xx * band_yy)
    return Relation(transfer=transfer, added=added.clamp(0.0, 1.0), delay=delay, rotation=rotation, coherency=coherency,
                    envelope=envelope, offset=offset * to_db)


class RelationFrontEnd(FrontEnd):
    """``(wet (B, T), lengths, dry (B, T)) -> (tokens (B, F', dim), mask (B, F'))``: the relation maps through a
    CNN stem (as the mel front end's, ``conv_channels`` > 0) or stacked and projected per frame (0)."""

    name = "relation"
    paired = True  # always hears the dry (``DdspfxModel.hears_dry`` reads this)
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
        relation_smooth: int = 7,
        relation_floor_db: float = -40.0,
        paired: bool = True,
    ) -> None:
        super().__init__()
        del paired  # accepted from the shared FrontEndConfig: this front end always takes the dry
        self.sample_rate, self.dim = int(sample_rate), int(dim)
        self.n_fft, self.hop, self.n_mels, self.stack = int(n_fft), int(hop), int(n_mels), int(stack)
        self.f_min, self.f_max = float(f_min), float(min(f_max, sample_rate / 2))
        self.smooth, self.floor_db = int(relation_smooth), float(relation_floor_db)
        if self.smooth < 1 or self.smooth % 2 == 0:
            raise DdspfxError(f"frontend.relation_smooth must be an odd number of frames >= 1, got {relation_smooth}")
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max)
        self.register_buffer("fb", torch.from_numpy(fb), persistent=False)
        self.conv_channels, self.conv_time_pool = int(conv_channels), int(conv_time_pool)
        per_frame, self._time_pools = len(CHANNELS) * self.n_mels, list[int]()
        if self.conv_channels > 0:
            self.conv, self._time_pools, per_frame = spectral_stem(self.conv_channels, self.conv_time_pool, self.n_mels,
                                                                   in_channels=len(CHANNELS))
        self.proj = nn.Sequential(nn.Linear(per_frame * self.stack, self.dim), nn.GELU(), nn.Linear(self.dim, self.dim))

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name, "dim": self.dim, "sample_rate": self.sample_rate, "n_fft": self.n_fft,
            "hop": self.hop, "n_mels": self.n_mels, "f_min": self.f_min, "f_max": self.f_max, "stack": self.stack,
            "conv_channels": self.conv_channels, "conv_time_pool": self.conv_time_pool,
            "relation_smooth": self.smooth, "relation_floor_db": self.floor_db,
        }

    def frames_for(self, num_samples: int) -> int:
        return token_frames(num_samples // self.hop + 1, self._time_pools, self.stack)

    def relation(self, wet: torch.Tensor, dry: torch.Tensor) -> Relation:
        """(B, T) wet and dry -> their :class:`Relation` with this front end's STFT, bands, smoothing and floor."""
        with torch.autocast(device_type=wet.device.type, enabled=False):
            return relation(wet.float(), dry.float(), self.window, self.fb, self.n_fft, self.hop, self.smooth,
                            self.floor_db)

    def features(self, wet: torch.Tensor, dry: torch.Tensor) -> torch.Tensor:
        """(B, T) x 2 -> (B, F', per_frame * stack): the relation maps (through the stem if any), stacked."""
        maps = self.relation(wet, dry).maps(self.n_fft)  # (B, C, M, F)
        if self.conv_channels > 0:
            y = self.conv(maps)  # (B, C', M', F / conv_time_pool)
            x = rearrange(y, "b c m f -> b f (c m)")
        else:
            x = rearrange(maps, "b c m f -> b f (c m)")
        b, f, d = x.shape
        pad = (-f) % self.stack
        if pad:
            x = torch.cat([x, x.new_zeros(b, pad, d)], dim=1)  # zeros: the neutral relation
        return rearrange(x, "b (f s) d -> b f (s d)", s=self.stack)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None,
                dry: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if dry is None or dry.shape != audio.shape:
            raise DdspfxError("this model hears the clip's dry too: pass the dry, the same shape as the clip "
                              "(python -m ddspfx.infer CLIP --dry DRY.wav)")
        tokens = self.proj(self.features(audio, dry))  # (B, F', D)
        b, f, _ = tokens.shape
        return tokens, token_mask(lengths, f, b, self.hop, self._time_pools, self.stack, audio.device)


__all__ = ["CHANNELS", "DELAY_STEP", "Relation", "RelationFrontEnd", "band_angle", "box_smooth", "level_offset", "power",
           "relation", "spectrum"]
