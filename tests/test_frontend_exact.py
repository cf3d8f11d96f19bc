"""The front end's fast paths give the built-in results bit for bit: the stem's max-pool against
``torch.nn.functional.max_pool2d``, the log-mel power against |STFT|^2 from the complex spectrum's parts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ddspfx.frontends.conv import MaxPool
from ddspfx.frontends.mel import log_mel, mel_filterbank


@pytest.mark.parametrize("pool", [(2, 2), (2, 1), (1, 2), (1, 1)])
@pytest.mark.parametrize("size", [(80, 259), (40, 130), (5, 7), (1, 1)])
def test_max_pool_is_the_built_in_one_bit_for_bit(pool: tuple[int, int], size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    x = torch.relu(torch.randn(3, 4, *size))  # ReLU's zeros make ties, as in the stem
    x[0, 0, 0, 0] = float("nan")  # a NaN wins its window in both
    want = F.max_pool2d(x, pool, ceil_mode=True)
    with torch.inference_mode():
        got = MaxPool(pool, ceil_mode=True)(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)


def test_max_pool_with_gradients_is_the_built_in_op() -> None:
    """Training keeps the built-in op: the gradient goes to one input of a tie (torch.maximum would split it)."""
    x = torch.zeros(1, 1, 2, 2, requires_grad=True)  # one window, four tied inputs
    MaxPool((2, 2), ceil_mode=True)(x).sum().backward()
    ref = torch.zeros(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(ref, (2, 2), ceil_mode=True).sum().backward()
    assert x.grad is not None and ref.grad is not None and torch.equal(x.grad, ref.grad)
    assert float(x.grad.sum()) == 1.0 and int((x.grad != 0).sum()) == 1


def test_log_mel_power_is_the_squared_magnitude_of_the_spectrum() -> None:
    torch.manual_seed(1)
    audio = torch.randn(2, 44_100) * 0.1
    n_fft, hop = 2048, 512
    window, fb = torch.hann_window(n_fft), torch.from_numpy(mel_filterbank(44_100, n_fft, 80, 30.0, 16_000.0))
    spec = torch.stft(audio, n_fft, hop_length=hop, window=window, center=True, return_complex=True)
    power = spec.real * spec.real + spec.imag * spec.imag  # (B, K, F)
    want = torch.log(torch.einsum("mk,bkf->bfm", fb, power) + 1e-8)
    assert torch.equal(log_mel(audio, window, fb, n_fft, hop), want)
