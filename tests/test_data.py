"""EffectsDataset, collate, and the make / preview CLI (including an interrupted-then-resumed run)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from startup import fresh_python
from torch.utils.data import DataLoader

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, normalise_params
from ddspfx.chain import Chain
from ddspfx.data.__main__ import main
from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.recipe import Recipe
from ddspfx.render import run_reference
from ddspfx.sampler import SamplerConfig
from ddspfx.vocab import PedalVocab

N = len(EFFECT_NAMES)
SR = 44_100


class Plucks:
    """A tiny seeded source: decaying harmonic tones, (T,) float32."""

    name = "plucks"

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        t = np.arange(int(duration_s * SR)) / SR
        f = rng.uniform(82, 660)
        x = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 12)) * np.exp(-4 * t)
        return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _ds(n: int = 6, seed: int = 0, **kw) -> EffectsDataset:
    return EffectsDataset(Plucks(), n=n, seed=seed, duration_s=0.25, **kw)


def test_item_shapes_and_targets_match_chain():
    ds = _ds()
    vocab = PedalVocab()
    for i in range(len(ds)):
        item = ds[i]
        t = int(0.25 * SR)
        assert item["dry"].shape == (t,) and item["wet"].shape == (t,) and item["dry"].dtype == torch.float32
        chain = Chain.from_json(item["chain"])
        assert item["tokens"].dtype == torch.int64 and vocab.decode(item["tokens"].tolist()).effects == chain.effects
        assert item["presence"].shape == (N,) and item["order"].shape == (N,) and item["length"].item() == len(chain)
        assert sorted(item["order"].tolist()) == list(range(N))  # a full permutation
        assert [EFFECT_NAMES[e] for e in item["order"][: len(chain)]] == chain.effects
        absent = [e for e in range(N) if EFFECT_NAMES[e] not in chain.effects]
        assert item["order"][len(chain):].tolist() == absent
        assert item["params"].shape == (N, MAX_PARAMS) and item["param_mask"].dtype == torch.bool
        for e, name in enumerate(EFFECT_NAMES):
            present = name in chain.effects
            assert item["presence"][e].item() == float(present)
            if present:
                u = normalise_params(name, chain.pedals[chain.effects.index(name)].params)
                np.testing.assert_allclose(item["params"][e, : u.size].numpy(), u, atol=1e-6)
                assert item["param_mask"][e].sum().item() == u.size
            else:
                assert item["param_mask"][e].sum().item() == 0 and item["params"][e].abs().sum().item() == 0
        # wet reproduces from dry with plain pedalboard and the recorded gain
        ref = run_reference(item["dry"].numpy(), chain, SR)[0] * item["output_gain"].item()
        np.testing.assert_allclose(item["wet"].numpy(), ref, atol=1e-6)


def test_deterministic_and_worker_safe():
    ds = _ds(n=4, seed=3)
    a = [ds[i]["chain"] for i in range(4)]
    assert a == [_ds(n=4, seed=3)[i]["chain"] for i in range(4)]
    assert ds[2]["chain"] == ds[2]["chain"] and a != [_ds(n=4, seed=4)[i]["chain"] for i in range(4)]
    reversed_order = [ds[i]["chain"] for i in reversed(range(4))][::-1]
    assert reversed_order == a  # example i does not depend on what was drawn before
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate, multiprocessing_context="fork")
    got = [c for batch in loader for c in batch["chain"]]
    assert got == a
    torch.testing.assert_close(next(iter(loader))["dry"][1], ds[1]["dry"])


def test_collate_pads_tokens_and_audio():
    ds = _ds(n=4, seed=1, recipe=Recipe(sampler=SamplerConfig(min_effects=0, max_effects=3)))
    items = [ds[i] for i in range(4)]
    items[1] = dict(items[1], dry=items[1]["dry"][:1000], wet=items[1]["wet"][:1000])
    batch = collate(items)
    lens = [len(it["tokens"]) for it in items]
    assert batch["tokens"].shape == (4, max(lens))
    for b, it in enumerate(items):
        assert batch["token_mask"][b].sum().item() == lens[b]
        assert (batch["tokens"][b, lens[b]:] == PedalVocab().pad_id).all()
        torch.testing.assert_close(batch["tokens"][b, : lens[b]], it["tokens"])
    assert batch["dry"].shape == (4, items[0]["dry"].numel())
    assert batch["audio_mask"][1].sum().item() == 1000 and (batch["dry"][1, 1000:] == 0).all()
    assert batch["presence"].shape == (4, N) and batch["params"].shape == (4, N, MAX_PARAMS)
    assert batch["length"].shape == (4,) and isinstance(batch["chain"], list)
    assert "audio_mask" not in collate([ds[0], ds[2]])


def test_make_resume_and_from_folder(tmp_path, capsys):
    out = tmp_path / "d"
    args = ["make", "--out", str(out), "--n", "4", "--seconds", "0.25", "--seed", "5"]
    assert main(args) == 0
    first = (out / "labels.jsonl").read_text()
    wet3 = sf.read(out / "wet" / "000003.wav", dtype="float32")[0]
    # simulate an interruption: a half-written last line and a missing wet file
    lines = first.splitlines(keepends=True)
    (out / "labels.jsonl").write_text("".join(lines[:3]) + lines[3][: len(lines[3]) // 2])
    (out / "wet" / "000001.wav").unlink()
    assert main(args) == 0
    assert "rendered 2 new" in capsys.readouterr().out
    assert (out / "labels.jsonl").read_text() == first  # same examples, same bytes, sorted by id
    np.testing.assert_array_equal(sf.read(out / "wet" / "000003.wav", dtype="float32")[0], wet3)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # no temp files left
    ds = EffectsDataset.from_folder(out)
    gen = EffectsDataset("synth", n=4, seed=5, duration_s=0.25)
    for i in range(4):
        a, b = ds[i], gen[i]
        assert a["chain"] == json.dumps(json.loads(b["chain"]))
        torch.testing.assert_close(a["wet"], b["wet"])
        torch.testing.assert_close(a["tokens"], b["tokens"])


def test_make_with_two_workers_matches_one(tmp_path):
    assert main(["make", "--out", str(tmp_path / "a"), "--n", "3", "--seconds", "0.25"]) == 0
    assert main(["make", "--out", str(tmp_path / "b"), "--n", "3", "--seconds", "0.25", "--workers", "2"]) == 0
    assert (tmp_path / "a" / "labels.jsonl").read_text() == (tmp_path / "b" / "labels.jsonl").read_text()


@pytest.mark.parametrize("argv, words", [
    (["make", "--n", "3"], "required: --out"),
    (["make", "--out", "X", "--n", "0"], "--n must be at least 1"),
    (["make", "--out", "X", "--n", "2", "--workers", "0"], "--workers"),
    (["make", "--out", "X", "--n", "2", "--order", "zigzag"], "invalid choice"),
    (["make", "--out", "X", "--n", "two"], "invalid int"),
    (["make", "--out", "X", "--n", "2", "--max-effects", "99"], "max_effects"),
    (["make", "--out", "X", "--n", "2", "--source", "tape:deck"], ""),
    (["frobnicate"], "invalid choice"),
])
def test_bad_flags_give_one_line(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ddspfx: error:") and "\n" not in err and words in err


@pytest.mark.parametrize("argv, words", [
    (["make", "--out", "X", "--n", "2", "--bad-flag"], "unrecognized arguments: --bad-flag"),
    (["preview", "--n", "99"], "--n for preview must be 1..32"),
])
def test_python_m_data_answers_before_torch_loads(tmp_path, argv, words):
    """``python -m ddspfx.data`` (the package, then its __main__) says a bad flag before seconds of torch imports."""
    code = (f"import runpy, sys; sys.argv = ['ddspfx.data', *{argv!r}]\n"
            "try:\n    runpy.run_module('ddspfx.data', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as done:\n    print(done.code, 'torch' in sys.modules)")
    done = fresh_python(code, tmp_path)
    assert done.stdout.strip() == "2 False", done.stderr
    assert words in done.stderr and done.stderr.count("\n") == 1


def test_resume_with_other_settings_refused(tmp_path, capsys):
    assert main(["make", "--out", str(tmp_path), "--n", "1", "--seconds", "0.25"]) == 0
    assert main(["make", "--out", str(tmp_path), "--n", "1", "--seconds", "0.25", "--seed", "9"]) == 2
    assert "different settings" in capsys.readouterr().err


def test_preview(tmp_path):
    assert main(["preview", "--out", str(tmp_path), "--n", "2", "--seconds", "0.5"]) == 0
    png = (tmp_path / "spectrograms.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    for i in range(2):
        dry, sr = sf.read(tmp_path / f"dry_{i}.wav", dtype="float32")
        wet, _ = sf.read(tmp_path / f"wet_{i}.wav", dtype="float32")
        assert sr == SR and dry.shape == wet.shape == (SR // 2,) and not np.array_equal(dry, wet)
