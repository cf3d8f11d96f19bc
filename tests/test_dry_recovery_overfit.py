"""The dry-recovery network's overfit checks (issue 32), on a tremolo: a per-time gain, which a ratio mask undoes
exactly. Each stage of the path is checked against the true dry: the oracle mask through the network's own STFT,
iSTFT and level handling; a free mask, bounded as the network bounds it, fitted by the training loss; the network
itself on a fixed batch. If the network ever stops learning, these say which stage broke."""

from __future__ import annotations

import math

import numpy as np
import torch

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, bound_mask
from ddspfx.dry_recovery_train import DryLoss, neg_si_sdr

SMALL = DryRecoveryConfig(n_fft=256, hop=64, hidden=32, embed=32, layers=1)
TREMOLOS = ((6.0, 0.8), (9.0, 0.6), (12.0, 0.9), (7.0, 0.7))  # (rate Hz, depth): gain 1 - depth (1 + sin) / 2


def _tone(n: int, seed: int) -> torch.Tensor:
    """(n,) float32 decaying harmonic tone with a little noise, so every STFT bin is excited."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(150, 400)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 10)) * np.exp(-4 * t)
    return torch.from_numpy(x + 0.02 * rng.standard_normal(n)).float()


def _tremolo_batch(n: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """(wet, dry) (4, n): each dry through its own sine tremolo."""
    dry = torch.stack([_tone(n, s) for s in range(len(TREMOLOS))])
    t = torch.arange(n) / SAMPLE_RATE
    gain = torch.stack([1 - d * (0.5 + 0.5 * torch.sin(2 * math.pi * r * t)) for r, d in TREMOLOS])
    return dry * gain, dry


def _si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """(B,) uncapped SI-SDR in dB, clip by clip."""
    return torch.stack([-neg_si_sdr(est[i:i + 1], ref[i:i + 1], cap_db=200.0) for i in range(est.shape[0])])


def test_the_oracle_mask_through_the_networks_path_gives_the_dry_back():
    """STFT, iSTFT, hop alignment and level handling: the exact ratio dry / wet gives the dry to float precision, and
    the same ratio bounded to max_gain (after the best global gain, which SI-SDR ignores) still > 20 dB."""
    wet, dry = _tremolo_batch()
    net = DryRecoveryNet(SMALL)
    c = net.config

    def ratio(spec: torch.Tensor) -> torch.Tensor:
        return torch.stft(dry, c.n_fft, c.hop, window=net.window, return_complex=True) / spec  # (B, F, frames)

    def bounded(spec: torch.Tensor) -> torch.Tensor:
        m = ratio(spec)
        m = m * (c.max_gain / torch.quantile(m.abs().flatten(1), 0.95, dim=1)[:, None, None])
        return m * torch.clamp(c.max_gain / m.abs().clamp_min(1e-12), max=1.0)

    with torch.no_grad():
        assert (_si_sdr(net.through_mask(wet, ratio), dry) > 80.0).all()
        assert (_si_sdr(net.through_mask(wet, bounded), dry) > 20.0).all()
        assert (_si_sdr(wet, dry) < 11.0).all()  # the wet itself is far from it


def test_a_free_bounded_mask_fitted_by_the_training_loss_reaches_the_loss_cap():
    """The loss's sign, scale and gradient and the mask's bound: Adam on a free mask (no network) brings every clip
    from <= 10 dB to > 25 dB SI-SDR, the loss to its -30 dB cap."""
    wet, dry = _tremolo_batch()
    net = DryRecoveryNet(SMALL)
    c = net.config
    spec = torch.stft(wet, c.n_fft, c.hop, window=net.window, return_complex=True)
    raw = torch.zeros(*spec.shape, 2)
    raw[..., 0] = math.atanh(1.0 / c.max_gain)  # the identity mask, as the network starts
    raw.requires_grad_(True)
    opt = torch.optim.Adam([raw], lr=3e-2)
    loss_fn = DryLoss()
    with torch.no_grad():
        start = float(loss_fn(net.through_mask(wet, lambda s: bound_mask(raw, c.max_gain)), dry))
    assert abs(start - float(loss_fn(wet, dry))) < 1e-3  # the identity start is the wet
    for _ in range(80):
        loss = loss_fn(net.through_mask(wet, lambda s: bound_mask(raw, c.max_gain)), dry)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        got = net.through_mask(wet, lambda s: bound_mask(raw, c.max_gain))
    assert float(loss_fn(got, dry)) < -29.0
    assert (_si_sdr(got, dry) > 25.0).all()


def test_the_network_learns_a_tremolo_on_a_fixed_batch():
    """The network itself (features with the frame level, GRU, head from the identity start): 60 Adam steps bring
    the batch >= 6 dB closer to the dry than the wet is, on average and on every clip."""
    torch.manual_seed(0)
    wet, dry = _tremolo_batch()
    net = DryRecoveryNet(SMALL)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = DryLoss()
    base = _si_sdr(wet, dry)
    for _ in range(60):
        loss = loss_fn(net(wet), dry)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        gain = _si_sdr(net(wet), dry) - base
    assert float(gain.mean()) > 6.0 and (gain > 2.0).all()
