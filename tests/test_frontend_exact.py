"""The front end's fast paths give the built-in results bit for bit: the stem's max-pool against
``torch.nn.functional.max_pool2d``, the log-mel power against |STFT|^2 from the complex spectrum's parts, a CPU
batch heard in pieces against the batch heard whole."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ddspfx.frontends import mel as mel_module
from ddspfx.frontends.conv import MaxPool
from ddspfx.frontends.mel import MelFrontEnd, log_mel, mel_filterbank


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


def _stem_front_end(training: bool) -> MelFrontEnd:
    torch.manual_seed(2)
    fe = MelFrontEnd(dim=16, conv_channels=4, stack=1)
    for m in fe.modules():  # BatchNorm statistics away from (0, 1), so a batch-wide statistic would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1.0, 1.0)
            m.running_var.uniform_(0.5, 2.0)
    return fe.train(training)


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 8])
def test_stem_in_pieces_gives_the_whole_batch_tokens_bit_for_bit(batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """At inference the CPU front end runs pieces of CPU_CHUNK clips (an odd one joined to the last): the same
    numbers in the same layout as the whole batch (a piece of one clip can take another conv kernel, and a
    contiguous copy of the features would change the projection's sums, both in the last bits)."""
    fe = _stem_front_end(training=False)
    audio = torch.randn(batch, 20_000) * 0.1
    with torch.inference_mode():
        monkeypatch.setattr(mel_module, "CPU_CHUNK", 1_000)  # one piece: the whole batch
        whole_feats, whole_tokens = fe.features(audio), fe(audio)[0]
        monkeypatch.setattr(mel_module, "CPU_CHUNK", 2)
        feats, tokens = fe.features(audio), fe(audio)[0]
    assert torch.equal(feats, whole_feats) and feats.stride() == whole_feats.stride()
    assert torch.equal(tokens, whole_tokens)


def test_training_hears_the_batch_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """In training BatchNorm normalises by the batch's statistics, so the batch is never cut into pieces: each
    clip's features are those of the batch it came in, not of its piece."""
    fe = _stem_front_end(training=True)
    audio = torch.randn(4, 20_000) * 0.1
    audio[2:] *= 10.0  # the second pair 20 dB louder: pieces of 2 would each normalise by their own level
    monkeypatch.setattr(mel_module, "CPU_CHUNK", 2)
    with torch.no_grad():
        got = fe.features(audio)
        want = torch.cat([fe.features(audio[:2]), fe.features(audio[2:])])
    assert not torch.allclose(got, want, atol=1e-3)  # pieces would have differed
    monkeypatch.setattr(mel_module, "CPU_CHUNK", 1_000)
    with torch.no_grad():
        assert torch.equal(fe.features(audio), got)
