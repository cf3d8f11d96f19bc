"""DAC front end and code cache, against DAC's own encode path, closed forms and soxr.

Skipped where descript-audio-codec is not installed (it is the optional extra ``ddspfx[dac]``).
A tiny randomly initialised DAC is saved the way DAC's pretrained weights are stored
(``DAC.save(path, package=False)``: a state dict plus the constructor's kwargs) and loaded
through the same path user weights take.
"""

from __future__ import annotations

import json
import math
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

dac = pytest.importorskip("dac")
pytest.importorskip("dac.utils")

from ddspfx.errors import DdspfxError  # noqa: E402
from ddspfx.fileio import file_sha256  # noqa: E402
from ddspfx.frontends import build_frontend, dac_cache  # noqa: E402
from ddspfx.frontends import dac as dac_fe  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*:FutureWarning")

SR = 44_100
TINY = dict(encoder_dim=8, encoder_rates=[2, 4, 8, 8], decoder_dim=32, n_codebooks=4, codebook_size=64)
HOP = 512


def _save_tiny(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = dac.DAC(**TINY)
    model.save(str(path), package=False)  # the format of DAC's released weights files
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("dac") / "tiny.pth", seed=0)


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("dac") / "tiny_other.pth", seed=1)


@pytest.fixture(scope="module")
def reference(weights: Path):
    """DAC loaded by DAC's own class loader, used as the reference encoder."""
    model = dac.DAC.load(str(weights))
    model.eval()
    return model


def _guitarish(n: int, seed: int = 0, sr: int = SR) -> np.ndarray:
    """A decaying harmonic tone plus a little noise, float32 (n,)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8)) * np.exp(-3 * t)
    return (0.3 * x + 0.01 * rng.standard_normal(n)).astype(np.float32)


def _ref_encode(model, audio: np.ndarray, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """DAC's own path: preprocess (pad to the hop) then encode; (codes (B, n_q, F), z)."""
    x = torch.from_numpy(np.atleast_2d(audio))[:, None, :]
    with torch.no_grad():
        x = model.preprocess(x, model.sample_rate)
        z, codes, *_ = model.encode(x, n_q)
    return codes, z


# --- the front end -------------------------------------------------------------------------


def test_codes_match_dac_and_shapes(weights: Path, reference) -> None:
    fe = dac_fe.DACFrontEnd(dim=32, weights_path=str(weights))
    audio = np.stack([_guitarish(SR, 0), _guitarish(SR, 1)])
    codes, z = fe.encode(torch.from_numpy(audio))
    ref_codes, ref_z = _ref_encode(reference, audio)
    assert codes.dtype == torch.int64 and codes.shape == (2, 4, math.ceil(SR / HOP)) == (2, 4, 87)
    assert torch.equal(codes, ref_codes)
    assert torch.allclose(z, ref_z, atol=1e-5)
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY["codebook_size"]
    tokens, mask = fe(torch.from_numpy(audio))
    assert tokens.shape == (2, 87, 32) and tokens.dtype == torch.float32
    assert mask.dtype == torch.bool and bool(mask.all())


@pytest.mark.parametrize("sample_rate,n", [(SR, 1000), (SR, SR), (SR, SR + 1), (SR, 2 * SR), (22_050, 22_050),
                                           (22_050, 12_345), (16_000, 16_000)])
def test_frames_for_matches_forward(weights: Path, sample_rate: int, n: int) -> None:
    fe = dac_fe.DACFrontEnd(dim=16, sample_rate=sample_rate, weights_path=str(weights))
    tokens, _ = fe(torch.from_numpy(_guitarish(n, 2, sample_rate))[None])
    assert tokens.shape[1] == fe.frames_for(n) == math.ceil(round(n * SR / sample_rate) / HOP)


def test_mask_from_lengths(weights: Path) -> None:
    fe = dac_fe.DACFrontEnd(dim=16, weights_path=str(weights))
    audio = torch.from_numpy(np.stack([_guitarish(SR, 0), _guitarish(SR, 1)]))
    _, mask = fe(audio, torch.tensor([SR, 10_000]))
    assert mask.sum(-1).tolist() == [math.ceil(SR / HOP), math.ceil(10_000 / HOP)]


def test_sum_and_concat_embeddings(weights: Path, reference) -> None:
    audio = _guitarish(SR // 2, 3)
    codes, _ = _ref_encode(reference, audio)
    fe_sum = dac_fe.DACFrontEnd(dim=32, weights_path=str(weights), combine="sum")
    tokens, _ = fe_sum(torch.from_numpy(audio)[None])
    summed = sum(fe_sum.embed[q].weight[codes[:, q]] for q in range(4))  # (1, F, 32)
    expected = torch.nn.functional.layer_norm(summed, (32,), fe_sum.proj.weight, fe_sum.proj.bias)
    assert torch.allclose(tokens, expected, atol=1e-5)

    fe_cat = dac_fe.DACFrontEnd(dim=32, weights_path=str(weights), combine="concat")
    tokens, _ = fe_cat(torch.from_numpy(audio)[None])
    cat = torch.cat([fe_cat.embed[q].weight[codes[:, q]] for q in range(4)], dim=-1)  # (1, F, 4 * code_dim)
    lin, ln = fe_cat.proj[0], fe_cat.proj[1]
    expected = torch.nn.functional.layer_norm(cat @ lin.weight.T + lin.bias, (32,), ln.weight, ln.bias)
    assert cat.shape[-1] == 4 * fe_cat.code_dim
    assert torch.allclose(tokens, expected, atol=1e-5)
    with pytest.raises(DdspfxError, match="combine"):
        dac_fe.DACFrontEnd(dim=32, weights_path=str(weights), combine="mean")


def test_latents_mode(weights: Path, reference) -> None:
    audio = _guitarish(SR // 2, 4)
    fe = dac_fe.DACFrontEnd(dim=24, weights_path=str(weights), use_latents=True, n_codebooks=3)
    tokens, _ = fe(torch.from_numpy(audio)[None])
    ref_codes, ref_z = _ref_encode(reference, audio, n_q=3)
    ln, lin = fe.proj[0], fe.proj[1]
    expected = lin(torch.nn.functional.layer_norm(ref_z.transpose(1, 2), (fe.latent_dim,), ln.weight, ln.bias))
    assert tokens.shape == (1, ref_z.shape[-1], 24) and torch.allclose(tokens, expected, atol=1e-5)
    # from cached codes the quantiser rebuilds the same latent
    cached, _ = fe.forward_codes(_ref_encode(reference, audio)[0])
    assert torch.allclose(cached, tokens, atol=1e-4)


def test_n_codebooks_option(weights: Path, reference) -> None:
    fe = dac_fe.DACFrontEnd(dim=16, weights_path=str(weights), n_codebooks=2)
    assert len(fe.embed) == 2
    codes, _ = _ref_encode(reference, _guitarish(SR // 2, 5))
    changed = codes.clone()
    changed[:, 2:] = (changed[:, 2:] + 1) % TINY["codebook_size"]  # codebooks the front end ignores
    a, _ = fe.forward_codes(codes)
    b, _ = fe.forward_codes(changed)
    c, _ = fe.forward_codes(torch.roll(codes, 1, dims=1))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert fe.encode(torch.from_numpy(_guitarish(SR // 2, 5))[None])[0].shape[1] == 2
    with pytest.raises(DdspfxError, match="n_codebooks must be between 1 and 4"):
        dac_fe.DACFrontEnd(dim=16, weights_path=str(weights), n_codebooks=5)


def test_resampling_from_22k(weights: Path, reference) -> None:
    """22.05 kHz input: the resampled sine equals the analytic sine at 44.1 kHz; codes equal DAC's on it."""
    sr_in, f = 22_050, 441.0
    n = sr_in  # 1 s
    x = np.sin(2 * np.pi * f * np.arange(n) / sr_in).astype(np.float32) * 0.5
    y = dac_fe.to_codec_rate(torch.from_numpy(x)[None], sr_in, SR)[0].numpy()
    analytic = np.sin(2 * np.pi * f * np.arange(2 * n) / SR) * 0.5
    assert y.shape == (2 * n,)
    assert np.max(np.abs(y - analytic)[1000:-1000]) < 1e-3
    fe = dac_fe.DACFrontEnd(dim=16, sample_rate=sr_in, weights_path=str(weights))
    codes, _ = fe.encode(torch.from_numpy(x)[None])
    ref_codes, _ = _ref_encode(reference, y)
    assert codes.shape[-1] == math.ceil(2 * n / HOP) and torch.equal(codes, ref_codes)


def test_frozen_codec_outside_state_dict(weights: Path) -> None:
    fe = dac_fe.DACFrontEnd(dim=16, weights_path=str(weights))
    fe.train()
    assert not fe.codec.training and not any(p.requires_grad for p in fe.codec.parameters())
    assert all(k.startswith(("embed.", "proj.")) for k in fe.state_dict())
    tokens, _ = fe(torch.from_numpy(_guitarish(SR // 4, 6))[None])
    tokens.square().mean().backward()
    grads = [p.grad for p in fe.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_config_rebuilds_and_checks_weights_hash(weights: Path, other_weights: Path) -> None:
    fe = dac_fe.DACFrontEnd(dim=16, weights_path=str(weights), combine="concat", n_codebooks=3)
    cfg = fe.config()
    assert cfg["weights_sha256"] == file_sha256(weights) and len(cfg["weights_sha256"]) == 64
    # the model passes mel-only keys from its shared FrontEndConfig: ignored
    name = cfg.pop("name")
    assert name == "dac"
    rebuilt = build_frontend(name, **cfg, n_fft=2048, hop=512, stack=2)
    rebuilt.load_state_dict(fe.state_dict())
    audio = torch.from_numpy(_guitarish(SR // 2, 7))[None]
    assert torch.equal(fe(audio)[0], rebuilt(audio)[0])
    with pytest.raises(DdspfxError, match="not the ones this model was built with"):
        build_frontend("dac", **{**cfg, "weights_path": str(other_weights)})
    # the flat FrontEndConfig spelling (dac_* keys, "" / 0 = default)
    flat = build_frontend("dac", dim=16, dac_weights=str(weights), dac_model_type="44khz", dac_n_codebooks=0,
                          dac_combine="concat", dac_latents=False, dac_weights_sha256="", n_mels=80)
    assert (flat.n_codebooks, flat.combine, flat.weights_sha256) == (4, "concat", cfg["weights_sha256"])
    with pytest.raises(DdspfxError, match="unknown dac front-end option"):
        build_frontend("dac", **cfg, codebooks=3)


# --- errors --------------------------------------------------------------------------------


def test_offline_without_weights_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))  # empty DAC cache
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setattr(dac_fe, "network_reachable", lambda host, port, timeout_s=5.0: False)
    with pytest.raises(DdspfxError) as err:
        dac_fe.DACFrontEnd(dim=16)
    msg = str(err.value)
    assert "\n" not in msg and "python -m dac download --model_type 44khz" in msg and "--dac-weights" in msg

    # reachable host but the download fails (DNS/connection error inside DAC's downloader)
    import requests

    def fail(**kwargs):
        raise requests.ConnectionError("Failed to resolve 'github.com'")

    monkeypatch.setattr(dac_fe, "network_reachable", lambda host, port, timeout_s=5.0: True)
    monkeypatch.setattr(dac.utils, "download", fail)
    with pytest.raises(DdspfxError, match=r"downloading DAC 24khz weights failed \(ConnectionError") as err:
        dac_fe.DACFrontEnd(dim=16, model_type="24khz")
    assert "\n" not in str(err.value) and "python -m dac download --model_type 24khz" in str(err.value)

    with pytest.raises(DdspfxError, match="DAC weights file not found"):
        dac_fe.DACFrontEnd(dim=16, weights_path=str(tmp_path / "nope.pth"))
    with pytest.raises(DdspfxError, match="unknown DAC model type"):
        dac_fe.DACFrontEnd(dim=16, model_type="48khz")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a model")
    with pytest.raises(DdspfxError, match="cannot load DAC weights"):
        dac_fe.DACFrontEnd(dim=16, weights_path=str(bad))


def test_weights_found_in_dac_cache(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No path given: DAC's own cache location (~/.cache/descript/dac/weights_44khz_8kbps_0.0.1.pth) is used."""
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))
    target = tmp_path / ".cache" / "descript" / "dac" / "weights_44khz_8kbps_0.0.1.pth"
    assert dac_fe.cached_weights_path("44khz") == target
    target.parent.mkdir(parents=True)
    target.write_bytes(weights.read_bytes())
    monkeypatch.setattr(dac.utils, "download", lambda **kw: pytest.fail("must not download"))
    fe = dac_fe.DACFrontEnd(dim=16)
    assert fe.weights_path is None and fe.weights_sha256 == file_sha256(weights)


def test_network_probe_is_quick_and_false_on_refused_port() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    assert dac_fe.network_reachable("127.0.0.1", port, timeout_s=2.0) is False


def test_missing_dac_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dac", None)  # `import dac` raises ImportError
    with pytest.raises(DdspfxError, match=r"pip install 'ddspfx\[dac\]'"):
        dac_fe.import_dac()
    with pytest.raises(DdspfxError, match=r"pip install 'ddspfx\[dac\]'"):
        build_frontend("dac", dim=16)


# --- the code cache ------------------------------------------------------------------------


def _make_folder(root: Path, lengths: list[int]) -> Path:
    (root / "wet").mkdir(parents=True)
    lines = []
    for i, n in enumerate(lengths):
        rel = f"wet/{i:06d}.wav"
        sf.write(root / rel, _guitarish(n, 10 + i), SR, subtype="FLOAT")
        lines.append(json.dumps({"id": f"{i:06d}", "dry": f"dry/{i:06d}.wav", "wet": rel, "sample_rate": SR,
                                 "chain": [], "output_gain": 1.0, "seed": i}))
    (root / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return root


def _count_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = dac_fe.encode_codes

    def counting(codec, audio, n_quantizers=None):
        calls.append(audio.shape[0])
        return real(codec, audio, n_quantizers)

    monkeypatch.setattr(dac_fe, "encode_codes", counting)
    return calls


def test_cache_encode_reuse_invalidate(weights: Path, other_weights: Path, reference, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _make_folder(tmp_path / "ds", [SR // 2] * 4 + [SR // 3])
    calls = _count_encodes(monkeypatch)
    r = dac_cache.encode_folder(folder, weights_path=weights, batch_size=3, device="cpu", progress=False)
    sha = file_sha256(weights)
    assert (r.encoded, r.reused, r.total) == (5, 0, 5) and r.cache_dir == folder / "dac_cache" / sha[:16]
    assert sorted(calls) == [1, 1, 3]  # same-length clips batched: 3 + 1 of 0.5 s, 1 of 0.33 s
    fe = dac_fe.DACFrontEnd(dim=16, weights_path=str(weights))
    for i, n in enumerate([SR // 2] * 4 + [SR // 3]):
        codes = dac_cache.load_codes(folder, f"{i:06d}", sha)
        ref, _ = _ref_encode(reference, sf.read(folder / f"wet/{i:06d}.wav", dtype="float32")[0])
        assert codes is not None and codes.dtype == np.int16 and codes.shape == (4, math.ceil(n / HOP))
        assert np.array_equal(codes, ref[0].numpy())
        # cached codes give the tokens forward() gives on the audio
        audio = torch.from_numpy(sf.read(folder / f"wet/{i:06d}.wav", dtype="float32")[0])[None]
        assert torch.allclose(fe.forward_codes(torch.from_numpy(codes)[None])[0], fe(audio)[0], atol=1e-6)

    calls.clear()
    r = dac_cache.encode_folder(folder, weights_path=weights, device="cpu", progress=False)
    assert (r.encoded, r.reused) == (0, 5) and calls == []

    sf.write(folder / "wet/000002.wav", _guitarish(SR // 2, 99), SR, subtype="FLOAT")  # new bytes
    assert dac_cache.load_codes(folder, "000002", sha) is None  # stale until re-encoded
    r = dac_cache.encode_folder(folder, weights_path=weights, device="cpu", progress=False)
    assert (r.encoded, r.reused) == (1, 4) and calls == [1]
    ref, _ = _ref_encode(reference, _guitarish(SR // 2, 99))
    assert np.array_equal(dac_cache.load_codes(folder, "000002", sha[:16]), ref[0].numpy())

    calls.clear()
    r = dac_cache.encode_folder(folder, weights_path=other_weights, device="cpu", progress=False)
    other = file_sha256(other_weights)
    assert (r.encoded, r.reused) == (5, 0) and r.cache_dir.name == other[:16] != sha[:16]
    assert dac_cache.load_codes(folder, "000002", sha) is not None  # the first cache is untouched
    assert dac_cache.load_codes(folder, "nope", sha) is None


def test_cache_recovers_from_deleted_or_corrupt_files(weights: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _make_folder(tmp_path / "ds", [SR // 4] * 3)
    r = dac_cache.encode_folder(folder, weights_path=weights, device="cpu", progress=False)
    (r.cache_dir / "000000.npy").unlink()
    (r.cache_dir / "000001.npy").write_bytes(b"garbage")
    calls = _count_encodes(monkeypatch)
    r = dac_cache.encode_folder(folder, weights_path=weights, device="cpu", progress=False)
    assert (r.encoded, r.reused) == (2, 1) and calls == [2]
    (r.cache_dir / "index.json").write_text("{truncated")
    r = dac_cache.encode_folder(folder, weights_path=weights, device="cpu", progress=False)
    assert (r.encoded, r.reused) == (3, 0)


def test_encode_cli(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _make_folder(tmp_path / "ds", [SR // 4] * 2)
    argv = ["--frontend", "dac", str(folder), "--dac-weights", str(weights), "--device", "cpu", "--no-progress"]
    assert dac_cache.main_encode(argv) == 0
    assert "2 encoded, 0 reused, 2 clips" in capsys.readouterr().out
    assert dac_cache.main_encode([str(tmp_path / "missing"), "--dac-weights", str(weights)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (folder / "labels.jsonl").write_text('{"id": "000000", "wet": "wet/000000.wav"}\n{"id": "0000')
    assert dac_cache.main_encode([str(folder), "--dac-weights", str(weights)]) == 2
    assert "labels.jsonl:2" in capsys.readouterr().err


# --- real weights (only where they are in DAC's cache) ----------------------------------------


@pytest.mark.skipif(not dac_fe.cached_weights_path("44khz").is_file(),
                    reason="pretrained DAC 44khz weights not in ~/.cache/descript/dac (python -m dac download)")
def test_pretrained_44khz_codes() -> None:
    fe = dac_fe.DACFrontEnd(dim=64)
    assert (fe.codec_sample_rate, fe.hop_length, fe.total_codebooks, fe.codebook_size) == (44_100, 512, 9, 1024)
    tokens, mask = fe(torch.from_numpy(_guitarish(SR, 0))[None])
    assert tokens.shape == (1, 87, 64) and bool(mask.all())


# --- training through the model's front-end slot ------------------------------------------


def test_cached_codes_reach_the_model_like_live_encoding(weights: Path, tmp_path: Path) -> None:
    """make -> encode -> from_folder(dac_weights_hash) -> model.forward uses the cached codes, and
    gives the same outputs as encoding the wet audio live (the cache is a pure speed-up)."""
    from ddspfx.config import load_config
    from ddspfx.data.collate import collate
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.data.materialise import write_dataset
    from ddspfx.model import DdspfxModel

    folder = tmp_path / "ds"
    write_dataset(folder, 2, seconds=0.5, progress=False)
    report = dac_cache.encode_folder(folder, str(weights), progress=False, device="cpu")
    assert report.encoded == 2
    ds = EffectsDataset.from_folder(folder, dac_weights_hash=report.weights_sha256)
    batch = collate([ds[0], ds[1]])
    assert batch["dac_codes"].dtype == torch.int64 and batch["dac_codes"].shape[0] == 2
    cfg = load_config("debug", ["--model.frontend.name=dac", f"--model.frontend.dac_weights={weights}"])
    torch.manual_seed(0)
    model = DdspfxModel(cfg.model, clip_seconds=0.5).eval()
    with torch.no_grad():
        cached = model(batch)
        live = model({k: v for k, v in batch.items() if k != "dac_codes"})
    torch.testing.assert_close(cached["token_logits"], live["token_logits"], atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_training_steps_with_dac_frontend(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m ddspfx.train --config debug --model.frontend.name dac --model.frontend.dac_weights W` runs
    with the tiny DAC standing in for pretrained weights, and the exported model reloads."""
    from ddspfx import train
    out = tmp_path / "run"
    rc = train.main(["--config", "debug", "--out", str(out), "--no-progress", "--model.frontend.name", "dac",
                     "--model.frontend.dac_weights", str(weights), "--trainer.max_steps", "3", "--loss.stft", "0"])
    assert rc == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["frontend"]["name"] == "dac"
    assert meta["frontend"]["weights_sha256"] == file_sha256(weights)
    from ddspfx.checkpoint import load_model

    model = load_model(out / "model.safetensors")
    assert isinstance(model.frontend, dac_fe.DACFrontEnd)
    preds = model.predict(torch.from_numpy(_guitarish(SR // 2, 8))[None], beam=2)
    assert len(preds) == 1 and len(preds[0].chain) <= 3


@pytest.mark.slow
def test_training_from_a_folder_reads_the_code_cache(weights: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """After `data encode`, training on the folder never runs the codec (it would raise here)."""
    from ddspfx import train
    from ddspfx.data.materialise import write_dataset

    folder = tmp_path / "ds"
    write_dataset(folder, 8, seconds=0.5, progress=False)
    dac_cache.encode_folder(folder, str(weights), progress=False, device="cpu")

    def no_codec(*args, **kwargs):
        raise AssertionError("the codec ran although the codes were cached")

    monkeypatch.setattr(dac_fe, "encode_codes", no_codec)
    out = tmp_path / "run"
    rc = train.main(["--config", "debug", "--out", str(out), "--no-progress", "--model.frontend.name", "dac",
                     "--model.frontend.dac_weights", str(weights), "--data.train_folder", str(folder),
                     "--data.val_folder", str(folder), "--trainer.max_steps", "2", "--loss.stft", "0",
                     "--trainer.log_audio", "false"])
    assert rc == 0 and (out / "model.safetensors").is_file()
