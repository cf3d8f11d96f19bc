"""Training the dry-recovery network: its gradients against finite differences, a few steps that must fit a fixed
pool, the loss's closed forms, and the example cache and batch draws that make ``--resume`` continue a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, load_dry_model
from ddspfx.dry_recovery_train import (
    DryLoss,
    DryRecoveryTrainConfig,
    PairStream,
    draw_batch,
    dry_train_config_from_dict,
    learning_rate,
    log_residual,
    neg_si_sdr,
    train_dry_recovery,
)
from ddspfx.errors import DdspfxError

TINY = DryRecoveryConfig(n_fft=64, hop=16, hidden=6, embed=6, layers=1)


def _tone(n: int, seed: int) -> torch.Tensor:
    """(n,) float64 decaying harmonic tone with noise, so every STFT bin is excited."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    f0 = rng.uniform(150, 400)
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 10)) * np.exp(-4 * t)
    return torch.from_numpy(x + 0.02 * rng.standard_normal(n))


def test_gradients_match_finite_differences():
    """The whole path (RMS normalisation, STFT, GRU, bounded complex mask, iSTFT, capped SI-SDR) in float64."""
    torch.manual_seed(0)
    net = DryRecoveryNet(TINY).double()
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.5)  # away from the identity, so every parameter gets a gradient
    wet, dry = _tone(160, 0)[None], _tone(160, 1)[None]
    names = ["head.weight", "proj.bias", "rnn.weight_hh_l0"]
    params = {k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters() if k in names}

    def loss(wet_: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        est = torch.func.functional_call(net, dict(zip(names, values)), (wet_,))
        return neg_si_sdr(est, dry, cap_db=200.0)

    assert torch.autograd.gradcheck(loss, (wet.clone().requires_grad_(True), *[params[k] for k in names]),
                                    eps=1e-6, atol=1e-5, rtol=1e-3)


def test_every_parameter_gets_a_finite_gradient_from_the_identity_start():
    torch.manual_seed(0)
    net = DryRecoveryNet(TINY)
    wet, dry = _tone(4096, 0).float()[None], _tone(4096, 1).float()[None]  # longer than the MR-STFT's 2048-sample frame
    loss_fn = DryLoss(mrstft_weight=0.1)
    for _ in range(2):  # the zero head passes no gradient back on the first step; one step later all are live
        net.zero_grad()
        loss_fn(net(wet), dry).backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= 1e-2 * p.grad  # type: ignore[operator]
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_a_few_steps_on_a_fixed_pool_learn_an_eq():
    """A pedal a mask can undo (a fixed comb-like EQ, wet[t] = dry[t] + 0.8 dry[t - 3]): 60 Adam steps on 4 clips
    must bring the network's dry well above the wet (whose SI-SDR to the dry is the baseline)."""
    torch.manual_seed(0)
    dry = torch.stack([_tone(4096, s) for s in range(4)]).float()
    wet = dry.clone()
    wet[:, 3:] += 0.8 * dry[:, :-3]
    net = DryRecoveryNet(DryRecoveryConfig(n_fft=128, hop=32, hidden=16, embed=16, layers=1, max_gain=8.0))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    start = float(neg_si_sdr(net(wet), dry))
    assert start == pytest.approx(float(neg_si_sdr(wet, dry)), abs=1e-3)  # the identity start is the wet
    for _ in range(60):
        loss = neg_si_sdr(net(wet), dry)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(neg_si_sdr(net(wet), dry)) < start - 6.0  # >= 6 dB closer to the dry than the wet is


def test_the_loss_is_scale_free_and_its_spectral_term_counts():
    x = _tone(2000, 0).float()[None]
    assert float(DryLoss(0.0)(3.0 * x, x)) == pytest.approx(-30.0, abs=0.01)  # a gain is no error; the cap holds
    spectral = DryLoss(1.0)
    assert float(spectral(0.2 * x, x)) == pytest.approx(-30.0, abs=0.05)  # unit-RMS: the gain is no spectral error
    y = _tone(2000, 1).float()[None]
    assert float(spectral(y, x)) > float(DryLoss(0.0)(y, x)) + 0.1


def _pair_at_cosine(cos: float, n: int = 4000) -> tuple[torch.Tensor, torch.Tensor]:
    """(est, ref) (1, n) float64, zero-mean, |est| = 2, with cos(est, ref) = ``cos`` exactly."""
    ref = _tone(n, 0)
    ref = ref - ref.mean()
    other = _tone(n, 1)
    other = other - other.mean()
    other = other - (other @ ref) / (ref @ ref) * ref  # orthogonal to ref, still zero-mean
    est = 2.0 * (cos * ref / ref.norm() + (1 - cos**2) ** 0.5 * other / other.norm())
    return est[None], ref[None]


def test_log_residual_closed_forms():
    """``log_residual = -SI-SDR + 10 log10 cos^2`` (uncapped), and -30 dB at a perfect fit (the cap)."""
    for cos in (0.999, 0.9, 0.5, 0.05):
        est, ref = _pair_at_cosine(cos)
        assert float(log_residual(est, ref, cap_db=200.0)) == pytest.approx(10 * np.log10(1 - cos**2), abs=1e-6)
        assert float(log_residual(est, ref, cap_db=200.0)) == pytest.approx(
            float(neg_si_sdr(est, ref, cap_db=200.0)) + 10 * np.log10(cos**2), abs=1e-5)
    _, ref = _pair_at_cosine(0.5)
    assert float(log_residual(-0.3 * ref, ref)) == pytest.approx(-30.0, abs=1e-6)  # any gain, the cap holds
    assert float(DryLoss(0.0, kind="si_sdr")(-0.3 * ref, ref)) == pytest.approx(-30.0, abs=1e-6)


def test_a_clip_that_kept_nothing_of_its_dry_does_not_steer_the_batch():
    """The gradient norms against their closed forms, with |est| = 2 and c = cos(est, ref): the negative SI-SDR's is
    (10 / ln 10) 2 / (|est| cos sin), unbounded as cos -> 0 (an octave at full mix: issue 32's r1 run took half its
    squared gradient from such clips); log_residual's is (10 / ln 10) 2 cos sin / (|est| (sin^2 + 10^-3)) -> 0."""
    k = 10 / np.log(10)
    for cos in (1e-3, 0.3, 0.95):
        sin = (1 - cos**2) ** 0.5
        est, ref = _pair_at_cosine(cos)
        est.requires_grad_(True)
        g_si = torch.autograd.grad(neg_si_sdr(est, ref, cap_db=200.0, eps=0.0), est)[0].norm()
        g_lr = torch.autograd.grad(log_residual(est, ref), est)[0].norm()
        assert float(g_si) == pytest.approx(k * 2 / (2 * cos * sin), rel=1e-4)
        assert float(g_lr) == pytest.approx(k * 2 * cos * sin / (2 * (sin**2 + 1e-3)), rel=1e-4)
    hopeless, fair = _pair_at_cosine(1e-3), _pair_at_cosine(0.7)
    grads = []
    for est, ref in (hopeless, fair):
        est = est.clone().requires_grad_(True)
        grads.append(float(torch.autograd.grad(DryLoss()(est, ref), est)[0].norm()))
    assert grads[0] < 0.01 * grads[1]  # the default loss: the hopeless clip weighs next to nothing


def test_loss_choice_is_checked_and_an_old_run_keeps_its_loss():
    with pytest.raises(DdspfxError, match="must be one of log_residual, si_sdr"):
        DryLoss(kind="l1")
    assert dry_train_config_from_dict({"source": "synth"}).loss == "si_sdr"  # a last.pt from before the choice
    assert dry_train_config_from_dict({"source": "synth", "loss": "log_residual"}).loss == "log_residual"
    assert DryRecoveryTrainConfig().loss == "log_residual"


def test_warm_up_rises_linearly_to_the_rate():
    cfg = DryRecoveryTrainConfig(lr=1e-3, warmup=10)
    assert learning_rate(cfg, 0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 4) == pytest.approx(5e-4)
    assert learning_rate(cfg, 9) == learning_rate(cfg, 500) == pytest.approx(1e-3)


def test_batches_come_from_the_newest_pool_and_repeat_after_a_resume():
    cfg = DryRecoveryTrainConfig(batch=64, pool_max=10)
    got = draw_batch(cfg, 7, 100)
    assert got == draw_batch(cfg, 7, 100) and got != draw_batch(cfg, 8, 100)
    assert min(got) >= 90 and max(got) <= 99 and len(set(got)) > 5
    assert set(draw_batch(cfg, 0, 3)) <= {0, 1, 2}


def test_the_example_cache_reads_back_what_was_made_and_refuses_another_recipe(tmp_path):
    cfg = DryRecoveryTrainConfig(source="synth", seconds=0.2, model=TINY)
    made = PairStream(cfg, 5, cache=tmp_path).pair(1)
    assert (tmp_path / "5_1.npz").exists() and json.loads((tmp_path / "meta.json").read_text())["seconds"] == 0.2
    again = PairStream(cfg, 5, cache=tmp_path).pair(1)
    np.testing.assert_array_equal(again[0], made[0])
    np.testing.assert_array_equal(again[1], made[1])
    np.testing.assert_array_equal(PairStream(cfg, 5).pair(1)[1], made[1])  # the same example without a cache
    with pytest.raises(DdspfxError, match="another recipe"):
        PairStream(DryRecoveryTrainConfig(source="synth", seconds=0.3, model=TINY), 5, cache=tmp_path)
    wet, dry = PairStream(cfg, 5, cache=tmp_path).stack([1, 1], crop=100, rng=np.random.default_rng(0))
    assert wet.shape == dry.shape == (2, 100)
    for k in range(2):  # a crop takes the same window from the wet and the dry
        assert any(np.array_equal(wet[k].numpy(), made[0][o:o + 100]) and np.array_equal(dry[k].numpy(), made[1][o:o + 100])
                   for o in range(made[0].shape[0] - 99))


def test_a_resumed_run_continues_and_exports(tmp_path):
    cfg = DryRecoveryTrainConfig(source="synth", seconds=0.3, batch=2, val_clips=1, audio_clips=1, val_every=2,
                                 save_every=2, fresh_per_step=1, crop_seconds=0.2, model=TINY)
    logged: list[str] = []
    train_dry_recovery(cfg, tmp_path, max_steps=2, log=logged.append)
    cached = sorted(p.name for p in (tmp_path / "examples").glob("0_*.npz"))
    assert cached == ["0_0.npz", "0_1.npz", "0_2.npz"]  # a batch's worth first, then one fresh per step
    export = tmp_path / "ship" / "dry_recovery.safetensors"
    train_dry_recovery(cfg, tmp_path, resume=True, max_steps=4, log=logged.append, export=export)
    assert any(line.startswith("resumed") and "at step 2 (3 examples made)" in line for line in logged)
    shipped = load_dry_model(export)
    assert shipped.metadata["notes"]["steps"] == 4 and shipped.metadata["notes"]["examples"] == 5
    assert list((tmp_path / "tb").iterdir())  # TensorBoard events were written
