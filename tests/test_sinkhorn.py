"""Soft and hard permutations (ddspfx.model.sinkhorn): against brute-force assignment search, the
doubly stochastic invariants and the straight-through identity."""

from __future__ import annotations

import itertools

import pytest
import torch

from ddspfx.model.sinkhorn import gumbel_sinkhorn, hard_permutation, sinkhorn, straight_through


def _random_perms(batch: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.eye(n)[torch.randperm(n, generator=g)] for _ in range(batch)])  # (B, N, N)


@pytest.mark.parametrize("tau", [3.0, 1.0, 0.3, 0.1, 0.03, 0.01])
def test_sinkhorn_rows_and_columns_sum_to_one(tau: float) -> None:
    logits = 2.0 * torch.randn(16, 7, 7, generator=torch.Generator().manual_seed(0))
    p = sinkhorn(logits, tau=tau, n_iters=200)
    assert (p >= 0).all()
    torch.testing.assert_close(p.sum(-1), torch.ones(16, 7), atol=2e-3, rtol=0)
    torch.testing.assert_close(p.sum(-2), torch.ones(16, 7), atol=2e-3, rtol=0)


def test_sinkhorn_default_iterations_converge_at_low_temperature() -> None:
    g = torch.Generator().manual_seed(1)
    truth = _random_perms(32, 7, 1)
    logits = 2.0 * truth + 0.5 * torch.randn(32, 7, 7, generator=g)
    p = sinkhorn(logits, tau=0.01)  # default 20 iterations
    torch.testing.assert_close(p.sum(-1), torch.ones(32, 7), atol=1e-4, rtol=0)
    torch.testing.assert_close(p, truth, atol=1e-4, rtol=0)


def test_hungarian_matches_brute_force() -> None:
    logits = torch.randn(20, 5, 5, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    hard = hard_permutation(logits)
    for b in range(20):
        best = max(itertools.permutations(range(5)), key=lambda s: sum(float(logits[b, k, s[k]]) for k in range(5)))
        expect = torch.zeros(5, 5, dtype=torch.float64)
        expect[range(5), list(best)] = 1.0
        assert torch.equal(hard[b], expect)


def test_low_temperature_equals_hard_permutation() -> None:
    logits = torch.randn(32, 6, 6, generator=torch.Generator().manual_seed(3))
    hard = hard_permutation(logits)
    # logits with a margin: the hard permutation of (logits + 3 * hard) is still ``hard``
    sharp = logits + 3.0 * hard
    assert torch.equal(hard_permutation(sharp), hard)
    torch.testing.assert_close(sinkhorn(sharp, tau=0.005, n_iters=40), hard, atol=1e-4, rtol=0)
    assert (sinkhorn(sharp, tau=1.0) - hard).abs().max() > 0.1  # and a high temperature is really soft


def test_gumbel_sinkhorn() -> None:
    logits = torch.randn(8, 5, 5, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(gumbel_sinkhorn(logits, noise_scale=0.0), sinkhorn(logits))
    a = gumbel_sinkhorn(logits, tau=0.5, n_iters=300, generator=torch.Generator().manual_seed(5))
    b = gumbel_sinkhorn(logits, tau=0.5, n_iters=100, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a.sum(-1), torch.ones(8, 5), atol=1e-3, rtol=0)
    torch.testing.assert_close(a.sum(-2), torch.ones(8, 5), atol=1e-3, rtol=0)
    assert (a - b).abs().max() > 1e-2  # the noise does something
    # A Gumbel-max sample of a permutation follows the logits: with a strong diagonal, the
    # noisy hard permutation is usually the identity, and with zero logits it is uniform.
    strong = 4.0 * torch.eye(4).expand(200, 4, 4)
    hits = (hard_permutation(gumbel_sinkhorn(strong, generator=torch.Generator().manual_seed(7))) == torch.eye(4)).all(-1).all(-1)
    assert hits.float().mean() > 0.8
    flat = hard_permutation(gumbel_sinkhorn(torch.zeros(2000, 3, 3), generator=torch.Generator().manual_seed(8)))
    freq = flat[:, 0, :].mean(0)  # which effect lands in slot 0: ~1/3 each
    torch.testing.assert_close(freq, torch.full((3,), 1 / 3), atol=0.05, rtol=0)


def test_straight_through_is_hard_forward_soft_backward() -> None:
    logits = torch.randn(4, 5, 5, generator=torch.Generator().manual_seed(9), requires_grad=True)
    soft = sinkhorn(logits, tau=0.5)
    hard = hard_permutation(logits)
    st = straight_through(soft, hard)
    assert torch.equal(st, hard)
    weights = torch.randn(4, 5, 5, generator=torch.Generator().manual_seed(10))
    (g_st,) = torch.autograd.grad((st * weights).sum(), logits)
    (g_soft,) = torch.autograd.grad((sinkhorn(logits, tau=0.5) * weights).sum(), logits)
    torch.testing.assert_close(g_st, g_soft)
