"""Invariants of the switching-matrix chain (ddspfx.proxies.switching).

References: brute-force permutation search (Hungarian), the slot formula written out by hand,
sequential ``ddspfx.proxies.apply`` calls, pedalboard itself, and finite differences.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES, EFFECTS, MAX_PARAMS, denormalise_tensor, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.model.sinkhorn import sinkhorn
from ddspfx.proxies import (
    _PROXY_FUNCTIONS,  # registry: name -> "module:function"
    apply,
)
from ddspfx.proxies.switching import SoftChain, targets_to_chain
from ddspfx.targets import chain_to_targets

SR = 22_050


def _proxy_functions() -> dict[str, object]:
    """Every effect's proxy function. An ImportError or AttributeError here fails the module: a broken proxy
    is a failure, never a skip."""
    out = {}
    for name in EFFECT_NAMES:
        module, func = _PROXY_FUNCTIONS[name].split(":")
        out[name] = getattr(importlib.import_module(module), func)
    return out


AVAILABLE = list(_proxy_functions())


def _guitar(n: int, seed: int = 0, batch: int = 1) -> torch.Tensor:
    """A decaying plucked tone with harmonics, (batch, 1, n) float32 at SR."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    out = []
    for _ in range(batch):
        f0 = rng.uniform(82.0, 330.0)
        x = sum((0.6 / k) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.28)) for k in range(1, 9))
        out.append(0.5 * x * np.exp(-t * rng.uniform(3.0, 8.0)))
    return torch.tensor(np.stack(out)[:, None, :], dtype=torch.float32)


def _random_perms(batch: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.eye(n)[torch.randperm(n, generator=g)] for _ in range(batch)])  # (B, N, N)


def _mid_params(batch: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.15 + 0.7 * torch.rand(batch, n, MAX_PARAMS, generator=g)  # (B, N, MAX_PARAMS) normalised


def _real(effect: str, params_row: torch.Tensor) -> dict[str, torch.Tensor]:
    """Normalised (B, MAX_PARAMS) -> real-unit (B,) tensors, as a caller of ``apply`` would write it."""
    return {p.name: denormalise_tensor(params_row[:, j], p) for j, p in enumerate(get_effect(effect).params)}


# --- the chain -------------------------------------------------------------------------------


def test_soft_slot_formula_by_hand() -> None:
    """Two effects, soft perm and gates: the interface formula written out step by step."""
    effects = ("distortion", "eq")
    x0 = _guitar(2048, seed=1, batch=3)
    perm = sinkhorn(torch.randn(3, 2, 2, generator=torch.Generator().manual_seed(11)), tau=1.0, n_iters=100)
    gates = torch.tensor([[1.0, 0.7], [0.3, 1.0], [0.5, 0.5]])
    params = _mid_params(3, 2, 12)
    got = SoftChain(effects, eps=0.0)(x0, perm, gates, params, SR)
    x = x0
    for k in range(2):
        delta = torch.zeros_like(x)
        for n, name in enumerate(effects):
            w = (perm[:, k, n] * gates[:, n])[:, None, None]
            delta = delta + w * (apply(name, x, SR, **_real(name, params[:, n])) - x)
        x = x + delta
    torch.testing.assert_close(got, x, atol=1e-6, rtol=1e-5)


def test_hard_chain_equals_sequential_apply() -> None:
    """One-hot perm and {0,1} gates: exactly the present effects applied in slot order."""
    effects = tuple(AVAILABLE)
    n, batch, t = len(effects), 4, 4096
    dry = _guitar(t, seed=2, batch=batch)
    perm = _random_perms(batch, n, 13)
    gates = (torch.rand(batch, n, generator=torch.Generator().manual_seed(14)) > 0.4).float()
    gates[0] = 1.0  # one item with every available effect
    params = _mid_params(batch, n, 15)
    chain = SoftChain(effects)
    wet = chain(dry, perm, gates, params, SR)
    assert chain.last_evaluations == int(gates.sum())  # skipping: one evaluation per present effect
    for b in range(batch):
        x = dry[b : b + 1]
        for k in range(n):
            j = int(perm[b, k].argmax())
            if gates[b, j] == 1.0:
                x = apply(effects[j], x, SR, **_real(effects[j], params[b : b + 1, j]))
        torch.testing.assert_close(wet[b : b + 1], x, atol=1e-6, rtol=0)

    # the same order for the whole batch: bit-for-bit the sequential batched calls
    same = perm[:1].expand(batch, n, n)
    wet = chain(dry, same, torch.ones(batch, n), params, SR)
    x = dry
    for k in range(n):
        j = int(same[0, k].argmax())
        x = apply(effects[j], x, SR, **_real(effects[j], params[:, j]))
    assert torch.equal(wet, x)


def test_all_gates_closed_is_identity() -> None:
    effects = tuple(AVAILABLE) or EFFECT_NAMES
    n = len(effects)
    dry = _guitar(1024, seed=3, batch=2)
    perm = sinkhorn(torch.randn(2, n, n, generator=torch.Generator().manual_seed(16)))
    chain = SoftChain(effects)
    out = chain(dry, perm, torch.zeros(2, n), _mid_params(2, n, 17), SR)
    assert torch.equal(out, dry)
    assert chain.last_evaluations == 0


def test_skipping_treats_small_weights_as_bypass_and_saves_work() -> None:
    effects = ("distortion", "eq")
    dry = _guitar(2048, seed=4, batch=2)
    perm = torch.tensor([[[1.0 - 4e-4, 4e-4], [4e-4, 1.0 - 4e-4]], [[0.3, 0.7], [0.7, 0.3]]])
    params, gates = _mid_params(2, 2, 18), torch.ones(2, 2)
    skip, full = SoftChain(effects, eps=1e-3), SoftChain(effects, eps=0.0)
    out = skip(dry, perm, gates, params, SR)
    assert skip.last_evaluations == 2 + 4  # item 0: its 2 heavy entries; item 1: all 4
    masked = torch.where(perm >= 1e-3, perm, torch.zeros_like(perm))
    torch.testing.assert_close(out, full(dry, masked, gates, params, SR), atol=1e-6, rtol=0)
    exact = full(dry, perm, gates, params, SR)
    assert full.last_evaluations == 8
    assert (out - exact).abs().max() < 1e-2  # what skipping costs in accuracy: small


def test_hard_chain_close_to_pedalboard() -> None:
    """LTI + distortion chains, hard order: proxy chain vs pedalboard's render of the same chain."""
    import auraloss

    names = [e for e in ("eq", "distortion", "delay", "reverb") if EFFECTS[e].lti or e == "distortion"]
    assert len(names) >= 2
    loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=[256, 1024], hop_sizes=[64, 256], win_lengths=[256, 1024])
    rng = np.random.default_rng(5)
    dry = _guitar(SR // 2, seed=5)
    chain_mod = SoftChain(EFFECT_NAMES)
    for _ in range(3):
        order = list(rng.permutation(names))
        pedals = []
        for e in order:
            eff = get_effect(e)
            pedals.append(Pedal(e, {p.name: float(rng.uniform(p.sample_low, p.sample_high)) for p in eff.params}))
        chain = Chain(pedals)
        perm, gates, params = chain_to_targets(chain)
        proxy = chain_mod(dry, perm[None], gates[None], params[None], SR)
        ref = torch.from_numpy(np.asarray(chain.to_pedalboard()(dry[0].numpy(), float(SR), reset=True)))[None]
        dist = float(loss(proxy, ref))
        spread = float(loss(dry, ref))  # how far the chain moved the sound
        assert dist < 0.05 * spread + 1e-3, f"{chain}: proxy vs pedalboard {dist:.4f}, dry vs wet {spread:.4f}"


def test_gradients_reach_logits_gates_and_params() -> None:
    effects = tuple(e for e in AVAILABLE)
    n = len(effects)
    dry = _guitar(4096, seed=6, batch=2)
    dry[..., 2048:] *= 1e-3  # a quiet tail (-60 dB)...
    logits = torch.randn(2, n, n, generator=torch.Generator().manual_seed(19), requires_grad=True)
    gate_logits = torch.zeros(2, n, requires_grad=True)
    params = _mid_params(2, n, 20)
    if "noise_gate" in effects:  # ...under a high gate threshold, so the gate closes and acts like every other pedal
        params[:, effects.index("noise_gate"), 0] = 0.95
    params.requires_grad_(True)
    wet = SoftChain(effects)(dry, sinkhorn(logits, tau=0.5), torch.sigmoid(gate_logits), params, SR)
    target = _guitar(4096, seed=7, batch=2)
    ((wet - target) ** 2).mean().backward()
    for name, g in (("logits", logits.grad), ("gates", gate_logits.grad), ("params", params.grad)):
        assert g is not None and torch.isfinite(g).all(), name
    assert (logits.grad.abs() > 0).all()
    assert (gate_logits.grad.abs() > 0).all()
    for j, e in enumerate(effects):
        for i in range(len(get_effect(e).params)):
            assert (params.grad[:, j, i].abs() > 0).all(), f"{e}.{get_effect(e).params[i].name}"


def test_gradcheck_through_sinkhorn_gates_and_params() -> None:
    """Finite differences in float64 on a short clip: the chain's gradients are the true ones."""
    effects = ("distortion", "eq")
    dry = _guitar(256, seed=8).double()
    chain = SoftChain(effects, eps=0.0)

    def f(logits: torch.Tensor, gates: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        return chain(dry, sinkhorn(logits, tau=0.7, n_iters=30), gates, params, SR)

    g = torch.Generator().manual_seed(21)
    logits = torch.randn(1, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    gates = (0.2 + 0.6 * torch.rand(1, 2, generator=g, dtype=torch.float64)).requires_grad_(True)
    params = (0.2 + 0.6 * torch.rand(1, 2, MAX_PARAMS, generator=g, dtype=torch.float64)).requires_grad_(True)
    # the eq proxy's FFT filter carries ~1e-10 float64 rounding, hence eps 1e-5 and atol 1e-4
    assert torch.autograd.gradcheck(f, (logits, gates, params), eps=1e-5, atol=1e-4, rtol=1e-3, fast_mode=True)


# --- targets <-> chains ---------------------------------------------------------------------


def _random_chain(rng: np.random.Generator) -> Chain:
    k = int(rng.integers(0, len(EFFECT_NAMES) + 1))
    names = list(rng.permutation(EFFECT_NAMES)[:k])
    return Chain([Pedal(e, {p.name: float(rng.uniform(p.low, p.high)) for p in get_effect(e).params}) for e in names])


def test_chain_targets_round_trip() -> None:
    rng = np.random.default_rng(22)
    for _ in range(50):
        chain = _random_chain(rng)
        perm, gates, params = chain_to_targets(chain)
        n = len(EFFECT_NAMES)
        assert perm.shape == (n, n) and gates.shape == (n,) and params.shape == (n, MAX_PARAMS)
        assert torch.equal(perm.sum(0), torch.ones(n)) and torch.equal(perm.sum(1), torch.ones(n))
        order = perm.argmax(1).tolist()
        assert [EFFECT_NAMES[j] for j in order[: len(chain)]] == chain.effects
        assert order[len(chain) :] == sorted(order[len(chain) :])  # absent effects in catalog order
        assert gates.tolist() == [float(e in chain.effects) for e in EFFECT_NAMES]
        for j, e in enumerate(EFFECT_NAMES):
            used = len(get_effect(e).params) if e in chain.effects else 0
            assert (params[j, used:] == 0).all()
        back = targets_to_chain(perm, gates, params)
        assert back.effects == chain.effects
        for a, b in zip(chain, back):
            for name in a.params:
                assert math.isclose(a.params[name], b.params[name], rel_tol=1e-5, abs_tol=1e-5), (a, b)
        # a soft, noisy version of the same targets reads back as the same chain
        noisy = 0.6 * perm + 0.4 / n + 0.02 * torch.from_numpy(rng.standard_normal((n, n))).float()
        back = targets_to_chain(noisy, 0.2 + 0.6 * gates, params)
        assert back.effects == chain.effects
