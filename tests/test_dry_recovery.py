"""Dry recovery: inversion through the proxies against closed forms and pedalboard renders, the mask network's
alignment, its saved files, and the one-line errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.dry_recovery import (
    DryRecoveryConfig,
    DryRecoveryNet,
    InvertConfig,
    invert_chain,
    load_dry_model,
    recover_dry,
    run_network,
    save_dry_model,
    waveform_residual,
)
from ddspfx.errors import AudioError, DdspfxError
from ddspfx.metrics import si_sdr
from ddspfx.render import render_chain


def _guitar(seconds: float, f0: float = 196.0, seed: int = 0) -> np.ndarray:
    """A plucked harmonic tone with a random phase per partial, and some noise so every band is excited."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12)) * np.exp(-3 * t)
    x = x + 0.01 * rng.standard_normal(t.size)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_waveform_residual_closed_forms():
    w = torch.randn(4000, dtype=torch.float64)
    w = w - w.mean()
    n = torch.randn(4000, dtype=torch.float64)
    n = n - n.mean()
    n = n - (n @ w) / (w @ w) * w  # orthogonal to the wet
    n = n * (w.norm() / n.norm())  # as loud as the wet
    assert float(waveform_residual(-3.0 * w, w)) == pytest.approx(0.0, abs=1e-12)  # any gain, even negative
    assert float(waveform_residual(w + n, w)) == pytest.approx(0.5, abs=1e-9)  # cos^2 = |w|^4 / (|w|^2 2|w|^2)


def test_an_empty_chain_returns_the_wet():
    wet = _guitar(0.3)
    res = invert_chain(wet, Chain([]), SAMPLE_RATE)
    np.testing.assert_array_equal(res.dry, wet)
    assert res.evals == 0


def test_a_chain_that_changes_nothing_leaves_the_wet():
    """An eq at 0 dB renders the wet itself: the fit starts at its optimum and must not wander off."""
    wet = _guitar(0.4)
    chain = Chain([Pedal("eq", {"cutoff_frequency_hz": 800.0, "gain_db": 0.0, "q": 1.0})])
    res = invert_chain(wet, chain, SAMPLE_RATE, InvertConfig(time_limit_s=20.0))
    assert res.dry.shape == wet.shape and res.dry.dtype == np.float32
    assert si_sdr(res.dry, wet) > 60.0


@pytest.mark.parametrize("pedal", [
    Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 10.0, "q": 1.0}),
    Pedal("delay", {"delay_seconds": 0.1, "feedback": 0.3, "mix": 0.5}),
])
def test_a_linear_pedal_inverts_to_the_dry(pedal):
    """Rendered by pedalboard, inverted through the proxy: the dry comes back, lined up (SI-SDR is not
    shift-invariant), far closer than the wet was."""
    dry = _guitar(0.5)
    wet, _ = render_chain(dry, Chain([pedal]), SAMPLE_RATE)
    res = invert_chain(wet, Chain([pedal]), SAMPLE_RATE, InvertConfig(time_limit_s=60.0))
    assert si_sdr(wet, dry) < 15.0  # the pedal is audible: the test could fail
    assert si_sdr(res.dry, dry) > 30.0
    assert res.fit_after > res.fit_before


def test_the_inversion_stops_at_its_time_limit():
    dry = _guitar(0.5)
    chain = Chain([Pedal("distortion", {"drive_db": 30.0})])  # no quick optimum: the fit would go on
    wet, _ = render_chain(dry, chain, SAMPLE_RATE)
    res = invert_chain(wet, chain, SAMPLE_RATE, InvertConfig(time_limit_s=0.5))
    assert res.evals >= 2
    assert res.seconds < 0.5 + 1.0  # the render begun before the limit may finish past it (~0.01 s here)
    assert res.dry.shape == wet.shape


def _identity_net() -> DryRecoveryNet:
    """A mask network whose mask is 1 everywhere: max_gain * tanh(a) = 1 with the head's bias a = atanh(1/2)."""
    net = DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1))
    bins = net.config.n_fft // 2 + 1
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias[:bins] = math.atanh(1.0 / net.config.max_gain)  # the head's rows: bins real parts, then
        net.head.bias[bins:] = 0.0  # bins imaginary parts
    return net.eval()


def test_the_network_is_small_and_its_identity_mask_returns_the_clip_lined_up():
    assert sum(p.numel() for p in DryRecoveryNet().parameters()) < 1_000_000
    x = _guitar(0.3)[:13_229]  # an odd length, not a multiple of the hop
    y = run_network(_identity_net(), x, SAMPLE_RATE)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-4)


def test_the_network_sees_a_frames_level_as_well_as_its_shape():
    """A frame and the same frame 6 dB down: the same spectral shape, and a level feature lower by ln(2) / 4 (closed
    form: the log magnitude drops by ln 2 in every bin). Version 1's per-frame LayerNorm alone made them one input,
    so a tremolo, a compressor or a gate left nothing for the network to see (issue 32)."""
    net = DryRecoveryNet(DryRecoveryConfig(n_fft=256, hop=64, hidden=8, embed=8, layers=1))
    x = 100.0 * torch.from_numpy(_guitar(0.2)[:8192])  # loud, so every bin stands far above the 1e-5 floor
    spec = torch.stft(x, 256, 64, window=torch.hann_window(256), return_complex=True)[None]  # (1, F, frames)
    loud, quiet = net.features(spec), net.features(0.5 * spec)  # (1, frames, F + 1)
    assert loud.shape == (1, spec.shape[-1], 129 + 1)
    live = spec.abs().amin(dim=1)[0] > 1e-2  # frames far above the 1e-5 floor in every bin
    assert int(live.sum()) > 10
    torch.testing.assert_close(quiet[0, live, :-1], loud[0, live, :-1], atol=1e-3, rtol=0)
    torch.testing.assert_close(loud[0, live, -1] - quiet[0, live, -1],
                               torch.full((int(live.sum()),), math.log(2.0) / 4), atol=1e-3, rtol=0)


def test_a_version_1_model_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.safetensors"
    save_dry_model(DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1)), path)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["format_version"] = 1
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(DdspfxError, match="format version 1.*retrain it") as exc:
        load_dry_model(path)
    assert "\n" not in str(exc.value)


def test_the_network_resamples_other_rates_and_keeps_the_length():
    x = _guitar(0.3)[:4_801]
    y = run_network(_identity_net(), x, 16_000)
    assert y.shape == x.shape
    assert si_sdr(y, x) > 20.0  # resampled there and back: the same clip


def test_a_saved_network_loads_with_the_same_output_and_a_tampered_one_is_refused(tmp_path):
    torch.manual_seed(0)
    net = DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1)).eval()
    path = tmp_path / "model.safetensors"
    save_dry_model(net, path, {"trained": "no (test)"})
    x = _guitar(0.2)
    np.testing.assert_allclose(run_network(load_dry_model(path), x, SAMPLE_RATE), run_network(net, x, SAMPLE_RATE),
                               atol=1e-6)
    np.testing.assert_allclose(recover_dry(x, SAMPLE_RATE, model_path=tmp_path), run_network(net, x, SAMPLE_RATE),
                               atol=1e-6)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(DdspfxError, match="SHA-256 differs"):
        load_dry_model(path)


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_recover_dry_errors_are_one_line(tmp_path):
    x = _guitar(0.2)
    with pytest.raises(DdspfxError, match="not found") as exc:
        recover_dry(x, SAMPLE_RATE, method="network", model_path=tmp_path / "none.safetensors")
    _one_line(exc)
    with pytest.raises(DdspfxError, match="needs the chain") as exc:
        recover_dry(x, SAMPLE_RATE, method="invert")
    _one_line(exc)
    with pytest.raises(DdspfxError, match="auto, invert, network") as exc:
        recover_dry(x, SAMPLE_RATE, method="magic")
    _one_line(exc)
    with pytest.raises(AudioError, match="mono") as exc:
        recover_dry(np.stack([x, x]), SAMPLE_RATE, chain=Chain([]))
    _one_line(exc)
    bad = x.copy()
    bad[5] = np.nan
    with pytest.raises(AudioError, match="NaN") as exc:
        recover_dry(bad, SAMPLE_RATE, chain=Chain([]))
    _one_line(exc)
    (tmp_path / "m.safetensors").write_bytes(b"not a model")
    with pytest.raises(DdspfxError, match="sidecar") as exc:
        recover_dry(x, SAMPLE_RATE, method="network", model_path=tmp_path / "m.safetensors")
    _one_line(exc)


def test_recover_dry_with_a_chain_inverts_it():
    dry = _guitar(0.5)
    chain = Chain([Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 10.0, "q": 1.0})])
    wet, _ = render_chain(dry, chain, SAMPLE_RATE)
    out = recover_dry(wet, SAMPLE_RATE, chain=chain, time_limit_s=60.0)
    assert out.shape == wet.shape
    assert si_sdr(out, dry) > 30.0


def test_training_writes_a_loadable_model_and_resumes(tmp_path):
    from ddspfx.dry_recovery_train import DryRecoveryTrainConfig, main, neg_si_sdr, train_dry_recovery

    x = torch.from_numpy(_guitar(0.1))[None]
    assert float(neg_si_sdr(0.5 * x, x)) == pytest.approx(-30.0, abs=0.01)  # a gain is no error, and the cap holds
    n = torch.randn_like(x)
    n = n - n.mean() - ((n - n.mean()) * (x - x.mean())).sum() / (x - x.mean()).pow(2).sum() * (x - x.mean())
    n = n * (x - x.mean()).norm() / n.norm() * 10 ** (-10 / 20)  # 10 dB below the clip, orthogonal to it
    assert float(neg_si_sdr(x + n, x, cap_db=200.0)) == pytest.approx(-10.0, abs=0.01)
    cfg = DryRecoveryTrainConfig(source="synth", seconds=0.3, batch=1, val_clips=1, audio_clips=1, val_every=2, save_every=2,
                      model=DryRecoveryConfig(hidden=8, embed=8, layers=1))
    logged: list[str] = []
    train_dry_recovery(cfg, tmp_path, max_steps=2, log=logged.append)
    net = load_dry_model(tmp_path / "model.safetensors")
    assert net.metadata["notes"]["steps"] == 2
    with pytest.raises(DdspfxError, match="--resume"):
        train_dry_recovery(cfg, tmp_path, max_steps=3, log=logged.append)
    train_dry_recovery(cfg, tmp_path, resume=True, max_steps=3, log=logged.append)
    assert load_dry_model(tmp_path).metadata["notes"]["steps"] == 3
    assert any(line.startswith("resumed") for line in logged)
    assert main(["--out", str(tmp_path / "x")]) == 2  # no end given: one line, exit 2


def test_a_fresh_network_returns_the_wet():
    """The head starts as the exact identity mask (zero weights): an untrained network returns the wet itself, the
    baseline, up to the STFT round trip, so a clip without pedals starts where it is best."""
    torch.manual_seed(0)
    x = _guitar(0.3)
    assert si_sdr(run_network(DryRecoveryNet().eval(), x, SAMPLE_RATE), x) > 80.0


def test_the_network_does_not_depend_on_the_recording_level():
    """net(k x) = k net(x): the wet is RMS-normalised inside, with a trained-looking (random) head."""
    torch.manual_seed(0)
    net = DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1)).eval()
    with torch.no_grad():
        net.head.weight.normal_(0.0, 0.3)
    x = torch.from_numpy(_guitar(0.2))[None]
    with torch.no_grad():
        y = net(x)
        assert si_sdr(y[0].numpy(), x[0].numpy()) < 30.0  # the head does change the clip
        for k in (1e-3, 0.25, 8.0):
            torch.testing.assert_close(net(k * x), k * y, rtol=1e-4, atol=1e-4 * k * float(y.abs().max()))


def test_a_pool_cycles_over_the_first_examples_and_a_stream_is_reproducible():
    from ddspfx.dry_recovery_train import DryRecoveryTrainConfig, PairStream

    cfg = DryRecoveryTrainConfig(source="synth", seconds=0.2, model=DryRecoveryConfig(hidden=8, embed=8, layers=1))
    pooled = PairStream(cfg, 5, pool=2)
    np.testing.assert_array_equal(pooled.pair(2)[0], pooled.pair(0)[0])
    fresh = PairStream(cfg, 5)
    np.testing.assert_array_equal(fresh.pair(1)[1], pooled.pair(3)[1])  # example 1 of seed 5, whoever asks
    assert not np.array_equal(fresh.pair(2)[1], fresh.pair(0)[1])
    with pytest.raises(DdspfxError, match="held-out evaluation data"):
        PairStream(DryRecoveryTrainConfig(source="sf2:/usr/share/sounds/sf2/FluidR3_GM.sf2"), 0)


def test_without_a_chain_or_a_shipped_network_the_error_says_what_to_do(monkeypatch, tmp_path):
    import ddspfx.dry_recovery as dry_recovery

    monkeypatch.setattr(dry_recovery, "DEFAULT_DRY_RECOVERY", tmp_path / "dry_recovery.safetensors")
    with pytest.raises(DdspfxError, match="none ships yet: train one with python -m ddspfx.dry_recovery_train") as exc:
        recover_dry(_guitar(0.2), SAMPLE_RATE)
    _one_line(exc)
