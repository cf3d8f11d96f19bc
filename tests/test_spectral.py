"""The one MR-STFT distance (ddspfx.spectral) against auraloss built as each user built it before it existed.

References are written out here, not taken from ddspfx.spectral: each named set must give exactly the distance
its users measured with, so results do not move.
"""

from __future__ import annotations

import auraloss
import pytest
import torch

from ddspfx.spectral import FIDELITY, METRIC, REFINE, TRAINING, Resolutions, SpectralTarget, mrstft, per_item

OLD: dict[str, tuple[Resolutions, dict]] = {
    # the training loss (ddspfx/losses.py)
    "training": (TRAINING, dict(fft_sizes=[2048, 512, 128], hop_sizes=[512, 128, 32], win_lengths=[2048, 512, 128])),
    # the evaluator's MRSTFTDistance (ddspfx/metrics.py) and the recovery study's default (fft_sizes, hop = size / 4)
    "metric": (METRIC, dict(fft_sizes=[256, 1024, 4096], hop_sizes=[64, 256, 1024], win_lengths=[256, 1024, 4096])),
    # refinement's fit loss (ddspfx/refine.py: LOSS_RESOLUTIONS, (FFT size = window, hop))
    "refine": (REFINE, dict(fft_sizes=[256, 1024, 4096], hop_sizes=[64, 256, 1024], win_lengths=[256, 1024, 4096])),
    # the fidelity study (MultiResolutionSTFTLoss() with auraloss's defaults)
    "fidelity": (FIDELITY, dict()),
}


def signals(batch: int = 3, length: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) (B, 1, T): y a noisy, differently scaled x, so every term of the distance is non-zero."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, length, generator=g)
    y = 0.5 * x + 0.3 * torch.randn(batch, 1, length, generator=g)
    return x, y


@pytest.mark.parametrize("name", OLD)
def test_named_set_is_the_old_distance(name: str) -> None:
    resolutions, kwargs = OLD[name]
    old = auraloss.freq.MultiResolutionSTFTLoss(**kwargs)
    x, y = signals()
    got, want = mrstft(resolutions)(x, y), old(x, y)
    assert want > 0.1  # a distance worth comparing
    assert torch.equal(got, want), (name, float(got), float(want))


@pytest.mark.parametrize("name", OLD)
def test_spectral_target_is_the_old_distance_per_item(name: str) -> None:
    """SpectralTarget (one cached target, one value per item) equals auraloss on each item alone, for every set
    (FIDELITY's windows are shorter than its FFTs)."""
    resolutions, kwargs = OLD[name]
    old = auraloss.freq.MultiResolutionSTFTLoss(**kwargs)
    x, y = signals()
    got = SpectralTarget(y[1:2], resolutions)(x)  # (B,) against item 1's target
    want = torch.stack([old(x[i:i + 1], y[1:2]) for i in range(x.shape[0])])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(per_item(mrstft(resolutions), x, y[1:2].expand_as(x)), want, rtol=0, atol=0)


def test_users_build_their_old_distance() -> None:
    """The training loss, the evaluator's distance and the recovery study each get their old numbers."""
    from ddspfx.config import LossConfig
    from ddspfx.losses import DdspfxLoss
    from ddspfx.metrics import MRSTFTDistance, peak_normalise
    from experiments.proxy_fidelity import _mrstft
    from experiments.proxy_recovery import RecoveryConfig

    x, y = signals(batch=1)
    training = auraloss.freq.MultiResolutionSTFTLoss(**OLD["training"][1])
    assert torch.equal(DdspfxLoss(LossConfig(), pad_id=0).mrstft(x, y), training(x, y))

    metric = auraloss.freq.MultiResolutionSTFTLoss(**OLD["metric"][1])
    a, b = x.numpy().ravel(), y.numpy().ravel()
    want = float(metric(torch.from_numpy(peak_normalise(a)).view(1, 1, -1), torch.from_numpy(peak_normalise(b)).view(1, 1, -1)))
    assert MRSTFTDistance()(a, b) == want
    assert MRSTFTDistance()(a, 2 * b) == want  # peak-normalised: level-free

    assert RecoveryConfig().fft_sizes == (256, 1024, 4096)  # built as Resolutions.quarter_hop(fft_sizes)
    assert Resolutions.quarter_hop((256, 1024, 4096)) == METRIC

    fidelity = auraloss.freq.MultiResolutionSTFTLoss()
    clip_a, clip_b = x[0].numpy(), y[0].numpy()  # (C, T) clips, as the study hands them
    assert _mrstft()(clip_a, clip_b) == float(fidelity(x[:1], y[:1]))


def test_resolutions_reject_mismatched_lists() -> None:
    with pytest.raises(ValueError, match="one hop"):
        Resolutions((256, 1024), (64,), (256, 1024))
    with pytest.raises(ValueError, match="window longer"):
        Resolutions((256,), (64,), (512,))
    assert list(Resolutions.quarter_hop([512])) == [(512, 128, 512)]
